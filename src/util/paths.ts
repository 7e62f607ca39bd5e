/** Small pure helpers for user-supplied paths and our cache folder. */
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Expands a leading `~` (alone, or followed by `/` or, on Windows, `\`) to the home folder, as a
 * shell would: `"~/.cache/x"` from a config file or README example must not become a folder
 * literally named `~`. `~user/...` and a `~` anywhere else are left as they are.
 */
export function expandHome(
  path: string,
  home: string = homedir(),
  platform: NodeJS.Platform = process.platform,
): string {
  if (path === "~") return home;
  if (path.startsWith("~/") || (platform === "win32" && path.startsWith("~\\"))) return join(home, path.slice(2));
  return path;
}

/**
 * timelens-native's cache folder: TIMELENS_CACHE_DIR, else $XDG_CACHE_HOME/timelens-native, else
 * ~/.cache/timelens-native (the same rule as scripts/llama-source.mjs, which build scripts use).
 */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (env.TIMELENS_CACHE_DIR) return expandHome(env.TIMELENS_CACHE_DIR, home);
  return join(env.XDG_CACHE_HOME || join(home, ".cache"), "timelens-native");
}

/** The option names that hold file or folder paths, wherever options are accepted. */
const PATH_OPTIONS = ["model", "mmproj", "cacheDir", "addonPath", "ffmpegPath", "ffprobePath"] as const;

/** A copy of `options` with `~` expanded in every path option it has (see expandHome). */
export function expandPathOptions<T extends object>(options: T, home: string = homedir()): T {
  const out = { ...options } as Record<string, unknown>;
  for (const key of PATH_OPTIONS) if (typeof out[key] === "string") out[key] = expandHome(out[key] as string, home);
  return out as T;
}
