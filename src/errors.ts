/**
 * Every error this package throws is a TimelensError with a stable `code`.
 * Codes are part of the public API: match on `err.code`, never on the message.
 */
export const ERROR_CODES = [
  "ERR_INVALID_ARGUMENT",
  "ERR_ADDON_NOT_FOUND",
  "ERR_FFMPEG_NOT_FOUND",
  "ERR_VIDEO_UNREADABLE",
  "ERR_VIDEO_TOO_SHORT",
  "ERR_VIDEO_ASPECT",
  "ERR_CLIP_RANGE",
  "ERR_FILE_NOT_FOUND",
  "ERR_MODEL_INVALID",
  "ERR_MODEL_UNSUPPORTED",
  "ERR_MMPROJ_MISMATCH",
  "ERR_NO_VISION",
  "ERR_PROFILE_UNKNOWN",
  "ERR_CONTEXT_OVERFLOW",
  "ERR_ABORTED",
  "ERR_DISPOSED",
  "ERR_BUSY",
  "ERR_STATE_INVALID",
  "ERR_NATIVE",
  // Model supply (pull / convert / quantize): see docs/models.md.
  "ERR_CHECKPOINT_INVALID",
  "ERR_CHECKPOINT_UNSUPPORTED",
  "ERR_HUB_UNAUTHORIZED",
  "ERR_HUB_NOT_FOUND",
  "ERR_DOWNLOAD_FAILED",
  "ERR_DISK_FULL",
  // Job queue (BullMQ + Redis): see docs/queue.md.
  "ERR_QUEUE",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** Is `code` one of ours? (An addon error with any other code becomes ERR_NATIVE.) */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && KNOWN_CODES.has(code);
}

export class TimelensError extends Error {
  readonly code: ErrorCode;
  /** Machine-readable facts about the failure (paths, counts, limits). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TimelensError";
    this.code = code;
    this.details = details;
  }
}

/** Rejected work after an AbortSignal fired. `name` is "AbortError" like the platform's own. */
export class AbortError extends TimelensError {
  constructor(message = "The operation was aborted", details: Record<string, unknown> = {}) {
    super("ERR_ABORTED", message, details);
    this.name = "AbortError";
  }
}

/** The prompt does not fit the context window; says both numbers and what to change. */
export class ContextOverflowError extends TimelensError {
  readonly needed: number;
  readonly available: number;
  constructor(needed: number, available: number, hint: string) {
    super("ERR_CONTEXT_OVERFLOW", `The input needs ${needed} tokens but the context holds ${available}. ${hint}`, {
      needed,
      available,
    });
    this.name = "ContextOverflowError";
    this.needed = needed;
    this.available = available;
  }
}

export function isTimelensError(e: unknown, code?: ErrorCode): e is TimelensError {
  return e instanceof TimelensError && (code === undefined || e.code === code);
}

/** Throws AbortError when the signal has fired; call between stages. */
export function throwIfAborted(signal: AbortSignal | undefined, stage?: string): void {
  if (signal?.aborted) throw new AbortError(stage ? `Aborted during ${stage}` : undefined, stage ? { stage } : {});
}

/** How a value looks in an error message: short, and never throwing. */
function describe(actual: unknown): string {
  if (typeof actual === "string") return JSON.stringify(actual.length > 80 ? `${actual.slice(0, 80)}...` : actual);
  if (typeof actual === "number" || typeof actual === "boolean" || typeof actual === "bigint" || actual == null)
    return String(actual);
  if (Array.isArray(actual)) return `an array of ${actual.length}`;
  return typeof actual;
}

/**
 * The one way to reject a bad argument: `invalidArgument("maxTokens", "an integer >= 1", 0)`
 * says "maxTokens must be an integer >= 1, got 0"; `details` holds `option`, `expected`, `actual`.
 */
export function invalidArgument(name: string, expected: string, actual: unknown): TimelensError {
  const shown = describe(actual);
  return new TimelensError("ERR_INVALID_ARGUMENT", `${name} must be ${expected}, got ${shown}`, {
    option: name,
    expected,
    actual: shown,
  });
}
