/**
 * Pure checks on parsed GGUF headers, run before llama.cpp ever sees a file. llama.cpp
 * aborts (GGML_ASSERT) or segfaults on several malformed inputs, notably an mmproj with a
 * missing vision tensor or a key of the wrong type; every such case must be rejected here
 * with a typed error instead (docs/reference.md "What llama.cpp needs of a GGUF pair").
 */
import { basename } from "node:path";
import { TimelensError, type ErrorCode } from "../errors";
import { readGguf, type GgufFile, type GgufTensorInfo } from "./reader";
import { isSkippedArray, type GgufScalarTypeName, type GgufValue } from "./types";
import { QWEN_VL_SPECIAL_TOKENS, REQUIRED_SPECIAL_TOKENS, TOKEN_TYPE } from "./specials";

export const SUPPORTED_TEXT_ARCHITECTURES = ["qwen3vl", "qwen2vl"] as const;
export const SUPPORTED_PROJECTORS = ["qwen3vl_merger", "qwen2.5vl_merger"] as const;
export type TextArchitecture = (typeof SUPPORTED_TEXT_ARCHITECTURES)[number];
export type ProjectorType = (typeof SUPPORTED_PROJECTORS)[number];

/** llama.cpp's LLAMA_MAX_LAYERS: block_count above it aborts the loader. */
const LLAMA_MAX_LAYERS = 512;

export interface TextModelFacts {
  path: string;
  architecture: TextArchitecture;
  /** general.name, else general.basename, else the file name. */
  name: string;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  nCtxTrain: number;
  /** Deepstack layers fed by the projector (qwen3vl; 0 for qwen2vl). */
  nDeepstack: number;
  /** Width the projector must deliver per token: nEmbd * (1 + nDeepstack). */
  nEmbdInput: number;
  ropeSections: number[];
  ropeFreqBase?: number;
  vocabSize: number;
  tokenizerModel: string;
  tokenizerPre?: string;
  chatTemplate?: string;
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
  addBosToken?: boolean;
  /** Chat/vision specials found by text in tokenizer.ggml.tokens: text -> id. */
  specialTokens: Record<string, number>;
  /** No `output` tensor: logits use token_embd. */
  tiedEmbeddings: boolean;
  tokenEmbdType: string;
  /** Non-fatal findings (e.g. a special token not typed CONTROL). */
  warnings: string[];
}

export interface MmprojFacts {
  path: string;
  projectorType: ProjectorType;
  /** Text architecture this projector belongs to. */
  textArchitecture: TextArchitecture;
  hasVision: true;
  patchSize: number;
  spatialMerge: number;
  /** Frames per temporal patch (patch_embd.weight and .weight.1). */
  temporalPatch: 2;
  imageSize: number;
  projectionDim: number;
  /** Vision hidden size C. */
  embeddingLength: number;
  feedForwardLength: number;
  blockCount: number;
  headCount: number;
  /** Output width of the main merger (mm.2), i.e. the text hidden size it targets. */
  outputDim: number;
  nDeepstack: number;
  /** Vision layer indexes carrying a deepstack merger. */
  deepstackLayers: number[];
  /** Width of one projected token: outputDim * (1 + nDeepstack). */
  nEmbdOutput: number;
  /** Window-attention pattern (Qwen2.5-VL). */
  nWaPattern?: number;
  activation: "gelu" | "silu" | "gelu_quick";
  imageMean: number[];
  imageStd: number[];
  warnings: string[];
}

export interface PairFacts {
  architecture: TextArchitecture;
  projectorType: ProjectorType;
  /** Per-token embedding width exchanged between projector and text model. */
  nEmbdInput: number;
}

// ---------------------------------------------------------------------------------------
// helpers

function err(code: ErrorCode, g: GgufFile, message: string, details: Record<string, unknown> = {}): TimelensError {
  return new TimelensError(code, `${g.path}: ${message}`, { path: g.path, ...details });
}

function listShort(items: readonly string[], max = 8): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} (and ${items.length - max} more)`;
}

function asNumber(v: GgufValue | undefined): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

/** Reads keys with the exact GGUF type llama.cpp requires, collecting problems. */
class Keys {
  readonly problems: string[] = [];
  constructor(readonly g: GgufFile) {}

  has(key: string): boolean {
    return key in this.g.metadataTypes;
  }

  private typeOf(key: string): string | undefined {
    const t = this.g.metadataTypes[key];
    if (!t) return undefined;
    return t.type === "array" ? `array of ${t.itemType}` : t.type;
  }

  private scalar(key: string, want: GgufScalarTypeName, required: boolean): GgufValue | undefined {
    const t = this.g.metadataTypes[key];
    if (!t) {
      if (required) this.problems.push(`missing key ${key}`);
      return undefined;
    }
    if (t.type !== want) {
      this.problems.push(`key ${key} has type ${this.typeOf(key)}, llama.cpp requires ${want}`);
      return undefined;
    }
    return this.g.metadata[key];
  }

  u32(key: string, required = true): number | undefined {
    return asNumber(this.scalar(key, "u32", required));
  }
  i32(key: string, required = true): number | undefined {
    return asNumber(this.scalar(key, "i32", required));
  }
  f32(key: string, required = true): number | undefined {
    return asNumber(this.scalar(key, "f32", required));
  }
  bool(key: string, required = true): boolean | undefined {
    const v = this.scalar(key, "bool", required);
    return typeof v === "boolean" ? v : undefined;
  }
  str(key: string, required = true): string | undefined {
    const v = this.scalar(key, "string", required);
    return typeof v === "string" ? v : undefined;
  }

  /** An array key: element type in `itemTypes`, optional exact length. Returns the items when read. */
  array(
    key: string,
    itemTypes: readonly GgufScalarTypeName[],
    required: boolean,
    length?: number,
  ): GgufValue | undefined {
    const t = this.g.metadataTypes[key];
    if (!t) {
      if (required) this.problems.push(`missing key ${key}`);
      return undefined;
    }
    if (t.type !== "array" || !itemTypes.includes(t.itemType!)) {
      this.problems.push(
        `key ${key} has type ${this.typeOf(key)}, llama.cpp requires an array of ${itemTypes.join(" or ")}`,
      );
      return undefined;
    }
    if (length !== undefined && t.length !== length) {
      this.problems.push(`key ${key} has ${t.length} elements, expected ${length}`);
      return undefined;
    }
    return this.g.metadata[key];
  }

  /** A u32 scalar, or a per-layer array of n (llama.cpp's get_key_or_arr). */
  perLayer(key: string, n: number, required: boolean): number[] | undefined {
    const t = this.g.metadataTypes[key];
    if (!t) {
      if (required) this.problems.push(`missing key ${key}`);
      return undefined;
    }
    if (t.type === "array") {
      const v = this.array(key, ["u32", "i32"], required, n);
      return Array.isArray(v) ? v.map((x) => Number(x)) : undefined;
    }
    const v = this.u32(key, required);
    return v === undefined ? undefined : new Array<number>(n).fill(v);
  }

  fail(code: ErrorCode, what: string): void {
    if (this.problems.length > 0) {
      throw err(code, this.g, `${what}: ${listShort(this.problems)}`, { problems: [...this.problems] });
    }
  }
}

function padDims(d: readonly number[]): number[] {
  const out = [...d];
  while (out.length < 4) out.push(1);
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  const x = padDims(a);
  const y = padDims(b);
  return x.every((v, i) => v === y[i]);
}

/** Tensor-set checks, collecting every missing or misshapen tensor before failing. */
class Tensors {
  readonly byName: Map<string, GgufTensorInfo>;
  readonly missing: string[] = [];
  readonly wrong: string[] = [];
  constructor(readonly g: GgufFile) {
    this.byName = new Map(g.tensors.map((t) => [t.name, t]));
  }
  get(name: string): GgufTensorInfo | undefined {
    return this.byName.get(name);
  }
  has(name: string): boolean {
    return this.byName.has(name);
  }
  /** Requires `name` with shape `dims` (ggml ne order); `types` restricts the ggml type. */
  need(name: string, dims: readonly number[], types?: readonly string[]): GgufTensorInfo | undefined {
    const t = this.byName.get(name);
    if (!t) {
      this.missing.push(name);
      return undefined;
    }
    return this.check(t, dims, types);
  }
  /** Same checks when the tensor is present; absence is fine. */
  optional(name: string, dims: readonly number[], types?: readonly string[]): GgufTensorInfo | undefined {
    const t = this.byName.get(name);
    return t ? this.check(t, dims, types) : undefined;
  }
  private check(t: GgufTensorInfo, dims: readonly number[], types?: readonly string[]): GgufTensorInfo | undefined {
    if (!sameShape(t.dims, dims)) {
      this.wrong.push(`${t.name} has shape [${t.dims.join(", ")}], expected [${dims.join(", ")}]`);
      return undefined;
    }
    if (types && !types.includes(t.type.name)) {
      this.wrong.push(`${t.name} has type ${t.type.name}, llama.cpp requires ${types.join(" or ")}`);
      return undefined;
    }
    return t;
  }
  fail(what: string): void {
    const problems: string[] = [];
    if (this.missing.length) problems.push(`missing tensors: ${listShort(this.missing)}`);
    if (this.wrong.length) problems.push(listShort(this.wrong, 4));
    if (problems.length) {
      throw err("ERR_MODEL_INVALID", this.g, `${what}: ${problems.join("; ")}`, {
        missingTensors: [...this.missing],
        wrongTensors: [...this.wrong],
      });
    }
  }
}

function archOf(g: GgufFile): string | undefined {
  const a = g.metadata["general.architecture"];
  return typeof a === "string" ? a : undefined;
}

function modelName(g: GgufFile): string {
  const n = g.metadata["general.name"] ?? g.metadata["general.basename"];
  return typeof n === "string" && n.length > 0 ? n : basename(g.path);
}

// ---------------------------------------------------------------------------------------
// text model

/** Checks a qwen3vl / qwen2vl text GGUF header and returns its facts. */
export function inspectTextModel(g: GgufFile): TextModelFacts {
  const arch = archOf(g);
  if (arch === undefined)
    throw err("ERR_MODEL_INVALID", g, "missing general.architecture (not a llama.cpp model file?)");
  if (arch === "clip") {
    throw err(
      "ERR_MODEL_UNSUPPORTED",
      g,
      "this is an mmproj file (architecture clip), pass it as mmproj, not as the model",
      { architecture: arch },
    );
  }
  if (!(SUPPORTED_TEXT_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw err(
      "ERR_MODEL_UNSUPPORTED",
      g,
      `unsupported model architecture "${arch}"; supported: ` +
        `qwen3vl (Qwen3-VL, TimeLens-8B), qwen2vl (Qwen2.5-VL, TimeLens-7B/3B)`,
      {
        architecture: arch,
        supported: [...SUPPORTED_TEXT_ARCHITECTURES],
      },
    );
  }
  const architecture = arch as TextArchitecture;
  const k = new Keys(g);
  const p = (s: string) => `${arch}.${s}`;
  const warnings: string[] = [];

  const nCtxTrain = k.u32(p("context_length"));
  const nEmbd = k.u32(p("embedding_length"));
  const nLayer = k.u32(p("block_count"));
  if (nLayer !== undefined && (nLayer < 1 || nLayer > LLAMA_MAX_LAYERS))
    k.problems.push(`${p("block_count")} = ${nLayer} is outside 1..${LLAMA_MAX_LAYERS}`);
  if (nEmbd === 0) k.problems.push(`${p("embedding_length")} is 0`);
  k.fail("ERR_MODEL_INVALID", "invalid text model header");
  const L = nLayer!;
  const E = nEmbd!;

  const heads = k.perLayer(p("attention.head_count"), L, true);
  const headsKv = k.perLayer(p("attention.head_count_kv"), L, false) ?? heads;
  const ffs = k.perLayer(p("feed_forward_length"), L, true);
  const sectionsV = k.array(p("rope.dimension_sections"), ["i32", "u32"], true, 4);
  const eps = architecture === "qwen3vl" ? k.f32(p("attention.layer_norm_rms_epsilon")) : undefined;
  const nDeepstack = architecture === "qwen3vl" ? (k.u32(p("n_deepstack_layers"), false) ?? 0) : 0;
  const keyLength = k.u32(p("attention.key_length"), false);
  const valueLength = k.u32(p("attention.value_length"), false);
  const ropeDims = k.u32(p("rope.dimension_count"), false);
  const ropeFreqBase = k.f32(p("rope.freq_base"), false);
  const ropeScaling = k.str(p("rope.scaling.type"), false);
  const tokenizerModel = k.str("tokenizer.ggml.model");
  const tokenizerPre = k.str("tokenizer.ggml.pre", false);
  const tokensV = k.array("tokenizer.ggml.tokens", ["string"], true);
  k.array("tokenizer.ggml.merges", ["string"], tokenizerModel === "gpt2");
  const tokenTypesV = k.array("tokenizer.ggml.token_type", ["i32"], false);
  const bosTokenId = k.u32("tokenizer.ggml.bos_token_id", false);
  const eosTokenId = k.u32("tokenizer.ggml.eos_token_id", false);
  const padTokenId = k.u32("tokenizer.ggml.padding_token_id", false);
  const addBosToken = k.bool("tokenizer.ggml.add_bos_token", false);
  const chatTemplate = k.str("tokenizer.chat_template", false);
  k.fail("ERR_MODEL_INVALID", "invalid text model header");

  const problems = k.problems;
  if (ropeScaling !== undefined && !["none", "linear", "yarn", "longrope"].includes(ropeScaling)) {
    problems.push(`${p("rope.scaling.type")} "${ropeScaling}" is unknown (llama.cpp aborts on it)`);
  }
  const H = heads![0];
  if (heads!.some((h) => h !== H) || headsKv!.some((h) => h !== headsKv![0]) || ffs!.some((f) => f !== ffs![0])) {
    problems.push("per-layer head counts or feed-forward sizes differ between layers (not a Qwen-VL layout)");
  }
  const KV = headsKv![0];
  const FF = ffs![0];
  if (H === 0 || KV === 0 || FF === 0) problems.push("head_count, head_count_kv and feed_forward_length must be > 0");
  if (H > 0 && KV > 0 && H % KV !== 0) problems.push(`head_count ${H} is not a multiple of head_count_kv ${KV}`);
  const D = keyLength ?? (H > 0 ? Math.floor(E / H) : 0);
  if ((valueLength ?? D) !== D) problems.push(`attention.value_length ${valueLength} differs from key_length ${D}`);
  if (ropeDims !== undefined && ropeDims !== D)
    problems.push(
      `rope.dimension_count ${ropeDims} differs from the head size ${D} (llama.cpp asserts they are equal)`,
    );
  if (architecture === "qwen2vl" && H * D !== E)
    problems.push(`head_count x head size (${H} x ${D}) must equal embedding_length ${E} for qwen2vl`);
  const ropeSections = Array.isArray(sectionsV) ? sectionsV.map((x) => Number(x)) : [];
  const sectionSum = ropeSections.reduce((a, b) => a + b, 0);
  if (ropeSections.some((s) => s < 0) || sectionSum > D / 2 || sectionSum === 0) {
    problems.push(
      `rope.dimension_sections [${ropeSections.join(", ")}] must be non-negative ` +
        `with 0 < sum <= head size / 2 (${D / 2})`,
    );
  }
  if (architecture === "qwen3vl" && nDeepstack >= L) {
    problems.push(
      `n_deepstack_layers ${nDeepstack} must be smaller than block_count ${L} ` +
        `(llama.cpp aborts in the graph otherwise)`,
    );
  }
  if (eps !== undefined && !(eps > 0)) problems.push(`attention.layer_norm_rms_epsilon ${eps} must be > 0`);
  if (nCtxTrain === 0) problems.push("context_length is 0");

  // vocabulary
  const vocabSize = g.metadataTypes["tokenizer.ggml.tokens"]?.length ?? 0;
  if (vocabSize === 0) problems.push("tokenizer.ggml.tokens is empty");
  const tt = g.metadataTypes["tokenizer.ggml.token_type"];
  if (tt && tt.length! < vocabSize)
    problems.push(`tokenizer.ggml.token_type has ${tt.length} entries for ${vocabSize} tokens`);
  for (const [key, id] of [
    ["bos", bosTokenId],
    ["eos", eosTokenId],
    ["padding", padTokenId],
  ] as const) {
    if (id !== undefined && id >= vocabSize)
      problems.push(`tokenizer.ggml.${key}_token_id ${id} is outside the vocabulary (${vocabSize})`);
  }
  if (tokenizerModel !== "gpt2") warnings.push(`tokenizer.ggml.model is "${tokenizerModel}", Qwen models use "gpt2"`);
  if (problems.length)
    throw err("ERR_MODEL_INVALID", g, `invalid text model header: ${listShort(problems)}`, { problems: [...problems] });

  const specialTokens: Record<string, number> = {};
  if (Array.isArray(tokensV)) {
    const wanted = new Set(QWEN_VL_SPECIAL_TOKENS.map((s) => s.text));
    const tokens = tokensV as string[];
    const types = Array.isArray(tokenTypesV) ? (tokenTypesV as number[]) : undefined;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.length > 2 && wanted.has(t) && !(t in specialTokens)) {
        specialTokens[t] = i;
        if (types && types[i] !== TOKEN_TYPE.CONTROL && types[i] !== TOKEN_TYPE.USER_DEFINED) {
          warnings.push(
            `special token ${t} (id ${i}) has token type ${types[i]}, not CONTROL; ` +
              `llama.cpp will not treat it as special`,
          );
        }
      }
    }
    if (!types) warnings.push("no tokenizer.ggml.token_type: special tokens are not marked CONTROL");
    const absent = REQUIRED_SPECIAL_TOKENS.filter((s) => !(s in specialTokens));
    if (absent.length)
      throw err("ERR_MODEL_INVALID", g, `the vocabulary lacks the Qwen-VL special tokens ${absent.join(", ")}`, {
        missingTokens: absent,
      });
  } else if (isSkippedArray(tokensV)) {
    warnings.push("tokenizer.ggml.tokens was not read (skipLargeArrays): special tokens unknown");
  }

  // tensors
  const ts = new Tensors(g);
  const V = vocabSize;
  const embd = ts.need("token_embd.weight", [E, V]);
  ts.need("output_norm.weight", [E]);
  const output = ts.optional("output.weight", [E, V]);
  for (let i = 0; i < L; i++) {
    const b = `blk.${i}`;
    ts.need(`${b}.attn_norm.weight`, [E]);
    if (ts.has(`${b}.attn_qkv.weight`)) {
      ts.need(`${b}.attn_qkv.weight`, [E, (H + 2 * KV) * D]);
      ts.optional(`${b}.attn_qkv.bias`, [(H + 2 * KV) * D]);
    } else {
      ts.need(`${b}.attn_q.weight`, [E, H * D]);
      ts.need(`${b}.attn_k.weight`, [E, KV * D]);
      ts.need(`${b}.attn_v.weight`, [E, KV * D]);
    }
    ts.optional(`${b}.attn_q.bias`, [H * D]);
    ts.optional(`${b}.attn_k.bias`, [KV * D]);
    ts.optional(`${b}.attn_v.bias`, [KV * D]);
    ts.need(`${b}.attn_output.weight`, [H * D, E]);
    if (architecture === "qwen3vl") {
      ts.need(`${b}.attn_q_norm.weight`, [D]);
      ts.need(`${b}.attn_k_norm.weight`, [D]);
    }
    ts.need(`${b}.ffn_norm.weight`, [E]);
    ts.need(`${b}.ffn_gate.weight`, [E, FF]);
    ts.need(`${b}.ffn_up.weight`, [E, FF]);
    ts.need(`${b}.ffn_down.weight`, [FF, E]);
  }
  ts.fail("invalid text model");
  if (!ts.has("output.weight") && !embd) throw err("ERR_MODEL_INVALID", g, "no output or token_embd tensor");

  return {
    path: g.path,
    architecture,
    name: modelName(g),
    nEmbd: E,
    nLayer: L,
    nHead: H,
    nHeadKv: KV,
    headDim: D,
    nFf: FF,
    nCtxTrain: nCtxTrain!,
    nDeepstack,
    nEmbdInput: E * (1 + nDeepstack),
    ropeSections,
    ropeFreqBase,
    vocabSize: V,
    tokenizerModel: tokenizerModel!,
    tokenizerPre,
    chatTemplate,
    bosTokenId,
    eosTokenId,
    padTokenId,
    addBosToken,
    specialTokens,
    tiedEmbeddings: !output,
    tokenEmbdType: embd ? embd.type.name : "?",
    warnings,
  };
}

// ---------------------------------------------------------------------------------------
// mmproj

/** Keys clip.cpp reads with a type assertion (a wrong type aborts the process). */
const CLIP_KEY_TYPES: Readonly<Record<string, GgufScalarTypeName>> = {
  "general.name": "string",
  "general.description": "string",
  "clip.projector_type": "string",
  "clip.vision.projector_type": "string",
  "clip.vision.mm_patch_merge_type": "string",
  "clip.has_vision_encoder": "bool",
  "clip.has_audio_encoder": "bool",
  "clip.has_gen_audio_encoder": "bool",
  "clip.use_gelu": "bool",
  "clip.use_silu": "bool",
  "clip.vision.embedding_length": "u32",
  "clip.vision.attention.head_count": "u32",
  "clip.vision.attention.head_dim": "u32",
  "clip.vision.feed_forward_length": "u32",
  "clip.vision.block_count": "u32",
  "clip.vision.projection_dim": "u32",
  "clip.vision.attention.head_count_kv": "u32",
  "clip.vision.image_size": "u32",
  "clip.vision.patch_size": "u32",
  "clip.vision.spatial_merge_size": "u32",
  "clip.vision.n_wa_pattern": "u32",
  "clip.minicpmv_query_num": "u32",
  "clip.minicpmv_version": "i32",
  "clip.vision.attention.layer_norm_epsilon": "f32",
};

const PATCH_TYPES = ["F32", "F16"];

/** Checks a Qwen-VL mmproj (clip) GGUF header and returns its facts. */
export function inspectMmproj(g: GgufFile): MmprojFacts {
  const arch = archOf(g);
  if (arch !== "clip") {
    const hint =
      arch && (SUPPORTED_TEXT_ARCHITECTURES as readonly string[]).includes(arch)
        ? `this is a text model (architecture ${arch}), pass it as the model, not as mmproj`
        : `not an mmproj file: general.architecture is ${arch === undefined ? "missing" : `"${arch}"`}, ` +
          `expected "clip"`;
    throw err("ERR_MODEL_INVALID", g, hint, { architecture: arch });
  }
  const k = new Keys(g);
  for (const [key, type] of Object.entries(CLIP_KEY_TYPES)) {
    if (!k.has(key)) continue;
    if (type === "string") k.str(key, false);
    else if (type === "bool") k.bool(key, false);
    else if (type === "f32") k.f32(key, false);
    else if (type === "i32") k.i32(key, false);
    else k.u32(key, false);
  }
  k.fail("ERR_MODEL_INVALID", "invalid mmproj header (llama.cpp would abort on these key types)");

  if (g.metadata["clip.has_vision_encoder"] !== true) {
    throw new TimelensError(
      "ERR_NO_VISION",
      `${g.path}: this mmproj has no vision encoder (clip.has_vision_encoder is not true); ` +
        `a Qwen-VL vision projector is required`,
      {
        path: g.path,
        hasAudio: g.metadata["clip.has_audio_encoder"] === true,
      },
    );
  }
  const projRaw = (g.metadata["clip.projector_type"] ?? g.metadata["clip.vision.projector_type"]) as string | undefined;
  if (projRaw === undefined || !(SUPPORTED_PROJECTORS as readonly string[]).includes(projRaw)) {
    throw err(
      "ERR_MODEL_UNSUPPORTED",
      g,
      `unsupported projector type ${projRaw === undefined ? "(none)" : `"${projRaw}"`}; ` +
        `supported: ${SUPPORTED_PROJECTORS.join(", ")}`,
      {
        projectorType: projRaw,
        supported: [...SUPPORTED_PROJECTORS],
      },
    );
  }
  const projectorType = projRaw as ProjectorType;
  const isQ3 = projectorType === "qwen3vl_merger";
  const v = (s: string) => `clip.vision.${s}`;

  const C = k.u32(v("embedding_length"));
  const FF = k.u32(v("feed_forward_length"));
  const L = k.u32(v("block_count"));
  const H = k.u32(v("attention.head_count"));
  const projectionDim = k.u32(v("projection_dim"));
  const imageSize = k.u32(v("image_size"));
  const P = k.u32(v("patch_size"));
  k.f32(v("attention.layer_norm_epsilon"));
  const merge = k.u32(v("spatial_merge_size"), false) ?? 2;
  const nWa = k.u32(v("n_wa_pattern"), !isQ3);
  const meanV = k.array(v("image_mean"), ["f32"], true, 3);
  const stdV = k.array(v("image_std"), ["f32"], true, 3);
  k.fail("ERR_MODEL_INVALID", "invalid mmproj header");

  const problems = k.problems;
  const warnings: string[] = [];
  if (C === 0 || H === 0 || L === 0 || FF === 0)
    problems.push("vision embedding_length, head_count, block_count and feed_forward_length must be > 0");
  else {
    if (C! % H! !== 0) problems.push(`vision embedding_length ${C} is not a multiple of head_count ${H}`);
    else if ((C! / H!) % 2 !== 0) problems.push(`vision head size ${C! / H!} must be even (M-RoPE)`);
  }
  if (P === 0 || P! >= 65536) problems.push(`patch_size ${P} must be in 1..65535`);
  if (imageSize! > 8192) problems.push(`image_size ${imageSize} exceeds llama.cpp's limit 8192`);
  if (merge !== 2) problems.push(`spatial_merge_size ${merge}: the Qwen-VL graph in llama.cpp only handles 2`);
  if (!isQ3 && nWa === 0) warnings.push("n_wa_pattern is 0: window attention disabled");
  const gelu = g.metadata["clip.use_gelu"] === true;
  const silu = g.metadata["clip.use_silu"] === true;
  if (gelu && silu) problems.push("both clip.use_gelu and clip.use_silu are set");
  const activation = gelu ? "gelu" : silu ? "silu" : "gelu_quick";
  if (isQ3 && activation !== "gelu")
    warnings.push(`Qwen3-VL's vision MLP uses gelu; clip.use_gelu is not set, so llama.cpp uses ${activation}`);
  if (!isQ3 && activation !== "silu")
    warnings.push(`Qwen2.5-VL's vision MLP uses silu; clip.use_silu is not set, so llama.cpp uses ${activation}`);
  if (problems.length)
    throw err("ERR_MODEL_INVALID", g, `invalid mmproj header: ${listShort(problems)}`, { problems: [...problems] });

  // tensors
  const ts = new Tensors(g);
  const c = C!;
  const ff = FF!;
  const c4 = 4 * c;
  ts.need("v.patch_embd.weight", [P!, P!, 3, c], PATCH_TYPES);
  ts.need("v.patch_embd.weight.1", [P!, P!, 3, c], PATCH_TYPES);
  if (ts.has("v.class_embd")) problems.push("v.class_embd is present (llama.cpp's Qwen-VL graph asserts it is absent)");
  if (isQ3) {
    ts.need("v.patch_embd.bias", [c]);
    const pos = ts.get("v.position_embd.weight");
    if (!pos) ts.missing.push("v.position_embd.weight");
    else {
      const side = Math.round(Math.sqrt(pos.dims[1] ?? 0));
      if (pos.dims[0] !== c || side * side !== pos.dims[1] || side === 0) {
        ts.wrong.push(
          `v.position_embd.weight has shape [${pos.dims.join(", ")}], expected [${c}, G*G] for a square grid G`,
        );
      } else if (pos.type.name !== "F32") {
        ts.wrong.push(
          `v.position_embd.weight has type ${pos.type.name}, llama.cpp requires F32 ` +
            `(it aborts in ggml_interpolate otherwise)`,
        );
      }
    }
  } else if (ts.has("v.patch_embd.bias")) {
    problems.push("v.patch_embd.bias is present (llama.cpp's Qwen2.5-VL graph asserts there is no patch bias)");
  }
  if (!isQ3 && ff === c)
    problems.push(
      `vision feed_forward_length equals embedding_length (${c}): llama.cpp's legacy check would swap ffn_up/ffn_down`,
    );

  const deepstackLayers: number[] = [];
  let outputDim = 0;
  const mm2 = ts.get("mm.2.weight");
  if (mm2) outputDim = mm2.dims[1] ?? 0;
  for (let i = 0; i < L!; i++) {
    const b = `v.blk.${i}`;
    if (isQ3) {
      ts.need(`${b}.attn_qkv.weight`, [c, 3 * c]);
      ts.need(`${b}.attn_qkv.bias`, [3 * c]);
      ts.need(`${b}.ln1.weight`, [c]);
      ts.need(`${b}.ln1.bias`, [c]);
      ts.need(`${b}.ln2.weight`, [c]);
      ts.need(`${b}.ln2.bias`, [c]);
      ts.optional(`${b}.ffn_gate.weight`, [c, ff]);
    } else {
      for (const q of ["attn_q", "attn_k", "attn_v"]) {
        ts.need(`${b}.${q}.weight`, [c, c]);
        ts.need(`${b}.${q}.bias`, [c]);
      }
      ts.need(`${b}.ln1.weight`, [c]);
      ts.need(`${b}.ln2.weight`, [c]);
      ts.optional(`${b}.ln1.bias`, [c]);
      ts.optional(`${b}.ln2.bias`, [c]);
      ts.need(`${b}.ffn_gate.weight`, [c, ff]);
      ts.need(`${b}.ffn_gate.bias`, [ff]);
    }
    ts.need(`${b}.attn_out.weight`, [c, c]);
    ts.need(`${b}.attn_out.bias`, [c]);
    ts.need(`${b}.ffn_up.weight`, [c, ff]);
    ts.need(`${b}.ffn_up.bias`, [ff]);
    ts.need(`${b}.ffn_down.weight`, [ff, c]);
    ts.need(`${b}.ffn_down.bias`, [c]);

    const d = `v.deepstack.${i}`;
    const dsNames = [
      `${d}.norm.weight`,
      `${d}.norm.bias`,
      `${d}.fc1.weight`,
      `${d}.fc1.bias`,
      `${d}.fc2.weight`,
      `${d}.fc2.bias`,
    ];
    if (ts.has(`${d}.fc1.weight`)) {
      if (!isQ3) problems.push(`deepstack tensors (${d}.*) in a ${projectorType} projector`);
      deepstackLayers.push(i);
      const fc1 = ts.need(`${d}.fc1.weight`, [c4, ts.get(`${d}.fc1.weight`)!.dims[1] ?? 0]);
      const hidden = fc1 ? fc1.dims[1] : c4;
      ts.need(`${d}.norm.weight`, [c4]);
      ts.need(`${d}.norm.bias`, [c4]);
      ts.need(`${d}.fc1.bias`, [hidden]);
      ts.need(`${d}.fc2.weight`, [hidden, outputDim]);
      ts.need(`${d}.fc2.bias`, [outputDim]);
    } else {
      const stray = dsNames.filter((n) => ts.has(n));
      if (stray.length) problems.push(`deepstack layer ${i} has ${stray.join(", ")} but no ${d}.fc1.weight`);
    }
  }
  for (const name of ts.byName.keys()) {
    const m = /^v\.deepstack\.(\d+)\./.exec(name);
    if (m && Number(m[1]) >= L!) problems.push(`${name} refers to vision layer ${m[1]} but block_count is ${L}`);
  }
  ts.need("v.post_ln.weight", [c]);
  if (isQ3) ts.need("v.post_ln.bias", [c]);
  else ts.optional("v.post_ln.bias", [c]);
  const mm0 = ts.need("mm.0.weight", [c4, ts.get("mm.0.weight")?.dims[1] ?? 0]);
  const mmHidden = mm0 ? mm0.dims[1] : c4;
  ts.need("mm.0.bias", [mmHidden]);
  ts.need("mm.2.weight", [mmHidden, outputDim]);
  ts.need("mm.2.bias", [outputDim]);
  ts.fail(`invalid ${projectorType} mmproj`);
  if (outputDim === 0) problems.push("mm.2.weight has no output dimension");
  if (!isQ3 && projectionDim !== outputDim) {
    problems.push(
      `clip.vision.projection_dim ${projectionDim} differs from the merger output ${outputDim} ` +
        `(the window-attention reorder in llama.cpp uses projection_dim)`,
    );
  } else if (isQ3 && projectionDim !== outputDim) {
    warnings.push(`clip.vision.projection_dim ${projectionDim} differs from the merger output ${outputDim}`);
  }
  if (problems.length)
    throw err("ERR_MODEL_INVALID", g, `invalid ${projectorType} mmproj: ${listShort(problems)}`, {
      problems: [...problems],
    });

  const nDeepstack = deepstackLayers.length;
  return {
    path: g.path,
    projectorType,
    textArchitecture: isQ3 ? "qwen3vl" : "qwen2vl",
    hasVision: true,
    patchSize: P!,
    spatialMerge: merge,
    temporalPatch: 2,
    imageSize: imageSize!,
    projectionDim: projectionDim!,
    embeddingLength: c,
    feedForwardLength: ff,
    blockCount: L!,
    headCount: H!,
    outputDim,
    nDeepstack,
    deepstackLayers,
    nEmbdOutput: outputDim * (1 + nDeepstack),
    nWaPattern: nWa,
    activation,
    imageMean: (meanV as number[]).map(Number),
    imageStd: (stdV as number[]).map(Number),
    warnings,
  };
}

// ---------------------------------------------------------------------------------------
// pair

/** Checks that a projector feeds the text model it is paired with. */
export function checkPair(text: TextModelFacts, mmproj: MmprojFacts): PairFacts {
  const details = {
    model: text.path,
    mmproj: mmproj.path,
    architecture: text.architecture,
    projectorType: mmproj.projectorType,
    textEmbd: text.nEmbd,
    textDeepstack: text.nDeepstack,
    textInput: text.nEmbdInput,
    mmprojOutputDim: mmproj.outputDim,
    mmprojDeepstack: mmproj.nDeepstack,
    mmprojOutput: mmproj.nEmbdOutput,
  };
  if (mmproj.textArchitecture !== text.architecture) {
    throw new TimelensError(
      "ERR_MMPROJ_MISMATCH",
      `The mmproj projector "${mmproj.projectorType}" (${mmproj.path}) belongs to ${mmproj.textArchitecture} models, ` +
        `but the model ${text.path} is ${text.architecture}; ` +
        `use the mmproj released with this model.`,
      details,
    );
  }
  if (
    mmproj.nEmbdOutput !== text.nEmbdInput ||
    mmproj.outputDim !== text.nEmbd ||
    mmproj.nDeepstack !== text.nDeepstack
  ) {
    throw new TimelensError(
      "ERR_MMPROJ_MISMATCH",
      `The mmproj does not fit the model: it outputs ${mmproj.nEmbdOutput} values per token ` +
        `(${mmproj.outputDim} x (1 + ${mmproj.nDeepstack} deepstack)), ` +
        `the model expects ${text.nEmbdInput} (${text.nEmbd} x (1 + ${text.nDeepstack} deepstack)). ` +
        `Use the mmproj released with this model (${text.name}).`,
      details,
    );
  }
  return { architecture: text.architecture, projectorType: mmproj.projectorType, nEmbdInput: text.nEmbdInput };
}

export interface ModelPairInfo {
  text: TextModelFacts;
  mmproj: MmprojFacts;
  pair: PairFacts;
  fileSizes: { model: number; mmproj: number };
}

/** Header arrays the checks need in full; the rest (merges, ...) are skipped. */
const KEEP_ARRAYS = [
  "tokenizer.ggml.tokens",
  "tokenizer.ggml.token_type",
  "clip.vision.image_mean",
  "clip.vision.image_std",
];

/** Reads both headers, checks each and the pair. Never reads tensor data. */
export async function inspectModelPair(modelPath: string, mmprojPath: string): Promise<ModelPairInfo> {
  const opts = { skipLargeArrays: true, keepArrays: KEEP_ARRAYS };
  const [model, mmproj] = await Promise.all([readGguf(modelPath, opts), readGguf(mmprojPath, opts)]);
  const ma = archOf(model);
  const pa = archOf(mmproj);
  if (ma === "clip" && pa !== undefined && (SUPPORTED_TEXT_ARCHITECTURES as readonly string[]).includes(pa)) {
    throw new TimelensError(
      "ERR_MODEL_INVALID",
      `The model and mmproj paths look swapped: ${modelPath} is an mmproj (clip) ` +
        `and ${mmprojPath} is a ${pa} text model.`,
      {
        model: modelPath,
        mmproj: mmprojPath,
      },
    );
  }
  const text = inspectTextModel(model);
  const proj = inspectMmproj(mmproj);
  const pair = checkPair(text, proj);
  return { text, mmproj: proj, pair, fileSizes: { model: model.fileSize, mmproj: mmproj.fileSize } };
}
