/**
 * A child process for test/eval/lock.test.ts: at time `startAt` (ms since the epoch), opens the
 * prediction file; prints "got" and holds it for `holdMs`, or prints the error code.
 * Run with `node --import tsx lock-child.ts <file> <startAt> <holdMs>`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { PredictionWriter } from "../../src/eval/writer";

async function main(): Promise<void> {
  const [file, startAt, holdMs] = process.argv.slice(2);
  await sleep(Math.max(0, Number(startAt) - Date.now()));
  try {
    const { writer } = await PredictionWriter.open(file);
    process.stdout.write("got\n");
    await sleep(Number(holdMs));
    await writer.close();
  } catch (e) {
    process.stdout.write(`${(e as { code?: string }).code ?? (e as Error).message}\n`);
  }
}

void main();
