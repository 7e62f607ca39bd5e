/**
 * Gathering what an eval report shows from files: prediction JSONL (as `timelens eval` writes
 * it) split by dataset against TimeLens-Bench annotations, scored by the reference's rules
 * (src/eval/score.ts), each item joined with its annotation (duration, video path).
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { TimelensError } from "../errors";
import type { BenchDataset } from "../eval/bench";
import { crossCheck, scorePredictions, timestampsFieldChecker } from "../eval/score";
import { parsePredictionFile, type ParsedPrediction } from "../eval/predictions";
import type { EvalReportData, EvalReportItem } from "./eval-report";

/** Prediction files under `preds`: the file itself, or every *.jsonl in the folder. */
export async function predictionFiles(preds: string): Promise<string[]> {
  const s = await stat(preds).catch(() => null);
  if (!s) throw new TimelensError("ERR_FILE_NOT_FOUND", `Predictions not found: ${preds}`, { path: preds });
  if (s.isFile()) return [preds];
  const { readdir } = await import("node:fs/promises");
  const files = (await readdir(preds))
    .filter((n) => n.endsWith(".jsonl"))
    .sort()
    .map((n) => join(preds, n));
  if (files.length === 0)
    throw new TimelensError("ERR_FILE_NOT_FOUND", `${preds} holds no .jsonl prediction files`, { path: preds });
  return files;
}

/** One EvalReportData per dataset that has predictions (scored items joined with the annotation). */
export async function loadEvalReportData(
  files: readonly string[],
  bench: readonly BenchDataset[],
): Promise<Array<EvalReportData & { files: string[] }>> {
  const records: ParsedPrediction[] = [];
  const fileOf = new Map<ParsedPrediction, string>();
  const hasTs = new Map<ParsedPrediction, boolean>();
  for (const path of files) {
    const text = await readFile(path, "utf8");
    const check = timestampsFieldChecker(text);
    for (const r of parsePredictionFile(text).records) {
      records.push(r);
      fileOf.set(r, path);
      if (r.timestamps.length === 0) hasTs.set(r, check(r));
    }
  }
  const split = crossCheck(records, bench);
  const out: Array<EvalReportData & { files: string[] }> = [];
  split.datasets.forEach((d, i) => {
    if (d.records.length === 0) return;
    const byKey = new Map(bench[i].items.map((it) => [it.key, it]));
    const answers = new Map<string, string>();
    const durations = new Map<string, number | null>();
    for (const r of d.records) {
      answers.set(r.key, r.answers); // the last line of a key wins, as in scoring
      durations.set(r.key, r.duration);
    }
    const score = scorePredictions(d.records, { hasTimestampsField: (r) => hasTs.get(r) ?? true });
    const items: EvalReportItem[] = score.items.map((s) => {
      const a = byKey.get(s.key);
      // The annotation's duration; the prediction line's when the annotation lacks the item.
      return {
        ...s,
        duration: Number(a?.duration ?? durations.get(s.key) ?? NaN),
        answer: answers.get(s.key) ?? "",
        videoPath: a?.videoPath,
      };
    });
    const used = [...new Set(d.records.map((r) => fileOf.get(r)!))];
    out.push({
      dataset: d.name,
      items,
      predictionsFile: used.join(", "),
      files: used,
      missing: d.missing.length,
      unscorable: score.unscorable.length,
    });
  });
  return out;
}
