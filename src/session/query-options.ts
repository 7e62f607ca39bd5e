/**
 * Checks a query's options before any work starts: a wrong type or range is a typed
 * ERR_INVALID_ARGUMENT naming the option, instead of a TypeError deep inside or a silently
 * odd answer. Token sampling values are checked here once for ground and groundMany.
 */
import { invalidArgument } from "../errors";

/** An AbortSignal from any realm (an Electron preload, a vm context) has these. */
function isSignal(v: unknown): v is AbortSignal {
  const s = v as AbortSignal;
  return (
    typeof s === "object" && s !== null && typeof s.aborted === "boolean" && typeof s.addEventListener === "function"
  );
}

export interface CheckedQueryOptions {
  maxNewTokens?: unknown;
  temperature?: unknown;
  topK?: unknown;
  topP?: unknown;
  seed?: unknown;
  signal?: unknown;
  onToken?: unknown;
  onProgress?: unknown;
}

/** Throws ERR_INVALID_ARGUMENT for the first option of the wrong type or out of range. */
export function checkQueryOptions(options: CheckedQueryOptions): void {
  if (options === null || typeof options !== "object") throw invalidArgument("options", "an object", options);
  const { maxNewTokens, temperature, topK, topP, seed, signal, onToken, onProgress } = options;
  const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
  if (maxNewTokens !== undefined && !(isInt(maxNewTokens) && maxNewTokens >= 1)) {
    throw invalidArgument("maxNewTokens", "a positive integer", maxNewTokens);
  }
  if (
    temperature !== undefined &&
    !(typeof temperature === "number" && Number.isFinite(temperature) && temperature >= 0)
  ) {
    throw invalidArgument("temperature", "a finite number >= 0", temperature);
  }
  if (topK !== undefined && !(isInt(topK) && topK >= 0)) throw invalidArgument("topK", "an integer >= 0", topK);
  if (topP !== undefined && !(typeof topP === "number" && topP >= 0 && topP <= 1))
    throw invalidArgument("topP", "a number in [0, 1]", topP);
  if (seed !== undefined && !(isInt(seed) && seed >= 0 && seed <= 0xffffffff))
    throw invalidArgument("seed", "an integer in [0, 2^32 - 1]", seed);
  if (signal !== undefined && !isSignal(signal)) throw invalidArgument("signal", "an AbortSignal", signal);
  if (onToken !== undefined && typeof onToken !== "function") throw invalidArgument("onToken", "a function", onToken);
  if (onProgress !== undefined && typeof onProgress !== "function")
    throw invalidArgument("onProgress", "a function", onProgress);
}
