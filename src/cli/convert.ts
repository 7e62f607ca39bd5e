/**
 * `timelens convert <hf-dir>`: a local Hugging Face checkpoint -> text GGUF + mmproj GGUF,
 * with no Python (docs/models.md).
 */
import { parseArgs } from "node:util";
import { convertCheckpoint, MMPROJ_OUT_TYPES, TEXT_OUT_TYPES } from "../convert";
import type { ConvertProgress, MmprojOutType, TextOutType } from "../convert/types";
import { EXIT, UsageError, interruptSignal } from "./common";
import { formatMs } from "./progress";

export const CONVERT_HELP =
  `usage: timelens convert <hf-dir> ` +
  `[--outtype ${TEXT_OUT_TYPES.join("|")}] [--outfile model.gguf]
                        [--mmproj-outtype ${MMPROJ_OUT_TYPES.join("|")}] [--mmproj-outfile mmproj.gguf]
                        [--no-mmproj | --no-text] [--name NAME] [--json]
  Converts a Qwen3-VL (TimeLens-8B) or Qwen2.5-VL (TimeLens-7B) checkpoint. Defaults: f16 text and
  mmproj, written next to the checkpoint as <dir-name>-F16.gguf and mmproj-<dir-name>-F16.gguf.
  --json prints one JSON object: { model, mmproj, family, modelBytes, mmprojBytes, ms }.`;

/** Bytes as MiB / GiB for the progress line. */
function size(bytes: number): string {
  return bytes >= 1 << 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** One progress line on a TTY: stage, bytes written, rate, ETA. */
function progressPrinter(stream: NodeJS.WriteStream): (p: ConvertProgress) => void {
  let stage = "";
  let start = 0;
  let last = 0;
  return (p) => {
    if (!stream.isTTY) return;
    const now = performance.now();
    if (p.stage !== stage) {
      stage = p.stage;
      start = now;
    }
    if (now - last < 100 && p.done < p.total) return;
    last = now;
    const secs = Math.max(1e-3, (now - start) / 1000);
    const rate = p.done / secs;
    const eta = rate > 0 && p.done < p.total ? ` eta ${formatMs(((p.total - p.done) / rate) * 1000)}` : "";
    stream.write(`\r${p.stage} ${size(p.done)}/${size(p.total)} ${size(rate)}/s${eta}\x1b[K`);
    if (p.done >= p.total) stream.write("\r\x1b[K");
  };
}

export async function convertCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      outtype: { type: "string" },
      outfile: { type: "string" },
      "mmproj-outtype": { type: "string" },
      "mmproj-outfile": { type: "string" },
      "no-mmproj": { type: "boolean", default: false },
      "no-text": { type: "boolean", default: false },
      name: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${CONVERT_HELP}\n`);
    return EXIT.ok;
  }
  const [dir] = positionals;
  if (!dir) throw new UsageError("convert needs a checkpoint directory");
  if (positionals.length > 1) throw new UsageError(`convert takes one directory, got ${positionals.length} arguments`);
  const outtype = (values.outtype ?? "f16").toLowerCase();
  if (!TEXT_OUT_TYPES.includes(outtype as TextOutType))
    throw new UsageError(`--outtype must be one of ${TEXT_OUT_TYPES.join(", ")}`);
  const mmprojOuttype = (values["mmproj-outtype"] ?? "f16").toLowerCase();
  if (!MMPROJ_OUT_TYPES.includes(mmprojOuttype as MmprojOutType))
    throw new UsageError(`--mmproj-outtype must be one of ${MMPROJ_OUT_TYPES.join(", ")}`);
  if (values["no-mmproj"] && values["no-text"])
    throw new UsageError("--no-mmproj and --no-text together leave nothing to convert");
  const t0 = performance.now();
  const r = await convertCheckpoint({
    dir,
    outtype: outtype as TextOutType,
    mmprojOuttype: mmprojOuttype as MmprojOutType,
    name: values.name,
    outfile: values["no-text"] ? null : values.outfile,
    mmprojOutfile: values["no-mmproj"] ? null : values["mmproj-outfile"],
    signal: interruptSignal(),
    onProgress: progressPrinter(process.stderr),
  });
  const ms = Math.round(performance.now() - t0);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...r, ms })}\n`);
    return EXIT.ok;
  }
  const lines = [`${r.family} checkpoint converted in ${formatMs(ms)}`];
  if (r.model) lines.push(`model   ${r.model} (${size(r.modelBytes ?? 0)})`);
  if (r.mmproj) lines.push(`mmproj  ${r.mmproj} (${size(r.mmprojBytes ?? 0)})`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return EXIT.ok;
}
