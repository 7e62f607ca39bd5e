/**
 * The event-stream form of one grounding call, shared by Grounder.stream and streamSession:
 * progress and tokens as they happen, then the result. Leaving the loop early cancels the call.
 */
import { eventStream } from "../util/event-stream";
import type { GroundEvent, GroundingResult, GroundProgress } from "../types";

/** What a call needs to report into the stream. */
export interface EventHooks {
  signal: AbortSignal;
  onProgress: (progress: GroundProgress) => void;
  onToken: (text: string, token: number) => void;
}

/** Runs `run` with hooks that feed the stream; `signal` (the caller's) also cancels it. */
export function groundEvents(
  run: (hooks: EventHooks) => Promise<GroundingResult>,
  signal?: AbortSignal,
): AsyncIterable<GroundEvent> {
  return eventStream<GroundEvent, GroundingResult>(
    (emit, stop) =>
      run({
        signal: signal ? AbortSignal.any([signal, stop]) : stop,
        onProgress: (progress) => emit({ type: "progress", progress }),
        onToken: (text, token) => emit({ type: "token", text, token }),
      }),
    (result) => ({ type: "result", result }),
  );
}
