/** `timelens doctor`: reports the ffmpeg/ffprobe that discovery finds and the addon that loads. */
import { existsSync } from "node:fs";
import { clearFfmpegCache, locateFfmpeg, locateFfprobe } from "../../src/video/ffmpeg";
import { runCli } from "../helpers/cli";

afterEach(() => {
  delete process.env.TIMELENS_FFMPEG;
  clearFfmpegCache();
});

test("--json names the same binaries discovery resolves, their versions, and the addon variant", async () => {
  const r = await runCli(["doctor", "--json"]);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.ffmpeg.path).toBe(locateFfmpeg().path);
  expect(report.ffmpeg.source).toBe(locateFfmpeg().source);
  expect(report.ffprobe.path).toBe(locateFfprobe().path);
  expect(report.ffmpeg.version).toMatch(/^\d+\.\d+ \(ffmpeg version /);
  expect(report.ffprobe.version).toMatch(/^\d+\.\d+ \(ffprobe version /);
  expect(["cpu", "vulkan", "cuda", "metal"]).toContain(report.addon.variant);
  expect(existsSync(report.addon.path)).toBe(true);
});

test("a broken ffmpeg setting is reported, with exit code 2", async () => {
  process.env.TIMELENS_FFMPEG = "/nonexistent/ffmpeg";
  const r = await runCli(["doctor"]);
  expect(r.code).toBe(2);
  expect(r.stdout).toMatch(/ffmpeg\s+MISSING: .*TIMELENS_FFMPEG/);
  expect(r.stdout).toMatch(/ffprobe\s+\//); // ffprobe is still found
});
