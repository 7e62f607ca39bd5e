/**
 * Tokenizer metadata from tokenizer.json / tokenizer_config.json / config.json, as llama.cpp's
 * converter writes it for byte-level BPE models (docs/models.md, "Tokenizer").
 */
import { TimelensError } from "../errors";
import { TOKEN_TYPE } from "../gguf/specials";
import { type GgufMetadataInput, gguf } from "../gguf/writer";

type Json = Record<string, unknown>;

/** Qwen2's pre-tokenizer split pattern; llama.cpp names this pre-tokenizer "qwen2". */
const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const SPECIAL_TYPES = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"] as const;
const SPECIAL_KEY: Record<(typeof SPECIAL_TYPES)[number], string> = {
  bos: "bos_token_id",
  eos: "eos_token_id",
  unk: "unknown_token_id",
  sep: "seperator_token_id",
  pad: "padding_token_id",
  cls: "cls_token_id",
  mask: "mask_token_id",
};

export interface TokenizerFiles {
  tokenizer: Json;
  tokenizerConfig: Json | null;
  config: Json;
  /** chat_template.jinja text, or chat_template.json's template, when present. */
  chatTemplateFile: string | null;
}

function unsupported(message: string, details: Record<string, unknown> = {}): TimelensError {
  return new TimelensError("ERR_CHECKPOINT_UNSUPPORTED", `tokenizer.json: ${message}`, {
    file: "tokenizer.json",
    ...details,
  });
}

function isPlainByteLevel(d: unknown): boolean {
  const o = d as Json | null;
  return !!o && o.type === "ByteLevel" && !o.add_prefix_space && o.use_regex === false;
}

/**
 * The pre-tokenizer name. llama.cpp's converter hashes a tokenization of a probe text; we
 * recognise the same tokenizer by its structure instead, which needs no BPE implementation.
 */
export function preTokenizerName(tokenizer: Json): string {
  const pre = tokenizer.pre_tokenizer as Json | undefined;
  const steps = pre?.type === "Sequence" ? (pre.pretokenizers as Json[]) : [pre];
  const split = steps?.[0] as Json | undefined;
  const pattern = (split?.pattern as Json | undefined)?.Regex;
  if (
    steps?.length === 2 &&
    split?.type === "Split" &&
    split.behavior === "Isolated" &&
    !split.invert &&
    pattern === QWEN2_SPLIT &&
    isPlainByteLevel(steps[1])
  ) {
    return "qwen2";
  }
  throw unsupported("its pre-tokenizer is not Qwen2's byte-level BPE split (the only one TimeLens models use)", {
    preTokenizer: pre,
  });
}

function mergesOf(model: Json): string[] {
  const merges = model.merges;
  if (!Array.isArray(merges) || merges.length === 0) throw unsupported("model.merges is missing or empty");
  if (typeof merges[0] === "string") return merges as string[];
  if (Array.isArray(merges[0]) && merges[0].length === 2 && typeof merges[0][0] === "string") {
    // pairs: spaces inside a part are written as U+0120, as the official converter does
    return (merges as string[][]).map((pair) => pair.map((p) => p.replace(/ /g, "\u0120")).join(" "));
  }
  throw unsupported("model.merges has an unknown format");
}

function looksSpecial(t: string): boolean {
  return (
    ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(t) ||
    (t.startsWith("<|") && t.endsWith("|>")) ||
    (t.startsWith("<\uff5c") && t.endsWith("\uff5c>")) ||
    (t.startsWith("<unused") && t.endsWith(">"))
  );
}

function normalizerFlags(n: Json | null | undefined, out: { lowercase?: boolean; stripAccents?: boolean }): void {
  if (!n) return;
  if (n.type === "Lowercase") out.lowercase = true;
  else if (n.type === "StripAccents") out.stripAccents = true;
  else if (n.type === "BertNormalizer") {
    if ("lowercase" in n) out.lowercase = n.lowercase as boolean;
    if ("strip_accents" in n) out.stripAccents = n.strip_accents as boolean;
  } else if (n.type === "Sequence") for (const m of (n.normalizers as Json[]) ?? []) normalizerFlags(m, out);
}

/** Pure: every tokenizer.* key of the text GGUF. `vocabSize` is the config's vocab_size. */
export function tokenizerMetadata(
  files: TokenizerFiles,
  vocabSize: number | undefined,
): Record<string, GgufMetadataInput> {
  const { tokenizer, tokenizerConfig, config } = files;
  const model = tokenizer.model as Json | undefined;
  if (!model || model.type !== "BPE") throw unsupported(`model.type is ${String(model?.type)}, not BPE`);
  if (model.byte_fallback || model.continuing_subword_prefix || model.end_of_word_suffix)
    throw unsupported("only plain byte-level BPE is supported");
  const pre = preTokenizerName(tokenizer);
  const post = tokenizer.post_processor as Json | null | undefined;
  if (post && !isPlainByteLevel(post)) throw unsupported(`post_processor ${String(post.type)} is not supported`);

  const vocab = model.vocab as Record<string, number> | undefined;
  if (!vocab || typeof vocab !== "object") throw unsupported("model.vocab is missing");
  const added = (tokenizer.added_tokens as { id: number; content: string; special?: boolean }[] | undefined) ?? [];
  const byId = new Map<number, { text: string; added?: { special: boolean } }>();
  for (const [text, id] of Object.entries(vocab)) byId.set(id, { text });
  for (const a of added) byId.set(a.id, { text: a.content, added: { special: !!a.special } });
  let maxId = -1;
  for (const id of byId.keys()) if (id > maxId) maxId = id;
  const n = vocabSize ?? byId.size;
  if (maxId >= n) {
    throw new TimelensError(
      "ERR_CHECKPOINT_INVALID",
      `tokenizer.json has token id ${maxId} but config.json says vocab_size ${n}`,
      {
        file: "tokenizer.json",
        maxId,
        vocabSize: n,
      },
    );
  }
  const tokens: string[] = new Array(n);
  const types: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = byId.get(i);
    if (!t) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.UNUSED;
    } else {
      tokens[i] = t.text;
      types[i] = !t.added
        ? TOKEN_TYPE.NORMAL
        : t.added.special || looksSpecial(t.text)
          ? TOKEN_TYPE.CONTROL
          : TOKEN_TYPE.USER_DEFINED;
    }
  }

  const md: Record<string, GgufMetadataInput> = {
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": pre,
    "tokenizer.ggml.tokens": tokens,
    "tokenizer.ggml.token_type": gguf.arr("i32", types),
    "tokenizer.ggml.merges": mergesOf(model),
  };
  // special ids: tokenizer_config's token texts first, then config.json's *_token_id
  const ids = new Map<string, number>();
  const addFlags = new Map<string, boolean>();
  const set = (typ: string, id: unknown) => {
    if (typeof id !== "number" || !Number.isInteger(id) || ids.has(typ)) return;
    if (id < 0)
      throw new TimelensError("ERR_CHECKPOINT_INVALID", `invalid id ${id} for the ${typ} token`, {
        file: "config.json",
      });
    ids.set(typ, id);
  };
  if (tokenizerConfig) {
    for (const typ of SPECIAL_TYPES) {
      const flag = tokenizerConfig[`add_${typ}_token`];
      if (typeof flag === "boolean") addFlags.set(typ, flag);
      const entry = tokenizerConfig[`${typ}_token`];
      const content = typeof entry === "string" ? entry : (entry as Json | null)?.content;
      if (typeof content !== "string") continue;
      set(typ, added.find((a) => a.content === content)?.id);
    }
  }
  const textConfig = (config.text_config as Json | undefined) ?? {};
  for (const typ of SPECIAL_TYPES) set(typ, config[`${typ}_token_id`] ?? textConfig[`${typ}_token_id`]);
  for (const [typ, id] of ids)
    md[`tokenizer.ggml.${SPECIAL_KEY[typ as (typeof SPECIAL_TYPES)[number]]}`] = gguf.u32(id);
  for (const [typ, v] of addFlags) md[`tokenizer.ggml.add_${typ}_token`] = v;
  if (tokenizerConfig) {
    const template = tokenizerConfig.chat_template ?? files.chatTemplateFile;
    if (typeof template === "string") md["tokenizer.chat_template"] = template;
    else if (template != null)
      throw unsupported("a chat template in list form (several named templates) is not supported");
  }
  const norm: { lowercase?: boolean; stripAccents?: boolean } = {};
  normalizerFlags(tokenizer.normalizer as Json | null, norm);
  if (norm.lowercase !== undefined) md["tokenizer.ggml.normalizer.lowercase"] = norm.lowercase;
  if (norm.stripAccents !== undefined) md["tokenizer.ggml.normalizer.strip_accents"] = norm.stripAccents;
  return md;
}
