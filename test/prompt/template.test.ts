import { TimelensError } from "../../src/errors";
import { renderChatTemplate } from "../../src/prompt/template";
import { QWEN25_STYLE_TEMPLATE, QWEN3_STYLE_TEMPLATE } from "./templates";

const userVideo = [{ role: "user", content: [{ type: "video" as const }, { type: "text" as const, text: "hi" }] }];

describe("renderChatTemplate", () => {
  it("renders list content (video, image, text) and the generation prompt", () => {
    const out = renderChatTemplate(
      QWEN3_STYLE_TEMPLATE,
      [{ role: "user", content: [{ type: "image" }, { type: "video" }, { type: "text", text: "hi" }] }],
      {
        addGenerationPrompt: true,
      },
    );
    expect(out).toBe(
      "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|><|vision_start|><|video_pad|><|vision_end|>hi<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("adds the Qwen2.5 default system message only when there is none", () => {
    expect(renderChatTemplate(QWEN25_STYLE_TEMPLATE, userVideo, { addGenerationPrompt: false })).toBe(
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>hi<|im_end|>\n",
    );
    expect(
      renderChatTemplate(QWEN25_STYLE_TEMPLATE, [{ role: "system", content: "S" }, ...userVideo], {
        addGenerationPrompt: true,
      }),
    ).toBe(
      "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>hi<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("passes bos/eos tokens to the template", () => {
    expect(
      renderChatTemplate("{{ bos_token }}x{{ eos_token }}", [], {
        addGenerationPrompt: false,
        bosToken: "<s>",
        eosToken: "</s>",
      }),
    ).toBe("<s>x</s>");
  });

  it.each([
    ["a syntax error", "{% if %}", userVideo],
    ["raise_exception", QWEN3_STYLE_TEMPLATE, [{ role: "tool", content: "x" }]],
    ["an empty template", "", userVideo],
  ])("turns %s into ERR_MODEL_INVALID", (_name, template, messages) => {
    let err: unknown;
    try {
      renderChatTemplate(template, messages, { addGenerationPrompt: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TimelensError);
    expect((err as TimelensError).code).toBe("ERR_MODEL_INVALID");
    expect((err as TimelensError).message).toMatch(/^The model's chat template could not be rendered: /);
  });
});
