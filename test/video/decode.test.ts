/**
 * readFrames: the right frames (checked by content), at the planned size, in order, with
 * repeats; rotation like ffmpeg's own autorotate; abort, early exit and failures.
 */
import type { ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isTimelensError } from "../../src/errors";
import { readFrames, selectExpression } from "../../src/video/decode";
import { planFrames } from "../../src/video/plan";
import { probeVideo } from "../../src/video/probe";
import { createResizer } from "../../src/video/resize";
import type { Frame, FramePlan } from "../../src/video/types";
import { decodeAllRgb, numberAt, video } from "../helpers/videos";

/** A plan that keeps the source size (no resampling), for byte comparisons with ffmpeg. */
function rawPlan(indices: number[], width: number, height: number, fps = 30): FramePlan {
  return { indices, width, height, frameTimes: indices.map((i) => i / fps), pairs: [], tokensPerPair: 0, factor: 1 };
}

async function collect(it: AsyncIterable<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of it) out.push(f);
  return out;
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; name: string }> {
  try {
    await p;
  } catch (e) {
    expect(isTimelensError(e)).toBe(true);
    return e as { code: string; message: string; name: string };
  }
  throw new Error("expected a failure");
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "tl-decode-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A fake ffmpeg: answers -version, runs `body` for anything else. */
function fakeFfmpeg(name: string, body: string): string {
  const p = join(scratch, name);
  writeFileSync(p, `#!/bin/sh\ncase "$*" in *-version*) echo "ffmpeg version 5.1.0"; exit 0;; esac\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe("the planned frames, by content", () => {
  test.each(["numbered", "numbered-mkv"] as const)(
    "%s: every yielded frame is the planned frame number",
    async (name) => {
      const f = video(name);
      const v = await probeVideo(f.path);
      const plan = planFrames(v);
      // 300 frames at 30 fps: 10 s -> 20 frames; 64x48 is scaled up to 320x224
      expect(plan.indices).toHaveLength(20);
      const frames = await collect(readFrames(f.path, plan));
      expect(frames.map((x) => x.index)).toEqual(plan.indices);
      expect(frames.map((x) => x.position)).toEqual(plan.indices.map((_, i) => i));
      for (const [i, fr] of frames.entries()) {
        expect([fr.width, fr.height, fr.data.length]).toEqual([plan.width, plan.height, plan.width * plan.height * 3]);
        expect(fr.time).toBe(plan.frameTimes[i]);
        // flat frames stay flat through the resampler: the centre pixel carries the number
        expect(numberAt(fr.data, plan.width, plan.width >> 1, plan.height >> 1)).toBe(plan.indices[i]);
        expect(numberAt(fr.data, plan.width, 0, 0)).toBe(plan.indices[i]);
      }
    },
  );
  test("repeated indices are yielded again, as separate buffers", async () => {
    const f = video("numbered");
    const plan = rawPlan([0, 0, 5, 5, 5, 150, 299], 64, 48);
    const frames = await collect(readFrames(f.path, plan));
    expect(frames.map((x) => numberAt(x.data, 64, 10, 10))).toEqual([0, 0, 5, 5, 5, 150, 299]);
    expect(frames[0].data).not.toBe(frames[1].data);
    frames[0].data[0] = 255;
    expect(frames[1].data[0]).toBe(0);
  });
  test("more than 100 sparse frames (the select expression is a balanced sum)", async () => {
    const indices = Array.from({ length: 150 }, (_, i) => 2 * i);
    const frames = await collect(readFrames(video("numbered").path, rawPlan(indices, 64, 48)));
    expect(frames.map((x) => numberAt(x.data, 64, 3, 3))).toEqual(indices);
  });
  test("real H.264 (yuv420p, B-frames): bytes equal ffmpeg's own decode of those frames", async () => {
    const f = video("cfr30");
    const all = decodeAllRgb(f.path, 320, 240);
    expect(all).toHaveLength(120);
    const indices = [0, 1, 2, 33, 64, 65, 100, 119];
    const frames = await collect(readFrames(f.path, rawPlan(indices, 320, 240)));
    for (const [i, fr] of frames.entries())
      expect(Buffer.from(fr.data).equals(Buffer.from(all[indices[i]]))).toBe(true);
    // and with the plan's resize: our resampler applied to exactly those frames
    const plan = planFrames(await probeVideo(f.path));
    const resizer = createResizer(320, 240, plan.width, plan.height);
    const sized = await collect(readFrames(f.path, plan));
    for (const [i, fr] of sized.entries())
      expect(Buffer.from(fr.data).equals(Buffer.from(resizer.resize(all[plan.indices[i]])))).toBe(true);
  });
  test("clip plans decode the frames of the clip", async () => {
    const f = video("numbered");
    const plan = planFrames(await probeVideo(f.path), { start: 2.5, end: 7.5 });
    const frames = await collect(readFrames(f.path, plan));
    expect(frames.map((x) => numberAt(x.data, plan.width, 5, 5))).toEqual(plan.indices);
    expect(plan.indices[0]).toBe(75);
  });
  test("edit-listed MP4: frame numbers count decoded (shown) frames, like the probe", async () => {
    const f = video("editlist");
    const v = await probeVideo(f.path);
    const all = decodeAllRgb(f.path, 160, 120);
    expect(all).toHaveLength(v.totalFrames);
    const frames = await collect(readFrames(f.path, rawPlan([0, 74], 160, 120)));
    expect(Buffer.from(frames[0].data).equals(Buffer.from(all[0]))).toBe(true);
    expect(Buffer.from(frames[1].data).equals(Buffer.from(all[74]))).toBe(true);
  });
  test("odd-sized source and portrait plans come out at the planned size", async () => {
    for (const name of ["odd", "portrait"] as const) {
      const f = video(name);
      const plan = planFrames(await probeVideo(f.path));
      const frames = await collect(readFrames(f.path, plan));
      expect(frames).toHaveLength(plan.indices.length);
      for (const fr of frames) expect(fr.data.length).toBe(plan.width * plan.height * 3);
    }
  });
});

describe("rotation", () => {
  test("frames are turned like ffmpeg's autorotate (a player) and match the probed display size", async () => {
    const f = video("rotated");
    const v = await probeVideo(f.path);
    expect([v.width, v.height]).toEqual([32, 64]);
    const oracle = decodeAllRgb(f.path, 32, 64); // plain ffmpeg, autorotate on
    const frames = await collect(readFrames(f.path, rawPlan([0, 9], 32, 64, 10)));
    expect(Buffer.from(frames[0].data).equals(Buffer.from(oracle[0]))).toBe(true);
    expect(Buffer.from(frames[1].data).equals(Buffer.from(oracle[9]))).toBe(true);
    // the red square stored at the top-left: a clockwise quarter turn puts it top-right,
    // a counter-clockwise one (270 clockwise) bottom-left
    const red = (x: number, y: number) => {
      const o = (y * 32 + x) * 3;
      return frames[0].data[o] > 200 && frames[0].data[o + 1] < 60 && frames[0].data[o + 2] < 60;
    };
    if (v.rotation === 90) expect([red(28, 3), red(3, 60)]).toEqual([true, false]);
    else expect([red(3, 60), red(28, 3)]).toEqual([true, false]);
  });
  test("autorotate: false decodes the stored orientation", async () => {
    const frames = await collect(readFrames(video("rotated").path, rawPlan([0], 64, 32, 10), { autorotate: false }));
    const o = (3 * 64 + 3) * 3;
    expect(frames[0].data[o]).toBeGreaterThan(200); // red at the stored top-left
  });
  test("a plan made for another size is refused", async () => {
    const plan = { ...rawPlan([0], 64, 32, 10), sourceWidth: 64, sourceHeight: 32 };
    const e = await failure(collect(readFrames(video("rotated").path, plan)));
    expect(e.code).toBe("ERR_INVALID_ARGUMENT");
    expect(e.message).toMatch(/made for a 64x32 video .* decodes to 32x64/);
  });
});

describe("lifecycle", () => {
  test("breaking out of the loop kills ffmpeg (and it is reaped: no zombie)", async () => {
    let child: ChildProcess | undefined;
    const f = video("numbered");
    const plan = rawPlan(
      Array.from({ length: 300 }, (_, i) => i),
      64,
      48,
    );
    let n = 0;
    for await (const fr of readFrames(f.path, plan, { onSpawn: (c) => (child = c) })) {
      void fr;
      if (++n === 2) break;
    }
    expect(n).toBe(2);
    expect(child).toBeDefined();
    await exited(child!);
    expect(child!.exitCode !== null || child!.signalCode !== null).toBe(true);
    expect(alive(child!.pid!)).toBe(false);
  });
  test("aborting while waiting for a frame kills ffmpeg promptly and rejects with AbortError", async () => {
    const stuck = fakeFfmpeg("stuck-ffmpeg", "exec sleep 30");
    let child: ChildProcess | undefined;
    const ac = new AbortController();
    const it = readFrames(video("numbered").path, rawPlan([0, 1], 64, 48), {
      ffmpegPath: stuck,
      signal: ac.signal,
      onSpawn: (c) => (child = c),
    });
    const pending = it.next();
    // wait for the spawn itself (probe and version check first take longer on a loaded machine)
    while (!child) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    ac.abort();
    const e = await failure(pending);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(e.name).toBe("AbortError");
    expect(e.code).toBe("ERR_ABORTED");
    await exited(child!);
    expect(child!.signalCode).toBe("SIGKILL");
    expect(alive(child!.pid!)).toBe(false);
  });
  test("aborting between frames rejects the next call", async () => {
    const ac = new AbortController();
    const it = readFrames(video("numbered").path, rawPlan([0, 100, 200], 64, 48), { signal: ac.signal });
    expect((await it.next()).done).toBe(false);
    ac.abort();
    const e = await failure(it.next());
    expect(e.code).toBe("ERR_ABORTED");
  });
  test("an already aborted signal rejects before starting anything", async () => {
    const ac = new AbortController();
    ac.abort();
    let spawned = false;
    const e = await failure(
      collect(
        readFrames(video("numbered").path, rawPlan([0], 64, 48), {
          signal: ac.signal,
          onSpawn: () => (spawned = true),
        }),
      ),
    );
    expect(e.code).toBe("ERR_ABORTED");
    expect(spawned).toBe(false);
  });
  test("onFrame sees every frame with its position", async () => {
    const seen: Array<[number, number, number]> = [];
    await collect(
      readFrames(video("numbered").path, rawPlan([3, 4, 4], 64, 48), {
        onFrame: (fr, pos, total) => seen.push([fr.index, pos, total]),
      }),
    );
    expect(seen).toEqual([
      [3, 0, 3],
      [4, 1, 3],
      [4, 2, 3],
    ]);
  });
});

describe("failures", () => {
  test("truncated file without an index: ERR_VIDEO_UNREADABLE with ffprobe's reason", async () => {
    const e = await failure(collect(readFrames(video("truncated").path, rawPlan([0], 160, 120))));
    expect(e.code).toBe("ERR_VIDEO_UNREADABLE");
    expect(e.message).toMatch(/moov atom not found/);
  });
  test("a plan beyond what the decoder yields (container count trusted): stops with ERR_VIDEO_UNREADABLE", async () => {
    const f = video("truncated-faststart");
    const v = await probeVideo(f.path, { countFrames: "container" });
    expect(v.totalFrames).toBe(120);
    const plan = planFrames(v);
    const got: number[] = [];
    const e = await failure(
      (async () => {
        for await (const fr of readFrames(f.path, plan)) got.push(fr.index);
      })(),
    );
    expect(e.code).toBe("ERR_VIDEO_UNREADABLE");
    expect(e.message).toMatch(/decoder stopped after \d+ of 8 planned frames/);
    expect(got.every((i) => i < 25)).toBe(true);
    expect(got.length).toBeGreaterThan(0);
  });
  test("ffmpeg failing mid-stream: ERR_VIDEO_UNREADABLE with its stderr", async () => {
    const broken = fakeFfmpeg(
      "broken-ffmpeg",
      'head -c 9216 /dev/zero; echo "[h264 @ 0x1] decoder exploded at frame 1" >&2; exit 1',
    );
    const got: number[] = [];
    const e = await failure(
      (async () => {
        for await (const fr of readFrames(video("numbered").path, rawPlan([0, 1, 2], 64, 48), { ffmpegPath: broken }))
          got.push(fr.index);
      })(),
    );
    expect(got).toEqual([0]); // 9216 bytes = one 64x48 frame arrived first
    expect(e.code).toBe("ERR_VIDEO_UNREADABLE");
    expect(e.message).toMatch(/exit 1/);
    expect(e.message).toMatch(/decoder exploded at frame 1/);
  });
  test("missing file and invalid plans", async () => {
    expect((await failure(collect(readFrames(join(scratch, "none.mp4"), rawPlan([0], 8, 8))))).code).toBe(
      "ERR_FILE_NOT_FOUND",
    );
    expect(() => readFrames(video("numbered").path, rawPlan([5, 3], 64, 48))).toThrow(/ascending/);
    expect(() => readFrames(video("numbered").path, rawPlan([], 64, 48))).toThrow(/no frame indices/);
    expect(() => readFrames(video("numbered").path, rawPlan([1.5], 64, 48))).toThrow(/index 0/);
  });
});

test("a Buffer input decodes through a temporary file that is removed afterwards", async () => {
  const before = readdirSync(tmpdir()).filter((n) => n.startsWith(`timelens-${process.pid}-`));
  const frames = await collect(readFrames(readFileSync(video("numbered").path), rawPlan([7, 8], 64, 48)));
  expect(frames.map((x) => numberAt(x.data, 64, 1, 1))).toEqual([7, 8]);
  const after = readdirSync(tmpdir()).filter((n) => n.startsWith(`timelens-${process.pid}-`));
  expect(after).toEqual(before);
});

test("selectExpression merges runs and nests sums", () => {
  expect(selectExpression([4])).toBe("eq(n\\,4)");
  expect(selectExpression([1, 2, 3, 7, 9, 10])).toBe("((between(n\\,1\\,3)+eq(n\\,7))+(eq(n\\,9)+eq(n\\,10)))");
  // depth grows with log2 of the number of terms
  const deep = selectExpression(Array.from({ length: 768 }, (_, i) => 3 * i));
  let depth = 0;
  let max = 0;
  for (const ch of deep) {
    if (ch === "(") max = Math.max(max, ++depth);
    if (ch === ")") depth--;
  }
  expect(max).toBeLessThanOrEqual(12);
});
