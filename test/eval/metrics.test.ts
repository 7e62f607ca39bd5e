import { TimelensError } from "../../src/errors";
import {
  computeMetrics,
  formatMetricsTable,
  iou,
  predictionForScoring,
  referenceTimestamps,
  roundToUnit,
} from "../../src/eval/metrics";

describe("iou", () => {
  it.each<[string, [number, number], [number, number], number]>([
    ["overlap", [2, 5], [3, 7], 2 / 5],
    ["identical", [3, 7], [3, 7], 1],
    ["contained", [4, 6], [2, 10], 2 / 8],
    ["touching", [0, 2], [2, 4], 0],
    ["disjoint", [0, 1], [2, 3], 0],
    // A reversed prediction is scored as it is: its intersection is negative, so 0.
    ["reversed prediction", [7, 3], [2, 8], 0],
    ["zero-length prediction inside the ground truth", [5, 5], [2, 8], 0],
    ["infinite prediction end", [5, Infinity], [2, 8], 0],
  ])("%s", (_name, a, b, expected) => {
    expect(iou(a, b)).toBe(expected);
  });

  it("throws (never NaN) when the union is zero, where the reference divides by zero", () => {
    for (const [a, b] of [
      [
        [5, 5],
        [5, 5],
      ],
      [
        [7, 3],
        [5, 5],
      ],
    ] as Array<[[number, number], [number, number]]>) {
      let err: unknown;
      try {
        iou(a, b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TimelensError);
      expect((err as TimelensError).code).toBe("ERR_INVALID_ARGUMENT");
    }
  });
});

describe("predictionForScoring", () => {
  it("rounds half to even, to whole seconds", () => {
    expect(predictionForScoring([[2.5, 3.5]], 30)).toEqual([2, 4]);
    expect(predictionForScoring([[0.5, 1.5]], 30)).toEqual([0, 2]);
    expect(predictionForScoring([[2.4999, 2.5001]], 30)).toEqual([2, 3]);
  });
  it("scores only the first pair", () => {
    expect(
      predictionForScoring(
        [
          [1.4, 2.6],
          [10, 20],
        ],
        30,
      ),
    ).toEqual([1, 3]);
  });
  it("uses [duration + 10, duration + 20] when there is no pair, rounded too", () => {
    expect(predictionForScoring([], 30)).toEqual([40, 50]);
    expect(predictionForScoring(null, 30)).toEqual([40, 50]);
    expect(predictionForScoring(null, 30.5)).toEqual([40, 50]); // 40.5 -> 40, 50.5 -> 50
    expect(predictionForScoring(null, 29.5)).toEqual([40, 50]); // 39.5 -> 40, 49.5 -> 50
  });
  it("does not order or clamp (spans past the end stay)", () => {
    expect(predictionForScoring([[45.2, 25.7]], 30)).toEqual([45, 26]);
  });
  it("referenceTimestamps rounds every pair; roundToUnit honours the unit", () => {
    expect(
      referenceTimestamps(
        [
          [1.5, 2.5],
          [3.5, 4.5],
        ],
        10,
      ),
    ).toEqual([
      [2, 2],
      [4, 4],
    ]);
    expect(referenceTimestamps([], 10)).toEqual([[20, 30]]);
    expect(roundToUnit(7.3, 0.5)).toBe(7.5);
  });
});

describe("computeMetrics", () => {
  it("R1 at inclusive thresholds and mIoU, as percentages", () => {
    const m = computeMetrics([
      { prediction: [[0, 10]], gt: [0, 5], duration: 30 }, // IoU 0.5 exactly
      { prediction: [[0, 10]], gt: [0, 7], duration: 30 }, // IoU 0.7 exactly
      { prediction: [[0, 10]], gt: [0, 3], duration: 30 }, // IoU 0.3 exactly
      { prediction: null, gt: [0, 5], duration: 30 }, // fallback [40, 50]: 0
      { prediction: [[2.5, 7.5]], gt: [2, 8], duration: 30 }, // rounded to [2, 8]: 1 (5/6 unrounded)
    ]);
    expect(m.count).toBe(5);
    expect(m.ious).toEqual([0.5, 0.7, 0.3, 0, 1]);
    expect(m.r1["0.3"]).toBe(80);
    expect(m.r1["0.5"]).toBe(60);
    expect(m.r1["0.7"]).toBe(40);
    expect(m.miou).toBeCloseTo(50, 10);
  });
  it("scores spans past the video end unclamped", () => {
    // [25, 40] vs [20, 30]: 5 / 20. Clamping to the 30 s duration would give 5 / 10.
    expect(computeMetrics([{ prediction: [[25, 40]], gt: [20, 30], duration: 30 }]).ious).toEqual([0.25]);
  });
  it("refuses an empty item list", () => {
    expect(() => computeMetrics([])).toThrow(TimelensError);
  });
});

describe("formatMetricsTable", () => {
  it("prints one row per result with one decimal (Python rounding)", () => {
    const a = { count: 4, r1: { "0.3": 75, "0.5": 62.25, "0.7": 12.5 }, miou: 48.75, ious: [] };
    expect(formatMetricsTable([{ name: "charades", metrics: a }])).toBe(
      [
        "          count  R1@0.3  R1@0.5  R1@0.7  mIoU",
        "--------  -----  ------  ------  ------  ----",
        "charades      4    75.0    62.2    12.5  48.8",
      ].join("\n"),
    );
    expect(formatMetricsTable(a, { digits: 2 }).split("\n")[2]).toBe("all      4   75.00   62.25   12.50  48.75");
  });
});
