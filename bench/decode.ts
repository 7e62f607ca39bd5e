/**
 * Decode benchmark (figures, not a pass/fail test).
 *
 *   npx tsx bench/decode.ts            or   npm run bench -- decode
 *
 * (a) Throughput on a 2-minute 1080p30 H.264 file at the reference 2 fps sampling:
 *     readFrames (one ffmpeg, `select` keeps the 240 planned frames, resize here) against the
 *     naive pipeline (ffmpeg converts every frame to full-size RGB, JS keeps the planned ones and
 *     resizes them), measured in the same run on the same plan.
 * (b) Peak RSS of a process running readFrames over a 30-second and a 10-minute 1080p video,
 *     each in its own child process.
 * Videos are generated on first use into bench/out/ (gitignored): a 30 s testsrc2 clip encoded
 * with x264 ultrafast, then stream-copied end to end (concat) into the longer ones.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { readFrames } from "../src/video/decode";
import { resolveFfmpeg } from "../src/video/ffmpeg";
import { planFrames } from "../src/video/plan";
import { passthroughArgs, probeVideo } from "../src/video/probe";
import { createResizer } from "../src/video/resize";
import { wasmSimdAvailable } from "../src/video/resize-wasm";

const OUT = join(__dirname, "out");

function ensureClip(seconds: 30 | 120 | 600): string {
  mkdirSync(OUT, { recursive: true });
  const ffmpeg = resolveFfmpeg();
  const base = join(OUT, "bench-1080p-30s.mp4");
  if (!existsSync(base)) {
    const tmp = `${base}.tmp.mp4`;
    execFileSync(ffmpeg, [
      "-hide_banner",
      "-loglevel",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=1920x1080:rate=30:duration=30",
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-g",
      "60",
      "-pix_fmt",
      "yuv420p",
      tmp,
    ]);
    renameSync(tmp, base);
  }
  if (seconds === 30) return base;
  const out = join(OUT, `bench-1080p-${seconds}s.mp4`);
  if (!existsSync(out)) {
    const list = join(OUT, `concat-${seconds}.txt`);
    writeFileSync(
      list,
      Array.from({ length: seconds / 30 }, () => `file '${base.replace(/'/g, "'\\''")}'`).join("\n") + "\n",
    );
    const tmp = `${out}.tmp.mp4`;
    execFileSync(ffmpeg, [
      "-hide_banner",
      "-loglevel",
      "error",
      "-y",
      "-f",
      "concat",
      "-safe",
      "0",
      "-i",
      list,
      "-c",
      "copy",
      tmp,
    ]);
    renameSync(tmp, out);
    rmSync(list, { force: true });
  }
  return out;
}

/** Naive: every frame to full-size RGB through the pipe, keep the planned ones, resize them. */
async function naive(
  path: string,
  indices: number[],
  srcW: number,
  srcH: number,
  outW: number,
  outH: number,
): Promise<number> {
  const ffmpeg = resolveFfmpeg();
  const child = spawn(
    ffmpeg,
    [
      "-hide_banner",
      "-nostdin",
      "-v",
      "error",
      "-i",
      path,
      "-map",
      "0:V:0",
      ...(await passthroughArgs(ffmpeg)),
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "pipe:1",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const frameBytes = srcW * srcH * 3;
  const resizer = createResizer(srcW, srcH, outW, outH);
  const want = new Set(indices);
  const buf = new Uint8Array(frameBytes);
  let filled = 0;
  let n = 0;
  let kept = 0;
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(chunk.length - off, frameBytes - filled);
      buf.set(chunk.subarray(off, off + take), filled);
      filled += take;
      off += take;
      if (filled === frameBytes) {
        filled = 0;
        if (want.has(n)) {
          resizer.resize(buf);
          kept++;
        }
        n++;
      }
    }
  }
  return kept;
}

/** Child-process entry: decode a file's 2 fps plan with readFrames, print peak RSS as JSON. */
async function rssChild(path: string): Promise<void> {
  const video = await probeVideo(path);
  const plan = planFrames(video);
  const baselineKb = Math.round(process.memoryUsage().rss / 1024);
  let frames = 0;
  let ffmpegPeakKb = 0;
  let pid: number | undefined;
  const timer = setInterval(() => {
    if (pid === undefined) return;
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) ffmpegPeakKb = Math.max(ffmpegPeakKb, Number(m[1]));
    } catch {
      // not Linux, or exited
    }
  }, 100);
  const t0 = performance.now();
  for await (const f of readFrames(path, plan, { onSpawn: (c) => (pid = c.pid) })) {
    frames++;
    void f;
  }
  clearInterval(timer);
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(
    JSON.stringify({
      frames,
      seconds,
      maxRssKb: process.resourceUsage().maxRSS,
      baselineKb,
      ffmpegPeakKb,
      videoSeconds: video.duration,
      totalFrames: video.totalFrames,
      plan: `${plan.width}x${plan.height}`,
    }) + "\n",
  );
}

function runChild(path: string): {
  frames: number;
  seconds: number;
  maxRssKb: number;
  baselineKb: number;
  ffmpegPeakKb: number;
  videoSeconds: number;
  totalFrames: number;
  plan: string;
} {
  const r = spawnSync(process.execPath, [...process.execArgv, __filename, "--rss-child", path], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`RSS child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

export async function runDecodeBench(): Promise<void> {
  console.log(`decode bench: ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ""}, node ${process.version}`);
  const t0 = performance.now();
  const twoMin = ensureClip(120);
  const short = ensureClip(30);
  const long = ensureClip(600);
  console.log(`videos ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (bench/out/)`);

  // (a) throughput
  const video = await probeVideo(twoMin);
  const plan = planFrames(video);
  console.log(
    `\n(a) ${twoMin.split("/").pop()}: ${video.totalFrames} frames ${video.width}x${video.height} @ ` +
      `${video.fps} fps; plan ${plan.indices.length} frames at ${plan.width}x${plan.height}`,
  );
  // warm up the resizer JIT a little so both pipelines start equal
  createResizer(video.width, video.height, plan.width, plan.height).resize(
    new Uint8Array(video.width * video.height * 3),
  );
  let t = performance.now();
  let n = 0;
  for await (const f of readFrames(twoMin, plan)) {
    void f;
    n++;
  }
  const ours = (performance.now() - t) / 1000;
  t = performance.now();
  const kept = await naive(twoMin, plan.indices, video.width, video.height, plan.width, plan.height);
  const naiveS = (performance.now() - t) / 1000;
  t = performance.now();
  execFileSync(resolveFfmpeg(), [
    "-hide_banner",
    "-v",
    "error",
    "-nostdin",
    "-i",
    twoMin,
    "-map",
    "0:V:0",
    ...(await passthroughArgs(resolveFfmpeg())),
    "-f",
    "null",
    "-",
  ]);
  const decodeOnly = (performance.now() - t) / 1000;
  const resizer = createResizer(video.width, video.height, plan.width, plan.height);
  const sample = new Uint8Array(video.width * video.height * 3).map((_, i) => (i * 7919) & 255);
  for (let i = 0; i < 10; i++) resizer.resize(sample);
  t = performance.now();
  for (let i = 0; i < 20; i++) resizer.resize(sample);
  const perResize = (performance.now() - t) / 20;
  console.log(
    `  readFrames: ${n} frames in ${ours.toFixed(2)} s = ${(n / ours).toFixed(1)} planned frames/s ` +
      `(${(video.totalFrames / ours).toFixed(0)} video frames/s decoded)`,
  );
  console.log(
    `  naive     : ${kept} frames in ${naiveS.toFixed(2)} s = ${(kept / naiveS).toFixed(1)} planned ` +
      `frames/s (${(video.totalFrames / naiveS).toFixed(0)} video frames/s decoded)`,
  );
  console.log(`  speed-up ${(naiveS / ours).toFixed(2)}x`);
  console.log(
    `  for scale: ffmpeg decoding every frame to nothing takes ${decodeOnly.toFixed(2)} s ` +
      `(${(video.totalFrames / decodeOnly).toFixed(0)} frames/s); our resize ${perResize.toFixed(1)} ms/frame ` +
      `(${resizer.mode}, ${wasmSimdAvailable() ? "WebAssembly SIMD" : "JavaScript"}) = ` +
      `${((perResize * n) / 1000).toFixed(2)} s of the ${n} frames`,
  );

  // (b) peak RSS, separate processes
  console.log(`\n(b) peak RSS of a readFrames process (2 fps plan), one child process per video:`);
  for (const p of [short, long]) {
    const r = runChild(p);
    console.log(
      `  ${p.split("/").pop()}: ${r.videoSeconds.toFixed(0)} s video, ${r.totalFrames} frames, ${r.frames} ` +
        `planned at ${r.plan}: ${r.seconds.toFixed(1)} s, node peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MiB ` +
        `(${(r.baselineKb / 1024).toFixed(0)} MiB before ` +
        `decoding)${r.ffmpegPeakKb ? `, ffmpeg peak RSS ${(r.ffmpegPeakKb / 1024).toFixed(0)} MiB` : ""}`,
    );
  }
}

if (require.main === module) {
  const i = process.argv.indexOf("--rss-child");
  const job = i >= 0 ? rssChild(process.argv[i + 1]) : runDecodeBench();
  job.catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
