/**
 * Renders a model's own chat template (the GGUF's `tokenizer.chat_template`) with
 * @huggingface/jinja, the way transformers' apply_chat_template calls it.
 */
import { Template } from "@huggingface/jinja";
import { TimelensError } from "../errors";

export type ContentItem = { type: "video" } | { type: "image" } | { type: "text"; text: string };

export interface ChatMessage {
  role: string;
  content: string | ContentItem[];
}

export interface RenderChatTemplateOptions {
  addGenerationPrompt: boolean;
  bosToken?: string;
  eosToken?: string;
}

const cache = new Map<string, Template>();
const CACHE_SIZE = 8;

function compile(template: string): Template {
  const hit = cache.get(template);
  if (hit) {
    cache.delete(template);
    cache.set(template, hit);
    return hit;
  }
  const compiled = new Template(template);
  cache.set(template, compiled);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return compiled;
}

/**
 * Renders `messages` with the template. Template syntax or runtime errors (including a
 * template's own `raise_exception(...)`) become TimelensError ERR_MODEL_INVALID.
 */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  options: RenderChatTemplateOptions,
): string {
  if (typeof template !== "string" || template.length === 0) {
    throw new TimelensError(
      "ERR_MODEL_INVALID",
      "The model's chat template could not be rendered: " +
        "the model has no chat template (tokenizer.chat_template is empty).",
    );
  }
  const context: Record<string, unknown> = {
    messages: messages.map((m) => ({
      role: m.role,
      content: typeof m.content === "string" ? m.content : m.content.map((c) => ({ ...c })),
    })),
    add_generation_prompt: options.addGenerationPrompt,
  };
  if (options.bosToken !== undefined) context.bos_token = options.bosToken;
  if (options.eosToken !== undefined) context.eos_token = options.eosToken;
  let out: unknown;
  try {
    out = compile(template).render(context);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new TimelensError(
      "ERR_MODEL_INVALID",
      `The model's chat template could not be rendered: ${reason}`,
      { reason },
      { cause: err },
    );
  }
  if (typeof out !== "string") {
    throw new TimelensError(
      "ERR_MODEL_INVALID",
      "The model's chat template could not be rendered: it did not produce a string.",
    );
  }
  return out;
}
