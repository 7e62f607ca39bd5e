/**
 * `npm run bench -- abort`: how promptly an AbortSignal stops each stage (decode, encode,
 * prefill, generate), on the MEDIUM fixture pair and a 60 s video. Latency = time from
 * abort() to the promise's rejection. A reported figure, not a pass/fail test.
 */
import { Grounder } from "../src/session";
import type { GroundStage } from "../src/types";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { benchVideo, fmt, table } from "./util";

const STAGES: GroundStage[] = ["decode", "encode", "prefill", "generate"];

export async function runAbortBench(family: "qwen3vl" | "qwen25vl" = "qwen3vl", repeats = 3): Promise<void> {
  const [pair] = await ensureFixtures({ names: [`medium-${family}`], log: (l) => console.error(l) });
  const video = benchVideo(60);
  const g = await Grounder.load({ model: pair.model, mmproj: pair.mmproj, contextSize: 16384 });
  const rows: string[][] = [["stage", "abort -> rejection (each run)", "median", "then a normal query"]];
  try {
    for (const stage of STAGES) {
      const latencies: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const controller = new AbortController();
        let abortedAt = 0;
        let seen = 0;
        const err = await g
          .ground(video, "a person opens the door", {
            maxNewTokens: 2000,
            signal: controller.signal,
            onProgress: (p) => {
              // Abort in the middle of the stage, not at its first event.
              if (!abortedAt && p.stage === stage && ++seen === (stage === "prefill" ? 1 : 3)) {
                abortedAt = performance.now();
                controller.abort();
              }
            },
          })
          .then(
            () => null,
            (e) => e,
          );
        if (!err || err.code !== "ERR_ABORTED") throw new Error(`expected an abort during ${stage}, got ${err?.code ?? "a result"}`);
        latencies.push(performance.now() - abortedAt);
      }
      const ok = await g.ground(video, "a person opens the door", { maxNewTokens: 8 });
      const sorted = [...latencies].sort((a, b) => a - b);
      rows.push([stage, latencies.map(fmt).join(", "), fmt(sorted[sorted.length >> 1]), `ok (${ok.usage.generatedTokens} tokens)`]);
    }
  } finally {
    await g.dispose();
  }
  console.log(`medium-${family}, 60 s video, ${repeats} aborts per stage`);
  console.log(table(rows));
}

if (require.main === module) void runAbortBench((process.argv[2] as "qwen3vl" | "qwen25vl") ?? "qwen3vl");
