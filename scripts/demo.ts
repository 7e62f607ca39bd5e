/**
 * `npm run demo`: grounds a query in a generated video with the tiny random-weight models,
 * streaming the answer. With real weights:
 *   npm run demo -- --model TimeLens-8B.Q4_K_M.gguf --mmproj mmproj-TimeLens-8B.gguf --video kitchen.mp4 --query "..."
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Grounder } from "../src/session";
import { describe as describeResult } from "../src/cli/ground";
import { resolveFfmpeg } from "../src/video/ffmpeg";
import { ensureFixtures } from "./fixtures/generate";

const DEMO_DIR = join(__dirname, "..", "test", "fixtures", "videos");

/** 12 s of a test pattern with a moving ball that turns red from 4 s to 7 s. */
function makeDemoVideo(): string {
  const out = join(DEMO_DIR, "demo-12s.mp4");
  if (existsSync(out)) return out;
  mkdirSync(DEMO_DIR, { recursive: true });
  const ffmpeg = resolveFfmpeg();
  const tmp = `${out}.${process.pid}.tmp.mp4`; // renamed when complete: a failed run leaves no half file
  execFileSync(ffmpeg, [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x240:rate=10:duration=12",
    "-vf",
    "drawbox=x='20+t*20':y=100:w=40:h=40:color=blue:t=fill,drawbox=x='20+t*20':y=100:w=40:h=40:color=red:t=fill:enable='between(t,4,7)'",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    tmp,
  ]);
  renameSync(tmp, out);
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      mmproj: { type: "string" },
      video: { type: "string" },
      query: { type: "string" },
    },
  });
  const real = Boolean(values.model && values.mmproj);
  let model = values.model;
  let mmproj = values.mmproj;
  if (!real) {
    const [tiny] = await ensureFixtures({ names: ["tiny-qwen3vl"], log: (l) => console.error(l) });
    model = tiny.model;
    mmproj = tiny.mmproj;
  }
  const video = values.video ?? makeDemoVideo();
  const query = values.query ?? "the ball turns red";

  if (!real) {
    console.log("NOTE: this demo runs a TINY RANDOM-WEIGHT model generated on this machine, so its answer is");
    console.log("      meaningless text. It shows the pipeline working end to end: video -> frames -> vision");
    console.log("      encoder -> LLM -> streamed tokens -> parsed span. See the README for real TimeLens weights.\n");
  }
  console.log(`model: ${model}\nvideo: ${video}\nquery: ${query}\n`);

  await using grounder = await Grounder.load({ model: model!, mmproj: mmproj!, contextSize: 16384 });
  console.log(
    `loaded ${grounder.info.profileName} profile (${grounder.info.architecture}, ${grounder.info.addon.variant} build)\n`,
  );
  const seen = new Set<string>();
  for await (const event of grounder.stream(video, query, { maxNewTokens: real ? 512 : 24 })) {
    if (event.type === "progress" && !seen.has(event.progress.stage)) {
      seen.add(event.progress.stage);
      process.stderr.write(event.progress.stage === "generate" ? "\nanswer: " : `[${event.progress.stage}] `);
    } else if (event.type === "token") {
      process.stdout.write(event.text);
    } else if (event.type === "result") {
      process.stdout.write(`\n\n${describeResult(event.result)}\n`);
      if (!event.result.parsed)
        console.log(
          "(no time in the answer: expected from random weights; start and end are null, never an exception)",
        );
    }
  }
}

main().catch((e) => {
  console.error(`demo failed: ${(e as Error).message}`);
  process.exit(1);
});
