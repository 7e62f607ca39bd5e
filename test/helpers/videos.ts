/**
 * Synthetic test videos, made with ffmpeg's lavfi sources into test/fixtures/videos/
 * (gitignored) and cached by name: a file is generated once, atomically (temp + rename), and
 * reused by later runs. Each is small and takes well under a second to make.
 *
 * `expected` records what the decoder yields, as established when the fixture was designed
 * (frame counts are asserted exactly by the probe tests).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fpsModeArgs, parseToolVersion, resolveFfmpeg, type ToolVersion } from "../../src/video/ffmpeg";

export const VIDEO_DIR = join(__dirname, "..", "fixtures", "videos");

export type VideoName =
  | "cfr30"
  | "cfr25"
  | "ntsc"
  | "portrait"
  | "odd"
  | "three"
  | "one"
  | "vfr"
  | "rotated"
  | "audio"
  | "truncated"
  | "truncated-faststart"
  | "editlist"
  | "numbered"
  | "numbered-mkv"
  | "tall";

export interface VideoFixture {
  name: VideoName;
  path: string;
  /** What the decoder yields (undefined for files that cannot be decoded). */
  expected?: { frames: number; fps: number; width: number; height: number; containerFrames?: number };
}

interface Recipe {
  file: string;
  expected?: VideoFixture["expected"];
  make(ffmpeg: string, out: string): void;
}

const QUIET = ["-hide_banner", "-loglevel", "error", "-y", "-nostdin"];
const X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"];

function run(ffmpeg: string, args: string[]): void {
  execFileSync(ffmpeg, [...QUIET, ...args], { stdio: ["ignore", "ignore", "pipe"] });
}

function ffmpegVersion(ffmpeg: string): ToolVersion {
  return parseToolVersion(execFileSync(ffmpeg, ["-hide_banner", "-version"], { encoding: "utf8" }));
}

/** Frame k has R = k mod 256, G = floor(k / 256), B = 77: the frame number is in the pixels. */
const NUMBERED_SOURCE =
  "color=black:size=64x48:rate=30:duration=10,format=rgb24,geq=r='mod(N,256)':g='floor(N/256)':b=77";

const RECIPES: Record<VideoName, Recipe> = {
  // 4 s at 30 fps: 120 frames.
  cfr30: {
    file: "cfr30-320x240.mp4",
    expected: { frames: 120, fps: 30, width: 320, height: 240, containerFrames: 120 },
    make: (ff, out) =>
      run(ff, ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=4", ...X264, "-g", "30", "-bf", "2", out]),
  },
  // 2 s at 25 fps: 50 frames.
  cfr25: {
    file: "cfr25-320x180.mp4",
    expected: { frames: 50, fps: 25, width: 320, height: 180, containerFrames: 50 },
    make: (ff, out) =>
      run(ff, ["-f", "lavfi", "-i", "mandelbrot=size=320x180:rate=25:end_pts=100", "-t", "2", ...X264, out]),
  },
  // 3 s at 30000/1001 fps: lavfi emits frames while pts < 3 s, 90 frames.
  ntsc: {
    file: "ntsc-2997-160x120.mp4",
    expected: { frames: 90, fps: 30000 / 1001, width: 160, height: 120, containerFrames: 90 },
    make: (ff, out) => run(ff, ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30000/1001:duration=3", ...X264, out]),
  },
  // Portrait 180x320, 2 s at 30 fps.
  portrait: {
    file: "portrait-180x320.mp4",
    expected: { frames: 60, fps: 30, width: 180, height: 320, containerFrames: 60 },
    make: (ff, out) => run(ff, ["-f", "lavfi", "-i", "testsrc2=size=180x320:rate=30:duration=2", ...X264, out]),
  },
  // Odd size 333x197, lossless FFV1 in Matroska (no container frame count): 1 s at 24 fps.
  odd: {
    file: "odd-333x197.mkv",
    expected: { frames: 24, fps: 24, width: 333, height: 197 },
    make: (ff, out) =>
      run(ff, [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=334x198:rate=24:duration=1,format=rgb24,crop=333:197:0:0",
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "bgr0",
        out,
      ]),
  },
  // Exactly 3 frames.
  three: {
    file: "three-frames.mp4",
    expected: { frames: 3, fps: 30, width: 160, height: 120, containerFrames: 3 },
    make: (ff, out) => run(ff, ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-frames:v", "3", ...X264, out]),
  },
  // A single frame.
  one: {
    file: "one-frame.mp4",
    expected: { frames: 1, fps: 30, width: 160, height: 120, containerFrames: 1 },
    make: (ff, out) => run(ff, ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-frames:v", "1", ...X264, out]),
  },
  // Variable frame rate: 60 frames 1/30 s apart, then 30 frames 1/10 s apart.
  // avg_frame_rate = 90 frames / 4.9333 s = 675/37.
  vfr: {
    file: "vfr-160x120.mp4",
    expected: { frames: 90, fps: 675 / 37, width: 160, height: 120, containerFrames: 90 },
    make: (ff, out) =>
      run(ff, [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=30:duration=3",
        "-vf",
        "setpts='if(lt(N,60),N/30,2+(N-60)/10)/TB'",
        ...vfrFlags(ff),
        ...X264,
        out,
      ]),
  },
  // A phone-style rotated video: stored 64x32 landscape, red square at the stored top-left,
  // display matrix set to a quarter turn (ffmpeg 5 writes rotate=90 as 270 clockwise; ffmpeg 6+
  // uses -display_rotation). Lossless so the orientation check is exact. 1 s at 10 fps.
  rotated: {
    file: "rotated-64x32.mp4",
    expected: { frames: 10, fps: 10, width: 32, height: 64, containerFrames: 10 },
    make: (ff, out) => {
      const plain = `${out}.plain.mp4`;
      run(ff, [
        "-f",
        "lavfi",
        "-i",
        "color=black:size=64x32:rate=10:duration=1,format=rgb24,drawbox=x=0:y=0:w=16:h=16:color=red:t=fill,drawbox=x=48:y=24:w=16:h=8:color=blue:t=fill",
        "-c:v",
        "libx264rgb",
        "-qp",
        "0",
        "-preset",
        "ultrafast",
        plain,
      ]);
      try {
        if (ffmpegVersion(ff).major >= 6) run(ff, ["-display_rotation", "90", "-i", plain, "-c", "copy", out]);
        else run(ff, ["-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", out]);
      } finally {
        rmSync(plain, { force: true });
      }
    },
  },
  // Audio only.
  audio: {
    file: "audio-only.m4a",
    make: (ff, out) => run(ff, ["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", out]),
  },
  // MP4 with its index (moov) at the end, cut to its first 20 kB: unreadable.
  truncated: {
    file: "truncated.mp4",
    make: (ff, out) => {
      const whole = `${out}.whole.mp4`;
      run(ff, ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=4", ...X264, "-g", "30", whole]);
      writeFileSync(out, readFileSync(whole).subarray(0, 20000));
      rmSync(whole, { force: true });
    },
  },
  // Fast-start MP4 (index first) cut to 40 kB: the index still lists 120 frames, the decoder
  // yields 25 (packets past the cut are missing, the last one is damaged).
  "truncated-faststart": {
    file: "truncated-faststart.mp4",
    expected: { frames: 25, fps: 30, width: 160, height: 120, containerFrames: 120 },
    make: (ff, out) => {
      const whole = `${out}.whole.mp4`;
      run(ff, [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=30:duration=4",
        ...X264,
        "-g",
        "30",
        "-movflags",
        "+faststart",
        whole,
      ]);
      writeFileSync(out, readFileSync(whole).subarray(0, 40000));
      rmSync(whole, { force: true });
    },
  },
  // A stream-copied cut starting between keyframes: the MP4 keeps 90 samples from the previous
  // keyframe and an edit list hides the first 15, so the container says 90, the decoder yields 75.
  editlist: {
    file: "editlist-cut.mp4",
    expected: { frames: 75, fps: 30, width: 160, height: 120, containerFrames: 90 },
    make: (ff, out) => {
      const whole = `${out}.whole.mp4`;
      run(ff, [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=30:duration=4",
        ...X264,
        "-g",
        "30",
        "-bf",
        "2",
        whole,
      ]);
      run(ff, ["-ss", "1.5", "-i", whole, "-c", "copy", out]);
      rmSync(whole, { force: true });
    },
  },
  // 300 frames (10 s at 30 fps) whose pixels encode the frame number (NUMBERED_SOURCE), lossless RGB H.264.
  numbered: {
    file: "numbered-64x48.mp4",
    expected: { frames: 300, fps: 30, width: 64, height: 48, containerFrames: 300 },
    make: (ff, out) =>
      run(ff, [
        "-f",
        "lavfi",
        "-i",
        NUMBERED_SOURCE,
        "-c:v",
        "libx264rgb",
        "-qp",
        "0",
        "-preset",
        "ultrafast",
        "-g",
        "50",
        "-bf",
        "2",
        out,
      ]),
  },
  // The same numbered frames in Matroska/FFV1 (no container count: probe counts by decoding).
  "numbered-mkv": {
    file: "numbered-64x48.mkv",
    expected: { frames: 300, fps: 30, width: 64, height: 48 },
    make: (ff, out) => run(ff, ["-f", "lavfi", "-i", NUMBERED_SOURCE, "-c:v", "ffv1", "-pix_fmt", "bgr0", out]),
  },
  // Aspect 201:1 (402x2, lossless RGB so odd-ish sizes are fine): refused by planFrames.
  tall: {
    file: "aspect-402x2.mkv",
    expected: { frames: 5, fps: 5, width: 402, height: 2 },
    make: (ff, out) => run(ff, ["-f", "lavfi", "-i", "testsrc2=size=402x2:rate=5:duration=1", "-c:v", "ffv1", out]),
  },
};

function vfrFlags(ffmpeg: string): string[] {
  return fpsModeArgs(ffmpegVersion(ffmpeg), "vfr");
}

/** Path of a fixture video, generated on first use. */
export function video(name: VideoName): VideoFixture {
  const recipe = RECIPES[name];
  const path = join(VIDEO_DIR, recipe.file);
  if (!existsSync(path) || statSync(path).size === 0) {
    mkdirSync(VIDEO_DIR, { recursive: true });
    const ext = recipe.file.slice(recipe.file.lastIndexOf("."));
    const tmp = join(VIDEO_DIR, `.${recipe.file}.${process.pid}.tmp${ext}`);
    try {
      recipe.make(resolveFfmpeg(), tmp);
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return { name, path, expected: recipe.expected };
}

/** Decodes a fixture with plain ffmpeg (autorotate on, every frame) into rgb24 frames: the oracle for decode tests. */
export function decodeAllRgb(path: string, width: number, height: number, extraArgs: string[] = []): Uint8Array[] {
  const ffmpeg = resolveFfmpeg();
  const raw = execFileSync(
    ffmpeg,
    [
      "-hide_banner",
      "-loglevel",
      "error",
      "-nostdin",
      "-i",
      path,
      ...extraArgs,
      "-map",
      "0:V:0",
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "pipe:1",
    ],
    { maxBuffer: 1 << 30 },
  );
  const size = width * height * 3;
  if (raw.length % size !== 0) throw new Error(`decoded ${raw.length} bytes, not a multiple of ${size}`);
  const frames: Uint8Array[] = [];
  for (let off = 0; off < raw.length; off += size) frames.push(new Uint8Array(raw.subarray(off, off + size)));
  return frames;
}

/** The frame number a NUMBERED_SOURCE pixel encodes. */
export function numberAt(rgb: Uint8Array, width: number, x: number, y: number): number {
  const o = (y * width + x) * 3;
  return rgb[o] + 256 * rgb[o + 1];
}
