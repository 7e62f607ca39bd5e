/**
 * `timelens eval --redis`: the eval runner as a producer. This stands in for the Grounder in
 * runEval: prepare() enqueues one job per video (all its pending queries) before the run
 * starts, so every worker has work at once; openVideo() then waits for that video's job and
 * hands runEval the answers in order. runEval itself writes the lines, so the files, their
 * order, resuming and the summary are those of a local run (docs/queue.md).
 */
import { stat } from "node:fs/promises";
import { TimelensError } from "../errors";
import type { OpenVideoOptions } from "../session";
import type { EvalGrounderLike, EvalSessionLike, EvalVideoPlan } from "../eval/run";
import type { GroundingResult } from "../types";
import type { GroundingJobOptions } from "./job";
import type { GroundingQueue } from "./queue";

export interface QueueGrounderOptions {
  /** The model pair the answers must come from (modelIdentity()), or undefined for any worker's. */
  model?: string;
  /** Told each job as it is enqueued or found already there. */
  onJob?: (e: { jobId: string; video: string; queries: number }) => void;
}

function jobOptionsOf(o: OpenVideoOptions): GroundingJobOptions {
  const { fps, minTokens, totalTokens, minFrames, maxFrames, nframes, start, end, timestampFormat, maxNewTokens } = o;
  return { fps, minTokens, totalTokens, minFrames, maxFrames, nframes, start, end, timestampFormat, maxNewTokens };
}

/** An answered job seen as a video session: ground(query) returns the next result. */
class AnsweredSession implements EvalSessionLike {
  private next = 0;
  constructor(
    private readonly jobId: string,
    private readonly queries: readonly string[],
    private readonly results: readonly GroundingResult[],
  ) {}

  async ground(query: string): Promise<GroundingResult> {
    const i = this.next++;
    if (this.queries[i] !== query || !this.results[i]) {
      throw new TimelensError("ERR_STATE_INVALID", `Job ${this.jobId} has no answer #${i} for "${query}"`, {
        jobId: this.jobId,
        index: i,
      });
    }
    return this.results[i];
  }

  async close(): Promise<void> {}
}

export class QueueGrounder implements EvalGrounderLike {
  /** Jobs by video path, in the order runEval will open them. */
  private readonly jobs = new Map<string, Array<{ jobId: string; queries: string[] }>>();

  constructor(
    private readonly queue: GroundingQueue,
    private readonly options: QueueGrounderOptions = {},
  ) {}

  async prepare(videos: EvalVideoPlan[], options: OpenVideoOptions & { retryFailed?: boolean }): Promise<void> {
    const jobOptions = jobOptionsOf(options);
    for (const v of videos) {
      // runEval scores a video it cannot see as missing without opening it: no job for that one.
      if (
        !(await stat(v.videoPath).then(
          (s) => s.isFile(),
          () => false,
        ))
      )
        continue;
      const jobId = await this.queue.add(
        { video: v.videoPath, queries: v.queries, options: jobOptions, model: this.options.model },
        { scope: v.dataset, retryFailed: options.retryFailed },
      );
      this.options.onJob?.({ jobId, video: v.videoPath, queries: v.queries.length });
      const list = this.jobs.get(v.videoPath) ?? [];
      list.push({ jobId, queries: v.queries });
      this.jobs.set(v.videoPath, list);
    }
  }

  async openVideo(path: string, options: OpenVideoOptions = {}): Promise<EvalSessionLike> {
    const job = this.jobs.get(path)?.shift();
    if (!job) throw new TimelensError("ERR_STATE_INVALID", `No job was prepared for ${path}`, { path });
    const { results } = await this.queue.result(job.jobId, { signal: options.signal });
    return new AnsweredSession(job.jobId, job.queries, results);
  }
}
