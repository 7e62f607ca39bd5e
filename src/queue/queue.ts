/**
 * The producer side of the grounding queue: enqueue jobs (idempotently, by content id), wait
 * for their outcome, subscribe to results. See docs/queue.md.
 *
 * Waiting uses BullMQ's QueueEvents for promptness and re-reads the job's state from Redis on a
 * timer as well, so an event lost to a Redis restart, or a job lost with Redis' data, never
 * leaves a waiter hanging: a job that is gone is enqueued again.
 */
import { Queue, QueueEvents, type JobsOptions } from "bullmq";
import { AbortError, TimelensError } from "../errors";
import type { GroundingResult } from "../types";
import { DEFAULT_QUEUE_NAME, connectionFor, type RedisTarget } from "./connection";
import {
  errorFromReason,
  groundingJobId,
  validateJobData,
  type GroundingJobData,
  type GroundingJobOptions,
  type GroundingJobResult,
} from "./job";

export interface GroundingQueueOptions {
  /** Redis URL (redis://host:6379/0) or BullMQ connection options. */
  redis: RedisTarget;
  /** Queue name (default "timelens"); workers must use the same. */
  name?: string;
  /** Key prefix in Redis (default BullMQ's, "bull"). */
  prefix?: string;
  /** Tries per job before it fails for good (default 3). */
  attempts?: number;
  /** First retry delay in ms, doubled each retry (default 1000). */
  backoffMs?: number;
  /** How often a waiter re-reads job states besides listening to events, ms (default 2000). */
  pollMs?: number;
}

export interface AddJobOptions {
  /** Separates equal work that must stay apart (eval: the dataset name). */
  scope?: string;
  /** Re-run a job that failed for good (its failure is dropped). */
  retryFailed?: boolean;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Called when the job reports progress. */
  onProgress?: (progress: unknown) => void;
}

/** A finished job as subscribers see it: a result, or the typed error from its failure reason. */
export type JobOutcome =
  | { jobId: string; ok: true; result: GroundingJobResult }
  | { jobId: string; ok: false; error: TimelensError };

export interface GroundingQueue {
  readonly name: string;
  /** The BullMQ objects, for what this wrapper does not cover (dashboards, cleaning). */
  readonly queue: Queue<GroundingJobData, GroundingJobResult>;
  readonly events: QueueEvents;
  /** Enqueues a job unless one with its id exists; resolves with the id. */
  add(data: GroundingJobData, options?: AddJobOptions): Promise<string>;
  /** Waits for a job to finish: its result, or the typed error it failed with. */
  result(jobId: string, options?: WaitOptions): Promise<GroundingJobResult>;
  /** add() then result(): the GroundingResult of each query, in order. */
  ground(
    video: string,
    queries: readonly string[],
    options?: GroundingJobOptions & WaitOptions & { model?: string },
  ): Promise<GroundingResult[]>;
  /** Calls `handler` for every job of the queue that finishes (any producer's); returns an unsubscribe function. */
  subscribe(handler: (outcome: JobOutcome) => void): () => void;
  close(): Promise<void>;
}

export function createGroundingQueue(options: GroundingQueueOptions): GroundingQueue {
  const name = options.name ?? DEFAULT_QUEUE_NAME;
  const connection = connectionFor(options.redis);
  const defaultJobOptions: JobsOptions = {
    attempts: options.attempts ?? 3,
    backoff: { type: "exponential", delay: options.backoffMs ?? 1000 },
  };
  const prefix = options.prefix !== undefined ? { prefix: options.prefix } : {};
  const queue = new Queue<GroundingJobData, GroundingJobResult>(name, { connection, ...prefix, defaultJobOptions });
  const events = new QueueEvents(name, { connection, ...prefix });
  const pollMs = options.pollMs ?? 2000;
  // Errors (Redis away) are reported by the commands that wait on it; do not crash on the emitter.
  queue.on("error", () => {});
  events.on("error", () => {});

  const known = new Map<string, { data: GroundingJobData; options: AddJobOptions }>();
  const wakers = new Map<string, Set<() => void>>();
  const wake = (jobId: string): void => {
    for (const w of wakers.get(jobId) ?? []) w();
  };
  events.on("completed", ({ jobId }) => wake(jobId));
  events.on("failed", ({ jobId }) => wake(jobId));

  const enqueue = async (id: string, data: GroundingJobData): Promise<void> => {
    await queue.add("ground", data, { jobId: id });
  };

  const add = async (data: GroundingJobData, addOptions: AddJobOptions = {}): Promise<string> => {
    const clean = validateJobData(data);
    const id = groundingJobId(clean, addOptions.scope);
    known.set(id, { data: clean, options: addOptions });
    const existing = await queue.getJob(id);
    if (!existing) await enqueue(id, clean);
    else if (addOptions.retryFailed && (await existing.getState()) === "failed") await existing.retry("failed");
    return id;
  };

  const result = async (jobId: string, waitOptions: WaitOptions = {}): Promise<GroundingJobResult> => {
    const { signal, onProgress } = waitOptions;
    const onJobProgress = ({ jobId: id, data }: { jobId: string; data: unknown }): void => {
      if (id === jobId) onProgress?.(data);
    };
    if (onProgress) events.on("progress", onJobProgress);
    let wakeUp: (() => void) | null = null;
    const set = wakers.get(jobId) ?? new Set();
    wakers.set(jobId, set);
    const waker = (): void => wakeUp?.();
    set.add(waker);
    try {
      for (;;) {
        if (signal?.aborted) throw new AbortError("Aborted while waiting for a grounding job", { jobId });
        const job = await queue.getJob(jobId);
        if (!job) {
          const again = known.get(jobId);
          if (!again) throw new TimelensError("ERR_QUEUE", `No grounding job ${jobId} in the queue`, { jobId });
          await enqueue(jobId, again.data); // Redis lost it (restarted without persistence): do it again
        } else {
          const state = await job.getState();
          // The state is read after the job: read the job again for the outcome that state has.
          const done = state === "completed" || state === "failed" ? ((await queue.getJob(jobId)) ?? job) : job;
          if (state === "completed") return done.returnvalue;
          if (state === "failed") throw errorFromReason(done.failedReason, { jobId, attempts: done.attemptsMade });
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, pollMs);
          function done(): void {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            wakeUp = null;
            resolve();
          }
          wakeUp = done;
          signal?.addEventListener("abort", done, { once: true });
        });
      }
    } finally {
      set.delete(waker);
      if (set.size === 0) wakers.delete(jobId);
      if (onProgress) events.off("progress", onJobProgress);
    }
  };

  return {
    name,
    queue,
    events,
    add,
    result,
    async ground(video, queries, groundOptions = {}) {
      const { signal, onProgress, model, ...jobOptions } = groundOptions;
      const id = await add({ video, queries: [...queries], options: jobOptions, model });
      return (await result(id, { signal, onProgress })).results;
    },
    subscribe(handler) {
      const onCompleted = ({ jobId }: { jobId: string }): void => {
        void queue.getJob(jobId).then(
          (job) => job && handler({ jobId, ok: true, result: job.returnvalue }),
          () => {},
        );
      };
      const onFailed = ({ jobId, failedReason }: { jobId: string; failedReason: string }): void => {
        void queue.getJob(jobId).then(
          async (job) => {
            // A failed attempt that will be retried is not an outcome yet.
            if (job && (await job.getState()) === "failed")
              handler({
                jobId,
                ok: false,
                error: errorFromReason(failedReason, { jobId, attempts: job.attemptsMade }),
              });
          },
          () => {},
        );
      };
      events.on("completed", onCompleted);
      events.on("failed", onFailed);
      return () => {
        events.off("completed", onCompleted);
        events.off("failed", onFailed);
      };
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}
