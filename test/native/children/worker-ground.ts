/**
 * Worker body for the teardown test: loads a Grounder on the tiny fixture, then grounds and
 * posts every progress stage it reaches, until its parent terminate()s it mid-ground.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Grounder } from "../../../src/session";
import { fixturePair } from "../../helpers/models";

interface Data {
  clip: string;
}

async function main(): Promise<void> {
  const { clip } = workerData as Data;
  const grounder = await Grounder.load({
    ...fixturePair("tiny-qwen3vl"),
    addonPath: process.env.TIMELENS_TEST_ADDON || undefined,
    contextSize: 2048,
    threads: 1,
  });
  parentPort?.postMessage({ type: "loaded" });
  for (;;) {
    await grounder.ground(clip, "a red box moves to the right", {
      totalTokens: 256,
      minTokens: 4,
      maxNewTokens: 48,
      onProgress: (p) => parentPort?.postMessage({ type: "stage", stage: p.stage }),
    });
    parentPort?.postMessage({ type: "grounded" });
  }
}

void main();
