/** Annotation loading: Python-faithful numbers in keys, normalised queries, paths, errors. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBench, parseBenchAnnotation, videoSubset } from "../../src/eval/bench";
import { parsePyJson } from "../../src/eval/pyjson";
import { isTimelensError } from "../../src/errors";

describe("parsePyJson", () => {
  it("keeps int versus float, as Python's json.load does", () => {
    const v = parsePyJson('{"a": [0, 14, 14.0, 1e3, -2, 1.50, 12345678901234567890]}') as Map<string, unknown>;
    expect(v.get("a")).toEqual([0n, 14n, 14, 1000, -2n, 1.5, 12345678901234567890n]);
  });

  it("keeps key order (integer-like keys too), last value of a repeated key, NaN/Infinity", () => {
    const v = parsePyJson('{"b": 1, "10": 2, "2": 3, "b": 4, "x": [NaN, Infinity, -Infinity]}') as Map<string, unknown>;
    expect([...v.keys()]).toEqual(["b", "10", "2", "x"]);
    expect(v.get("b")).toBe(4n);
    const [nan, inf, ninf] = v.get("x") as number[];
    expect(nan).toBeNaN();
    expect(inf).toBe(Infinity);
    expect(ninf).toBe(-Infinity);
  });

  it("decodes string escapes and rejects broken JSON with a position", () => {
    expect(parsePyJson('"caf\\u00e9 \\"q\\" \\\\"')).toBe('café "q" \\');
    expect(parsePyJson('\ufeff["x"]')).toEqual(["x"]);
    for (const bad of ['{"a": 1,}', '{"a" 1}', "[1, 2", '{"a": tru}', "01", '"\\"']) {
      let err: unknown;
      try {
        parsePyJson(bad, "bad.json");
      } catch (e) {
        err = e;
      }
      expect(isTimelensError(err, "ERR_INVALID_ARGUMENT")).toBe(true);
      expect((err as Error).message).toContain("bad.json");
    }
  });
});

describe("parseBenchAnnotation", () => {
  const text = `{
    "3MSZA": {"duration": 30.96, "spans": [[24.3, 30.4], [0, 14]],
      "queries": ["person turn a light on.", "  a  person\\tsits down. . "]},
    "123": {"duration": 150, "spans": [[1.0, 2.5], [3, 4], [5, 6]], "queries": ["q one", "q two"]},
    "dup": {"duration": 9.0, "spans": [[1, 2], [1, 2]], "queries": ["same.", "same"]}
  }`;

  it("builds the reference keys: basename, normalised query, str() of the span as written", () => {
    const d = parseBenchAnnotation(text, { dataset: "charades-timelens", videoDir: "/b/videos/charades" });
    expect(d.videoCount).toBe(3);
    expect(d.items.map((i) => i.key)).toEqual([
      "3MSZA.mp4>>>person turn a light on>>>[24.3, 30.4]",
      "3MSZA.mp4>>>a person sits down.>>>[0, 14]",
      "123.mp4>>>q one>>>[1.0, 2.5]",
      "123.mp4>>>q two>>>[3, 4]",
      "dup.mp4>>>same>>>[1, 2]",
      "dup.mp4>>>same>>>[1, 2]",
    ]);
    expect(d.items[1]).toMatchObject({
      videoId: "3MSZA",
      videoPath: join("/b/videos/charades", "3MSZA.mp4"),
      rawQuery: "  a  person\tsits down. . ",
      gt: [0n, 14n],
      duration: 30.96,
      queryIndex: 1,
    });
    expect(d.items[2].duration).toBe(150n);
    expect(d.duplicateKeys).toBe(1);
    expect(d.warnings).toEqual([expect.stringContaining('"123": 3 spans but 2 queries')]);
  });

  it("rejects malformed entries with the video named", () => {
    const cases = [
      '{"v": {"spans": [[1, 2]], "queries": ["q"]}}',
      '{"v": {"duration": 3, "spans": [[1, 2, 3]], "queries": ["q"]}}',
      '{"v": {"duration": 3, "spans": [[1, 2]], "queries": [5]}}',
      '{"v": {"duration": 3, "spans": [1, 2], "queries": ["q", "r"]}}',
      "[1, 2]",
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        parseBenchAnnotation(c, { dataset: "x", videoDir: "." });
      } catch (e) {
        err = e;
      }
      expect(isTimelensError(err, "ERR_INVALID_ARGUMENT")).toBe(true);
    }
  });
});

describe("loadBench", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "timelens-bench-"));
    const ann = (vid: string) => JSON.stringify({ [vid]: { duration: 5.0, spans: [[1, 2]], queries: ["q"] } });
    writeFileSync(join(dir, "charades-timelens.json"), ann("c1"));
    writeFileSync(join(dir, "qvhighlights-timelens.json"), ann("q1"));
    mkdirSync(join(dir, "flat"));
    mkdirSync(join(dir, "roots", "charades"), { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the datasets of a bench folder and their videos/<subset> folders", async () => {
    const b = await loadBench(dir);
    expect(b.map((d) => d.name)).toEqual(["charades-timelens", "qvhighlights-timelens"]);
    expect(b[0].videoDir).toBe(join(dir, "videos", "charades"));
    expect(b[1].items[0].videoPath).toBe(join(dir, "videos", "qvhighlights", "q1.mp4"));
    expect(videoSubset("activitynet-timelens")).toBe("activitynet");
  });

  it("selects datasets, takes a single file, and resolves --videos both ways", async () => {
    expect((await loadBench(dir, { datasets: ["qvhighlights-timelens"] })).map((d) => d.name)).toEqual([
      "qvhighlights-timelens",
    ]);
    const single = await loadBench(join(dir, "charades-timelens.json"), { videos: join(dir, "flat") });
    expect(single[0].name).toBe("charades-timelens");
    expect(single[0].videoDir).toBe(join(dir, "flat"));
    const nested = await loadBench(join(dir, "charades-timelens.json"), { videos: join(dir, "roots") });
    expect(nested[0].videoDir).toBe(join(dir, "roots", "charades"));
  });

  it("reports missing datasets and paths", async () => {
    await expect(loadBench(dir, { datasets: ["activitynet-timelens"] })).rejects.toMatchObject({
      code: "ERR_FILE_NOT_FOUND",
    });
    await expect(loadBench(join(dir, "nope"))).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND" });
    await expect(loadBench(join(dir, "flat"))).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND" });
    await expect(
      loadBench(join(dir, "charades-timelens.json"), { datasets: ["qvhighlights-timelens"] }),
    ).rejects.toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
    });
  });
});
