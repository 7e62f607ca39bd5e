/** The grounding job's pure parts: ids, data checks, failure reasons; shards and merging. */
import { TimelensError } from "../../src/errors";
import {
  canonicalOptions,
  errorFromReason,
  failureReason,
  groundingJobId,
  isInsideRoots,
  validateJobData,
} from "../../src/queue/job";
import { assignShards, mergeShardLines, parseShard, runOrder, shardFile, shardItems } from "../../src/eval/shard";
import { parsePredictionFile, formatPredictionLine } from "../../src/eval/predictions";
import type { BenchItem } from "../../src/eval/bench";

describe("grounding job ids", () => {
  const data = { video: "/v/a.mp4", queries: ["q1", "q2"], options: { fps: 1, totalTokens: 256 } };

  it("are equal for equal work, whatever the key order or undefined fields", () => {
    const same = {
      queries: ["q1", "q2"],
      options: { totalTokens: 256, fps: 1, maxFrames: undefined },
      video: "/v/a.mp4",
    };
    expect(groundingJobId(same, "d")).toBe(groundingJobId(data, "d"));
    expect(groundingJobId(data)).toMatch(/^tl-[0-9a-f]{40}$/);
    expect(canonicalOptions({ maxFrames: undefined, fps: 2 })).toEqual({ fps: 2 });
  });

  it("differ by scope, video, queries (and their order), model and options", () => {
    const id = groundingJobId(data, "d");
    const others = [
      groundingJobId(data, "e"),
      groundingJobId({ ...data, video: "/v/b.mp4" }, "d"),
      groundingJobId({ ...data, queries: ["q2", "q1"] }, "d"),
      groundingJobId({ ...data, queries: ["q1"] }, "d"),
      groundingJobId({ ...data, model: "m" }, "d"),
      groundingJobId({ ...data, options: { fps: 2, totalTokens: 256 } }, "d"),
    ];
    expect(new Set([id, ...others]).size).toBe(others.length + 1);
  });
});

describe("job data checks", () => {
  const expectBad = (data: unknown, pattern: RegExp, roots?: string[]): void => {
    let err: unknown;
    try {
      validateJobData(data, roots);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TimelensError);
    expect((err as TimelensError).code).toBe("ERR_INVALID_ARGUMENT");
    expect((err as Error).message).toMatch(pattern);
  };

  it("rejects missing fields, wrong types, unknown options and paths outside the allowed roots", () => {
    expectBad(null, /must be an object/);
    expectBad([], /must be an object/);
    expectBad({ queries: ["q"] }, /`video`/);
    expectBad({ video: 3, queries: ["q"] }, /`video`/);
    expectBad({ video: "/v/a.mp4" }, /`queries`/);
    expectBad({ video: "/v/a.mp4", queries: [] }, /`queries`/);
    expectBad({ video: "/v/a.mp4", queries: ["ok", " "] }, /queries\[1\]/);
    expectBad({ video: "/v/a.mp4", queries: ["q"], options: { fps: "2" } }, /fps must be a finite number/);
    expectBad({ video: "/v/a.mp4", queries: ["q"], options: { fsp: 2 } }, /unknown option "fsp"/);
    expectBad({ video: "/v/a.mp4", queries: ["q"], options: [] }, /`options`/);
    expectBad({ video: "/v/a.mp4", queries: ["q"], model: 1 }, /`model`/);
    expectBad({ video: "/v/../etc/passwd", queries: ["q"] }, /outside the allowed roots/, ["/v"]);
    expectBad({ video: "/videos2/a.mp4", queries: ["q"] }, /outside the allowed roots/, ["/videos"]);
  });

  it("accepts good data and copies it", () => {
    const input = { video: "/v/sub/a.mp4", queries: ["q"], options: { fps: 1, timestampFormat: "<{t}>" } };
    const out = validateJobData(input, ["/v"]);
    expect(out).toEqual({ ...input, model: undefined });
    expect(out.queries).not.toBe(input.queries);
    expect(isInsideRoots("/v", ["/v"])).toBe(true);
    expect(isInsideRoots("/vv/a", ["/v"])).toBe(false);
  });
});

describe("failure reasons", () => {
  it("carry the typed error's code and message there and back; others are ERR_QUEUE", () => {
    const reason = failureReason(
      new TimelensError("ERR_VIDEO_UNREADABLE", "ffprobe could not read x.mp4:\nmoov atom not found"),
    );
    expect(reason).toBe("ERR_VIDEO_UNREADABLE: ffprobe could not read x.mp4:\nmoov atom not found");
    const back = errorFromReason(reason, { jobId: "j" });
    expect(back.code).toBe("ERR_VIDEO_UNREADABLE");
    expect(back.message).toBe("ffprobe could not read x.mp4:\nmoov atom not found");
    expect(back.details).toEqual({ jobId: "j" });
    expect(failureReason(new Error("boom"))).toBe("ERR_QUEUE: boom");
    const stalled = errorFromReason("job stalled more than allowable limit");
    expect(stalled.code).toBe("ERR_QUEUE");
    expect(stalled.message).toContain("job stalled more than allowable limit");
  });
});

function item(dataset: string, video: string, query: string, gt: [number, number] = [0, 1]): BenchItem {
  const videoName = `${video}.mp4`;
  return {
    dataset,
    videoId: video,
    videoPath: `/b/${dataset}/${videoName}`,
    videoName,
    query,
    rawQuery: query,
    gt,
    duration: 5,
    key: `${videoName}>>>${query}>>>[${gt[0]}, ${gt[1]}]`,
    queryIndex: 0,
  };
}

describe("shards", () => {
  it("parse k/N and refuse anything else", () => {
    expect(parseShard("2/4")).toEqual({ index: 2, count: 4 });
    expect(parseShard(" 1 / 1 ")).toEqual({ index: 1, count: 1 });
    for (const bad of ["0/2", "3/2", "1/0", "a/b", "1", "1/2/3", "-1/2"]) expect(() => parseShard(bad)).toThrow(/k\/N/);
  });

  it("split by video, balanced by queries, deterministic; every item in exactly one shard", () => {
    // Video A has 3 queries, B 1, C 1, D 2: greedy by load gives A->1, B->2, C->2, D->2.
    const items = [
      item("d", "A", "a1"),
      item("d", "B", "b1"),
      item("d", "A", "a2"),
      item("d", "C", "c1"),
      item("d", "D", "d1"),
      item("d", "A", "a3"),
      item("d", "D", "d2"),
    ];
    const shards = assignShards(items, 2);
    expect([...shards.entries()].map(([k, v]) => [k.split("\u0000")[1].split("/").pop(), v])).toEqual([
      ["A.mp4", 1],
      ["B.mp4", 2],
      ["C.mp4", 2],
      ["D.mp4", 2],
    ]);
    const one = shardItems(items, { index: 1, count: 2 });
    const two = shardItems(items, { index: 2, count: 2 });
    expect(one.map((i) => i.query)).toEqual(["a1", "a2", "a3"]);
    expect(two.map((i) => i.query)).toEqual(["b1", "c1", "d1", "d2"]);
    expect(shardItems(items, { index: 1, count: 1 })).toEqual(items);
    // More shards than videos: the extra shards are empty, none is lost.
    const five = [1, 2, 3, 4, 5].map((k) => shardItems(items, { index: k, count: 5 }).length);
    expect(five.reduce((a, b) => a + b, 0)).toBe(items.length);
    expect(shardFile("out/p.jsonl", { index: 2, count: 4 })).toBe("out/p.shard-2-of-4.jsonl");
    expect(shardFile("out/p", { index: 1, count: 3 })).toBe("out/p.shard-1-of-3");
  });

  it("runOrder is runEval's order: distinct keys, grouped by video in first-appearance order", () => {
    const items = [
      item("d", "A", "a1"),
      item("d", "B", "b1"),
      item("d", "A", "a2"),
      item("d", "A", "a1"),
      item("e", "A", "x"),
    ];
    const fileOf = (d: string) => `${d}.jsonl`;
    expect(runOrder(items, fileOf, "d.jsonl")).toEqual([
      "A.mp4>>>a1>>>[0, 1]",
      "A.mp4>>>a2>>>[0, 1]",
      "B.mp4>>>b1>>>[0, 1]",
    ]);
    expect(runOrder(items, fileOf, "e.jsonl")).toEqual(["A.mp4>>>x>>>[0, 1]"]);
  });

  it("merge copies each shard's line as written, in run order; reports missing, extra keys; refuses conflicts", () => {
    const line = (video: string, q: string, answers: string) =>
      formatPredictionLine({
        video: `${video}.mp4`,
        query: q,
        gt: [0n, 1n],
        timestamps: [[0, 1]],
        answers,
        duration: 5,
      });
    const s1 = `${line("A", "a1", "x")}\n${line("A", "a2", "y")}\n`;
    const s2 = `${line("B", "b1", "z")}\n${line("Z", "zz", "extra")}\n`;
    const shards = [
      { name: "s1", text: s1, records: parsePredictionFile(s1).records },
      { name: "s2", text: s2, records: parsePredictionFile(s2).records },
    ];
    const order = ["A.mp4>>>a1>>>[0, 1]", "B.mp4>>>b1>>>[0, 1]", "A.mp4>>>a2>>>[0, 1]", "C.mp4>>>c>>>[0, 1]"];
    const merged = mergeShardLines(order, shards);
    expect(merged.text).toBe(`${line("A", "a1", "x")}\n${line("B", "b1", "z")}\n${line("A", "a2", "y")}\n`);
    expect(merged.missing).toEqual(["C.mp4>>>c>>>[0, 1]"]);
    expect(merged.extra).toBe(1);
    const s3 = `${line("A", "a1", "different")}\n`;
    expect(() =>
      mergeShardLines(order, [...shards, { name: "s3", text: s3, records: parsePredictionFile(s3).records }]),
    ).toThrow(/different lines in s1 and s3/);
  });
});
