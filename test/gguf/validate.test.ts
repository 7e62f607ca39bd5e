import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readGguf } from "../../src/gguf/reader";
import { gguf } from "../../src/gguf/writer";
import { checkPair, inspectMmproj, inspectModelPair, inspectTextModel } from "../../src/gguf/validate";
import type { TimelensError, ErrorCode } from "../../src/errors";
import {
  addTensor,
  all,
  copyContent,
  deleteKey,
  dropTensor,
  miniConfig,
  projContent,
  retypeTensor,
  setKey,
  snapshot,
  textContent,
  writeContent,
  type GgufContent,
  type Mutation,
} from "../../scripts/fixtures/variants";
import type { FixtureConfig } from "../../scripts/fixtures/configs";
import type { Family } from "../../scripts/fixtures/vocab";

let dir: string;
let n = 0;
const Q3: Family = "qwen3vl";
const Q25: Family = "qwen25vl";
const textCache = new Map<string, GgufContent>();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-val-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const projCache = new Map<string, GgufContent>();

/** A fresh copy of the mini text model content (tensor bytes encoded once per config). */
async function text(family: Family, cfg?: FixtureConfig): Promise<GgufContent> {
  const key = `${family}:${JSON.stringify(cfg ?? null)}`;
  if (!textCache.has(key))
    textCache.set(key, await snapshot(await textContent(family, { cfg: cfg ?? miniConfig(family) })));
  return copyContent(textCache.get(key)!);
}

async function proj(family: Family, cfg?: FixtureConfig): Promise<GgufContent> {
  const key = `${family}:${JSON.stringify(cfg ?? null)}`;
  if (!projCache.has(key)) projCache.set(key, await snapshot(projContent(family, cfg ?? miniConfig(family))));
  return copyContent(projCache.get(key)!);
}

async function writePair(
  opts: {
    text?: Family;
    proj?: Family;
    textMut?: Mutation;
    projMut?: Mutation;
    textCfg?: FixtureConfig;
    projCfg?: FixtureConfig;
  } = {},
) {
  const sub = join(dir, `p${n++}`);
  const tf = opts.text ?? Q3;
  const pf = opts.proj ?? tf;
  const model = await writeContent(sub, "model.gguf", await text(tf, opts.textCfg), opts.textMut);
  const mmproj = await writeContent(sub, "mmproj.gguf", await proj(pf, opts.projCfg), opts.projMut);
  return { model, mmproj };
}

async function writeProj(family: Family, mut?: Mutation, cfg?: FixtureConfig): Promise<string> {
  return writeContent(join(dir, `m${n++}`), "mmproj.gguf", await proj(family, cfg), mut);
}

async function rejects(p: Promise<unknown>, code: ErrorCode, re: RegExp): Promise<TimelensError> {
  const e = await p.then(
    () => undefined,
    (x: TimelensError) => x,
  );
  expect(e).toBeDefined();
  expect({ code: e!.code, message: e!.message }).toEqual({ code, message: expect.stringMatching(re) });
  return e!;
}

describe("valid pairs", () => {
  it.each([Q3, Q25])("%s mini pair passes and reports its facts", async (family) => {
    const { model, mmproj } = await writePair({ text: family });
    const info = await inspectModelPair(model, mmproj);
    const cfg = miniConfig(family);
    expect(info.text.architecture).toBe(cfg.architecture);
    expect(info.text.nEmbd).toBe(cfg.text.nEmbd);
    expect(info.text.nDeepstack).toBe(cfg.text.nDeepstack);
    expect(info.text.warnings).toEqual([]);
    expect(info.mmproj.projectorType).toBe(cfg.projectorType);
    expect(info.mmproj.blockCount).toBe(3);
    expect(info.mmproj.deepstackLayers).toEqual(cfg.vision.deepstackLayers);
    expect(info.mmproj.nEmbdOutput).toBe(info.text.nEmbdInput);
    expect(info.mmproj.warnings).toEqual([]);
    expect(info.pair.nEmbdInput).toBe(cfg.text.nEmbd * (1 + cfg.text.nDeepstack));
    expect(info.fileSizes.model).toBeGreaterThan(0);
  });

  it("missing files -> ERR_FILE_NOT_FOUND", async () => {
    const { model } = await writePair();
    await rejects(inspectModelPair(model, join(dir, "absent-mmproj.gguf")), "ERR_FILE_NOT_FOUND", /absent-mmproj/);
    await rejects(inspectModelPair(join(dir, "absent.gguf"), model), "ERR_FILE_NOT_FOUND", /absent\.gguf/);
  });
});

describe("text model checks", () => {
  it("an unsupported architecture lists the supported ones", async () => {
    const { model, mmproj } = await writePair({ textMut: setKey("general.architecture", "llama") });
    const e = await rejects(
      inspectModelPair(model, mmproj),
      "ERR_MODEL_UNSUPPORTED",
      /unsupported model architecture "llama".*qwen3vl.*qwen2vl/,
    );
    expect(e.details.supported).toEqual(["qwen3vl", "qwen2vl"]);
  });

  it("an mmproj passed as the model says to pass it as mmproj", async () => {
    const { mmproj } = await writePair();
    await rejects(
      readGguf(mmproj).then(inspectTextModel),
      "ERR_MODEL_UNSUPPORTED",
      /this is an mmproj file.*pass it as mmproj/,
    );
  });

  it("a text model passed as mmproj says so", async () => {
    const { model } = await writePair();
    await rejects(
      readGguf(model).then(inspectMmproj),
      "ERR_MODEL_INVALID",
      /text model \(architecture qwen3vl\).*pass it as the model/,
    );
  });

  it("swapped paths are named as swapped", async () => {
    const { model, mmproj } = await writePair();
    await rejects(inspectModelPair(mmproj, model), "ERR_MODEL_INVALID", /look swapped/);
  });

  it.each([
    [Q3, "qwen3vl.context_length"],
    [Q3, "qwen3vl.embedding_length"],
    [Q3, "qwen3vl.block_count"],
    [Q3, "qwen3vl.rope.dimension_sections"],
    [Q3, "qwen3vl.attention.layer_norm_rms_epsilon"],
    [Q3, "qwen3vl.attention.head_count"],
    [Q25, "qwen2vl.rope.dimension_sections"],
    [Q25, "tokenizer.ggml.model"],
    [Q25, "tokenizer.ggml.tokens"],
    [Q25, "tokenizer.ggml.merges"],
  ] as const)("%s without %s -> ERR_MODEL_INVALID naming it", async (family, key) => {
    const { model, mmproj } = await writePair({ text: family, textMut: deleteKey(key) });
    await rejects(
      inspectModelPair(model, mmproj),
      "ERR_MODEL_INVALID",
      new RegExp(`missing key ${key.replace(/\./g, "\\.")}`),
    );
  });

  it.each([
    [Q3, "token_embd.weight"],
    [Q3, "output_norm.weight"],
    [Q3, "blk.2.attn_q.weight"],
    [Q3, "blk.0.attn_q_norm.weight"],
    [Q3, "blk.1.attn_k_norm.weight"],
    [Q3, "blk.1.attn_output.weight"],
    [Q25, "blk.1.attn_v.weight"],
    [Q25, "blk.0.ffn_gate.weight"],
    [Q25, "blk.1.ffn_down.weight"],
    [Q25, "blk.0.ffn_norm.weight"],
  ] as const)("%s without tensor %s -> ERR_MODEL_INVALID naming it", async (family, name) => {
    const { model, mmproj } = await writePair({ text: family, textMut: dropTensor(name) });
    const e = await rejects(
      inspectModelPair(model, mmproj),
      "ERR_MODEL_INVALID",
      new RegExp(`missing tensors: ${name.replace(/\./g, "\\.")}`),
    );
    expect(e.details.missingTensors).toEqual([name]);
  });

  it.each([
    [
      "n_deepstack_layers >= block_count (llama.cpp aborts)",
      setKey("qwen3vl.n_deepstack_layers", gguf.u32(3)),
      /n_deepstack_layers 3 must be smaller than block_count 3/,
    ],
    ["block_count 0", setKey("qwen3vl.block_count", gguf.u32(0)), /block_count = 0/],
    [
      "rope.dimension_count != head size",
      setKey("qwen3vl.rope.dimension_count", gguf.u32(16)),
      /rope\.dimension_count 16/,
    ],
    ["unknown rope scaling", setKey("qwen3vl.rope.scaling.type", "bogus"), /rope\.scaling\.type "bogus"/],
    [
      "a u64 context_length",
      setKey("qwen3vl.context_length", gguf.u64(4096)),
      /context_length has type u64, llama\.cpp requires u32/,
    ],
    [
      "rope sections longer than half the head",
      setKey("qwen3vl.rope.dimension_sections", gguf.arr("i32", [8, 8, 8, 0])),
      /dimension_sections/,
    ],
    [
      "rope sections of length 3",
      setKey("qwen3vl.rope.dimension_sections", gguf.arr("i32", [6, 5, 5])),
      /has 3 elements, expected 4/,
    ],
    [
      "eos outside the vocabulary",
      setKey("tokenizer.ggml.eos_token_id", gguf.u32(10 ** 6)),
      /eos_token_id 1000000 is outside/,
    ],
    [
      "a wrong embedding length",
      setKey("qwen3vl.embedding_length", gguf.u32(96)),
      /token_embd\.weight has shape \[64, \d+\], expected \[96/,
    ],
    [
      "no vision specials",
      (c: GgufContent) => {
        const t = c.metadata["tokenizer.ggml.tokens"] as unknown as { value: string[] };
        c.metadata["tokenizer.ggml.tokens"] = gguf.arr(
          "string",
          t.value.map((s) => (s === "<|vision_start|>" ? "<|vision_begin|>" : s)),
        );
      },
      /lacks the Qwen-VL special tokens <\|vision_start\|>/,
    ],
  ] as const)("%s -> ERR_MODEL_INVALID", async (_name, mut, re) => {
    const { model, mmproj } = await writePair({ textMut: mut as Mutation });
    await rejects(inspectModelPair(model, mmproj), "ERR_MODEL_INVALID", re);
  });

  it("qwen2vl needs heads x head size == hidden", async () => {
    const { model, mmproj } = await writePair({
      text: Q25,
      textMut: setKey("qwen2vl.attention.key_length", gguf.u32(16)),
    });
    await rejects(inspectModelPair(model, mmproj), "ERR_MODEL_INVALID", /must equal embedding_length 64 for qwen2vl/);
  });

  it("warns about special tokens that are not CONTROL", async () => {
    const { model } = await writePair({
      textMut: (c) => {
        const tt = c.metadata["tokenizer.ggml.token_type"] as unknown as { value: number[] };
        c.metadata["tokenizer.ggml.token_type"] = gguf.arr(
          "i32",
          tt.value.map(() => 1),
        );
      },
    });
    const facts = inspectTextModel(await readGguf(model));
    expect(facts.warnings.join("\n")).toMatch(/<\|im_start\|> \(id \d+\) has token type 1, not CONTROL/);
  });
});

describe("mmproj checks", () => {
  it.each([
    ["has_vision_encoder false", setKey("clip.has_vision_encoder", gguf.bool(false))],
    ["has_vision_encoder absent", deleteKey("clip.has_vision_encoder")],
  ])("%s -> ERR_NO_VISION", async (_n, mut) => {
    const { model, mmproj } = await writePair({ projMut: mut });
    await rejects(inspectModelPair(model, mmproj), "ERR_NO_VISION", /no vision encoder/);
  });

  it("an unsupported projector lists the supported ones", async () => {
    const { model, mmproj } = await writePair({ projMut: setKey("clip.projector_type", "qwen2vl_merger") });
    await rejects(
      inspectModelPair(model, mmproj),
      "ERR_MODEL_UNSUPPORTED",
      /"qwen2vl_merger".*qwen3vl_merger, qwen2\.5vl_merger/,
    );
  });

  // Every tensor whose absence crashes llama.cpp (SEGFAULT on missing patch/qkv, abort on
  // missing deepstack fc2, ...) and every other tensor the Qwen-VL graphs use, per layer.
  const perLayerQ3 = [
    "attn_qkv.weight",
    "attn_qkv.bias",
    "attn_out.weight",
    "attn_out.bias",
    "ln1.weight",
    "ln1.bias",
    "ln2.weight",
    "ln2.bias",
    "ffn_up.weight",
    "ffn_up.bias",
    "ffn_down.weight",
    "ffn_down.bias",
  ];
  const perLayerQ25 = [
    "attn_q.weight",
    "attn_q.bias",
    "attn_k.weight",
    "attn_k.bias",
    "attn_v.weight",
    "attn_v.bias",
    "attn_out.weight",
    "attn_out.bias",
    "ln1.weight",
    "ln2.weight",
    "ffn_gate.weight",
    "ffn_gate.bias",
    "ffn_up.weight",
    "ffn_up.bias",
    "ffn_down.weight",
    "ffn_down.bias",
  ];
  const deepstack = ["norm.weight", "norm.bias", "fc1.bias", "fc2.weight", "fc2.bias"];
  const q3Names = [
    "v.patch_embd.weight",
    "v.patch_embd.weight.1",
    "v.patch_embd.bias",
    "v.position_embd.weight",
    "v.post_ln.weight",
    "v.post_ln.bias",
    "mm.0.weight",
    "mm.0.bias",
    "mm.2.weight",
    "mm.2.bias",
    ...[0, 1, 2].flatMap((i) => perLayerQ3.map((t) => `v.blk.${i}.${t}`)),
    ...[1, 2].flatMap((i) => deepstack.map((t) => `v.deepstack.${i}.${t}`)),
  ];
  const q25Names = [
    "v.patch_embd.weight",
    "v.patch_embd.weight.1",
    "v.post_ln.weight",
    "mm.0.weight",
    "mm.0.bias",
    "mm.2.weight",
    "mm.2.bias",
    ...[0, 1, 2].flatMap((i) => perLayerQ25.map((t) => `v.blk.${i}.${t}`)),
  ];

  it.each([...q3Names.map((t) => [Q3, t] as const), ...q25Names.map((t) => [Q25, t] as const)])(
    "%s mmproj without %s is rejected",
    async (family, name) => {
      const mmproj = await writeProj(family, dropTensor(name));
      const e = await rejects(
        readGguf(mmproj).then(inspectMmproj),
        "ERR_MODEL_INVALID",
        new RegExp(`missing tensors: .*${name.replace(/\./g, "\\.")}`),
      );
      expect(e.details.missingTensors).toContain(name);
    },
  );

  it.each([
    [
      Q3,
      "F16 position embedding",
      retypeTensor("v.position_embd.weight", "F16"),
      /v\.position_embd\.weight has type F16, llama\.cpp requires F32/,
    ],
    [
      Q3,
      "non-square position grid",
      all(dropTensor("v.position_embd.weight"), addTensor("v.position_embd.weight", [32, 15])),
      /expected \[32, G\*G\]/,
    ],
    [
      Q3,
      "qkv of the wrong width",
      all(dropTensor("v.blk.1.attn_qkv.weight"), addTensor("v.blk.1.attn_qkv.weight", [32, 64], "F16")),
      /v\.blk\.1\.attn_qkv\.weight has shape \[32, 64\], expected \[32, 96\]/,
    ],
    [
      Q3,
      "deepstack layer without fc1",
      all(dropTensor("v.deepstack.2.fc1.weight")),
      /deepstack layer 2 has .* but no v\.deepstack\.2\.fc1\.weight/,
    ],
    [
      Q3,
      "deepstack layer beyond block_count",
      addTensor("v.deepstack.7.fc1.weight", [128, 128], "F16"),
      /v\.deepstack\.7\.fc1\.weight refers to vision layer 7/,
    ],
    [
      Q3,
      "block_count typed i32 (llama.cpp aborts)",
      setKey("clip.vision.block_count", gguf.i32(3)),
      /block_count has type i32, llama\.cpp requires u32/,
    ],
    [
      Q3,
      "has_vision_encoder typed u8 (llama.cpp aborts)",
      setKey("clip.has_vision_encoder", gguf.u8(1)),
      /has_vision_encoder has type u8/,
    ],
    [Q3, "spatial merge 3", setKey("clip.vision.spatial_merge_size", gguf.u32(3)), /spatial_merge_size 3/],
    [Q3, "class embedding present", addTensor("v.class_embd", [32]), /v\.class_embd is present/],
    [
      Q3,
      "image_mean of 2 values",
      setKey("clip.vision.image_mean", gguf.arr("f32", [0.5, 0.5])),
      /image_mean has 2 elements, expected 3/,
    ],
    [Q25, "patch bias present", addTensor("v.patch_embd.bias", [32]), /v\.patch_embd\.bias is present/],
    [Q25, "n_wa_pattern missing", deleteKey("clip.vision.n_wa_pattern"), /missing key clip\.vision\.n_wa_pattern/],
    [
      Q25,
      "projection_dim different from the merger output",
      setKey("clip.vision.projection_dim", gguf.u32(32)),
      /projection_dim 32 differs from the merger output 64/,
    ],
    [Q25, "an F32 patch embedding (fine)", retypeTensor("v.patch_embd.weight.1", "F32"), null],
  ] as const)("%s mmproj with %s", async (family, _name, mut, re) => {
    const mmproj = await writeProj(family, mut as Mutation);
    const run = readGguf(mmproj).then(inspectMmproj);
    if (re === null) await expect(run).resolves.toMatchObject({ projectorType: "qwen2.5vl_merger" });
    else await rejects(run, "ERR_MODEL_INVALID", re);
  });

  it("Qwen2.5-VL vision FF equal to C is rejected (llama.cpp swaps up/down)", async () => {
    const cfg = miniConfig(Q25);
    const eq = { ...cfg, vision: { ...cfg.vision, nFf: cfg.vision.nEmbd } };
    const mmproj = await writeProj(Q25, undefined, eq);
    await rejects(
      readGguf(mmproj).then(inspectMmproj),
      "ERR_MODEL_INVALID",
      /feed_forward_length equals embedding_length \(32\)/,
    );
  });
});

describe("pair checks", () => {
  it.each([
    [Q3, Q25, /"qwen2\.5vl_merger".*belongs to qwen2vl models, but the model .* is qwen3vl/],
    [Q25, Q3, /"qwen3vl_merger".*belongs to qwen3vl models, but the model .* is qwen2vl/],
  ] as const)("%s text with a %s projector -> ERR_MMPROJ_MISMATCH", async (t, p, re) => {
    const { model, mmproj } = await writePair({ text: t, proj: p });
    await rejects(inspectModelPair(model, mmproj), "ERR_MMPROJ_MISMATCH", re);
  });

  it("a projector for a wider model -> ERR_MMPROJ_MISMATCH with both widths", async () => {
    const cfg = miniConfig(Q3);
    const wide = { ...cfg, text: { ...cfg.text, nEmbd: 96 } };
    const { model, mmproj } = await writePair({ projCfg: wide });
    const e = await rejects(
      inspectModelPair(model, mmproj),
      "ERR_MMPROJ_MISMATCH",
      /outputs 288 values per token \(96 x \(1 \+ 2 deepstack\)\).*expects 192 \(64 x \(1 \+ 2 deepstack\)\)/,
    );
    expect(e.details).toMatchObject({ textEmbd: 64, mmprojOutputDim: 96, textInput: 192, mmprojOutput: 288 });
  });

  it("a deepstack count that differs -> ERR_MMPROJ_MISMATCH", async () => {
    const cfg = miniConfig(Q3);
    const one = { ...cfg, vision: { ...cfg.vision, deepstackLayers: [2] } };
    const { model, mmproj } = await writePair({ projCfg: one });
    const e = await rejects(
      inspectModelPair(model, mmproj),
      "ERR_MMPROJ_MISMATCH",
      /outputs 128 .*\(64 x \(1 \+ 1 deepstack\)\).*expects 192/,
    );
    expect(e.details).toMatchObject({ textDeepstack: 2, mmprojDeepstack: 1 });
  });

  it("checkPair works on facts alone", async () => {
    const { model, mmproj } = await writePair({ text: Q25 });
    const t = inspectTextModel(await readGguf(model));
    const p = inspectMmproj(await readGguf(mmproj));
    expect(checkPair(t, p)).toEqual({ architecture: "qwen2vl", projectorType: "qwen2.5vl_merger", nEmbdInput: 64 });
    expect(() => checkPair({ ...t, nEmbd: 128, nEmbdInput: 128 }, p)).toThrow(
      expect.objectContaining({ code: "ERR_MMPROJ_MISMATCH" }),
    );
  });
});
