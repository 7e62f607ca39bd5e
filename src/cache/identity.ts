/**
 * The prefix cache key: a hash of everything that changes the bytes of a video prefix's KV
 * state (docs/cache.md#the-key). Pure: the caller gathers the inputs (file hashes, the resolved
 * load options, the model info native reported, the addon's build stamp) and this decides.
 *
 * The design is "everything, minus a short list of fields known not to matter": the whole
 * resolved load options and the whole native info go in, so an option or an info field added
 * later is part of the key without anyone remembering to add it. Leaving a field in that does
 * not matter costs a cache miss; leaving one out that does would load wrong state.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Bumped whenever the key's inputs or the entry layout change: older entries never match. */
export const CACHE_FORMAT_VERSION = 2;

export interface KvIdentityInputs {
  /** Content hashes (sampledFileHash) of the text GGUF, the mmproj and the video. */
  files: { model: string; mmproj: string; video: string };
  /** This package's version (package.json): the prompt rendering and defaults come with it. */
  packageVersion: string;
  /**
   * How the addon was built: the llama.cpp release, the variant and the build flags (the
   * `timelens.json` stamp next to the addon, see readBuildStamp), or null when there is none.
   */
  build: Record<string, unknown> | null;
  /** The load options after defaults were applied (every field, see NON_KV_LOAD_OPTIONS). */
  loadOptions: object;
  /** The model info as native reported it (context layout, batch sizes, devices, KV type ...). */
  nativeInfo: object;
  /** The model profile id (prompt template and frame layout). */
  profile: string;
  /** What the prefix holds: frame indices, frame size, prompt segments. */
  layout: object;
  /** The frame decoder (ffmpeg's version line), when known: decoded pixels go into the KV. */
  decoder?: string | null;
}

/**
 * Load options that cannot change the KV bytes: paths whose content is hashed in `files`,
 * the addon path (its build is `build`), callbacks, the signal, and the cache's own settings.
 */
export const NON_KV_LOAD_OPTIONS: ReadonlySet<string> = new Set([
  "model",
  "mmproj",
  "addonPath",
  "onLog",
  "onProgress",
  "onPullProgress",
  "signal",
  "cacheDir",
  "cacheMaxBytes",
  "ffmpegPath",
  "ffprobePath",
]);

/** Native info fields that say where things are on disk, not what they compute. */
const NON_KV_INFO_PATHS: ReadonlySet<string> = new Set(["addon.path", "gpu.skipped"]);

/** Build stamp fields that describe the build run, not its output. */
const NON_KV_BUILD: ReadonlySet<string> = new Set(["builtAt", "seconds"]);

/**
 * A JSON-able copy with object keys sorted, functions, symbols, undefined and AbortSignals
 * dropped, and `omit` paths ("a.b") left out: one spelling per meaning.
 */
export function canonicalValue(value: unknown, omit: ReadonlySet<string> = new Set(), at = ""): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return undefined;
  if (typeof AbortSignal !== "undefined" && value instanceof AbortSignal) return undefined;
  if (Array.isArray(value)) return value.map((v) => canonicalValue(v, omit, at) ?? null);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex");
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value as object).sort()) {
    const path = at ? `${at}.${k}` : k;
    if (omit.has(path)) continue;
    const v = canonicalValue((value as Record<string, unknown>)[k], omit, path);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The canonical object that is hashed (exported for docs and debugging: what the key covers). */
export function kvIdentityRecord(inputs: KvIdentityInputs): Record<string, unknown> {
  return {
    version: CACHE_FORMAT_VERSION,
    files: canonicalValue(inputs.files),
    packageVersion: inputs.packageVersion,
    build: inputs.build === null ? null : canonicalValue(inputs.build, NON_KV_BUILD),
    loadOptions: canonicalValue(inputs.loadOptions, NON_KV_LOAD_OPTIONS),
    nativeInfo: canonicalValue(inputs.nativeInfo, NON_KV_INFO_PATHS),
    profile: inputs.profile,
    layout: canonicalValue(inputs.layout),
    decoder: inputs.decoder ?? null,
  };
}

/** The cache key (40 hex digits) of a prefix; equal inputs in any key order give equal keys. */
export function kvIdentity(inputs: KvIdentityInputs): string {
  return createHash("sha256")
    .update(JSON.stringify(kvIdentityRecord(inputs)))
    .digest("hex")
    .slice(0, 40);
}

/** Walks up from `start` to this package's package.json. */
function findPackageJson(start: string): string | null {
  let dir = start;
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      try {
        if (JSON.parse(readFileSync(candidate, "utf8")).name === "timelens-native") return candidate;
      } catch {
        /* not ours or unreadable: keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

let cachedVersion: string | undefined;

/** This package's version ("0.0.0-unknown" when package.json cannot be found). */
export function packageVersion(): string {
  if (cachedVersion === undefined) {
    const path = findPackageJson(__dirname);
    cachedVersion = path ? String(JSON.parse(readFileSync(path, "utf8")).version) : "0.0.0-unknown";
  }
  return cachedVersion;
}

/**
 * The build stamp that scripts/build.mjs writes next to the addon (timelens.json: llama.cpp
 * release, variant, flags), or null when the addon has none (then packageVersion and the
 * native info's systemInfo still tell builds apart).
 */
export function readBuildStamp(addonPath: string): Record<string, unknown> | null {
  try {
    const stamp = JSON.parse(readFileSync(join(dirname(addonPath), "timelens.json"), "utf8"));
    return stamp !== null && typeof stamp === "object" && !Array.isArray(stamp) ? stamp : null;
  } catch {
    return null;
  }
}
