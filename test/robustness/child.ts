/**
 * Runs one batch of the robustness battery in this process: loads the tiny qwen3vl Grounder,
 * grounds a good clip (the baseline), runs every case with a deadline, then grounds the same
 * clip again and compares. Prints one `@@robust` JSON line per case and one for the batch.
 *
 *   node --import tsx test/robustness/child.ts <batch>
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Grounder } from "../../src";
import { makeClip } from "../helpers/clips";
import { fixturePair } from "../helpers/models";
import { BATCHES } from "./batches";
import {
  type BatchReport,
  type CaseContext,
  type CaseReport,
  compareWithBaseline,
  judge,
  LINE_PREFIX,
  runCase,
} from "./harness";

function emit(kind: "case" | "batch" | "start", body: unknown): void {
  process.stdout.write(`${LINE_PREFIX}${JSON.stringify({ kind, body })}\n`);
}

async function main(): Promise<void> {
  const name = process.argv[2];
  const only = process.argv[3]; // optional: one case by name, for debugging
  const cases = (BATCHES[name] ?? []).filter((c) => !only || c.name === only);
  if (!cases.length) throw new Error(`unknown batch ${name}${only ? ` / case ${only}` : ""}`);
  const dir = mkdtempSync(join(tmpdir(), `timelens-robust-${name}-`));
  const pair = fixturePair("tiny-qwen3vl");
  const grounder = await Grounder.load({ ...pair, contextSize: 2048, threads: 2, warmup: false });
  const fast = { totalTokens: 256, minTokens: 4, maxNewTokens: 12 };
  const clip = makeClip({ seconds: 4 });
  const query = "a red box moves to the right";
  const baseline = await grounder.ground(clip, query, fast);
  const ctx: CaseContext = { grounder, clip, fast, query, dir, pair, baseline };
  const reports: CaseReport[] = [];
  try {
    for (const c of cases) {
      emit("start", { name: c.name });
      const t0 = performance.now();
      const outcome = await runCase(c, ctx);
      const report: CaseReport = {
        kind: c.kind,
        name: c.name,
        outcome,
        problem: judge(outcome, c.expect),
        ms: Math.round(performance.now() - t0),
      };
      reports.push(report);
      emit("case", report);
      if (outcome.status === "hang") break; // the model queue may be stuck behind it: stop here
    }
    const hung = reports.some((r) => r.outcome.status === "hang");
    const after = hung
      ? "not checked: a case hung"
      : compareWithBaseline(baseline, await grounder.ground(clip, query, fast));
    const batch: BatchReport = { batch: name, cases: reports, after };
    emit("batch", batch);
    await grounder.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Exit explicitly: a hung case may hold the event loop open.
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`robustness child failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
