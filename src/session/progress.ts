/**
 * One clock per call: Grounder.ground starts it before the probe and hands it down to the
 * session, so `elapsedMs` never restarts and `totalMs` covers the probe too.
 */
import type { GroundProgress, GroundStage } from "../types";

export class ProgressClock {
  readonly t0: number;
  private readonly onProgress?: (p: GroundProgress) => void;

  constructor(onProgress?: (p: GroundProgress) => void, t0 = performance.now()) {
    this.onProgress = onProgress;
    this.t0 = t0;
  }

  /** Milliseconds since the call started. */
  elapsedMs(): number {
    return performance.now() - this.t0;
  }

  emit(stage: GroundStage, done: number, total: number): void {
    this.onProgress?.({ stage, done, total, elapsedMs: this.elapsedMs() });
  }
}
