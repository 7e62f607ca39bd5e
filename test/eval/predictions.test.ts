import { TimelensError } from "../../src/errors";
import {
  formatPredictionLine,
  parsePredictionFile,
  parsePredictionKey,
  predictionKey,
} from "../../src/eval/predictions";

// Expected lines were printed by CPython's json.dumps with the same dicts.
const LINE_1 =
  '{"3MSZA.mp4>>>person turn a light on>>>[24.3, 30.4]": {"timestamps": [[24.0, 30.0]], ' +
  '"answers": "The event happens in 24.3 - 30.4 seconds.", "duration": 30.96}}';
const LINE_2 =
  '{"v.mp4>>>caf\\u00e9 \\"q\\">>>[0, 14]": {"timestamps": [[40.0, 50.0]], "answers": "x\\n", "duration": 150}}';

describe("prediction lines", () => {
  it("writes the reference's json.dumps line: float reprs, int spans, ASCII escapes", () => {
    expect(
      formatPredictionLine({
        video: "3MSZA.mp4",
        query: "person turn a light on",
        gt: [24.3, 30.4],
        timestamps: [[24, 30]],
        answers: "The event happens in 24.3 - 30.4 seconds.",
        duration: 30.96,
      }),
    ).toBe(LINE_1);
    expect(
      formatPredictionLine({
        video: "v.mp4",
        query: 'café "q"',
        gt: [0n, 14n],
        timestamps: [[40, 50]],
        answers: "x\n",
        duration: 150n,
      }),
    ).toBe(LINE_2);
  });

  it("builds and splits keys at the first and last >>>", () => {
    expect(predictionKey("a.mp4", "q", [1, 2.5])).toBe("a.mp4>>>q>>>[1.0, 2.5]");
    expect(parsePredictionKey("a.mp4>>>x >>> y>>>[1.0, 2.5]")).toEqual({
      video: "a.mp4",
      query: "x >>> y",
      gt: [1, 2.5],
    });
    expect(parsePredictionKey("a.mp4>>>q>>>(3, 5)")).toEqual({ video: "a.mp4", query: "q", gt: [3, 5] });
    expect(parsePredictionKey("a.mp4>>>q>>>[[1.0, 2.0]]")).toEqual({ video: "a.mp4", query: "q", gt: null });
    expect(parsePredictionKey("a.mp4>>>q")).toEqual({ video: "a.mp4", query: "q", gt: null });
  });

  it("reads a file back, including CRLF, blank lines and the 'answer' variant", () => {
    const variant = '{"b.mp4>>>q2>>>[1.5, 2.0]": {"timestamps": [[2.0, 2.0]], "answer": "2 - 2", "duration": 9.5}}';
    const f = parsePredictionFile(`${LINE_1}\r\n\n${LINE_2}\n${variant}\n`);
    expect(f.tornLastLine).toBe(false);
    expect(f.records).toEqual([
      {
        key: "3MSZA.mp4>>>person turn a light on>>>[24.3, 30.4]",
        video: "3MSZA.mp4",
        query: "person turn a light on",
        gt: [24.3, 30.4],
        timestamps: [[24, 30]],
        answers: "The event happens in 24.3 - 30.4 seconds.",
        duration: 30.96,
        line: 1,
      },
      {
        key: 'v.mp4>>>café "q">>>[0, 14]',
        video: "v.mp4",
        query: 'café "q"',
        gt: [0, 14],
        timestamps: [[40, 50]],
        answers: "x\n",
        duration: 150,
        line: 3,
      },
      {
        key: "b.mp4>>>q2>>>[1.5, 2.0]",
        video: "b.mp4",
        query: "q2",
        gt: [1.5, 2],
        timestamps: [[2, 2]],
        answers: "2 - 2",
        duration: 9.5,
        line: 4,
      },
    ]);
  });

  it("skips a torn last line and reports it", () => {
    const f = parsePredictionFile(`${LINE_1}\n${LINE_2.slice(0, 40)}`);
    expect(f.tornLastLine).toBe(true);
    expect(f.records.map((r) => r.video)).toEqual(["3MSZA.mp4"]);
  });

  it("rejects a broken line that is not the last", () => {
    let err: unknown;
    try {
      parsePredictionFile(`${LINE_1}\n{"broken\n${LINE_2}\n`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TimelensError);
    expect((err as TimelensError).details.line).toBe(2);
  });

  it("reads Python's NaN / Infinity and round-trips non-finite values", () => {
    const line = formatPredictionLine({
      video: "v.mp4",
      query: "NaN Infinity",
      gt: [1, 2],
      timestamps: [[Infinity, -Infinity]],
      answers: "Infinity",
      duration: NaN,
    });
    expect(line).toBe(
      '{"v.mp4>>>NaN Infinity>>>[1.0, 2.0]": {"timestamps": [[Infinity, -Infinity]], ' +
        '"answers": "Infinity", "duration": NaN}}',
    );
    const [r] = parsePredictionFile(line).records;
    expect(r.query).toBe("NaN Infinity");
    expect(r.answers).toBe("Infinity");
    expect(r.timestamps).toEqual([[Infinity, -Infinity]]);
    expect(r.duration).toBeNaN();
  });
});
