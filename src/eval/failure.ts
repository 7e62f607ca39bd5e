/**
 * What a failed item means, for `timelens eval` (src/eval/run.ts) and the queue worker
 * (src/queue/worker.ts) alike (docs/queue.md#failures):
 *
 * - "video": the video itself cannot be turned into frames (missing, unreadable, too short,
 *   an aspect ratio the vision encoder refuses). The reference scores such an item as an
 *   unparseable answer ([duration + 10, duration + 20], IoU 0), so eval writes an empty answer,
 *   and every other query of that video would fail the same way. A retry cannot fix it.
 * - "aborted": the run was cancelled; the item stays pending.
 * - "infrastructure": everything else (ERR_NATIVE, ERR_STATE_INVALID, ERR_CONTEXT_OVERFLOW,
 *   out of memory, a lost queue, a bad option, a bug). It says nothing about the item, so it
 *   must never be scored: eval stops with the item pending, the worker lets BullMQ retry.
 */
import { isTimelensError, type ErrorCode } from "../errors";

export type FailureKind = "video" | "aborted" | "infrastructure";

/** The codes the reference would score as an unparseable answer: the video file's own faults. */
export const VIDEO_FAULT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "ERR_FILE_NOT_FOUND",
  "ERR_VIDEO_UNREADABLE",
  "ERR_VIDEO_TOO_SHORT",
  "ERR_VIDEO_ASPECT",
]);

/** Out-of-memory messages from V8, the C++ runtime and ggml's allocators. */
const OUT_OF_MEMORY = /out of memory|bad_alloc|failed to allocate|cannot allocate|ENOMEM/i;

export function isOutOfMemory(e: unknown): boolean {
  return e instanceof Error && OUT_OF_MEMORY.test(e.message);
}

/** Classifies an error thrown while answering an item (see the module comment). */
export function classifyFailure(e: unknown, signal?: AbortSignal): FailureKind {
  if (isTimelensError(e, "ERR_ABORTED")) return "aborted";
  if (signal?.aborted === true && (e as Error)?.name === "AbortError") return "aborted";
  // An out-of-memory error with a video code is still the machine's fault, not the video's.
  if (isTimelensError(e) && VIDEO_FAULT_CODES.has(e.code) && !isOutOfMemory(e)) return "video";
  return "infrastructure";
}

/**
 * What a queue worker does with a failed attempt, by the same classes: bad job data
 * (ERR_INVALID_ARGUMENT) fails at once, no attempt can fix it; a video fault and an
 * infrastructure error are retried up to the job's attempts (on shared storage a video may
 * still be arriving; a device may recover). The final failure carries the code to the
 * producer, whose runEval classifies it again: a video fault is scored, anything else stops.
 */
export function workerDisposition(e: unknown): "permanent" | "retry" {
  return isTimelensError(e, "ERR_INVALID_ARGUMENT") ? "permanent" : "retry";
}
