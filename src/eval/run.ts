/**
 * Running TimeLens-Bench items through a model: one video session per video (probe, decode,
 * encode and prefill once; every query of the video on top of that prefix), one prediction line
 * per query, appended durably as soon as it is known, resumable after any interruption.
 *
 * Failures: an item whose video is missing or unreadable (or any other per-item error) gets a
 * line with an empty answer, which the reference scores as [duration + 10, duration + 20]
 * (IoU 0), and is listed in the report; the run goes on. Errors that would fail every item
 * (no ffmpeg, a disposed model, an invalid model) stop the run. An abort (signal) stops it
 * too, leaving every finished line in place; runEval then resolves with `aborted: true`.
 */
import { readFile, stat } from "node:fs/promises";
import { TimelensError, isTimelensError, type ErrorCode } from "../errors";
import type { OpenVideoOptions } from "../session";
import type { GroundProgress, GroundTimings, GroundingResult, QueryOptions, FrameSamplingOptions } from "../types";
import type { BenchItem } from "./bench";
import { referenceTimestamps } from "./metrics";
import { formatPredictionLine, parsePredictionFile } from "./predictions";
import { scorePredictions, type ScoreResult } from "./score";
import { PredictionWriter } from "./writer";
import type { ParsedPrediction } from "./predictions";

/** What runEval needs of a video session (VideoSession satisfies it). */
export interface EvalSessionLike {
  ground(query: string, options?: QueryOptions): Promise<Pick<GroundingResult, "text" | "spans"> & { timings?: Partial<GroundTimings> }>;
  close(): Promise<void>;
}

/** What runEval needs of a model (Grounder satisfies it). */
export interface EvalGrounderLike {
  openVideo(path: string, options?: OpenVideoOptions): Promise<EvalSessionLike>;
  /** Told every video the run will open, in order, before the first (a job queue enqueues them all; docs/queue.md). */
  prepare?(videos: EvalVideoPlan[], options: OpenVideoOptions & { retryFailed?: boolean }): Promise<void>;
}

/** One video of a run: the queries it will be asked, in order. */
export interface EvalVideoPlan {
  dataset: string;
  videoPath: string;
  queries: string[];
}

export interface EvalProgress {
  /** Per dataset: distinct items asked for, done (resumed + this run), failed in this run. */
  datasets: Array<{ name: string; total: number; done: number; failed: number }>;
  total: number;
  done: number;
  /** Of `done`, how many were already in the files when the run started. */
  resumed: number;
  failed: number;
  /** Since the run started (after the files were opened). */
  elapsedMs: number;
  /** Items finished in this run per second (null before the first). */
  queriesPerSecond: number | null;
  /** Time left at that rate (null when unknown). */
  etaMs: number | null;
  /** The item being worked on, with its stage, when known. */
  current?: { dataset: string; videoId: string; query: string; stage?: GroundProgress };
}

export interface EvalFailure {
  dataset: string;
  videoId: string;
  videoPath: string;
  query: string;
  key: string;
  code: string;
  message: string;
}

export interface EvalItemEvent {
  item: BenchItem;
  ok: boolean;
  /** The line written. */
  line: string;
  answer: string;
  timestamps: Array<[number, number]>;
  failure?: EvalFailure;
}

export interface RunEvalOptions {
  grounder: EvalGrounderLike;
  /** The items to run (duplicates by key run once). Their order is kept, grouped by video. */
  items: readonly BenchItem[];
  /** The prediction file: one path for everything, or a path per dataset. */
  out: string | ((dataset: string) => string);
  /** Frame sampling (default: the model profile's, i.e. the reference's). */
  sampling?: FrameSamplingOptions;
  /** Answer length cap (default: the profile's, 512). */
  maxNewTokens?: number;
  signal?: AbortSignal;
  /** Re-run items whose line has an empty answer (earlier failures): their lines are removed first. */
  retryFailed?: boolean;
  onProgress?: (p: EvalProgress) => void;
  /** Each finished item, after its line is on disk. */
  onItem?: (e: EvalItemEvent) => void;
  onToken?: (text: string, item: BenchItem) => void;
}

export interface EvalDatasetReport {
  name: string;
  file: string;
  /** Items asked for (duplicates included) and distinct keys among them. */
  items: number;
  unique: number;
  /** Distinct keys already in the file when the run started (skipped). */
  resumed: number;
  /** Of those, lines with an empty answer (earlier failures). */
  resumedFailed: number;
  /** Items grounded in this run, and failures among them. */
  predicted: number;
  failed: number;
  /** Distinct items not done (an aborted run). */
  remaining: number;
  /** Score over this dataset's requested keys found in the file. */
  score: ScoreResult;
}

export interface EvalTimings {
  /** Wall time of the run (files opened to report), ms. */
  wallMs: number;
  /** Items finished in this run (ok or failed) and their rate. */
  queries: number;
  queriesPerSecond: number;
  videosOpened: number;
  decodeMs: number;
  encodeMs: number;
  prefillMs: number;
  generateMs: number;
}

export interface EvalReport {
  datasets: EvalDatasetReport[];
  failures: EvalFailure[];
  timings: EvalTimings;
  aborted: boolean;
  /** Files whose torn last line was cut off (bytes removed). */
  repaired: Array<{ file: string; truncatedBytes: number }>;
}

/** Errors that would fail every item: they stop the run instead of being scored. */
const FATAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "ERR_ADDON_NOT_FOUND",
  "ERR_FFMPEG_NOT_FOUND",
  "ERR_MODEL_INVALID",
  "ERR_MODEL_UNSUPPORTED",
  "ERR_MMPROJ_MISMATCH",
  "ERR_NO_VISION",
  "ERR_PROFILE_UNKNOWN",
  "ERR_DISPOSED",
  "ERR_BUSY",
  "ERR_QUEUE", // the job queue broke (docs/queue.md): not the item's fault
]);

/** Errors about the video itself: every other query of that video would fail the same way. */
const VIDEO_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "ERR_FILE_NOT_FOUND",
  "ERR_VIDEO_UNREADABLE",
  "ERR_VIDEO_TOO_SHORT",
  "ERR_VIDEO_ASPECT",
  "ERR_CLIP_RANGE",
  "ERR_CONTEXT_OVERFLOW",
]);

function isAbort(e: unknown, signal: AbortSignal | undefined): boolean {
  return isTimelensError(e, "ERR_ABORTED") || (signal?.aborted === true && (e as Error)?.name === "AbortError");
}

function isFatal(e: unknown): boolean {
  return !isTimelensError(e) || FATAL_CODES.has(e.code);
}

function errorCode(e: unknown): string {
  return isTimelensError(e) ? e.code : "ERR_INTERNAL";
}

/** Runs the items; see the module comment. */
export async function runEval(options: RunEvalOptions): Promise<EvalReport> {
  const { grounder, signal } = options;
  const outFor =
    typeof options.out === "string"
      ? (
          (p: string) => () =>
            p
        )(options.out)
      : options.out;
  const datasetNames = [...new Set(options.items.map((i) => i.dataset))];

  // Distinct items per dataset, and the file each goes to.
  const files = new Map<string, { writer: PredictionWriter | null; records: ParsedPrediction[] }>();
  const fileOf = new Map<string, string>();
  for (const d of datasetNames) {
    const path = outFor(d);
    fileOf.set(d, path);
    if (!files.has(path)) files.set(path, { writer: null, records: [] });
  }
  const unique: BenchItem[] = [];
  const seen = new Set<string>();
  for (const it of options.items) {
    const id = `${fileOf.get(it.dataset)}\u0000${it.key}`;
    if (!seen.has(id)) {
      seen.add(id);
      unique.push(it);
    }
  }
  const requested = new Set(unique.map((it) => `${fileOf.get(it.dataset)}\u0000${it.key}`));

  const repaired: EvalReport["repaired"] = [];
  const present = new Set<string>(); // file \0 key already in the file
  const presentEmpty = new Set<string>();
  try {
    for (const [path, entry] of files) {
      const drop = options.retryFailed ? (r: ParsedPrediction) => r.answers === "" && requested.has(`${path}\u0000${r.key}`) : undefined;
      const { writer, opened } = await PredictionWriter.open(path, { drop });
      entry.writer = writer;
      entry.records = opened.records;
      if (opened.truncatedBytes > 0) repaired.push({ file: path, truncatedBytes: opened.truncatedBytes });
      for (const r of opened.records) {
        present.add(`${path}\u0000${r.key}`);
        if (r.answers === "") presentEmpty.add(`${path}\u0000${r.key}`);
      }
    }

    const stats = new Map(datasetNames.map((name) => [name, { name, items: 0, unique: 0, resumed: 0, resumedFailed: 0, predicted: 0, failed: 0 }]));
    for (const it of options.items) stats.get(it.dataset)!.items++;
    const pending: BenchItem[] = [];
    for (const it of unique) {
      const s = stats.get(it.dataset)!;
      s.unique++;
      const id = `${fileOf.get(it.dataset)}\u0000${it.key}`;
      if (present.has(id)) {
        s.resumed++;
        if (presentEmpty.has(id)) s.resumedFailed++;
      } else pending.push(it);
    }

    const t0 = performance.now();
    let firstItemAt: number | null = null;
    let finished = 0;
    const failures: EvalFailure[] = [];
    const timings: EvalTimings = { wallMs: 0, queries: 0, queriesPerSecond: 0, videosOpened: 0, decodeMs: 0, encodeMs: 0, prefillMs: 0, generateMs: 0 };
    const totalAll = unique.length;
    const resumedAll = unique.length - pending.length;

    const progress = (current?: EvalProgress["current"]): void => {
      if (!options.onProgress) return;
      const now = performance.now();
      const elapsedRun = firstItemAt === null ? 0 : now - firstItemAt;
      const rate = finished > 0 && elapsedRun > 0 ? (finished * 1000) / elapsedRun : null;
      const left = totalAll - resumedAll - finished;
      options.onProgress({
        datasets: [...stats.values()].map((s) => ({ name: s.name, total: s.unique, done: s.resumed + s.predicted, failed: s.failed })),
        total: totalAll,
        done: resumedAll + finished,
        resumed: resumedAll,
        failed: failures.length,
        elapsedMs: now - t0,
        queriesPerSecond: rate,
        etaMs: rate ? (left / rate) * 1000 : left === 0 ? 0 : null,
        current,
      });
    };

    const write = async (it: BenchItem, answer: string, spans: ReadonlyArray<readonly [number, number]> | null, failure?: EvalFailure): Promise<void> => {
      const timestamps = referenceTimestamps(spans, Number(it.duration));
      const line = formatPredictionLine({ video: it.videoName, query: it.query, gt: it.gt, timestamps, answers: answer, duration: it.duration });
      await files.get(fileOf.get(it.dataset)!)!.writer!.append(line);
      const s = stats.get(it.dataset)!;
      s.predicted++;
      if (failure) {
        s.failed++;
        failures.push(failure);
      }
      finished++;
      options.onItem?.({ item: it, ok: !failure, line, answer, timestamps, failure });
    };
    const fail = (it: BenchItem, e: unknown): Promise<void> =>
      write(it, "", null, {
        dataset: it.dataset,
        videoId: it.videoId,
        videoPath: it.videoPath,
        query: it.query,
        key: it.key,
        code: errorCode(e),
        message: (e as Error)?.message ?? String(e),
      });

    // Group by video, keeping first-appearance order.
    const groups = new Map<string, BenchItem[]>();
    for (const it of pending) {
      const g = `${it.dataset}\u0000${it.videoPath}`;
      const list = groups.get(g);
      if (list) list.push(it);
      else groups.set(g, [it]);
    }

    let aborted = false;
    if (grounder.prepare) {
      const plans = [...groups.values()].map((g) => ({ dataset: g[0].dataset, videoPath: g[0].videoPath, queries: g.map((it) => it.query) }));
      await grounder.prepare(plans, { ...options.sampling, maxNewTokens: options.maxNewTokens, retryFailed: options.retryFailed });
    }
    progress();
    outer: for (const group of groups.values()) {
      if (signal?.aborted) {
        aborted = true;
        break;
      }
      const first = group[0];
      firstItemAt ??= performance.now();
      progress({ dataset: first.dataset, videoId: first.videoId, query: first.query });
      let session: EvalSessionLike;
      try {
        const exists = await stat(first.videoPath).then(
          (s) => s.isFile(),
          () => false,
        );
        if (!exists) throw new TimelensError("ERR_FILE_NOT_FOUND", `Video not found: ${first.videoPath}`, { path: first.videoPath });
        session = await grounder.openVideo(first.videoPath, { ...options.sampling, signal, maxNewTokens: options.maxNewTokens });
        timings.videosOpened++;
      } catch (e) {
        if (isAbort(e, signal)) {
          aborted = true;
          break;
        }
        if (isFatal(e)) throw e;
        for (const it of group) await fail(it, e);
        progress();
        continue;
      }
      try {
        for (let i = 0; i < group.length; i++) {
          const it = group[i];
          if (signal?.aborted) {
            aborted = true;
            break outer;
          }
          try {
            const r = await session.ground(it.query, {
              maxNewTokens: options.maxNewTokens,
              signal,
              onProgress: options.onProgress ? (stage) => progress({ dataset: it.dataset, videoId: it.videoId, query: it.query, stage }) : undefined,
              onToken: options.onToken ? (text) => options.onToken!(text, it) : undefined,
            });
            const t = r.timings ?? {};
            timings.decodeMs += t.decodeMs ?? 0;
            timings.encodeMs += t.encodeMs ?? 0;
            timings.prefillMs += t.prefillMs ?? 0;
            timings.generateMs += t.generateMs ?? 0;
            await write(it, r.text, r.spans);
          } catch (e) {
            if (isAbort(e, signal)) {
              aborted = true;
              break outer;
            }
            if (isFatal(e)) throw e;
            if (isTimelensError(e) && VIDEO_CODES.has(e.code)) {
              for (const rest of group.slice(i)) await fail(rest, e);
              break;
            }
            await fail(it, e);
          }
          progress();
        }
      } finally {
        await session.close();
      }
      progress();
    }
    if (signal?.aborted) aborted = aborted || finished < pending.length;

    const wallMs = performance.now() - t0;
    timings.wallMs = wallMs;
    timings.queries = finished;
    const runMs = firstItemAt === null ? 0 : performance.now() - firstItemAt;
    timings.queriesPerSecond = runMs > 0 ? (finished * 1000) / runMs : 0;

    // Close, then score from the files themselves (what the reference would read).
    for (const entry of files.values()) {
      await entry.writer?.close();
      entry.writer = null;
    }
    const datasets: EvalDatasetReport[] = [];
    for (const s of stats.values()) {
      const file = fileOf.get(s.name)!;
      const keys = new Set(unique.filter((it) => it.dataset === s.name).map((it) => it.key));
      const { records } = await readPredictions(file);
      const score = scorePredictions(records.filter((r) => keys.has(r.key)));
      datasets.push({ ...s, file, remaining: s.unique - s.resumed - s.predicted, score });
    }
    return { datasets, failures, timings, aborted, repaired };
  } finally {
    for (const entry of files.values()) await entry.writer?.close().catch(() => {});
  }
}

async function readPredictions(file: string): Promise<{ records: ParsedPrediction[] }> {
  const text = await readFile(file, "utf8").catch(() => "");
  return { records: parsePredictionFile(text).records };
}
