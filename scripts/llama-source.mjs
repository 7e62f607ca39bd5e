// Where the llama.cpp source comes from: the release bundled in the pinned node-llama-cpp
// npm tarball (llama/gitRelease.bundle). We `npm pack` that one tarball, take the bundle,
// and clone it into a cache outside the repo, so users never install node-llama-cpp itself.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { timelensCacheRoot } from "./cache-root.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export function pinnedNodeLlamaCppVersion() {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  return pkg.timelens.nodeLlamaCppVersion;
}

/** Cache root shared by every clone on this machine; TIMELENS_CACHE_DIR overrides it. */
export function cacheRoot() {
  const base = timelensCacheRoot();
  mkdirSync(base, { recursive: true });
  return base;
}

/** The source dir for the pinned release (may not exist yet). */
export function llamaSourceDir() {
  return process.env.TIMELENS_LLAMA_SRC || join(cacheRoot(), "src", `llama.cpp-nlc${pinnedNodeLlamaCppVersion()}`);
}

const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { stdio: ["ignore", "pipe", "inherit"], ...opts }).toString();

/** Makes sure the source is there; returns { dir, release }. Idempotent and safe to interrupt. */
export function ensureLlamaSource({ log = console.error } = {}) {
  const dir = llamaSourceDir();
  const infoPath = join(dir, ".timelens-release.json");
  if (existsSync(infoPath)) return { dir, release: JSON.parse(readFileSync(infoPath, "utf8")) };
  if (process.env.TIMELENS_LLAMA_SRC)
    throw new Error(`TIMELENS_LLAMA_SRC=${dir} has no .timelens-release.json; point it at a dir made by this script`);

  const version = pinnedNodeLlamaCppVersion();
  log(`timelens-native: fetching llama.cpp source from node-llama-cpp@${version} (npm pack)...`);
  const work = mkdtempSync(join(tmpdir(), "timelens-llama-"));
  try {
    const tgz = run("npm", ["pack", `node-llama-cpp@${version}`, "--silent", "--pack-destination", work], { cwd: work })
      .trim()
      .split("\n")
      .pop();
    run("tar", [
      "-xzf",
      join(work, tgz),
      "-C",
      work,
      "package/llama/gitRelease.bundle",
      "package/llama/llama.cpp.info.json",
    ]);
    const info = JSON.parse(readFileSync(join(work, "package/llama/llama.cpp.info.json"), "utf8"));
    const staging = join(work, "src");
    run("git", ["clone", "--quiet", join(work, "package/llama/gitRelease.bundle"), staging]);
    rmSync(join(staging, ".git"), { recursive: true, force: true });
    const release = { nodeLlamaCpp: version, tag: info.tag, repo: info.llamaCppGithubRepo };
    writeFileSync(join(staging, ".timelens-release.json"), JSON.stringify(release, null, 2));
    mkdirSync(dirname(dir), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir); // atomic on one filesystem: a reader never sees a half-cloned tree
    log(`timelens-native: llama.cpp ${release.tag} ready in ${dir}`);
    return { dir, release };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { dir, release } = ensureLlamaSource();
  console.log(JSON.stringify({ dir, ...release }));
}
