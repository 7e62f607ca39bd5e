/** Redis connection settings shared by the queue, its events and the worker (docs/queue.md). */
import type { ConnectionOptions } from "bullmq";
import { TimelensError } from "../errors";

/** A redis:// or rediss:// URL, or BullMQ connection options (ioredis options or a client). */
export type RedisTarget = string | ConnectionOptions;

/** The default queue name. */
export const DEFAULT_QUEUE_NAME = "timelens";

/**
 * BullMQ connection options for `target`. A URL gets `maxRetriesPerRequest: null`, so a command
 * issued while Redis is away waits for the reconnect instead of failing: a restarted Redis
 * costs a pause, not the run (ioredis reconnects on its own, with backoff).
 */
export function connectionFor(target: RedisTarget): ConnectionOptions {
  if (typeof target !== "string") return target;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new TimelensError("ERR_INVALID_ARGUMENT", `Not a Redis URL: "${target}" (expected redis://host:6379/0)`, {
      redis: target,
    });
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new TimelensError("ERR_INVALID_ARGUMENT", `A Redis URL starts with redis:// or rediss://, got "${target}"`, {
      redis: target,
    });
  }
  return { url: target, maxRetriesPerRequest: null };
}
