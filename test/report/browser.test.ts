/// <reference lib="dom" />
/**
 * The reports in a real browser (Debian's chromium, headless): the page is not blank, the
 * span bars are drawn at the x range their times give on the lane (read back from the
 * screenshot's pixels), nothing is logged as an error, nothing is fetched.
 */
import sharp from "sharp";
import { makeClip } from "../helpers/clips";
import { renderReport } from "../../src/report/grounding";
import { renderEvalReport, type EvalReportItem } from "../../src/report/eval-report";
import { PUBLISHED } from "../../src/report/paper";
import { GT_COLOR, LANE_COLOR, spanColor } from "../../src/report/palette";
import { resultFor } from "./fixtures";
import { requireChromium, visit } from "./browser";

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

async function pixels(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => {
    const o = (Math.round(y) * info.width + Math.round(x)) * 3;
    return [data[o], data[o + 1], data[o + 2]];
  };
  let nonWhite = 0;
  const colours = new Set<number>();
  for (let i = 0; i < data.length; i += 3 * 7) {
    if (data[i] < 245 || data[i + 1] < 245 || data[i + 2] < 245) nonWhite++;
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  }
  return { info, at, nonWhiteShare: nonWhite / (data.length / 21), colours: colours.size };
}

/** Checks a bar of `color` spans exactly [x(s), x(e)] of a lane box (pixels a little inside and outside). */
function expectBar(
  px: Awaited<ReturnType<typeof pixels>>,
  lane: Box,
  duration: number,
  span: readonly [number, number],
  color: readonly number[],
) {
  const x = (t: number) => lane.left + (t / duration) * lane.width;
  const y = lane.top + lane.height / 2;
  const [s, e] = span;
  const x0 = x(s);
  const x1 = x(e);
  for (const xi of [x0 + 2, (x0 + x1) / 2, x1 - 2]) expect(px.at(xi, y)).toEqual([...color]);
  if (x0 - 3 > lane.left) expect(px.at(x0 - 3, y)).not.toEqual([...color]);
  if (x1 + 3 < lane.left + lane.width) expect(px.at(x1 + 3, y)).not.toEqual([...color]);
}

beforeAll(() => requireChromium());

test("grounding report: thumbnails, span rows at the right x, no errors, no network", async () => {
  const clip = makeClip({ seconds: 6 });
  const a = await resultFor(clip, `a red box <script>window.__x=1</script> "moves"`, [[1.5, 3.5]]);
  const b = await resultFor(clip, "second query", [[4, 5.5]]);
  const html = await renderReport([a, b], { video: clip, note: "random weights" });
  const v = await visit(html, (page) =>
    page.evaluate(() => ({
      lanes: Array.from(document.querySelectorAll(".lane")).map((el) => {
        const r = el.getBoundingClientRect();
        return { left: r.left + window.scrollX, top: r.top + window.scrollY, width: r.width, height: r.height };
      }),
      images: Array.from(document.images).map((i) => i.naturalWidth),
      injected: (window as unknown as { __x?: number }).__x ?? null,
      scripts: document.scripts.length,
    })),
  );
  const probe = v.probe as { lanes: Box[]; images: number[]; injected: number | null; scripts: number };
  expect(v.consoleErrors).toEqual([]);
  expect(v.requests).toEqual([]);
  expect(probe.injected).toBeNull();
  expect(probe.scripts).toBe(0);
  expect(probe.images).toHaveLength(a.frames.pairs);
  for (const w of probe.images) expect(w).toBeGreaterThan(0); // every thumbnail decoded
  expect(probe.lanes).toHaveLength(2);
  const px = await pixels(v.screenshot);
  expect(px.nonWhiteShare).toBeGreaterThan(0.05);
  expect(px.colours).toBeGreaterThan(200);
  expectBar(px, probe.lanes[0], a.video.duration, a.spans[0], spanColor(0));
  expectBar(px, probe.lanes[1], b.video.duration, b.spans[0], spanColor(1));
  // The lane outside the span keeps the lane colour.
  const l0 = probe.lanes[0];
  expect(px.at(l0.left + 5, l0.top + l0.height / 2)).toEqual([...LANE_COLOR]);
});

test("eval report: predicted and ground-truth bars at the right x, charts drawn, no errors, no network", async () => {
  const clip = makeClip({ seconds: 6 });
  const items: EvalReportItem[] = [
    {
      key: "v>>>worst>>>[1, 2]",
      video: "v.mp4",
      query: "the worst <b>query</b>",
      gt: [1, 2],
      prediction: [4, 5],
      iou: 0,
      emptyAnswer: false,
      line: 1,
      duration: 6,
      answer: "4 - 5",
      videoPath: clip,
    },
    {
      key: "v>>>best>>>[2, 4]",
      video: "v.mp4",
      query: "the best query",
      gt: [2, 4],
      prediction: [2, 4],
      iou: 1,
      emptyAnswer: false,
      line: 2,
      duration: 6,
      answer: "2 - 4",
      videoPath: clip,
    },
    {
      key: "w>>>mid>>>[0, 3]",
      video: "missing.mp4",
      query: "no video",
      gt: [0, 3],
      prediction: [1, 3],
      iou: 2 / 3,
      emptyAnswer: false,
      line: 3,
      duration: 6,
      answer: "1 - 3",
      videoPath: "/no/such.mp4",
    },
  ];
  const html = await renderEvalReport(
    { dataset: "charades-timelens", items, paper: PUBLISHED, paperModel: "TimeLens-8B" },
    { examples: 1 },
  );
  const v = await visit(html, (page) =>
    page.evaluate(() => {
      const box = (el: Element) => {
        const r = el.getBoundingClientRect();
        return { left: r.left + window.scrollX, top: r.top + window.scrollY, width: r.width, height: r.height };
      };
      const card = (kind: string) => Array.from(document.querySelectorAll(`.card[data-kind="${kind}"] .lane`)).map(box);
      return {
        worst: card("worst"),
        best: card("best"),
        svgs: Array.from(document.querySelectorAll("svg")).map((s) => box(s).width),
        images: document.images.length,
      };
    }),
  );
  const probe = v.probe as { worst: Box[]; best: Box[]; svgs: number[]; images: number };
  expect(v.consoleErrors).toEqual([]);
  expect(v.requests).toEqual([]);
  expect(probe.svgs).toHaveLength(2);
  for (const w of probe.svgs) expect(w).toBeGreaterThan(100);
  expect(probe.images).toBeGreaterThan(0); // the two examples with a video have thumbnails
  const px = await pixels(v.screenshot);
  expect(px.nonWhiteShare).toBeGreaterThan(0.03);
  expect(probe.worst).toHaveLength(2);
  expectBar(px, probe.worst[0], 6, [4, 5], spanColor(0));
  expectBar(px, probe.worst[1], 6, [1, 2], GT_COLOR);
  expectBar(px, probe.best[0], 6, [2, 4], spanColor(0));
  expectBar(px, probe.best[1], 6, [2, 4], GT_COLOR);
});
