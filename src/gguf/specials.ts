/**
 * The Qwen-VL chat and vision special tokens (docs/reference.md "Prompt layout and special tokens"). The ids are the
 * released models' ids; code that runs against a model must look tokens up by TEXT in the
 * model's own vocabulary (`inspectTextModel(...).specialTokens`), since reduced
 * vocabularies (test fixtures, other converters) can place them elsewhere.
 */
export interface QwenSpecialToken {
  text: string;
  /** Id in the released Qwen2.5-VL / Qwen3-VL vocabularies. */
  id: number;
  /** "qwen3": only the Qwen3 family has it. */
  family: "both" | "qwen3";
  /** "chat" and "vision": the tokens our prompts are built from (VisionModel reports their ids). */
  use: "chat" | "vision" | "other";
}

export const QWEN_VL_SPECIAL_TOKENS: readonly QwenSpecialToken[] = Object.freeze([
  { text: "<|endoftext|>", id: 151643, family: "both", use: "chat" },
  { text: "<|im_start|>", id: 151644, family: "both", use: "chat" },
  { text: "<|im_end|>", id: 151645, family: "both", use: "chat" },
  { text: "<|object_ref_start|>", id: 151646, family: "both", use: "other" },
  { text: "<|object_ref_end|>", id: 151647, family: "both", use: "other" },
  { text: "<|box_start|>", id: 151648, family: "both", use: "other" },
  { text: "<|box_end|>", id: 151649, family: "both", use: "other" },
  { text: "<|quad_start|>", id: 151650, family: "both", use: "other" },
  { text: "<|quad_end|>", id: 151651, family: "both", use: "other" },
  { text: "<|vision_start|>", id: 151652, family: "both", use: "vision" },
  { text: "<|vision_end|>", id: 151653, family: "both", use: "vision" },
  { text: "<|vision_pad|>", id: 151654, family: "both", use: "vision" },
  { text: "<|image_pad|>", id: 151655, family: "both", use: "vision" },
  { text: "<|video_pad|>", id: 151656, family: "both", use: "vision" },
  { text: "<tool_call>", id: 151657, family: "both", use: "other" },
  { text: "</tool_call>", id: 151658, family: "both", use: "other" },
  { text: "<|fim_prefix|>", id: 151659, family: "both", use: "other" },
  { text: "<|fim_middle|>", id: 151660, family: "both", use: "other" },
  { text: "<|fim_suffix|>", id: 151661, family: "both", use: "other" },
  { text: "<|fim_pad|>", id: 151662, family: "both", use: "other" },
  { text: "<|repo_name|>", id: 151663, family: "both", use: "other" },
  { text: "<|file_sep|>", id: 151664, family: "both", use: "other" },
  { text: "<tool_response>", id: 151665, family: "qwen3", use: "other" },
  { text: "</tool_response>", id: 151666, family: "qwen3", use: "other" },
  { text: "<think>", id: 151667, family: "qwen3", use: "other" },
  { text: "</think>", id: 151668, family: "qwen3", use: "other" },
] as const);

/** Texts of the control tokens both families share (the prompt renderer keeps them out of user text). */
export const SHARED_CONTROL_TOKENS: readonly string[] = Object.freeze(
  QWEN_VL_SPECIAL_TOKENS.filter((t) => t.family === "both").map((t) => t.text),
);

/** Texts of the chat and vision tokens our prompts use (VisionModel.info.specialTokens). */
export const PROMPT_SPECIAL_TOKENS: readonly string[] = Object.freeze(
  QWEN_VL_SPECIAL_TOKENS.filter((t) => t.use !== "other").map((t) => t.text),
);

/** Specials a Qwen-VL text model must have for chat and vision prompts to work. */
export const REQUIRED_SPECIAL_TOKENS: readonly string[] = [
  "<|im_start|>",
  "<|im_end|>",
  "<|vision_start|>",
  "<|vision_end|>",
];

/** llama.cpp token types (tokenizer.ggml.token_type). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
