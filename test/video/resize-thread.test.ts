/**
 * Resizing on the worker thread gives the same bytes as on the JS thread (same createResizer
 * code), for both references and several size pairs, and readFrames yields identical frames
 * whichever thread resizes. Errors stay the same RangeError.
 */
import { createResizer, type ResizeOptions } from "../../src/video/resize";
import { createAsyncResizer, stopResizeWorker } from "../../src/video/resize-thread";
import { readFrames } from "../../src/video/decode";
import { probeVideo } from "../../src/video/probe";
import { planFrames } from "../../src/video/plan";
import { makeClip } from "../helpers/clips";

function pattern(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + seed * 104729) % 251;
  return data;
}

const CASES: Array<[string, [number, number, number, number], ResizeOptions | undefined]> = [
  ["torch down", [640, 360, 320, 192], undefined],
  ["torch up", [64, 48, 320, 224], undefined],
  ["torch js engine", [200, 100, 96, 64], { engine: "js" }],
  ["pil down", [333, 197, 160, 96], { mode: "pil" }],
  ["same size", [96, 64, 96, 64], undefined],
];

test.each(CASES)("%s: the worker's bytes equal the JS thread's", async (_name, size, options) => {
  const expected = createResizer(...size, options);
  const resizer = createAsyncResizer(size, options);
  expect(resizer.thread).toBe("worker");
  for (let seed = 0; seed < 3; seed++) {
    const src = pattern(size[0], size[1], seed);
    const want = expected.resize(src);
    const got = await resizer.resize(src);
    expect(got.length).toBe(size[2] * size[3] * 3);
    expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
  }
});

test("frames in flight together come back to their own callers", async () => {
  const size = [160, 120, 96, 64] as const;
  const expected = createResizer(...size);
  const resizer = createAsyncResizer(size, undefined);
  const srcs = [0, 1, 2, 3, 4, 5].map((s) => pattern(160, 120, s));
  const outs = await Promise.all(srcs.map((s) => resizer.resize(s.slice())));
  outs.forEach((o, i) => {
    expect(Buffer.from(o).equals(Buffer.from(expected.resize(srcs[i])))).toBe(true);
  });
});

test("invalid sizes throw the same RangeError on either thread; 'main' stays on the JS thread", () => {
  expect(() => createAsyncResizer([0, 10, 10, 10], undefined)).toThrow(RangeError);
  expect(() => createAsyncResizer([10, 10, 10, 2.5], undefined, "main")).toThrow(RangeError);
  expect(createAsyncResizer([10, 10, 5, 5], undefined, "main").thread).toBe("main");
});

test("readFrames yields identical frames with the worker and on the JS thread", async () => {
  const clip = makeClip({ seconds: 6 });
  const video = await probeVideo(clip);
  const plan = planFrames(video, { totalTokens: 256, minTokens: 4 });
  const collect = async (resizeThread: "worker" | "main") => {
    const frames: Buffer[] = [];
    for await (const f of readFrames(clip, plan, { resizeThread, stream: video })) frames.push(Buffer.from(f.data));
    return frames;
  };
  const [viaWorker, onMain] = [await collect("worker"), await collect("main")];
  expect(viaWorker.length).toBe(plan.indices.length);
  viaWorker.forEach((f, i) => {
    expect(f.equals(onMain[i])).toBe(true);
  });
});

test("a worker stopped while frames are in flight: they and later frames still come out identical", async () => {
  const size = [320, 240, 160, 96] as const;
  const expected = createResizer(...size);
  const resizer = createAsyncResizer(size, undefined);
  expect(resizer.thread).toBe("worker");
  const srcs = [0, 1, 2, 3].map((s) => pattern(320, 240, s));
  const inFlight = srcs.map((s) => resizer.resize(s));
  await stopResizeWorker();
  const later = await resizer.resize(srcs[0]);
  const outs = await Promise.all(inFlight);
  outs.forEach((o, i) => {
    expect(Buffer.from(o).equals(Buffer.from(expected.resize(srcs[i])))).toBe(true);
  });
  expect(Buffer.from(later).equals(Buffer.from(expected.resize(srcs[0])))).toBe(true);
  // a new resizer gets a fresh worker
  expect(createAsyncResizer(size, undefined).thread).toBe("worker");
});
