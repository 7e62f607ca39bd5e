/**
 * An append-only, crash-safe prediction file.
 *
 * Opening one (PredictionWriter.open):
 *   1. takes `<file>.lock` (holding our pid; created whole with link(), so never seen empty),
 *      so two runs never append to the same file. A lock whose pid is gone is stale, and so is
 *      one holding our own pid that this process does not hold (a restarted container reuses
 *      pids). A stale lock is taken over atomically: see takeOver;
 *   2. reads the file with parsePredictionFile; a torn last line (a kill in the middle of a
 *      write) is cut off by truncating the file to the end of its last complete line; a last
 *      line that is complete but lacks its newline gets one;
 *   3. optionally drops chosen lines (retrying failed items), by writing the kept lines to a
 *      temporary file, fsyncing it and renaming it over the original (atomic on POSIX);
 *   4. keeps the keys already present, so the caller skips them.
 * Appending writes each line (with its newline) in one write() call and fsyncs before
 * returning, so a finished prediction survives a crash and a line is either whole or the
 * torn tail that step 2 repairs.
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import {
  link,
  mkdir,
  open,
  readFile,
  rename,
  stat,
  truncate,
  unlink,
  writeFile,
  type FileHandle,
} from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { TimelensError } from "../errors";
import { parsePredictionFile, type ParsedPrediction } from "./predictions";

export interface OpenPredictionsOptions {
  /** Lines to remove before resuming (e.g. failed items to retry). */
  drop?: (record: ParsedPrediction) => boolean;
  /** Skip the lock file (only for callers that serialise access themselves). */
  noLock?: boolean;
}

export interface OpenedPredictions {
  /** Records already in the file (after repair and drops), in file order. */
  records: ParsedPrediction[];
  /** Bytes cut off the end (a torn last line); 0 when the file was whole. */
  truncatedBytes: number;
  /** Records removed by `drop`. */
  dropped: number;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Lock files this process holds. */
const held = new Set<string>();
/** Takes of one lock path within this process run one after another (see isLiveHolder). */
const taking = new Map<string, Promise<unknown>>();
const LOCK_CONTENT = `${process.pid}\n`;
/** A takeover marker older than this belongs to a process that died mid-takeover. */
const BREAKER_STALE_MS = 10_000;

/**
 * Whether the pid in a lock is a live run. Our own pid is live only if this process holds the
 * lock: a container restarted with the same pid must not wait for its dead predecessor.
 */
function isLiveHolder(pid: number, lockPath: string): boolean {
  if (pid === process.pid) return held.has(lockPath);
  return pidAlive(pid);
}

/** Creates `path` holding `content`, atomically (never seen empty); false when it exists. */
async function createWith(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, content);
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw e;
    // No hard links on this filesystem: O_EXCL create, then write (a reader may see it empty).
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, content);
      closeSync(fd);
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e2;
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

interface LockSnapshot {
  content: string;
  ino: number;
}

async function snapshot(path: string): Promise<LockSnapshot | null> {
  try {
    const [content, s] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    return { content, ino: s.ino };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/**
 * Replaces a stale lock with ours, atomically among processes doing the same: only the one
 * that creates `<lock>.breaking` may touch the lock, and only while it is still the stale lock
 * it judged (same content, same inode); the replacement is a rename, so the lock never vanishes.
 */
async function takeOver(lockPath: string, stale: LockSnapshot): Promise<boolean> {
  const breaker = `${lockPath}.breaking`;
  if (!(await createWith(breaker, LOCK_CONTENT))) {
    const age = await stat(breaker).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > BREAKER_STALE_MS) await unlink(breaker).catch(() => {});
    return false;
  }
  try {
    const now = await snapshot(lockPath);
    if (!now || now.content !== stale.content || now.ino !== stale.ino) return false;
    const tmp = `${lockPath}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, LOCK_CONTENT);
    await rename(tmp, lockPath);
    return true;
  } finally {
    await unlink(breaker).catch(() => {});
  }
}

/**
 * Tests widen the race between judging a lock stale and taking it over
 * (TIMELENS_TEST_LOCK_PAUSE_MS, test/eval/lock.test.ts), so a non-atomic takeover would show.
 */
async function testPause(): Promise<void> {
  const ms = Number(process.env.TIMELENS_TEST_LOCK_PAUSE_MS);
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

async function takeLockNow(lockPath: string, file: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    if (await createWith(lockPath, LOCK_CONTENT)) return;
    const seen = await snapshot(lockPath);
    if (!seen) continue; // released meanwhile
    const holder = Number.parseInt(seen.content.trim(), 10);
    if (isLiveHolder(holder, lockPath)) {
      throw new TimelensError(
        "ERR_BUSY",
        `Another process (pid ${holder}) is writing ${file}; wait for it or remove ${lockPath} if it is gone.`,
        {
          path: file,
          lock: lockPath,
          pid: holder,
        },
      );
    }
    await testPause();
    if (await takeOver(lockPath, seen)) return;
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20)); // another process is taking over
  }
  throw new TimelensError("ERR_BUSY", `Could not take the lock ${lockPath}.`, { path: file, lock: lockPath });
}

/** Takes `<file>.lock` (see the module comment); one take per path at a time in this process. */
async function takeLock(lockPath: string, file: string): Promise<void> {
  const before = taking.get(lockPath) ?? Promise.resolve();
  const mine = before
    .catch(() => {})
    .then(async () => {
      await takeLockNow(lockPath, file);
      held.add(lockPath);
    });
  taking.set(lockPath, mine);
  try {
    await mine;
  } finally {
    if (taking.get(lockPath) === mine) taking.delete(lockPath);
  }
}

/** Releases a lock we hold, unless another process has (wrongly) taken it over meanwhile. */
async function releaseLock(lockPath: string): Promise<void> {
  if (!held.delete(lockPath)) return;
  const now = await readFile(lockPath, "utf8").catch(() => null);
  if (now === LOCK_CONTENT) await unlink(lockPath).catch(() => {});
}

export class PredictionWriter {
  private constructor(
    readonly path: string,
    private fh: FileHandle | null,
    private readonly lockPath: string | null,
  ) {}

  /** Opens (creating when absent) and repairs a prediction file; see the module comment. */
  static async open(
    path: string,
    options: OpenPredictionsOptions = {},
  ): Promise<{ writer: PredictionWriter; opened: OpenedPredictions }> {
    await mkdir(dirname(path), { recursive: true });
    const lockPath = options.noLock ? null : `${resolve(path)}.lock`;
    if (lockPath) await takeLock(lockPath, path);
    try {
      let buf: Buffer = await readFile(path).catch((e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return Buffer.alloc(0);
        throw e;
      });
      let file = parsePredictionFile(buf.toString("utf8"));
      let truncatedBytes = 0;
      if (file.tornLastLine) {
        const keep = buf.lastIndexOf(0x0a) + 1;
        truncatedBytes = buf.length - keep;
        await truncate(path, keep);
        buf = buf.subarray(0, keep);
      }
      let dropped = 0;
      if (options.drop && file.records.some(options.drop)) {
        const removeLines = new Set(file.records.filter(options.drop).map((r) => r.line));
        const lines = buf.toString("utf8").split("\n");
        const kept = lines.filter((l, i) => !removeLines.has(i + 1) && l.trim() !== "");
        const text = kept.length > 0 ? `${kept.join("\n")}\n` : "";
        const tmp = `${path}.tmp-${process.pid}`;
        const th = await open(tmp, "w");
        try {
          await th.writeFile(text);
          await th.sync();
        } finally {
          await th.close();
        }
        await rename(tmp, path);
        await syncDir(dirname(path));
        dropped = file.records.length - parsePredictionFile(text).records.length;
        buf = Buffer.from(text, "utf8");
        file = parsePredictionFile(text);
      }
      const fh = await open(path, "a");
      const writer = new PredictionWriter(path, fh, lockPath);
      if (buf.length > 0 && buf[buf.length - 1] !== 0x0a) await writer.writeRaw("\n");
      else if (truncatedBytes > 0) await fh.sync();
      return { writer, opened: { records: file.records, truncatedBytes, dropped } };
    } catch (e) {
      if (lockPath) await releaseLock(lockPath);
      throw e;
    }
  }

  private async writeRaw(text: string): Promise<void> {
    if (!this.fh) throw new TimelensError("ERR_DISPOSED", `The prediction file ${this.path} was closed.`);
    const data = Buffer.from(text, "utf8");
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.fh.write(data, off, data.length - off);
      off += bytesWritten;
    }
    await this.fh.datasync();
  }

  /** Appends one line (no newline in it) durably: one write, then fdatasync. */
  async append(line: string): Promise<void> {
    if (line.includes("\n"))
      throw new TimelensError("ERR_INVALID_ARGUMENT", "A prediction line cannot contain a newline.");
    await this.writeRaw(`${line}\n`);
  }

  /** Closes the file and releases the lock. */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close();
    if (this.lockPath) await releaseLock(this.lockPath);
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const dh = await open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic.
  }
}
