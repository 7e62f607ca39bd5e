import { parseModelUri } from "../../src/models/uri";

test.each([
  ["hf:TencentARC/TimeLens-8B", { repo: "TencentARC/TimeLens-8B", revision: "main" }],
  ["hf:TencentARC/TimeLens-8B@v1.0", { repo: "TencentARC/TimeLens-8B", revision: "v1.0" }],
  [
    "hf:Qwen/Qwen3-VL-8B-Instruct-GGUF:Q4_K_M",
    { repo: "Qwen/Qwen3-VL-8B-Instruct-GGUF", revision: "main", quant: "Q4_K_M" },
  ],
  [
    "hf:a/b@0123456789abcdef0123456789abcdef01234567:q8_0",
    { repo: "a/b", revision: "0123456789abcdef0123456789abcdef01234567", quant: "Q8_0" },
  ],
  ["hf:org.x/model_v2.5@refs-pr-3", { repo: "org.x/model_v2.5", revision: "refs-pr-3" }],
])("%s", (uri, expected) => {
  expect(parseModelUri(uri)).toEqual(expected);
});

test.each([
  "TencentARC/TimeLens-8B",
  "hf:",
  "hf:onlyname",
  "hf:a/b/c",
  "hf:../x",
  "hf:a/..",
  "hf:a/b@",
  "hf:a/b:",
  "hf:a/b:Q4-K",
  "hf:a/b@x@y",
])("rejects %s", (uri) => {
  expect(() => parseModelUri(uri)).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
});
