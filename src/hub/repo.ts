/** A repo revision resolved to its commit and file list: from the hub, or from the HF cache when offline. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { listFiles, modelInfo } from "@huggingface/hub";
import { TimelensError, throwIfAborted } from "../errors";
import { HubCacheLayout, fileSize } from "./cache-layout";
import type { HubConfig } from "./env";
import { hubError, isNetworkFailure, isTransientStatusError } from "./errors";
import type { RepoFile } from "./files";
import { backoffMs, fetchWithSignal, sleep } from "./retry";

export interface RepoSnapshot {
  repo: string;
  revision: string;
  commit: string;
  files: RepoFile[];
  /** True when the hub was not asked (offline) or not reachable and the HF cache answered. */
  fromCache: boolean;
}

const REPO_RE = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function checkRepoName(repo: string): void {
  if (!REPO_RE.test(repo) || repo.includes("..")) {
    throw new TimelensError("ERR_INVALID_ARGUMENT", `"${repo}" is not a hub model id (owner/name)`, { repo });
  }
}

/** The hub's view of `repo` at `revision` (default "main"); falls back to the HF cache if the hub is unreachable. */
export async function resolveRepo(
  repo: string,
  revision: string,
  cfg: HubConfig,
  signal?: AbortSignal,
): Promise<RepoSnapshot> {
  checkRepoName(repo);
  const layout = new HubCacheLayout(cfg.cacheDir, repo);
  if (cfg.offline) {
    const cached = await snapshotFromCache(layout, repo, revision);
    if (!cached)
      throw new TimelensError(
        "ERR_HUB_NOT_FOUND",
        `Offline (HF_HUB_OFFLINE) and the HF cache ${cfg.cacheDir} has no ${repo}@${revision}`,
        { repo, revision },
      );
    return cached;
  }
  const what = `model ${repo}@${revision}`;
  const fetch = fetchWithSignal(signal);
  const common = { hubUrl: cfg.endpoint, accessToken: cfg.token, fetch };
  let snapshot: RepoSnapshot;
  try {
    snapshot = await withApiRetries(cfg, signal, async () => {
      const info = await modelInfo({ ...common, name: repo, revision, additionalFields: ["sha"] });
      const commit = info.sha;
      if (!commit)
        throw new TimelensError("ERR_DOWNLOAD_FAILED", `The hub gave no commit for ${what}`, { repo, revision });
      const files: RepoFile[] = [];
      for await (const entry of listFiles({
        ...common,
        repo: { type: "model", name: repo },
        revision: commit,
        recursive: true,
      })) {
        if (entry.type !== "file") continue;
        files.push({
          path: entry.path,
          size: entry.lfs?.size ?? entry.size,
          gitOid: entry.oid,
          sha256: entry.lfs?.oid,
        });
      }
      return { repo, revision, commit, files, fromCache: false };
    });
  } catch (e) {
    throwIfAborted(signal, "download");
    if (isNetworkFailure(e)) {
      const cached = await snapshotFromCache(layout, repo, revision);
      if (cached) return cached;
    }
    throw hubError(e, what, { repo, revision }, signal);
  }
  await layout.writeRef(revision, snapshot.commit);
  return snapshot;
}

/** API calls get a couple of quick retries; a hub that stays down falls back to the cache sooner. */
async function withApiRetries<T>(cfg: HubConfig, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
  const tries = Math.min(cfg.retries, 2);
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= tries || signal?.aborted || !(isNetworkFailure(e) || isTransientStatusError(e))) throw e;
      await sleep(backoffMs(attempt + 1, cfg.retryDelayMs), signal);
    }
  }
}

/** What the HF cache holds for a revision: the snapshot's files (no hashes: they were checked when written). */
async function snapshotFromCache(layout: HubCacheLayout, repo: string, revision: string): Promise<RepoSnapshot | null> {
  const commit = await layout.cachedCommit(revision);
  if (!commit) return null;
  const root = layout.snapshotDir(commit);
  const files: RepoFile[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), rel);
      else {
        const size = await fileSize(join(dir, entry.name));
        if (size !== null) files.push({ path: rel, size });
      }
    }
  };
  try {
    await walk(root, "");
  } catch {
    return null;
  }
  return { repo, revision, commit, files, fromCache: true };
}
