/**
 * `npm run bench -- abort`: how promptly an AbortSignal stops each stage, on the MEDIUM fixture
 * pair and a 60 s video. For encode, prefill and generate the abort fires while the stage's
 * native call runs (a setImmediate loop watches the addon's busy flag, as
 * test/grounder/grounder.test.ts does), not at a JS progress event; for decode it fires while
 * ffmpeg is reading frames. Latency = time from abort() to the promise's rejection; the table
 * shows each run and the median per stage. A reported figure, not a pass/fail test.
 */
import { Grounder } from "../src/session";
import type { GroundProgress } from "../src/types";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { benchVideo, fmt, table } from "./util";

type Stage = "decode" | "encode" | "prefill" | "generate";
const STAGES: Stage[] = ["decode", "encode", "prefill", "generate"];

/**
 * When a stage's work runs, judged from the last progress event and how many events of the
 * stage came so far (see the test's NATIVE_WINDOW).
 */
const WINDOW: Record<Stage, (p: GroundProgress, seen: number) => boolean> = {
  // the third decode event: ffmpeg has more frames to read
  decode: (p, seen) => p.stage === "decode" && seen >= 3,
  // a few pairs in: a frame pair is being encoded and prefilled
  encode: (p, seen) => (p.stage === "decode" || p.stage === "encode") && seen >= 2,
  prefill: (p) => p.stage === "prefill" && p.done === 0,
  generate: (p, seen) => p.stage === "generate" && seen >= 3,
};

const nativeBusy = (g: Grounder): boolean =>
  (g as unknown as { model: { native: { busy: boolean } } }).model.native.busy;

async function abortOnce(g: Grounder, video: string, stage: Stage): Promise<{ ms: number; inNative: boolean }> {
  const controller = new AbortController();
  let abortedAt = 0;
  let inNative = false;
  let last: GroundProgress | null = null;
  const seen: Record<string, number> = {};
  let watching = true;
  const fire = () => {
    abortedAt = performance.now();
    controller.abort();
  };
  const watch = () => {
    if (!watching || abortedAt) return;
    if (stage !== "decode" && last && WINDOW[stage](last, seen[stage] ?? 0) && nativeBusy(g)) {
      inNative = true;
      fire();
      return;
    }
    setImmediate(watch);
  };
  watch();
  const err = await g
    .ground(video, "a person opens the door", {
      maxNewTokens: 2000,
      signal: controller.signal,
      onProgress: (p) => {
        seen[p.stage] = (seen[p.stage] ?? 0) + 1;
        last = p;
        if (stage === "decode" && !abortedAt && WINDOW.decode(p, seen.decode)) fire();
      },
    })
    .then(
      () => null,
      (e) => e,
    );
  watching = false;
  if (!err || err.code !== "ERR_ABORTED")
    throw new Error(`expected an abort during ${stage}, got ${err?.code ?? "a result"}`);
  return { ms: performance.now() - abortedAt, inNative };
}

export async function runAbortBench(family: "qwen3vl" | "qwen25vl" = "qwen3vl", repeats = 5): Promise<void> {
  const [pair] = await ensureFixtures({ names: [`medium-${family}`], log: (l) => console.error(l) });
  const video = benchVideo(60);
  const g = await Grounder.load({ model: pair.model, mmproj: pair.mmproj, contextSize: 16384 });
  const rows: string[][] = [
    ["stage", "aborted while", "abort -> rejection (each run)", "median", "then a normal query"],
  ];
  try {
    for (const stage of STAGES) {
      const runs: Array<{ ms: number; inNative: boolean }> = [];
      for (let i = 0; i < repeats; i++) runs.push(await abortOnce(g, video, stage));
      const ok = await g.ground(video, "a person opens the door", { maxNewTokens: 8 });
      const sorted = runs.map((r) => r.ms).sort((a, b) => a - b);
      const where =
        stage === "decode" ? "ffmpeg reads" : `native call runs (${runs.filter((r) => r.inNative).length}/${repeats})`;
      rows.push([
        stage,
        where,
        runs.map((r) => fmt(r.ms)).join(", "),
        fmt(sorted[sorted.length >> 1]),
        `ok (${ok.usage.generatedTokens} tokens)`,
      ]);
    }
  } finally {
    await g.dispose();
  }
  console.log(`medium-${family}, 60 s video, ${repeats} aborts per stage`);
  console.log(table(rows));
}

if (require.main === module) void runAbortBench((process.argv[2] as "qwen3vl" | "qwen25vl") ?? "qwen3vl");
