/**
 * Bad model files and load options: every one must be refused with a typed error before
 * llama.cpp can abort on it (docs/reference.md, "What llama.cpp needs of a GGUF pair").
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Grounder, type GrounderLoadOptions, type ErrorCode } from "../../src";
import { setKey, textContent, writeContent } from "../../scripts/fixtures/variants";
import { mulberry32 } from "../../scripts/fixtures/rng";
import { fixturePair } from "../helpers/models";
import type { CaseContext, RobustCase } from "./harness";

const INVALID: ErrorCode[] = ["ERR_MODEL_INVALID"];
/** A flipped byte may land anywhere: in a name (still loads), a count, a type or a shape. */
const FLIP_CODES: ErrorCode[] = [
  "ERR_MODEL_INVALID",
  "ERR_MODEL_UNSUPPORTED",
  "ERR_MMPROJ_MISMATCH",
  "ERR_NO_VISION",
  "ERR_PROFILE_UNKNOWN",
];
const FAST_LOAD = { contextSize: 512, threads: 2, warmup: false } as const;

async function loadAndDispose(options: GrounderLoadOptions): Promise<void> {
  const g = await Grounder.load(options);
  await g.dispose();
}

type Which = "model" | "mmproj";

/** Writes a damaged copy of the tiny qwen3vl model or mmproj and loads the pair with it. */
function damaged(which: Which, name: string, damage: (bytes: Buffer) => Buffer): (ctx: CaseContext) => Promise<void> {
  return async (ctx) => {
    const good = ctx.pair[which];
    const path = join(ctx.dir, `${which}-${name}.gguf`);
    writeFileSync(path, damage(Buffer.from(readFileSync(good))));
    await loadAndDispose({ ...ctx.pair, [which]: path, ...FAST_LOAD });
  };
}

/** Flips `count` bytes at seeded positions within the first `span` bytes (header and metadata). */
function flipBytes(seed: number, count: number, span: number): (b: Buffer) => Buffer {
  return (b) => {
    const rand = mulberry32(seed);
    const end = Math.min(span, b.length);
    for (let i = 0; i < count; i++) {
      const at = 8 + Math.floor(rand() * (end - 8)); // keep the magic and version: past the first check
      b[at] ^= 1 + Math.floor(rand() * 255);
    }
    return b;
  };
}

function randomBytes(seed: number, n: number): Buffer {
  const rand = mulberry32(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function ggufDamageCases(which: Which): RobustCase[] {
  const k = (s: string) => `${which}-${s}`;
  return [
    {
      kind: k("zero-byte"),
      name: k("zero-byte"),
      expect: { codes: INVALID },
      run: damaged(which, "empty", () => Buffer.alloc(0)),
    },
    ...[16, 1024, 0.5].map((cut) => ({
      kind: k("truncated"),
      name: k(`truncated-${cut < 1 ? "half" : cut}`),
      expect: { codes: INVALID },
      run: damaged(which, `cut${cut}`, (b: Buffer) => b.subarray(0, cut < 1 ? Math.floor(b.length * cut) : cut)),
    })),
    ...[1, 2, 3, 4].map((seed) => ({
      kind: k("flipped"),
      name: k(`flipped-header-${seed}`),
      expect: { ok: true, codes: FLIP_CODES },
      run: damaged(which, `flip${seed}`, flipBytes(seed * 7919, 6, 4096)),
    })),
    {
      kind: k("corrupt-counts"),
      name: k("huge-tensor-count"),
      expect: { codes: INVALID },
      run: damaged(which, "count", (b) => {
        b.writeBigUInt64LE(0xffffffffffn, 8);
        return b;
      }),
    },
    {
      kind: k("corrupt-counts"),
      name: k("huge-kv-count"),
      expect: { codes: INVALID },
      run: damaged(which, "kvcount", (b) => {
        b.writeBigUInt64LE(0x7fffffffffffffffn, 16);
        return b;
      }),
    },
    {
      kind: k("random"),
      name: k("magic-then-noise"),
      expect: { codes: INVALID },
      run: damaged(which, "noise", (b) => Buffer.concat([b.subarray(0, 8), randomBytes(which.length, 64 * 1024)])),
    },
  ];
}

export const MODEL_CASES: RobustCase[] = [
  ...ggufDamageCases("model"),
  ...ggufDamageCases("mmproj"),
  {
    kind: "not-gguf",
    name: "text-file-as-model",
    expect: { codes: INVALID },
    run: damaged("model", "text", () => Buffer.from("this is not a model\n".repeat(200))),
  },
  {
    kind: "swapped-pair",
    name: "model-and-mmproj-swapped",
    expect: { codes: INVALID },
    run: (ctx) => loadAndDispose({ model: ctx.pair.mmproj, mmproj: ctx.pair.model, ...FAST_LOAD }),
  },
  {
    kind: "swapped-pair",
    name: "model-given-twice",
    expect: { codes: ["ERR_MODEL_INVALID", "ERR_NO_VISION", "ERR_MMPROJ_MISMATCH"] },
    run: (ctx) => loadAndDispose({ model: ctx.pair.model, mmproj: ctx.pair.model, ...FAST_LOAD }),
  },
  {
    kind: "foreign-mmproj",
    name: "qwen3vl-model-qwen25vl-mmproj",
    expect: { codes: ["ERR_MMPROJ_MISMATCH"] },
    run: (ctx) => loadAndDispose({ model: ctx.pair.model, mmproj: fixturePair("tiny-qwen25vl").mmproj, ...FAST_LOAD }),
  },
  {
    kind: "foreign-mmproj",
    name: "qwen25vl-model-qwen3vl-mmproj",
    expect: { codes: ["ERR_MMPROJ_MISMATCH"] },
    run: (ctx) => loadAndDispose({ model: fixturePair("tiny-qwen25vl").model, mmproj: ctx.pair.mmproj, ...FAST_LOAD }),
  },
  {
    kind: "unsupported-arch",
    name: "llama-architecture",
    expect: { codes: ["ERR_MODEL_UNSUPPORTED"] },
    run: async (ctx) => {
      const p = await writeContent(
        ctx.dir,
        "llama-arch.gguf",
        await textContent("qwen3vl"),
        setKey("general.architecture", "llama"),
      );
      await loadAndDispose({ model: p, mmproj: ctx.pair.mmproj, ...FAST_LOAD });
    },
  },
  {
    kind: "unsupported-arch",
    name: "unknown-architecture",
    expect: { codes: ["ERR_MODEL_UNSUPPORTED", "ERR_MODEL_INVALID"] },
    run: async (ctx) => {
      const p = await writeContent(
        ctx.dir,
        "made-up-arch.gguf",
        await textContent("qwen3vl"),
        setKey("general.architecture", "qwen9vl"),
      );
      await loadAndDispose({ model: p, mmproj: ctx.pair.mmproj, ...FAST_LOAD });
    },
  },
  {
    kind: "model-path",
    name: "model-is-a-directory",
    expect: { codes: ["ERR_MODEL_INVALID", "ERR_FILE_NOT_FOUND"] },
    run: async (ctx) => {
      const d = join(ctx.dir, "a-folder.gguf");
      mkdirSync(d, { recursive: true });
      await loadAndDispose({ model: d, mmproj: ctx.pair.mmproj, ...FAST_LOAD });
    },
  },
  {
    kind: "model-path",
    name: "model-missing",
    expect: { codes: ["ERR_FILE_NOT_FOUND"] },
    run: (ctx) => loadAndDispose({ model: join(ctx.dir, "nope.gguf"), mmproj: ctx.pair.mmproj, ...FAST_LOAD }),
  },
  {
    kind: "model-path",
    name: "model-path-with-nul",
    expect: { codes: ["ERR_INVALID_ARGUMENT", "ERR_FILE_NOT_FOUND", "ERR_MODEL_INVALID"] },
    run: (ctx) => loadAndDispose({ model: `${ctx.pair.model}\0.gguf`, mmproj: ctx.pair.mmproj, ...FAST_LOAD }),
  },
  ...(
    [
      ["undefined-options", undefined],
      ["numeric-paths", { model: 42, mmproj: 7 }],
      ["null-mmproj", { model: "x.gguf", mmproj: null }],
    ] as const
  ).map(
    ([name, options]): RobustCase => ({
      kind: "load-non-string",
      name: `load-${name}`,
      expect: { codes: ["ERR_INVALID_ARGUMENT"] },
      run: () => loadAndDispose(options as unknown as GrounderLoadOptions),
    }),
  ),
  ...loadOptionCases(),
  {
    kind: "load-aborted",
    name: "load-with-aborted-signal",
    expect: { codes: ["ERR_ABORTED"] },
    run: (ctx) => loadAndDispose({ ...ctx.pair, ...FAST_LOAD, signal: AbortSignal.abort() }),
  },
];

/** Numbers no load option can mean: NaN, Infinity, negative, fractional, absurdly large. */
function loadOptionCases(): RobustCase[] {
  const bad: Array<[string, Record<string, unknown>]> = [
    ["contextSize-NaN", { contextSize: Number.NaN }],
    ["contextSize-negative", { contextSize: -512 }],
    ["contextSize-Infinity", { contextSize: Number.POSITIVE_INFINITY }],
    ["contextSize-fraction", { contextSize: 512.5 }],
    ["threads-NaN", { threads: Number.NaN }],
    ["threads-negative", { threads: -4 }],
    ["batchSize-zero", { batchSize: 0 }],
    ["batchSize-NaN", { batchSize: Number.NaN }],
    ["gpuLayers-NaN", { gpuLayers: Number.NaN }],
    ["imageMaxTokens-negative", { imageMaxTokens: -1 }],
    ["parallel-zero", { parallel: 0 }],
    ["parallel-NaN", { parallel: Number.NaN }],
  ];
  const huge: Array<[string, Record<string, unknown>]> = [
    ["contextSize-huge", { contextSize: 2 ** 40 }],
    ["threads-huge", { threads: 1e6 }],
    ["parallel-huge", { parallel: 1e6 }],
    ["batchSize-huge", { batchSize: 2 ** 31 }],
  ];
  return [
    ...bad.map(
      ([name, opts]): RobustCase => ({
        kind: "load-option-nonsense",
        name: `load-${name}`,
        expect: { codes: ["ERR_INVALID_ARGUMENT"] },
        run: (ctx) => loadAndDispose({ ...ctx.pair, ...FAST_LOAD, ...opts }),
      }),
    ),
    ...huge.map(
      ([name, opts]): RobustCase => ({
        kind: "load-option-huge",
        name: `load-${name}`,
        // clamped to what the machine has, refused up front, or llama.cpp's own refusal mapped
        // to a code; never an abort or an out-of-memory kill
        expect: { ok: true, codes: ["ERR_INVALID_ARGUMENT", "ERR_NATIVE", "ERR_CONTEXT_OVERFLOW"] },
        run: (ctx) => loadAndDispose({ ...ctx.pair, ...FAST_LOAD, ...opts }),
      }),
    ),
  ];
}
