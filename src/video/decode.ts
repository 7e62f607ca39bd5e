/**
 * readFrames: decodes exactly the planned frames with one ffmpeg process and yields them as
 * RGB uint8 at the planned size, one at a time, as they are decoded.
 *
 * How: ffmpeg decodes the stream with neither drops nor duplicates (`-fps_mode passthrough`),
 * a `select` filter keeps the planned frame numbers (n counts decoded frames, the reference
 * reader's numbering), the display rotation is applied to the kept frames only (as ffmpeg's
 * autorotate would: transpose/flip), and they leave as full-size rgb24 on stdout. Each frame is
 * then resized with the reference's antialiased bicubic (resize.ts) on a worker thread
 * (resize-thread.ts; same code, same bytes) and yielded. The iterator reads stdout only when the
 * consumer asks for the next frame, so ffmpeg blocks on the pipe and memory stays at a few
 * frames whatever the video's length.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { AbortError, TimelensError, throwIfAborted } from "../errors";
import { resolveFfmpeg, stderrTail } from "./ffmpeg";
import { passthroughArgs, probeStream, type StreamLayout } from "./probe";
import type { ResizeOptions } from "./resize";
import { createAsyncResizer } from "./resize-thread";
import { videoFile, type VideoSource } from "./temp-video";
import type { Frame, FramePlan } from "./types";

export interface ReadFramesOptions {
  /** Aborting kills ffmpeg at once; the iterator then rejects with AbortError. */
  signal?: AbortSignal;
  /** Explicit ffmpeg binary (else env, the @ffmpeg-installer package, PATH; see ffmpeg.ts). */
  ffmpegPath?: string;
  /** Explicit ffprobe binary, used to read the stream layout and rotation (unless `stream` is given). */
  ffprobePath?: string;
  /**
   * The stream layout probeVideo already returned (a ProbedVideoDetails fits): decoding then
   * runs no ffprobe of its own. Without it the file is probed for it first.
   */
  stream?: StreamLayout;
  /** Look in the @ffmpeg-installer / @ffprobe-installer packages (default true); see resolveFfmpeg. */
  usePackages?: boolean;
  /** Called with each frame just before it is yielded (progress reporting). */
  onFrame?: (frame: Frame, position: number, total: number) => void;
  /**
   * Apply the container's display rotation like a player (default true). False decodes the
   * stored orientation; the plan must then be made for the stored (coded) size.
   */
  autorotate?: boolean;
  /** Resampling reference and PyTorch build (default torchvision float path, torch2-simd). */
  resample?: ResizeOptions;
  /**
   * Where frames are resized: "worker" (default) on a shared worker thread, so the JS thread
   * stays free; "main" on the JS thread. The bytes are the same either way.
   */
  resizeThread?: "worker" | "main";
  /** ffmpeg decoder threads (default: ffmpeg's choice, all cores). */
  threads?: number;
  /** Called with the ffmpeg child process right after it starts (tests, diagnostics). */
  onSpawn?: (child: ChildProcess) => void;
}

/**
 * ffmpeg `select` expression keeping the given frame numbers (sorted, unique). Runs of three or
 * more consecutive numbers become between(); the terms are summed as a balanced tree because
 * ffmpeg's expression parser refuses a flat chain of more than about 100 terms. Commas are
 * escaped for the filtergraph parser.
 */
export function selectExpression(frames: readonly number[]): string {
  const terms: string[] = [];
  for (let i = 0; i < frames.length; ) {
    let j = i;
    while (j + 1 < frames.length && frames[j + 1] === frames[j] + 1) j++;
    if (j - i >= 2) terms.push(`between(n\\,${frames[i]}\\,${frames[j]})`);
    else for (let k = i; k <= j; k++) terms.push(`eq(n\\,${frames[k]})`);
    i = j + 1;
  }
  const sum = (lo: number, hi: number): string => {
    if (hi - lo === 1) return terms[lo];
    const mid = (lo + hi) >>> 1;
    return `(${sum(lo, mid)}+${sum(mid, hi)})`;
  };
  return terms.length === 0 ? "0" : sum(0, terms.length);
}

function rotationFilters(rotation: number): string[] {
  switch (rotation) {
    case 90:
      return ["transpose=clock"];
    case 180:
      return ["hflip", "vflip"];
    case 270:
      return ["transpose=cclock"];
    default:
      return [];
  }
}

function validatePlan(plan: FramePlan): void {
  const bad = (msg: string) => new TimelensError("ERR_INVALID_ARGUMENT", `Invalid frame plan: ${msg}`);
  if (!plan || !Array.isArray(plan.indices) || plan.indices.length === 0) throw bad("no frame indices");
  for (let i = 0; i < plan.indices.length; i++) {
    const v = plan.indices[i];
    if (!Number.isInteger(v) || v < 0) throw bad(`index ${i} is ${v}`);
    if (i > 0 && v < plan.indices[i - 1])
      throw bad(`indices must be in ascending order (position ${i}: ${v} after ${plan.indices[i - 1]})`);
  }
  if (!(Number.isInteger(plan.width) && plan.width > 0 && Number.isInteger(plan.height) && plan.height > 0))
    throw bad(`size ${plan.width}x${plan.height}`);
}

/**
 * Decodes the planned frames of a video, in plan order, RGB uint8 at plan.width x plan.height.
 * A frame number listed twice is yielded twice. Breaking out of the loop (or calling return())
 * kills ffmpeg. Errors: ERR_VIDEO_UNREADABLE (ffmpeg failed, or the video has fewer frames than
 * planned; with ffmpeg's stderr tail), ERR_FILE_NOT_FOUND, ERR_FFMPEG_NOT_FOUND, ERR_ABORTED.
 */
export function readFrames(
  source: VideoSource,
  plan: FramePlan,
  options: ReadFramesOptions = {},
): AsyncGenerator<Frame, void, undefined> {
  validatePlan(plan);
  if (typeof source === "string") return readFramesFromPath(source, plan, options);
  if (!(source instanceof Uint8Array))
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      "A video must be a file path or a Buffer/Uint8Array of the file's bytes",
    );
  // Bytes: decoded from a temporary file that lives as long as the iteration.
  return (async function* () {
    const file = await videoFile(source);
    try {
      yield* readFramesFromPath(file.path, plan, options);
    } finally {
      await file.release();
    }
  })();
}

async function* readFramesFromPath(
  path: string,
  plan: FramePlan,
  options: ReadFramesOptions,
): AsyncGenerator<Frame, void, undefined> {
  const signal = options.signal;
  throwIfAborted(signal, "decode");
  const autorotate = options.autorotate ?? true;
  const meta =
    options.stream ??
    (await probeStream(path, {
      ffprobePath: options.ffprobePath,
      ffmpegPath: options.ffmpegPath,
      usePackages: options.usePackages,
      signal,
    }));
  const srcW = autorotate ? meta.width : meta.codedWidth;
  const srcH = autorotate ? meta.height : meta.codedHeight;
  if (
    plan.sourceWidth !== undefined &&
    plan.sourceHeight !== undefined &&
    (plan.sourceWidth !== srcW || plan.sourceHeight !== srcH)
  ) {
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `The frame plan was made for a ${plan.sourceWidth}x${plan.sourceHeight} video but ${path} decodes to ` +
        `${srcW}x${srcH}${autorotate ? "" : " (autorotate off)"}`,
      { planned: [plan.sourceWidth, plan.sourceHeight], decoded: [srcW, srcH] },
    );
  }
  const ffmpeg = resolveFfmpeg({ ffmpegPath: options.ffmpegPath, usePackages: options.usePackages });
  const unique = [...new Set(plan.indices)];
  const filters = [
    `select='${selectExpression(unique)}'`,
    ...(autorotate ? rotationFilters(meta.rotation) : []),
    `scale=${srcW}:${srcH}`,
    "format=rgb24",
  ];
  const args = [
    "-hide_banner",
    "-nostdin",
    "-nostats",
    "-v",
    "error",
    ...(options.threads !== undefined ? ["-threads", String(options.threads)] : []),
    "-noautorotate",
    "-i",
    path,
    "-map",
    `0:${meta.streamIndex}`,
    "-an",
    "-sn",
    "-dn",
    ...(await passthroughArgs(ffmpeg)),
    "-vf",
    filters.join(","),
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "pipe:1",
  ];
  throwIfAborted(signal, "decode");

  const child = spawn(ffmpeg, args, { stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
  options.onSpawn?.(child);
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (s: string) => {
    stderr += s;
    if (stderr.length > 65536) stderr = stderr.slice(-32768);
  });
  let spawnError: Error | undefined;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("error", (e) => {
      spawnError = e;
      resolve({ code: null, signal: null });
    });
    child.on("close", (code, sig) => resolve({ code, signal: sig }));
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const onAbort = () => kill();
  signal?.addEventListener("abort", onAbort, { once: true });

  const frameBytes = srcW * srcH * 3;
  const resizer = createAsyncResizer([srcW, srcH, plan.width, plan.height], options.resample, options.resizeThread);
  // Each full frame gets its own buffer: it is kept until its resized frame comes back.
  let full = new Uint8Array(frameBytes);
  let filled = 0;
  let uniquePos = 0; // next unique frame expected from ffmpeg
  let position = 0; // next plan position to yield
  const total = plan.indices.length;

  const emit = (data: Uint8Array, pos: number): Frame => {
    const frame: Frame = {
      index: plan.indices[pos],
      time: plan.frameTimes?.[pos] ?? NaN,
      width: plan.width,
      height: plan.height,
      data,
      position: pos,
    };
    options.onFrame?.(frame, pos, total);
    return frame;
  };

  try {
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const take = Math.min(chunk.length - off, frameBytes - filled);
        full.set(chunk.subarray(off, off + take), filled);
        filled += take;
        off += take;
        if (filled < frameBytes) break;
        filled = 0;
        if (uniquePos >= unique.length) {
          // More frames than selected: ffmpeg misbehaved; stop reading.
          throw new TimelensError(
            "ERR_VIDEO_UNREADABLE",
            `ffmpeg returned more frames than the ${unique.length} selected from ${path}`,
            { path },
          );
        }
        const resized = await resizer.resize(full);
        full = new Uint8Array(frameBytes);
        const frameNo = unique[uniquePos++];
        let first = true;
        while (position < total && plan.indices[position] === frameNo) {
          const data = first ? resized : resized.slice();
          first = false;
          yield emit(data, position++);
          if (signal?.aborted) throw new AbortError("Aborted during decode", { stage: "decode" });
        }
      }
    }
    const exit = await closed;
    if (signal?.aborted) throw new AbortError("Aborted during decode", { stage: "decode" });
    if (spawnError)
      throw new TimelensError(
        "ERR_FFMPEG_NOT_FOUND",
        `Could not run ${ffmpeg}: ${spawnError.message}`,
        { path: ffmpeg },
        { cause: spawnError },
      );
    if (exit.code !== 0) {
      throw new TimelensError(
        "ERR_VIDEO_UNREADABLE",
        `ffmpeg failed decoding ${path} (exit ${exit.code ?? exit.signal}): ${stderrTail(stderr) || "no message"}`,
        { path, exitCode: exit.code, stderr: stderrTail(stderr, 20) },
      );
    }
    if (position < total) {
      throw new TimelensError(
        "ERR_VIDEO_UNREADABLE",
        `The decoder stopped after ${position} of ${total} planned frames of ${path}: frame ` +
          `${plan.indices[position]} was never decoded (the video yields fewer frames than ` +
          `planned)${stderrTail(stderr) ? `. ffmpeg: ${stderrTail(stderr)}` : ""}`,
        {
          path,
          decoded: position,
          planned: total,
          missingIndex: plan.indices[position],
          stderr: stderrTail(stderr, 20),
        },
      );
    }
  } catch (e) {
    if (signal?.aborted && !(e instanceof AbortError))
      throw new AbortError("Aborted during decode", { stage: "decode" });
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    kill();
    child.stdout?.destroy();
    await closed;
  }
}
