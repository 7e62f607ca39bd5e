/** TIMELENS_CACHE_DIR, else $XDG_CACHE_HOME/timelens-native, else ~/.cache/timelens-native. */
export function timelensCacheRoot(env?: NodeJS.ProcessEnv): string;
