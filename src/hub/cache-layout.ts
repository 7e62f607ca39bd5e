/**
 * The Hugging Face hub cache layout, shared with Python's huggingface_hub (docs/hub.md):
 *   <cacheDir>/models--<owner>--<name>/blobs/<etag>             file contents, named by hash
 *   <cacheDir>/models--<owner>--<name>/blobs/<etag>.incomplete  a transfer in progress (resumed)
 *   <cacheDir>/models--<owner>--<name>/refs/<revision>          the commit a branch / tag pointed at
 *   <cacheDir>/models--<owner>--<name>/snapshots/<commit>/<path> relative symlink to ../../blobs/<etag>
 * The etag of an LFS file is its sha256; of a plain git file, its git blob id (sha1).
 */
import { copyFile, mkdir, readFile, rm, stat, symlink, writeFile, rename } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, relative } from "node:path";
import { getRepoFolderName } from "@huggingface/hub";

export const COMMIT_RE = /^[0-9a-f]{40}$/;

export class HubCacheLayout {
  readonly repoDir: string;

  constructor(
    readonly cacheDir: string,
    readonly repo: string,
  ) {
    this.repoDir = join(cacheDir, getRepoFolderName({ type: "model", name: repo }));
  }

  blob(etag: string): string {
    return join(this.repoDir, "blobs", etag);
  }

  incomplete(etag: string): string {
    return `${this.blob(etag)}.incomplete`;
  }

  /** Our per-blob transfer lock (Python's own locks live next to it under .locks/ too). */
  lock(etag: string): string {
    return join(this.cacheDir, ".locks", basename(this.repoDir), `${etag}.timelens.lock`);
  }

  snapshotDir(commit: string): string {
    return join(this.repoDir, "snapshots", commit);
  }

  snapshotFile(commit: string, path: string): string {
    return join(this.snapshotDir(commit), ...path.split("/"));
  }

  ref(revision: string): string {
    return join(this.repoDir, "refs", ...revision.split("/"));
  }

  /** The commit a revision names in the cache: itself when it is one, else what refs/ recorded. */
  async cachedCommit(revision: string): Promise<string | null> {
    if (COMMIT_RE.test(revision)) return revision;
    try {
      const commit = (await readFile(this.ref(revision), "utf8")).trim();
      return COMMIT_RE.test(commit) ? commit : null;
    } catch {
      return null;
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const path = this.ref(revision);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, commit);
    await rename(tmp, path);
  }

  /** Points snapshots/<commit>/<path> at the blob: a relative symlink, or a copy where links fail. */
  async link(commit: string, path: string, etag: string): Promise<string> {
    const dst = this.snapshotFile(commit, path);
    const src = this.blob(etag);
    await mkdir(dirname(dst), { recursive: true });
    await rm(dst, { force: true });
    try {
      await symlink(relative(dirname(dst), src), dst);
    } catch {
      await copyFile(src, dst);
    }
    return dst;
  }
}

/** Size of a file (following links), or null when there is none. */
export async function fileSize(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}
