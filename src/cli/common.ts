/** Shared CLI plumbing: exit codes, error printing, option parsing helpers. */
import { isTimelensError, type ErrorCode } from "../errors";

export const EXIT = { ok: 0, usage: 1, input: 2, model: 3, aborted: 130 } as const;

export class UsageError extends Error {}

const INPUT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "ERR_INVALID_ARGUMENT",
  "ERR_FFMPEG_NOT_FOUND",
  "ERR_VIDEO_UNREADABLE",
  "ERR_VIDEO_TOO_SHORT",
  "ERR_VIDEO_ASPECT",
  "ERR_CLIP_RANGE",
  "ERR_CONTEXT_OVERFLOW",
]);

/** Prints an error on stderr and returns the exit code it maps to. */
export function reportError(e: unknown, json: boolean): number {
  let code: number = EXIT.model;
  let payload: Record<string, unknown>;
  if (e instanceof UsageError) {
    code = EXIT.usage;
    payload = { code: "ERR_USAGE", message: e.message };
  } else if (isTimelensError(e)) {
    if (e.code === "ERR_ABORTED") code = EXIT.aborted;
    else if (INPUT_CODES.has(e.code)) code = EXIT.input;
    else if (e.code === "ERR_FILE_NOT_FOUND") code = e.details.kind === "gguf" ? EXIT.model : EXIT.input;
    payload = { code: e.code, message: e.message, details: e.details };
  } else {
    payload = { code: "ERR_INTERNAL", message: (e as Error)?.stack ?? String(e) };
  }
  if (json) process.stderr.write(`${JSON.stringify({ error: payload })}\n`);
  else
    process.stderr.write(
      `timelens: ${payload.message}${e instanceof UsageError ? "\nRun `timelens --help` for usage." : ""}\n`,
    );
  return code;
}

export function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
  return n;
}

/** Longest wait for running native work to stop after a second Ctrl-C, before exiting anyway. */
export const INTERRUPT_DRAIN_MS = 5000;

const drains = new Set<() => Promise<unknown>>();

/**
 * Registers work a second Ctrl-C waits for before it exits, e.g. disposing a Grounder (which
 * cancels its native threads and waits for them): exiting while a thread is inside llama.cpp
 * would tear the process down under it. Returns the unregister function.
 */
export function onInterruptDrain(drain: () => Promise<unknown>): () => void {
  drains.add(drain);
  return () => drains.delete(drain);
}

async function drainThenExit(): Promise<never> {
  const timer = setTimeout(() => process.exit(EXIT.aborted), INTERRUPT_DRAIN_MS);
  await Promise.allSettled([...drains].map((d) => d()));
  clearTimeout(timer);
  process.exit(EXIT.aborted);
}

/**
 * Aborts on the first Ctrl-C. A second one cancels and waits (at most INTERRUPT_DRAIN_MS) for
 * the registered drains, then exits with 130; later ones are ignored meanwhile.
 */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once("SIGINT", () => {
    controller.abort();
    process.once("SIGINT", () => {
      process.on("SIGINT", () => {}); // the drain is bounded: no third-Ctrl-C hard kill mid-decode
      void drainThenExit();
    });
  });
  return controller.signal;
}
