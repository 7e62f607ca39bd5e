/**
 * planFrames: which frames to decode, at what size, and how each pair is labelled, exactly
 * as the reference sampler (qwen-vl-utils 0.0.14, docs/reference.md "Frame sampling") would do it. Pure: no I/O.
 */
import { TimelensError } from "../errors";
import {
  formatTimestamp,
  getProfile,
  pairTime,
  type ModelProfile,
  type TimestampFormat,
  type TimestampRule,
} from "../prompt/profiles";
import { pyRound } from "../util/pyformat";
import { torchBuild, torchLinspace, type TorchCompat } from "./torch-compat";
import type { FramePair, FramePlan, VideoInfo } from "./types";

/** qwen-vl-utils constants (docs/reference.md "Frame sampling"). */
export const FRAME_FACTOR = 2;
export const FPS_MIN_FRAMES = 4;
export const FPS_MAX_FRAMES = 768;
export const VIDEO_MIN_TOKEN_NUM = 128;
export const VIDEO_MAX_TOKEN_NUM = 768;
export const MAX_RATIO = 200;
export const MODEL_SEQ_LEN = 128000;

export interface PlanOptions {
  /**
   * Model profile: gives the pixel factor, the timestamp rule and format, and the default fps
   * and token budgets. Default: the timelens-8b profile.
   */
  profile?: ModelProfile;
  /** Pixels per token side (32 for Qwen3-VL / TimeLens-8B, 28 for Qwen2.5-VL). Default profile.factor. */
  factor?: number;
  /**
   * Sampling rate in frames per second of video (reference `fps`). Default profile.video.fps (2).
   * Ignored when `nframes` is given.
   */
  fps?: number;
  /**
   * Sample exactly this many frames instead of using `fps` (reference `nframes`); rounded to
   * the nearest even number (half to even). The min/max frame clamps do not apply.
   */
  nframes?: number;
  /** Lower bound of the fps-derived frame count, rounded up to even. Default 4. */
  minFrames?: number;
  /** Upper bound of the fps-derived frame count, rounded down to even. Default min(768, frames in range). */
  maxFrames?: number;
  /** Minimum pixels per frame. Default minTokens * factor^2 (TimeLens: 64 tokens), else 128 * factor^2. */
  minPixels?: number;
  /**
   * Upper limit on pixels per frame. It can only lower the computed limit
   * max(min(768 * factor^2, totalPixels / n * 2), int(minPixels * 1.05)).
   */
  maxPixels?: number;
  /**
   * Pixel budget of the whole video (all frames). Default totalTokens * factor^2
   * (TimeLens: 14336 tokens), else 128000 * factor^2 * 0.9.
   */
  totalPixels?: number;
  /** minPixels as a token count: minTokens * factor^2 pixels. Default profile.video.minTokens; minPixels wins. */
  minTokens?: number;
  /**
   * totalPixels as a token count: totalTokens * factor^2 pixels. Default profile.video.totalTokens;
   * totalPixels wins.
   */
  totalTokens?: number;
  /** Clip start in seconds (reference `video_start`); clamped to [0, duration]. */
  start?: number;
  /** Clip end in seconds (reference `video_end`); clamped to [0, duration]. */
  end?: number;
  /** Pair label format; overrides the profile's (template with `{t}`, or a function). */
  timestampFormat?: TimestampFormat;
  /** Pair time rule; overrides the profile's ("pair-mean" for Qwen3-VL, "pair-first" for TimeLens-7B). */
  timestampRule?: TimestampRule;
  /** PyTorch build whose float32 linspace to reproduce bit for bit. Default "torch2-simd". */
  torchCompat?: TorchCompat;
}

/** The plan plus the intermediate values of the computation, for logs and tests. */
export interface FramePlanDetails extends FramePlan {
  /** Frame range sampled from (inclusive), in video frame numbers. */
  startFrame: number;
  endFrame: number;
  /** Pixel limits the size was chosen with. */
  minPixels: number;
  maxPixels: number;
  totalPixels: number;
  /** Decoded (display) size of the source. */
  sourceWidth: number;
  sourceHeight: number;
  /** The video's average frame rate the times were computed with. */
  videoFps: number;
  /** Visual tokens of the whole video: pairs.length * tokensPerPair. */
  totalTokens: number;
}

/** round(x / f) * f with Python's round (half to even). */
export function roundByFactor(x: number, f: number): number {
  return pyRound(x / f) * f;
}
export function ceilByFactor(x: number, f: number): number {
  return Math.ceil(x / f) * f;
}
export function floorByFactor(x: number, f: number): number {
  return Math.floor(x / f) * f;
}

function invalid(message: string, details: Record<string, unknown> = {}): TimelensError {
  return new TimelensError("ERR_INVALID_ARGUMENT", message, details);
}

function checkPositive(name: string, v: number | undefined, integer = false): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw invalid(`${name} must be a positive ${integer ? "integer" : "number"}, got ${String(v)}`, { [name]: v });
  }
}

/**
 * Reference `calculate_video_frame_range`: without start/end the whole video; otherwise
 * start_frame = ceil(clamp(start, 0, total/fps) * fps),
 * end_frame = min(floor(clamp(end, 0, total/fps) * fps), total - 1). ERR_CLIP_RANGE if start_frame >= end_frame.
 */
export function frameRange(
  totalFrames: number,
  fps: number,
  start?: number,
  end?: number,
): { startFrame: number; endFrame: number; frames: number } {
  if (start === undefined && end === undefined)
    return { startFrame: 0, endFrame: totalFrames - 1, frames: totalFrames };
  for (const [name, v] of [
    ["start", start],
    ["end", end],
  ] as const) {
    if (v !== undefined && (typeof v !== "number" || Number.isNaN(v)))
      throw invalid(`${name} must be a number of seconds, got ${String(v)}`);
  }
  const duration = totalFrames / fps;
  const clamp = (t: number) => Math.max(0, Math.min(t, duration));
  const startFrame = start !== undefined ? Math.ceil(clamp(start) * fps) : 0;
  const endFrame = end !== undefined ? Math.min(Math.floor(clamp(end) * fps), totalFrames - 1) : totalFrames - 1;
  if (startFrame >= endFrame) {
    throw new TimelensError(
      "ERR_CLIP_RANGE",
      `Invalid time range: start frame ${startFrame} (at ${start !== undefined ? clamp(start) : 0}s) is not ` +
        `before end frame ${endFrame} (at ${end !== undefined ? clamp(end) : duration}s). Video duration: ` +
        `${duration.toFixed(2)}s (${totalFrames} frames @ ${fps}fps)`,
      { start, end, startFrame, endFrame, totalFrames, fps, duration },
    );
  }
  return { startFrame, endFrame, frames: endFrame - startFrame + 1 };
}

/**
 * Reference `smart_nframes`. With `nframes`: round_by_factor(nframes, 2). With fps:
 * min_frames = ceil_by_factor(minFrames ?? 4, 2), max_frames = floor_by_factor(maxFrames ??
 * min(768, total), 2), n = total / videoFps * fps, n = min(min(max(n, min_frames), max_frames),
 * total), n = floor_by_factor(n, 2). ERR_VIDEO_TOO_SHORT unless 2 <= n <= total.
 */
export function frameCount(
  totalFrames: number,
  videoFps: number,
  o: { fps?: number; nframes?: number; minFrames?: number; maxFrames?: number },
): number {
  let n: number;
  if (o.nframes !== undefined) {
    n = roundByFactor(o.nframes, FRAME_FACTOR);
  } else {
    const fps = o.fps ?? 2;
    const minFrames = ceilByFactor(o.minFrames ?? FPS_MIN_FRAMES, FRAME_FACTOR);
    const maxFrames = floorByFactor(o.maxFrames ?? Math.min(FPS_MAX_FRAMES, totalFrames), FRAME_FACTOR);
    n = (totalFrames / videoFps) * fps;
    n = Math.min(Math.min(Math.max(n, minFrames), maxFrames), totalFrames);
    n = floorByFactor(n, FRAME_FACTOR);
  }
  if (!(FRAME_FACTOR <= n && n <= totalFrames)) {
    throw new TimelensError(
      "ERR_VIDEO_TOO_SHORT",
      `nframes should in interval [${FRAME_FACTOR}, ${totalFrames}], but got ${n}. The video (or clip) has ` +
        `${totalFrames} frame${totalFrames === 1 ? "" : "s"}; at least ${FRAME_FACTOR} are ` +
        `needed${o.nframes !== undefined ? `, and nframes=${o.nframes} asks for ${n}` : ""}.`,
      { nframes: n, totalFrames },
    );
  }
  return n;
}

/**
 * Reference `smart_resize`: each side rounded to a multiple of `factor`, then scaled down to fit
 * maxPixels or up to reach minPixels, keeping the aspect ratio. ERR_VIDEO_ASPECT if the long
 * side exceeds 200 x the short side (or the frame is so thin a side would round to 0).
 */
export function smartResize(
  height: number,
  width: number,
  factor: number,
  minPixels: number,
  maxPixels: number,
): { height: number; width: number } {
  if (!(height > 0 && width > 0)) throw invalid(`frame size must be positive, got ${width}x${height}`);
  if (maxPixels < minPixels) {
    throw invalid(`max pixels (${maxPixels}) must be greater than or equal to min pixels (${minPixels})`, {
      minPixels,
      maxPixels,
    });
  }
  const ratio = Math.max(height, width) / Math.min(height, width);
  if (ratio > MAX_RATIO) {
    throw new TimelensError(
      "ERR_VIDEO_ASPECT",
      `absolute aspect ratio must be smaller than ${MAX_RATIO}, got ${ratio} (${width}x${height})`,
      {
        width,
        height,
        ratio,
      },
    );
  }
  let h = Math.max(factor, roundByFactor(height, factor));
  let w = Math.max(factor, roundByFactor(width, factor));
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = floorByFactor(height / beta, factor);
    w = floorByFactor(width / beta, factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = ceilByFactor(height * beta, factor);
    w = ceilByFactor(width * beta, factor);
  }
  if (h < factor || w < factor) {
    throw new TimelensError(
      "ERR_VIDEO_ASPECT",
      `A ${width}x${height} frame is too thin for ${maxPixels} pixels per frame: a side would be ` +
        `${Math.min(h, w)} px (less than one ${factor} px token). Raise the pixel budget or sample fewer ` +
        `frames.`,
      { width, height, maxPixels, factor },
    );
  }
  return { height: h, width: w };
}

/**
 * Frame pairs (2k, 2k+1) in plan positions, with their label times. An odd count repeats the
 * last frame (docs/reference.md "Prompt layout and special tokens"); planFrames always makes an even count.
 */
export function pairFrames(frameTimes: readonly number[], rule: TimestampRule, format: TimestampFormat): FramePair[] {
  const pairs: FramePair[] = [];
  const n = frameTimes.length;
  for (let k = 0; 2 * k < n; k++) {
    const a = 2 * k;
    const b = Math.min(2 * k + 1, n - 1);
    const time = pairTime(rule, frameTimes[a], frameTimes[b]);
    pairs.push({ frames: [a, b], time, label: formatTimestamp(time, format) });
  }
  return pairs;
}

/** Round half to even of a float32 value (torch.round). */
function roundHalfEven(x: number): number {
  return pyRound(x);
}

/**
 * Plans the frames the model sees for a video: the reference's frame count with every clamp,
 * float32 linspace indices rounded half to even, the frame size from the pixel budget, and one
 * labelled pair per two frames. Pure function of its arguments.
 *
 * Throws TimelensError: ERR_VIDEO_TOO_SHORT (fewer than 2 frames to sample), ERR_VIDEO_ASPECT
 * (aspect ratio over 200), ERR_CLIP_RANGE (start not before end), ERR_INVALID_ARGUMENT.
 */
export function planFrames(video: VideoInfo, options: PlanOptions = {}): FramePlanDetails {
  const profile = options.profile ?? getProfile("timelens-8b");
  const factor = options.factor ?? profile.factor;
  checkPositive("factor", factor, true);
  if (!video || typeof video !== "object") throw invalid("video info is required");
  checkPositive("video.totalFrames", video.totalFrames, true);
  checkPositive("video.fps", video.fps);
  checkPositive("video.width", video.width, true);
  checkPositive("video.height", video.height, true);
  checkPositive("fps", options.fps);
  checkPositive("nframes", options.nframes);
  checkPositive("minFrames", options.minFrames);
  checkPositive("maxFrames", options.maxFrames);
  checkPositive("minPixels", options.minPixels);
  checkPositive("maxPixels", options.maxPixels);
  checkPositive("totalPixels", options.totalPixels);
  checkPositive("minTokens", options.minTokens);
  checkPositive("totalTokens", options.totalTokens);
  if (options.minFrames !== undefined && options.maxFrames !== undefined && options.minFrames > options.maxFrames) {
    throw invalid(`minFrames (${options.minFrames}) must not exceed maxFrames (${options.maxFrames})`, {
      minFrames: options.minFrames,
      maxFrames: options.maxFrames,
    });
  }
  const tf = options.timestampFormat;
  if (tf !== undefined && typeof tf !== "string" && typeof tf !== "function") {
    throw invalid(`timestampFormat must be a template string or a function of the seconds, got ${typeof tf}`);
  }
  torchBuild(options.torchCompat); // validates

  const range = frameRange(video.totalFrames, video.fps, options.start, options.end);
  const fps = options.nframes !== undefined ? undefined : (options.fps ?? profile.video.fps);
  const n = frameCount(range.frames, video.fps, {
    fps,
    nframes: options.nframes,
    minFrames: options.minFrames,
    maxFrames: options.maxFrames,
  });

  const lin = torchLinspace(range.startFrame, range.endFrame, n, options.torchCompat);
  const indices = Array.from(lin, roundHalfEven);
  const frameTimes = indices.map((i) => i / video.fps);

  const f2 = factor * factor;
  const minTokens = options.minTokens ?? profile.video.minTokens;
  const totalTokens = options.totalTokens ?? profile.video.totalTokens;
  const minPixels = options.minPixels ?? (minTokens !== undefined ? minTokens * f2 : VIDEO_MIN_TOKEN_NUM * f2);
  const totalPixels = options.totalPixels ?? (totalTokens !== undefined ? totalTokens * f2 : MODEL_SEQ_LEN * f2 * 0.9);
  let maxPixels = Math.max(
    Math.min(VIDEO_MAX_TOKEN_NUM * f2, (totalPixels / n) * FRAME_FACTOR),
    Math.trunc(minPixels * 1.05),
  );
  if (options.maxPixels !== undefined) maxPixels = Math.min(options.maxPixels, maxPixels);
  const size = smartResize(video.height, video.width, factor, minPixels, maxPixels);

  const rule = options.timestampRule ?? profile.timestampRule;
  const format = options.timestampFormat ?? profile.timestampFormat;
  const pairs = pairFrames(frameTimes, rule, format);
  const tokensPerPair = (size.height / factor) * (size.width / factor);

  return {
    indices,
    width: size.width,
    height: size.height,
    frameTimes,
    pairs,
    tokensPerPair,
    factor,
    startFrame: range.startFrame,
    endFrame: range.endFrame,
    minPixels,
    maxPixels,
    totalPixels,
    sourceWidth: video.width,
    sourceHeight: video.height,
    videoFps: video.fps,
    totalTokens: pairs.length * tokensPerPair,
  };
}
