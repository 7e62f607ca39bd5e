/**
 * src/defaults.ts and the device choice in src/native/loader.ts: pure functions, no addon.
 * One owner per default (docs/architecture.md "Defaults"), complete objects for the addon.
 */
import { GENERATION_DEFAULTS, LOAD_DEFAULTS, resolveGeneration, resolveLoadOptions } from "../../src/defaults";
import { SHARED_CONTROL_TOKENS, PROMPT_SPECIAL_TOKENS, QWEN_VL_SPECIAL_TOKENS } from "../../src/gguf/specials";
import { chooseGpuDevices, type NativeDevice } from "../../src/native";
import { QWEN_CONTROL_TOKENS } from "../../src/prompt/render";

const dev = (name: string, backend: string, type: NativeDevice["type"]): NativeDevice => ({
  name,
  description: name,
  backend,
  type,
  memoryFree: 0,
  memoryTotal: 0,
});

describe("resolveLoadOptions", () => {
  const paths = { model: "/m.gguf", mmproj: "/p.gguf" };
  test("fills every field the addon requires from the one set of defaults", () => {
    const r = resolveLoadOptions(paths, { nCtxTrain: 262144, gpuDevices: [], hardwareThreads: 6 });
    expect(r).toEqual({
      ...paths,
      gpuLayers: 0,
      threads: 6,
      contextSize: LOAD_DEFAULTS.contextSize,
      batchSize: LOAD_DEFAULTS.batchSize,
      flashAttention: -1,
      imageMinTokens: LOAD_DEFAULTS.imageMinTokens,
      imageMaxTokens: LOAD_DEFAULTS.imageMaxTokens,
      warmup: true,
      parallel: LOAD_DEFAULTS.parallel,
      layerDevices: [],
      projectorDevice: "",
    });
    expect(LOAD_DEFAULTS.contextSize).toBe(16384);
  });

  test("the context default is capped by the model's training context", () => {
    expect(resolveLoadOptions(paths, { nCtxTrain: 4096, gpuDevices: [] }).contextSize).toBe(4096);
    expect(resolveLoadOptions({ ...paths, contextSize: 9000 }, { nCtxTrain: 4096, gpuDevices: [] }).contextSize).toBe(
      9000,
    );
  });

  test("GPU devices: layers and projector go to the chosen devices unless turned off", () => {
    const gpus = [dev("CUDA0", "CUDA", "gpu"), dev("CUDA1", "CUDA", "gpu")];
    const all = resolveLoadOptions(paths, { nCtxTrain: 0, gpuDevices: gpus });
    expect(all).toMatchObject({ gpuLayers: -1, layerDevices: ["CUDA0", "CUDA1"], projectorDevice: "CUDA0" });
    const cpuText = resolveLoadOptions({ ...paths, gpuLayers: 0, mmprojGpu: true }, { nCtxTrain: 0, gpuDevices: gpus });
    expect(cpuText).toMatchObject({ gpuLayers: 0, layerDevices: [], projectorDevice: "CUDA0" });
    const cpuVision = resolveLoadOptions({ ...paths, mmprojGpu: false }, { nCtxTrain: 0, gpuDevices: gpus });
    expect(cpuVision).toMatchObject({ layerDevices: ["CUDA0", "CUDA1"], projectorDevice: "" });
  });

  test.each([
    ["contextSize", Number.NaN],
    ["contextSize", 8],
    ["batchSize", 1.5],
    ["parallel", 65],
    ["threads", -2],
    ["gpuLayers", -3],
    ["imageMaxTokens", 0],
  ])("%s = %p is ERR_INVALID_ARGUMENT", (key, value) => {
    expect(() => resolveLoadOptions({ ...paths, [key]: value }, { nCtxTrain: 0, gpuDevices: [] })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: expect.stringContaining(key) }),
    );
  });
});

describe("resolveGeneration", () => {
  test("defaults, and given values kept", () => {
    expect(resolveGeneration()).toEqual(GENERATION_DEFAULTS);
    expect(GENERATION_DEFAULTS).toMatchObject({
      maxTokens: 512,
      temperature: 0,
      topK: 40,
      topP: 0.95,
      minP: 0.05,
      seed: 0,
    });
    expect(resolveGeneration({ maxTokens: 7, topK: undefined, seed: 2 ** 32 - 1, stop: ["x"] })).toMatchObject({
      maxTokens: 7,
      topK: 40,
      seed: 2 ** 32 - 1,
      stop: ["x"],
    });
  });

  test.each([
    ["seed", Number.NaN],
    ["seed", -1],
    ["seed", 0.5],
    ["seed", 2 ** 32],
    ["maxTokens", 0],
    ["temperature", Number.POSITIVE_INFINITY],
    ["topP", 1.5],
    ["stop", [1]],
  ])("%s = %p is ERR_INVALID_ARGUMENT", (key, value) => {
    expect(() => resolveGeneration({ [key]: value })).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
  });
});

describe("chooseGpuDevices (the one place devices are chosen)", () => {
  const cpu = dev("CPU", "CPU", "cpu");
  test("every discrete GPU, else the integrated GPUs of one backend; never RPC", () => {
    const cuda = [dev("CUDA0", "CUDA", "gpu"), dev("CUDA1", "CUDA", "gpu")];
    expect(chooseGpuDevices([cpu, ...cuda, dev("Vulkan0", "Vulkan", "igpu")], null).map((d) => d.name)).toEqual([
      "CUDA0",
      "CUDA1",
    ]);
    const igpus = [dev("Vulkan0", "Vulkan", "igpu"), dev("Other0", "Other", "igpu")];
    expect(chooseGpuDevices([cpu, ...igpus], null).map((d) => d.name)).toEqual(["Vulkan0"]);
    expect(chooseGpuDevices([cpu, dev("RPC0", "RPC", "gpu")], null)).toEqual([]);
  });

  test("limited to one backend when asked (case-insensitive)", () => {
    const devices = [dev("CUDA0", "CUDA", "gpu"), dev("Vulkan0", "Vulkan", "gpu")];
    expect(chooseGpuDevices(devices, "vulkan").map((d) => d.name)).toEqual(["Vulkan0"]);
    expect(chooseGpuDevices(devices, "MTL")).toEqual([]);
  });
});

test("one special-token list: the renderer's and the model's lists derive from specials.ts", () => {
  expect(QWEN_CONTROL_TOKENS).toBe(SHARED_CONTROL_TOKENS);
  expect(SHARED_CONTROL_TOKENS).toHaveLength(22);
  for (const t of PROMPT_SPECIAL_TOKENS) expect(QWEN_VL_SPECIAL_TOKENS.some((s) => s.text === t)).toBe(true);
  expect([...PROMPT_SPECIAL_TOKENS].sort()).toEqual(
    [
      "<|endoftext|>",
      "<|im_start|>",
      "<|im_end|>",
      "<|vision_start|>",
      "<|vision_end|>",
      "<|vision_pad|>",
      "<|image_pad|>",
      "<|video_pad|>",
    ].sort(),
  );
});
