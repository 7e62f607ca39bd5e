/**
 * The consumer side: a BullMQ worker that answers grounding jobs with one loaded Grounder.
 * See docs/queue.md for the guarantees (stalled jobs, retries, shutdown).
 *
 * - Job data is checked first (anyone can enqueue); bad data fails the job at once
 *   (UnrecoverableError, no retries) and the worker goes on.
 * - A job's queries run one after another on one video session, exactly as `timelens eval`
 *   runs them locally, so the answers are the same bytes. The last sessions stay open, so a
 *   following job on the same video (same sampling) reuses its prefix.
 * - Any other error fails the attempt with "<code>: <message>" as the failure reason; BullMQ
 *   retries with backoff up to the job's attempts.
 * - close(): stops taking jobs and waits for the running ones; close({ returnJobs: true })
 *   aborts them and puts them back in the queue for another worker.
 */
import { stat } from "node:fs/promises";
import { hostname } from "node:os";
import { UnrecoverableError, WaitingError, Worker, type Job } from "bullmq";
import { TimelensError } from "../errors";
import { classifyFailure, workerDisposition } from "../eval/failure";
import type { OpenVideoOptions } from "../session";
import type { GroundingResult, GroundProgress, QueryOptions } from "../types";
import { DEFAULT_QUEUE_NAME, connectionFor, type RedisTarget } from "./connection";
import {
  canonicalOptions,
  failureReason,
  validateJobData,
  type GroundingJobData,
  type GroundingJobOptions,
  type GroundingJobProgress,
  type GroundingJobResult,
} from "./job";

/** What the worker needs of a session (VideoSession satisfies it). */
export interface WorkerSessionLike {
  ground(query: string, options?: QueryOptions): Promise<GroundingResult>;
  close(): Promise<void>;
}

/** What the worker needs of a model (Grounder satisfies it). */
export interface WorkerGrounderLike {
  openVideo(path: string, options?: OpenVideoOptions): Promise<WorkerSessionLike>;
}

export interface GroundingWorkerOptions {
  grounder: WorkerGrounderLike;
  redis: RedisTarget;
  /** Queue name (default "timelens"). */
  name?: string;
  prefix?: string;
  /** Jobs in flight at once (default 1; the model runs one at a time, more only overlaps I/O). */
  concurrency?: number;
  /** Only videos under these folders are accepted (default: any path). */
  allowRoots?: readonly string[];
  /** This worker's model pair (modelIdentity()); jobs asking for another pair are rejected. */
  modelIdentity?: string;
  /** The worker's name on the jobs it takes (default host:pid). */
  workerName?: string;
  /** Lock time of a running job, ms; a dead worker's job is taken back after it (default 30000). */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for, ms (default 30000). */
  stalledIntervalMs?: number;
  /** Times a job may stall (its worker died) before it fails (default 1). */
  maxStalledCount?: number;
  /** Open sessions kept for following jobs on the same video (default 1). */
  keepSessions?: number;
  /** Told about each job start, end and failure. */
  onLog?: (message: string) => void;
}

export interface GroundingWorker {
  readonly worker: Worker<GroundingJobData, GroundingJobResult>;
  /** Resolves once connected to Redis. */
  ready(): Promise<void>;
  /** Stops; see the module comment. Closes the kept sessions, not the grounder. */
  close(options?: { returnJobs?: boolean }): Promise<void>;
}

interface PooledSession {
  key: string;
  session: Promise<WorkerSessionLike>;
  users: number;
}

/** Open sessions by (video, sampling), most recently used last; only idle ones are closed. */
class SessionPool {
  private readonly entries: PooledSession[] = [];
  constructor(private readonly keep: number) {}

  async acquire(key: string, open: () => Promise<WorkerSessionLike>): Promise<PooledSession> {
    let entry = this.entries.find((e) => e.key === key);
    if (entry) this.entries.splice(this.entries.indexOf(entry), 1);
    else entry = { key, session: open(), users: 0 };
    entry.users++;
    this.entries.push(entry);
    try {
      await entry.session;
    } catch (e) {
      this.release(entry, true);
      throw e;
    }
    return entry;
  }

  release(entry: PooledSession, broken = false): void {
    entry.users--;
    if (broken) {
      const at = this.entries.indexOf(entry);
      if (at >= 0) this.entries.splice(at, 1);
      if (entry.users === 0)
        void entry.session.then(
          (s) => s.close(),
          () => {},
        );
    }
    this.trim();
  }

  private trim(): void {
    while (this.entries.length > this.keep) {
      const idle = this.entries.findIndex((e) => e.users === 0);
      if (idle < 0) return;
      const [gone] = this.entries.splice(idle, 1);
      void gone.session.then(
        (s) => s.close(),
        () => {},
      );
    }
  }

  async closeAll(): Promise<void> {
    const all = this.entries.splice(0);
    await Promise.all(
      all.map((e) =>
        e.session.then(
          (s) => s.close(),
          () => {},
        ),
      ),
    );
  }
}

function frameSamplingOf(o: GroundingJobOptions): OpenVideoOptions {
  return {
    fps: o.fps,
    minTokens: o.minTokens,
    totalTokens: o.totalTokens,
    minFrames: o.minFrames,
    maxFrames: o.maxFrames,
    nframes: o.nframes,
    start: o.start,
    end: o.end,
    timestampFormat: o.timestampFormat,
  };
}

export function createGroundingWorker(options: GroundingWorkerOptions): GroundingWorker {
  const { grounder } = options;
  const log = options.onLog ?? (() => {});
  const workerName = options.workerName ?? `${hostname()}:${process.pid}`;
  const pool = new SessionPool(Math.max(1, options.keepSessions ?? 1));
  const shutdown = new AbortController();

  const answer = async (
    job: Job<GroundingJobData, GroundingJobResult>,
    token: string | undefined,
    jobSignal?: AbortSignal,
  ): Promise<GroundingJobResult> => {
    let data: GroundingJobData;
    try {
      data = validateJobData(job.data, options.allowRoots);
      if (data.model !== undefined && options.modelIdentity !== undefined && data.model !== options.modelIdentity) {
        throw new TimelensError(
          "ERR_INVALID_ARGUMENT",
          `Bad grounding job: it asks for model ${data.model}, this worker runs ${options.modelIdentity}; ` +
            "use one queue per model pair",
          { model: data.model },
        );
      }
    } catch (e) {
      log(`job ${job.id}: rejected: ${(e as Error).message}`);
      throw new UnrecoverableError(failureReason(e));
    }
    const signal = jobSignal ? AbortSignal.any([jobSignal, shutdown.signal]) : shutdown.signal;
    const o = canonicalOptions(data.options);
    const sampling = frameSamplingOf(o);
    const total = data.queries.length;
    let lastReport = 0;
    const report = (p: GroundingJobProgress, force = false): void => {
      const now = performance.now();
      if (!force && now - lastReport < 500) return;
      lastReport = now;
      // Not awaited: while Redis is away the answer goes on; BullMQ sends it when it is back.
      job.updateProgress(p as never).catch(() => {});
    };
    log(`job ${job.id}: ${data.video}, ${total} queries (attempt ${job.attemptsMade + 1})`);
    let entry: PooledSession | null = null;
    let broken = false;
    try {
      const exists = await stat(data.video).then(
        (s) => s.isFile(),
        () => false,
      );
      if (!exists)
        throw new TimelensError("ERR_FILE_NOT_FOUND", `Video not found: ${data.video}`, { path: data.video });
      entry = await pool.acquire(JSON.stringify([data.video, sampling]), () =>
        grounder.openVideo(data.video, { ...sampling, maxNewTokens: o.maxNewTokens, signal }),
      );
      const session = await entry.session;
      const results: GroundingResult[] = [];
      for (const query of data.queries) {
        const r = await session.ground(query, {
          maxNewTokens: o.maxNewTokens,
          temperature: o.temperature,
          topK: o.topK,
          topP: o.topP,
          seed: o.seed,
          signal,
          onProgress: (s: GroundProgress) =>
            report({ done: results.length, total, stage: s.stage, stageDone: s.done, stageTotal: s.total }),
        });
        results.push(r);
        report({ done: results.length, total }, true);
      }
      log(`job ${job.id}: done`);
      return { results, worker: workerName };
    } catch (e) {
      broken = true;
      if (shutdown.signal.aborted && token) {
        // Shutting down: hand the job back for another worker, without spending an attempt.
        await job.moveToWait(token);
        log(`job ${job.id}: returned to the queue`);
        throw new WaitingError();
      }
      // Classified as eval classifies it (src/eval/failure.ts), so both sides agree on the item.
      log(`job ${job.id}: failed (${classifyFailure(e, signal)}): ${failureReason(e)}`);
      if (workerDisposition(e) === "permanent") throw new UnrecoverableError(failureReason(e));
      throw new Error(failureReason(e));
    } finally {
      if (entry) pool.release(entry, broken);
    }
  };

  const worker = new Worker<GroundingJobData, GroundingJobResult>(options.name ?? DEFAULT_QUEUE_NAME, answer, {
    connection: connectionFor(options.redis),
    ...(options.prefix !== undefined && { prefix: options.prefix }),
    name: workerName,
    concurrency: options.concurrency ?? 1,
    // Only the ones given: an explicit undefined would replace BullMQ's default.
    ...(options.lockDurationMs !== undefined && { lockDuration: options.lockDurationMs }),
    ...(options.stalledIntervalMs !== undefined && { stalledInterval: options.stalledIntervalMs }),
    ...(options.maxStalledCount !== undefined && { maxStalledCount: options.maxStalledCount }),
    autorun: true,
  });
  // Connection errors are retried by ioredis; reporting them is enough.
  worker.on("error", (e) => log(`redis: ${(e as Error).message}`));

  return {
    worker,
    ready: () => worker.waitUntilReady().then(() => undefined),
    async close(closeOptions = {}) {
      if (closeOptions.returnJobs) shutdown.abort();
      await worker.close();
      await pool.closeAll();
    },
  };
}
