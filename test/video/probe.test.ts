/**
 * probeVideo on the synthetic fixtures (test/helpers/videos.ts): exact decoder frame counts,
 * frame rates, rotation, and the refusals.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isTimelensError } from "../../src/errors";
import { countDecodedFrames, probeVideo, rotationOf } from "../../src/video/probe";
import { video, type VideoName } from "../helpers/videos";

async function probeError(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(isTimelensError(e)).toBe(true);
    return e as { code: string; message: string };
  }
  throw new Error("expected probeVideo to fail");
}

describe("frame counts, rates and sizes", () => {
  const cases: VideoName[] = [
    "cfr30",
    "cfr25",
    "ntsc",
    "portrait",
    "odd",
    "three",
    "one",
    "vfr",
    "numbered",
    "numbered-mkv",
    "tall",
  ];
  test.each(cases)("%s", async (name) => {
    const f = video(name);
    const v = await probeVideo(f.path);
    const e = f.expected!;
    expect(v.totalFrames).toBe(e.frames);
    expect(v.fps).toBeCloseTo(e.fps, 9);
    expect([v.width, v.height]).toEqual([e.width, e.height]);
    expect(v.containerFrames).toBe(e.containerFrames);
    expect(v.rotation).toBe(0);
    expect(v.path).toBe(f.path);
    expect(v.duration).toBeGreaterThan(0);
    // The probe's count is what the decoder yields.
    expect(await countDecodedFrames(f.path, v.streamIndex)).toBe(e.frames);
  });
  test("29.97 fps is the exact rational 30000/1001", async () => {
    expect((await probeVideo(video("ntsc").path)).fps).toBe(30000 / 1001);
  });
  test("VFR: the average rate is frames / duration (90 / 4.9333 s = 675/37)", async () => {
    const v = await probeVideo(video("vfr").path);
    expect(v.fps).toBe(675 / 37);
    expect(v.duration).toBeCloseTo(4.9333, 2); // 4.933984: the timebase rounds it
  });
  test("Matroska has no container count: frames are counted by decoding", async () => {
    const v = await probeVideo(video("odd").path);
    expect(v.frameCountSource).toBe("decode");
    expect(v.codec).toBe("ffv1");
    const mp4 = await probeVideo(video("cfr30").path);
    expect(mp4.frameCountSource).toBe("container");
    expect(mp4.codec).toBe("h264");
  });
});

describe("container and decoder disagree", () => {
  test("edit list: the MP4 lists 90 samples, 15 are hidden, the decoder yields 75", async () => {
    const f = video("editlist");
    const v = await probeVideo(f.path);
    expect(v.containerFrames).toBe(90);
    expect(v.totalFrames).toBe(75);
    expect(v.frameCountSource).toBe("decode");
    // "container" mode trusts the (wrong) container count; "decode" always counts
    expect((await probeVideo(f.path, { countFrames: "container" })).totalFrames).toBe(90);
    expect((await probeVideo(f.path, { countFrames: "decode" })).totalFrames).toBe(75);
  });
  test("truncated fast-start MP4: the index lists 120 frames, the decoder yields 25", async () => {
    const v = await probeVideo(video("truncated-faststart").path);
    expect(v.containerFrames).toBe(120);
    expect(v.totalFrames).toBe(25);
    expect(v.frameCountSource).toBe("decode");
  });
  test("decode mode agrees with the container where it is right", async () => {
    const v = await probeVideo(video("cfr30").path, { countFrames: "decode" });
    expect(v.totalFrames).toBe(120);
    expect(v.frameCountSource).toBe("decode");
  });
});

describe("rotation", () => {
  test("a quarter-turn display matrix swaps width and height", async () => {
    const v = await probeVideo(video("rotated").path);
    expect([v.codedWidth, v.codedHeight]).toEqual([64, 32]);
    expect([v.width, v.height]).toEqual([32, 64]);
    expect([90, 270]).toContain(v.rotation);
  });
  test("rotationOf reads ffprobe's counter-clockwise display matrix angle, or the legacy clockwise tag", () => {
    expect(rotationOf({ side_data_list: [{ side_data_type: "Display Matrix", rotation: -90 }] })).toBe(90);
    expect(rotationOf({ side_data_list: [{ side_data_type: "Display Matrix", rotation: 90 }] })).toBe(270);
    expect(rotationOf({ side_data_list: [{ side_data_type: "Display Matrix", rotation: 180 }] })).toBe(180);
    expect(rotationOf({ side_data_list: [{ side_data_type: "Display Matrix", rotation: -180 }] })).toBe(180);
    expect(rotationOf({ tags: { rotate: "90" } })).toBe(90);
    expect(rotationOf({ side_data_list: [{ rotation: 90 }], tags: { rotate: "270" } })).toBe(270);
    expect(rotationOf({})).toBe(0);
  });
});

describe("refusals", () => {
  test("audio only: ERR_VIDEO_UNREADABLE 'no video stream'", async () => {
    const e = await probeError(probeVideo(video("audio").path));
    expect(e.code).toBe("ERR_VIDEO_UNREADABLE");
    expect(e.message).toMatch(/no video stream/);
    expect(e.message).toMatch(/audio/);
  });
  test("missing file: ERR_FILE_NOT_FOUND with the path", async () => {
    const missing = join(__dirname, "no-such-video.mp4");
    const e = await probeError(probeVideo(missing));
    expect(e.code).toBe("ERR_FILE_NOT_FOUND");
    expect(e.message).toContain(missing);
  });
  test("truncated MP4 without its index: ERR_VIDEO_UNREADABLE with ffprobe's reason", async () => {
    const e = await probeError(probeVideo(video("truncated").path));
    expect(e.code).toBe("ERR_VIDEO_UNREADABLE");
    expect(e.message).toMatch(/moov atom not found/);
  });
  test("not a video at all, and a directory", async () => {
    const e = await probeError(probeVideo(join(__dirname, "probe.test.ts")));
    expect(e.code).toBe("ERR_VIDEO_UNREADABLE");
    expect((await probeError(probeVideo(__dirname))).code).toBe("ERR_VIDEO_UNREADABLE");
  });
  test("an aborted signal rejects with AbortError", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(probeVideo(video("cfr30").path, { signal: ac.signal })).rejects.toMatchObject({ code: "ERR_ABORTED" });
  });
});

test("a Buffer is probed through a temporary file", async () => {
  const v = await probeVideo(readFileSync(video("cfr25").path));
  expect(v.totalFrames).toBe(50);
  expect(v.path).toBe("<buffer>");
});
