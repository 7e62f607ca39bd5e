/**
 * The Qwen-VL chat and vision special tokens (docs/reference.md "Prompt layout and special tokens"). The ids are the released
 * models' ids; code that runs against a model must look tokens up by TEXT in the
 * model's own vocabulary (`inspectTextModel(...).specialTokens`), since reduced
 * vocabularies (test fixtures, other converters) can place them elsewhere.
 */
export interface QwenSpecialToken {
  text: string;
  /** Id in the released Qwen2.5-VL / Qwen3-VL vocabularies. */
  id: number;
  /** "qwen3": only the Qwen3 family has it. */
  family: "both" | "qwen3";
}

export const QWEN_VL_SPECIAL_TOKENS: readonly QwenSpecialToken[] = Object.freeze([
  { text: "<|endoftext|>", id: 151643, family: "both" },
  { text: "<|im_start|>", id: 151644, family: "both" },
  { text: "<|im_end|>", id: 151645, family: "both" },
  { text: "<|object_ref_start|>", id: 151646, family: "both" },
  { text: "<|object_ref_end|>", id: 151647, family: "both" },
  { text: "<|box_start|>", id: 151648, family: "both" },
  { text: "<|box_end|>", id: 151649, family: "both" },
  { text: "<|quad_start|>", id: 151650, family: "both" },
  { text: "<|quad_end|>", id: 151651, family: "both" },
  { text: "<|vision_start|>", id: 151652, family: "both" },
  { text: "<|vision_end|>", id: 151653, family: "both" },
  { text: "<|vision_pad|>", id: 151654, family: "both" },
  { text: "<|image_pad|>", id: 151655, family: "both" },
  { text: "<|video_pad|>", id: 151656, family: "both" },
  { text: "<tool_call>", id: 151657, family: "both" },
  { text: "</tool_call>", id: 151658, family: "both" },
  { text: "<|fim_prefix|>", id: 151659, family: "both" },
  { text: "<|fim_middle|>", id: 151660, family: "both" },
  { text: "<|fim_suffix|>", id: 151661, family: "both" },
  { text: "<|fim_pad|>", id: 151662, family: "both" },
  { text: "<|repo_name|>", id: 151663, family: "both" },
  { text: "<|file_sep|>", id: 151664, family: "both" },
  { text: "<tool_response>", id: 151665, family: "qwen3" },
  { text: "</tool_response>", id: 151666, family: "qwen3" },
  { text: "<think>", id: 151667, family: "qwen3" },
  { text: "</think>", id: 151668, family: "qwen3" },
] as const);

/** Specials a Qwen-VL text model must have for chat and vision prompts to work. */
export const REQUIRED_SPECIAL_TOKENS: readonly string[] = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>"];

/** llama.cpp token types (tokenizer.ggml.token_type). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
