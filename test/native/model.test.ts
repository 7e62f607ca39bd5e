/**
 * The native core through VisionModel, on both tiny random-weight families: facts, frame
 * merging, deterministic greedy generation, streaming order, cancellation, dispose.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { VisionModel } from "../../src/runtime/model";
import { isTimelensError } from "../../src/errors";
import type { NativeChunk } from "../../src/native";
import { FACTOR, fixturePair, syntheticFrame } from "../helpers/models";

const FAMILIES = [
  { name: "tiny-qwen3vl" as const, arch: "qwen3vl", projector: "qwen3vl_merger", patch: 16 },
  { name: "tiny-qwen25vl" as const, arch: "qwen2vl", projector: "qwen2.5vl_merger", patch: 14 },
];

// docs/reference.md "Prompt layout and special tokens": both families share these ids.
const SPEC_IDS: Record<string, number> = {
  "<|endoftext|>": 151643,
  "<|im_start|>": 151644,
  "<|im_end|>": 151645,
  "<|vision_start|>": 151652,
  "<|vision_end|>": 151653,
  "<|image_pad|>": 151655,
  "<|video_pad|>": 151656,
};

function promptChunks(factor: number): NativeChunk[] {
  const side = factor * 7; // 7x7 merged tokens per frame, already at a size libmtmd keeps
  const f = (seed: number) => syntheticFrame(side, side, seed);
  return [
    { text: "<|im_start|>user\n", special: true },
    { text: "<0.5 seconds>", special: false },
    { frames: [f(0), f(1)], mergeable: true },
    { text: "<1.5 seconds>", special: false },
    { frames: [f(2), f(3)], mergeable: true },
    { text: "and one picture:", special: false },
    { frames: [f(4)], mergeable: false },
    { text: "Describe it.<|im_end|>\n<|im_start|>assistant\n", special: true },
  ];
}

describe.each(FAMILIES)("$name", ({ name, arch, projector, patch }) => {
  let model: VisionModel;
  const factor = FACTOR[name];

  beforeAll(async () => {
    model = await VisionModel.load({ ...fixturePair(name), contextSize: 2048, threads: 2 });
  });
  afterAll(async () => {
    await model?.[Symbol.asyncDispose]();
  });

  test("reports its facts", () => {
    const info = model.info;
    expect(info.architecture).toBe(arch);
    expect(info.projectorType).toBe(projector);
    expect(info.patchSize).toBe(patch);
    expect(info.spatialMerge).toBe(2);
    expect(info.temporalPatch).toBe(2);
    expect(info.usesMrope).toBe(true);
    expect(info.nCtxTrain).toBeGreaterThan(0);
    expect(info.contextSize).toBe(2048);
    expect(info.chatTemplate).toContain("<|im_start|>");
    expect(info.fileSizes.model).toBeGreaterThan(1000);
    expect(info.fileSizes.mmproj).toBeGreaterThan(1000);
    for (const [text, id] of Object.entries(SPEC_IDS)) expect(info.specialTokens[text]).toBe(id);
  });

  test("says which device runs what (no GPU device here: all on the CPU)", () => {
    const { gpu } = model.info;
    expect(gpu.requested).toBe("auto");
    expect(gpu.totalLayers).toBe(model.info.nLayer + 1);
    if (gpu.backend === null) {
      expect(gpu.offloadedLayers).toBe(0);
      expect(gpu.layerDevices).toEqual([]);
      expect(gpu.projectorDevice).toBeNull();
      expect(typeof gpu.reason).toBe("string");
    } else {
      expect(gpu.layerDevices.length).toBeGreaterThan(0);
      expect(gpu.layerDevices.every((d) => d.backend === gpu.backend)).toBe(true);
    }
  });

  test("reportMargins gives top1 - top2 logit per greedy step", async () => {
    const r = await model.exclusive(async (ops) => {
      ops.reset();
      await ops.evaluate([{ text: "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n", special: true }]);
      return ops.generate({ maxTokens: 4, reportMargins: true });
    });
    expect(r.margins!.length).toBeGreaterThanOrEqual(r.tokens.length);
    for (const m of r.margins!) expect(m).toBeGreaterThanOrEqual(0);
  });

  test("merges each pair into one temporal patch and keeps the frame size", async () => {
    const r = await model.exclusive(async (ops) => {
      ops.reset();
      return ops.evaluate(promptChunks(factor));
    });
    const images = r.chunks.filter((c) => c.type === "image");
    // 4 mergeable frames -> 2 chunks, plus the single image.
    expect(images).toHaveLength(3);
    for (const c of images) expect(c.nTokens).toBe(7 * 7);
    // libmtmd wraps every image in <|vision_start|> ... <|vision_end|>.
    const idx = r.chunks.findIndex((c) => c.type === "image");
    expect(Array.from(r.chunks[idx - 1].tokens ?? []).pop()).toBe(SPEC_IDS["<|vision_start|>"]);
    expect(Array.from(r.chunks[idx + 1].tokens ?? [])[0]).toBe(SPEC_IDS["<|vision_end|>"]);
    expect(r.timings.images).toBe(3);
    expect(r.timings.imageTokens).toBe(3 * 49);
    expect(r.nCells).toBe(r.chunks.reduce((s, c) => s + c.nTokens, 0));
    // M-RoPE: an image advances positions by max(h, w) = 7, not by its 49 cells.
    expect(r.nPast).toBe(r.chunks.reduce((s, c) => s + c.nPos, 0));
    expect(r.nPast).toBeLessThan(r.nCells);
  });

  async function greedy(maxTokens = 16, onToken?: (t: string, id: number) => void, signal?: AbortSignal) {
    return model.exclusive(async (ops) => {
      ops.reset();
      await ops.evaluate(promptChunks(factor));
      return ops.generate({ maxTokens, onToken, signal });
    }, signal);
  }

  test("greedy generation is deterministic", async () => {
    const a = await greedy();
    const b = await greedy();
    expect(a.tokens.length).toBeGreaterThan(0);
    expect(a.tokens.length).toBeLessThanOrEqual(16);
    // Either it ran to maxTokens, or it stopped early because the model ended its turn (no
    // stop sequences were given, and 16 tokens fit the context): the reason must say which.
    expect(a.stopReason).toBe(a.tokens.length === 16 ? "maxTokens" : "eog");
    expect(b.stopReason).toBe(a.stopReason);
    expect(b.tokens).toEqual(a.tokens);
    expect(b.text).toBe(a.text);
  });

  test("sampled generation is reproducible for a seed and follows it", async () => {
    const sample = (seed: number) =>
      model.exclusive(async (ops) => {
        ops.reset();
        await ops.evaluate(promptChunks(factor));
        return ops.generate({ maxTokens: 12, temperature: 1.5, topK: 0, topP: 1, minP: 0, seed });
      });
    const a = await sample(42);
    const b = await sample(42);
    const c = await sample(43);
    expect(b.tokens).toEqual(a.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
    expect(a.tokens).not.toEqual((await greedy(12)).tokens);
  });

  test("streams pieces in order, before the promise resolves, joining to the text", async () => {
    const pieces: string[] = [];
    const ids: number[] = [];
    let resolved = false;
    const p = greedy(16, (t, id) => {
      expect(resolved).toBe(false);
      pieces.push(t);
      ids.push(id);
    }).then((r) => {
      resolved = true;
      return r;
    });
    const r = await p;
    expect(ids).toEqual(r.tokens);
    expect(pieces.join("")).toBe(r.text.replace(/\uFFFD$/, ""));
  });

  test("abort mid-generation rejects promptly with AbortError and leaves the model usable", async () => {
    const baseline = await greedy(64);
    const controller = new AbortController();
    let abortedAt = 0;
    const p = greedy(
      100000,
      (_t, _id) => {
        if (!abortedAt) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
      controller.signal,
    );
    await expect(p).rejects.toMatchObject({ name: "AbortError", code: "ERR_ABORTED" });
    const latency = performance.now() - abortedAt;
    expect(latency).toBeLessThan(5000); // generous: one decode step on a shared machine
    const again = await greedy(64);
    expect(again.tokens).toEqual(baseline.tokens);
  });

  test("context overflow names both numbers", async () => {
    const big = syntheticFrame(factor * 40, factor * 40, 9); // 1600 tokens per image
    const err = await model
      .exclusive(async (ops) => {
        ops.reset();
        return ops.evaluate([
          { frames: [big], mergeable: false },
          { frames: [big], mergeable: false },
        ]);
      })
      .catch((e) => e);
    expect(isTimelensError(err, "ERR_CONTEXT_OVERFLOW")).toBe(true);
    expect(err.details.available).toBe(2048);
    expect(err.details.needed).toBeGreaterThan(3200);
    expect(err.message).toMatch(/needs \d+ tokens but the context holds 2048/);
    // Nothing was evaluated: the model still works.
    const r = await greedy(4);
    expect(r.tokens.length).toBeGreaterThan(0);
  });

  test("query text never becomes control tokens", () => {
    const asText = model.tokenize("<|im_end|><|vision_start|>", { special: false });
    expect(asText).not.toContain(SPEC_IDS["<|im_end|>"]);
    expect(asText).not.toContain(SPEC_IDS["<|vision_start|>"]);
    expect(model.tokenize("<|im_end|>", { special: true })).toEqual([SPEC_IDS["<|im_end|>"]]);
  });

  test("bad chunk input is a typed error, not a crash", async () => {
    const bad = { width: 64, height: 64, data: new Uint8Array(10) };
    const err = await model.evaluate([{ frames: [bad], mergeable: false }]).catch((e) => e);
    expect(isTimelensError(err, "ERR_INVALID_ARGUMENT")).toBe(true);
    const mismatched = await model
      .evaluate([{ frames: [syntheticFrame(64, 64, 1), syntheticFrame(96, 64, 2)], mergeable: true }])
      .catch((e) => e);
    expect(isTimelensError(mismatched, "ERR_INVALID_ARGUMENT")).toBe(true);
  });
});

describe("lifecycle", () => {
  test("dispose twice is a no-op; calls after dispose are typed errors", async () => {
    const m = await VisionModel.load({ ...fixturePair("tiny-qwen3vl"), contextSize: 512 });
    await m.dispose();
    await expect(m.dispose()).resolves.toBeUndefined();
    expect(m.isDisposed).toBe(true);
    expect(() => m.tokenize("hi")).toThrow(expect.objectContaining({ code: "ERR_DISPOSED" }));
    await expect(m.generate({ maxTokens: 2 })).rejects.toMatchObject({ code: "ERR_DISPOSED" } as never);
  });

  test("dispose while generating cancels and frees", async () => {
    const m = await VisionModel.load({ ...fixturePair("tiny-qwen3vl"), contextSize: 1024 });
    const run = m.exclusive(async (ops) => {
      await ops.evaluate([{ text: "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", special: true }]);
      return ops.generate({ maxTokens: 100000 });
    });
    const settled = run.catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    await m.dispose();
    const outcome = await settled;
    expect(outcome).toMatchObject({ code: "ERR_ABORTED" });
    expect(m.isDisposed).toBe(true);
  });

  // RSS right after dispose + GC is bimodal on glibc's allocator (measured with this pair on a
  // loaded 2-core machine: 105-130 MB or 165-195 MB from one cycle to the next, freed pages not
  // yet returned), so medians of a few cycles flip between the modes and a median test is
  // flaky. A leak lifts every cycle, the lowest included: compare the floor of the last 10
  // cycles with the floor of cycles 10-19. The lower level itself settles over the first 10-20
  // cycles as the allocator's arenas fill (measured: 96-117 MB, then 122-146 MB), and drifts up
  // to 7 % after that; 15 % still catches any leak above ~0.6 MB a cycle.
  const leakChild = join(__dirname, "..", "helpers", "load-dispose-child.ts");
  const cyclesRss = (cycles: number, keep = false): number[] =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ["--expose-gc", "--import", "tsx", leakChild, String(cycles), ...(keep ? ["keep"] : [])],
        {
          encoding: "utf8",
          timeout: 300000,
        },
      ),
    );
  const floorGrowth = (rss: number[]): number => Math.min(...rss.slice(-10)) / Math.min(...rss.slice(10, 20)) - 1;

  test("load/dispose 50 times does not leak", () => {
    // A clean child process: this worker's heap carries every earlier test file.
    const rss = cyclesRss(50);
    expect(rss).toHaveLength(50);
    expect(floorGrowth(rss)).toBeLessThan(0.15);
  });

  test("the leak measure sees a real leak (models kept loaded)", () => {
    // Each kept tiny model holds its weights and KV cache (~65 MB): the floor climbs far past 15 %.
    const rss = cyclesRss(30, true);
    expect(floorGrowth(rss)).toBeGreaterThan(0.15);
  });
});
