/** `timelens plan <video>`: the frame plan and prompt layout, without running a model. */
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { readGguf } from "../gguf/reader";
import { inspectTextModel } from "../gguf/validate";
import { detectProfile, getProfile } from "../prompt/profiles";
import { renderPrompt } from "../prompt/render";
import { planFrames } from "../video/plan";
import { probeVideo } from "../video/probe";
import { EXIT, UsageError } from "./common";
import { SAMPLING_FLAGS, samplingFrom } from "./ground";

export const PLAN_HELP =
  `usage: timelens plan <video> [--model <model.gguf> | --profile <id>] ` +
  `[--fps n] [--total-tokens n] [--start s --end s] [--prompt] [--json]

  --prompt   also print the full prompt text with one marker per frame pair (needs --model)`;

export async function planCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: "string" },
      profile: { type: "string" },
      json: { type: "boolean", default: false },
      prompt: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
      query: { type: "string" },
      ...SAMPLING_FLAGS,
    },
  });
  if (values.help) {
    process.stdout.write(`${PLAN_HELP}\n`);
    return EXIT.ok;
  }
  const [videoPath] = positionals;
  if (!videoPath) throw new UsageError("plan needs a video path");
  const text = values.model
    ? inspectTextModel(
        await readGguf(values.model, {
          skipLargeArrays: true,
          keepArrays: ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type"],
        }),
      )
    : undefined;
  const profile = values.profile
    ? getProfile(values.profile)
    : text
      ? detectProfile({ architecture: text.architecture, name: `${text.name ?? ""} ${basename(values.model!)}` })
      : getProfile("timelens-8b");
  const video = await probeVideo(videoPath);
  const sampling = samplingFrom(values);
  const plan = planFrames(video, {
    profile,
    fps: sampling.fps ?? profile.video.fps,
    minTokens: sampling.minTokens ?? profile.video.minTokens,
    totalTokens: sampling.totalTokens ?? profile.video.totalTokens,
    maxFrames: sampling.maxFrames,
    start: sampling.start,
    end: sampling.end,
    timestampFormat: sampling.timestampFormat,
  });
  const prompt = text?.chatTemplate
    ? renderPrompt({
        chatTemplate: text.chatTemplate,
        profile,
        pairs: plan.pairs,
        query: values.query ?? "<query>",
        tokensPerPair: plan.tokensPerPair,
      }).text
    : undefined;
  const summary = {
    video: {
      path: videoPath,
      duration: video.duration,
      fps: video.fps,
      totalFrames: video.totalFrames,
      width: video.width,
      height: video.height,
      rotation: video.rotation,
      codec: video.codec,
    },
    profile: profile.id,
    frames: plan.indices.length,
    size: { width: plan.width, height: plan.height },
    pairs: plan.pairs.length,
    tokensPerPair: plan.tokensPerPair,
    videoTokens: plan.pairs.length * plan.tokensPerPair,
    indices: plan.indices,
    labels: plan.pairs.map((p) => p.label),
    prompt,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return EXIT.ok;
  }
  const v = summary.video;
  const out = [
    `video   ${v.path}: ${v.duration.toFixed(2)} s, ${v.totalFrames} frames at ${v.fps.toFixed(3)} fps, ` +
      `${v.width}x${v.height}${v.rotation ? ` (rotated ${v.rotation})` : ""}, ${v.codec}`,
    `profile ${profile.displayName}`,
    `plan    ${summary.frames} frames -> ${summary.pairs} pairs at ${plan.width}x${plan.height}, ` +
      `${summary.tokensPerPair} tokens per pair, ${summary.videoTokens} video tokens`,
    `labels  ` +
      (summary.labels.length > 12
        ? [...summary.labels.slice(0, 6), "...", ...summary.labels.slice(-3)].join(" ")
        : summary.labels.join(" ")),
  ];
  if (values.prompt) out.push("", prompt ?? "(pass --model to render the prompt with the model's chat template)");
  process.stdout.write(`${out.join("\n")}\n`);
  return EXIT.ok;
}
