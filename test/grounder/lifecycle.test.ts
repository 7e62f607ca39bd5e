/**
 * Lifecycle of Grounder and VideoSession while work is in flight: dispose() and close() stop
 * a query that waits for ffmpeg (between native calls), close() removes a Buffer's temp file
 * only after the query has stopped, disposing closes every open session, the probe is
 * cancellable and runs the configured ffmpeg/ffprobe, and decoding runs no second ffprobe.
 * Slow tools are shell wrappers around the real ones that log their arguments.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Grounder, type VideoSession } from "../../src/session";
import { locateFfmpeg, locateFfprobe } from "../../src/video/ffmpeg";
import type { GroundOptions } from "../../src/types";
import { fixturePair } from "../helpers/models";
import { makeClip } from "../helpers/clips";

const FAST: GroundOptions = { totalTokens: 256, minTokens: 4, maxNewTokens: 12 };
const QUERY = "a red box moves to the right";

let dir: string;
let clip: string;
let mkv: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "timelens-lifecycle-"));
  clip = makeClip({ seconds: 6 });
  mkv = makeClip({ seconds: 6, container: "mkv" });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A wrapper for `real` that logs each call's arguments, and waits `delay` seconds before
 * decoding (not for `-version`). The sleep has its own stdio, so killing the wrapper closes
 * the pipes at once, as killing ffmpeg would.
 */
function wrapper(real: string, delay: number): { path: string; calls: () => string[] } {
  const id = n++;
  const log = join(dir, `calls-${id}.log`);
  const path = join(dir, `tool-${id}.sh`);
  writeFileSync(log, "");
  writeFileSync(
    path,
    [
      "#!/bin/sh",
      `echo "$*" >> '${log}'`,
      `case "$*" in *-version*) exec '${real}' "$@";; esac`,
      delay > 0 ? `sleep ${delay} </dev/null >/dev/null 2>&1` : "",
      `exec '${real}' "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(path, 0o755);
  return { path, calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean) };
}

const ffmpeg = () => locateFfmpeg().path;
const ffprobe = () => locateFfprobe().path;

/** Resolves once `check` holds (polled every 10 ms; the test's own timeout bounds it). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 10));
}

const isDecodeCall = (args: string) => args.includes("rawvideo");
const isCountCall = (args: string) => args.includes("-f null");

function load(tools: { ffmpegPath?: string; ffprobePath?: string }): Promise<Grounder> {
  return Grounder.load({ ...fixturePair("tiny-qwen3vl"), contextSize: 2048, threads: 2, ...tools });
}

/** The temp file a Buffer session decodes from (private; read for the test only). */
const sessionPath = (s: VideoSession): string => (s as unknown as { init: { path: string } }).init.path;

test("dispose() while a query waits for ffmpeg stops it promptly with ERR_DISPOSED", async () => {
  const slow = wrapper(ffmpeg(), 60);
  const g = await load({ ffmpegPath: slow.path, ffprobePath: ffprobe() });
  const session = await g.openVideo(clip, FAST);
  const query = session.ground(QUERY, FAST).catch((e) => e);
  await until(() => slow.calls().some(isDecodeCall));
  const t0 = performance.now();
  await g.dispose();
  const err = await query;
  const ms = performance.now() - t0;
  expect(err).toMatchObject({ code: "ERR_DISPOSED" });
  expect(ms).toBeLessThan(10_000); // far below the wrapper's 60 s; bench/abort.ts has the figures
  expect(session.isClosed).toBe(true);
});

test("close() during a running query stops it, then removes the Buffer's temp file", async () => {
  const slow = wrapper(ffmpeg(), 1);
  const g = await load({ ffmpegPath: slow.path, ffprobePath: ffprobe() });
  try {
    const session = await g.openVideo(readFileSync(clip), FAST);
    const temp = sessionPath(session);
    expect(existsSync(temp)).toBe(true);
    const order: string[] = [];
    let tempAtQueryEnd: boolean | null = null;
    const query = session.ground(QUERY, FAST).then(
      () => order.push("query resolved"),
      (e) => {
        tempAtQueryEnd = existsSync(temp);
        order.push(`query ${e.code}`);
      },
    );
    await until(() => slow.calls().some(isDecodeCall));
    await session.close().then(() => order.push("closed"));
    await query;
    expect(order).toEqual(["query ERR_DISPOSED", "closed"]);
    expect(tempAtQueryEnd).toBe(true); // ffmpeg kept its file until the query had stopped
    expect(existsSync(temp)).toBe(false);
    await expect(session.ground(QUERY, FAST)).rejects.toMatchObject({ code: "ERR_DISPOSED" });
    await expect(session.close()).resolves.toBeUndefined();
  } finally {
    await g.dispose();
  }
});

test("disposing a Grounder closes its open sessions; dispose() twice is a no-op", async () => {
  const g = await load({});
  const byPath = await g.openVideo(clip, FAST);
  const byBytes = await g.openVideo(readFileSync(clip), FAST);
  const temp = sessionPath(byBytes);
  await byPath.ground(QUERY, FAST); // a live prefix in the KV cache
  await Promise.all([g.dispose(), g.dispose()]);
  expect(byPath.isClosed).toBe(true);
  expect(byBytes.isClosed).toBe(true);
  expect(existsSync(temp)).toBe(false);
  await expect(byPath.ground(QUERY, FAST)).rejects.toMatchObject({ code: "ERR_DISPOSED" });
  await expect(g.openVideo(clip)).rejects.toMatchObject({ code: "ERR_DISPOSED" });
  await expect(g.dispose()).resolves.toBeUndefined();
});

describe("probe", () => {
  test("an MKV is counted by decoding with the configured ffmpeg", async () => {
    const logged = wrapper(ffmpeg(), 0);
    const g = await load({ ffmpegPath: logged.path, ffprobePath: ffprobe() });
    try {
      const session = await g.openVideo(mkv, FAST);
      expect(session.video.frameCountSource).toBe("decode");
      expect(session.video.totalFrames).toBe(60);
      expect(logged.calls().filter(isCountCall).length).toBe(1);
    } finally {
      await g.dispose();
    }
  });

  test("an abort while the probe decodes an MKV kills it: AbortError at stage probe", async () => {
    const slow = wrapper(ffmpeg(), 60);
    const g = await load({ ffmpegPath: slow.path, ffprobePath: ffprobe() });
    try {
      const controller = new AbortController();
      const opening = g.openVideo(mkv, { ...FAST, signal: controller.signal }).catch((e) => e);
      await until(() => slow.calls().some(isCountCall));
      const t0 = performance.now();
      controller.abort();
      const err = await opening;
      expect(err).toMatchObject({ name: "AbortError", code: "ERR_ABORTED", details: { stage: "probe" } });
      expect(performance.now() - t0).toBeLessThan(10_000);
      // the grounder is still usable (an MP4 probes with ffprobe alone, so the slow ffmpeg is not run)
      const session = await g.openVideo(clip, FAST);
      expect(session.plan.indices.length).toBe(12);
      await session.close();
    } finally {
      await g.dispose();
    }
  });

  test("dispose() during the probe rejects the open with ERR_DISPOSED", async () => {
    const slow = wrapper(ffmpeg(), 60);
    const g = await load({ ffmpegPath: slow.path, ffprobePath: ffprobe() });
    const opening = g.openVideo(mkv, FAST).catch((e) => e);
    await until(() => slow.calls().some(isCountCall));
    await g.dispose();
    await expect(opening).resolves.toMatchObject({ code: "ERR_DISPOSED" });
  });

  test("the probe runs once: decoding a planned video runs no ffprobe of its own", async () => {
    const probe = wrapper(ffprobe(), 0);
    const g = await load({ ffprobePath: probe.path });
    try {
      const session = await g.openVideo(clip, FAST);
      const afterOpen = probe.calls().length;
      expect(afterOpen).toBeGreaterThan(0);
      const r = await session.ground(QUERY, FAST);
      expect(r.timings.prefixSource).toBe("built");
      expect(r.timings.decodeMs).toBeGreaterThan(0);
      expect(probe.calls().length).toBe(afterOpen);
    } finally {
      await g.dispose();
    }
  });
});

test("one clock per call: Grounder.ground's progress starts at the probe and totalMs covers it", async () => {
  const g = await load({});
  try {
    const seen: Array<{ stage: string; elapsedMs: number }> = [];
    const r = await g.ground(clip, QUERY, {
      ...FAST,
      onProgress: (p) => seen.push({ stage: p.stage, elapsedMs: p.elapsedMs }),
    });
    expect(seen[0].stage).toBe("probe");
    for (let i = 1; i < seen.length; i++) expect(seen[i].elapsedMs).toBeGreaterThanOrEqual(seen[i - 1].elapsedMs);
    const probeDone = seen.filter((s) => s.stage === "probe").at(-1)!;
    expect(probeDone.elapsedMs).toBeGreaterThanOrEqual(r.timings.probeMs);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(seen.at(-1)!.elapsedMs);
    const t = r.timings;
    expect(t.totalMs).toBeGreaterThanOrEqual(t.probeMs + t.generateMs);
    expect(t.decodeWaitMs).toBeGreaterThan(0);
    expect(t.decodeWaitMs!).toBeLessThanOrEqual(t.decodeMs + 1);
  } finally {
    await g.dispose();
  }
});
