/**
 * The interleaved grounding prompt (docs/reference.md "Prompt layout and special tokens"): the model's own chat
 * template rendered with one user message [video, text], the video replaced by one timestamp label + one frame pair
 * per temporal patch, the text being the grounding instruction.
 *
 * The result is a list of segments the native layer evaluates in order: text segments are
 * tokenized with `special` as mtmd's parse_special flag, pair segments become one merged
 * image chunk each (libmtmd wraps every image chunk in <|vision_start|> ... <|vision_end|>
 * itself, so no segment repeats those tokens).
 *
 * Tokenization boundaries. The reference (transformers) tokenizes the whole prompt string at
 * once; we tokenize each text segment on its own. That yields the same tokens as long as every
 * place where we cut is a place where the reference's tokenizer cuts too:
 * - HF tokenizers split added tokens (<|im_start|>, <|vision_end|>, ...) out of the text
 *   before pre-tokenizing, and BPE never merges across them. So a cut next to a control
 *   token (a template segment's own, or the <|vision_start|>/<|vision_end|> mtmd puts around
 *   each pair) is a cut the reference makes too.
 * - Otherwise the cut must be a boundary of the Qwen2 pre-tokenizer regex
 *   `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
 *   (BPE merges only inside one pre-token). In Qwen templates the only such cuts are
 *   "<|im_start|>user\n" | "<0.5 seconds>" (the first label) and, with a system message,
 *   "<|im_start|>system\n" | its text; every other cut touches a control token. When the left side ends in
 *   "\r" or "\n" and the right side starts with a non-space character, no alternative can
 *   match across the cut: the letter alternative cannot start at a newline, the punctuation
 *   and newline alternatives end at the last newline of a run, and the whitespace
 *   alternatives stop at a non-space. The left side's last piece comes from `\s*[\r\n]+` or
 *   the punctuation alternative, neither of which looks ahead, so it is the same whether or
 *   not the right side follows; the right side starts a fresh match either way (the regex
 *   has no look-behind).
 * renderPrompt checks every cut against these two rules and reports any other cut in
 * `warnings` (e.g. a custom template that puts a space between the video and the text).
 *
 * One deliberate difference: HF would also split control-token strings typed INSIDE the
 * query or system text; we keep those as plain text (special: false), so a query cannot
 * inject <|im_end|>. Benchmark queries contain no such strings.
 */
import { TimelensError } from "../errors";
import type { FramePair } from "../video/types";
import { formatTimestamp, groundingInstruction, type ModelProfile, type TimestampFormat } from "./profiles";
import { SHARED_CONTROL_TOKENS } from "../gguf/specials";
import { renderChatTemplate, type ChatMessage } from "./template";

export const VISION_START = "<|vision_start|>";
export const VISION_END = "<|vision_end|>";
export const VIDEO_PAD = "<|video_pad|>";
/** What Qwen-VL chat templates render for a video content item. */
export const VIDEO_PLACEHOLDER = `${VISION_START}${VIDEO_PAD}${VISION_END}`;

/**
 * Control tokens shared by Qwen2.5-VL and Qwen3-VL (ids 151643-151664, docs/reference.md "Prompt layout and special
 * tokens").
 */
export const QWEN_CONTROL_TOKENS: readonly string[] = SHARED_CONTROL_TOKENS;

export type PromptSegment =
  | { kind: "text"; text: string; special: boolean }
  | { kind: "pair"; pair: number; frames: [number, number] };

export interface RenderPromptOptions {
  /** The model's chat template (GGUF `tokenizer.chat_template`). */
  chatTemplate: string;
  profile: ModelProfile;
  /** The plan's pairs, labels already made by planFrames. */
  pairs: readonly FramePair[];
  /** The query as it goes into the instruction (normalise it first where the benchmark does). */
  query: string;
  /** Re-label every pair from `pair.time` with this format instead of using `pair.label`. */
  timestampFormat?: TimestampFormat;
  /** A system message; without it the template's default applies (Qwen2.5-VL adds one). */
  system?: string;
  /** Shown in `text`'s pair markers. */
  tokensPerPair?: number;
  bosToken?: string;
  eosToken?: string;
}

export interface RenderedPrompt {
  segments: PromptSegment[];
  /** The prompt as the model sees it, one visible marker per pair. */
  text: string;
  /** The grounding instruction (the user message's text). */
  instruction: string;
  /** Cuts between text segments that may tokenize differently from the reference (normally none). */
  warnings: string[];
}

// Plain ASCII letters: survive any filter a template might apply to message text (trim etc.).
const QUERY_SENTINEL = "TIMELENSQUERYSENTINEL7E1C5A";
const SYSTEM_SENTINEL = "TIMELENSSYSTEMSENTINEL7E1C5A";

interface Marker {
  at: number;
  length: number;
  kind: "video" | "query" | "system";
}

function occurrences(haystack: string, needle: string): number[] {
  const out: number[] = [];
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) out.push(i);
  return out;
}

export function renderPrompt(options: RenderPromptOptions): RenderedPrompt {
  const { chatTemplate, profile, pairs, query, timestampFormat, system } = options;
  if (!Array.isArray(pairs) || pairs.length === 0) {
    throw new TimelensError("ERR_INVALID_ARGUMENT", "renderPrompt needs at least one frame pair.", {
      pairs: Array.isArray(pairs) ? 0 : typeof pairs,
    });
  }
  if (typeof query !== "string") {
    throw new TimelensError("ERR_INVALID_ARGUMENT", `The query must be a string, got ${typeof query}.`);
  }
  const labels = pairs.map((p, k) => {
    const label = timestampFormat !== undefined ? formatTimestamp(p.time, timestampFormat) : p.label;
    if (typeof label !== "string" || label.length === 0) {
      // Without text between two pairs libmtmd would merge them into one temporal patch.
      throw new TimelensError(
        "ERR_INVALID_ARGUMENT",
        `Frame pair ${k} has an empty timestamp label; every pair needs one.`,
        { pair: k },
      );
    }
    return label;
  });
  const instruction = groundingInstruction(profile, query);

  const messages: ChatMessage[] = [];
  if (system !== undefined) messages.push({ role: "system", content: SYSTEM_SENTINEL });
  messages.push({ role: "user", content: [{ type: "video" }, { type: "text", text: QUERY_SENTINEL }] });
  const rendered = renderChatTemplate(chatTemplate, messages, {
    addGenerationPrompt: true,
    bosToken: options.bosToken,
    eosToken: options.eosToken,
  });

  const markers: Marker[] = [];
  const video = occurrences(rendered, VIDEO_PLACEHOLDER);
  if (video.length === 0) {
    throw new TimelensError(
      "ERR_MODEL_INVALID",
      `The model's chat template does not support video: rendering a video item produced no ${VIDEO_PLACEHOLDER}.`,
      {
        rendered,
      },
    );
  }
  if (video.length > 1) {
    throw new TimelensError(
      "ERR_MODEL_INVALID",
      `The model's chat template rendered one video item ${video.length} times.`,
      { rendered },
    );
  }
  markers.push({ at: video[0], length: VIDEO_PLACEHOLDER.length, kind: "video" });
  const find = (sentinel: string, kind: Marker["kind"], what: string): void => {
    const at = occurrences(rendered, sentinel);
    if (at.length !== 1) {
      throw new TimelensError(
        "ERR_MODEL_INVALID",
        `The model's chat template rendered the ${what} ${at.length} times (expected exactly once); ` +
          `cannot place it in the prompt.`,
        { rendered, count: at.length },
      );
    }
    markers.push({ at: at[0], length: sentinel.length, kind });
  };
  find(QUERY_SENTINEL, "query", "user text");
  if (system !== undefined) find(SYSTEM_SENTINEL, "system", "system message");
  markers.sort((a, b) => a.at - b.at);

  const raw: PromptSegment[] = [];
  let pos = 0;
  for (const m of markers) {
    if (m.at < pos)
      throw new TimelensError("ERR_MODEL_INVALID", "The model's chat template rendered overlapping content.", {
        rendered,
      });
    raw.push({ kind: "text", text: rendered.slice(pos, m.at), special: true });
    if (m.kind === "video") {
      pairs.forEach((p, k) => {
        raw.push({ kind: "text", text: labels[k], special: false });
        raw.push({ kind: "pair", pair: k, frames: [p.frames[0], p.frames[1]] });
      });
    } else {
      raw.push({ kind: "text", text: m.kind === "query" ? instruction : (system as string), special: false });
    }
    pos = m.at + m.length;
  }
  raw.push({ kind: "text", text: rendered.slice(pos), special: true });

  const segments = mergeSegments(raw);
  return {
    segments,
    text: segmentsToText(segments, (s) => pairMarker(s, options.tokensPerPair)),
    instruction,
    warnings: boundaryWarnings(segments),
  };
}

/**
 * The prompt string the reference HF processor builds: each pair as its label followed by
 * <|vision_start|> + <|video_pad|> x tokensPerPair + <|vision_end|>.
 */
export function referencePromptText(options: RenderPromptOptions & { tokensPerPair: number }): string {
  const n = options.tokensPerPair;
  if (!Number.isInteger(n) || n < 1) {
    throw new TimelensError("ERR_INVALID_ARGUMENT", `tokensPerPair must be a positive integer, got ${n}.`, {
      tokensPerPair: n,
    });
  }
  const { segments } = renderPrompt(options);
  return segmentsToText(segments, () => `${VISION_START}${VIDEO_PAD.repeat(n)}${VISION_END}`);
}

/** Joins segments into one string, rendering each pair with `renderPair`. */
export function segmentsToText(
  segments: readonly PromptSegment[],
  renderPair: (s: Extract<PromptSegment, { kind: "pair" }>) => string,
): string {
  let out = "";
  for (const s of segments) out += s.kind === "text" ? s.text : renderPair(s);
  return out;
}

function pairMarker(s: Extract<PromptSegment, { kind: "pair" }>, tokensPerPair: number | undefined): string {
  const count = tokensPerPair !== undefined ? ` · ${tokensPerPair} tokens` : "";
  return `${VISION_START}[pair ${s.pair}: frames ${s.frames[0]},${s.frames[1]}${count}]${VISION_END}`;
}

/** Drops empty text segments and joins neighbouring text segments with the same flag. */
function mergeSegments(raw: readonly PromptSegment[]): PromptSegment[] {
  const out: PromptSegment[] = [];
  for (const s of raw) {
    if (s.kind === "text") {
      if (s.text.length === 0) continue;
      const last = out[out.length - 1];
      if (last && last.kind === "text" && last.special === s.special) {
        out[out.length - 1] = { kind: "text", text: last.text + s.text, special: s.special };
        continue;
      }
    }
    out.push(s);
  }
  return out;
}

const LEADING_SPACE = /^[\s\x1c-\x1f\x85]/u;

function endsWithControl(text: string): boolean {
  return QWEN_CONTROL_TOKENS.some((t) => text.endsWith(t));
}
function startsWithControl(text: string): boolean {
  return QWEN_CONTROL_TOKENS.some((t) => text.startsWith(t));
}

/** Cuts between two text segments that the rules in the header comment do not cover. */
function boundaryWarnings(segments: readonly PromptSegment[]): string[] {
  const warnings: string[] = [];
  for (let i = 0; i + 1 < segments.length; i++) {
    const a = segments[i];
    const b = segments[i + 1];
    // mtmd puts control tokens at both edges of a pair.
    if (a.kind !== "text" || b.kind !== "text") continue;
    if (a.special && endsWithControl(a.text)) continue;
    if (b.special && startsWithControl(b.text)) continue;
    const last = a.text[a.text.length - 1];
    if ((last === "\n" || last === "\r") && !LEADING_SPACE.test(b.text)) continue;
    warnings.push(
      `Text segments ${i} and ${i + 1} meet at ${JSON.stringify(a.text.slice(-12))} ` +
        `| ${JSON.stringify(b.text.slice(0, 12))}, ` +
        "which is not a control token or a newline before a non-space; " +
        "tokens there may differ from the reference, which tokenizes the prompt as one string.",
    );
  }
  return warnings;
}
