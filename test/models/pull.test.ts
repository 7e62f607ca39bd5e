/**
 * pullModel and Grounder.load("hf:...") against a local fake hub: a tiny transformers checkpoint
 * (sharded, served as LFS) is downloaded, converted and loaded; a repo of ready GGUFs is only
 * downloaded. Idempotency, abort during conversion, and the models cache layout.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { copyFile } from "node:fs/promises";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTinyCheckpoint } from "../../scripts/fixtures/hf-checkpoint";
import { readGgufSync } from "../../src/gguf/reader";
import { Grounder } from "../../src/session";
import { listModels, removeModel } from "../../src/models/cache";
import { pullModel, type PullProgress } from "../../src/models/pull";
import { makeClip } from "../helpers/clips";
import { fixturePair } from "../helpers/models";
import { FakeHub, type FakeFile } from "../hub/fake-hub";

const CKPT_COMMIT = "1111111111111111111111111111111111111111";
const GGUF_COMMIT = "2222222222222222222222222222222222222222";

let hub: FakeHub;
let work: string;
let hubCache: string;
let modelsDir: string;

async function filesOf(dir: string): Promise<FakeFile[]> {
  const names = await readdir(dir);
  return names.map((name) => ({
    path: name,
    data: readFileSync(join(dir, name)),
    lfs: name.endsWith(".safetensors") || name.endsWith(".gguf"),
  }));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tl-pull-"));
  const ckpt = join(work, "ckpt");
  await writeTinyCheckpoint(ckpt, { family: "qwen3vl", layout: "new", shards: 2 });
  hub = new FakeHub();
  hub.add({ name: "acme/TinyLens-Qwen3VL", commit: CKPT_COMMIT, files: await filesOf(ckpt) });
  const pair = fixturePair("tiny-qwen3vl");
  hub.add({
    name: "acme/Tiny-GGUF",
    commit: GGUF_COMMIT,
    files: [
      { path: "Tiny-Q8_0.gguf", data: readFileSync(pair.model), lfs: true },
      { path: "mmproj-Tiny-F16.gguf", data: readFileSync(pair.mmproj), lfs: true },
      { path: "README.md", data: Buffer.from("# gguf") },
    ],
  });
  await hub.start();
});
afterAll(async () => {
  await hub.stop();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  hubCache = mkdtempSync(join(work, "hf-"));
  modelsDir = mkdtempSync(join(work, "models-"));
  hub.log.length = 0;
});

const hubOpts = () => ({ endpoint: hub.url, cacheDir: hubCache, retryDelayMs: 5 });

test("checkpoint repo: download -> convert into the models cache; a second pull downloads and converts nothing", async () => {
  const stages = new Set<string>();
  const r = await pullModel({
    repo: "acme/TinyLens-Qwen3VL",
    hub: hubOpts(),
    modelsDir,
    onProgress: (p: PullProgress) => stages.add(p.stage),
  });
  const dir = join(modelsDir, "acme", "TinyLens-Qwen3VL", CKPT_COMMIT);
  expect(r).toMatchObject({
    commit: CKPT_COMMIT,
    source: "checkpoint",
    converted: true,
    model: join(dir, "TinyLens-Qwen3VL-F16.gguf"),
    mmproj: join(dir, "mmproj-TinyLens-Qwen3VL-F16.gguf"),
  });
  expect(r.downloadedBytes).toBeGreaterThan(0);
  expect([...stages]).toEqual(expect.arrayContaining(["download", "convert-text", "convert-mmproj"]));
  expect(readdirSync(dir).sort()).toEqual([
    "TinyLens-Qwen3VL-F16.gguf",
    "manifest.json",
    "mmproj-TinyLens-Qwen3VL-F16.gguf",
  ]);
  const manifest = JSON.parse(readFileSync(r.manifest, "utf8"));
  expect(manifest).toMatchObject({
    repo: "acme/TinyLens-Qwen3VL",
    commit: CKPT_COMMIT,
    family: "qwen3vl",
    source: "checkpoint",
  });
  // Both shards and the index came through the HF cache layout.
  const snap = readdirSync(join(hubCache, "models--acme--TinyLens-Qwen3VL", "snapshots", CKPT_COMMIT)).sort();
  expect(snap.filter((f) => f.endsWith(".safetensors")).length).toBe(2);
  expect(snap).toContain("model.safetensors.index.json");

  const before = hub.log.length;
  const again = await pullModel({ repo: "acme/TinyLens-Qwen3VL", hub: hubOpts(), modelsDir });
  expect(again).toMatchObject({ model: r.model, mmproj: r.mmproj, downloadedBytes: 0, converted: false });
  expect(hub.log.slice(before).filter((l) => l.url.includes("/resolve/") || l.server === "blob")).toEqual([]);

  const listed = await listModels(modelsDir);
  expect(listed.map((m) => [m.repo, m.commit])).toEqual([["acme/TinyLens-Qwen3VL", CKPT_COMMIT]]);
  await removeModel("acme/TinyLens-Qwen3VL", modelsDir);
  expect(await listModels(modelsDir)).toEqual([]);
});

test("an abort during conversion leaves no GGUF, temp or manifest in the models cache; the next pull completes", async () => {
  const controller = new AbortController();
  const run = pullModel({
    repo: "acme/TinyLens-Qwen3VL",
    hub: hubOpts(),
    modelsDir,
    signal: controller.signal,
    onProgress: (p) => {
      if (p.stage === "convert-text" && p.done > 0) controller.abort();
    },
  });
  await expect(run).rejects.toMatchObject({ code: "ERR_ABORTED" });
  const dir = join(modelsDir, "acme", "TinyLens-Qwen3VL", CKPT_COMMIT);
  expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  const r = await pullModel({ repo: "acme/TinyLens-Qwen3VL", hub: hubOpts(), modelsDir });
  expect(r.converted).toBe(true);
  expect(r.downloadedBytes).toBe(0); // the checkpoint was already in the HF cache
});

test("--quant: the quantizer writes through a temp name, the manifest records it, a repeat pull does nothing", async () => {
  const calls: Array<{ input: string; output: string; type: string }> = [];
  const quantize = async (req: { input: string; output: string; type: string }) => {
    calls.push(req);
    await copyFile(req.input, req.output); // stands in for quantizeModel: this test is about pull's bookkeeping
  };
  const r = await pullModel({ repo: "acme/TinyLens-Qwen3VL", quant: "q4_k_m", quantize, hub: hubOpts(), modelsDir });
  const dir = join(modelsDir, "acme", "TinyLens-Qwen3VL", CKPT_COMMIT);
  expect(r).toMatchObject({ model: join(dir, "TinyLens-Qwen3VL-Q4_K_M.gguf"), converted: true, quantized: true });
  expect(calls).toHaveLength(1);
  expect(calls[0].input).toBe(join(dir, "TinyLens-Qwen3VL-F16.gguf"));
  expect(calls[0].output).toMatch(/TinyLens-Qwen3VL-Q4_K_M\.gguf\.partial-\d+-[0-9a-f]+$/);
  expect(calls[0].type).toBe("Q4_K_M");
  const manifest = JSON.parse(readFileSync(r.manifest, "utf8"));
  expect(manifest.files).toContainEqual(
    expect.objectContaining({ role: "model", type: "Q4_K_M", quantizedFrom: "F16" }),
  );
  const again = await pullModel({
    repo: "acme/TinyLens-Qwen3VL",
    quant: "Q4_K_M",
    quantize,
    hub: hubOpts(),
    modelsDir,
  });
  expect(again).toMatchObject({ model: r.model, converted: false, quantized: false, downloadedBytes: 0 });
  expect(calls).toHaveLength(1);
});

test("--quant without a quantizer uses the addon's quantizeModel (Q8_0 tensors in the result)", async () => {
  const fresh = mkdtempSync(join(work, "models-q-"));
  const r = await pullModel({ repo: "acme/TinyLens-Qwen3VL", quant: "Q8_0", hub: hubOpts(), modelsDir: fresh });
  expect(r).toMatchObject({ quantized: true, converted: true });
  expect(r.model).toMatch(/TinyLens-Qwen3VL-Q8_0\.gguf$/);
  const g = readGgufSync(r.model, { skipLargeArrays: true });
  expect(g.metadata["general.file_type"]).toBe(7);
  expect(g.tensors.some((t) => t.type.name === "Q8_0")).toBe(true);
});

test("GGUF repo: hf:owner/repo:Q8_0 picks that text GGUF and the repo's mmproj, download only", async () => {
  const r = await pullModel({ repo: "acme/Tiny-GGUF", quant: "q8_0", hub: hubOpts(), modelsDir });
  const snap = join(hubCache, "models--acme--Tiny-GGUF", "snapshots", GGUF_COMMIT);
  expect(r).toMatchObject({
    source: "gguf",
    converted: false,
    model: join(snap, "Tiny-Q8_0.gguf"),
    mmproj: join(snap, "mmproj-Tiny-F16.gguf"),
  });
  await expect(pullModel({ repo: "acme/Tiny-GGUF", quant: "Q4_K_M", hub: hubOpts(), modelsDir })).rejects.toMatchObject(
    {
      code: "ERR_HUB_NOT_FOUND",
      details: { available: ["Q8_0"] },
    },
  );
});

test("Grounder.load({ model: 'hf:...' }) pulls, converts and grounds without an mmproj path", async () => {
  const loads: string[] = [];
  const g = await Grounder.load({
    model: "hf:acme/TinyLens-Qwen3VL",
    pull: { hub: hubOpts(), modelsDir },
    onPullProgress: (p) => loads.push(p.stage),
    contextSize: 2048,
    threads: 2,
  });
  try {
    expect(g.info.architecture).toBe("qwen3vl");
    expect(loads).toContain("convert-text");
    const result = await g.ground(makeClip({ seconds: 4 }), "a red box moves", {
      totalTokens: 128,
      minTokens: 4,
      maxNewTokens: 8,
    });
    expect(typeof result.text).toBe("string");
    expect(result.frames.count).toBeGreaterThan(0);
  } finally {
    await g.dispose();
  }
  const gg = await Grounder.load({
    model: "hf:acme/Tiny-GGUF:Q8_0",
    pull: { hub: hubOpts(), modelsDir },
    contextSize: 1024,
    threads: 2,
  });
  expect(gg.info.projectorType).toBe("qwen3vl_merger");
  await gg.dispose();
});

test("the disk need comes from config.json, fetched first: an unknown architecture fails before any weight byte", async () => {
  const bad = join(work, "bad-arch");
  await writeTinyCheckpoint(bad, { family: "qwen3vl", layout: "new", shards: 1 });
  const config = JSON.parse(readFileSync(join(bad, "config.json"), "utf8")) as Record<string, unknown>;
  const files = (await filesOf(bad)).map((f) =>
    f.path === "config.json"
      ? { ...f, data: Buffer.from(JSON.stringify({ ...config, architectures: ["LlamaForCausalLM"] })) }
      : f,
  );
  hub.add({ name: "acme/Not-A-VL", commit: "3333333333333333333333333333333333333333", files });
  await expect(pullModel({ repo: "acme/Not-A-VL", hub: hubOpts(), modelsDir })).rejects.toMatchObject({
    code: "ERR_CHECKPOINT_UNSUPPORTED",
    details: { architecture: "LlamaForCausalLM" },
  });
  // a small file may take a HEAD and a GET; the only file asked for is config.json
  const fetched = new Set(hub.log.filter((l) => l.url.includes("/resolve/")).map((l) => l.url.split("/").pop()));
  expect([...fetched]).toEqual(["config.json"]);
  expect(hub.blobRequests()).toEqual([]);
});
