/** A one-line progress bar on stderr with the stage name and an ETA (TTY only). */
import type { GroundProgress } from "../types";

export class ProgressBar {
  private lastDraw = 0;
  private stageStart = new Map<string, number>();
  private visible = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return Boolean(this.stream.isTTY);
  }

  /** `detail` replaces the "done/total" counts (e.g. bytes, rate and ETA of a download). */
  update(p: Pick<GroundProgress, "done" | "total"> & { stage: string }, detail?: string): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!this.stageStart.has(p.stage)) this.stageStart.set(p.stage, now);
    if (now - this.lastDraw < 80 && p.done < p.total) return;
    this.lastDraw = now;
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = now - (this.stageStart.get(p.stage) ?? now);
    const eta = frac > 0 && frac < 1 ? ` eta ${formatMs((elapsed / frac) * (1 - frac))}` : "";
    const line =
      `${p.stage.padEnd(8)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ` +
      `${detail ?? `${p.done}/${p.total}${eta}`}`;
    this.stream.write(`\r${line}\x1b[K`);
    this.visible = true;
  }

  clear(): void {
    if (this.visible) this.stream.write("\r\x1b[K");
    this.visible = false;
  }
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${Math.round(s % 60)
    .toString()
    .padStart(2, "0")}s`;
}
