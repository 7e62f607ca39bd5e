/** `hf:owner/repo[@revision][:QUANT]` model URIs (docs/hub.md): a pure parser. */
import { TimelensError } from "../errors";

export interface ModelUri {
  repo: string;
  /** Branch, tag or commit; default "main". */
  revision: string;
  /** GGUF repos: the text GGUF type to pick. Checkpoint repos: the type to quantize to. */
  quant?: string;
}

const URI_RE = /^hf:([A-Za-z0-9][\w.-]*\/[\w.-]+?)(?:@([^:@\s]+))?(?::([A-Za-z0-9_]+))?$/;

export function isHfUri(model: string): boolean {
  return model.startsWith("hf:");
}

export function parseModelUri(uri: string): ModelUri {
  const m = URI_RE.exec(uri.trim());
  if (!m || m[1].includes("..") || (m[2] !== undefined && m[2].includes(".."))) {
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `"${uri}" is not a model URI; expected hf:owner/repo[@revision][:QUANT], ` +
        `e.g. hf:TencentARC/TimeLens-8B or hf:Qwen/Qwen3-VL-8B-Instruct-GGUF:Q4_K_M`,
      { uri },
    );
  }
  return { repo: m[1], revision: m[2] ?? "main", ...(m[3] ? { quant: m[3].toUpperCase() } : {}) };
}
