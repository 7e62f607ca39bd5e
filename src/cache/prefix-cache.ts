/**
 * On-disk cache of video prefixes (the KV state after decode + encode + prefill), so a video
 * re-opened in a new process with the same model and options skips all three
 * (docs/cache.md). The key comes from kvIdentity (src/cache/identity.ts).
 *
 * Layout: <dir>/<key>-<sha>.state (llama.cpp's sequence state, named by the first 16 hex
 * digits of its SHA-256) and <dir>/<key>.json (metadata naming that state file, written last:
 * its rename commits the entry). A state file is never overwritten with other bytes, so two
 * processes storing one key at once each commit a complete pair (state + the meta naming it);
 * the last meta rename wins. Writers work under `*.<host>-<pid>-<rand>.tmp` names. Leftovers (a
 * crashed writer's temporary files, state files no meta names any more) count against maxBytes
 * and are removed once stale (docs/cache.md#crashes-and-concurrent-writers).
 * A reader trusts nothing: key, format version, size and SHA-256 of the state file must all
 * match, and llama.cpp must accept the state; anything else is deleted and recomputed.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { CACHE_FORMAT_VERSION } from "./identity";

export { CACHE_FORMAT_VERSION };

export interface PrefixEntryMeta {
  version: number;
  key: string;
  /** The state file's name in the cache folder (`<key>-<sha256 prefix>.state`). */
  stateFile: string;
  nPast: number;
  nCells: number;
  imageTokens: number;
  bytes: number;
  sha256: string;
  createdAt: string;
  /** What the entry saved: the decode/encode/prefill time a hit avoids. */
  savedMs: number;
}

export interface PrefixCacheOptions {
  dir: string;
  /** Total size limit; least recently used entries are evicted past it (default 20 GiB). */
  maxBytes?: number;
  /**
   * A temporary file untouched this long is a crashed writer's leftover and is removed
   * (default 15 minutes; one whose writer is known dead goes at once).
   */
  staleTmpMs?: number;
}

/** What a cache folder holds: committed entries (oldest use first) and files no entry names. */
export interface CacheListing {
  /** `obsolete`: metadata of another format version (or unreadable): it can never be a hit. */
  entries: Array<{ key: string; bytes: number; lastUsed: number; files: string[]; obsolete: boolean }>;
  /** Writers' temporary files and state files no meta names (being committed, or replaced). */
  leftovers: Array<{ name: string; bytes: number; mtimeMs: number; stale: boolean }>;
}

const KEY = /^[0-9a-f]{40}$/;
const TMP = /\.([^.]+)-(\d+)-[0-9a-f]{8}\.tmp$/;
const DEFAULT_STALE_TMP_MS = 15 * 60 * 1000;
const HOST = hostname().replace(/[^A-Za-z0-9_]/g, "_");

/** The temporary-file suffix a writer in process `pid` on this host uses (`<host>-<pid>-<rand>.tmp`). */
export function tempSuffix(pid = process.pid): string {
  return `${HOST}-${pid}-${randomBytes(4).toString("hex")}.tmp`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A temporary file is stale when untouched for staleMs, or when its writer ran on this host
 * in another process that is gone. Our own pid is never judged by liveness: a store of this
 * process may be writing it (containers reuse pids, so age decides for those).
 */
export function isStaleTemp(name: string, mtimeMs: number, now: number, staleMs: number): boolean {
  if (now - mtimeMs > staleMs) return true;
  const m = TMP.exec(name);
  if (!m || m[1] !== HOST) return false;
  const pid = Number(m[2]);
  return pid !== process.pid && pid > 0 && !pidAlive(pid);
}

/** A state file of `key`: `<key>-<sha prefix>.state`, or `<key>.state` of format 1 (removed, never read). */
function isStateOf(key: string, name: string): boolean {
  return name === `${key}.state` || (name.startsWith(`${key}-`) && name.endsWith(".state"));
}

/** The state file name an entry's meta may name: its own key, a hash prefix, nothing else. */
function validStateFile(key: string, name: unknown): name is string {
  return (
    typeof name === "string" && name.startsWith(`${key}-`) && /^[0-9a-f]{16}\.state$/.test(name.slice(key.length + 1))
  );
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * A fast content identity for large files: the size plus SHA-256 over the first and last
 * MiB and 16 evenly spaced 64 KiB samples. Cheap on multi-GB files; a change that touches
 * none of the sampled bytes and keeps the size would go unnoticed (not a realistic edit of a
 * video or a GGUF).
 */
export async function sampledFileHash(path: string): Promise<string> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const hash = createHash("sha256");
    hash.update(`size:${size};`);
    const read = async (pos: number, len: number) => {
      const buf = Buffer.alloc(Math.max(0, Math.min(len, size - pos)));
      if (buf.length) await fh.read(buf, 0, buf.length, pos);
      hash.update(buf);
    };
    if (size <= 4 * 1024 * 1024) {
      await read(0, size);
    } else {
      await read(0, 1 << 20);
      for (let i = 1; i <= 16; i++) await read(Math.floor((size * i) / 17), 64 * 1024);
      await read(size - (1 << 20), 1 << 20);
    }
    return hash.digest("hex");
  } finally {
    await fh.close();
  }
}

export class PrefixCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly staleTmpMs: number;

  constructor(options: PrefixCacheOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes ?? 20 * 1024 ** 3;
    this.staleTmpMs = options.staleTmpMs ?? DEFAULT_STALE_TMP_MS;
  }

  private metaPath(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  /** A verified entry, or null (a bad one is removed). The caller still asks llama.cpp to load it. */
  async lookup(key: string): Promise<{ meta: PrefixEntryMeta; statePath: string } | null> {
    const metaPath = this.metaPath(key);
    let meta: PrefixEntryMeta;
    try {
      meta = JSON.parse(await readFile(metaPath, "utf8"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") await this.remove(key);
      return null;
    }
    try {
      const ok =
        meta !== null &&
        typeof meta === "object" &&
        meta.version === CACHE_FORMAT_VERSION &&
        meta.key === key &&
        validStateFile(key, meta.stateFile) &&
        Number.isInteger(meta.nPast) &&
        meta.nPast > 0 &&
        Number.isInteger(meta.nCells) &&
        meta.nCells > 0 &&
        (await stat(join(this.dir, meta.stateFile))).size === meta.bytes &&
        (await sha256File(join(this.dir, meta.stateFile))) === meta.sha256;
      if (!ok) {
        await this.removeIfStill(key, meta);
        return null;
      }
    } catch {
      await this.removeIfStill(key, meta);
      return null;
    }
    const now = new Date();
    await utimes(metaPath, now, now).catch(() => {});
    return { meta, statePath: join(this.dir, meta.stateFile) };
  }

  /**
   * Stores an entry: `writeState` writes the state to the temporary path it is given. See the
   * module comment for why concurrent writers of one key cannot tear an entry.
   */
  async store(
    key: string,
    info: Omit<PrefixEntryMeta, "version" | "key" | "stateFile" | "bytes" | "sha256" | "createdAt">,
    writeState: (tmpPath: string) => Promise<void>,
  ): Promise<PrefixEntryMeta> {
    if (!KEY.test(key)) throw new Error(`Not a prefix cache key: ${key}`);
    await mkdir(this.dir, { recursive: true });
    const tag = tempSuffix();
    const tmpState = join(this.dir, `${key}.state.${tag}`);
    const tmpMeta = join(this.dir, `${key}.json.${tag}`);
    try {
      await writeState(tmpState);
      const sha256 = await sha256File(tmpState);
      const meta: PrefixEntryMeta = {
        version: CACHE_FORMAT_VERSION,
        key,
        stateFile: `${key}-${sha256.slice(0, 16)}.state`,
        ...info,
        bytes: (await stat(tmpState)).size,
        sha256,
        createdAt: new Date().toISOString(),
      };
      await writeFile(tmpMeta, JSON.stringify(meta));
      // Same name means same bytes, so replacing a state file another writer just renamed is harmless.
      await rename(tmpState, join(this.dir, meta.stateFile));
      await rename(tmpMeta, this.metaPath(key));
      await this.evict(key);
      return meta;
    } finally {
      await rm(tmpState, { force: true });
      await rm(tmpMeta, { force: true });
    }
  }

  /** Removes an entry: its meta and every state file of its key. */
  async remove(key: string): Promise<void> {
    await rm(this.metaPath(key), { force: true });
    for (const name of await this.names()) {
      if (isStateOf(key, name)) await rm(join(this.dir, name), { force: true });
    }
  }

  /**
   * Removes a bad entry unless another writer committed a new one meanwhile (its meta names
   * another state file): a reader must not delete a good entry it never looked at.
   */
  private async removeIfStill(key: string, seen: unknown): Promise<void> {
    const now = await readFile(this.metaPath(key), "utf8").catch(() => null);
    if (now !== null && now !== JSON.stringify(seen)) {
      try {
        const current = JSON.parse(now) as PrefixEntryMeta;
        if (current?.stateFile !== (seen as PrefixEntryMeta)?.stateFile) return;
      } catch {
        /* unreadable: remove */
      }
    }
    await this.remove(key);
  }

  private async names(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch {
      return [];
    }
  }

  /** Committed entries with their size and last use (oldest first), and the leftover files. */
  async listing(now = Date.now()): Promise<CacheListing> {
    const names = await this.names();
    const entries: CacheListing["entries"] = [];
    const owned = new Set<string>();
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const key = name.slice(0, -5);
      const text = await readFile(join(this.dir, name), "utf8").catch(() => null);
      if (text === null) continue; // removed since readdir
      let meta: Partial<PrefixEntryMeta> | null = null;
      try {
        meta = JSON.parse(text);
      } catch {
        /* torn by hand or by a foreign tool: obsolete */
      }
      const named = meta?.stateFile;
      const obsolete = meta?.version !== CACHE_FORMAT_VERSION;
      // A meta that names no valid state file (format 1, torn) owns all its key's files: removed with it.
      const files = validStateFile(key, named) ? [name, named] : [name, ...names.filter((n) => isStateOf(key, n))];
      let bytes = 0;
      let lastUsed = 0;
      for (const f of files) {
        owned.add(f);
        const s = await stat(join(this.dir, f)).catch(() => null);
        if (!s) continue;
        bytes += s.size;
        if (f === name) lastUsed = s.mtimeMs;
      }
      entries.push({ key, bytes, lastUsed, files, obsolete });
    }
    entries.sort((a, b) => a.lastUsed - b.lastUsed);
    const leftovers: CacheListing["leftovers"] = [];
    for (const name of names) {
      const temp = name.endsWith(".tmp");
      if (owned.has(name) || !(temp || name.endsWith(".state"))) continue;
      const s = await stat(join(this.dir, name)).catch(() => null);
      if (!s) continue;
      // A state file nobody names is being committed (its meta comes next) or was replaced: age decides.
      const stale = temp ? isStaleTemp(name, s.mtimeMs, now, this.staleTmpMs) : now - s.mtimeMs > this.staleTmpMs;
      leftovers.push({ name, bytes: s.size, mtimeMs: s.mtimeMs, stale });
    }
    return { entries, leftovers };
  }

  /** Entries with their size and last use, oldest first. */
  async entries(): Promise<Array<{ key: string; bytes: number; lastUsed: number }>> {
    return (await this.listing()).entries.map(({ key, bytes, lastUsed }) => ({ key, bytes, lastUsed }));
  }

  /**
   * Removes stale leftovers and entries of older formats, then least recently used entries
   * until everything (live leftovers included) fits maxBytes; never `keep`.
   */
  async evict(keep?: string): Promise<void> {
    const { entries, leftovers } = await this.listing();
    let total = 0;
    for (const t of leftovers) {
      if (t.stale) await rm(join(this.dir, t.name), { force: true });
      else total += t.bytes;
    }
    for (const e of entries) {
      // Older formats (CACHE_FORMAT_VERSION) never match a key of this one: they only take room.
      if (e.obsolete && e.key !== keep) await this.remove(e.key);
      else total += e.bytes;
    }
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (e.obsolete) continue;
      if (e.key === keep) continue;
      await this.remove(e.key);
      total -= e.bytes;
    }
  }
}
