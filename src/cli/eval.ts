/** `timelens eval --bench <dir|json> --model M --mmproj P`: TimeLens-Bench predictions and metrics. */
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import type { Grounder } from "../session";
import { loadBench, type BenchDataset } from "../eval/bench";
import { formatMetricsTable, type Metrics } from "../eval/metrics";
import { runEval, type EvalFailure, type EvalProgress, type EvalReport } from "../eval/run";
import { pyFixed } from "../util/pyformat";
import { parseShard, shardFile, shardItems } from "../eval/shard";
import type { EvalGrounderLike } from "../eval/run";
import { EVAL_SCALE_FLAGS, EVAL_SCALE_HELP, mergeCommand, queueGrounderFrom } from "./eval-scale";
import { EXIT, UsageError, interruptSignal, num } from "./common";
import { MODEL_FLAGS, SAMPLING_FLAGS, loadGrounderFrom, samplingFrom } from "./ground";
import { formatMs } from "./progress";

export const EVAL_HELP = `\
usage: timelens eval --bench <dir|file.json> --model <model.gguf> --mmproj <mmproj.gguf> [options]

  --bench <path>       TimeLens-Bench folder (<dataset>.json, videos/<subset>/<vid>.mp4) or one annotation file
  --videos <dir>       where the videos are: a folder of <subset>/ folders or of the .mp4 files
                       (default: videos/<subset> next to the annotation file)
  --datasets <a,b,..>  charades-timelens, activitynet-timelens, qvhighlights-timelens (default: all found)
  --out <path>         predictions (reference JSONL): a .jsonl file (several datasets: <name>.<dataset>.jsonl),
                       a folder (<folder>/<dataset>.jsonl) or a path with {dataset} (default: timelens-eval/)
  --limit <n>          only the first n queries of each dataset (annotation order)
  --retry-failed       re-run items whose earlier line has an empty answer (missing video, ...)
  --json               print one JSON object on stdout (metrics, counts, failures, timings)
  --profile --max-new-tokens --context-size --threads --gpu   as for ground
  --fps --min-tokens --total-tokens --max-frames --timestamp-format   as for ground (defaults: the reference's)
${EVAL_SCALE_HELP}
An interrupted run (Ctrl-C, crash, kill) continues where it stopped when run again with the same --out.`;

/** Where each dataset's predictions go (see EVAL_HELP for the rules). */
export async function outputPaths(
  out: string | undefined,
  datasets: readonly string[],
): Promise<(dataset: string) => string> {
  const target = out ?? "timelens-eval";
  if (target.includes("{dataset}")) return (d) => target.split("{dataset}").join(d);
  const isDir = await stat(target).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir && /\.jsonl$/i.test(target)) {
    if (datasets.length <= 1) return () => target;
    const stem = target.slice(0, -".jsonl".length);
    return (d) => `${stem}.${d}.jsonl`;
  }
  return (d) => join(target, `${d}.jsonl`);
}

function formatEta(ms: number): string {
  if (ms < 3600_000) return formatMs(ms);
  const h = Math.floor(ms / 3600_000);
  const m = Math.round((ms % 3600_000) / 60_000);
  return `${h}h${m.toString().padStart(2, "0")}m`;
}

/** One status line on stderr (TTY only): per-dataset counts, rate, ETA, current stage. */
export class EvalProgressBar {
  private lastDraw = 0;
  private visible = false;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return Boolean(this.stream.isTTY);
  }

  update(p: EvalProgress): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && p.done < p.total) return;
    this.lastDraw = now;
    const parts = p.datasets.map((d) => `${d.name.replace(/-timelens$/, "")} ${d.done}/${d.total}`);
    const rate =
      p.queriesPerSecond === null
        ? ""
        : ` ${p.queriesPerSecond >= 1 ? p.queriesPerSecond.toFixed(2) : p.queriesPerSecond.toFixed(3)} q/s`;
    const eta = p.etaMs === null || p.done >= p.total ? "" : ` eta ${formatEta(p.etaMs)}`;
    const failed = p.failed > 0 ? ` ${p.failed} failed` : "";
    const stage = p.current?.stage
      ? ` | ${p.current.stage.stage} ${p.current.stage.done}/${p.current.stage.total}`
      : "";
    let line = `${parts.join("  ")} | ${p.done}/${p.total}${rate}${eta}${failed}${stage}`;
    const cols = this.stream.columns ?? 120;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.stream.write(`\r${line}\x1b[K`);
    this.visible = true;
  }

  clear(): void {
    if (this.visible) this.stream.write("\r\x1b[K");
    this.visible = false;
  }
}

export function metricsJson(m: Metrics | null): { count: number; r1: Metrics["r1"]; miou: number } | null {
  return m ? { count: m.count, r1: { ...m.r1 }, miou: m.miou } : null;
}

export function reportJson(report: EvalReport, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    aborted: report.aborted,
    datasets: report.datasets.map((d) => ({
      name: d.name,
      file: d.file,
      items: d.items,
      unique: d.unique,
      resumed: d.resumed,
      resumedFailed: d.resumedFailed,
      predicted: d.predicted,
      failed: d.failed,
      remaining: d.remaining,
      scored: d.score.items.length,
      emptyAnswers: d.score.items.filter((i) => i.emptyAnswer).length,
      metrics: metricsJson(d.score.metrics),
      unscorable: d.score.unscorable,
    })),
    failures: report.failures,
    repaired: report.repaired,
    timings: report.timings,
    ...extra,
  };
}

function failureLine(f: EvalFailure): string {
  return `${f.dataset} ${basename(f.videoPath)} "${f.query}": ${f.code} ${f.message}`;
}

function noVideoFound(report: EvalReport): boolean {
  return (
    report.timings.videosOpened === 0 &&
    report.failures.length > 0 &&
    report.failures.every((f) => f.code === "ERR_FILE_NOT_FOUND")
  );
}

export function formatEvalSummary(report: EvalReport): string {
  const out: string[] = [];
  for (const d of report.datasets) {
    const bits = [`${d.unique} items`];
    if (d.resumed) bits.push(`${d.resumed} resumed`);
    bits.push(`${d.predicted} new`);
    if (d.failed + d.resumedFailed) bits.push(`${d.failed + d.resumedFailed} failed`);
    if (d.remaining) bits.push(`${d.remaining} not done`);
    out.push(`${d.name}: ${d.file} (${bits.join(", ")})`);
  }
  const rows = report.datasets.filter((d) => d.score.metrics).map((d) => ({ name: d.name, metrics: d.score.metrics! }));
  if (rows.length > 0) out.push("", formatMetricsTable(rows, { digits: 2 }));
  for (const d of report.datasets) if (!d.score.metrics) out.push(`${d.name}: nothing scored yet`);
  if (report.failures.length > 0) {
    out.push("", `failures (${report.failures.length}, scored as [duration+10, duration+20]):`);
    for (const f of report.failures) out.push(`  ${failureLine(f)}`);
  }
  if (noVideoFound(report))
    out.push(`no video was found at all: check --bench / --videos (looked for ${report.failures[0].videoPath})`);
  const earlier = report.datasets.reduce((s, d) => s + d.resumedFailed, 0);
  if (earlier > 0)
    out.push(`${earlier} earlier failures (empty answers) are in the files; --retry-failed runs them again`);
  for (const r of report.repaired) out.push(`repaired ${r.file}: cut ${r.truncatedBytes} bytes of a torn last line`);
  const t = report.timings;
  out.push(
    "",
    `time: ${formatMs(t.wallMs)}, ${t.queries} queries on ${t.videosOpened} videos, ` +
      `${pyFixed(t.queriesPerSecond, 3)} q/s (decode ${formatMs(t.decodeMs)}, encode ${formatMs(t.encodeMs)}, ` +
      `prefill ${formatMs(t.prefillMs)}, generate ${formatMs(t.generateMs)})`,
  );
  if (report.aborted) out.push("interrupted: run the same command again to continue where it stopped");
  return out.join("\n");
}

export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bench: { type: "string" },
      videos: { type: "string" },
      datasets: { type: "string" },
      out: { type: "string" },
      limit: { type: "string" },
      "retry-failed": { type: "boolean", default: false },
      ...MODEL_FLAGS,
      ...SAMPLING_FLAGS,
      ...EVAL_SCALE_FLAGS,
    },
  });
  if (values.help) {
    process.stdout.write(`${EVAL_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0)
    throw new UsageError(`eval takes no positional arguments (got "${positionals[0]}"); use --bench`);
  if (!values.bench) throw new UsageError("eval needs --bench <dir|file.json>");
  if (values.merge && (values.shard || values.redis))
    throw new UsageError("--merge joins finished shards: it takes neither --shard nor --redis");
  if (values.shard && values.redis)
    throw new UsageError("--shard is for runs without Redis; with --redis every worker takes jobs from one queue");
  const shard = values.shard ? parseShard(values.shard) : undefined;
  if (!values.merge && !values.redis && (!values.model || !values.mmproj))
    throw new UsageError("eval needs --model and --mmproj");
  const sampling = samplingFrom(values);
  if (sampling.start !== undefined || sampling.end !== undefined)
    throw new UsageError("eval samples whole videos: --start/--end are not accepted");
  const limit = num(values.limit, "limit");
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new UsageError(`--limit must be a positive integer, got "${values.limit}"`);
  const datasets = values.datasets
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);

  const json = values.json;
  const bench: BenchDataset[] = await loadBench(values.bench, { datasets, videos: values.videos });
  for (const d of bench) for (const w of d.warnings) process.stderr.write(`timelens: ${d.name}: ${w}\n`);
  const allItems = bench.flatMap((d) => (limit === undefined ? d.items : uniqueFirst(d.items, limit)));
  const mergedOut = await outputPaths(
    values.out,
    bench.map((d) => d.name),
  );
  if (values.merge) return mergeCommand(allItems, mergedOut, json);
  const items = shard ? shardItems(allItems, shard) : allItems;
  const outFor = shard ? (d: string) => shardFile(mergedOut(d), shard) : mergedOut;

  const signal = interruptSignal();
  // kill (SIGTERM) stops like Ctrl-C: the current query is dropped, finished lines stay.
  const onTerm = (): void => void process.kill(process.pid, "SIGINT");
  process.once("SIGTERM", onTerm);
  const bar = new EvalProgressBar();
  const warned = new Set<string>();
  let local: Grounder | undefined;
  let remote: Awaited<ReturnType<typeof queueGrounderFrom>> | undefined;
  try {
    const t0 = performance.now();
    let grounder: EvalGrounderLike;
    let modelJson: Record<string, unknown>;
    if (values.redis) {
      remote = await queueGrounderFrom(values);
      grounder = remote.grounder;
      modelJson = { path: values.model ?? null, identity: remote.model ?? null, queue: remote.queue.name };
    } else {
      local = await loadGrounderFrom(values, signal);
      grounder = local;
      modelJson = { path: values.model, profile: local.info.profile, loadMs: performance.now() - t0 };
    }
    const { timestampFormat, fps, minTokens, totalTokens, maxFrames } = sampling;
    const report = await runEval({
      grounder,
      items,
      out: outFor,
      sampling: { fps, minTokens, totalTokens, maxFrames, timestampFormat },
      maxNewTokens: num(values["max-new-tokens"], "max-new-tokens"),
      retryFailed: values["retry-failed"],
      signal,
      onProgress: (p) => bar.update(p),
      onItem: (e) => {
        if (!e.failure || json) return;
        const once = `${e.item.dataset}\u0000${e.item.videoPath}\u0000${e.failure.code}`;
        if (warned.has(once)) return;
        warned.add(once);
        bar.clear();
        process.stderr.write(`timelens: ${failureLine(e.failure)}\n`);
      },
    }).catch((e: unknown) => {
      // An infrastructure error (src/eval/failure.ts): nothing was scored for it; say how to go on.
      bar.clear();
      process.stderr.write(
        "timelens: eval stopped; finished lines are kept and the unfinished items stay pending: " +
          "fix the cause below and run the same command again to continue\n",
      );
      throw e;
    });
    bar.clear();
    if (json) {
      process.stdout.write(`${JSON.stringify(reportJson(report, { model: modelJson }))}\n`);
    } else {
      process.stdout.write(`${formatEvalSummary(report)}\n`);
    }
    return report.aborted ? EXIT.aborted : EXIT.ok;
  } finally {
    bar.clear();
    process.removeListener("SIGTERM", onTerm);
    await local?.dispose();
    await remote?.queue.close();
  }
}

/** The first `n` distinct keys of a dataset (with any later duplicates of them). */
function uniqueFirst<T extends { key: string }>(items: readonly T[], n: number): T[] {
  const keys = new Set<string>();
  const out: T[] = [];
  for (const it of items) {
    if (!keys.has(it.key)) {
      if (keys.size >= n) continue;
      keys.add(it.key);
    }
    out.push(it);
  }
  return out;
}
