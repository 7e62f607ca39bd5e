/** Shared helpers for benchmarks: generated inputs and plain-text tables. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { resolveFfmpeg } from "../src/video/ffmpeg";

export const BENCH_OUT = join(__dirname, "out");

/** A synthetic test-pattern video of `seconds` at 320x240, 30 fps, cached in bench/out. */
export function benchVideo(seconds: number, size = "320x240", fps = 30): string {
  mkdirSync(BENCH_OUT, { recursive: true });
  const path = join(BENCH_OUT, `pattern-${seconds}s-${size}-${fps}.mp4`);
  if (existsSync(path)) return path;
  const tmp = `${path}.tmp.mp4`;
  execFileSync(resolveFfmpeg(), [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${size}:rate=${fps}:duration=${seconds}`,
    "-vf",
    "drawbox=x='mod(t*40,280)':y=90:w=40:h=40:color=red:t=fill",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    tmp,
  ]);
  renameSync(tmp, path);
  return path;
}

export function fmt(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ")).join("\n");
}
