/** A synthetic TimeLens-Bench folder: ffmpeg testsrc2 videos and a reference-format annotation. */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const FFMPEG = process.env.TIMELENS_FFMPEG ?? "/usr/bin/ffmpeg";

export interface MiniVideo {
  id: string;
  /** Seconds of video to generate; 0 = listed in the annotation but never created. */
  seconds: number;
  /** The annotation's duration as TEXT (so "4.0" and "4" stay distinct). */
  duration: string;
  /** [span text, query] pairs, e.g. ["[0, 2]", "a red square moves."]. */
  queries: Array<[string, string]>;
}

export function makeVideo(path: string, seconds: number, pattern = "testsrc2"): void {
  execFileSync(FFMPEG, [
    "-v",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    `${pattern}=size=160x120:rate=10:duration=${seconds}`,
    "-c:v",
    "libx264",
    "-pix_fmt",
    "yuv420p",
    path,
  ]);
}

/** Writes <dir>/<dataset>.json and <dir>/videos/<subset>/<id>.mp4; returns the annotation path. */
export function makeMiniBench(dir: string, dataset: string, videos: readonly MiniVideo[]): string {
  const subset = dataset.replace(/-timelens$/, "");
  const videoDir = join(dir, "videos", subset);
  mkdirSync(videoDir, { recursive: true });
  for (const v of videos)
    if (v.seconds > 0) makeVideo(join(videoDir, `${v.id}.mp4`), v.seconds, v.id.length % 2 ? "testsrc2" : "smptebars");
  const entries = videos.map(
    (v) =>
      `  ${JSON.stringify(v.id)}: {"duration": ${v.duration}, "spans": [${v.queries.map((q) => q[0]).join(", ")}], ` +
      `"queries": [${v.queries.map((q) => JSON.stringify(q[1])).join(", ")}]}`,
  );
  const path = join(dir, `${dataset}.json`);
  writeFileSync(path, `{\n${entries.join(",\n")}\n}\n`);
  return path;
}
