/** Several files of one repo commit into the HF cache, with a free-space check and overall progress. */
import { TimelensError, throwIfAborted } from "../errors";
import { HubCacheLayout, fileSize } from "./cache-layout";
import { ensureFreeSpace, type DiskNeed } from "./disk";
import type { HubConfig } from "./env";
import type { RepoFile } from "./files";
import { RateMeter } from "./progress";
import type { RepoSnapshot } from "./repo";
import { withLock } from "./lock";
import { transferFile } from "./transfer";

export interface DownloadProgress {
  stage: "download";
  /** The file being fetched (repo path). */
  file: string;
  fileDone: number;
  fileTotal: number;
  fileBytesPerSecond: number;
  fileEtaMs: number | null;
  /** All selected files together; bytes already in the cache count as done. */
  done: number;
  total: number;
  bytesPerSecond: number;
  etaMs: number | null;
}

export interface DownloadResult {
  /** snapshots/<commit> in the HF cache: the files under their repo paths. */
  dir: string;
  /** Repo path -> absolute snapshot path. */
  paths: Record<string, string>;
  /** Bytes fetched from the hub by this call (0 when everything was cached). */
  downloadedBytes: number;
}

export interface DownloadRequest {
  snapshot: RepoSnapshot;
  files: readonly RepoFile[];
  cfg: HubConfig;
  /** Space the caller needs next (a conversion, say), checked together with the download's. */
  alsoNeeds?: readonly DiskNeed[];
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Milliseconds between progress reports for one file (default 100; the last one always comes). */
  progressIntervalMs?: number;
}

export async function downloadFiles(req: DownloadRequest): Promise<DownloadResult> {
  const { snapshot, cfg, signal } = req;
  const layout = new HubCacheLayout(cfg.cacheDir, snapshot.repo);
  const paths: Record<string, string> = {};
  const todo: Array<{ file: RepoFile; etag: string; partial: number }> = [];
  let cachedBytes = 0;
  for (const file of req.files) {
    const target = layout.snapshotFile(snapshot.commit, file.path);
    if ((await fileSize(target)) === file.size) {
      paths[file.path] = target;
      cachedBytes += file.size;
      continue;
    }
    const etag = file.sha256 ?? file.gitOid;
    if (!etag) {
      throw new TimelensError(
        "ERR_DOWNLOAD_FAILED",
        `${snapshot.repo}/${file.path} is not in the HF cache ` +
          `and the hub is ${cfg.offline ? "off (HF_HUB_OFFLINE)" : "unreachable"}`,
        { repo: snapshot.repo, file: file.path },
      );
    }
    if ((await fileSize(layout.blob(etag))) === file.size) {
      // Another revision (or a Python download) already holds these bytes.
      paths[file.path] = await layout.link(snapshot.commit, file.path, etag);
      cachedBytes += file.size;
      continue;
    }
    const partial = Math.min(file.size, (await fileSize(layout.incomplete(etag))) ?? 0);
    todo.push({ file, etag, partial });
  }

  const missing = todo.reduce((s, t) => s + t.file.size - t.partial, 0);
  await ensureFreeSpace([{ dir: layout.repoDir, bytes: missing, purpose: "download" }, ...(req.alsoNeeds ?? [])]);

  const total = req.files.reduce((s, f) => s + f.size, 0);
  const overall = new RateMeter();
  const interval = req.progressIntervalMs ?? 100;
  let finished = cachedBytes;
  let downloadedBytes = 0;
  for (const { file, etag, partial } of todo) {
    throwIfAborted(signal, "download");
    const perFile = new RateMeter();
    let last = 0;
    let lastOnDisk = partial;
    await withLock(
      layout.lock(etag),
      async () => {
        // Another process may have finished this blob while we waited for the lock.
        if ((await fileSize(layout.blob(etag))) === file.size) return;
        await transferFile({
          repo: snapshot.repo,
          commit: snapshot.commit,
          file,
          blob: layout.blob(etag),
          cfg,
          signal,
          onBytes: (onDisk) => {
            downloadedBytes += Math.max(0, onDisk - lastOnDisk);
            lastOnDisk = onDisk;
            const now = performance.now();
            if (now - last < interval && onDisk < file.size) return;
            last = now;
            const f = perFile.sample(now, onDisk, file.size);
            const o = overall.sample(now, finished + onDisk, total);
            req.onProgress?.({
              stage: "download",
              file: file.path,
              fileDone: onDisk,
              fileTotal: file.size,
              fileBytesPerSecond: f.bytesPerSecond,
              fileEtaMs: f.etaMs,
              done: o.done,
              total,
              bytesPerSecond: o.bytesPerSecond,
              etaMs: o.etaMs,
            });
          },
        });
      },
      signal,
    );
    finished += file.size;
    paths[file.path] = await layout.link(snapshot.commit, file.path, etag);
  }
  return { dir: layout.snapshotDir(snapshot.commit), paths, downloadedBytes };
}
