/**
 * Thumbnails of the frames the model saw: the planned frames are decoded by readFrames (the
 * same decoder, frame numbers and resize as the model input, docs/report.md "Thumbnails"), and
 * sharp turns each RGB frame into a small JPEG as soon as it arrives, so memory holds one
 * decoded frame plus the finished JPEGs whatever the video's length.
 */
import sharp from "sharp";
import { TimelensError, throwIfAborted } from "../errors";
import { getProfile, pairTime, type ProfileId } from "../prompt/profiles";
import { readFrames } from "../video/decode";
import type { FramePlan } from "../video/types";
import type { FrameSummary } from "../types";

export interface Thumbnail {
  /** Pair position in the plan (0-based). */
  pair: number;
  /** The pair's time in seconds (the time its label states). */
  time: number;
  /** The pair's label exactly as in the prompt. */
  label: string;
  /** Video frame number shown (the pair's first frame). */
  frameIndex: number;
  width: number;
  height: number;
  jpeg: Buffer;
}

export interface ThumbnailOptions {
  /** Thumbnail height in pixels (default 90). */
  height?: number;
  /** JPEG quality 1..100 (default 80). */
  quality?: number;
  signal?: AbortSignal;
  ffmpegPath?: string;
  ffprobePath?: string;
  /** After each thumbnail: how many are done of how many. */
  onProgress?: (done: number, total: number) => void;
}

/** Each pair's time (seconds), by the profile's timestamp rule over the pair's two frame times. */
export function pairTimesOf(frames: Pick<FrameSummary, "times" | "pairs">, profile: ProfileId): number[] {
  const rule = getProfile(profile).timestampRule;
  const t = frames.times;
  return Array.from({ length: frames.pairs }, (_, k) => pairTime(rule, t[2 * k], t[Math.min(2 * k + 1, t.length - 1)]));
}

/** Checks that a FrameSummary is complete enough to draw (a hand-edited JSON may not be). */
export function checkFrameSummary(frames: unknown, where = "result.frames"): asserts frames is FrameSummary {
  const f = frames as FrameSummary;
  const bad = (why: string) => new TimelensError("ERR_INVALID_ARGUMENT", `${where} ${why}`, { field: where });
  if (!f || typeof f !== "object") throw bad("is missing");
  if (!Array.isArray(f.indices) || !Array.isArray(f.times) || !Array.isArray(f.labels))
    throw bad("needs indices, times and labels");
  if (!Number.isInteger(f.pairs) || f.pairs < 1 || f.labels.length !== f.pairs)
    throw bad(`has ${f.labels?.length} labels for ${f.pairs} pairs`);
  if (f.indices.length !== f.times.length || f.indices.length < 2 * f.pairs - 1)
    throw bad(`has ${f.indices.length} frames for ${f.pairs} pairs`);
  if (!(Number.isInteger(f.width) && f.width > 0 && Number.isInteger(f.height) && f.height > 0))
    throw bad(`has size ${f.width}x${f.height}`);
}

/**
 * Decodes the first frame of each listed pair (positions, ascending) from `video` at the
 * plan's size and makes a JPEG thumbnail of it. Errors: those of readFrames (ERR_VIDEO_UNREADABLE,
 * ERR_FILE_NOT_FOUND, ERR_FFMPEG_NOT_FOUND, ERR_ABORTED), ERR_INVALID_ARGUMENT for bad pairs.
 */
export async function extractThumbnails(
  video: string | Uint8Array,
  frames: FrameSummary,
  profile: ProfileId,
  pairs: readonly number[],
  options: ThumbnailOptions = {},
): Promise<Thumbnail[]> {
  checkFrameSummary(frames);
  const height = options.height ?? 90;
  const quality = options.quality ?? 80;
  if (!(Number.isInteger(height) && height >= 8 && height <= 1080))
    throw new TimelensError("ERR_INVALID_ARGUMENT", `thumbnail height must be an integer 8..1080, got ${height}`);
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i];
    if (!Number.isInteger(p) || p < 0 || p >= frames.pairs || (i > 0 && p <= pairs[i - 1])) {
      throw new TimelensError(
        "ERR_INVALID_ARGUMENT",
        `thumbnail pairs must be ascending positions below ${frames.pairs}; got ${p} at ${i}`,
      );
    }
  }
  if (pairs.length === 0) return [];
  const times = pairTimesOf(frames, profile);
  const plan: FramePlan = {
    indices: pairs.map((p) => frames.indices[2 * p]),
    frameTimes: pairs.map((p) => frames.times[2 * p]),
    width: frames.width,
    height: frames.height,
    pairs: [],
    tokensPerPair: frames.tokensPerPair,
    factor: 1,
  };
  const width = Math.max(1, Math.round((height * frames.width) / frames.height));
  const out: Thumbnail[] = [];
  for await (const frame of readFrames(video, plan, {
    signal: options.signal,
    ffmpegPath: options.ffmpegPath,
    ffprobePath: options.ffprobePath,
  })) {
    const pair = pairs[out.length];
    const raw = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
    const jpeg = await sharp(raw, { raw: { width: frame.width, height: frame.height, channels: 3 } })
      .resize({ width, height, fit: "fill" })
      .jpeg({ quality })
      .toBuffer();
    out.push({ pair, time: times[pair], label: frames.labels[pair], frameIndex: frame.index, width, height, jpeg });
    options.onProgress?.(out.length, pairs.length);
    throwIfAborted(options.signal, "decode");
  }
  return out;
}
