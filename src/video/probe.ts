/**
 * probeVideo: what planFrames needs to know about a file, read with ffprobe, with the frame
 * count made to agree with what the decoder actually yields (readFrames counts frames the
 * same way).
 *
 * Containers can claim frames a decoder never outputs: an MP4 edit list that hides the
 * leading frames of a stream-copied cut, a truncated file whose index still lists every
 * sample, or no count at all (Matroska/WebM). In "auto" mode the container's `nb_frames` is
 * used only when it is present, every listed packet can be read, and it agrees with
 * duration x frame rate to within one frame; otherwise the frames are counted by decoding the
 * stream with ffmpeg, exactly as readFrames will decode it. ("decode" mode always counts.)
 */
import { promises as fsp, type Stats } from "node:fs";
import { AbortError, TimelensError, throwIfAborted } from "../errors";
import {
  fpsModeArgs,
  resolveFfmpeg,
  resolveFfprobe,
  runTool,
  stderrTail,
  toolVersion,
  type FfmpegOptions,
  type FfprobeOptions,
} from "./ffmpeg";
import { withVideoFile, type VideoSource } from "./temp-video";
import type { ProbedVideo } from "./types";

export type { VideoSource } from "./temp-video";

/** How the frame count is obtained. */
export type FrameCountMode =
  /** Container count when it is present and consistent, else count by decoding (default). */
  | "auto"
  /** Always count by decoding the whole stream (slow: a full decode pass, exact). */
  | "decode"
  /** Container count when present (fast, may be wrong); decode only when it is missing. */
  | "container";

export interface ProbeOptions extends FfprobeOptions {
  /** See FrameCountMode. Default "auto". */
  countFrames?: FrameCountMode;
  signal?: AbortSignal;
}

/**
 * Where the frames are in the file and how they are stored: what readFrames needs besides the
 * plan. The probe returns it, so decoding does not run ffprobe a second time.
 */
export interface StreamLayout {
  /** Index of the probed stream in the file (readFrames decodes this one). */
  streamIndex: number;
  /** Width and height as stored, before rotation. */
  codedWidth: number;
  codedHeight: number;
  /** Clockwise display rotation (0, 90, 180, 270). */
  rotation: number;
  /** Display size (rotation applied). */
  width: number;
  height: number;
}

export interface ProbedVideoDetails extends ProbedVideo, StreamLayout {
  /** The container's frame count, when it states one. */
  containerFrames?: number;
  /** Where totalFrames came from. */
  frameCountSource: "container" | "decode";
  /** ffprobe's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  format: string;
  pixelFormat?: string;
}

export interface FfprobeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
  side_data_list?: Array<Record<string, unknown>>;
}

interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { format_name?: string; duration?: string };
}

function parseRate(r: string | undefined): number {
  if (!r) return NaN;
  const m = /^(-?\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?$/.exec(r.trim());
  if (!m) return NaN;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  if (!(den > 0) || !(num > 0)) return NaN;
  return num / den;
}

function parseNum(s: string | undefined): number {
  if (s === undefined || s === "N/A") return NaN;
  const v = Number(s);
  return Number.isFinite(v) ? v : NaN;
}

/** Clockwise display rotation (0/90/180/270) from the display matrix or the legacy rotate tag. */
export function rotationOf(stream: Pick<FfprobeStream, "side_data_list" | "tags">): number {
  let cw: number | undefined;
  for (const sd of stream.side_data_list ?? []) {
    if (typeof sd.rotation === "number" || typeof sd.rotation === "string") {
      // ffprobe reports the display matrix angle counter-clockwise.
      const ccw = Number(sd.rotation);
      if (Number.isFinite(ccw)) cw = -ccw;
      break;
    }
  }
  if (cw === undefined && stream.tags?.rotate !== undefined) {
    const t = Number(stream.tags.rotate);
    if (Number.isFinite(t)) cw = t; // the legacy tag is clockwise
  }
  if (cw === undefined) return 0;
  const q = Math.round(cw / 90) * 90;
  return ((q % 360) + 360) % 360;
}

/** Checks that a path names a readable file; throws ERR_FILE_NOT_FOUND / ERR_VIDEO_UNREADABLE. */
export async function assertVideoFile(path: string): Promise<void> {
  let st: Stats;
  try {
    st = await fsp.stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR")
      throw new TimelensError("ERR_FILE_NOT_FOUND", `Video file not found: ${path}`, { path }, { cause: e });
    throw new TimelensError(
      "ERR_VIDEO_UNREADABLE",
      `Cannot access video ${path}: ${(e as Error).message}`,
      { path },
      { cause: e },
    );
  }
  if (!st.isFile()) throw new TimelensError("ERR_VIDEO_UNREADABLE", `Not a file: ${path}`, { path });
  if (st.size === 0)
    throw new TimelensError("ERR_VIDEO_UNREADABLE", `Cannot read video ${path}: the file is empty`, { path });
}

/** ffmpeg arguments that make the decoder neither drop nor duplicate frames. */
export async function passthroughArgs(ffmpeg: string): Promise<string[]> {
  const v = await toolVersion(ffmpeg).catch(() => ({ major: 5, minor: 1 }));
  return fpsModeArgs(v, "passthrough");
}

/**
 * Counts the frames ffmpeg's decoder yields for one stream (a full decode, no conversion).
 * Exported for tests and diagnostics.
 */
export async function countDecodedFrames(
  path: string,
  streamIndex: number,
  opts: FfmpegOptions & { signal?: AbortSignal } = {},
): Promise<number> {
  const ffmpeg = resolveFfmpeg(opts);
  const args = [
    "-hide_banner",
    "-nostdin",
    "-nostats",
    "-v",
    "error",
    "-i",
    path,
    "-map",
    `0:${streamIndex}`,
    "-an",
    "-sn",
    "-dn",
    ...(await passthroughArgs(ffmpeg)),
    "-f",
    "null",
    "-",
    "-progress",
    "pipe:1",
  ];
  const r = await runTool(ffmpeg, args, { signal: opts.signal });
  let frames = NaN;
  for (const m of r.stdout.matchAll(/^frame=(\d+)$/gm)) frames = Number(m[1]);
  if (r.code !== 0 || !Number.isFinite(frames)) {
    throw new TimelensError(
      "ERR_VIDEO_UNREADABLE",
      `Cannot decode video ${path}: ${stderrTail(r.stderr) || `ffmpeg exited with code ${r.code}`}`,
      {
        path,
        stderr: stderrTail(r.stderr, 20),
      },
    );
  }
  return frames;
}

/**
 * Probes a video: decoder frame count, average frame rate, display size (rotation applied as a
 * player would), duration, codec. Throws TimelensError: ERR_FILE_NOT_FOUND (no such file),
 * ERR_VIDEO_UNREADABLE (not a video, no video stream, corrupt or truncated, with ffprobe's
 * reason), ERR_FFMPEG_NOT_FOUND, ERR_ABORTED.
 */
export async function probeVideo(source: VideoSource, opts: ProbeOptions = {}): Promise<ProbedVideoDetails> {
  throwIfAborted(opts.signal, "probe");
  try {
    return await withVideoFile(source, async (file) => {
      const result = await probePath(file.path, opts);
      if (file.temporary) result.path = "<buffer>";
      return result;
    });
  } catch (e) {
    // ffprobe/ffmpeg killed by the signal: say which stage was cancelled
    if (opts.signal?.aborted) throw new AbortError("Aborted during probe", { stage: "probe" });
    throw e;
  }
}

/** Stream facts from one metadata-only ffprobe call (no frame counting). */
export interface StreamInfo {
  streamIndex: number;
  codec: string;
  codedWidth: number;
  codedHeight: number;
  /** Clockwise display rotation. */
  rotation: number;
  /** Display size (rotation applied). */
  width: number;
  height: number;
  format: string;
  pixelFormat?: string;
  /** Parsed ffprobe fields the frame count logic needs. */
  stream: FfprobeStream;
  formatDuration: number;
}

/**
 * Reads the stream layout of a file with one ffprobe call (fast: no decoding, no packet scan).
 * The stream is the first video stream that is not a cover picture (ffmpeg's `V:0`).
 */
export async function probeStream(
  path: string,
  opts: FfprobeOptions & { signal?: AbortSignal } = {},
): Promise<StreamInfo> {
  await assertVideoFile(path);
  const ffprobe = resolveFfprobe({
    ffprobePath: opts.ffprobePath,
    ffmpegPath: opts.ffmpegPath,
    usePackages: opts.usePackages,
  });
  const r = await runTool(ffprobe, ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", path], {
    signal: opts.signal,
  });
  if (r.code !== 0) {
    throw new TimelensError(
      "ERR_VIDEO_UNREADABLE",
      `Cannot read video ${path}: ${stderrTail(r.stderr) || `ffprobe exited with code ${r.code}`}`,
      {
        path,
        stderr: stderrTail(r.stderr, 20),
      },
    );
  }
  let info: FfprobeOutput;
  try {
    info = JSON.parse(r.stdout) as FfprobeOutput;
  } catch (e) {
    throw new TimelensError(
      "ERR_VIDEO_UNREADABLE",
      `Cannot read video ${path}: ffprobe printed no usable description`,
      { path },
      { cause: e },
    );
  }
  const streams = info.streams ?? [];
  const videos = streams.filter((s) => s.codec_type === "video");
  const stream = videos.find((s) => !s.disposition?.attached_pic);
  if (!stream) {
    const kinds = [...new Set(streams.map((s) => s.codec_type ?? "unknown"))];
    const what =
      videos.length > 0 ? "only a cover picture" : kinds.length > 0 ? `only ${kinds.join(", ")}` : "no streams";
    throw new TimelensError(
      "ERR_VIDEO_UNREADABLE",
      `Cannot read video ${path}: no video stream (the file has ${what})`,
      { path, streams: kinds },
    );
  }
  const codedWidth = stream.width ?? 0;
  const codedHeight = stream.height ?? 0;
  if (!(codedWidth > 0 && codedHeight > 0)) {
    throw new TimelensError(
      "ERR_VIDEO_UNREADABLE",
      `Cannot read video ${path}: the video stream has no frame size (${stream.codec_name ?? "unknown codec"})`,
      {
        path,
      },
    );
  }
  const rotation = rotationOf(stream);
  const swap = rotation === 90 || rotation === 270;
  return {
    streamIndex: stream.index,
    codec: stream.codec_name ?? "unknown",
    codedWidth,
    codedHeight,
    rotation,
    width: swap ? codedHeight : codedWidth,
    height: swap ? codedWidth : codedHeight,
    format: info.format?.format_name ?? "unknown",
    pixelFormat: stream.pix_fmt,
    stream,
    formatDuration: parseNum(info.format?.duration),
  };
}

async function probePath(path: string, opts: ProbeOptions): Promise<ProbedVideoDetails> {
  const mode = opts.countFrames ?? "auto";
  if (mode !== "auto" && mode !== "decode" && mode !== "container")
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `countFrames must be "auto", "decode" or "container", got ${JSON.stringify(mode)}`,
    );
  const meta = await probeStream(path, opts);
  const { stream, codedWidth, codedHeight, rotation } = meta;
  const ffprobe = resolveFfprobe({
    ffprobePath: opts.ffprobePath,
    ffmpegPath: opts.ffmpegPath,
    usePackages: opts.usePackages,
  });
  let duration = parseNum(stream.duration);
  if (!(duration > 0)) duration = meta.formatDuration;
  let fps = parseRate(stream.avg_frame_rate);
  const containerFrames = parseNum(stream.nb_frames);
  const hasContainerCount = Number.isInteger(containerFrames) && containerFrames > 0;

  let totalFrames: number | undefined;
  let source: "container" | "decode" = "decode";
  if (hasContainerCount && mode === "container") {
    totalFrames = containerFrames;
    source = "container";
  } else if (hasContainerCount && mode === "auto") {
    const rate = Number.isFinite(fps) ? fps : parseRate(stream.r_frame_rate);
    const expected = duration * rate;
    // MP4/MOV derive both from the same sample table, so a sound file agrees to within a
    // frame; an edit list that hides frames (a stream-copied cut) shortens only the duration.
    const consistent = Number.isFinite(expected) && Math.abs(expected - containerFrames) <= 1.001;
    if (consistent) {
      const pk = await runTool(
        ffprobe,
        [
          "-v",
          "error",
          "-print_format",
          "json",
          "-count_packets",
          "-select_streams",
          String(stream.index),
          "-show_entries",
          "stream=nb_read_packets",
          path,
        ],
        { signal: opts.signal },
      );
      let packets = NaN;
      try {
        if (pk.code === 0) packets = parseNum((JSON.parse(pk.stdout) as FfprobeOutput).streams?.[0]?.nb_read_packets);
      } catch {
        // unreadable answer: count by decoding below
      }
      if (packets === containerFrames) {
        totalFrames = containerFrames;
        source = "container";
      }
    }
  }
  if (totalFrames === undefined) {
    totalFrames = await countDecodedFrames(path, stream.index, {
      ffmpegPath: opts.ffmpegPath,
      usePackages: opts.usePackages,
      signal: opts.signal,
    });
  }
  if (opts.signal?.aborted) throw new AbortError("Aborted during probe", { stage: "probe" });
  if (totalFrames <= 0) {
    throw new TimelensError("ERR_VIDEO_UNREADABLE", `Cannot read video ${path}: the decoder yields no frames`, {
      path,
    });
  }
  if (!(fps > 0)) fps = parseRate(stream.r_frame_rate);
  if (!(fps > 0) && duration > 0) fps = totalFrames / duration;
  if (!(fps > 0)) throw new TimelensError("ERR_VIDEO_UNREADABLE", `Cannot read video ${path}: no frame rate`, { path });
  if (!(duration > 0)) duration = totalFrames / fps;

  return {
    path,
    totalFrames,
    fps,
    width: meta.width,
    height: meta.height,
    duration,
    codec: meta.codec,
    rotation,
    streamIndex: stream.index,
    codedWidth,
    codedHeight,
    containerFrames: hasContainerCount ? containerFrames : undefined,
    frameCountSource: source,
    format: meta.format,
    pixelFormat: meta.pixelFormat,
  };
}
