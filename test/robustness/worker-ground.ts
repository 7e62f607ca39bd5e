/**
 * Body of the Worker-termination case: loads a Grounder inside a worker thread and grounds,
 * posting each progress stage so the parent can terminate() the thread mid-call.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Grounder } from "../../src";

interface Job {
  pair: { model: string; mmproj: string };
  clip: string;
  query: string;
}

async function main(): Promise<void> {
  const job = workerData as Job;
  const g = await Grounder.load({ ...job.pair, contextSize: 2048, threads: 2, warmup: false });
  parentPort?.postMessage({ type: "loaded" });
  for (;;) {
    await g.ground(job.clip, job.query, {
      totalTokens: 256,
      minTokens: 4,
      maxNewTokens: 64,
      onProgress: (p) => parentPort?.postMessage({ type: "stage", stage: p.stage }),
      onToken: () => parentPort?.postMessage({ type: "stage", stage: "token" }),
    });
  }
}

void main();
