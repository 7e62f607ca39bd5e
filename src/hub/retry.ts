/** Backoff for transient failures, cancellable by an AbortSignal. */
import { AbortError } from "../errors";

/** Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped at 30 s. */
export function backoffMs(attempt: number, baseMs: number): number {
  return Math.min(30_000, baseMs * 2 ** Math.max(0, attempt - 1));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError("Aborted while waiting to retry", { stage: "download" }));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError("Aborted while waiting to retry", { stage: "download" }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A fetch whose requests all end when `signal` fires (the library takes a custom fetch and passes no signal of its
 * own).
 */
export function fetchWithSignal(signal: AbortSignal | undefined): typeof fetch {
  if (!signal) return fetch;
  return (input, init) => fetch(input, { ...init, signal });
}
