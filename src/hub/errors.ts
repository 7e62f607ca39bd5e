/** Hub answers as TimelensErrors: what failed, and what the user can do about it. */
import { HubApiError } from "@huggingface/hub";
import { AbortError, TimelensError } from "../errors";

/** HTTP statuses worth another try: timeouts, rate limits, server trouble. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Maps an HTTP status from the hub to our error; `what` names the repo / file asked for. */
export function statusError(
  status: number,
  what: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): TimelensError {
  if (status === 401 || status === 403) {
    return new TimelensError(
      "ERR_HUB_UNAUTHORIZED",
      `The hub refused ${what} (HTTP ${status}): the repository is gated or private (or does not exist). ` +
        `Set HF_TOKEN to a token that may read it, ` +
        `and accept the model's terms on its page if it is gated.`,
      { ...details, status },
      { cause },
    );
  }
  if (status === 404)
    return new TimelensError(
      "ERR_HUB_NOT_FOUND",
      `The hub has no ${what} (HTTP 404)`,
      { ...details, status },
      { cause },
    );
  return new TimelensError(
    "ERR_DOWNLOAD_FAILED",
    `The hub answered HTTP ${status} for ${what}`,
    { ...details, status },
    { cause },
  );
}

/** A library error as ours; network errors (no status) become ERR_DOWNLOAD_FAILED. */
export function hubError(
  e: unknown,
  what: string,
  details: Record<string, unknown> = {},
  signal?: AbortSignal,
): TimelensError {
  if (e instanceof TimelensError) return e;
  if (signal?.aborted || (e as Error)?.name === "AbortError")
    return new AbortError(`Aborted while fetching ${what}`, { stage: "download", ...details });
  if (e instanceof HubApiError) return statusError(e.statusCode, what, details, e);
  return new TimelensError("ERR_DOWNLOAD_FAILED", `Could not reach the hub for ${what}: ${describe(e)}`, details, {
    cause: e,
  });
}

/** True for failures with no HTTP answer (DNS, refused, reset): the hub may simply be unreachable. */
export function isNetworkFailure(e: unknown): boolean {
  return !(e instanceof HubApiError) && !(e instanceof TimelensError) && (e as Error)?.name !== "AbortError";
}

export function describe(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err?.cause?.code ?? err?.cause?.message;
  return `${err?.message ?? String(e)}${cause ? ` (${cause})` : ""}`;
}

export function isTransientStatusError(e: unknown): boolean {
  return e instanceof HubApiError && isTransientStatus(e.statusCode);
}
