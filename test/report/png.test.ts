/** The PNG timeline and the thumbnails: decoded back with sharp and checked pixel by pixel. */
import sharp from "sharp";
import { makeClip } from "../helpers/clips";
import { video } from "../helpers/videos";
import { renderTimelinePng, timelinePngLayout } from "../../src/report/png";
import { extractThumbnails } from "../../src/report/thumbnails";
import { LANE_COLOR, spanColor } from "../../src/report/palette";
import { resultFor } from "./fixtures";

async function decode(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    info,
    at: (x: number, y: number) => [
      data[(y * info.width + x) * 3],
      data[(y * info.width + x) * 3 + 1],
      data[(y * info.width + x) * 3 + 2],
    ],
  };
}

test("the PNG has the layout's size and the span overlay at the span's x range", async () => {
  const clip = makeClip({ seconds: 6 });
  const a = await resultFor(clip, "first", [[1.5, 3]]);
  const b = await resultFor(clip, "second", [[4.5, 6]]);
  const png = await renderTimelinePng([a, b], { video: clip, width: 900, thumbnailHeight: 60 });
  expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
  const img = await decode(png);
  const layout = timelinePngLayout(2, 60, 900);
  expect(img.info.width).toBe(900);
  expect(img.info.height).toBe(layout.height);
  const duration = a.video.duration;
  const x = (t: number) => layout.track.left + (t / duration) * layout.track.width;
  for (const [row, r] of [a, b].entries()) {
    const y = layout.rows[row].top + layout.rows[row].height / 2;
    const [s, e] = r.spans[0];
    const color = [...spanColor(row)];
    for (const t of [s + 0.05, (s + e) / 2, e - 0.05]) expect(img.at(Math.round(x(t)), y)).toEqual(color);
    for (const t of [s - 0.3, e + 0.3])
      if (t > 0 && t < duration) expect(img.at(Math.round(x(t)), y)).toEqual([...LANE_COLOR]);
    expect(img.at(Math.round(x(s)) - 3, y)).not.toEqual(color);
  }
  // The strip has pictures: many distinct colours there.
  const seen = new Set<string>();
  for (let px = layout.track.left; px < layout.track.left + layout.track.width; px += 3)
    seen.add(img.at(px, layout.strip.top + 30).join(","));
  expect(seen.size).toBeGreaterThan(20);
});

test("thumbnails show the planned frames (the frame number is in the pixels)", async () => {
  const numbered = video("numbered"); // R = frame mod 256, G = floor(frame / 256)
  const r = await resultFor(numbered.path, "q", [[2, 3]], { profile: "timelens-8b" });
  const pairs = [0, 3, r.frames.pairs - 1];
  const thumbs = await extractThumbnails(numbered.path, r.frames, r.profile, pairs, { height: 40 });
  expect(thumbs.map((t) => t.pair)).toEqual(pairs);
  for (const t of thumbs) {
    const expectedFrame = r.frames.indices[2 * t.pair];
    expect(t.frameIndex).toBe(expectedFrame);
    expect(t.label).toBe(r.frames.labels[t.pair]);
    expect(t.height).toBe(40);
    const { data, info } = await sharp(t.jpeg).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([t.width, 40]);
    const o = (20 * info.width + Math.floor(info.width / 2)) * info.channels;
    expect(Math.abs(data[o] - (expectedFrame % 256))).toBeLessThanOrEqual(4);
    expect(Math.abs(data[o + 1] - Math.floor(expectedFrame / 256))).toBeLessThanOrEqual(4);
  }
});

test("bad thumbnail requests are typed errors", async () => {
  const clip = makeClip({ seconds: 6 });
  const r = await resultFor(clip, "q", [[1, 2]]);
  await expect(extractThumbnails(clip, r.frames, r.profile, [2, 1])).rejects.toMatchObject({
    code: "ERR_INVALID_ARGUMENT",
  });
  await expect(extractThumbnails(clip, r.frames, r.profile, [r.frames.pairs])).rejects.toMatchObject({
    code: "ERR_INVALID_ARGUMENT",
  });
  await expect(extractThumbnails(clip, r.frames, r.profile, [0], { height: 0 })).rejects.toMatchObject({
    code: "ERR_INVALID_ARGUMENT",
  });
  await expect(extractThumbnails("/no/such/video.mp4", r.frames, r.profile, [0])).rejects.toMatchObject({
    code: "ERR_FILE_NOT_FOUND",
  });
  await expect(renderTimelinePng(r, { width: 10 })).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
});
