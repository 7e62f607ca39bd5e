/** The battery's batches: each runs in one child process, its cases one after another. */
import { INPUT_BATCHES } from "./cases-inputs";
import { LIFECYCLE_BATCHES } from "./cases-lifecycle";
import { MODEL_CASES } from "./cases-models";
import { WORKER_CASES } from "./cases-worker";
import type { RobustCase } from "./harness";

/**
 * Cases that may take the process down today sit in batches of their own (native misuse,
 * worker teardown), so one crash does not hide the other batches' results.
 */
export const BATCHES: Record<string, RobustCase[]> = {
  models: MODEL_CASES,
  ...INPUT_BATCHES,
  ...LIFECYCLE_BATCHES,
  worker: WORKER_CASES,
};
