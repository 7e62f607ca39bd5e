import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";

const DIR = join(__dirname, "..", "fixtures", "videos");

/** A small H.264 test clip (testsrc2 with a moving box), made once and cached by its parameters. */
export function makeClip(
  opts: { seconds: number; width?: number; height?: number; fps?: number; container?: "mp4" | "mkv" } = { seconds: 6 },
): string {
  const { seconds, width = 160, height = 120, fps = 10, container = "mp4" } = opts;
  // Matroska states no frame count: probing one counts its frames by decoding (docs/reference.md).
  const path = join(DIR, `clip-${seconds}s-${width}x${height}-${fps}fps.${container}`);
  if (existsSync(path)) return path;
  mkdirSync(DIR, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp.${container}`;
  execFileSync("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    "-vf",
    "drawbox=x='10+t*15':y=20:w=30:h=30:color=red:t=fill",
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
