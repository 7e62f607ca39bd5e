/**
 * kvIdentity: every input that changes the KV bytes changes the key (a miss), and nothing
 * else does (a hit across processes needs one spelling per meaning).
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CACHE_FORMAT_VERSION,
  kvIdentity,
  kvIdentityRecord,
  packageVersion,
  readBuildStamp,
  type KvIdentityInputs,
} from "../../src/cache/identity";

function base(): KvIdentityInputs {
  return {
    files: { model: "m".repeat(64), mmproj: "p".repeat(64), video: "v".repeat(64) },
    packageVersion: "0.1.0",
    build: { release: { tag: "b6000", nodeLlamaCpp: "3.0.0" }, gpu: "cpu", native: false, dl: false, flags: ["A=ON"] },
    loadOptions: {
      model: "/models/a.gguf",
      mmproj: "/models/a-mmproj.gguf",
      gpu: "auto",
      gpuLayers: -1,
      mmprojGpu: true,
      threads: 4,
      contextSize: 16384,
      batchSize: 2048,
      ubatchSize: 512,
      flashAttention: "auto",
      imageMaxTokens: 16384,
      imageMinTokens: 0,
      kvCacheType: "f16",
      parallel: 8,
      warmup: true,
      onLog: () => {},
      signal: new AbortController().signal,
    },
    nativeInfo: {
      architecture: "qwen3vl",
      contextSize: 16384,
      batchSize: 2048,
      ubatchSize: 512,
      parallel: 8,
      nCtxTrain: 262144,
      flashAttention: true,
      kvType: "f16",
      systemInfo: "CPU : AVX2 = 1",
      addon: { path: "/x/build/Release/timelens.node", variant: "cpu", source: "build" },
      gpu: {
        requested: "auto",
        backend: null,
        layerDevices: [],
        offloadedLayers: 0,
        totalLayers: 29,
        projectorDevice: null,
        reason: null,
        skipped: [],
      },
    },
    profile: "timelens-qwen3vl",
    layout: { indices: [0, 2, 4, 6], width: 448, height: 252, segments: [{ text: "<|im_start|>" }] },
    decoder: "ffmpeg version 4.1",
  };
}

type Mutate = (i: KvIdentityInputs) => void;
const opts = (i: KvIdentityInputs) => i.loadOptions as Record<string, unknown>;
const info = (i: KvIdentityInputs) => i.nativeInfo as Record<string, unknown>;
const gpuInfo = (i: KvIdentityInputs) => info(i).gpu as Record<string, unknown>;
const build = (i: KvIdentityInputs) => i.build as Record<string, unknown>;

/** Each input the key must cover, with a change of it. */
const CHANGES: Array<[string, Mutate]> = [
  ["model file content", (i) => (i.files.model = "n".repeat(64))],
  ["mmproj file content", (i) => (i.files.mmproj = "q".repeat(64))],
  ["video content", (i) => (i.files.video = "w".repeat(64))],
  ["package version", (i) => (i.packageVersion = "0.2.0")],
  ["llama.cpp release", (i) => (build(i).release = { tag: "b6001", nodeLlamaCpp: "3.0.0" })],
  ["build variant", (i) => (build(i).gpu = "vulkan")],
  ["build flags", (i) => (build(i).flags = ["A=ON", "GGML_NATIVE=ON"])],
  ["native CPU build", (i) => (build(i).native = true)],
  ["no build stamp", (i) => (i.build = null)],
  ["flash attention option", (i) => (opts(i).flashAttention = false)],
  ["flash attention used", (i) => (info(i).flashAttention = false)],
  ["gpuLayers", (i) => (opts(i).gpuLayers = 10)],
  ["mmprojGpu", (i) => (opts(i).mmprojGpu = false)],
  ["gpu preference", (i) => (opts(i).gpu = false)],
  ["offloaded layers", (i) => (gpuInfo(i).offloadedLayers = 12)],
  ["layer devices", (i) => (gpuInfo(i).layerDevices = [{ backend: "CUDA", index: 0, name: "H200" }])],
  ["projector device", (i) => (gpuInfo(i).projectorDevice = { backend: "CUDA", index: 1, name: "H200" })],
  ["gpu backend", (i) => (gpuInfo(i).backend = "CUDA")],
  ["batch size option", (i) => (opts(i).batchSize = 512)],
  ["batch size used", (i) => (info(i).batchSize = 512)],
  ["ubatch size option", (i) => (opts(i).ubatchSize = 256)],
  ["ubatch size used", (i) => (info(i).ubatchSize = 256)],
  ["image max tokens", (i) => (opts(i).imageMaxTokens = 4096)],
  ["image min tokens", (i) => (opts(i).imageMinTokens = 64)],
  ["KV cache type option", (i) => (opts(i).kvCacheType = "q8_0")],
  ["KV cache type used", (i) => (info(i).kvType = "q8_0")],
  ["context size option", (i) => (opts(i).contextSize = 8192)],
  ["context size used", (i) => (info(i).contextSize = 8192)],
  ["parallel sequences", (i) => (opts(i).parallel = 1)],
  ["parallel used", (i) => (info(i).parallel = 1)],
  ["threads", (i) => (opts(i).threads = 2)],
  ["system info", (i) => (info(i).systemInfo = "CPU : AVX512 = 1")],
  [
    "addon variant",
    (i) => (info(i).addon = { path: "/x/build/Release/timelens.node", variant: "cuda", source: "build" }),
  ],
  ["an option added later", (i) => (opts(i).someFutureOption = 3)],
  ["an info field added later", (i) => (info(i).someFutureField = "x")],
  ["profile", (i) => (i.profile = "timelens-qwen25vl")],
  ["frame indices", (i) => (i.layout = { ...(i.layout as object), indices: [0, 2, 4, 8] })],
  ["frame size", (i) => (i.layout = { ...(i.layout as object), width: 420 })],
  ["prompt segments", (i) => (i.layout = { ...(i.layout as object), segments: [{ text: "<|im_start|>system" }] })],
  ["decoder", (i) => (i.decoder = "ffmpeg version 6.1")],
  ["decoder unknown", (i) => (i.decoder = null)],
];

describe("kvIdentity", () => {
  const key = kvIdentity(base());

  test("is 40 hex digits and stable for equal inputs", () => {
    expect(key).toMatch(/^[0-9a-f]{40}$/);
    expect(kvIdentity(base())).toBe(key);
  });

  test.each(CHANGES)("a change of %s is a miss", (_name, mutate) => {
    const changed = base();
    mutate(changed);
    expect(kvIdentity(changed)).not.toBe(key);
  });

  test("every change above gives its own key", () => {
    const keys = CHANGES.map(([, mutate]) => {
      const changed = base();
      mutate(changed);
      return kvIdentity(changed);
    });
    expect(new Set([key, ...keys]).size).toBe(CHANGES.length + 1);
  });

  test("the format version is part of the key", () => {
    expect(kvIdentityRecord(base()).version).toBe(CACHE_FORMAT_VERSION);
    expect(CACHE_FORMAT_VERSION).toBeGreaterThanOrEqual(2);
  });

  test("key order, callbacks, signals, paths and the build run's time do not change it", () => {
    const same = base();
    const o = opts(same);
    same.loadOptions = Object.fromEntries(Object.entries(o).reverse());
    opts(same).onLog = () => console.log("other");
    opts(same).onProgress = () => {};
    opts(same).signal = AbortSignal.abort();
    opts(same).model = "/elsewhere/a.gguf";
    opts(same).mmproj = "/elsewhere/a-mmproj.gguf";
    opts(same).addonPath = "/elsewhere/timelens.node";
    opts(same).cacheDir = "/tmp/other-cache";
    opts(same).cacheMaxBytes = 1;
    build(same).builtAt = "2030-01-01T00:00:00.000Z";
    build(same).seconds = 12.5;
    (info(same).addon as Record<string, unknown>).path = "/other/place/timelens.node";
    gpuInfo(same).skipped = [{ path: "/p/timelens.node", variant: "cuda", reason: "no driver" }];
    expect(kvIdentity(same)).toBe(key);
  });

  test("an undefined option is the same as an absent one; NaN is not a number that matches", () => {
    const a = base();
    opts(a).extra = undefined;
    expect(kvIdentity(a)).toBe(key);
    const b = base();
    opts(b).contextSize = Number.NaN;
    expect(kvIdentity(b)).not.toBe(key);
  });
});

describe("identity inputs read from disk", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "timelens-identity-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("packageVersion is package.json's", () => {
    expect(packageVersion()).toBe(require("../../package.json").version);
  });

  test("readBuildStamp reads timelens.json next to the addon, null without one", () => {
    mkdirSync(join(dir, "Release"));
    const addon = join(dir, "Release", "timelens.node");
    expect(readBuildStamp(addon)).toBeNull();
    writeFileSync(join(dir, "Release", "timelens.json"), JSON.stringify({ release: { tag: "b1" }, gpu: "cpu" }));
    expect(readBuildStamp(addon)).toEqual({ release: { tag: "b1" }, gpu: "cpu" });
    writeFileSync(join(dir, "Release", "timelens.json"), "[1,2]");
    expect(readBuildStamp(addon)).toBeNull();
  });
});
