// The one rule for where timelens-native keeps its caches (llama.cpp source, models).
// CommonJS on purpose: scripts/llama-source.mjs imports it at install time (before any
// build), and the TypeScript sources import it too (types in cache-root.d.ts).
const { homedir } = require("node:os");
const { join } = require("node:path");

/** TIMELENS_CACHE_DIR, else $XDG_CACHE_HOME/timelens-native, else ~/.cache/timelens-native. */
function timelensCacheRoot(env = process.env) {
  return env.TIMELENS_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "timelens-native");
}

exports.timelensCacheRoot = timelensCacheRoot;
