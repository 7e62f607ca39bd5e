/** Transfer rate and ETA from byte counts over a sliding window: pure, clock passed in. */

export interface TransferStats {
  done: number;
  total: number;
  /** Bytes per second over the last few seconds (0 until two samples). */
  bytesPerSecond: number;
  /** Time left at that rate; null while unknown. */
  etaMs: number | null;
}

export class RateMeter {
  private samples: Array<{ t: number; bytes: number }> = [];

  constructor(private readonly windowMs = 5000) {}

  /** Records `done` bytes at time `t` (ms) and returns the stats for `total`. */
  sample(t: number, done: number, total: number): TransferStats {
    this.samples.push({ t, bytes: done });
    while (this.samples.length > 2 && t - this.samples[0].t > this.windowMs) this.samples.shift();
    const first = this.samples[0];
    const dt = (t - first.t) / 1000;
    const bytesPerSecond = dt > 0 ? Math.max(0, (done - first.bytes) / dt) : 0;
    const left = Math.max(0, total - done);
    const etaMs = left === 0 ? 0 : bytesPerSecond > 0 ? (left / bytesPerSecond) * 1000 : null;
    return { done, total, bytesPerSecond, etaMs };
  }
}
