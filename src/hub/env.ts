/** Where the hub is and who we are to it, from options or the standard HF environment (docs/hub.md). */
import { getHFHubCachePath } from "@huggingface/hub";

export interface HubOptions {
  /** Hub URL. Default: $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Access token for gated / private repos. Default: $HF_TOKEN (also $HUGGING_FACE_HUB_TOKEN). */
  token?: string;
  /** HF hub cache dir. Default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Never call the hub; use what the HF cache holds. Default: $HF_HUB_OFFLINE is "1" / "true". */
  offline?: boolean;
  /** Transient failures in a row (no byte gained between them) before a file fails. Default 8. */
  retries?: number;
  /** First retry delay; doubles each time up to 30 s. Default 500 ms. */
  retryDelayMs?: number;
  /** A transfer that receives nothing for this long is dropped and resumed. Default 60 000 ms. */
  stallTimeoutMs?: number;
}

export interface HubConfig {
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  offline: boolean;
  retries: number;
  retryDelayMs: number;
  stallTimeoutMs: number;
}

export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** Options filled in from the environment (read at each call, so tests and callers may set it late). */
export function hubConfig(options: HubOptions = {}): HubConfig {
  const env = process.env;
  const offlineEnv = (env.HF_HUB_OFFLINE ?? "").toLowerCase();
  return {
    endpoint: (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    token: options.token ?? (env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined),
    // The library applies the same precedence Python's huggingface_hub does.
    cacheDir: options.cacheDir ?? getHFHubCachePath(),
    offline: options.offline ?? (offlineEnv === "1" || offlineEnv === "true"),
    retries: options.retries ?? 8,
    retryDelayMs: options.retryDelayMs ?? 500,
    stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
  };
}
