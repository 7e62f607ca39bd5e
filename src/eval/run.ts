/**
 * Running TimeLens-Bench items through a model: one video session per video (probe, decode,
 * encode and prefill once; every query of the video on top of that prefix), one prediction line
 * per query, appended durably as soon as it is known, resumable after any interruption.
 *
 * Failures (classifyFailure, src/eval/failure.ts): an item whose video is missing or unreadable
 * gets a line with an empty answer, which the reference scores as [duration + 10, duration + 20]
 * (IoU 0), and is listed in the report; the run goes on. Any other error (ERR_NATIVE,
 * ERR_CONTEXT_OVERFLOW, out of memory, no ffmpeg, a lost queue ...) says nothing about the item:
 * it stops the run by rejecting, every finished line stays and the item stays pending, so the
 * next run does it. An abort (signal) stops it too; runEval then resolves with `aborted: true`.
 */
import { readFile, stat } from "node:fs/promises";
import { TimelensError, type ErrorCode } from "../errors";
import type { OpenVideoOptions } from "../session";
import type { GroundProgress, GroundTimings, GroundingResult, QueryOptions, FrameSamplingOptions } from "../types";
import type { BenchItem } from "./bench";
import { classifyFailure } from "./failure";
import { referenceTimestamps } from "./metrics";
import { formatPredictionLine, parsePredictionFile } from "./predictions";
import { scorePredictions, type ScoreResult } from "./score";
import { PredictionWriter } from "./writer";
import type { ParsedPrediction } from "./predictions";

/** What runEval needs of a video session (VideoSession satisfies it). */
export interface EvalSessionLike {
  ground(query: string, options?: QueryOptions): Promise<EvalAnswer>;
  close(): Promise<void>;
}

/** What runEval reads of an answer. */
export type EvalAnswer = Pick<GroundingResult, "text" | "spans"> & { timings?: Partial<GroundTimings> };

/** What runEval needs of a model (Grounder satisfies it). */
export interface EvalGrounderLike {
  openVideo(path: string, options?: OpenVideoOptions): Promise<EvalSessionLike>;
  /**
   * Told every video the run will open, in order, before the first (a job queue enqueues them
   * all; docs/queue.md).
   */
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
  /** A video fault (VIDEO_FAULT_CODES in src/eval/failure.ts). */
  code: ErrorCode;
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

/** One item's identity within a run: its prediction file and its key there. */
type RunKey = string;

interface FileEntry {
  writer: PredictionWriter | null;
}

/** A dataset's counts while the run goes (the report adds its file, what remains and the score). */
type DatasetStats = Pick<
  EvalDatasetReport,
  "name" | "items" | "unique" | "resumed" | "resumedFailed" | "predicted" | "failed"
>;

/** What the prediction files held when the run started. */
interface OpenedFiles {
  present: Set<RunKey>;
  presentEmpty: Set<RunKey>;
  repaired: EvalReport["repaired"];
}

function outputOf(out: RunEvalOptions["out"]): (dataset: string) => string {
  if (typeof out === "string") return () => out;
  return out;
}

/** A run of items: the steps of runEval share this state. */
class EvalRun {
  readonly fileOf = new Map<string, string>();
  readonly files = new Map<string, FileEntry>();
  readonly stats = new Map<string, DatasetStats>();
  readonly failures: EvalFailure[] = [];
  readonly timings: EvalTimings = {
    wallMs: 0,
    queries: 0,
    queriesPerSecond: 0,
    videosOpened: 0,
    decodeMs: 0,
    encodeMs: 0,
    prefillMs: 0,
    generateMs: 0,
  };
  unique: BenchItem[] = [];
  pending: BenchItem[] = [];
  finished = 0;
  aborted = false;
  /** When the files were open and the work was known (progress and wallMs count from here). */
  t0 = performance.now();
  firstItemAt: number | null = null;

  constructor(readonly options: RunEvalOptions) {
    const outFor = outputOf(options.out);
    for (const d of new Set(options.items.map((i) => i.dataset))) {
      const path = outFor(d);
      this.fileOf.set(d, path);
      if (!this.files.has(path)) this.files.set(path, { writer: null });
      this.stats.set(d, { name: d, items: 0, unique: 0, resumed: 0, resumedFailed: 0, predicted: 0, failed: 0 });
    }
  }

  /** The item's identity in this run: equal keys of datasets sharing a file are one item. */
  keyOf(item: Pick<BenchItem, "dataset" | "key">): RunKey {
    return `${this.fileOf.get(item.dataset)}\u0000${item.key}`;
  }

  private writerOf(item: BenchItem): PredictionWriter {
    return this.files.get(this.fileOf.get(item.dataset)!)!.writer!;
  }

  /** Step 1: the distinct items, in order (a repeated key runs once). */
  dedupe(): void {
    const seen = new Set<RunKey>();
    for (const it of this.options.items) {
      this.stats.get(it.dataset)!.items++;
      if (seen.has(this.keyOf(it))) continue;
      seen.add(this.keyOf(it));
      this.unique.push(it);
    }
  }

  /** Step 2: opens (locks, repairs) every prediction file and notes the keys already there. */
  async openFiles(): Promise<OpenedFiles> {
    const requested = new Set(this.unique.map((it) => this.keyOf(it)));
    const opened: OpenedFiles = { present: new Set(), presentEmpty: new Set(), repaired: [] };
    for (const [path, entry] of this.files) {
      const drop = this.options.retryFailed
        ? (r: ParsedPrediction) => r.answers === "" && requested.has(`${path}\u0000${r.key}`)
        : undefined;
      const { writer, opened: file } = await PredictionWriter.open(path, { drop });
      entry.writer = writer;
      if (file.truncatedBytes > 0) opened.repaired.push({ file: path, truncatedBytes: file.truncatedBytes });
      for (const r of file.records) {
        opened.present.add(`${path}\u0000${r.key}`);
        if (r.answers === "") opened.presentEmpty.add(`${path}\u0000${r.key}`);
      }
    }
    return opened;
  }

  /** Step 3: what is left to do after the items already in the files. */
  selectPending(opened: OpenedFiles): void {
    for (const it of this.unique) {
      const s = this.stats.get(it.dataset)!;
      s.unique++;
      const key = this.keyOf(it);
      if (!opened.present.has(key)) this.pending.push(it);
      else {
        s.resumed++;
        if (opened.presentEmpty.has(key)) s.resumedFailed++;
      }
    }
  }

  /** Step 4: the pending items by video, in first-appearance order. */
  groups(): BenchItem[][] {
    const groups = new Map<string, BenchItem[]>();
    for (const it of this.pending) {
      const g = `${it.dataset}\u0000${it.videoPath}`;
      const list = groups.get(g);
      if (list) list.push(it);
      else groups.set(g, [it]);
    }
    return [...groups.values()];
  }

  progress(current?: EvalProgress["current"]): void {
    if (!this.options.onProgress) return;
    const now = performance.now();
    const elapsedRun = this.firstItemAt === null ? 0 : now - this.firstItemAt;
    const rate = this.finished > 0 && elapsedRun > 0 ? (this.finished * 1000) / elapsedRun : null;
    const total = this.unique.length;
    const resumed = total - this.pending.length;
    const left = total - resumed - this.finished;
    this.options.onProgress({
      datasets: [...this.stats.values()].map((s) => ({
        name: s.name,
        total: s.unique,
        done: s.resumed + s.predicted,
        failed: s.failed,
      })),
      total,
      done: resumed + this.finished,
      resumed,
      failed: this.failures.length,
      elapsedMs: now - this.t0,
      queriesPerSecond: rate,
      etaMs: rate ? (left / rate) * 1000 : left === 0 ? 0 : null,
      current,
    });
  }

  /** Appends the item's line durably, then counts it. */
  async write(it: BenchItem, answer: string, spans: EvalAnswer["spans"] | null, failure?: EvalFailure): Promise<void> {
    const timestamps = referenceTimestamps(spans, Number(it.duration));
    const line = formatPredictionLine({
      video: it.videoName,
      query: it.query,
      gt: it.gt,
      timestamps,
      answers: answer,
      duration: it.duration,
    });
    await this.writerOf(it).append(line);
    const s = this.stats.get(it.dataset)!;
    s.predicted++;
    if (failure) {
      s.failed++;
      this.failures.push(failure);
    }
    this.finished++;
    this.options.onItem?.({ item: it, ok: !failure, line, answer, timestamps, failure });
  }

  /** Writes the empty answer the reference gives an item whose video cannot be read. */
  writeVideoFault(it: BenchItem, e: TimelensError): Promise<void> {
    return this.write(it, "", null, {
      dataset: it.dataset,
      videoId: it.videoId,
      videoPath: it.videoPath,
      query: it.query,
      key: it.key,
      code: e.code,
      message: e.message,
    });
  }

  /**
   * Decides what an error means for `items` (the failed one and the rest of its video):
   * video faults are written, an abort ends the run, anything else is rethrown (the run stops,
   * the items stay pending). Returns whether the run goes on.
   */
  async handleFailure(e: unknown, items: readonly BenchItem[]): Promise<boolean> {
    const kind = classifyFailure(e, this.options.signal);
    if (kind === "aborted") {
      this.aborted = true;
      return false;
    }
    if (kind === "infrastructure") throw e;
    for (const it of items) await this.writeVideoFault(it, e as TimelensError);
    this.progress();
    return true;
  }

  private addTimings(t: Partial<GroundTimings>): void {
    this.timings.decodeMs += t.decodeMs ?? 0;
    this.timings.encodeMs += t.encodeMs ?? 0;
    this.timings.prefillMs += t.prefillMs ?? 0;
    this.timings.generateMs += t.generateMs ?? 0;
  }

  private async openSession(first: BenchItem): Promise<EvalSessionLike> {
    const { grounder, sampling, signal, maxNewTokens } = this.options;
    const exists = await stat(first.videoPath).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!exists) {
      throw new TimelensError("ERR_FILE_NOT_FOUND", `Video not found: ${first.videoPath}`, { path: first.videoPath });
    }
    const session = await grounder.openVideo(first.videoPath, { ...sampling, signal, maxNewTokens });
    this.timings.videosOpened++;
    return session;
  }

  private ask(session: EvalSessionLike, it: BenchItem): Promise<EvalAnswer> {
    const { onProgress, onToken, signal, maxNewTokens } = this.options;
    const current = { dataset: it.dataset, videoId: it.videoId, query: it.query };
    return session.ground(it.query, {
      maxNewTokens,
      signal,
      onProgress: onProgress ? (stage) => this.progress({ ...current, stage }) : undefined,
      onToken: onToken ? (text) => onToken(text, it) : undefined,
    });
  }

  /** Step 5, per video: one session, its queries in order. Returns whether the run goes on. */
  async runVideo(group: readonly BenchItem[]): Promise<boolean> {
    const { signal } = this.options;
    const first = group[0];
    this.firstItemAt ??= performance.now();
    this.progress({ dataset: first.dataset, videoId: first.videoId, query: first.query });
    let session: EvalSessionLike;
    try {
      session = await this.openSession(first);
    } catch (e) {
      return this.handleFailure(e, group);
    }
    try {
      for (let i = 0; i < group.length; i++) {
        if (signal?.aborted) {
          this.aborted = true;
          return false;
        }
        const it = group[i];
        try {
          const r = await this.ask(session, it);
          this.addTimings(r.timings ?? {});
          await this.write(it, r.text, r.spans);
        } catch (e) {
          // A video fault fails the rest of this video's queries the same way.
          const goOn = await this.handleFailure(e, group.slice(i));
          if (!goOn) return false;
          break;
        }
        this.progress();
      }
    } finally {
      await session.close();
    }
    this.progress();
    return true;
  }

  /** Step 5: every video, unless aborted. */
  async runAll(): Promise<void> {
    const { grounder, signal, sampling, maxNewTokens, retryFailed } = this.options;
    this.t0 = performance.now();
    const groups = this.groups();
    if (grounder.prepare) {
      const plans = groups.map((g) => ({
        dataset: g[0].dataset,
        videoPath: g[0].videoPath,
        queries: g.map((it) => it.query),
      }));
      await grounder.prepare(plans, { ...sampling, maxNewTokens, retryFailed });
    }
    this.progress();
    for (const group of groups) {
      if (signal?.aborted) {
        this.aborted = true;
        break;
      }
      if (!(await this.runVideo(group))) break;
    }
    if (signal?.aborted) this.aborted = this.aborted || this.finished < this.pending.length;
    this.timings.wallMs = performance.now() - this.t0;
    this.timings.queries = this.finished;
    const runMs = this.firstItemAt === null ? 0 : performance.now() - this.firstItemAt;
    this.timings.queriesPerSecond = runMs > 0 ? (this.finished * 1000) / runMs : 0;
  }

  /** Closes every file (releasing its lock) even when one close fails; rethrows the first failure. */
  async closeFiles(): Promise<void> {
    let failure: unknown = null;
    for (const entry of this.files.values()) {
      const writer = entry.writer;
      entry.writer = null;
      await writer?.close().catch((e: unknown) => (failure ??= e));
    }
    if (failure !== null) throw failure;
  }

  /** Step 6: scores each dataset from its file (what the reference would read). */
  async score(): Promise<EvalDatasetReport[]> {
    const datasets: EvalDatasetReport[] = [];
    for (const s of this.stats.values()) {
      const file = this.fileOf.get(s.name)!;
      const keys = new Set(this.unique.filter((it) => it.dataset === s.name).map((it) => it.key));
      const { records } = await readPredictions(file);
      const score = scorePredictions(records.filter((r) => keys.has(r.key)));
      datasets.push({ ...s, file, remaining: s.unique - s.resumed - s.predicted, score });
    }
    return datasets;
  }
}

/** Runs the items; see the module comment. */
export async function runEval(options: RunEvalOptions): Promise<EvalReport> {
  const run = new EvalRun(options);
  try {
    run.dedupe();
    const opened = await run.openFiles();
    run.selectPending(opened);
    await run.runAll();
    await run.closeFiles();
    const datasets = await run.score();
    return { datasets, failures: run.failures, timings: run.timings, aborted: run.aborted, repaired: opened.repaired };
  } finally {
    await run.closeFiles().catch(() => {});
  }
}

async function readPredictions(file: string): Promise<{ records: ParsedPrediction[] }> {
  const text = await readFile(file, "utf8").catch(() => "");
  return { records: parsePredictionFile(text).records };
}
