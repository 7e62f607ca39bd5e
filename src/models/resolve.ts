/** `hf:` model URIs in Grounder.load: pull (or reuse) the model, then load local paths (docs/hub.md). */
import { TimelensError } from "../errors";
import type { GrounderLoadOptions } from "../session";
import { pullModel, type PullOptions, type PullProgress } from "./pull";
import { isHfUri, parseModelUri } from "./uri";

/** Grounder.load options with an `hf:` model: the mmproj may be left out (the pulled one is used). */
export type HfLoadOptions = Omit<GrounderLoadOptions, "mmproj"> & {
  mmproj?: string;
  /** Download / conversion stages of an `hf:` model (load itself reports through onProgress). */
  onPullProgress?: (p: PullProgress) => void;
  /** Passed to pullModel (hub, modelsDir, outtype, quantize ...). */
  pull?: Omit<PullOptions, "repo" | "revision" | "quant" | "signal" | "onProgress">;
};

/** Local paths for Grounder.load: `hf:` models are pulled first; anything else passes through. */
export async function resolveModelFiles(options: GrounderLoadOptions | HfLoadOptions): Promise<GrounderLoadOptions> {
  if (!isHfUri(options.model)) return options as GrounderLoadOptions;
  const uri = parseModelUri(options.model);
  const { onPullProgress, pull, ...rest } = options as HfLoadOptions;
  const pulled = await pullModel({
    ...pull,
    repo: uri.repo,
    revision: uri.revision,
    quant: uri.quant,
    signal: options.signal,
    onProgress: onPullProgress,
  });
  const mmproj = options.mmproj ?? pulled.mmproj;
  if (!mmproj)
    throw new TimelensError("ERR_FILE_NOT_FOUND", `${uri.repo} has no mmproj GGUF; pass mmproj explicitly`, {
      repo: uri.repo,
      kind: "mmproj",
    });
  return { ...rest, model: pulled.model, mmproj } as GrounderLoadOptions;
}
