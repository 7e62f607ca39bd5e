/**
 * Child process for test/native/worker-terminate.test.ts (run with `node --import tsx`):
 * `rounds` times, a Worker loads a Grounder and is terminate()d while it grounds, at a stage
 * and delay that vary by round; then this thread loads a Grounder and grounds normally.
 * Prints one JSON line: the stage each worker was in when terminated, and the final answer.
 * A native crash in teardown shows as this process dying by a signal.
 */
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { Grounder } from "../../../src/session";
import { fixturePair } from "../../helpers/models";

const STAGES = ["decode", "encode", "prefill", "generate"] as const;

function oneRound(clip: string, round: number): Promise<string> {
  const target = STAGES[round % STAGES.length];
  const delayMs = (round * 7) % 23; // spread the moment within the stage
  return new Promise((resolve, reject) => {
    // An eval'd CommonJS bootstrap: tsx's hook registered for this worker, then the body.
    const body = JSON.stringify(join(__dirname, "worker-ground.ts"));
    const worker = new Worker(`require("tsx/cjs"); require(${body});`, { eval: true, workerData: { clip } });
    let stopping = false;
    worker.on("message", (m: { type: string; stage?: string }) => {
      if (stopping || m.type !== "stage" || m.stage !== target) return;
      stopping = true;
      setTimeout(() => {
        void worker.terminate().then(() => resolve(target));
      }, delayMs);
    });
    worker.on("error", reject);
    worker.on("exit", (code) => {
      if (!stopping) reject(new Error(`worker exited (${code}) before reaching ${target}`));
    });
  });
}

async function main(): Promise<void> {
  const [clip, roundsArg] = process.argv.slice(2);
  const rounds = Number(roundsArg ?? 20);
  const terminatedAt: string[] = [];
  for (let i = 0; i < rounds; i++) terminatedAt.push(await oneRound(clip, i));
  const grounder = await Grounder.load({
    ...fixturePair("tiny-qwen3vl"),
    addonPath: process.env.TIMELENS_TEST_ADDON || undefined,
    contextSize: 2048,
    threads: 2,
  });
  const result = await grounder.ground(clip, "a red box moves to the right", {
    totalTokens: 256,
    minTokens: 4,
    maxNewTokens: 12,
  });
  await grounder.dispose();
  process.stdout.write(`${JSON.stringify({ terminatedAt, text: result.text, spans: result.spans.length })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
