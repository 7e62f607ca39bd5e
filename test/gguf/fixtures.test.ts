import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { readGguf } from "../../src/gguf/reader";
import { inspectModelPair, type ModelPairInfo } from "../../src/gguf/validate";
import { FIXTURES } from "../../scripts/fixtures/configs";
import {
  DEFAULT_FIXTURES_ROOT,
  ensureFixtures,
  generateFixture,
  sha256File,
  type FixtureFacts,
} from "../../scripts/fixtures/generate";

/** docs/reference.md "Prompt layout and special tokens": the released models' special token ids. */
const SPEC_IDS: Record<string, number> = {
  "<|endoftext|>": 151643,
  "<|im_start|>": 151644,
  "<|im_end|>": 151645,
  "<|object_ref_start|>": 151646,
  "<|object_ref_end|>": 151647,
  "<|box_start|>": 151648,
  "<|box_end|>": 151649,
  "<|quad_start|>": 151650,
  "<|quad_end|>": 151651,
  "<|vision_start|>": 151652,
  "<|vision_end|>": 151653,
  "<|vision_pad|>": 151654,
  "<|image_pad|>": 151655,
  "<|video_pad|>": 151656,
  "<tool_call>": 151657,
  "</tool_call>": 151658,
};
const SPEC_QWEN3_IDS: Record<string, number> = {
  "<tool_response>": 151665,
  "</tool_response>": 151666,
  "<think>": 151667,
  "</think>": 151668,
};

const tiny = FIXTURES.filter((f) => f.size === "tiny");

describe.each(tiny.map((f) => [f.name, f] as const))("fixture %s", (name, cfg) => {
  const dir = join(DEFAULT_FIXTURES_ROOT, name);
  let info: ModelPairInfo;
  let facts: FixtureFacts;
  beforeAll(async () => {
    await ensureFixtures({ names: [name] }); // made by the global setup; a no-op then
    info = await inspectModelPair(join(dir, "model.gguf"), join(dir, "mmproj.gguf"));
    facts = JSON.parse(readFileSync(join(dir, "fixture.json"), "utf8"));
  });

  it("has the family's architecture, projector and vision geometry", () => {
    const q3 = cfg.family === "qwen3vl";
    expect(info.text.architecture).toBe(q3 ? "qwen3vl" : "qwen2vl");
    expect(info.mmproj.projectorType).toBe(q3 ? "qwen3vl_merger" : "qwen2.5vl_merger");
    expect(info.mmproj.patchSize).toBe(q3 ? 16 : 14);
    expect(info.mmproj.spatialMerge).toBe(2);
    expect(info.mmproj.activation).toBe(q3 ? "gelu" : "silu");
    expect(info.text.nDeepstack).toBe(q3 ? 2 : 0);
    expect(info.mmproj.nDeepstack).toBe(info.text.nDeepstack);
    expect(info.text.nLayer).toBeGreaterThan(info.text.nDeepstack);
    expect(info.mmproj.nEmbdOutput).toBe(info.text.nEmbd * (1 + info.text.nDeepstack));
    if (!q3) {
      expect(info.mmproj.nWaPattern).toBeGreaterThan(1);
      expect(info.mmproj.blockCount % info.mmproj.nWaPattern!).toBe(0); // last layer attends fully
    }
    expect(info.text.warnings).toEqual([]);
    expect(info.mmproj.warnings).toEqual([]);
  });

  it("uses the real Qwen2 vocabulary with the specials at the ids in docs/reference.md (Prompt layout and special tokens), typed CONTROL", async () => {
    expect(info.text.vocabSize).toBe(151936);
    const expected = { ...SPEC_IDS, ...(cfg.family === "qwen3vl" ? SPEC_QWEN3_IDS : {}) };
    for (const [text, id] of Object.entries(expected))
      expect([text, info.text.specialTokens[text]]).toEqual([text, id]);
    if (cfg.family === "qwen25vl") expect(info.text.specialTokens["<think>"]).toBeUndefined();
    expect(info.text.eosTokenId).toBe(info.text.specialTokens["<|im_end|>"]);
    expect(info.text.bosTokenId).toBe(info.text.specialTokens["<|endoftext|>"]);
    expect(info.text.padTokenId).toBe(info.text.specialTokens["<|endoftext|>"]);
    expect(info.text.addBosToken).toBe(false);
    expect(info.text.tokenizerPre).toBe("qwen2");
    const g = await readGguf(join(dir, "model.gguf"));
    const types = g.metadata["tokenizer.ggml.token_type"] as number[];
    const tokens = g.metadata["tokenizer.ggml.tokens"] as string[];
    for (const id of Object.values(info.text.specialTokens)) expect(types[id]).toBe(3);
    expect(tokens.slice(0, 3)).toEqual(["!", '"', "#"]); // the real byte-level vocabulary
    expect((g.metadata["tokenizer.ggml.merges"] as string[]).length).toBe(151387);
  });

  it("ties the output to a Q8_0 token embedding, keeps position embeddings F32, and stays small", async () => {
    const g = await readGguf(join(dir, "model.gguf"), { skipLargeArrays: true });
    expect(g.tensors.find((t) => t.name === "output.weight")).toBeUndefined();
    expect(g.tensors.find((t) => t.name === "token_embd.weight")!.type.name).toBe("Q8_0");
    expect(info.text.tiedEmbeddings).toBe(true);
    const p = await readGguf(join(dir, "mmproj.gguf"));
    const P = info.mmproj.patchSize;
    const C = info.mmproj.embeddingLength;
    for (const n of ["v.patch_embd.weight", "v.patch_embd.weight.1"])
      expect(p.tensors.find((t) => t.name === n)!.dims).toEqual([P, P, 3, C]);
    const pos = p.tensors.find((t) => t.name === "v.position_embd.weight");
    if (cfg.family === "qwen3vl") expect(pos!.type.name).toBe("F32");
    else expect(pos).toBeUndefined();
    expect(statSync(join(dir, "model.gguf")).size).toBeLessThan(20e6);
    expect(statSync(join(dir, "mmproj.gguf")).size).toBeLessThan(5e6);
  });

  it("writes fixture.json facts that match the files", async () => {
    expect(facts.architecture).toBe(info.text.architecture);
    expect(facts.projectorType).toBe(info.mmproj.projectorType);
    expect(facts.patchSize).toBe(info.mmproj.patchSize);
    expect(facts.text.nEmbd).toBe(info.text.nEmbd);
    expect(facts.text.vocabSize).toBe(info.text.vocabSize);
    expect(facts.vision.nLayer).toBe(info.mmproj.blockCount);
    expect(facts.specialTokens).toEqual(info.text.specialTokens);
    expect(facts.files.model.bytes).toBe(info.fileSizes.model);
    expect(facts.files.mmproj.sha256).toBe(await sha256File(join(dir, "mmproj.gguf")));
  });

  describe("chat template (rendered with @huggingface/jinja from the GGUF)", () => {
    const render = (messages: unknown[], addGenerationPrompt = true) =>
      new Template(info.text.chatTemplate!).render({ messages, add_generation_prompt: addGenerationPrompt });
    const system = cfg.family === "qwen25vl" ? "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" : "";

    it("renders video, text and image items in order, then the generation prompt", () => {
      const out = render([
        { role: "user", content: [{ type: "video" }, { type: "text", text: "Find the dog." }, { type: "image" }] },
      ]);
      expect(out).toBe(
        `${system}<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Find the dog.<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n`,
      );
      expect(out).not.toMatch(/<think>/);
    });

    it("renders plain string content and an explicit system message without the default", () => {
      expect(
        render(
          [
            { role: "system", content: "Be brief." },
            { role: "user", content: "hi" },
            { role: "assistant", content: "hello" },
          ],
          false,
        ),
      ).toBe(
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n",
      );
      expect(render([{ role: "user", content: "hi" }], false)).toBe(`${system}<|im_start|>user\nhi<|im_end|>\n`);
    });
  });
});

describe("generation", () => {
  let root: string;
  const cfg = FIXTURES.find((f) => f.name === "tiny-qwen25vl")!;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "gguf-fix-"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("is deterministic: a second generation gives identical bytes", async () => {
    const again = await generateFixture(cfg, join(root, cfg.name));
    const orig = join(DEFAULT_FIXTURES_ROOT, cfg.name);
    for (const f of ["model.gguf", "mmproj.gguf"]) {
      expect(await sha256File(join(root, cfg.name, f))).toBe(await sha256File(join(orig, f)));
    }
    expect(again.files.model.sha256).toBe(await sha256File(join(orig, "model.gguf")));
  });

  it("is idempotent: keeps current files, regenerates damaged ones and on --force", async () => {
    const kept = await ensureFixtures({ root, names: [cfg.name] });
    expect(kept[0].generated).toBe(false);
    const before = await sha256File(join(root, cfg.name, "mmproj.gguf"));
    truncateSync(join(root, cfg.name, "mmproj.gguf"), 1000);
    const redone = await ensureFixtures({ root, names: [cfg.name] });
    expect(redone[0].generated).toBe(true);
    expect(await sha256File(join(root, cfg.name, "mmproj.gguf"))).toBe(before);
  });
});
