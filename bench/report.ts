/**
 * Report benchmark (figures, not a pass/fail test).
 *
 *   npm run bench -- report
 *
 * Peak RSS and wall time of a process that renders the HTML report and the PNG timeline of one
 * grounding result (the real 2 fps frame plan, a span in the middle) over a 1-minute and a
 * 1-hour video, each in its own child process, side by side in one run. The hour has 384 pairs
 * (the sampler's 768-frame cap), of which the report shows 100; the minute has 60, all shown.
 * Videos: a 60 s 320x240 10 fps testsrc2 clip in bench/out/ (gitignored), stream-copied 60 times
 * for the hour.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getProfile } from "../src/prompt/profiles";
import { renderReport, renderTimelinePng } from "../src/report/index";
import { resolveFfmpeg } from "../src/video/ffmpeg";
import { planFrames } from "../src/video/plan";
import { probeVideo } from "../src/video/probe";
import type { GroundingResult } from "../src/types";
import { BENCH_OUT, fmt, table } from "./util";

function clip(minutes: 1 | 60): string {
  mkdirSync(BENCH_OUT, { recursive: true });
  const ffmpeg = resolveFfmpeg();
  const base = join(BENCH_OUT, "report-320x240-10fps-60s.mp4");
  if (!existsSync(base)) {
    execFileSync(ffmpeg, [
      "-hide_banner",
      "-loglevel",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=320x240:rate=10:duration=60",
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-g",
      "50",
      "-pix_fmt",
      "yuv420p",
      `${base}.tmp.mp4`,
    ]);
    renameSync(`${base}.tmp.mp4`, base);
  }
  if (minutes === 1) return base;
  const out = join(BENCH_OUT, "report-320x240-10fps-3600s.mp4");
  if (!existsSync(out)) {
    const list = join(BENCH_OUT, "report-concat.txt");
    writeFileSync(list, Array.from({ length: 60 }, () => `file '${base}'`).join("\n") + "\n");
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
      `${out}.tmp.mp4`,
    ]);
    renameSync(`${out}.tmp.mp4`, out);
    rmSync(list, { force: true });
  }
  return out;
}

async function child(path: string): Promise<void> {
  const probed = await probeVideo(path);
  const plan = planFrames(probed, { profile: getProfile("timelens-8b") });
  const d = probed.duration;
  const result = {
    start: d * 0.4,
    end: d * 0.45,
    spans: [[d * 0.4, d * 0.45]],
    parsed: true,
    text: "",
    query: "bench",
    profile: "timelens-8b",
    stopReason: "eog",
    video: {
      duration: d,
      fps: probed.fps,
      totalFrames: probed.totalFrames,
      width: probed.width,
      height: probed.height,
    },
    frames: {
      count: plan.indices.length,
      width: plan.width,
      height: plan.height,
      pairs: plan.pairs.length,
      tokensPerPair: plan.tokensPerPair,
      indices: plan.indices,
      times: plan.frameTimes,
      labels: plan.pairs.map((p) => p.label),
    },
    timings: {
      probeMs: 0,
      decodeMs: 0,
      encodeMs: 0,
      prefillMs: 0,
      generateMs: 0,
      totalMs: 0,
      tokensPerSecond: 0,
      reusedPrefix: false,
      prefixSource: "built",
      devices: { encode: "CPU", llm: "CPU" },
    },
    usage: { promptTokens: 0, imageTokens: 0, generatedTokens: 0, contextSize: 0 },
  } as unknown as GroundingResult;
  const baselineKb = process.resourceUsage().maxRSS;
  const t0 = performance.now();
  const html = await renderReport(result, { video: path });
  const png = await renderTimelinePng(result, { video: path });
  const ms = performance.now() - t0;
  const thumbs = (html.match(/<img /g) ?? []).length;
  process.stdout.write(
    `${JSON.stringify({ ms, maxRssKb: process.resourceUsage().maxRSS, baselineKb, pairs: plan.pairs.length, thumbs, htmlBytes: html.length, pngBytes: png.length, plan: `${plan.width}x${plan.height}` })}\n`,
  );
}

export async function runReportBench(): Promise<void> {
  const rows = [
    ["video", "pairs", "thumbnails", "plan size", "HTML", "PNG", "time (HTML + PNG)", "peak RSS", "RSS before"],
  ];
  for (const minutes of [1, 60] as const) {
    const path = clip(minutes);
    const r = spawnSync(process.execPath, [...process.execArgv, __filename, "--report-child", path], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    const o = JSON.parse(r.stdout.trim().split("\n").pop()!);
    rows.push([
      `${minutes} min`,
      String(o.pairs),
      String(o.thumbs),
      o.plan,
      `${(o.htmlBytes / 1024).toFixed(0)} KiB`,
      `${(o.pngBytes / 1024).toFixed(0)} KiB`,
      fmt(o.ms),
      `${(o.maxRssKb / 1024).toFixed(0)} MiB`,
      `${(o.baselineKb / 1024).toFixed(0)} MiB`,
    ]);
  }
  console.log(table(rows));
}

const at = process.argv.indexOf("--report-child");
if (at >= 0) void child(process.argv[at + 1]);
