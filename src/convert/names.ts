/**
 * Pure tensor-name mapping, Hugging Face -> GGUF, for both families and both layouts
 * (docs/models.md, "Tensor names"), and the rule that picks each GGUF tensor's type.
 */
import { TimelensError } from "../errors";
import type { CheckpointFamily } from "./types";
import type { OutType } from "./encode";

/** Which part of the source tensor a GGUF tensor takes. */
export type TensorPart =
  | { kind: "all" }
  /** Rows [index * n / of, (index + 1) * n / of) of dim 0 (a fused qkv split in three). */
  | { kind: "rows"; index: number; of: number }
  /** Slice t of dim 2 of a Conv3D weight [out, in, t, kh, kw] (the temporal patch split). */
  | { kind: "temporal"; t: number };

export interface MappedTensor {
  gguf: string;
  part: TensorPart;
}

export type TensorTarget = "text" | "mmproj";

/** Drops the transformers >= 4.52 prefixes, so both layouts map alike. */
export function canonicalName(name: string): string {
  if (name.startsWith("model.language_model.")) return `model.${name.slice("model.language_model.".length)}`;
  if (name.startsWith("model.visual.")) return `visual.${name.slice("model.visual.".length)}`;
  return name;
}

/** Tensors the official converter drops without a word (buffers, not weights). */
export function isIgnoredTensor(name: string): boolean {
  return (
    name.endsWith(".attention.masked_bias") || name.endsWith(".attention.bias") || name.endsWith(".rotary_emb.inv_freq")
  );
}

export function targetOf(canonical: string): TensorTarget {
  return canonical.startsWith("visual.") ? "mmproj" : "text";
}

const TEXT_LAYER: Record<string, string> = {
  input_layernorm: "attn_norm",
  post_attention_layernorm: "ffn_norm",
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "self_attn.q_norm": "attn_q_norm",
  "self_attn.k_norm": "attn_k_norm",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
};

const VISION_BLOCK: Record<CheckpointFamily, Record<string, string>> = {
  qwen3vl: {
    "attn.qkv": "attn_qkv",
    "attn.proj": "attn_out",
    "mlp.linear_fc1": "ffn_up",
    "mlp.linear_fc2": "ffn_down",
    norm1: "ln1",
    norm2: "ln2",
  },
  "qwen2.5vl": {
    "attn.proj": "attn_out",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    norm1: "ln1",
    norm2: "ln2",
  },
};

const MERGER: Record<CheckpointFamily, Record<string, string>> = {
  qwen3vl: { "merger.linear_fc1": "mm.0", "merger.linear_fc2": "mm.2", "merger.norm": "v.post_ln" },
  "qwen2.5vl": { "merger.mlp.0": "mm.0", "merger.mlp.2": "mm.2", "merger.ln_q": "v.post_ln" },
};

const DEEPSTACK: Record<string, string> = { norm: "norm", linear_fc1: "fc1", linear_fc2: "fc2" };

function unknown(name: string): TimelensError {
  return new TimelensError(
    "ERR_CHECKPOINT_UNSUPPORTED",
    `tensor "${name}" is not one the converter knows for this family`,
    { tensor: name },
  );
}

/** Splits "<stem>.weight" / "<stem>.bias". */
function splitSuffix(name: string): [string, string] | null {
  const m = /^(.*)\.(weight|bias)$/.exec(name);
  return m ? [m[1], m[2]] : null;
}

function mapText(c: string): MappedTensor[] {
  if (c === "model.embed_tokens.weight") return [{ gguf: "token_embd.weight", part: { kind: "all" } }];
  if (c === "model.norm.weight") return [{ gguf: "output_norm.weight", part: { kind: "all" } }];
  if (c === "lm_head.weight") return [{ gguf: "output.weight", part: { kind: "all" } }];
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(c);
  const s = m && splitSuffix(m[2]);
  const target = s && TEXT_LAYER[s[0]];
  if (!m || !s || !target) throw unknown(c);
  return [{ gguf: `blk.${m[1]}.${target}.${s[1]}`, part: { kind: "all" } }];
}

function mapVision(c: string, family: CheckpointFamily, deepstackIndexes: readonly number[]): MappedTensor[] {
  const all = { kind: "all" } as const;
  const rest = c.slice("visual.".length);
  if (rest === "patch_embed.proj.weight") {
    return [
      { gguf: "v.patch_embd.weight", part: { kind: "temporal", t: 0 } },
      { gguf: "v.patch_embd.weight.1", part: { kind: "temporal", t: 1 } },
    ];
  }
  if (rest === "patch_embed.proj.bias" && family === "qwen3vl") return [{ gguf: "v.patch_embd.bias", part: all }];
  if (rest === "pos_embed.weight" && family === "qwen3vl") return [{ gguf: "v.position_embd.weight", part: all }];
  const block = /^blocks\.(\d+)\.(.+)$/.exec(rest);
  if (block) {
    const s = splitSuffix(block[2]);
    if (!s) throw unknown(c);
    if (family === "qwen2.5vl" && s[0] === "attn.qkv") {
      return ["attn_q", "attn_k", "attn_v"].map((t, index) => ({
        gguf: `v.blk.${block[1]}.${t}.${s[1]}`,
        part: { kind: "rows", index, of: 3 } as const,
      }));
    }
    const t = VISION_BLOCK[family][s[0]];
    if (!t) throw unknown(c);
    return [{ gguf: `v.blk.${block[1]}.${t}.${s[1]}`, part: all }];
  }
  const ds = /^deepstack_merger_list\.(\d+)\.(.+)$/.exec(rest);
  if (ds && family === "qwen3vl") {
    const s = splitSuffix(ds[2]);
    const j = Number(ds[1]);
    const t = s && DEEPSTACK[s[0]];
    if (!s || !t || j >= deepstackIndexes.length) throw unknown(c);
    return [{ gguf: `v.deepstack.${deepstackIndexes[j]}.${t}.${s[1]}`, part: all }];
  }
  const s = splitSuffix(rest);
  const t = s && MERGER[family][s[0]];
  if (!s || !t) throw unknown(c);
  return [{ gguf: `${t}.${s[1]}`, part: all }];
}

/** The GGUF tensors one checkpoint tensor becomes (canonical name, see `canonicalName`). */
export function mapTensorName(
  canonical: string,
  family: CheckpointFamily,
  deepstackIndexes: readonly number[] = [],
): MappedTensor[] {
  return targetOf(canonical) === "mmproj" ? mapVision(canonical, family, deepstackIndexes) : mapText(canonical);
}

/** Torch shape of a part of a tensor. */
export function partShape(shape: readonly number[], part: TensorPart, name: string): number[] {
  if (part.kind === "all") return [...shape];
  if (part.kind === "rows") {
    if (shape[0] % part.of !== 0)
      throw new TimelensError(
        "ERR_CHECKPOINT_INVALID",
        `tensor "${name}": dim 0 (${shape[0]}) does not split in ${part.of}`,
        { tensor: name },
      );
    return [shape[0] / part.of, ...shape.slice(1)];
  }
  if (shape.length !== 5 || shape[2] !== 2) {
    throw new TimelensError(
      "ERR_CHECKPOINT_INVALID",
      `tensor "${name}": expected a Conv3D weight [out, in, 2, kh, kw], got [${shape.join(", ")}]`,
      {
        tensor: name,
      },
    );
  }
  return [shape[0], shape[1], shape[3], shape[4]];
}

/**
 * The GGUF type of one output tensor, by the official converter's rules: 1-D tensors, norms,
 * non-weights and position embeddings stay F32; the mmproj's patch embedding is F16 for f16
 * output and F32 otherwise; Q8_0 falls back to F16 for rows that are not whole blocks.
 */
export function outputType(
  gguf: string,
  ggufDims: readonly number[],
  fileType: OutType,
  target: TensorTarget,
): OutType {
  if (target === "mmproj") {
    if (gguf.includes(".patch_embd.weight")) return fileType === "F16" ? "F16" : "F32";
    if (gguf.includes(".position_embd.")) return "F32";
  }
  if (ggufDims.length <= 1 || gguf.endsWith("_norm.weight")) return "F32";
  if (!gguf.endsWith(".weight")) return "F32";
  if (fileType === "Q8_0" && ggufDims[0] % 32 !== 0) return "F16";
  return fileType;
}
