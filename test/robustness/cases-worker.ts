/**
 * A worker_threads Worker that loads a Grounder and is terminate()d mid-ground, 20 times
 * (the Electron-window-closed case): the native work of a torn-down environment must be
 * cancelled and joined before its objects go, and the main thread then loads and grounds.
 */
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { Grounder } from "../../src";
import { type CaseContext, CaseFailure, type RobustCase } from "./harness";

const WORKER_BODY = join(__dirname, "worker-ground.ts");
/** Where each round pulls the plug: inside every native stage, and at a few token counts. */
const STOPS = ["decode", "encode", "prefill", "generate", "token"] as const;

/** Starts a worker, waits until it reaches `stop` (the `nth` time), terminates it, resolves the exit code. */
function terminateAt(ctx: CaseContext, stop: (typeof STOPS)[number], nth: number): Promise<number> {
  const boot = `require(${JSON.stringify(require.resolve("tsx/cjs"))}); require(${JSON.stringify(WORKER_BODY)});`;
  const w = new Worker(boot, { eval: true, workerData: { pair: ctx.pair, clip: ctx.clip, query: ctx.query } });
  return new Promise((resolve, reject) => {
    let seen = 0;
    let stopping = false;
    w.on("message", (m: { type: string; stage?: string }) => {
      if (stopping || m.type !== "stage" || m.stage !== stop || ++seen < nth) return;
      stopping = true;
      void w.terminate();
    });
    w.on("error", (e) => reject(new CaseFailure(`the worker failed before it was terminated: ${e.message}`)));
    w.on("exit", (code) =>
      stopping ? resolve(code) : reject(new CaseFailure(`the worker exited by itself (${code})`)),
    );
  });
}

export const WORKER_CASES: RobustCase[] = [
  {
    kind: "worker-terminate",
    name: "worker-terminated-mid-ground-20-times",
    expect: { ok: true },
    timeoutMs: 240_000,
    run: async (ctx) => {
      for (let i = 0; i < 20; i++) await terminateAt(ctx, STOPS[i % STOPS.length], 1 + (i % 3));
      // The main thread loads a fresh Grounder and grounds normally.
      const g = await Grounder.load({ ...ctx.pair, contextSize: 2048, threads: 2, warmup: false });
      try {
        const r = await g.ground(ctx.clip, ctx.query, ctx.fast);
        if (r.text !== ctx.baseline.text)
          throw new CaseFailure(`after the terminations the answer changed: ${JSON.stringify(r.text)}`);
      } finally {
        await g.dispose();
      }
    },
  },
];
