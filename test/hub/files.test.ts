import { ggufTypeOf, selectCheckpointFiles, selectGgufFiles, type RepoFile } from "../../src/hub/files";

const f = (path: string): RepoFile => ({ path, size: 1 });

test("checkpoint selection takes exactly the files conversion reads", () => {
  const files = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
    "README.md",
    ".gitattributes",
    "merges.txt",
    "vocab.json",
    "sub/model.safetensors",
    "optimizer.pt",
  ].map(f);
  expect(selectCheckpointFiles("a/b", files).map((x) => x.path)).toEqual([
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
  ]);
  expect(() => selectCheckpointFiles("a/b", [f("config.json"), f("model.safetensors")])).toThrow(
    expect.objectContaining({ code: "ERR_CHECKPOINT_INVALID", details: { repo: "a/b", missing: "tokenizer.json" } }),
  );
});

test.each([
  ["Qwen3VL-8B-Instruct-Q4_K_M.gguf", "Q4_K_M"],
  ["mmproj-Qwen3VL-8B-Instruct-F16.gguf", "F16"],
  ["Qwen3VL-8B-Instruct-Q8_0.gguf", "Q8_0"],
  ["model-bf16.gguf", "BF16"],
  ["x-UD-IQ4_XS.gguf", "IQ4_XS"],
  ["big-Q4_K_M-00001-of-00003.gguf", "Q4_K_M"],
  ["Qwen3VL.gguf", null],
])("ggufTypeOf(%s)", (name, type) => {
  expect(ggufTypeOf(name)).toBe(type);
});

test("GGUF selection: the text GGUF of the type, mmproj preferring F16; clear errors otherwise", () => {
  const files = ["M-Q4_K_M.gguf", "M-Q8_0.gguf", "mmproj-M-Q8_0.gguf", "mmproj-M-F16.gguf", "README.md"].map(f);
  expect(selectGgufFiles("a/b", files, "q4_k_m")).toEqual({
    model: f("M-Q4_K_M.gguf"),
    mmproj: f("mmproj-M-F16.gguf"),
  });
  expect(() => selectGgufFiles("a/b", files)).toThrow(
    expect.objectContaining({
      code: "ERR_HUB_NOT_FOUND",
      details: expect.objectContaining({ available: ["Q4_K_M", "Q8_0"] }),
    }),
  );
  expect(() => selectGgufFiles("a/b", files, "Q6_K")).toThrow(/no text GGUF of type Q6_K \(available: Q4_K_M, Q8_0\)/);
  expect(selectGgufFiles("a/b", [f("only-Q5_K_M.gguf")])).toEqual({ model: f("only-Q5_K_M.gguf"), mmproj: null });
  expect(() =>
    selectGgufFiles("a/b", [f("x-Q4_K_M-00001-of-00002.gguf"), f("x-Q4_K_M-00002-of-00002.gguf")], "Q4_K_M"),
  ).toThrow(expect.objectContaining({ code: "ERR_MODEL_UNSUPPORTED" }));
});
