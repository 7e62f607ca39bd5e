/**
 * runEval and the prediction file mechanics with a scripted stand-in model (no native work):
 * one session per video, reference lines, failure lines, resume, torn-line repair, retries,
 * the lock, fatal errors.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseBenchAnnotation, type BenchItem } from "../../src/eval/bench";
import { parsePredictionFile } from "../../src/eval/predictions";
import { runEval, type EvalGrounderLike, type EvalSessionLike } from "../../src/eval/run";
import { PredictionWriter } from "../../src/eval/writer";
import { TimelensError } from "../../src/errors";
import type { OpenVideoOptions } from "../../src/session";
import type { QueryOptions } from "../../src/types";

// Raw text: ints and floats as written matter for the keys ("[0, 3]" vs "[1.0, 2.5]").
const ANNOTATION = `{
  "vidA": {"duration": 4.0, "spans": [[1.0, 2.5], [0, 3]], "queries": ["the light turns on.", "a  door opens"]},
  "vidB": {"duration": 6, "spans": [[2.0, 4.0], [1.5, 5.5]], "queries": ["someone waves", "a cup falls"]},
  "gone": {"duration": 5.5, "spans": [[1, 2], [3, 4]], "queries": ["never seen", "also never seen"]},
  "vidC": {"duration": 3.0, "spans": [[0.5, 1.5]], "queries": ["the end"]}
}`;

interface Calls {
  opened: string[];
  closed: string[];
  grounded: string[];
}

/** Answers "The event happens in 1.4 - 2.6 seconds." for every query; scripted failures by file name. */
function fakeGrounder(
  calls: Calls,
  opts: {
    failOpen?: (path: string) => Error | null;
    failGround?: (query: string) => Error | null;
    onGround?: (q: string) => void;
  } = {},
): EvalGrounderLike {
  return {
    async openVideo(path: string, _o?: OpenVideoOptions): Promise<EvalSessionLike> {
      const err = opts.failOpen?.(path);
      if (err) throw err;
      calls.opened.push(path);
      return {
        async ground(query: string, o?: QueryOptions) {
          if (o?.signal?.aborted) throw new TimelensError("ERR_ABORTED", "aborted");
          const e = opts.failGround?.(query);
          if (e) throw e;
          calls.grounded.push(query);
          opts.onGround?.(query);
          return {
            text: "The event happens in 1.4 - 2.6 seconds.",
            spans: [[1.4, 2.6]],
            timings: { decodeMs: 1, encodeMs: 2, prefillMs: 3, generateMs: 4 },
          };
        },
        async close() {
          calls.closed.push(path);
        },
      };
    },
  };
}

const newCalls = (): Calls => ({ opened: [], closed: [], grounded: [] });

describe("runEval", () => {
  let dir: string;
  let items: BenchItem[];
  let out: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "timelens-run-"));
    const videoDir = join(dir, "videos");
    mkdirSync(videoDir);
    for (const v of ["vidA", "vidB", "vidC"]) writeFileSync(join(videoDir, `${v}.mp4`), "not really a video");
    items = parseBenchAnnotation(ANNOTATION, { dataset: "charades-timelens", videoDir }).items;
    out = join(dir, "out", "preds.jsonl");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes one reference line per query, one session per video, failure lines for a missing video", async () => {
    const calls = newCalls();
    const report = await runEval({ grounder: fakeGrounder(calls), items, out });
    expect(calls.opened.map((p) => p.split("/").pop())).toEqual(["vidA.mp4", "vidB.mp4", "vidC.mp4"]);
    expect(calls.closed).toEqual(calls.opened);
    expect(calls.grounded).toEqual(["the light turns on", "a door opens", "someone waves", "a cup falls", "the end"]);
    const text = readFileSync(out, "utf8");
    expect(text.split("\n")).toEqual([
      '{"vidA.mp4>>>the light turns on>>>[1.0, 2.5]": {"timestamps": [[1.0, 3.0]],' +
        ' "answers": "The event happens in 1.4 - 2.6 seconds.", "duration": 4.0}}',
      '{"vidA.mp4>>>a door opens>>>[0, 3]": {"timestamps": [[1.0, 3.0]],' +
        ' "answers": "The event happens in 1.4 - 2.6 seconds.", "duration": 4.0}}',
      '{"vidB.mp4>>>someone waves>>>[2.0, 4.0]": {"timestamps": [[1.0, 3.0]],' +
        ' "answers": "The event happens in 1.4 - 2.6 seconds.", "duration": 6}}',
      '{"vidB.mp4>>>a cup falls>>>[1.5, 5.5]": {"timestamps": [[1.0, 3.0]],' +
        ' "answers": "The event happens in 1.4 - 2.6 seconds.", "duration": 6}}',
      '{"gone.mp4>>>never seen>>>[1, 2]": {"timestamps": [[16.0, 26.0]], "answers": "", "duration": 5.5}}',
      '{"gone.mp4>>>also never seen>>>[3, 4]": {"timestamps": [[16.0, 26.0]], "answers": "", "duration": 5.5}}',
      '{"vidC.mp4>>>the end>>>[0.5, 1.5]": {"timestamps": [[1.0, 3.0]],' +
        ' "answers": "The event happens in 1.4 - 2.6 seconds.", "duration": 3.0}}',
      "",
    ]);
    expect(report.aborted).toBe(false);
    expect(report.failures.map((f) => [f.videoId, f.query, f.code])).toEqual([
      ["gone", "never seen", "ERR_FILE_NOT_FOUND"],
      ["gone", "also never seen", "ERR_FILE_NOT_FOUND"],
    ]);
    const [d] = report.datasets;
    expect(d).toMatchObject({
      name: "charades-timelens",
      file: out,
      items: 7,
      unique: 7,
      resumed: 0,
      predicted: 7,
      failed: 2,
      remaining: 0,
    });
    // IoUs: [1,3] vs [1,2.5] = 0.75, vs [0,3] = 2/3, vs [2,4] = 1/3, vs [1.5,5.5] = 1.5/4.5,
    // misses 0, 0, vs [0.5,1.5] = 0.5/2.5.
    const ious = [0.75, 2 / 3, 1 / 3, 1.5 / 4.5, 0, 0, 0.5 / 2.5];
    expect(d.score.metrics!.count).toBe(7);
    expect(d.score.metrics!.r1["0.3"]).toBeCloseTo((4 * 100) / 7, 10);
    expect(d.score.metrics!.r1["0.5"]).toBeCloseTo((2 * 100) / 7, 10);
    expect(d.score.metrics!.r1["0.7"]).toBeCloseTo(100 / 7, 10);
    expect(d.score.metrics!.miou).toBeCloseTo((ious.reduce((a, b) => a + b) * 100) / 7, 10);
    expect(report.timings).toMatchObject({ queries: 7, videosOpened: 3, decodeMs: 5, generateMs: 20 });
    expect(existsSync(`${out}.lock`)).toBe(false);
  });

  it("resumes an aborted run without redoing or duplicating a key", async () => {
    const controller = new AbortController();
    const calls1 = newCalls();
    const first = await runEval({
      grounder: fakeGrounder(calls1),
      items,
      out,
      signal: controller.signal,
      onItem: () => {
        if (calls1.grounded.length === 3) controller.abort();
      },
    });
    expect(first.aborted).toBe(true);
    expect(first.datasets[0]).toMatchObject({ predicted: 3, remaining: 4 });
    expect(parsePredictionFile(readFileSync(out, "utf8")).records).toHaveLength(3);

    const calls2 = newCalls();
    const progress: number[] = [];
    const second = await runEval({
      grounder: fakeGrounder(calls2),
      items,
      out,
      onProgress: (p) => progress.push(p.done),
    });
    expect(second.aborted).toBe(false);
    expect(calls2.grounded).toEqual(["a cup falls", "the end"]);
    expect(calls2.opened.map((p) => p.split("/").pop())).toEqual(["vidB.mp4", "vidC.mp4"]);
    expect(second.datasets[0]).toMatchObject({ resumed: 3, predicted: 4, failed: 2, remaining: 0 });
    expect(progress[0]).toBe(3);
    expect(progress[progress.length - 1]).toBe(7);
    const keys = parsePredictionFile(readFileSync(out, "utf8")).records.map((r) => r.key);
    expect(keys).toHaveLength(7);
    expect(new Set(keys)).toEqual(new Set(items.map((i) => i.key)));

    const calls3 = newCalls();
    const third = await runEval({ grounder: fakeGrounder(calls3), items, out });
    expect(calls3.opened).toEqual([]);
    expect(third.datasets[0]).toMatchObject({ resumed: 7, resumedFailed: 2, predicted: 0 });
    expect(third.datasets[0].score.metrics!.count).toBe(7);
  });

  it("cuts a torn last line and redoes that item; adds a missing final newline", async () => {
    await runEval({ grounder: fakeGrounder(newCalls()), items: items.slice(0, 2), out });
    const whole = readFileSync(out, "utf8");
    const [line1, line2] = whole.split("\n");
    writeFileSync(out, `${line1}\n${line2.slice(0, 37)}`);
    const calls = newCalls();
    const report = await runEval({ grounder: fakeGrounder(calls), items: items.slice(0, 2), out });
    expect(report.repaired).toEqual([{ file: out, truncatedBytes: 37 }]);
    expect(calls.grounded).toEqual(["a door opens"]);
    expect(readFileSync(out, "utf8")).toBe(whole);

    writeFileSync(out, `${line1}`); // complete, but no newline
    const calls2 = newCalls();
    await runEval({ grounder: fakeGrounder(calls2), items: items.slice(0, 2), out });
    expect(calls2.grounded).toEqual(["a door opens"]);
    expect(readFileSync(out, "utf8")).toBe(whole);
  });

  it("refuses a file with a broken line in the middle instead of guessing", async () => {
    mkdirSync(join(dir, "out"), { recursive: true });
    writeFileSync(out, '{"broken\n{"a>>>b>>>[1, 2]": {"timestamps": [[1.0, 2.0]], "answers": "", "duration": 3.0}}\n');
    await expect(runEval({ grounder: fakeGrounder(newCalls()), items, out })).rejects.toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
    });
    expect(existsSync(`${out}.lock`)).toBe(false);
  });

  it("--retry-failed replaces earlier failure lines once the video exists", async () => {
    await runEval({ grounder: fakeGrounder(newCalls()), items, out });
    writeFileSync(join(dir, "videos", "gone.mp4"), "now here");
    const calls = newCalls();
    const again = await runEval({ grounder: fakeGrounder(calls), items, out });
    expect(calls.grounded).toEqual([]); // without the flag, failures stay as they are
    expect(again.datasets[0].resumedFailed).toBe(2);
    const retried = await runEval({ grounder: fakeGrounder(calls), items, out, retryFailed: true });
    expect(calls.grounded).toEqual(["never seen", "also never seen"]);
    expect(retried.failures).toEqual([]);
    const records = parsePredictionFile(readFileSync(out, "utf8")).records;
    expect(records).toHaveLength(7);
    expect(new Set(records.map((r) => r.key)).size).toBe(7);
    expect(records.filter((r) => r.answers === "")).toEqual([]);
  });

  it("fails an unreadable video's queries, keeps going, and stops on errors that would fail everything", async () => {
    const calls = newCalls();
    const report = await runEval({
      grounder: fakeGrounder(calls, {
        failOpen: (p) =>
          p.endsWith("vidB.mp4") ? new TimelensError("ERR_VIDEO_UNREADABLE", "moov atom not found") : null,
      }),
      items,
      out,
    });
    expect(report.failures.map((f) => `${f.videoId}:${f.code}`)).toEqual([
      "vidB:ERR_VIDEO_UNREADABLE",
      "vidB:ERR_VIDEO_UNREADABLE",
      "gone:ERR_FILE_NOT_FOUND",
      "gone:ERR_FILE_NOT_FOUND",
    ]);
    expect(calls.grounded).toEqual(["the light turns on", "a door opens", "the end"]);

    // A decode error on the first query of a video fails its other queries without retrying.
    const out2 = join(dir, "out2.jsonl");
    const calls2 = newCalls();
    const r2 = await runEval({
      grounder: fakeGrounder(calls2, {
        failGround: (q) =>
          q === "the light turns on" ? new TimelensError("ERR_VIDEO_UNREADABLE", "decoder stopped") : null,
      }),
      items,
      out: out2,
    });
    expect(r2.failures.filter((f) => f.videoId === "vidA")).toHaveLength(2);
    expect(calls2.grounded).not.toContain("a door opens");

    const out3 = join(dir, "out3.jsonl");
    await expect(
      runEval({
        grounder: fakeGrounder(newCalls(), { failOpen: () => new TimelensError("ERR_FFMPEG_NOT_FOUND", "no ffmpeg") }),
        items,
        out: out3,
      }),
    ).rejects.toMatchObject({ code: "ERR_FFMPEG_NOT_FOUND" });
    expect(existsSync(`${out3}.lock`)).toBe(false);
    expect(readFileSync(out3, "utf8")).toBe("");
  });

  it.each([
    ["ERR_NATIVE", () => new TimelensError("ERR_NATIVE", "llama_decode failed")],
    ["ERR_STATE_INVALID", () => new TimelensError("ERR_STATE_INVALID", "state does not match")],
    ["ERR_CONTEXT_OVERFLOW", () => new TimelensError("ERR_CONTEXT_OVERFLOW", "needs 9000 tokens")],
    ["out of memory", () => new Error("ggml: failed to allocate CUDA buffer (out of memory)")],
    ["out of memory with a video code", () => new TimelensError("ERR_VIDEO_UNREADABLE", "Cannot allocate memory")],
  ])("an infrastructure error (%s) stops the run, scores nothing, and the item stays pending", async (_name, make) => {
    const failing = new Set(["a door opens"]);
    const calls = newCalls();
    const grounder = fakeGrounder(calls, { failGround: (q) => (failing.has(q) ? make() : null) });
    await expect(runEval({ grounder, items, out })).rejects.toMatchObject({ message: make().message });
    const written = parsePredictionFile(readFileSync(out, "utf8")).records;
    expect(written.map((r) => r.query)).toEqual(["the light turns on"]);
    expect(written.filter((r) => r.answers === "")).toEqual([]);
    expect(existsSync(`${out}.lock`)).toBe(false);

    // The next run (the fault gone) does the pending item and the rest; nothing is skipped.
    failing.clear();
    const calls2 = newCalls();
    const report = await runEval({ grounder: fakeGrounder(calls2), items, out });
    expect(calls2.grounded[0]).toBe("a door opens");
    expect(report.datasets[0].resumed).toBe(1);
    const all = parsePredictionFile(readFileSync(out, "utf8")).records;
    expect(all.filter((r) => r.answers !== "").map((r) => r.query)).toContain("a door opens");
  });

  it("an infrastructure error opening a video stops the run before any line of it", async () => {
    const calls = newCalls();
    const grounder = fakeGrounder(calls, {
      failOpen: (p) => (p.endsWith("vidB.mp4") ? new TimelensError("ERR_CONTEXT_OVERFLOW", "needs 9000 tokens") : null),
    });
    await expect(runEval({ grounder, items, out })).rejects.toMatchObject({ code: "ERR_CONTEXT_OVERFLOW" });
    const written = parsePredictionFile(readFileSync(out, "utf8")).records;
    expect(written.map((r) => r.video)).toEqual(["vidA.mp4", "vidA.mp4"]);
    expect(calls.grounded).toEqual(["the light turns on", "a door opens"]);
  });

  it("runs a repeated key once, and splits datasets into their own files", async () => {
    const dup = parseBenchAnnotation(
      JSON.stringify({
        vidA: {
          duration: 4.0,
          spans: [
            [1, 2],
            [1, 2],
          ],
          queries: ["same.", "same"],
        },
      }),
      { dataset: "qvhighlights-timelens", videoDir: join(dir, "videos") },
    ).items;
    const calls = newCalls();
    const report = await runEval({
      grounder: fakeGrounder(calls),
      items: [...items.slice(0, 1), ...dup],
      out: (d) => join(dir, `${d}.jsonl`),
    });
    expect(calls.grounded).toEqual(["the light turns on", "same"]);
    expect(report.datasets.map((d) => [d.name, d.items, d.unique, d.predicted])).toEqual([
      ["charades-timelens", 1, 1, 1],
      ["qvhighlights-timelens", 2, 1, 1],
    ]);
    expect(readFileSync(join(dir, "qvhighlights-timelens.jsonl"), "utf8").trim().split("\n")).toHaveLength(1);
  });
});

describe("PredictionWriter lock", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "timelens-lock-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a second writer while the first is alive, takes over a dead one's lock", async () => {
    const path = join(dir, "p.jsonl");
    const { writer } = await PredictionWriter.open(path);
    await expect(PredictionWriter.open(path)).rejects.toMatchObject({ code: "ERR_BUSY" });
    await writer.append('{"v.mp4>>>q>>>[1, 2]": {"timestamps": [[1.0, 2.0]], "answers": "x", "duration": 3.0}}');
    await writer.close();
    expect(existsSync(`${path}.lock`)).toBe(false);

    writeFileSync(`${path}.lock`, "2147483646\n"); // no such process
    const again = await PredictionWriter.open(path);
    expect(again.opened.records.map((r) => r.query)).toEqual(["q"]);
    expect(readFileSync(`${path}.lock`, "utf8").trim()).toBe(String(process.pid));
    await expect(again.writer.append("a\nb")).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    await again.writer.close();
  });
});
