/**
 * An append-only, crash-safe prediction file.
 *
 * Opening one (PredictionWriter.open):
 *   1. takes `<file>.lock` (O_EXCL; a lock whose pid is no longer alive is stale and taken
 *      over), so two runs never append to the same file;
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
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdir, open, readFile, rename, truncate, unlink, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
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

async function takeLock(lockPath: string, file: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = Number.parseInt((await readFile(lockPath, "utf8").catch(() => "")).trim(), 10);
      if (pidAlive(holder)) {
        throw new TimelensError("ERR_BUSY", `Another process (pid ${holder}) is writing ${file}; wait for it or remove ${lockPath} if it is gone.`, {
          path: file,
          lock: lockPath,
          pid: holder,
        });
      }
      await unlink(lockPath).catch(() => {}); // stale: its owner died
    }
  }
  throw new TimelensError("ERR_BUSY", `Could not take the lock ${lockPath}.`, { path: file, lock: lockPath });
}

export class PredictionWriter {
  private constructor(
    readonly path: string,
    private fh: FileHandle | null,
    private readonly lockPath: string | null,
  ) {}

  /** Opens (creating when absent) and repairs a prediction file; see the module comment. */
  static async open(path: string, options: OpenPredictionsOptions = {}): Promise<{ writer: PredictionWriter; opened: OpenedPredictions }> {
    await mkdir(dirname(path), { recursive: true });
    const lockPath = options.noLock ? null : `${path}.lock`;
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
      if (lockPath) await unlink(lockPath).catch(() => {});
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
    if (line.includes("\n")) throw new TimelensError("ERR_INVALID_ARGUMENT", "A prediction line cannot contain a newline.");
    await this.writeRaw(`${line}\n`);
  }

  /** Closes the file and releases the lock. */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close();
    if (this.lockPath) await unlink(this.lockPath).catch(() => {});
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
