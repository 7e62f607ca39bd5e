/**
 * Video sessions: a prefix computed once answers many queries with results identical to
 * fresh ground() calls, sequentially and with groundMany, and survives on disk.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
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
      const results = await session.groundMany(QUERIES, { ...FAST, onToken: (i, t) => streamed.set(i, (streamed.get(i) ?? "") + t) });
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

describe("disk cache", () => {
  const pair = fixturePair("tiny-qwen3vl");
  let cacheDir: string;
  let expected: string;

  beforeAll(async () => {
    cacheDir = join(dir, "cache");
    const g = await Grounder.load({ ...pair, contextSize: 4096 });
    expected = (await g.ground(clip, QUERIES[0], FAST)).text;
    await g.dispose();
  });

  async function groundWithCache(opts: { maxBytes?: number; video?: string } = {}) {
    const g = await Grounder.load({ ...pair, contextSize: 4096, cacheDir, cacheMaxBytes: opts.maxBytes });
    try {
      return await g.ground(opts.video ?? clip, QUERIES[0], FAST);
    } finally {
      await g.dispose();
    }
  }

  const entries = () => readdirSync(cacheDir).filter((f) => f.endsWith(".json"));

  test("a second grounder skips decode, encode and prefill and answers the same", async () => {
    const first = await groundWithCache();
    expect(first.timings.prefixSource).toBe("built");
    expect(entries()).toHaveLength(1);
    const second = await groundWithCache();
    expect(second.timings.prefixSource).toBe("disk");
    expect(second.timings.decodeMs).toBe(0);
    expect(second.text).toBe(expected);
  });

  test("a corrupt state file is detected, ignored and recomputed", async () => {
    const [meta] = entries();
    const state = join(cacheDir, meta.replace(/\.json$/, ".state"));
    const bytes = readFileSync(state);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(state, bytes);
    const r = await groundWithCache();
    expect(r.timings.prefixSource).toBe("built");
    expect(r.text).toBe(expected);
    expect((await groundWithCache()).timings.prefixSource).toBe("disk");
  });

  test("a truncated state or torn metadata is never trusted", async () => {
    const [meta] = entries();
    const state = join(cacheDir, meta.replace(/\.json$/, ".state"));
    writeFileSync(state, readFileSync(state).subarray(0, 100));
    expect((await groundWithCache()).timings.prefixSource).toBe("built");
    writeFileSync(join(cacheDir, meta), '{"version":1,"key":');
    const r = await groundWithCache();
    expect(r.timings.prefixSource).toBe("built");
    expect(r.text).toBe(expected);
  });

  test("a foreign entry (another video's state under this key) is not used", async () => {
    const other = makeClip({ seconds: 4, width: 128, height: 96 });
    const [mine] = entries();
    await groundWithCache({ video: other });
    const theirs = entries().find((m) => m !== mine)!;
    expect(theirs).toBeDefined();
    // Put the other video's files under this video's key.
    const key = mine.replace(/\.json$/, "");
    const foreignMeta = JSON.parse(readFileSync(join(cacheDir, theirs), "utf8"));
    copyFileSync(join(cacheDir, theirs.replace(/\.json$/, ".state")), join(cacheDir, `${key}.state`));
    writeFileSync(join(cacheDir, mine), JSON.stringify({ ...foreignMeta }));
    const r = await groundWithCache();
    expect(r.text).toBe(expected);
  });

  test("the size limit evicts the least recently used entry", async () => {
    const bytesOf = (m: string) => JSON.parse(readFileSync(join(cacheDir, m), "utf8")).bytes as number;
    expect((await groundWithCache()).timings.prefixSource).toBe("disk"); // this clip: most recently used
    const before = entries();
    expect(before).toHaveLength(2);
    const total = before.reduce((s, m) => s + bytesOf(m), 0);
    // A third, smaller video with a limit just under the two entries already there: storing it
    // must evict the older one (the other video), keep this clip and the new entry.
    const third = makeClip({ seconds: 4, width: 96, height: 64 });
    await groundWithCache({ video: third, maxBytes: total - 1 });
    const after = entries();
    expect(after).toHaveLength(2);
    expect((await groundWithCache()).timings.prefixSource).toBe("disk");
  });
});
