/** `timelens metrics <preds.jsonl>...`: scores existing prediction files (reference rules). */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { TimelensError } from "../errors";
import { loadBench } from "../eval/bench";
import { formatMetricsTable } from "../eval/metrics";
import type { ParsedPrediction } from "../eval/predictions";
import {
  crossCheck,
  scorePredictionText,
  scorePredictions,
  timestampsFieldChecker,
  type ScoreResult,
} from "../eval/score";
import { EXIT, UsageError, num } from "./common";
import { metricsJson } from "./eval";

export const METRICS_HELP =
  `usage: timelens metrics <preds.jsonl> [more.jsonl ...] ` +
  `[--bench <dir|file.json>] [--datasets a,b] [--json]

  Scores prediction files as the reference's compute_metrics does (ground truth from each key's
  span, first predicted pair, a repeated key counted once). Without --bench each file is scored
  on its own; with --bench the predictions are split by dataset and checked against the
  annotation: missing items are listed (they are not scored, as in the reference).
  --missing <n>   how many missing keys to print per dataset (default 10; all in --json)`;

interface Group {
  name: string;
  score: ScoreResult;
  expected?: number;
  present?: number;
  missing?: string[];
}

export async function metricsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bench: { type: "string" },
      datasets: { type: "string" },
      json: { type: "boolean", default: false },
      missing: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${METRICS_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length === 0) throw new UsageError("metrics needs at least one predictions file");
  const showMissing = num(values.missing, "missing") ?? 10;

  const files: Array<{
    path: string;
    lines: number;
    records: number;
    distinct: number;
    repeatedKeys: number;
    tornLastLine: boolean;
  }> = [];
  const perFile: Array<{
    path: string;
    records: ParsedPrediction[];
    score: ScoreResult;
    hasTs: (r: ParsedPrediction) => boolean;
  }> = [];
  for (const path of positionals) {
    const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT")
        throw new TimelensError("ERR_FILE_NOT_FOUND", `Predictions file not found: ${path}`, { path });
      throw e;
    });
    const scored = scorePredictionText(text);
    files.push({
      path,
      lines: text.split("\n").filter((l) => l.trim() !== "").length,
      records: scored.records.length,
      distinct: new Set(scored.records.map((r) => r.key)).size,
      repeatedKeys: scored.repeatedKeys,
      tornLastLine: scored.tornLastLine,
    });
    perFile.push({ path, records: scored.records, score: scored, hasTs: timestampsFieldChecker(text) });
  }

  const groups: Group[] = [];
  let unknownKeys: string[] = [];
  if (values.bench) {
    const wanted = values.datasets
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const bench = await loadBench(values.bench, { datasets: wanted });
    const all = perFile.flatMap((f) => f.records);
    const hasTs = new Map<ParsedPrediction, boolean>();
    for (const f of perFile) for (const r of f.records) if (r.timestamps.length === 0) hasTs.set(r, f.hasTs(r));
    const check = crossCheck(all, bench);
    for (const d of check.datasets) {
      if (d.records.length === 0 && !wanted) continue;
      groups.push({
        name: d.name,
        score: scorePredictions(d.records, { hasTimestampsField: (r) => hasTs.get(r) ?? true }),
        expected: d.expected,
        present: d.present,
        missing: d.missing.map((m) => m.key),
      });
    }
    unknownKeys = [...new Set(check.unknown.map((r) => r.key))];
    if (check.unknown.length > 0)
      groups.push({
        name: "(not in bench)",
        score: scorePredictions(check.unknown, { hasTimestampsField: (r) => hasTs.get(r) ?? true }),
      });
  } else {
    for (const f of perFile) groups.push({ name: basename(f.path).replace(/\.jsonl?$/i, ""), score: f.score });
  }

  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({
        files,
        datasets: groups.map((g) => ({
          name: g.name,
          metrics: metricsJson(g.score.metrics),
          scored: g.score.items.length,
          emptyAnswers: g.score.items.filter((i) => i.emptyAnswer).length,
          repeatedKeys: g.score.repeatedKeys,
          unscorable: g.score.unscorable,
          ...(g.expected !== undefined ? { expected: g.expected, present: g.present, missing: g.missing } : {}),
        })),
        unknown: unknownKeys,
      })}\n`,
    );
  } else {
    const out: string[] = [];
    const rows = groups.filter((g) => g.score.metrics).map((g) => ({ name: g.name, metrics: g.score.metrics! }));
    if (rows.length > 0) out.push(formatMetricsTable(rows, { digits: 2 }), "");
    for (const f of files) {
      const notes = [`${f.records} predictions`, `${f.distinct} distinct keys`];
      if (f.repeatedKeys) notes.push(`${f.repeatedKeys} repeated keys (the last line of each counts)`);
      if (f.tornLastLine) notes.push("a torn last line was ignored");
      out.push(`${f.path}: ${notes.join(", ")}`);
    }
    for (const g of groups) {
      const empty = g.score.items.filter((i) => i.emptyAnswer).length;
      if (!g.score.metrics) out.push(`${g.name}: nothing to score`);
      if (empty) out.push(`${g.name}: ${empty} empty answers (failed items, scored as misses)`);
      for (const u of g.score.unscorable) out.push(`${g.name}: line ${u.line} not scored: ${u.reason}`);
      if (g.expected !== undefined) {
        out.push(
          `${g.name}: ${g.present}/${g.expected} annotation items predicted` +
            `${g.missing!.length ? `, ${g.missing!.length} missing` : ""}`,
        );
        for (const k of g.missing!.slice(0, showMissing)) out.push(`  missing: ${k}`);
        if (g.missing!.length > showMissing) out.push(`  ... and ${g.missing!.length - showMissing} more`);
      }
    }
    if (unknownKeys.length) out.push(`${unknownKeys.length} keys are in no annotation of the bench`);
    process.stdout.write(`${out.join("\n")}\n`);
  }
  if (groups.every((g) => !g.score.metrics)) {
    throw new TimelensError("ERR_INVALID_ARGUMENT", "No prediction could be scored.", { files: positionals });
  }
  return EXIT.ok;
}
