/** Which files of a hub repository we fetch: pure choices over the repo's file list (docs/hub.md). */
import { TimelensError } from "../errors";

/** One file of a repo at a commit, as the hub's tree listing describes it. */
export interface RepoFile {
  /** Path inside the repo, '/'-separated. */
  path: string;
  size: number;
  /** Git blob id (sha1 of "blob <size>\0" + content): the cache etag of a plain file. */
  gitOid?: string;
  /** sha256 of the content for LFS files: their cache etag and what we verify. */
  sha256?: string;
}

/** The files a checkpoint conversion reads; the optional ones are taken when the repo has them. */
const CHECKPOINT_FILES = new Set([
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "chat_template.jinja",
  "chat_template.json",
  "preprocessor_config.json",
  "video_preprocessor_config.json",
  "model.safetensors.index.json",
]);
const SAFETENSORS_RE = /^model[^/]*\.safetensors$/;

export function isCheckpointFile(path: string): boolean {
  return CHECKPOINT_FILES.has(path) || SAFETENSORS_RE.test(path);
}

/** True when the repo holds a transformers checkpoint we can convert (config + safetensors at the top). */
export function hasCheckpoint(files: readonly RepoFile[]): boolean {
  return files.some((f) => f.path === "config.json") && files.some((f) => SAFETENSORS_RE.test(f.path));
}

export function selectCheckpointFiles(repo: string, files: readonly RepoFile[]): RepoFile[] {
  const chosen = files.filter((f) => isCheckpointFile(f.path));
  for (const required of ["config.json", "tokenizer.json"]) {
    if (!chosen.some((f) => f.path === required)) {
      throw new TimelensError(
        "ERR_CHECKPOINT_INVALID",
        `${repo} has no ${required}; a convertible checkpoint needs config.json, tokenizer.json and model*.safetensors`,
        { repo, missing: required },
      );
    }
  }
  return chosen;
}

/** The quant / float type a GGUF file name ends with ("Q4_K_M", "F16", "IQ4_XS"), upper-cased; null if none. */
export function ggufTypeOf(path: string): string | null {
  const m = /[-_.]((?:I?Q\d[A-Z0-9_]*?)|BF16|F16|F32)(?:-\d{5}-of-\d{5})?\.gguf$/i.exec(path.split("/").pop() ?? "");
  return m ? m[1].toUpperCase() : null;
}

const isGguf = (f: RepoFile): boolean => f.path.toLowerCase().endsWith(".gguf");
const isMmproj = (f: RepoFile): boolean => /mmproj/i.test(f.path.split("/").pop() ?? "");
const MMPROJ_PREFERENCE = ["F16", "BF16", "F32", "Q8_0"];

export function hasGguf(files: readonly RepoFile[]): boolean {
  return files.some((f) => isGguf(f) && !isMmproj(f));
}

/**
 * From a repo of ready GGUFs: the text GGUF of type `quant` (any case) and the repo's mmproj
 * (F16 first, then BF16, F32, Q8_0). Without `quant`, the repo must hold one text GGUF only.
 */
export function selectGgufFiles(
  repo: string,
  files: readonly RepoFile[],
  quant?: string,
): { model: RepoFile; mmproj: RepoFile | null } {
  const texts = files.filter((f) => isGguf(f) && !isMmproj(f));
  const types = [...new Set(texts.map((f) => ggufTypeOf(f.path) ?? f.path))].sort();
  let candidates = texts;
  if (quant) candidates = texts.filter((f) => ggufTypeOf(f.path) === quant.toUpperCase());
  if (candidates.some((f) => /-\d{5}-of-\d{5}\.gguf$/i.test(f.path))) {
    throw new TimelensError(
      "ERR_MODEL_UNSUPPORTED",
      `${repo}: the ${quant ?? ""} GGUF is split into parts, which timelens-native does not load`,
      {
        repo,
        quant,
      },
    );
  }
  if (candidates.length !== 1) {
    const why =
      candidates.length === 0
        ? `has no text GGUF of type ${quant}`
        : quant
          ? `has ${candidates.length} text GGUFs of type ${quant}`
          : "holds several text GGUFs; name one with hf:owner/repo:TYPE";
    throw new TimelensError("ERR_HUB_NOT_FOUND", `${repo} ${why} (available: ${types.join(", ") || "none"})`, {
      repo,
      quant,
      available: types,
    });
  }
  const mmprojs = files.filter((f) => isGguf(f) && isMmproj(f));
  const rank = (f: RepoFile): number => {
    const i = MMPROJ_PREFERENCE.indexOf(ggufTypeOf(f.path) ?? "");
    return i < 0 ? MMPROJ_PREFERENCE.length : i;
  };
  const mmproj = [...mmprojs].sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path))[0] ?? null;
  return { model: candidates[0], mmproj };
}
