/**
 * Inputs and callbacks that used to crash or lie (issue 11): generation without logits,
 * throwing listeners, mismatched rewinds, bad seeds, options missing on the native side, and
 * cancellation that lands while a native encode / prefill / generate runs.
 */
import { resolveLoadOptions } from "../../src/defaults";
import { isTimelensError } from "../../src/errors";
import { inspectModelPair } from "../../src/gguf/validate";
import { loadAddon, type NativeChunk } from "../../src/native";
import { VisionModel, fromNativeError } from "../../src/runtime/model";
import { FACTOR, fixturePair, syntheticFrame } from "../helpers/models";

const PROMPT: NativeChunk[] = [
  { text: "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n", special: true },
];
const SUFFIX: NativeChunk[] = [{ text: "<|im_start|>user\nwhat?<|im_end|>\n<|im_start|>assistant\n", special: true }];
const factor = FACTOR["tiny-qwen3vl"];

function pairs(n: number, side: number): NativeChunk[] {
  const out: NativeChunk[] = [{ text: "<|im_start|>user\n", special: true }];
  for (let i = 0; i < n; i++) {
    out.push({ text: `<${i}.5 seconds>`, special: false });
    out.push({ frames: [syntheticFrame(side, side, 2 * i), syntheticFrame(side, side, 2 * i + 1)], mergeable: true });
  }
  out.push({ text: "Describe it.<|im_end|>\n<|im_start|>assistant\n", special: true });
  return out;
}

let model: VisionModel;

beforeAll(async () => {
  model = await VisionModel.load({
    ...fixturePair("tiny-qwen3vl"),
    contextSize: 8192,
    batchSize: 64,
    threads: 2,
    parallel: 3,
  });
});
afterAll(async () => {
  await model?.dispose();
});

describe("no logits, no sampling", () => {
  test("generateMany with an empty suffix is a typed error, before and after an evaluate", async () => {
    for (const suffixes of [[[]], [[{ text: "", special: false }]]] as NativeChunk[][][]) {
      const before = await model.exclusive(async (ops) => {
        ops.reset();
        return ops.generateMany(suffixes, { maxTokens: 4 }).catch((e) => e);
      });
      expect(isTimelensError(before, "ERR_INVALID_ARGUMENT")).toBe(true);
    }
    const mixed = await model.exclusive(async (ops) => {
      ops.reset();
      await ops.evaluate(PROMPT);
      return ops.generateMany([SUFFIX, []], { maxTokens: 4 }).catch((e) => e);
    });
    expect(isTimelensError(mixed, "ERR_INVALID_ARGUMENT")).toBe(true);
    expect(mixed.message).toMatch(/suffix 1 is empty/);
    // The model still answers.
    const ok = await model.exclusive((ops) => ops.generateMany([SUFFIX, SUFFIX], { maxTokens: 3 }));
    expect(ok).toHaveLength(2);
    expect(ok[0].tokens).toEqual(ok[1].tokens);
  });

  test("generate before any evaluate is a typed error", async () => {
    const err = await model
      .exclusive(async (ops) => {
        ops.reset();
        return ops.generate({ maxTokens: 2 });
      })
      .catch((e) => e);
    expect(isTimelensError(err, "ERR_INVALID_ARGUMENT")).toBe(true);
  });
});

describe("a throwing listener rejects the call with its error, after stopping the native work", () => {
  test("onToken", async () => {
    const boom = new Error("listener boom");
    let calls = 0;
    const { err, before, after } = await model.exclusive(async (ops) => {
      ops.reset();
      await ops.evaluate(PROMPT);
      const before = ops.state();
      const err = await ops
        .generate({
          maxTokens: 100000,
          onToken: () => {
            calls++;
            throw boom;
          },
        })
        .catch((e) => e);
      return { err, before, after: ops.state() };
    });
    expect(err).toBe(boom);
    expect(calls).toBe(1); // not called again once it threw
    expect({ nPast: after.nPast, nCells: after.nCells }).toEqual({ nPast: before.nPast, nCells: before.nCells });
  });

  test("onChunk and onStage", async () => {
    for (const key of ["onChunk", "onStage"] as const) {
      const boom = new Error(`${key} boom`);
      const { err, state } = await model.exclusive(async (ops) => {
        ops.reset();
        const err = await ops
          .evaluate(pairs(3, factor * 4), {
            [key]: () => {
              throw boom;
            },
          })
          .catch((e) => e);
        return { err, state: ops.state() };
      });
      expect(err).toBe(boom);
      expect(state.nCells).toBe(0); // nothing of the cancelled evaluate stays
    }
  });

  test("onToken of generateMany", async () => {
    const boom = new Error("many boom");
    const err = await model
      .exclusive(async (ops) => {
        ops.reset();
        await ops.evaluate(PROMPT);
        return ops.generateMany([SUFFIX, SUFFIX], {
          maxTokens: 1000,
          onToken: () => {
            throw boom;
          },
        });
      })
      .catch((e) => e);
    expect(err).toBe(boom);
  });

  test("onProgress of load", async () => {
    const boom = new Error("progress boom");
    const err = await VisionModel.load({
      ...fixturePair("tiny-qwen25vl"),
      contextSize: 512,
      onProgress: () => {
        throw boom;
      },
    }).catch((e) => e);
    expect(err).toBe(boom);
  });
});

describe("state and options", () => {
  test("rewind accepts only states the context was in", async () => {
    await model.exclusive(async (ops) => {
      ops.reset();
      await ops.evaluate(PROMPT);
      const first = ops.state();
      await ops.evaluate([{ text: "more text here", special: false }]);
      const second = ops.state();
      expect(second.nCells).toBeGreaterThan(first.nCells);
      expect(() => ops.rewind({ nPast: first.nPast, nCells: first.nCells + 1 })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
      );
      expect(() => ops.rewind({ nPast: 0, nCells: 5 })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
      );
      expect(() => ops.rewind({ nPast: Number.NaN, nCells: 0 })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
      );
      expect(ops.state()).toEqual(second); // refused rewinds change nothing
      ops.rewind(first);
      expect(ops.state()).toMatchObject({ nPast: first.nPast, nCells: first.nCells });
      ops.rewind({ nPast: 0, nCells: 0 });
      expect(ops.state()).toMatchObject({ nPast: 0, nCells: 0 });
    });
  });

  test("seeds must be integers 0..2^32-1 (NaN, negative, fractional, too large are refused)", async () => {
    for (const seed of [Number.NaN, -1, 1.5, 2 ** 32, Number.POSITIVE_INFINITY]) {
      const err = await model
        .exclusive(async (ops) => {
          ops.reset();
          await ops.evaluate(PROMPT);
          return ops.generate({ maxTokens: 2, temperature: 1, seed });
        })
        .catch((e) => e);
      expect([seed, isTimelensError(err, "ERR_INVALID_ARGUMENT")]).toEqual([seed, true]);
    }
  });

  test("the addon requires every option and checks seeds itself", async () => {
    const pair = fixturePair("tiny-qwen3vl");
    const { addon } = loadAddon({ gpu: false });
    const native = new addon.Model();
    // Argument checks throw synchronously, before any work starts.
    expect(() => native.load({ model: pair.model, mmproj: pair.mmproj } as never)).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT", message: expect.stringMatching(/gpuLayers.*missing/) }),
    );
    const facts = await inspectModelPair(pair.model, pair.mmproj);
    await native.load(
      resolveLoadOptions(
        { ...pair, contextSize: 512, threads: 1, warmup: false },
        { nCtxTrain: facts.text.nCtxTrain, gpuDevices: [] },
      ),
    );
    await native.evaluate(PROMPT, { reserve: 0 });
    const full = { maxTokens: 2, temperature: 1, topK: 40, topP: 0.95, minP: 0.05, stop: [], reportMargins: false };
    for (const seed of [Number.NaN, -1, 0.5, 2 ** 32]) {
      expect(() => native.generate({ ...full, seed })).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
      );
    }
    expect(() => native.generate({ ...full } as never)).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
    const r = await native.generate({ ...full, seed: 2 ** 32 - 1 });
    expect(r.tokens.length).toBeGreaterThan(0);
    native.dispose();
  });

  test("info reports what the context uses", () => {
    expect(model.info).toMatchObject({
      contextSize: 8192,
      batchSize: 64,
      ubatchSize: 64,
      parallel: 3,
      threads: 2,
      kvType: "f16",
    });
    expect(model.info.flashAttention).toBe("auto");
    expect(model.info.imageMaxTokens).toBe(16384);
  });

  test("an addon error code this package does not define becomes ERR_NATIVE", () => {
    const e = fromNativeError(Object.assign(new Error("odd"), { code: "ERR_SOMETHING_NEW" }));
    expect(e).toMatchObject({ code: "ERR_NATIVE", message: "odd", details: { nativeCode: "ERR_SOMETHING_NEW" } });
  });
});

// docs/cancellation.md: each abort below fires from an event the addon emits while the
// native call is still running, so it lands inside that call.
describe("abort while the native call runs", () => {
  test("inside a vision encode", async () => {
    const controller = new AbortController();
    const chunksDone: number[] = [];
    const { err, state } = await model.exclusive(async (ops) => {
      ops.reset();
      const err = await ops
        .evaluate(pairs(6, factor * 16), {
          signal: controller.signal,
          onChunk: (i) => chunksDone.push(i),
          onStage: (stage) => {
            if (stage === "encode-step") controller.abort();
          },
        })
        .catch((e) => e);
      return { err, state: ops.state() };
    });
    expect(err).toMatchObject({ name: "AbortError", code: "ERR_ABORTED", details: { stage: "encode" } });
    // It stopped in the first image: only the text before it went in, and was rolled back.
    expect(chunksDone.length).toBeLessThanOrEqual(2);
    expect(state.nCells).toBe(0);
  });

  test("inside a prefill", async () => {
    const controller = new AbortController();
    const long = Array.from({ length: 600 }, (_, i) => `word${i}`).join(" ");
    const { err, state } = await model.exclusive(async (ops) => {
      ops.reset();
      const err = await ops
        .evaluate([{ text: long, special: false }], {
          signal: controller.signal,
          onStage: (stage) => {
            if (stage === "prefill") controller.abort();
          },
        })
        .catch((e) => e);
      return { err, state: ops.state() };
    });
    expect(err).toMatchObject({ name: "AbortError", code: "ERR_ABORTED", details: { stage: "prefill" } });
    expect(state.nCells).toBe(0);
  });

  test("inside a parallel generate", async () => {
    const controller = new AbortController();
    let tokens = 0;
    const { err, before, after } = await model.exclusive(async (ops) => {
      ops.reset();
      await ops.evaluate(PROMPT);
      const before = ops.state();
      const err = await ops
        .generateMany([SUFFIX, SUFFIX, SUFFIX], {
          maxTokens: 2000,
          signal: controller.signal,
          // Suffix 2's first token comes after every suffix's prefill: from then on it decodes.
          onToken: (index) => {
            tokens++;
            if (index === 2) controller.abort();
          },
        })
        .catch((e) => e);
      return { err, before, after: ops.state() };
    });
    expect(err).toMatchObject({ name: "AbortError", code: "ERR_ABORTED", details: { stage: "generate" } });
    expect(tokens).toBeLessThan(2000 * 3);
    expect({ nPast: after.nPast, nCells: after.nCells }).toEqual({ nPast: before.nPast, nCells: before.nCells });
  });
});
