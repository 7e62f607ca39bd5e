/** The report's pure geometry: thumbnail selection, time -> x, span boxes, cells, buckets, curves. */
import { getProfile } from "../../src/prompt/profiles";
import { planFrames } from "../../src/video/plan";
import { pairTimesOf } from "../../src/report/thumbnails";
import {
  axisTicks,
  bucketIndex,
  bucketLabel,
  DURATION_EDGES,
  evenlySpaced,
  formatClock,
  iouHistogram,
  nearestIndex,
  r1Curve,
  selectPairs,
  spanBox,
  thumbnailCells,
  timeToX,
} from "../../src/report/layout";

test("evenlySpaced keeps both ends, is ascending and spreads evenly", () => {
  expect(evenlySpaced(5, 10)).toEqual([0, 1, 2, 3, 4]);
  expect(evenlySpaced(11, 3)).toEqual([0, 5, 10]);
  expect(evenlySpaced(100, 1)).toEqual([0]);
  expect(evenlySpaced(0, 3)).toEqual([]);
  const e = evenlySpaced(384, 100);
  expect(e).toHaveLength(100);
  expect(e[0]).toBe(0);
  expect(e[99]).toBe(383);
  const gaps = e.slice(1).map((v, i) => v - e[i]);
  expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
});

test("nearestIndex finds the closest time", () => {
  const t = [0.25, 1.25, 2.25, 3.25];
  expect(nearestIndex(t, 0)).toBe(0);
  expect(nearestIndex(t, 1.3)).toBe(1);
  expect(nearestIndex(t, 2.0)).toBe(2);
  expect(nearestIndex(t, 99)).toBe(3);
});

test("selectPairs keeps every pair when they fit", () => {
  expect(selectPairs([0, 1, 2, 3], [[1, 2]], 100)).toEqual([0, 1, 2, 3]);
});

test("a 1-hour video: at most 100 thumbnails, evenly spread, the span's pairs kept", () => {
  const plan = planFrames(
    { totalFrames: 3600 * 30, fps: 30, width: 1280, height: 720 },
    { profile: getProfile("timelens-8b") },
  );
  const frames = { times: plan.frameTimes, pairs: plan.pairs.length };
  const times = pairTimesOf(frames, "timelens-8b");
  expect(times.length).toBe(384); // 768 frames (the sampler's cap) in pairs
  const span: [number, number] = [1234.5, 1300.2];
  const chosen = selectPairs(times, [span], 100);
  expect(chosen.length).toBeLessThanOrEqual(100);
  expect(chosen.length).toBeGreaterThan(90);
  expect([...chosen].sort((a, b) => a - b)).toEqual(chosen);
  expect(new Set(chosen).size).toBe(chosen.length);
  // The pairs nearest the span's edges, and every pair inside the span (few here), are kept.
  expect(chosen).toContain(nearestIndex(times, span[0]));
  expect(chosen).toContain(nearestIndex(times, span[1]));
  const inside = times
    .map((t, i) => [t, i] as const)
    .filter(([t]) => t >= span[0] && t <= span[1])
    .map(([, i]) => i);
  expect(inside.length).toBeGreaterThan(3);
  for (const i of inside) expect(chosen).toContain(i);
  // Evenly over the rest of the video: no gap much larger than an even share.
  const gaps = chosen.slice(1).map((v, i) => times[v] - times[chosen[i]]);
  expect(Math.max(...gaps)).toBeLessThan((3600 / 100) * 2.2);
  expect(chosen[0]).toBe(0);
  expect(chosen[chosen.length - 1]).toBe(times.length - 1);
});

test("a span covering most of a long video is thinned, not kept whole", () => {
  const times = Array.from({ length: 1000 }, (_, i) => i + 0.5);
  const chosen = selectPairs(times, [[10, 990]], 100);
  expect(chosen.length).toBeLessThanOrEqual(100);
  expect(chosen).toContain(nearestIndex(times, 10));
  expect(chosen).toContain(nearestIndex(times, 990));
});

test("several spans keep all their edges; non-finite spans are ignored", () => {
  const times = Array.from({ length: 500 }, (_, i) => i);
  const spans: Array<[number, number]> = [
    [3, 7],
    [250, 251],
    [480, 470],
    [NaN, 5],
  ];
  const chosen = selectPairs(times, spans, 20);
  expect(chosen.length).toBeLessThanOrEqual(20);
  for (const t of [3, 7, 250, 251, 470, 480]) expect(chosen).toContain(t);
});

test("timeToX maps [0, duration] onto the width and clamps", () => {
  expect(timeToX(0, 10, 200)).toBe(0);
  expect(timeToX(2.5, 10, 200)).toBe(50);
  expect(timeToX(10, 10, 200)).toBe(200);
  expect(timeToX(-3, 10, 200)).toBe(0);
  expect(timeToX(30, 10, 200)).toBe(200);
  expect(timeToX(1, 0, 200)).toBe(0);
});

test("spanBox: pixel extent of a span, reversed spans, clamping, minimum width, outside", () => {
  expect(spanBox([2, 5], 10, 1000)).toEqual({ left: 200, width: 300 });
  expect(spanBox([5, 2], 10, 1000)).toEqual({ left: 200, width: 300 });
  expect(spanBox([-5, 3], 10, 1000)).toEqual({ left: 0, width: 300 });
  expect(spanBox([8, 40], 10, 1000)).toEqual({ left: 800, width: 200 });
  expect(spanBox([4, 4], 10, 1000, 2)).toEqual({ left: 399, width: 2 });
  expect(spanBox([10, 10], 10, 1000, 2)).toEqual({ left: 998, width: 2 });
  expect(spanBox([11, 20], 10, 1000)).toBeNull();
  expect(spanBox([Infinity, 2], 10, 1000)).toBeNull();
});

test("thumbnailCells centre each thumbnail on its time without overlap", () => {
  const cells = thumbnailCells([5, 10, 12, 50], 60, 8);
  expect(cells.map((c) => c.center)).toEqual([5, 10, 12, 50]);
  for (const c of cells) expect(c.left + c.width / 2).toBeCloseTo(c.center, 9);
  for (let i = 1; i < cells.length; i++)
    expect(cells[i].left).toBeGreaterThanOrEqual(cells[i - 1].left + cells[i - 1].width - 1e-9);
  expect(cells[0].width).toBe(5); // halfway to 10 is 2.5 px on its right
  expect(cells[1].width).toBe(2); // 2 px to its neighbour: 1 px each side
  expect(cells[3].width).toBe(8);
  expect(thumbnailCells([1], 60, 8)[0]).toEqual({ center: 1, left: 0, width: 2 });
});

test("axisTicks pick a 1-2-5 step and stay within the count", () => {
  expect(axisTicks(6, 10)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  expect(axisTicks(3600, 10)).toEqual([0, 500, 1000, 1500, 2000, 2500, 3000, 3500]);
  const t = axisTicks(137, 8);
  expect(t.length).toBeLessThanOrEqual(8);
  expect(t[1]).toBe(20);
  expect(formatClock(5)).toBe("5 s");
  expect(formatClock(90)).toBe("1:30");
  expect(formatClock(3723)).toBe("1:02:03");
});

test("duration buckets: half-open edges, the last one closed, labels", () => {
  const edges = [0, 15, 30, Infinity];
  expect(bucketIndex(0, edges)).toBe(0);
  expect(bucketIndex(14.999, edges)).toBe(0);
  expect(bucketIndex(15, edges)).toBe(1);
  expect(bucketIndex(30, edges)).toBe(2);
  expect(bucketIndex(1e6, edges)).toBe(2);
  expect(bucketIndex(-1, edges)).toBe(-1);
  expect(bucketIndex(NaN, edges)).toBe(-1);
  expect(bucketIndex(10, [0, 10])).toBe(0);
  expect(bucketLabel(edges, 0)).toBe("0-15 s");
  expect(bucketLabel(edges, 2)).toBe("30+ s");
  expect(DURATION_EDGES[0]).toBe(0);
});

test("iouHistogram and r1Curve", () => {
  expect(iouHistogram([0, 0.05, 0.1, 0.55, 0.99, 1], 10)).toEqual([2, 1, 0, 0, 0, 1, 0, 0, 0, 2]);
  expect(r1Curve([0.2, 0.4, 0.6, 0.8], [0, 0.3, 0.5, 0.7, 1])).toEqual([100, 75, 50, 25, 0]);
  expect(r1Curve([], [0.5])).toEqual([0]);
});
