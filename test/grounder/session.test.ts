/**
 * Video sessions: a prefix computed once answers many queries with results identical to
 * fresh ground() calls, sequentially and with groundMany, and survives on disk.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Grounder } from "../../src/session";
import type { GroundOptions } from "../../src/types";
import { fixturePair, type FixtureName } from "../helpers/models";
import { makeClip } from "../helpers/clips";

const FAST: GroundOptions = { totalTokens: 256, minTokens: 4, maxNewTokens: 12 };
const QUERIES = ["a red box moves", "the colours change", "nothing happens at all", "the box reaches the edge"];

let clip: string;
let dir: string;
beforeAll(() => {
  clip = makeClip({ seconds: 6 });
  dir = mkdtempSync(join(tmpdir(), "timelens-session-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(["tiny-qwen3vl", "tiny-qwen25vl"] as FixtureName[])("%s", (name) => {
  let g: Grounder;
  const fresh = new Map<string, string>();

  beforeAll(async () => {
    g = await Grounder.load({ ...fixturePair(name), contextSize: 4096, threads: 2 });
    for (const q of QUERIES) fresh.set(q, (await g.ground(clip, q, FAST)).text);
  });
  afterAll(async () => g?.[Symbol.asyncDispose]());

  test.each([
    ["forward", QUERIES],
    ["reverse", [...QUERIES].reverse()],
  ])("session.ground in %s order equals fresh ground()", async (_order, queries) => {
    const session = await g.openVideo(clip, FAST);
    try {
      const results = [];
      for (const q of queries) results.push(await session.ground(q, FAST));
      expect(results.map((r) => r.text)).toEqual(queries.map((q) => fresh.get(q)));
      expect(results[0].timings.prefixSource).toBe("built");
      for (const r of results.slice(1)) {
        expect(r.timings.prefixSource).toBe("live");
        expect(r.timings.decodeMs).toBe(0);
        expect(r.timings.encodeMs).toBe(0);
      }
    } finally {
      await session.close();
    }
  });

  test("groundMany equals fresh ground() for every query, in order", async () => {
    const session = await g.openVideo(clip, FAST);
    try {
      const streamed = new Map<number, string>();
      const results = await session.groundMany(QUERIES, {
        ...FAST,
        onToken: (i, t) => streamed.set(i, (streamed.get(i) ?? "") + t),
      });
      expect(results.map((r) => r.query)).toEqual(QUERIES);
      expect(results.map((r) => r.text)).toEqual(QUERIES.map((q) => fresh.get(q)));
      for (const [i, r] of results.entries()) expect(streamed.get(i) ?? "").toBe(r.text.replace(/\uFFFD+$/, ""));
      // The session still answers single queries correctly afterwards.
      expect((await session.ground(QUERIES[1], FAST)).text).toBe(fresh.get(QUERIES[1]));
    } finally {
      await session.close();
    }
  });

  test("two sessions on one grounder take turns without mixing their videos", async () => {
    const other = makeClip({ seconds: 4, width: 128, height: 96 });
    const a = await g.openVideo(clip, FAST);
    const b = await g.openVideo(other, FAST);
    try {
      const otherFresh = (await g.ground(other, QUERIES[0], FAST)).text;
      expect((await a.ground(QUERIES[0], FAST)).text).toBe(fresh.get(QUERIES[0]));
      expect((await b.ground(QUERIES[0], FAST)).text).toBe(otherFresh);
      const back = await a.ground(QUERIES[2], FAST);
      expect(back.text).toBe(fresh.get(QUERIES[2]));
      expect(back.timings.prefixSource).toBe("built"); // b displaced a's prefix
    } finally {
      await a.close();
      await b.close();
    }
  });
});

// Each test builds the cache folder it needs, so any one of them runs (and fails) on its own.
describe("disk cache", () => {
  const pair = fixturePair("tiny-qwen3vl");
  let expected: string;
  let other: string;
  let third: string;

  beforeAll(async () => {
    other = makeClip({ seconds: 4, width: 128, height: 96 });
    third = makeClip({ seconds: 4, width: 96, height: 64 });
    const g = await Grounder.load({ ...pair, contextSize: 4096 });
    expected = (await g.ground(clip, QUERIES[0], FAST)).text;
    await g.dispose();
  });

  async function groundWithCache(cacheDir: string, opts: { maxBytes?: number; video?: string } = {}) {
    const g = await Grounder.load({ ...pair, contextSize: 4096, cacheDir, cacheMaxBytes: opts.maxBytes });
    try {
      return await g.ground(opts.video ?? clip, QUERIES[0], FAST);
    } finally {
      await g.dispose();
    }
  }

  const entries = (cacheDir: string) => readdirSync(cacheDir).filter((f) => f.endsWith(".json"));
  const metaOf = (cacheDir: string, name: string) => JSON.parse(readFileSync(join(cacheDir, name), "utf8"));

  /** A new cache folder holding the clip's entry, made by a first grounder (which must build it). */
  async function seeded(): Promise<{ cacheDir: string; metaName: string; statePath: string }> {
    const cacheDir = mkdtempSync(join(dir, "cache-"));
    const first = await groundWithCache(cacheDir);
    expect(first.timings.prefixSource).toBe("built");
    expect(first.text).toBe(expected);
    const [metaName] = entries(cacheDir);
    expect(entries(cacheDir)).toHaveLength(1);
    return { cacheDir, metaName, statePath: join(cacheDir, metaOf(cacheDir, metaName).stateFile) };
  }

  test("a second grounder skips decode, encode and prefill and answers the same", async () => {
    const { cacheDir } = await seeded();
    const second = await groundWithCache(cacheDir);
    expect(second.timings.prefixSource).toBe("disk");
    expect(second.timings.decodeMs).toBe(0);
    expect(second.text).toBe(expected);
  });

  test("a corrupt state file is detected, ignored and recomputed", async () => {
    const { cacheDir, statePath } = await seeded();
    const bytes = readFileSync(statePath);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(statePath, bytes);
    const r = await groundWithCache(cacheDir);
    expect(r.timings.prefixSource).toBe("built");
    expect(r.text).toBe(expected);
    expect((await groundWithCache(cacheDir)).timings.prefixSource).toBe("disk");
  });

  test("a truncated state or torn metadata is never trusted", async () => {
    const { cacheDir, metaName, statePath } = await seeded();
    writeFileSync(statePath, readFileSync(statePath).subarray(0, 100));
    expect((await groundWithCache(cacheDir)).timings.prefixSource).toBe("built");
    writeFileSync(join(cacheDir, metaName), '{"version":2,"key":');
    const r = await groundWithCache(cacheDir);
    expect(r.timings.prefixSource).toBe("built");
    expect(r.text).toBe(expected);
  });

  test("a foreign entry (another video's state under this key) is not used", async () => {
    const { cacheDir, metaName: mine, statePath: myState } = await seeded();
    expect((await groundWithCache(cacheDir, { video: other })).timings.prefixSource).toBe("built");
    const theirs = entries(cacheDir).find((m) => m !== mine)!;
    expect(theirs).toBeDefined();
    const theirMeta = metaOf(cacheDir, theirs);
    const theirState = readFileSync(join(cacheDir, theirMeta.stateFile));
    const myMeta = metaOf(cacheDir, mine);

    // Their state in my state file, under my metadata: the hash gives it away.
    writeFileSync(myState, theirState);
    const r1 = await groundWithCache(cacheDir);
    expect(r1.timings.prefixSource).toBe("built");
    expect(r1.text).toBe(expected);
    expect((await groundWithCache(cacheDir)).timings.prefixSource).toBe("disk");

    // Their whole entry (metadata and state) under my key: the key inside gives it away.
    writeFileSync(myState, theirState);
    writeFileSync(join(cacheDir, mine), JSON.stringify({ ...theirMeta, stateFile: myMeta.stateFile }));
    const r2 = await groundWithCache(cacheDir);
    expect(r2.timings.prefixSource).toBe("built");
    expect(r2.text).toBe(expected);
  });

  test("the size limit evicts the least recently used entry", async () => {
    const { cacheDir, metaName: mine } = await seeded();
    expect((await groundWithCache(cacheDir, { video: other })).timings.prefixSource).toBe("built");
    const otherName = entries(cacheDir).find((m) => m !== mine)!;
    expect((await groundWithCache(cacheDir)).timings.prefixSource).toBe("disk"); // this clip: most recently used
    const before = entries(cacheDir);
    expect(before).toHaveLength(2);
    const total = before.reduce((s, m) => s + (metaOf(cacheDir, m).bytes as number), 0);
    // A third, smaller video with a limit just under the two entries already there: storing it
    // must evict the older one (the other video), keep this clip and the new entry.
    await groundWithCache(cacheDir, { video: third, maxBytes: total - 1 });
    const after = entries(cacheDir);
    expect(after).toHaveLength(2);
    expect(after).toContain(mine);
    expect(after).not.toContain(otherName);
    expect((await groundWithCache(cacheDir)).timings.prefixSource).toBe("disk");
  });
});
