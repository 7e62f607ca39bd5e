/** `timelens ground <video> <query> --model M --mmproj P`: streams the answer, prints the span. */
import { parseArgs } from "node:util";
import { Grounder } from "../session";
import type { GroundingResult } from "../types";
import { EXIT, UsageError, interruptSignal, num, onInterruptDrain } from "./common";
import { ProgressBar, formatMs } from "./progress";
import { isHfUri } from "../models/uri";

export const GROUND_HELP = `usage: timelens ground <video> <query> --model <model.gguf> --mmproj <mmproj.gguf> [options]

  --json               print one JSON object on stdout and nothing else
  --profile <id>       timelens-8b | timelens-7b | timelens-3b | qwen3-vl | qwen2.5-vl (default: detected)
  --fps <n>            sampling rate (default 2)
  --min-tokens <n>     minimum tokens per frame (default 64)
  --total-tokens <n>   token budget for the whole video (default 14336)
  --max-frames <n>     cap on sampled frames
  --start <s> --end <s>  clip range in seconds
  --max-new-tokens <n> answer length cap (default 512)
  --context-size <n>   KV context in tokens (default 16384)
  --threads <n>        CPU threads
  --gpu <auto|cuda|vulkan|metal|off>  backend choice (default auto)
  --timestamp-format <fmt>  pair label, {t} = time with one decimal (default per profile)`;

export const SAMPLING_FLAGS = {
  fps: { type: "string" },
  "min-tokens": { type: "string" },
  "total-tokens": { type: "string" },
  "max-frames": { type: "string" },
  start: { type: "string" },
  end: { type: "string" },
  "timestamp-format": { type: "string" },
} as const;

/** Flags every command that loads a model takes. */
export const MODEL_FLAGS = {
  model: { type: "string" },
  mmproj: { type: "string" },
  json: { type: "boolean", default: false },
  profile: { type: "string" },
  "max-new-tokens": { type: "string" },
  "context-size": { type: "string" },
  threads: { type: "string" },
  gpu: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Loads the Grounder the model flags describe; a second Ctrl-C disposes it before exiting. */
export async function loadGrounderFrom(
  values: Record<string, string | boolean | undefined>,
  signal: AbortSignal,
): Promise<Grounder> {
  const grounder = await Grounder.load({
    model: values.model as string,
    mmproj: values.mmproj as string,
    profile: values.profile as never,
    contextSize: num(values["context-size"] as string | undefined, "context-size"),
    threads: num(values.threads as string | undefined, "threads"),
    gpu: gpuFrom(values.gpu as string | undefined),
    signal,
  });
  onInterruptDrain(() => grounder.dispose());
  return grounder;
}

export function samplingFrom(v: Record<string, string | boolean | undefined>) {
  const s = (k: string) => v[k] as string | undefined;
  return {
    fps: num(s("fps"), "fps"),
    minTokens: num(s("min-tokens"), "min-tokens"),
    totalTokens: num(s("total-tokens"), "total-tokens"),
    maxFrames: num(s("max-frames"), "max-frames"),
    start: num(s("start"), "start"),
    end: num(s("end"), "end"),
    timestampFormat: s("timestamp-format"),
  };
}

export function gpuFrom(value: string | undefined): "auto" | "cuda" | "vulkan" | "metal" | false {
  if (value === undefined || value === "auto") return "auto";
  if (value === "off" || value === "cpu" || value === "false") return false;
  if (value === "cuda" || value === "vulkan" || value === "metal") return value;
  throw new UsageError(`--gpu must be auto, cuda, vulkan, metal or off; got "${value}"`);
}

export async function groundCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...MODEL_FLAGS, ...SAMPLING_FLAGS },
  });
  if (values.help) {
    process.stdout.write(`${GROUND_HELP}\n`);
    return EXIT.ok;
  }
  const [video, ...queryWords] = positionals;
  const query = queryWords.join(" ");
  if (!video || !query) throw new UsageError("ground needs a video and a query");
  if (!values.model || (!values.mmproj && !isHfUri(values.model)))
    throw new UsageError("ground needs --model and --mmproj (--mmproj is optional for an hf: model)");

  const json = values.json;
  const signal = interruptSignal();
  const bar = new ProgressBar();
  const grounder = await loadGrounderFrom(values, signal);
  try {
    let streamed = false;
    const result = await grounder.ground(video, query, {
      ...samplingFrom(values),
      maxNewTokens: num(values["max-new-tokens"], "max-new-tokens"),
      signal,
      onProgress: json ? undefined : (p) => (p.stage === "generate" ? bar.clear() : bar.update(p)),
      onToken: json
        ? undefined
        : (text) => {
            streamed = true;
            process.stdout.write(text);
          },
    });
    bar.clear();
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      if (streamed) process.stdout.write("\n");
      process.stdout.write(`${describe(result)}\n`);
    }
    return EXIT.ok;
  } finally {
    bar.clear();
    await grounder.dispose();
  }
}

export function describe(r: GroundingResult): string {
  const span = r.parsed ? `${r.start!.toFixed(1)} - ${r.end!.toFixed(1)} s` : "no time found in the answer";
  const t = r.timings;
  return [
    `span: ${span}   (video ${r.video.duration.toFixed(1)} s, ${r.frames.count} frames at ` +
      `${r.frames.width}x${r.frames.height}, ${r.usage.imageTokens} video tokens)`,
    `time: decode ${formatMs(t.decodeMs)}, encode ${formatMs(t.encodeMs)}, prefill ` +
      `${formatMs(t.prefillMs)}, generate ${formatMs(t.generateMs)} (${t.tokensPerSecond.toFixed(1)} tok/s), ` +
      `total ${formatMs(t.totalMs)}`,
    `ran on: vision encoder ${t.devices.encode}, text model ${t.devices.llm}` +
      (t.prefixSource === "built"
        ? ""
        : `; video prefix from ${t.prefixSource === "disk" ? "the disk cache" : "the open session"}`),
  ].join("\n");
}
