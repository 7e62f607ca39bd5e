/**
 * Finding ffmpeg and ffprobe, and running them. The facts behind this file (which packages,
 * their versions, the mode fix) are in docs/reference.md, "ffmpeg and ffprobe".
 *
 * Resolution order (first hit wins), for ffmpeg:
 *   1. the explicit `ffmpegPath` option,
 *   2. env `TIMELENS_FFMPEG`, then env `FFMPEG_BIN`,
 *   3. the optional package `@ffmpeg-installer/<platform>-<arch>` (the binary is inside the
 *      registry tarball: no download, no install script needed),
 *   4. `ffmpeg` on PATH.
 * For ffprobe:
 *   1. the explicit `ffprobePath` option,
 *   2. env `TIMELENS_FFPROBE`,
 *   3. an `ffprobe` next to an explicitly configured ffmpeg (option or env), so a custom build's
 *      pair stays together,
 *   4. the optional package `@ffprobe-installer/<platform>-<arch>`,
 *   5. `ffprobe` on PATH.
 * A package binary that is present but not executable (its tarball stores it 0644 and only a
 * postinstall script, which npm 11 does not run by default, would chmod it) is copied into our
 * cache folder with mode 0755, the copy checked byte for byte (SHA-256) against the original.
 * An explicit option or env var that names a missing file is an error, not a fall-through.
 * Results are cached per explicit option (and the environment they were resolved in).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  chmodSync,
  closeSync,
  copyFileSync,
  constants as fsConstants,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { basename, delimiter, dirname, extname, isAbsolute, join, resolve as resolvePath } from "node:path";
import { AbortError, TimelensError } from "../errors";
import { cacheRoot, expandHome } from "../util/paths";

export interface FfmpegOptions {
  /** Explicit ffmpeg binary: a path (`~` expanded), or a bare command name looked up on PATH. */
  ffmpegPath?: string;
  /**
   * Look in the optional packages @ffmpeg-installer / @ffprobe-installer (default true). False
   * skips them, e.g. to prefer a system ffmpeg with more codecs than the bundled build.
   */
  usePackages?: boolean;
}

export interface FfprobeOptions extends FfmpegOptions {
  /** Explicit ffprobe binary: a path (`~` expanded), or a bare command name looked up on PATH. */
  ffprobePath?: string;
}

export type Tool = "ffmpeg" | "ffprobe";

/** A binary that was found, and how. */
export interface LocatedTool {
  path: string;
  /** Where it came from: "option", "env" (see `detail`), "sibling", "package" or "PATH". */
  source: "option" | "env" | "sibling" | "package" | "PATH";
  /** Human-readable: the env var, or the package name and version (and "copied to ..."). */
  detail: string;
}

const IS_WINDOWS = process.platform === "win32";

const INSTALL_HINT =
  "Install ffmpeg (Debian/Ubuntu: `sudo apt-get install ffmpeg`; macOS: `brew install ffmpeg`; " +
  "Windows: `choco install ffmpeg` or `winget install ffmpeg`)";

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    if (!IS_WINDOWS) accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Looks a bare command up on PATH (with PATHEXT on Windows). */
export function findOnPath(command: string, envPath = process.env.PATH ?? process.env.Path ?? ""): string | undefined {
  const exts = IS_WINDOWS ? ["", ...(process.env.PATHEXT ?? ".EXE;.CMD;.BAT;.COM").split(";").filter(Boolean)] : [""];
  for (const dir of envPath.split(delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = join(dir, command + (ext && extname(command).toLowerCase() !== ext.toLowerCase() ? ext : ""));
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

function hasPathSeparator(p: string): boolean {
  return p.includes("/") || (IS_WINDOWS && p.includes("\\"));
}

/** A configured value: a path that must exist, or a bare name that must be on PATH. */
function resolveConfigured(tool: Tool, value: string, source: string): string {
  const expanded = expandHome(value);
  if (!hasPathSeparator(expanded) && !isAbsolute(expanded)) {
    const found = findOnPath(expanded);
    if (found) return found;
  } else {
    const abs = resolvePath(expanded);
    if (isExecutableFile(abs)) return abs;
  }
  throw new TimelensError(
    "ERR_FFMPEG_NOT_FOUND",
    `${tool} was configured by ${source} as "${value}", but no executable file is there. Fix the path, or ` +
      `unset it to use ${tool} from ${PACKAGE_SCOPE[tool]} or PATH.`,
    { tool, path: value, source },
  );
}

const localRequire = createRequire(__filename);

const PACKAGE_SCOPE: Record<Tool, string> = { ffmpeg: "@ffmpeg-installer", ffprobe: "@ffprobe-installer" };
const WRAPPER_PACKAGE: Record<Tool, string> = {
  ffmpeg: "@ffmpeg-installer/ffmpeg",
  ffprobe: "@ffprobe-installer/ffprobe",
};

/** The per-platform package holding the binary, e.g. "@ffprobe-installer/linux-x64". */
export function platformPackage(tool: Tool, platform: string = process.platform, arch: string = process.arch): string {
  return `${PACKAGE_SCOPE[tool]}/${platform}-${arch}`;
}

/**
 * Finds a module id the way the installed tree holds it: from here (npm hoists the platform
 * package next to us), else from inside the wrapper package (a nested install).
 */
function defaultResolve(tool: Tool): (id: string) => string {
  return (id) => {
    try {
      return localRequire.resolve(id);
    } catch {
      const wrapper = localRequire.resolve(`${WRAPPER_PACKAGE[tool]}/package.json`);
      return createRequire(wrapper).resolve(id);
    }
  };
}

/** Where to look for the optional packages (tests pass their own; results are then not cached). */
export interface PackageLookup {
  /** Resolves a module id to a file path (default: Node's resolution from this package). */
  resolve?: (id: string) => string;
  /** Where non-executable package binaries are copied (default: cacheRoot()/ffmpeg). */
  copyDir?: string;
  platform?: string;
  arch?: string;
}

/** Why the last package lookup gave nothing usable (for the not-found message). */
const packageProblems = new Map<Tool, string>();

/**
 * The binary inside the optional per-platform package, if it is installed; inside Electron's
 * app.asar the unpacked copy. A binary that is there but not executable is replaced by a
 * verified 0755 copy in the cache (see executableCopy).
 */
export function packageBinary(tool: Tool, lookup: PackageLookup = {}): LocatedTool | undefined {
  const pkg = platformPackage(tool, lookup.platform, lookup.arch);
  let pkgJson: string;
  try {
    pkgJson = (lookup.resolve ?? defaultResolve(tool))(`${pkg}/package.json`);
  } catch {
    return undefined; // not installed (another platform, or optional deps left out)
  }
  let version = "?";
  try {
    const meta = JSON.parse(readFileSync(pkgJson, "utf8")) as { version?: string };
    version = meta.version ?? "?";
  } catch {
    // an unreadable package.json only costs the version in reports
  }
  const isWin = (lookup.platform ?? process.platform) === "win32";
  const file = join(dirname(pkgJson), isWin ? `${tool}.exe` : tool);
  const label = `${pkg}@${version}`;
  // Electron: binaries inside app.asar are only runnable from app.asar.unpacked.
  const candidates = [file.replace(/([\\/])app\.asar([\\/])/, "$1app.asar.unpacked$2"), file];
  for (const c of candidates) if (isExecutableFile(c)) return { path: c, source: "package", detail: label };
  const present = candidates.find(isFile);
  if (!present) {
    packageProblems.set(tool, `${label} is installed but holds no ${basename(file)}`);
    return undefined;
  }
  const dir = join(lookup.copyDir ?? join(cacheRoot(), "ffmpeg"), `${pkg.replace("/", "+")}@${version}`);
  try {
    const copy = executableCopy(present, dir);
    return {
      path: copy,
      source: "package",
      detail: `${label} (not executable as installed; verified 0755 copy in ${dir})`,
    };
  } catch (e) {
    packageProblems.set(
      tool,
      `${label}'s ${basename(file)} is not executable and could not be copied to ${dir}: ${(e as Error).message}`,
    );
    return undefined;
  }
}

function sha256File(path: string): string {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null))
      h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

interface CopyRecord {
  source: string;
  size: number;
  mtimeMs: number;
  sha256: string;
}

/**
 * Copies `source` into `dir` under its own name with mode 0755 and returns the copy's path.
 * The copy is written under a temporary name, its SHA-256 compared with the source's, then
 * renamed into place (so concurrent processes never see half a file); a record beside it
 * (`<name>.json`: source path, size, mtime, SHA-256) lets later calls reuse it without hashing
 * again as long as the source is unchanged. Throws when the copy cannot be made or differs.
 */
export function executableCopy(source: string, dir: string): string {
  const name = basename(source);
  const dest = join(dir, name);
  const recordPath = `${dest}.json`;
  const st = statSync(source);
  try {
    const rec = JSON.parse(readFileSync(recordPath, "utf8")) as CopyRecord;
    if (
      rec.source === source &&
      rec.size === st.size &&
      rec.mtimeMs === st.mtimeMs &&
      statSync(dest).size === st.size &&
      isExecutableFile(dest)
    )
      return dest;
  } catch {
    // no usable record: copy afresh
  }
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${name}.${process.pid}.${Date.now()}.tmp`);
  try {
    const want = sha256File(source);
    copyFileSync(source, tmp);
    chmodSync(tmp, 0o755);
    const got = sha256File(tmp);
    if (got !== want) throw new Error(`the copy's SHA-256 ${got} differs from the original's ${want}`);
    renameSync(tmp, dest);
    const record: CopyRecord = { source, size: st.size, mtimeMs: st.mtimeMs, sha256: want };
    writeFileSync(`${recordPath}.${process.pid}.tmp`, JSON.stringify(record));
    renameSync(`${recordPath}.${process.pid}.tmp`, recordPath);
    return dest;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function notFound(tool: Tool): TimelensError {
  const env = tool === "ffmpeg" ? "TIMELENS_FFMPEG" : "TIMELENS_FFPROBE";
  const problem = packageProblems.get(tool);
  return new TimelensError(
    "ERR_FFMPEG_NOT_FOUND",
    `${tool} was not found${problem ? ` (${problem})` : ""}. ${INSTALL_HINT}, or \`npm install ` +
      `${WRAPPER_PACKAGE[tool]}\`, or set ${env} to the ${tool} binary's path (or pass the ${tool}Path option).`,
    { tool },
  );
}

const cache = new Map<string, LocatedTool>();

function cacheKey(tool: string, parts: Array<string | undefined>): string {
  return JSON.stringify([tool, ...parts, process.env.PATH ?? "", process.env.TIMELENS_CACHE_DIR ?? ""]);
}

function onPath(tool: Tool): LocatedTool | undefined {
  const p = findOnPath(tool);
  return p ? { path: p, source: "PATH", detail: "PATH" } : undefined;
}

/** Finds ffmpeg (see the module comment for the order) and says where from. Throws ERR_FFMPEG_NOT_FOUND. */
export function locateFfmpeg(opts: FfmpegOptions = {}, packages: PackageLookup = {}): LocatedTool {
  const envOwn = process.env.TIMELENS_FFMPEG || undefined;
  const envBin = process.env.FFMPEG_BIN || undefined;
  const key = cacheKey("ffmpeg", [opts.ffmpegPath, envOwn, envBin, String(opts.usePackages !== false)]);
  const cacheable = Object.keys(packages).length === 0;
  const hit = cacheable ? cache.get(key) : undefined;
  if (hit) return hit;
  let found: LocatedTool | undefined;
  if (opts.ffmpegPath)
    found = {
      path: resolveConfigured("ffmpeg", opts.ffmpegPath, "the ffmpegPath option"),
      source: "option",
      detail: "ffmpegPath option",
    };
  else if (envOwn)
    found = { path: resolveConfigured("ffmpeg", envOwn, "TIMELENS_FFMPEG"), source: "env", detail: "TIMELENS_FFMPEG" };
  else if (envBin)
    found = { path: resolveConfigured("ffmpeg", envBin, "FFMPEG_BIN"), source: "env", detail: "FFMPEG_BIN" };
  else found = (opts.usePackages === false ? undefined : packageBinary("ffmpeg", packages)) ?? onPath("ffmpeg");
  if (!found) throw notFound("ffmpeg");
  if (cacheable) cache.set(key, found);
  return found;
}

/** Finds ffprobe (see the module comment for the order) and says where from. Throws ERR_FFMPEG_NOT_FOUND. */
export function locateFfprobe(opts: FfprobeOptions = {}, packages: PackageLookup = {}): LocatedTool {
  const envOwn = process.env.TIMELENS_FFPROBE || undefined;
  const ffmpegConfigured = opts.ffmpegPath || process.env.TIMELENS_FFMPEG || process.env.FFMPEG_BIN || undefined;
  const key = cacheKey("ffprobe", [opts.ffprobePath, envOwn, ffmpegConfigured, String(opts.usePackages !== false)]);
  const cacheable = Object.keys(packages).length === 0;
  const hit = cacheable ? cache.get(key) : undefined;
  if (hit) return hit;
  let found: LocatedTool | undefined;
  if (opts.ffprobePath)
    found = {
      path: resolveConfigured("ffprobe", opts.ffprobePath, "the ffprobePath option"),
      source: "option",
      detail: "ffprobePath option",
    };
  else if (envOwn)
    found = {
      path: resolveConfigured("ffprobe", envOwn, "TIMELENS_FFPROBE"),
      source: "env",
      detail: "TIMELENS_FFPROBE",
    };
  else {
    if (ffmpegConfigured) {
      try {
        const ffmpeg = resolveFfmpeg({ ffmpegPath: opts.ffmpegPath });
        const sibling = join(dirname(ffmpeg), IS_WINDOWS ? "ffprobe.exe" : "ffprobe");
        if (isExecutableFile(sibling)) found = { path: sibling, source: "sibling", detail: `next to ${ffmpeg}` };
      } catch {
        // the ffmpeg error surfaces when ffmpeg itself is needed
      }
    }
    found ??= (opts.usePackages === false ? undefined : packageBinary("ffprobe", packages)) ?? onPath("ffprobe");
  }
  if (!found) throw notFound("ffprobe");
  if (cacheable) cache.set(key, found);
  return found;
}

/** Resolves the ffmpeg binary's path (see locateFfmpeg). Throws ERR_FFMPEG_NOT_FOUND. */
export function resolveFfmpeg(opts: FfmpegOptions = {}): string {
  return locateFfmpeg(opts).path;
}

/** Resolves the ffprobe binary's path (see locateFfprobe). Throws ERR_FFMPEG_NOT_FOUND. */
export function resolveFfprobe(opts: FfprobeOptions = {}): string {
  return locateFfprobe(opts).path;
}

/** Forgets resolved paths (tests, or after installing ffmpeg at runtime). */
export function clearFfmpegCache(): void {
  cache.clear();
  versionCache.clear();
  packageProblems.clear();
}

export interface ToolVersion {
  /** The FFmpeg release this build is, or follows (git builds: derived from libavutil). */
  major: number;
  minor: number;
  /** First line of `-version`. */
  line: string;
  /** libavutil's version, when printed. */
  libavutil?: { major: number; minor: number };
}

/**
 * libavutil version at each FFmpeg release: a git build ("N-47683-g0e8eb07980") names no
 * release, so it counts as the latest release whose libavutil it has reached.
 */
const LIBAVUTIL_AT_RELEASE: ReadonlyArray<readonly [number, number, number, number]> = [
  [56, 22, 4, 1],
  [56, 31, 4, 2],
  [56, 51, 4, 3],
  [56, 70, 4, 4],
  [57, 17, 5, 0],
  [57, 28, 5, 1],
  [58, 2, 6, 0],
  [58, 29, 6, 1],
  [59, 8, 7, 0],
  [59, 39, 7, 1],
  [60, 3, 8, 0],
];

/**
 * Parses `ffmpeg -version` output: a release ("ffmpeg version 5.1.9-0+deb12u1", "n6.1.1") by its
 * number; a git build by its libavutil line; unparseable output counts as the newest (99.0).
 */
export function parseToolVersion(output: string): ToolVersion {
  const line = output.split(/\r?\n/)[0] ?? "";
  const lu = /^libavutil\s+(\d+)\.\s*(\d+)\./m.exec(output);
  const libavutil = lu ? { major: Number(lu[1]), minor: Number(lu[2]) } : undefined;
  const m = /version\s+n?(\d+)\.(\d+)/.exec(line);
  if (m) return { major: Number(m[1]), minor: Number(m[2]), line, libavutil };
  if (libavutil) {
    let best: readonly [number, number, number, number] | undefined;
    for (const r of LIBAVUTIL_AT_RELEASE)
      if (libavutil.major > r[0] || (libavutil.major === r[0] && libavutil.minor >= r[1])) best = r;
    if (best) return { major: best[2], minor: best[3], line, libavutil };
  }
  return { major: 99, minor: 0, line, libavutil };
}

/**
 * The output frame-rate mode flag for this ffmpeg: `-fps_mode` since 5.1, `-vsync` before
 * (4.x has no -fps_mode; newer ones deprecate -vsync).
 */
export function fpsModeArgs(
  version: Pick<ToolVersion, "major" | "minor">,
  mode: "passthrough" | "vfr" | "cfr",
): string[] {
  const hasFpsMode = version.major > 5 || (version.major === 5 && version.minor >= 1);
  return [hasFpsMode ? "-fps_mode" : "-vsync", mode];
}

const versionCache = new Map<string, Promise<ToolVersion>>();

/** `ffmpeg -version` / `ffprobe -version`, parsed (parseToolVersion). Cached per binary. */
export function toolVersion(binary: string): Promise<ToolVersion> {
  let p = versionCache.get(binary);
  if (!p) {
    p = runTool(binary, ["-hide_banner", "-version"], { maxOutput: 64 * 1024 }).then((r) => parseToolVersion(r.stdout));
    versionCache.set(binary, p);
    p.catch(() => versionCache.delete(binary));
  }
  return p;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Max bytes kept of each stream (the rest is dropped; stderr keeps its tail). Default 32 MiB. */
  maxOutput?: number;
  /** Called with the child right after spawn (tests use it to watch the process). */
  onSpawn?: (child: ChildProcess) => void;
}

/**
 * Runs a tool to completion and collects its output. Spawn failures reject with
 * ERR_FFMPEG_NOT_FOUND; an abort kills the tool and rejects with AbortError. A non-zero exit
 * resolves normally: callers turn stderr into their own error.
 */
export function runTool(binary: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const max = opts.maxOutput ?? 32 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new AbortError());
      return;
    }
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
    opts.onSpawn?.(child);
    const out: Buffer[] = [];
    let outLen = 0;
    let err = Buffer.alloc(0);
    child.stdout!.on("data", (b: Buffer) => {
      if (outLen < max) {
        out.push(b);
        outLen += b.length;
      }
    });
    child.stderr!.on("data", (b: Buffer) => {
      err = Buffer.concat([err, b]);
      if (err.length > max) err = err.subarray(err.length - max);
    });
    const onAbort = () => child.kill("SIGKILL");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (e: NodeJS.ErrnoException) => {
      opts.signal?.removeEventListener("abort", onAbort);
      reject(
        new TimelensError(
          "ERR_FFMPEG_NOT_FOUND",
          `Could not run ${binary}: ${e.message}`,
          { path: binary, errno: e.code },
          { cause: e },
        ),
      );
    });
    child.on("close", (code, signal) => {
      opts.signal?.removeEventListener("abort", onAbort);
      if (opts.signal?.aborted) {
        reject(new AbortError());
        return;
      }
      resolve({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: err.toString("utf8") });
    });
  });
}

/** The last meaningful lines of a tool's stderr, for error messages. */
export function stderrTail(stderr: string, lines = 6): string {
  const kept = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^(frame=|size=|video:|Press \[q\])/.test(l));
  return kept.slice(-lines).join("\n");
}
