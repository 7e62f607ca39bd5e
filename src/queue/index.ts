/** timelens-native/queue: grounding jobs on BullMQ + Redis (docs/queue.md). */
import { sampledFileHash } from "../cache/prefix-cache";

export { createGroundingQueue } from "./queue";
export type { GroundingQueue, GroundingQueueOptions, AddJobOptions, WaitOptions, JobOutcome } from "./queue";
export { createGroundingWorker } from "./worker";
export type { GroundingWorker, GroundingWorkerOptions, WorkerGrounderLike, WorkerSessionLike } from "./worker";
export { groundingJobId, validateJobData, failureReason, errorFromReason, canonicalOptions } from "./job";
export type { GroundingJobData, GroundingJobOptions, GroundingJobResult, GroundingJobProgress } from "./job";
export { DEFAULT_QUEUE_NAME, connectionFor } from "./connection";
export type { RedisTarget } from "./connection";

/** A model pair's identity for job data: sampled hashes of both files (equal files, equal identity, on any machine). */
export async function modelIdentity(model: string, mmproj: string): Promise<string> {
  const [a, b] = await Promise.all([sampledFileHash(model), sampledFileHash(mmproj)]);
  return `${a.slice(0, 16)}:${b.slice(0, 16)}`;
}
