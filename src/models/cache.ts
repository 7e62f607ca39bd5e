/**
 * The models cache (docs/hub.md): $TIMELENS_CACHE_DIR/models/<owner>/<repo>/<commit>/
 * holds the GGUFs converted from that commit and manifest.json saying what each file is.
 * For repos that ship GGUFs the manifest points into the HF cache instead of copying.
 * Every file appears under its final name only when complete (temp + rename).
 */
import { readdir, readFile, rename, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { isAbsolute, join } from "node:path";
import { timelensCacheRoot } from "../../scripts/cache-root";
import type { CheckpointFamily } from "../convert/types";
import { checkRepoName } from "../hub/repo";

export const MANIFEST_VERSION = 1;

export interface ManifestFile {
  role: "model" | "mmproj";
  /** "F16", "BF16", "F32", "Q8_0", "Q4_K_M" ... */
  type: string;
  /** File name inside the commit dir, or an absolute path (GGUF repos: the HF snapshot file). */
  path: string;
  bytes: number;
  /** For a quantized model: the type it was quantized from. */
  quantizedFrom?: string;
}

export interface ModelManifest {
  version: number;
  repo: string;
  commit: string;
  /** "checkpoint": converted here; "gguf": the repo's own GGUFs, downloaded only. */
  source: "checkpoint" | "gguf";
  family?: CheckpointFamily;
  files: ManifestFile[];
  updatedAt: string;
}

/** $TIMELENS_CACHE_DIR/models (the one cache-root rule lives in scripts/cache-root.js). */
export function defaultModelsDir(): string {
  return join(timelensCacheRoot(), "models");
}

export function commitDir(modelsDir: string, repo: string, commit: string): string {
  return join(modelsDir, ...repo.split("/"), commit);
}

export function absoluteIn(dir: string, f: ManifestFile): string {
  return isAbsolute(f.path) ? f.path : join(dir, f.path);
}

export async function readManifest(dir: string): Promise<ModelManifest | null> {
  try {
    const m = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as ModelManifest;
    return m.version === MANIFEST_VERSION && Array.isArray(m.files) ? m : null;
  } catch {
    return null;
  }
}

export async function writeManifest(dir: string, manifest: ModelManifest): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, "manifest.json");
  const tmp = tempName(path);
  await writeFile(tmp, `${JSON.stringify({ ...manifest, updatedAt: new Date().toISOString() }, null, 2)}\n`);
  await rename(tmp, path);
  return path;
}

/** Adds or replaces the entry with the same role, type and origin. */
export function withFile(manifest: ModelManifest, file: ManifestFile): ModelManifest {
  const same = (f: ManifestFile): boolean =>
    f.role === file.role && f.type === file.type && f.quantizedFrom === file.quantizedFrom;
  return { ...manifest, files: [...manifest.files.filter((f) => !same(f)), file] };
}

/** The manifest entry that exists on disk with the right size, or null. */
export async function presentFile(
  dir: string,
  manifest: ModelManifest | null,
  match: (f: ManifestFile) => boolean,
): Promise<{ entry: ManifestFile; path: string } | null> {
  for (const entry of manifest?.files ?? []) {
    if (!match(entry)) continue;
    const path = absoluteIn(dir, entry);
    try {
      if ((await stat(path)).size === entry.bytes) return { entry, path };
    } catch {
      // listed but gone: not present
    }
  }
  return null;
}

/** `<final>.partial-<pid>-<random>`: unique per call, and says whose it is. */
export function tempName(final: string): string {
  return `${final}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/** Removes temp files (`*.partial-<pid>-*`) of processes that no longer run, e.g. after kill -9. */
export async function removeStaleTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /\.partial-(\d+)-[0-9a-f]+$/.exec(name);
    if (m && !isRunning(Number(m[1]))) await rm(join(dir, name), { force: true });
  }
}

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface CachedModel {
  repo: string;
  commit: string;
  dir: string;
  manifest: ModelManifest;
  /** Bytes of the files stored in the models cache (GGUF repos' files live in the HF cache: 0 here). */
  bytes: number;
}

export async function listModels(modelsDir = defaultModelsDir()): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const owner of await dirNames(modelsDir)) {
    for (const name of await dirNames(join(modelsDir, owner))) {
      for (const commit of await dirNames(join(modelsDir, owner, name))) {
        const dir = join(modelsDir, owner, name, commit);
        const manifest = await readManifest(dir);
        if (!manifest) continue;
        const bytes = manifest.files.filter((f) => !isAbsolute(f.path)).reduce((s, f) => s + f.bytes, 0);
        out.push({ repo: `${owner}/${name}`, commit, dir, manifest, bytes });
      }
    }
  }
  return out;
}

/** Deletes every cached commit of `repo` from the models cache (the HF download cache is left alone). */
export async function removeModel(repo: string, modelsDir = defaultModelsDir()): Promise<CachedModel[]> {
  checkRepoName(repo);
  const gone = (await listModels(modelsDir)).filter((m) => m.repo === repo);
  await rm(join(modelsDir, ...repo.split("/")), { recursive: true, force: true });
  return gone;
}

async function dirNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}
