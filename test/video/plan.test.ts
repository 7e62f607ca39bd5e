/**
 * planFrames golden cases, derived by hand from docs/reference.md "Frame sampling" and "Prompt
 * layout and special tokens" (arithmetic in the comments).
 * Defaults are the TimeLens reference settings: fps 2, min 64 tokens, total 14336 tokens.
 * TimeLens-8B: factor 32, factor^2 = 1024:
 *   minPixels   = 64 * 1024    = 65536
 *   totalPixels = 14336 * 1024 = 14680064
 *   768 * 1024  = 786432 (VIDEO_MAX_TOKEN_NUM cap), int(65536 * 1.05) = int(68812.8) = 68812
 */
import { isTimelensError } from "../../src/errors";
import { getProfile } from "../../src/prompt/profiles";
import {
  ceilByFactor,
  floorByFactor,
  frameCount,
  frameRange,
  pairFrames,
  planFrames,
  roundByFactor,
  smartResize,
} from "../../src/video/plan";
import type { VideoInfo } from "../../src/video/types";

const video = (totalFrames: number, fps: number, width = 1920, height = 1080): VideoInfo => ({
  totalFrames,
  fps,
  width,
  height,
});

function expectCode(fn: () => unknown, code: string, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isTimelensError(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
}

describe("factor helpers (Python round semantics)", () => {
  test("round_by_factor rounds half to even", () => {
    expect(roundByFactor(48, 32)).toBe(64); // 1.5 -> 2
    expect(roundByFactor(80, 32)).toBe(64); // 2.5 -> 2 (Math.round would give 3 -> 96)
    expect(roundByFactor(112, 32)).toBe(128); // 3.5 -> 4
    expect(roundByFactor(5, 2)).toBe(4); // 2.5 -> 2
    expect(roundByFactor(7, 2)).toBe(8); // 3.5 -> 4
  });
  test("ceil/floor by factor", () => {
    expect(ceilByFactor(5, 2)).toBe(6);
    expect(ceilByFactor(4, 2)).toBe(4);
    expect(floorByFactor(9, 2)).toBe(8);
    expect(floorByFactor(119.9865, 2)).toBe(118);
  });
});

describe('reference worked example (docs/reference.md "Frame sampling"): 110 s at 30 fps, 1920x1080, TimeLens-8B', () => {
  const plan = planFrames(video(3300, 30));
  test("frame count: 3300 / 30 * 2 = 220, inside [4, 768], floor_by_factor(220, 2) = 220", () => {
    expect(plan.indices).toHaveLength(220);
    expect(plan.pairs).toHaveLength(110);
  });
  test("max_pixels = max(min(786432, 14680064 / 220 * 2 = 133455.127...), 68812)", () => {
    expect(plan.maxPixels).toBeCloseTo(133455.1272727, 5);
    expect(plan.minPixels).toBe(65536);
    expect(plan.totalPixels).toBe(14680064);
  });
  test("size: h'=1088, w'=1920 exceed max; beta = sqrt(2073600 / 133455.127) = 3.94180; 1080/beta = 273.98 -> 256, 1920/beta = 487.08 -> 480", () => {
    expect(plan.width).toBe(480);
    expect(plan.height).toBe(256);
    expect(plan.tokensPerPair).toBe((480 / 32) * (256 / 32)); // 15 * 8 = 120
    expect(plan.totalTokens).toBe(110 * 120);
  });
  test("indices: linspace(0, 3299, 220), step 3299/219 = 15.0639; first/last exact", () => {
    expect(plan.indices[0]).toBe(0);
    expect(plan.indices[1]).toBe(15); // 15.06 -> 15
    expect(plan.indices[2]).toBe(30); // 30.13 -> 30
    expect(plan.indices[3]).toBe(45); // 45.19 -> 45
    expect(plan.indices[218]).toBe(3284); // 3299 - 15.0639 = 3283.94 -> 3284
    expect(plan.indices[219]).toBe(3299);
    expect(plan.frameTimes[219]).toBeCloseTo(3299 / 30, 12);
  });
  test("labels: pair k time = mean of its two frame times", () => {
    // pair 0: (0 + 15/30) / 2 = 0.25 -> Python "{:.1f}" of the binary tie 0.25 is "0.2"
    expect(plan.pairs[0]).toEqual({ frames: [0, 1], time: 0.25, label: "<0.2 seconds>" });
    // pair 1: (30/30 + 45/30) / 2 = 1.25 -> "1.2" (tie, half to even)
    expect(plan.pairs[1].time).toBe(1.25);
    expect(plan.pairs[1].label).toBe("<1.2 seconds>");
    // last pair: (3284/30 + 3299/30) / 2 = 109.7166... -> "109.7"
    expect(plan.pairs[109].frames).toEqual([218, 219]);
    expect(plan.pairs[109].label).toBe("<109.7 seconds>");
  });
  test("default profile is timelens-8b", () => {
    expect(planFrames(video(3300, 30), { profile: getProfile("timelens-8b") })).toEqual(plan);
    expect(plan.factor).toBe(32);
  });
});

describe("frame count clamps", () => {
  test("1 s at 30 fps hits min frames: n = 30/30*2 = 2 -> max(2, 4) = 4", () => {
    const p = planFrames(video(30, 30));
    // linspace(0, 29, 4): step 29/3 = 9.667; i=1: 9.667 -> 10; i=2 (second half): 29 - 9.667 = 19.333 -> 19
    expect(p.indices).toEqual([0, 10, 19, 29]);
    // pairs: (0 + 10/30)/2 = 0.1667 -> "0.2"; (19/30 + 29/30)/2 = 0.8 -> "0.8"
    expect(p.pairs.map((x) => x.label)).toEqual(["<0.2 seconds>", "<0.8 seconds>"]);
  });
  test("exactly 4 frames: max_frames = floor_by_factor(min(768, 4), 2) = 4 -> indices 0..3", () => {
    const p = planFrames(video(4, 30, 320, 240));
    expect(p.indices).toEqual([0, 1, 2, 3]);
    // (0 + 1/30)/2 = 0.0167 -> "0.0"; (2/30 + 3/30)/2 = 0.0833 -> "0.1"
    expect(p.pairs.map((x) => x.label)).toEqual(["<0.0 seconds>", "<0.1 seconds>"]);
  });
  test("3 frames: max_frames = floor_by_factor(3, 2) = 2, so n = min(min(max(0.2, 4), 2), 3) = 2 (not refused)", () => {
    const p = planFrames(video(3, 30, 320, 240));
    // linspace(0, 2, 2): step 2; i=0 first half: 0; i=1 second half: 2 - 2*0 = 2
    expect(p.indices).toEqual([0, 2]);
    expect(p.pairs).toHaveLength(1);
  });
  test("3 frames with nframes 4 is refused: 4 is outside [2, 3]", () => {
    expectCode(
      () => planFrames(video(3, 30, 320, 240), { nframes: 4 }),
      "ERR_VIDEO_TOO_SHORT",
      /nframes should in interval \[2, 3\], but got 4/,
    );
  });
  test("1 frame is refused: max_frames = floor_by_factor(1, 2) = 0 -> n = 0", () => {
    expectCode(() => planFrames(video(1, 30, 320, 240)), "ERR_VIDEO_TOO_SHORT", /\[2, 1\], but got 0/);
  });
  test("2 frames: n = 2", () => {
    expect(planFrames(video(2, 30, 320, 240)).indices).toEqual([0, 1]);
  });
  test("1 hour at 30 fps hits the 768 cap: 108000/30*2 = 7200 -> min(7200, 768)", () => {
    const p = planFrames(video(108000, 30));
    expect(p.indices).toHaveLength(768);
    // step = 107999/767 = 140.807; i=1 -> 141; i=766 (second half): 107999 - 140.807 = 107858.19 -> 107858
    expect(p.indices[1]).toBe(141);
    expect(p.indices[766]).toBe(107858);
    expect(p.indices[767]).toBe(107999);
    // max_pixels = max(min(786432, 14680064/768*2 = 38229.33), 68812) = 68812 (the min_pixels floor wins)
    expect(p.maxPixels).toBe(68812);
    // beta = sqrt(2073600 / 68812) = 5.48947; 1080/beta = 196.74 -> 192; 1920/beta = 349.76 -> 320
    expect([p.width, p.height]).toEqual([320, 192]);
    expect(p.tokensPerPair).toBe(60);
  });
  test("maxFrames / minFrames options are rounded to even", () => {
    // maxFrames 9 -> floor_by_factor(9, 2) = 8
    expect(planFrames(video(3300, 30), { maxFrames: 9 }).indices).toHaveLength(8);
    // minFrames 5 -> ceil_by_factor(5, 2) = 6 on a 1 s video (n = 2 -> 6)
    const p = planFrames(video(30, 30), { minFrames: 5 });
    // linspace(0, 29, 6): step 5.8; 0, 5.8 -> 6, 11.6 -> 12 | 29 - 11.6 = 17.4 -> 17, 29 - 5.8 = 23.2 -> 23, 29
    expect(p.indices).toEqual([0, 6, 12, 17, 23, 29]);
  });
  test("fps option: 0.5 fps on 110 s -> 55 -> floor_by_factor(55, 2) = 54", () => {
    expect(planFrames(video(3300, 30), { fps: 0.5 }).indices).toHaveLength(54);
    expect(planFrames(video(3300, 30), { fps: 1 }).indices).toHaveLength(110);
  });
});

describe("broadcast frame rates", () => {
  test("29.97 fps, 1798 frames: n = 1798 / 29.97003 * 2 = 119.9865 -> floor_by_factor = 118", () => {
    const fps = 30000 / 1001;
    const p = planFrames(video(1798, fps));
    expect(p.indices).toHaveLength(118);
    expect(p.indices[117]).toBe(1797);
    expect(p.frameTimes[117]).toBeCloseTo((1797 * 1001) / 30000, 12); // 59.96 s
  });
  test("23.976 fps, 240 frames: n = 240 / 23.976 * 2 = 20.02 -> 20", () => {
    const p = planFrames(video(240, 24000 / 1001));
    expect(p.indices).toHaveLength(20);
    // step 239/19 = 12.579: 0, 12.58 -> 13, 25.16 -> 25, 37.74 -> 38
    expect(p.indices.slice(0, 4)).toEqual([0, 13, 25, 38]);
  });
  test("59.94 fps, 300 frames: n = 300 / 59.94 * 2 = 10.01 -> 10", () => {
    const p = planFrames(video(300, 60000 / 1001));
    // linspace(0, 299, 10): step 33.222: 0, 33, 66, 99.67 -> 100, 132.89 -> 133 | 299 - 132.89 = 166.11 -> 166, 199.33 -> 199, 232.56 -> 233, 265.78 -> 266, 299
    expect(p.indices).toEqual([0, 33, 66, 100, 133, 166, 199, 233, 266, 299]);
  });
});

describe("clip range (video_start / video_end)", () => {
  test("start 2.5 s, end 7.5 s of a 10 s 30 fps video", () => {
    // start_frame = ceil(2.5 * 30) = 75; end_frame = min(floor(7.5 * 30), 299) = 225; 151 frames
    const r = frameRange(300, 30, 2.5, 7.5);
    expect(r).toEqual({ startFrame: 75, endFrame: 225, frames: 151 });
    const p = planFrames(video(300, 30), { start: 2.5, end: 7.5 });
    // n = 151 / 30 * 2 = 10.07 -> 10; linspace(75, 225, 10): step 16.667
    // 75, 91.67 -> 92, 108.33 -> 108, 125, 141.67 -> 142 | 225 - 66.67 = 158.33 -> 158, 175, 191.67 -> 192, 208.33 -> 208, 225
    expect(p.indices).toEqual([75, 92, 108, 125, 142, 158, 175, 192, 208, 225]);
    expect(p.startFrame).toBe(75);
    expect(p.endFrame).toBe(225);
    // times stay in the original timeline: 75 / 30 = 2.5 s
    expect(p.frameTimes[0]).toBe(2.5);
    expect(p.pairs[0].label).toBe("<2.8 seconds>"); // (2.5 + 92/30) / 2 = 2.7833
  });
  test("only end: end 1 s -> frames 0..30 (31 frames) -> n = 4, linspace(0, 30, 4) = 0, 10, 20, 30", () => {
    expect(planFrames(video(300, 30), { end: 1 }).indices).toEqual([0, 10, 20, 30]);
  });
  test("only start: start 9 s -> frames 270..299 -> n = 4: 270, 279.67 -> 280, 289.33 -> 289, 299", () => {
    expect(planFrames(video(300, 30), { start: 9 }).indices).toEqual([270, 280, 289, 299]);
  });
  test("out-of-range values are clamped to [0, duration]", () => {
    // start -5 -> 0; end 99 -> 10 s -> floor(300) = 300 -> min(300, 299) = 299
    expect(frameRange(300, 30, -5, 99)).toEqual({ startFrame: 0, endFrame: 299, frames: 300 });
  });
  test("start >= end is refused", () => {
    expectCode(
      () => planFrames(video(300, 30), { start: 5, end: 5 }),
      "ERR_CLIP_RANGE",
      /start frame 150 .* end frame 150/,
    );
    expectCode(() => planFrames(video(300, 30), { start: 6, end: 2 }), "ERR_CLIP_RANGE");
    // start 9.99 s -> ceil(299.7) = 300 > end frame 299
    expectCode(() => planFrames(video(300, 30), { start: 9.99 }), "ERR_CLIP_RANGE");
  });
  test("a too-short clip is refused by the frame count, not the range", () => {
    // frames 150..151 -> 2 frames -> n = 2 is fine; frames 150..150 is a range error above
    expect(planFrames(video(300, 30), { start: 5, end: 151 / 30 }).indices).toEqual([150, 151]);
  });
});

describe("nframes", () => {
  test("nframes 10 on 300 frames", () => {
    // round_by_factor(10, 2) = 10; linspace(0, 299, 10) as in the 59.94 case
    expect(planFrames(video(300, 30), { nframes: 10 }).indices).toEqual([0, 33, 66, 100, 133, 166, 199, 233, 266, 299]);
  });
  test("odd nframes are rounded to even, half to even: 5 -> 4, 7 -> 8, 3 -> 4", () => {
    expect(planFrames(video(300, 30), { nframes: 5 }).indices).toHaveLength(4); // round(2.5) = 2
    expect(planFrames(video(300, 30), { nframes: 7 }).indices).toHaveLength(8); // round(3.5) = 4
    expect(planFrames(video(300, 30), { nframes: 3 }).indices).toHaveLength(4); // round(1.5) = 2
  });
  test("nframes ignores the min/max frame clamps and fps", () => {
    expect(planFrames(video(3300, 30), { nframes: 1000, fps: 2 }).indices).toHaveLength(1000);
  });
  test("nframes 1 rounds to 0 and is refused", () => {
    expectCode(() => planFrames(video(300, 30), { nframes: 1 }), "ERR_VIDEO_TOO_SHORT"); // round(0.5) = 0
  });
});

describe("frame size (smart_resize)", () => {
  test("portrait 1080x1920, 110 s: 1920/beta = 487.08 -> 480 high, 1080/beta = 273.98 -> 256 wide", () => {
    const p = planFrames(video(3300, 30, 1080, 1920));
    expect([p.width, p.height]).toEqual([256, 480]);
  });
  test("odd size 333x197, 1 s at 24 fps (4 frames, max_pixels 786432)", () => {
    // h' = round(197/32 = 6.156) = 6 -> 192; w' = round(333/32 = 10.406) = 10 -> 320; 61440 < 65536
    // beta = sqrt(65536 / 65601) = 0.999504; ceil(196.90/32) = 7 -> 224; ceil(332.83/32) = 11 -> 352
    const p = planFrames(video(24, 24, 333, 197));
    expect([p.width, p.height]).toEqual([352, 224]);
    expect(p.tokensPerPair).toBe(77);
  });
  test("tiny 64x48 is scaled up to min_pixels", () => {
    // h' = max(32, round(1.5) = 2 -> 64), w' = 64; 4096 < 65536: beta = sqrt(65536 / 3072) = 4.6188
    // ceil(48 * 4.6188 / 32 = 6.93) = 7 -> 224; ceil(64 * 4.6188 / 32 = 9.24) = 10 -> 320
    const p = planFrames(video(60, 30, 64, 48));
    expect([p.width, p.height]).toEqual([320, 224]);
  });
  test("half-to-even side rounding decides the size: 1200x80 -> 1216x64", () => {
    // h' = round(80/32 = 2.5) = 2 -> 64 (round-half-up would give 96); w' = round(37.5) = 38 -> 1216
    // 64 * 1216 = 77824 lies within [65536, 786432]: kept as is
    const p = planFrames(video(60, 30, 1200, 80));
    expect([p.width, p.height]).toEqual([1216, 64]);
  });
  test("4K 3840x2160, 60 s: max_pixels = 14680064/120*2 = 244667.73", () => {
    // beta = sqrt(8294400 / 244667.73) = 5.82243; 2160/beta = 370.98 -> 352; 3840/beta = 659.52 -> 640
    const p = planFrames(video(1800, 30, 3840, 2160));
    expect(p.indices).toHaveLength(120);
    expect([p.width, p.height]).toEqual([640, 352]);
  });
  test("aspect 201:1 is refused; exactly 200:1 is allowed", () => {
    expectCode(
      () => planFrames(video(60, 30, 402, 2)),
      "ERR_VIDEO_ASPECT",
      /aspect ratio must be smaller than 200, got 201/,
    );
    // 400x2: h' = max(32, round(0.0625) = 0) = 32, w' = round(12.5) = 12 -> 384; 12288 < 65536:
    // beta = sqrt(65536 / 800) = 9.0510; ceil(18.1/32) = 1 -> 32; ceil(3620.4/32 = 113.1) = 114 -> 3648
    const p = planFrames(video(60, 30, 400, 2));
    expect([p.width, p.height]).toEqual([3648, 32]);
  });
  test("a maxPixels option can only lower the limit", () => {
    // 100000 < 133455: beta = sqrt(2073600 / 100000) = 4.5537; 1080/beta = 237.2 -> 224; 1920/beta = 421.6 -> 416
    const lower = planFrames(video(3300, 30), { maxPixels: 100000 });
    expect([lower.width, lower.height]).toEqual([416, 224]);
    expect(lower.maxPixels).toBe(100000);
    const higher = planFrames(video(3300, 30), { maxPixels: 10_000_000 });
    expect([higher.width, higher.height]).toEqual([480, 256]);
  });
  test("maxPixels below minPixels is an invalid argument", () => {
    expectCode(
      () => planFrames(video(3300, 30), { maxPixels: 50000 }),
      "ERR_INVALID_ARGUMENT",
      /greater than or equal to min pixels/,
    );
  });
  test("token budgets translate to pixels as tokens * factor^2; explicit pixels win", () => {
    // minTokens 128 -> 131072 px; the 110 s max stays 133455 -> same 480x256 (122880 px < 131072?)
    // 480x256 is the max-branch result; h'*w' = 1088*1920 > max so min is not consulted
    const p = planFrames(video(3300, 30), { minTokens: 128 });
    expect(p.minPixels).toBe(131072);
    // max_pixels = max(min(786432, 133455.1), int(131072 * 1.05) = 137625) = 137625
    expect(p.maxPixels).toBe(137625);
    expect(planFrames(video(3300, 30), { minTokens: 128, minPixels: 1000 }).minPixels).toBe(1000);
    // totalTokens 28672 -> 29360128 px -> max = 29360128/220*2 = 266910.25
    expect(planFrames(video(3300, 30), { totalTokens: 28672 }).maxPixels).toBeCloseTo(266910.2545, 3);
    expect(planFrames(video(3300, 30), { totalTokens: 28672, totalPixels: 14680064 }).maxPixels).toBeCloseTo(
      133455.127,
      2,
    );
  });
  test("smartResize alone, and a frame too thin for the budget", () => {
    // biome-ignore lint/correctness/noPrecisionLoss: the budget exactly as the reference prints it
    expect(smartResize(1080, 1920, 32, 65536, 133455.12727272727)).toEqual({ height: 256, width: 480 });
    expectCode(() => smartResize(2, 399, 32, 1000, 2000), "ERR_VIDEO_ASPECT", /too thin/);
  });
});

describe("timestamps and pairs", () => {
  test("label ties use Python's half-to-even formatting: 0.25 -> 0.2, 0.75 -> 0.8", () => {
    // 8 frames at 4 fps: n = 8/4*2 = 4; linspace(0, 7, 4): 0, 2.33 -> 2, 7 - 2.33 = 4.67 -> 5, 7
    const p = planFrames(video(8, 4, 320, 240));
    expect(p.indices).toEqual([0, 2, 5, 7]);
    // (0 + 0.5)/2 = 0.25 -> "0.2" (JavaScript's toFixed gives "0.3"); (1.25 + 1.75)/2 = 1.5
    expect(p.pairs.map((x) => x.label)).toEqual(["<0.2 seconds>", "<1.5 seconds>"]);
    // 4 frames at 2 fps: times 0, 0.5, 1, 1.5 -> means 0.25 ("0.2") and 1.25 ("1.2")
    expect(planFrames(video(4, 2, 320, 240)).pairs.map((x) => x.label)).toEqual(["<0.2 seconds>", "<1.2 seconds>"]);
    expect(pairFrames([0.5, 1], "pair-mean", "<{t} seconds>")[0].label).toBe("<0.8 seconds>"); // 0.75
  });
  test("TimeLens-7B: factor 28 and the pair's FIRST frame time", () => {
    const p = planFrames(video(3300, 30), { profile: getProfile("timelens-7b") });
    // factor 28: max_pixels = 14336*784/220*2 = 102176.58; beta = sqrt(2073600/102176.58) = 4.50492
    // 1080/beta = 239.74 -> floor(8.56) * 28 = 224; 1920/beta = 426.2 -> floor(15.22) * 28 = 420
    expect([p.width, p.height]).toEqual([420, 224]);
    expect(p.factor).toBe(28);
    expect(p.tokensPerPair).toBe(15 * 8);
    expect(p.pairs[0]).toEqual({ frames: [0, 1], time: 0, label: "0.0 seconds" });
    expect(p.pairs[1].time).toBe(1); // frame 30 / 30 fps, not the mean 1.25
    expect(p.pairs[1].label).toBe("1.0 seconds");
  });
  test("timestampFormat / timestampRule overrides", () => {
    const p = planFrames(video(4, 2, 320, 240), {
      timestampFormat: (t) => `[${t.toFixed(3)}]`,
      timestampRule: "pair-first",
    });
    expect(p.pairs.map((x) => x.label)).toEqual(["[0.000]", "[1.000]"]);
  });
  test("an odd frame count repeats the last frame in the last pair", () => {
    const pairs = pairFrames([0, 1, 2], "pair-mean", "<{t} seconds>");
    expect(pairs.map((x) => x.frames)).toEqual([
      [0, 1],
      [2, 2],
    ]);
    expect(pairs[1].time).toBe(2);
  });
});

describe("argument checks", () => {
  test("bad video info and options are ERR_INVALID_ARGUMENT", () => {
    expectCode(() => planFrames(video(0, 30)), "ERR_INVALID_ARGUMENT");
    expectCode(() => planFrames(video(100, 0)), "ERR_INVALID_ARGUMENT");
    expectCode(() => planFrames(video(100, 30, 0, 10)), "ERR_INVALID_ARGUMENT");
    expectCode(() => planFrames(video(100, 30), { fps: -1 }), "ERR_INVALID_ARGUMENT");
    expectCode(() => planFrames(video(100, 30), { start: Number.NaN }), "ERR_INVALID_ARGUMENT");
  });
  test("frameCount is exported and matches the plan", () => {
    expect(frameCount(3300, 30, { fps: 2 })).toBe(220);
  });
});
