/** Scoring prediction files by the reference's compute_metrics rules, and the bench cross-check. */
import { parseBenchAnnotation } from "../../src/eval/bench";
import { crossCheck, metricsFromIous, scorePredictionText } from "../../src/eval/score";
import { HAND_BENCH, HAND_WRITTEN } from "./hand-written";

describe("scorePredictionText", () => {
  it("follows the reference: last line of a key wins, first pair, answers parsed only without timestamps", () => {
    const s = scorePredictionText(`${HAND_WRITTEN}\n{"torn": {"timest`);
    expect(s.tornLastLine).toBe(true);
    expect(s.repeatedKeys).toBe(1);
    expect(s.items.map((i) => [i.key.split(">>>")[1], i.prediction, i.iou])).toEqual([
      ["q1", [0, 10], 1],
      ["q2", [2, 4], 1],
      ["q3", [40, 50], 0],
      ["q4", [2, 3], 0.5],
      ["q5", [-100, -100], 0],
      ["stray", [1, 2], 1],
    ]);
    expect(s.items.filter((i) => i.emptyAnswer).map((i) => i.query)).toEqual(["q3"]);
    expect(s.metrics).toMatchObject({
      count: 6,
      r1: { "0.3": 400 / 6, "0.5": 400 / 6, "0.7": 300 / 6 },
      miou: 350 / 6,
    });
  });

  it("lists what the reference cannot score instead of stopping", () => {
    const s = scorePredictionText(
      [
        '{"a.mp4>>>q>>>oops": {"timestamps": [[1.0, 2.0]], "answers": "", "duration": 3}}',
        '{"a.mp4>>>r>>>[5, 5]": {"timestamps": [[5.0, 5.0]], "answers": "5 - 5", "duration": 9}}',
        '{"a.mp4>>>s>>>[1, 3]": {"timestamps": [[1.0, 2.0]], "answers": "", "duration": 9}}',
      ].join("\n"),
    );
    expect(s.unscorable.map((u) => u.line)).toEqual([1, 2]);
    expect(s.metrics).toMatchObject({ count: 1, miou: 50 });
    expect(() => metricsFromIous([])).toThrow();
  });
});

describe("crossCheck", () => {
  it("splits records by dataset and lists annotation items with no prediction", () => {
    const bench = parseBenchAnnotation(HAND_BENCH, { dataset: "charades-timelens", videoDir: "/v" });
    const { records } = scorePredictionText(HAND_WRITTEN);
    const c = crossCheck(records, [bench]);
    expect(c.datasets[0]).toMatchObject({ name: "charades-timelens", expected: 6, present: 5 });
    expect(c.datasets[0].missing.map((m) => m.key)).toEqual(["d.mp4>>>q6>>>[1, 2]"]);
    expect(c.datasets[0].records).toHaveLength(6);
    expect(c.unknown.map((r) => r.video)).toEqual(["z.mp4"]);
  });
});
