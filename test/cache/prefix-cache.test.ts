/**
 * PrefixCache on disk, without a model: temporary files of crashed writers, concurrent
 * writers of one key in two processes, entries that must not be trusted.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CACHE_FORMAT_VERSION, PrefixCache, isStaleTemp, tempSuffix } from "../../src/cache/prefix-cache";

const KEY_A = "a".repeat(40);
const KEY_B = "b".repeat(40);
const KEY_C = "c".repeat(40);
const DEAD_PID = 2147483646; // above any pid_max: no such process

const info = (savedMs = 1) => ({ nPast: 10, nCells: 10, imageTokens: 4, savedMs });
const writeBytes =
  (n: number, fill = 7) =>
  (tmp: string) =>
    writeFile(tmp, Buffer.alloc(n, fill));

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "timelens-prefix-cache-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
const freshDir = () => mkdtempSync(join(root, "c-"));

describe("entries", () => {
  test("a stored entry is found, with a state file named by its hash", async () => {
    const cache = new PrefixCache({ dir: freshDir() });
    const meta = await cache.store(KEY_A, info(), writeBytes(1000));
    expect(meta.version).toBe(CACHE_FORMAT_VERSION);
    expect(meta.stateFile).toBe(`${KEY_A}-${meta.sha256.slice(0, 16)}.state`);
    const hit = await cache.lookup(KEY_A);
    expect(hit?.meta).toEqual(meta);
    expect(readFileSync(hit!.statePath)).toEqual(Buffer.alloc(1000, 7));
    expect(readdirSync(cache.dir).sort()).toEqual([`${KEY_A}.json`, meta.stateFile].sort());
  });

  test("a meta naming a file outside its key, or of format 1, is removed, not read", async () => {
    const dir = freshDir();
    const cache = new PrefixCache({ dir });
    const meta = await cache.store(KEY_A, info(), writeBytes(100));
    writeFileSync(join(dir, "victim.state"), Buffer.alloc(100, 7));
    writeFileSync(join(dir, `${KEY_A}.json`), JSON.stringify({ ...meta, stateFile: "../victim.state" }));
    expect(await cache.lookup(KEY_A)).toBeNull();
    expect(existsSync(join(dir, `${KEY_A}.json`))).toBe(false);
    expect(existsSync(join(dir, "victim.state"))).toBe(true);

    writeFileSync(join(dir, `${KEY_B}.state`), Buffer.alloc(100, 7));
    writeFileSync(join(dir, `${KEY_B}.json`), JSON.stringify({ ...meta, key: KEY_B, version: 1 }));
    expect((await cache.entries()).map((e) => [e.key, e.bytes > 100])).toEqual([[KEY_B, true]]);
    expect(await cache.lookup(KEY_B)).toBeNull();
    expect(existsSync(join(dir, `${KEY_B}.state`))).toBe(false);
  });

  test("entries of an older format are removed by the next store: they can never be hits", async () => {
    const dir = freshDir();
    const cache = new PrefixCache({ dir });
    writeFileSync(join(dir, `${KEY_B}.state`), Buffer.alloc(100, 7));
    writeFileSync(join(dir, `${KEY_B}.json`), JSON.stringify({ version: 1, key: KEY_B, nPast: 1, nCells: 1 }));
    expect((await cache.listing()).entries.map((e) => [e.key, e.obsolete])).toEqual([[KEY_B, true]]);
    const meta = await cache.store(KEY_A, info(), writeBytes(100));
    expect(readdirSync(dir).sort()).toEqual([`${KEY_A}.json`, meta.stateFile].sort());
  });

  test("storing a key again with other bytes: the old state file is a leftover, removed once stale", async () => {
    const cache = new PrefixCache({ dir: freshDir(), staleTmpMs: 60_000 });
    const first = await cache.store(KEY_A, info(), writeBytes(100, 1));
    const second = await cache.store(KEY_A, info(2), writeBytes(100, 2));
    expect((await cache.lookup(KEY_A))?.meta.savedMs).toBe(2);
    const listing = await cache.listing();
    expect(listing.entries.map((e) => e.files.sort())).toEqual([[`${KEY_A}.json`, second.stateFile].sort()]);
    expect(listing.leftovers.map((l) => [l.name, l.stale])).toEqual([[first.stateFile, false]]);
    await cache.evict();
    expect(existsSync(join(cache.dir, first.stateFile))).toBe(true); // may be a writer's, about to be committed
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(cache.dir, first.stateFile), hourAgo, hourAgo);
    await cache.evict();
    expect(readdirSync(cache.dir).filter((n) => n.endsWith(".state"))).toEqual([second.stateFile]);
  });
});

describe("temporary files of crashed writers", () => {
  test("stale ones are removed: a dead writer's at once, any writer's once old; live ones stay", async () => {
    const dir = freshDir();
    const cache = new PrefixCache({ dir, staleTmpMs: 60_000 });
    const dead = `${KEY_A}.state.${tempSuffix(DEAD_PID)}`;
    const old = `${KEY_B}.state.otherhost-123-0123abcd.tmp`;
    const mine = `${KEY_C}.state.${tempSuffix()}`;
    const foreignRecent = `${KEY_C}.json.otherhost-456-89abcdef.tmp`;
    for (const n of [dead, old, mine, foreignRecent]) writeFileSync(join(dir, n), Buffer.alloc(500));
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(dir, old), hourAgo, hourAgo);

    const listing = await cache.listing();
    expect(Object.fromEntries(listing.leftovers.map((t) => [t.name, t.stale]))).toEqual({
      [dead]: true,
      [old]: true,
      [mine]: false,
      [foreignRecent]: false,
    });
    await cache.evict();
    expect(readdirSync(dir).sort()).toEqual([foreignRecent, mine].sort());
  });

  test("isStaleTemp: our own pid is judged by age only (containers reuse pids)", () => {
    const now = Date.now();
    expect(isStaleTemp(`x.state.${tempSuffix()}`, now, now, 1000)).toBe(false);
    expect(isStaleTemp(`x.state.${tempSuffix()}`, now - 2000, now, 1000)).toBe(true);
    expect(isStaleTemp(`x.state.${tempSuffix(DEAD_PID)}`, now, now, 1000)).toBe(true);
    expect(isStaleTemp(`x.state.${tempSuffix(process.ppid)}`, now, now, 1000)).toBe(false);
  });

  test("live temporary files count against maxBytes", async () => {
    const dir = freshDir();
    const probe = new PrefixCache({ dir: freshDir() });
    const one = (await probe.store(KEY_A, info(), writeBytes(4000))).bytes;
    const metaBytes = (await probe.entries())[0].bytes - one;
    const entryBytes = one + metaBytes;
    // Room for two entries, not for two entries and a 3000-byte file being written.
    const cache = new PrefixCache({ dir, maxBytes: 2 * entryBytes + 100 });
    await cache.store(KEY_A, info(), writeBytes(4000));
    writeFileSync(join(dir, `${KEY_C}.state.${tempSuffix()}`), Buffer.alloc(3000));
    await cache.store(KEY_B, info(), writeBytes(4000));
    expect((await cache.entries()).map((e) => e.key)).toEqual([KEY_B]);
  });
});

function runChild(dir: string, key: string, id: number, rounds: number): Promise<number> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(__dirname, "store-child.ts"), dir, key, String(id), String(rounds)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      if (code !== 0) process.stderr.write(err);
      resolve(code ?? -1);
    }),
  );
}

describe("concurrent writers of one key", () => {
  test("two processes storing one key never leave a torn or lost entry; a reader never sees one", async () => {
    const dir = freshDir();
    const cache = new PrefixCache({ dir });
    const children = Promise.all([runChild(dir, KEY_A, 1, 25), runChild(dir, KEY_A, 2, 25)]);
    let running = true;
    void children.then(() => (running = false));
    const seen: Array<{ id: number; consistent: boolean }> = [];
    while (running) {
      const hit = await cache.lookup(KEY_A);
      if (hit) {
        const id = hit.meta.savedMs;
        // A hit's state holds the bytes of the writer its meta names, all of them.
        const bytes = readFileSync(hit.statePath);
        seen.push({
          id,
          consistent: hit.meta.nPast === 10 + id && bytes.length === 8 * 65536 && bytes.every((b) => b === id),
        });
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(await children).toEqual([0, 0]);
    expect(seen.filter((s) => !s.consistent)).toEqual([]);
    const final = await cache.lookup(KEY_A);
    expect(final).not.toBeNull();
    expect(readFileSync(final!.statePath).every((b) => b === final!.meta.savedMs)).toBe(true);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    // At most each writer's own state file: the named one, and the other writer's (a leftover).
    const states = readdirSync(dir).filter((n) => n.endsWith(".state"));
    expect(states).toContain(final!.meta.stateFile);
    expect(states.length).toBeLessThanOrEqual(2);
  });
});
