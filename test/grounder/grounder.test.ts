/**
 * The public Grounder API end to end with the tiny random-weight model: result shape,
 * streaming order, abort at each stage (inside the native call for encode, prefill and
 * generate), queued concurrency, dispose, and the typed errors.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Grounder } from "../../src/session";
import { parseGroundingAnswer } from "../../src/parse";
import type { GroundEvent, GroundOptions, GroundProgress, GroundStage } from "../../src/types";
import { fixturePair } from "../helpers/models";
import { makeClip } from "../helpers/clips";

// Small budgets keep the tiny model fast: 6 s at 2 fps = 12 frames, 6 pairs of 2x2..3x3 tokens.
const FAST: GroundOptions = { totalTokens: 256, minTokens: 4, maxNewTokens: 12 };
const QUERY = "a red box moves to the right";

let grounder: Grounder;
let clip: string;
let dir: string;

beforeAll(async () => {
  clip = makeClip({ seconds: 6 });
  dir = mkdtempSync(join(tmpdir(), "timelens-grounder-"));
  grounder = await Grounder.load({ ...fixturePair("tiny-qwen3vl"), contextSize: 2048, threads: 2 });
});
afterAll(async () => {
  await grounder?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

test("info names the detected profile and the model facts", () => {
  expect(grounder.info.profile).toBe("qwen3-vl"); // a qwen3vl model not named TimeLens
  expect(grounder.info.architecture).toBe("qwen3vl");
  expect(grounder.profile.factor).toBe(32);
});

test("ground() returns the documented shape", async () => {
  const r = await grounder.ground(clip, QUERY, FAST);
  expect(typeof r.text).toBe("string");
  expect(r.query).toBe(QUERY);
  expect(r.profile).toBe("qwen3-vl");
  if (r.parsed) {
    expect(r.start).not.toBeNull();
    expect(r.start!).toBeGreaterThanOrEqual(0);
    expect(r.end!).toBeGreaterThanOrEqual(r.start!);
    expect(r.end!).toBeLessThanOrEqual(r.video.duration);
  } else {
    expect(r.start).toBeNull();
    expect(r.end).toBeNull();
    expect(r.spans).toEqual([]);
  }
  // The answer fields are the parse of the answer text (random weights rarely give a time:
  // the parsed branch is checked on a controlled answer in the next test).
  const { start, end, spans, parsed } = parseGroundingAnswer(r.text, r.video.duration);
  expect({ start: r.start, end: r.end, spans: r.spans, parsed: r.parsed }).toEqual({ start, end, spans, parsed });
  expect(r.video.duration).toBeCloseTo(6, 1);
  expect(r.video.totalFrames).toBe(60);
  expect(r.frames.count).toBe(12);
  expect(r.frames.pairs).toBe(6);
  expect(r.frames.labels[0]).toMatch(/^<\d+\.\d seconds>$/);
  expect(r.frames.width % 32).toBe(0);
  expect(r.frames.height % 32).toBe(0);
  expect(r.usage.imageTokens).toBe(r.frames.pairs * r.frames.tokensPerPair);
  expect(r.usage.generatedTokens).toBeGreaterThan(0);
  expect(r.usage.generatedTokens).toBeLessThanOrEqual(12);
  expect(r.timings.decodeMs).toBeGreaterThan(0);
  expect(r.timings.encodeMs).toBeGreaterThan(0);
  expect(r.timings.prefixSource).toBe("built");
  expect(r.timings.devices).toEqual({ encode: "CPU", llm: "CPU" }); // the CPU build
});

test("a controlled answer is parsed into spans clamped to the video", () => {
  const a = parseGroundingAnswer("The event happens in 1.5 - 4.0 seconds, and again in 5.0 - 9.5 seconds.", 6);
  expect(a.parsed).toBe(true);
  expect(a.start).toBe(1.5);
  expect(a.end).toBe(4);
  expect(a.spans.length).toBe(2);
  expect(a.spans[0]).toEqual([1.5, 4]);
  const clamped = parseGroundingAnswer("The event happens in 2.0 - 9.0 seconds.", 6);
  expect([clamped.start, clamped.end]).toEqual([2, 6]);
  const none = parseGroundingAnswer("no idea", 6);
  expect([none.parsed, none.start, none.end, none.spans]).toEqual([false, null, null, []]);
});

test("ground() is deterministic and accepts a Buffer", async () => {
  const a = await grounder.ground(clip, QUERY, FAST);
  const b = await grounder.ground(readFileSync(clip), QUERY, FAST);
  expect(b.text).toBe(a.text);
  expect(b.frames.indices).toEqual(a.frames.indices);
});

test("stream() yields progress in stage order, tokens, then the result", async () => {
  const events: GroundEvent[] = [];
  for await (const e of grounder.stream(clip, QUERY, FAST)) events.push(e);
  const last = events[events.length - 1];
  expect(last.type).toBe("result");
  const order: GroundStage[] = ["probe", "decode", "encode", "prefill", "generate"];
  const firstSeen = order.map((s) => events.findIndex((e) => e.type === "progress" && e.progress.stage === s));
  expect(firstSeen.every((i) => i >= 0)).toBe(true);
  expect([...firstSeen].sort((x, y) => x - y)).toEqual(firstSeen);
  const tokens = events.filter((e): e is Extract<GroundEvent, { type: "token" }> => e.type === "token");
  const result = (last as Extract<GroundEvent, { type: "result" }>).result;
  expect(tokens.length).toBe(result.usage.generatedTokens);
  expect(tokens.map((t) => t.text).join("")).toBe(result.text.replace(/\uFFFD+$/, ""));
});

test("breaking out of stream() cancels and leaves the grounder usable", async () => {
  const baseline = await grounder.ground(clip, QUERY, FAST);
  let n = 0;
  for await (const e of grounder.stream(clip, QUERY, { ...FAST, maxNewTokens: 1500 })) {
    if (e.type === "token" && ++n === 2) break;
  }
  const again = await grounder.ground(clip, QUERY, FAST);
  expect(again.text).toBe(baseline.text);
});

/**
 * When the model's native call for a stage runs: encode (vision encode + prefill of a frame
 * pair) while frames are decoded/encoded, the query text's prefill between prefill 0 and 1,
 * generation after it. Decode is ffmpeg's work: the abort comes on its progress event.
 */
const NATIVE_WINDOW: Record<"encode" | "prefill" | "generate", (p: GroundProgress) => boolean> = {
  encode: (p) => p.stage === "decode" || p.stage === "encode",
  prefill: (p) => p.stage === "prefill" && p.done === 0,
  generate: (p) => (p.stage === "prefill" && p.done === 1) || p.stage === "generate",
};

/** True while the addon runs a job for this grounder (the JS thread is free meanwhile). */
const nativeBusy = (g: Grounder): boolean =>
  (g as unknown as { model: { native: { busy: boolean } } }).model.native.busy;

describe.each(["decode", "encode", "prefill", "generate"] as const)("abort during %s", (stage) => {
  test("rejects promptly with AbortError and the grounder still works", async () => {
    const baseline = await grounder.ground(clip, QUERY, FAST);
    const controller = new AbortController();
    let abortedAt = 0;
    let abortedInNative = false;
    let last: GroundProgress | null = null;
    // For the native stages, a setImmediate loop watches for the stage's native call and
    // aborts while it runs (the loop gets the JS thread because the addon works off it).
    let watching = stage !== "decode";
    const watch = () => {
      if (!watching || abortedAt) return;
      if (stage !== "decode" && last && NATIVE_WINDOW[stage](last) && nativeBusy(grounder)) {
        abortedInNative = true;
        abortedAt = performance.now();
        controller.abort();
        return;
      }
      setImmediate(watch);
    };
    watch();
    const p = grounder.ground(clip, QUERY, {
      ...FAST,
      maxNewTokens: 1500,
      signal: controller.signal,
      onProgress: (progress) => {
        last = progress;
        if (stage === "decode" && !abortedAt && progress.stage === stage) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    });
    const err = await p.then(
      () => null,
      (e) => e,
    );
    watching = false;
    const latencyMs = performance.now() - abortedAt;
    expect(abortedAt).toBeGreaterThan(0);
    expect(abortedInNative).toBe(stage !== "decode");
    expect(err).toMatchObject({ name: "AbortError", code: "ERR_ABORTED" });
    expect(latencyMs).toBeLessThan(5000); // generous bound; bench reports the real figures
    const again = await grounder.ground(clip, QUERY, FAST);
    expect(again.text).toBe(baseline.text);
  });
});

test("concurrent calls are queued and match sequential results", async () => {
  const queries = ["a red box", "the pattern changes", "something moves"];
  const sequential = [];
  for (const q of queries) sequential.push((await grounder.ground(clip, q, FAST)).text);
  const concurrent = await Promise.all(queries.map((q) => grounder.ground(clip, q, FAST)));
  expect(concurrent.map((r) => r.text)).toEqual(sequential);
});

test("a signal that fires while queued drops the call without running it", async () => {
  const controller = new AbortController();
  const first = grounder.ground(clip, QUERY, FAST);
  const second = grounder.ground(clip, QUERY, { ...FAST, signal: controller.signal });
  controller.abort();
  await expect(second).rejects.toMatchObject({ code: "ERR_ABORTED" });
  await expect(first).resolves.toBeDefined();
});

describe("typed errors from real bad input", () => {
  test("ERR_CONTEXT_OVERFLOW names both numbers and the fix", async () => {
    const small = await Grounder.load({ ...fixturePair("tiny-qwen3vl"), contextSize: 256 });
    try {
      const err = await small.ground(clip, QUERY, { maxNewTokens: 64 }).catch((e) => e);
      expect(err.code).toBe("ERR_CONTEXT_OVERFLOW");
      expect(err.details.available).toBe(256);
      expect(err.details.needed).toBeGreaterThan(256);
      expect(err.message).toMatch(/totalTokens|contextSize/);
    } finally {
      await small.dispose();
    }
  });

  test("ERR_VIDEO_UNREADABLE for a file that is not a video", async () => {
    const p = join(dir, "not-a-video.mp4");
    writeFileSync(p, "hello");
    await expect(grounder.ground(p, QUERY, FAST)).rejects.toMatchObject({ code: "ERR_VIDEO_UNREADABLE" });
  });

  test("a missing video is ERR_FILE_NOT_FOUND, as the README says", async () => {
    const missing = join(dir, "missing.mp4");
    const err = await grounder.ground(missing, QUERY, FAST).catch((e) => e);
    expect(err.code).toBe("ERR_FILE_NOT_FOUND");
    expect(err.details.path).toBe(missing);
    await expect(grounder.openVideo(join(dir, "no-dir", "missing.mkv"))).rejects.toMatchObject({
      code: "ERR_FILE_NOT_FOUND",
    });
  });

  test("ERR_FFMPEG_NOT_FOUND when the configured ffprobe does not exist", async () => {
    const g = await Grounder.load({
      ...fixturePair("tiny-qwen3vl"),
      contextSize: 1024,
      ffprobePath: join(dir, "no-ffprobe"),
      ffmpegPath: join(dir, "no-ffmpeg"),
    });
    try {
      const err = await g.ground(clip, QUERY, FAST).catch((e) => e);
      expect(err.code).toBe("ERR_FFMPEG_NOT_FOUND");
      expect(err.message).toMatch(/ffmpeg|ffprobe/i);
    } finally {
      await g.dispose();
    }
  });

  test("ERR_MODEL_INVALID and ERR_MMPROJ_MISMATCH at load", async () => {
    const bad = join(dir, "bad.gguf");
    writeFileSync(bad, "definitely not a model file");
    await expect(Grounder.load({ model: bad, mmproj: fixturePair("tiny-qwen3vl").mmproj })).rejects.toMatchObject({
      code: "ERR_MODEL_INVALID",
    });
    await expect(
      Grounder.load({ model: fixturePair("tiny-qwen3vl").model, mmproj: fixturePair("tiny-qwen25vl").mmproj }),
    ).rejects.toMatchObject({
      code: "ERR_MMPROJ_MISMATCH",
    });
  });

  test("ERR_INVALID_ARGUMENT for an empty query", async () => {
    await expect(grounder.ground(clip, "   ", FAST)).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
  });

  test("a profile of the wrong family is refused", async () => {
    await expect(Grounder.load({ ...fixturePair("tiny-qwen3vl"), profile: "timelens-7b" })).rejects.toMatchObject({
      code: "ERR_PROFILE_UNKNOWN",
    });
  });
});

test("dispose: later calls are ERR_DISPOSED; a second dispose and asyncDispose are no-ops", async () => {
  const g = await Grounder.load({ ...fixturePair("tiny-qwen25vl"), contextSize: 2048 });
  expect(g.info.profile).toBe("qwen2.5-vl");
  const r = await g.ground(clip, QUERY, FAST);
  expect(r.frames.width % 28).toBe(0);
  await g.dispose();
  await expect(g.ground(clip, QUERY, FAST)).rejects.toMatchObject({ code: "ERR_DISPOSED" });
  await expect(g.dispose()).resolves.toBeUndefined();
  await expect(g[Symbol.asyncDispose]()).resolves.toBeUndefined();
});
