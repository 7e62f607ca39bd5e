/**
 * Pure: the GGUF metadata of the text model and of the mmproj, from config.json, the
 * preprocessor config and generation_config.json, with the official converter's keys, value
 * types and fallbacks (docs/models.md, "Metadata").
 */
import { TimelensError } from "../errors";
import { type GgufMetadataInput, gguf } from "../gguf/writer";
import type { OutType } from "./encode";
import type { CheckpointFamily } from "./types";

type Json = Record<string, unknown>;

/** llama.cpp's file type ids (general.file_type). */
export const FILE_TYPE: Record<OutType, number> = { F32: 0, F16: 1, Q8_0: 7, BF16: 32 };

function missing(file: string, keys: readonly string[]): TimelensError {
  return new TimelensError("ERR_CHECKPOINT_INVALID", `${file} has none of ${keys.join(", ")}`, { file, keys });
}

function find(obj: Json, keys: readonly string[], file: string): unknown {
  for (const k of keys) if (k in obj && obj[k] !== undefined && obj[k] !== null) return obj[k];
  throw missing(file, keys);
}

function findOptional(obj: Json, keys: readonly string[]): unknown {
  for (const k of keys) if (k in obj && obj[k] !== undefined && obj[k] !== null) return obj[k];
  return undefined;
}

function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new TimelensError(
      "ERR_CHECKPOINT_INVALID",
      `config.json: ${what} is ${JSON.stringify(v)}, not a non-negative integer`,
      {
        file: "config.json",
        key: what,
      },
    );
  }
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new TimelensError("ERR_CHECKPOINT_INVALID", `config.json: ${what} is not a number`, {
      file: "config.json",
      key: what,
    });
  return v;
}

/** The text hyperparameters: config.json with text_config merged over the top level. */
export function textHparams(config: Json): Json {
  const text = config.text_config;
  return text && typeof text === "object" ? { ...config, ...(text as Json) } : { ...config };
}

/** Python's "{:.Nf}" for the size label; ties are rare enough that toFixed agrees. */
function roundedCount(n: number): string {
  const [scaled, suffix] =
    n > 1e12 ? [n * 1e-12, "T"] : n > 1e9 ? [n * 1e-9, "B"] : n > 1e6 ? [n * 1e-6, "M"] : [n * 1e-3, "K"];
  const digits = String(Math.round(scaled)).replace(/^0+/, "").length;
  return `${scaled.toFixed(Math.max(2 - digits, 0))}${suffix}`;
}

/** general.sampling.* from generation_config.json. */
function samplingKeys(gen: Json | null): Record<string, GgufMetadataInput> {
  const md: Record<string, GgufMetadataInput> = {};
  if (!gen) return md;
  const f32 = (key: string, v: unknown) => {
    if (typeof v === "number") md[`general.sampling.${key}`] = gguf.f32(v);
  };
  const i32 = (key: string, v: unknown) => {
    if (typeof v === "number") md[`general.sampling.${key}`] = gguf.i32(v);
  };
  if (typeof gen.sequence === "string") md["general.sampling.sequence"] = gen.sequence;
  i32("top_k", gen.top_k);
  f32("top_p", gen.top_p);
  f32("min_p", gen.min_p);
  f32("xtc_probability", gen.xtc_probability);
  f32("xtc_threshold", gen.xtc_threshold);
  f32("temp", gen.temperature);
  i32("penalty_last_n", gen.penalty_last_n);
  f32("penalty_repeat", gen.penalty_repeat ?? gen.repetition_penalty);
  i32("mirostat", gen.mirostat);
  f32("mirostat_tau", gen.mirostat_tau);
  f32("mirostat_eta", gen.mirostat_eta);
  return md;
}

/** The general.* keys every file starts with. */
export function generalKeys(
  arch: string,
  type: "model" | "mmproj",
  name: string,
  totalParams: number,
  gen: Json | null,
): Record<string, GgufMetadataInput> {
  return {
    "general.architecture": arch,
    "general.type": type,
    ...samplingKeys(gen),
    "general.name": name,
    ...(totalParams > 0 ? { "general.size_label": roundedCount(totalParams) } : {}),
  };
}

export const TEXT_ARCH: Record<CheckpointFamily, string> = { qwen3vl: "qwen3vl", "qwen2.5vl": "qwen2vl" };

/** Architecture keys of the text GGUF (between general.* and tokenizer.*). */
export function textModelKeys(
  family: CheckpointFamily,
  config: Json,
  fileType: OutType,
): Record<string, GgufMetadataInput> {
  const h = textHparams(config);
  const a = TEXT_ARCH[family];
  const md: Record<string, GgufMetadataInput> = {};
  md[`${a}.block_count`] = gguf.u32(
    int(find(h, ["n_layers", "num_hidden_layers", "n_layer", "num_layers"], "config.json"), "num_hidden_layers"),
  );
  const u32 = (key: string, keys: string[]) => {
    const v = findOptional(h, keys);
    if (v !== undefined) md[`${a}.${key}`] = gguf.u32(int(v, keys[0]));
  };
  u32("context_length", [
    "max_position_embeddings",
    "n_ctx",
    "n_positions",
    "max_length",
    "max_sequence_length",
    "model_max_length",
  ]);
  u32("embedding_length", ["hidden_size", "n_embd", "dim"]);
  u32("feed_forward_length", [
    "prefix_dense_intermediate_size",
    "dense_intermediate_size",
    "intermediate_size",
    "n_inner",
    "hidden_dim",
  ]);
  u32("attention.head_count", ["num_attention_heads", "n_head", "n_heads"]);
  u32("attention.head_count_kv", ["num_key_value_heads", "n_kv_heads"]);
  if (h.is_causal === false) md[`${a}.attention.causal`] = false;
  const rope = ((h.rope_parameters ?? h.rope_scaling) as Json | undefined) ?? {};
  const sections = rope.mrope_section;
  if (Array.isArray(sections)) {
    const s = sections.map((v, i) => int(v, `rope_scaling.mrope_section[${i}]`));
    while (s.length < 4) s.push(0);
    md[`${a}.rope.dimension_sections`] = gguf.arr("i32", s.slice(0, 4));
  }
  const ropeType = rope.rope_type ?? rope.type;
  if (ropeType === "linear" || ropeType === "yarn" || ropeType === "su" || ropeType === "longrope") {
    throw new TimelensError(
      "ERR_CHECKPOINT_UNSUPPORTED",
      `config.json: rope scaling "${String(ropeType)}" is not used by TimeLens models and not supported`,
      {
        file: "config.json",
      },
    );
  }
  const theta =
    rope.rope_theta ??
    findOptional(h, ["global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"]);
  if (theta !== undefined) md[`${a}.rope.freq_base`] = gguf.f32(num(theta, "rope_theta"));
  const rms = findOptional(h, ["rms_norm_eps", "norm_eps"]);
  if (rms !== undefined) md[`${a}.attention.layer_norm_rms_epsilon`] = gguf.f32(num(rms, "rms_norm_eps"));
  const ln = findOptional(h, ["layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"]);
  if (ln !== undefined) md[`${a}.attention.layer_norm_epsilon`] = gguf.f32(num(ln, "layer_norm_eps"));
  if (h.head_dim !== undefined && h.head_dim !== null) {
    md[`${a}.attention.key_length`] = gguf.u32(int(h.head_dim, "head_dim"));
    md[`${a}.attention.value_length`] = gguf.u32(int(h.head_dim, "head_dim"));
  }
  md["general.file_type"] = gguf.u32(FILE_TYPE[fileType]);
  if (family === "qwen3vl") {
    const vision = (config.vision_config as Json | undefined) ?? {};
    const ds = Array.isArray(vision.deepstack_visual_indexes) ? vision.deepstack_visual_indexes.length : 0;
    md["qwen3vl.n_deepstack_layers"] = gguf.u32(ds);
  }
  return md;
}

/** Vision config with the official converter's renames applied. */
export function visionHparams(family: CheckpointFamily, config: Json): Json {
  const v = config.vision_config;
  if (!v || typeof v !== "object") throw missing("config.json", ["vision_config"]);
  const h: Json = { ...(v as Json) };
  if (family === "qwen3vl") {
    if (!("image_size" in h)) {
      const pos = typeof h.num_position_embeddings === "number" ? h.num_position_embeddings : 2304;
      const patch = typeof h.patch_size === "number" ? h.patch_size : 16;
      h.image_size = Math.trunc(Math.sqrt(pos) * patch);
    }
  } else {
    h.image_size ??= 560;
  }
  h.num_attention_heads = h.num_heads;
  h.num_hidden_layers = h.depth;
  return h;
}

export function deepstackIndexes(family: CheckpointFamily, config: Json): number[] {
  if (family !== "qwen3vl") return [];
  const v = (config.vision_config as Json | undefined)?.deepstack_visual_indexes;
  return Array.isArray(v) ? v.map((x, i) => int(x, `vision_config.deepstack_visual_indexes[${i}]`)) : [];
}

/** Clip keys of the mmproj GGUF. */
export function mmprojKeys(
  family: CheckpointFamily,
  config: Json,
  preprocessor: Json,
  fileType: OutType,
): Record<string, GgufMetadataInput> {
  const v = visionHparams(family, config);
  const text = textHparams(config);
  const nEmbdText = text.hidden_size ?? text.n_embd;
  if (typeof nEmbdText !== "number" || nEmbdText <= 0) throw missing("config.json", ["hidden_size"]);
  const blockKeys = [
    "n_layers",
    "num_hidden_layers",
    "n_layer",
    "num_layers",
    "depth",
    "layers",
    "encoder_layers",
    "vt_num_hidden_layers",
  ];
  const mean = preprocessor.image_mean;
  const std = preprocessor.image_std;
  const floats = (x: unknown, what: string) => {
    if (!Array.isArray(x) || x.length === 0 || x.some((e) => typeof e !== "number")) {
      throw new TimelensError(
        "ERR_CHECKPOINT_INVALID",
        `preprocessor_config.json: ${what} is missing or not a list of numbers`,
        {
          file: "preprocessor_config.json",
          key: what,
        },
      );
    }
    return gguf.arr("f32", x as number[]);
  };
  const md: Record<string, GgufMetadataInput> = {
    "general.file_type": gguf.u32(FILE_TYPE[fileType]),
    "clip.has_vision_encoder": true,
    "clip.vision.projection_dim": gguf.u32(int(nEmbdText, "hidden_size")),
    "clip.vision.image_size": gguf.u32(int(v.image_size, "vision_config.image_size")),
    "clip.vision.patch_size": gguf.u32(int(find(v, ["patch_size"], "config.json"), "vision_config.patch_size")),
    "clip.vision.embedding_length": gguf.u32(
      int(find(v, ["hidden_size", "width", "vt_hidden_size"], "config.json"), "vision_config.hidden_size"),
    ),
    "clip.vision.feed_forward_length": gguf.u32(
      int(find(v, ["intermediate_size", "vt_intermediate_size"], "config.json"), "vision_config.intermediate_size"),
    ),
    "clip.vision.block_count": gguf.u32(int(find(v, blockKeys, "config.json"), "vision_config.depth")),
    "clip.vision.attention.head_count": gguf.u32(
      int(
        find(v, ["num_attention_heads", "num_heads", "heads", "vt_num_attention_heads"], "config.json"),
        "vision_config.num_heads",
      ),
    ),
    "clip.vision.image_mean": floats(mean, "image_mean"),
    "clip.vision.image_std": floats(std, "image_std"),
  };
  if (family === "qwen3vl") {
    md["clip.projector_type"] = "qwen3vl_merger";
    md["clip.use_gelu"] = true;
    if (v.spatial_merge_size !== undefined)
      md["clip.vision.spatial_merge_size"] = gguf.u32(int(v.spatial_merge_size, "vision_config.spatial_merge_size"));
    const eps = ((config.text_config as Json | undefined)?.rms_norm_eps as number | undefined) ?? 1e-6;
    md["clip.vision.attention.layer_norm_epsilon"] = gguf.f32(num(eps, "text_config.rms_norm_eps"));
    const depth = int(v.num_hidden_layers ?? 0, "vision_config.depth");
    const flags = new Array<boolean>(depth).fill(false);
    for (const i of deepstackIndexes(family, config)) {
      if (i >= depth)
        throw new TimelensError(
          "ERR_CHECKPOINT_INVALID",
          `config.json: deepstack index ${i} is past the ${depth} vision layers`,
          { file: "config.json" },
        );
      flags[i] = true;
    }
    if (depth > 0) md["clip.vision.is_deepstack_layers"] = gguf.arr("bool", flags);
  } else {
    md["clip.projector_type"] = "qwen2.5vl_merger";
    md["clip.use_silu"] = true;
    const full = v.fullatt_block_indexes;
    if (!Array.isArray(full) || full.length === 0)
      throw missing("config.json", ["vision_config.fullatt_block_indexes"]);
    const pattern = int(full[0], "fullatt_block_indexes[0]") + 1;
    for (let i = 1; i < full.length; i++) {
      if (full[i] - full[i - 1] !== pattern)
        throw new TimelensError(
          "ERR_CHECKPOINT_INVALID",
          `config.json: fullatt_block_indexes ${JSON.stringify(full)} are not evenly spaced`,
          {
            file: "config.json",
          },
        );
    }
    md["clip.vision.n_wa_pattern"] = gguf.u32(pattern);
    md["clip.vision.attention.layer_norm_epsilon"] = gguf.f32(num(config.rms_norm_eps ?? 1e-6, "rms_norm_eps"));
  }
  return md;
}
