/**
 * The grounding job: what goes on the queue, what comes back, its id, how its data is checked
 * and how a typed error travels through BullMQ's failure reason. Pure; see docs/queue.md.
 */
import { createHash } from "node:crypto";
import { isAbsolute, relative, resolve } from "node:path";
import { TimelensError, isTimelensError, type ErrorCode } from "../errors";
import type { GroundingResult, FrameSamplingOptions } from "../types";

/** How a job's video is sampled and answered; every field optional (default: the model profile's). */
export interface GroundingJobOptions extends FrameSamplingOptions {
  /** Answer length cap (default: the profile's, 512). */
  maxNewTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

/** One job: every query of one video, answered on one video session. */
export interface GroundingJobData {
  /** Path of the video as the worker's machine sees it. */
  video: string;
  /** Non-empty query strings, answered in this order. */
  queries: string[];
  options?: GroundingJobOptions;
  /**
   * The model pair the answers must come from (modelIdentity()); a worker running another pair
   * rejects the job. Omitted: any worker on the queue may answer.
   */
  model?: string;
}

/** A finished job: one GroundingResult per query, in the order of `queries`. */
export interface GroundingJobResult {
  results: GroundingResult[];
  /** The worker that answered (its BullMQ name). */
  worker: string;
}

/** Progress a worker reports on the job while it runs. */
export interface GroundingJobProgress {
  /** Queries finished. */
  done: number;
  total: number;
  /** The stage of the query being answered. */
  stage?: string;
  stageDone?: number;
  stageTotal?: number;
}

const NUMBER_OPTIONS = [
  "fps",
  "minTokens",
  "totalTokens",
  "minFrames",
  "maxFrames",
  "nframes",
  "start",
  "end",
  "maxNewTokens",
  "temperature",
  "topK",
  "topP",
  "seed",
] as const;
const STRING_OPTIONS = ["timestampFormat"] as const;
const OPTION_KEYS: ReadonlySet<string> = new Set<string>([...NUMBER_OPTIONS, ...STRING_OPTIONS]);

/** Options with their keys sorted and undefined fields left out: one spelling per meaning. */
export function canonicalOptions(options: GroundingJobOptions | undefined): GroundingJobOptions {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(options ?? {}).sort()) {
    const v = (options as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out as GroundingJobOptions;
}

/**
 * The job id: a hash of everything the answers depend on, so enqueueing the same work twice
 * finds the first job (BullMQ ignores an add whose id exists). `scope` separates equal videos
 * and queries of different datasets. Ids hold no ':' (BullMQ's key separator).
 */
export function groundingJobId(data: GroundingJobData, scope = ""): string {
  const canonical = JSON.stringify([
    scope,
    data.video,
    data.queries,
    data.model ?? null,
    canonicalOptions(data.options),
  ]);
  return `tl-${createHash("sha256").update(canonical).digest("hex").slice(0, 40)}`;
}

function bad(message: string, details: Record<string, unknown> = {}): TimelensError {
  return new TimelensError("ERR_INVALID_ARGUMENT", `Bad grounding job: ${message}`, details);
}

/** Inside one of `roots` (after resolving `..`); roots are compared as given (real paths are the caller's). */
export function isInsideRoots(path: string, roots: readonly string[]): boolean {
  const p = resolve(path);
  return roots.some((root) => {
    const rel = relative(resolve(root), p);
    return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
  });
}

/**
 * Checks job data from the queue (anyone can enqueue anything): the fields, their types, and,
 * when `allowRoots` is given, that the video lies under one of them. Throws ERR_INVALID_ARGUMENT.
 */
export function validateJobData(data: unknown, allowRoots?: readonly string[]): GroundingJobData {
  if (data === null || typeof data !== "object" || Array.isArray(data))
    throw bad("the data must be an object { video, queries, options }");
  const d = data as Record<string, unknown>;
  if (typeof d.video !== "string" || d.video.trim() === "")
    throw bad("`video` must be a non-empty path string", { video: d.video });
  if (!Array.isArray(d.queries) || d.queries.length === 0) throw bad("`queries` must be a non-empty array of strings");
  d.queries.forEach((q, i) => {
    if (typeof q !== "string" || q.trim() === "") throw bad(`queries[${i}] must be a non-empty string`, { index: i });
  });
  if (d.model !== undefined && typeof d.model !== "string") throw bad("`model` must be a string when given");
  if (d.options !== undefined) {
    if (d.options === null || typeof d.options !== "object" || Array.isArray(d.options))
      throw bad("`options` must be an object when given");
    for (const [k, v] of Object.entries(d.options as Record<string, unknown>)) {
      if (!OPTION_KEYS.has(k)) throw bad(`unknown option "${k}"`, { option: k });
      if (v === undefined) continue;
      if ((NUMBER_OPTIONS as readonly string[]).includes(k) && (typeof v !== "number" || !Number.isFinite(v)))
        throw bad(`option ${k} must be a finite number`, { option: k });
      if ((STRING_OPTIONS as readonly string[]).includes(k) && typeof v !== "string")
        throw bad(`option ${k} must be a string`, { option: k });
    }
  }
  if (allowRoots && !isInsideRoots(d.video, allowRoots))
    throw bad(`the video ${d.video} is outside the allowed roots (${allowRoots.join(", ")})`, {
      video: d.video,
      allowRoots: [...allowRoots],
    });
  return {
    video: d.video,
    queries: [...(d.queries as string[])],
    options: d.options as GroundingJobOptions | undefined,
    model: d.model as string | undefined,
  };
}

const REASON = /^(ERR_[A-Z0-9_]+): ([\s\S]*)$/;

/** The failure reason a worker leaves on a job: "<code>: <message>". */
export function failureReason(e: unknown): string {
  if (isTimelensError(e)) return `${e.code}: ${e.message}`;
  return `ERR_QUEUE: ${(e as Error)?.message ?? String(e)}`;
}

/**
 * The typed error back from a failed job's reason. A reason without our code (BullMQ's own,
 * e.g. "job stalled more than allowable limit") is ERR_QUEUE: infrastructure, not the video.
 */
export function errorFromReason(reason: string | undefined, details: Record<string, unknown> = {}): TimelensError {
  const m = REASON.exec(reason ?? "");
  if (m) return new TimelensError(m[1] as ErrorCode, m[2], details);
  return new TimelensError("ERR_QUEUE", `The grounding job failed: ${reason ?? "no reason given"}`, details);
}
