/**
 * Child of `npm run bench -- cycles`: `cycles` rounds of Grounder.load -> ground -> dispose in
 * one clean process, explicit GC after each, printing one JSON line per cycle (RSS, heap,
 * external memory) so the parent can see a leak as growth. Run with `node --expose-gc --import tsx`.
 */
import { Grounder } from "../src/session";

async function main(): Promise<void> {
  const [model, mmproj, video, cyclesArg] = process.argv.slice(2);
  const cycles = Number(cyclesArg);
  const gc = (global as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc");
  let firstText: string | null = null;
  for (let i = 0; i < cycles; i++) {
    const g = await Grounder.load({ model, mmproj, contextSize: 2048, threads: 2, warmup: false });
    const r = await g.ground(video, "a red box moves to the right", {
      totalTokens: 256,
      minTokens: 4,
      maxNewTokens: 12,
    });
    await g.dispose();
    firstText ??= r.text;
    // The same greedy answer every cycle: a cycle that "works" but computes garbage is no cycle.
    if (r.text !== firstText) throw new Error(`cycle ${i}: answer changed`);
    gc();
    const m = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ cycle: i, rss: m.rss, heapUsed: m.heapUsed, external: m.external })}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
