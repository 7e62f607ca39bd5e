/**
 * Child process for the load/dispose leak test: a clean heap, explicit GC, and RSS after
 * every cycle printed as JSON. Run with `node --expose-gc --import tsx`.
 *
 *   load-dispose-child.ts <cycles> [keep]
 *
 * `keep` leaks on purpose (every model stays loaded): the test's check of itself, showing that
 * its measure sees a real leak.
 */
import { VisionModel } from "../../src/runtime/model";
import { fixturePair } from "./models";

async function main(): Promise<void> {
  const cycles = Number(process.argv[2] ?? 50);
  const keep = process.argv[3] === "keep";
  const kept: VisionModel[] = [];
  const rss: number[] = [];
  for (let i = 0; i < cycles; i++) {
    const m = await VisionModel.load({ ...fixturePair("tiny-qwen25vl"), contextSize: 512, warmup: false });
    if (keep) kept.push(m);
    else await m.dispose();
    (global as { gc?: () => void }).gc?.();
    rss.push(process.memoryUsage().rss);
  }
  process.stdout.write(JSON.stringify(rss));
  for (const m of kept) await m.dispose();
}

void main();
