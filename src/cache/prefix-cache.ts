/**
 * On-disk cache of video prefixes (the KV state after decode + encode + prefill), so a video
 * re-opened in a new process with the same model and options skips all three.
 *
 * Layout: <dir>/<key>.state (llama.cpp's sequence state) and <dir>/<key>.json (metadata,
 * written last: its presence commits the entry). Both are written under temporary names and
 * renamed, so a reader never sees a half-written entry. A reader trusts nothing: the key,
 * format version, size and SHA-256 of the state file must all match, and llama.cpp must
 * accept the state; anything else is deleted and recomputed.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const CACHE_FORMAT_VERSION = 1;

export interface PrefixEntryMeta {
  version: number;
  key: string;
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

/** The cache key: everything that changes the prefix's KV state. */
export function prefixKey(parts: Record<string, unknown>): string {
  return createHash("sha256")
    .update(JSON.stringify({ v: CACHE_FORMAT_VERSION, ...parts }))
    .digest("hex")
    .slice(0, 40);
}

export class PrefixCache {
  readonly dir: string;
  readonly maxBytes: number;

  constructor(options: PrefixCacheOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes ?? 20 * 1024 ** 3;
  }

  private paths(key: string) {
    return { state: join(this.dir, `${key}.state`), meta: join(this.dir, `${key}.json`) };
  }

  /** A verified entry, or null (a bad one is removed). The caller still asks llama.cpp to load it. */
  async lookup(key: string): Promise<{ meta: PrefixEntryMeta; statePath: string } | null> {
    const p = this.paths(key);
    let meta: PrefixEntryMeta;
    try {
      meta = JSON.parse(await readFile(p.meta, "utf8"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") await this.remove(key);
      return null;
    }
    try {
      const ok =
        meta.version === CACHE_FORMAT_VERSION &&
        meta.key === key &&
        Number.isInteger(meta.nPast) &&
        meta.nPast > 0 &&
        Number.isInteger(meta.nCells) &&
        meta.nCells > 0 &&
        (await stat(p.state)).size === meta.bytes &&
        (await sha256File(p.state)) === meta.sha256;
      if (!ok) {
        await this.remove(key);
        return null;
      }
    } catch {
      await this.remove(key);
      return null;
    }
    const now = new Date();
    await utimes(p.meta, now, now).catch(() => {});
    return { meta, statePath: p.state };
  }

  /**
   * Stores an entry: `writeState` writes the state to the temporary path it is given.
   * Concurrent writers of one key each write their own temporary files; the last rename wins
   * and either result is a complete entry.
   */
  async store(
    key: string,
    info: Omit<PrefixEntryMeta, "version" | "key" | "bytes" | "sha256" | "createdAt">,
    writeState: (tmpPath: string) => Promise<void>,
  ): Promise<PrefixEntryMeta> {
    await mkdir(this.dir, { recursive: true });
    const p = this.paths(key);
    const tag = `${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
    const tmpState = `${p.state}.${tag}`;
    const tmpMeta = `${p.meta}.${tag}`;
    try {
      await writeState(tmpState);
      const meta: PrefixEntryMeta = {
        version: CACHE_FORMAT_VERSION,
        key,
        ...info,
        bytes: (await stat(tmpState)).size,
        sha256: await sha256File(tmpState),
        createdAt: new Date().toISOString(),
      };
      await writeFile(tmpMeta, JSON.stringify(meta));
      await rename(tmpState, p.state);
      await rename(tmpMeta, p.meta);
      await this.evict(key);
      return meta;
    } finally {
      await rm(tmpState, { force: true });
      await rm(tmpMeta, { force: true });
    }
  }

  async remove(key: string): Promise<void> {
    const p = this.paths(key);
    await rm(p.meta, { force: true });
    await rm(p.state, { force: true });
  }

  /** Entries with their size and last use, oldest first. */
  async entries(): Promise<Array<{ key: string; bytes: number; lastUsed: number }>> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: Array<{ key: string; bytes: number; lastUsed: number }> = [];
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const key = name.slice(0, -5);
      try {
        const m = await stat(join(this.dir, name));
        const s = await stat(join(this.dir, `${key}.state`));
        out.push({ key, bytes: s.size + m.size, lastUsed: m.mtimeMs });
      } catch {
        /* half-removed entry: skip */
      }
    }
    return out.sort((a, b) => a.lastUsed - b.lastUsed);
  }

  /** Removes least recently used entries until the total fits maxBytes (never `keep`). */
  async evict(keep?: string): Promise<void> {
    const all = await this.entries();
    let total = all.reduce((s, e) => s + e.bytes, 0);
    for (const e of all) {
      if (total <= this.maxBytes) break;
      if (e.key === keep) continue;
      await this.remove(e.key);
      total -= e.bytes;
    }
  }
}
