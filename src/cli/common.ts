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
  else process.stderr.write(`timelens: ${payload.message}${e instanceof UsageError ? "\nRun `timelens --help` for usage." : ""}\n`);
  return code;
}

export function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
  return n;
}

/** Aborts on Ctrl-C once; a second Ctrl-C exits at once. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once("SIGINT", () => {
    controller.abort();
    process.once("SIGINT", () => process.exit(EXIT.aborted));
  });
  return controller.signal;
}
