/**
 * Two small chat templates for unit tests only, written for this project in the style of the
 * Qwen-VL templates (docs/reference.md "Prompt layout and special tokens"): ChatML turns, video items as
 * <|vision_start|><|video_pad|><|vision_end|>, image items with <|image_pad|>, text items as is,
 * generation prompt "<|im_start|>assistant\n". The fixture models carry their own templates.
 */

/** Qwen2.5-VL style: a default system message when the conversation has none. */
export const QWEN25_STYLE_TEMPLATE = [
  "{%- macro content_text(content) -%}",
  "  {%- if content is string -%}{{ content }}",
  "  {%- else -%}",
  "    {%- for part in content -%}",
  "      {%- if part.type == 'video' -%}{{ '<|vision_start|><|video_pad|><|vision_end|>' }}",
  "      {%- elif part.type == 'image' -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}",
  "      {%- elif part.type == 'text' -%}{{ part.text }}",
  "      {%- endif -%}",
  "    {%- endfor -%}",
  "  {%- endif -%}",
  "{%- endmacro -%}",
  "{%- if messages[0].role != 'system' -%}",
  "  {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' -}}",
  "{%- endif -%}",
  "{%- for message in messages -%}",
  "  {{- '<|im_start|>' + message.role + '\\n' + content_text(message.content) + '<|im_end|>\\n' -}}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}",
].join("\n");

/** Qwen3-VL style: no default system message; only user/system/assistant roles. */
export const QWEN3_STYLE_TEMPLATE = [
  "{%- for message in messages -%}",
  "  {%- if message.role not in ['system', 'user', 'assistant'] -%}",
  "    {{- raise_exception('unsupported role ' + message.role) -}}",
  "  {%- endif -%}",
  "  {{- '<|im_start|>' + message.role + '\\n' -}}",
  "  {%- if message.content is string -%}",
  "    {{- message.content -}}",
  "  {%- else -%}",
  "    {%- for part in message.content -%}",
  "      {%- if part.type == 'image' -%}",
  "        {{- '<|vision_start|><|image_pad|><|vision_end|>' -}}",
  "      {%- elif part.type == 'video' -%}",
  "        {{- '<|vision_start|><|video_pad|><|vision_end|>' -}}",
  "      {%- elif part.type == 'text' -%}",
  "        {{- part.text -}}",
  "      {%- endif -%}",
  "    {%- endfor -%}",
  "  {%- endif -%}",
  "  {{- '<|im_end|>\\n' -}}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}",
  "  {{- '<|im_start|>assistant\\n' -}}",
  "{%- endif -%}",
].join("\n");

/** A text-only ChatML template: renders no video placeholder. */
export const TEXT_ONLY_TEMPLATE = [
  "{%- for message in messages -%}",
  "  {{- '<|im_start|>' + message.role + '\\n' -}}",
  "  {%- if message.content is string -%}{{- message.content -}}",
  "  {%- else -%}{%- for part in message.content -%}{%- if part.type == 'text' -%}{{- part.text -}}{%- endif -%}{%- endfor -%}",
  "  {%- endif -%}",
  "  {{- '<|im_end|>\\n' -}}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}",
].join("\n");
