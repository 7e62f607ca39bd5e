/**
 * quantizeModel and `timelens quantize`: types, typed errors for bad input (checked before
 * llama.cpp reads the file), abort while the native work runs, nothing left half-written,
 * and a quantized tiny model that loads and grounds.
 */
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
  ftruncateSync,
  closeSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quantizeModel, parseQuantType, quantTypeInfo, QUANT_TYPES, type QuantizeProgress } from "../../src/quantize";
import { loadAddon } from "../../src/native";
import { readGguf } from "../../src/gguf/reader";
import { Grounder } from "../../src/session";
import { ensureFixtures } from "../../scripts/fixtures/generate";
import { dropTensor, miniConfig, textContent, writeContent } from "../../scripts/fixtures/variants";
import { fixturePair, FIXTURE_ROOT } from "../helpers/models";
import { makeClip } from "../helpers/clips";
import { runCli } from "../helpers/cli";
import type { TimelensError } from "../../src/errors";
import * as api from "../../src/index";

let dir: string;
const tiny = fixturePair("tiny-qwen3vl");
const medium = join(FIXTURE_ROOT, "medium-qwen3vl", "model.gguf");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "timelens-quantize-"));
  // The medium fixture (hidden 512) is slow enough to abort mid-way and takes real K-quant blocks.
  await ensureFixtures({ sizes: ["medium"], names: ["medium-qwen3vl"], log: () => {} });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Files in `dir` other than `keep`: a leftover temp file shows here. */
function strays(keep: string[] = []): string[] {
  return readdirSync(dir).filter((f) => !keep.includes(f));
}

function thrown(fn: () => unknown): TimelensError {
  try {
    fn();
  } catch (e) {
    return e as TimelensError;
  }
  throw new Error("expected a throw");
}

async function rejection(p: Promise<unknown>): Promise<TimelensError> {
  try {
    await p;
  } catch (e) {
    return e as TimelensError;
  }
  throw new Error("expected a rejection");
}

describe("types", () => {
  test("every offered type is one the addon knows, and a few are offered", () => {
    const native = loadAddon().addon.quantizeTypes!();
    for (const t of QUANT_TYPES) expect(native).toContain(t);
    for (const t of ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_0", "F16"]) expect(QUANT_TYPES).toContain(t);
  });

  test("the package exports the quantizer", () => {
    expect(api.quantizeModel).toBe(quantizeModel);
    expect(api.QUANT_TYPES).toBe(QUANT_TYPES);
  });

  test("names parse in any case; unknown ones are ERR_INVALID_ARGUMENT naming the supported list", () => {
    expect(parseQuantType("q4_k_m")).toBe("Q4_K_M");
    for (const bad of ["Q4_K", "IQ2_XXS", "q9", ""]) {
      const e = thrown(() => parseQuantType(bad));
      expect(e.code).toBe("ERR_INVALID_ARGUMENT");
      expect(e.message).toContain("Q4_K_M");
    }
  });

  test("the addon requires every option and knows no type we do not offer", () => {
    const addon = loadAddon().addon;
    const full: Record<string, unknown> = {
      input: tiny.model,
      output: join(dir, "never.gguf"),
      type: "Q8_0",
      threads: 1,
      allowRequantize: false,
      quantizeOutputTensor: true,
      pure: false,
      maxBufferBytes: 0,
    };
    for (const key of Object.keys(full)) {
      const { [key]: _dropped, ...rest } = full;
      expect(thrown(() => addon.quantize!(rest as never)).code).toBe("ERR_INVALID_ARGUMENT");
    }
    for (const bad of [{ threads: 0 }, { threads: 1.5 }, { threads: NaN }, { maxBufferBytes: -1 }, { type: "Q4_K" }]) {
      expect(thrown(() => addon.quantize!({ ...full, ...bad } as never)).code).toBe("ERR_INVALID_ARGUMENT");
    }
    expect(strays()).toEqual([]);
  });

  test("bits per weight follow the ggml block geometry", () => {
    expect(quantTypeInfo("Q8_0").bitsPerWeight).toBe(8.5);
    expect(quantTypeInfo("Q4_K_M").bitsPerWeight).toBe(4.5);
    expect(quantTypeInfo("Q6_K").bitsPerWeight).toBe(6.5625);
    expect(quantTypeInfo("F16").bitsPerWeight).toBe(16);
  });

  test("an unknown type is rejected before anything is written", async () => {
    const e = await rejection(quantizeModel({ input: tiny.model, output: join(dir, "x.gguf"), type: "Q7_Z" }));
    expect(e.code).toBe("ERR_INVALID_ARGUMENT");
    expect(strays()).toEqual([]);
  });
});

describe("quantizing", () => {
  test("Q8_0 of the tiny model: result, file type and tensor types, progress to the end", async () => {
    const output = join(dir, "tiny-q8.gguf");
    const progress: QuantizeProgress[] = [];
    const r = await quantizeModel({
      input: tiny.model,
      output,
      type: "q8_0",
      threads: 2,
      onProgress: (p) => progress.push(p),
    });
    expect(r).toEqual({
      output,
      type: "Q8_0",
      inputBytes: statSync(tiny.model).size,
      outputBytes: statSync(output).size,
      ms: expect.any(Number),
    });
    expect(r.outputBytes).toBeLessThan(r.inputBytes);
    const g = await readGguf(output, { skipLargeArrays: true });
    expect(g.metadata["general.file_type"]).toBe(7); // LLAMA_FTYPE_MOSTLY_Q8_0
    const types = new Set(g.tensors.filter((t) => t.dims.length > 1).map((t) => t.type.name));
    expect([...types]).toEqual(["Q8_0"]);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toMatchObject({ stage: "quantize", done: g.tensors.length, total: g.tensors.length });
    for (let i = 1; i < progress.length; i++) expect(progress[i].done).toBeGreaterThanOrEqual(progress[i - 1].done);
    expect(strays(["tiny-q8.gguf"])).toEqual([]);
  });

  test("re-quantizing an already quantized file needs allowRequantize (typed error, no file)", async () => {
    const q8 = join(dir, "tiny-q8.gguf");
    const output = join(dir, "tiny-q4.gguf");
    const e = await rejection(quantizeModel({ input: q8, output, type: "Q4_0", threads: 2 }));
    expect(e.code).toBe("ERR_INVALID_ARGUMENT");
    expect(e.message).toMatch(/allowRequantize/);
    expect(strays(["tiny-q8.gguf"])).toEqual([]);
    await quantizeModel({ input: q8, output, type: "Q4_0", threads: 2, allowRequantize: true });
    expect(existsSync(output)).toBe(true);
    rmSync(output);
  });

  test("the output may not be the input", async () => {
    const copy = join(dir, "same.gguf");
    copyFileSync(tiny.model, copy);
    const e = await rejection(quantizeModel({ input: copy, output: copy, type: "Q8_0" }));
    expect(e.code).toBe("ERR_INVALID_ARGUMENT");
    expect(statSync(copy).size).toBe(statSync(tiny.model).size);
    rmSync(copy);
  });

  test("a missing output directory is ERR_FILE_NOT_FOUND", async () => {
    const e = await rejection(
      quantizeModel({ input: tiny.model, output: join(dir, "no", "such", "out.gguf"), type: "Q8_0" }),
    );
    expect(e.code).toBe("ERR_FILE_NOT_FOUND");
  });
});

describe("bad input never reaches llama.cpp", () => {
  const cases: Array<[string, () => Promise<string>, string, RegExp]> = [
    ["a missing file", async () => join(dir, "missing.gguf"), "ERR_FILE_NOT_FOUND", /not found/],
    [
      "a file that is not GGUF",
      async () => {
        const p = join(dir, "bad-not-gguf.gguf");
        writeFileSync(p, "this is not a GGUF file at all, just some text that is long enough to read a header from");
        return p;
      },
      "ERR_MODEL_INVALID",
      /GGUF/,
    ],
    [
      "a truncated model",
      async () => {
        const p = join(dir, "bad-truncated.gguf");
        copyFileSync(tiny.model, p);
        const fd = openSync(p, "r+");
        ftruncateSync(fd, Math.floor(statSync(tiny.model).size / 2));
        closeSync(fd);
        return p;
      },
      "ERR_MODEL_INVALID",
      /truncated/,
    ],
    ["an mmproj", async () => tiny.mmproj, "ERR_MODEL_UNSUPPORTED", /mmproj/],
    [
      "a text model missing a tensor",
      async () => {
        return writeContent(
          join(dir, "bad-missing-tensor"),
          "model.gguf",
          await textContent("qwen3vl", { cfg: miniConfig("qwen3vl") }),
          dropTensor("blk.0.ffn_down.weight"),
        );
      },
      "ERR_MODEL_INVALID",
      /blk\.0\.ffn_down\.weight/,
    ],
  ];
  test.each(cases)("%s", async (_name, make, code, message) => {
    const input = await make();
    const output = join(dir, "never.gguf");
    const e = await rejection(quantizeModel({ input, output, type: "Q8_0", threads: 2 }));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(existsSync(output)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes("never"))).toEqual([]);
  });
});

describe("abort", () => {
  test("aborting while the native work runs rejects with ERR_ABORTED and leaves no file behind", async () => {
    const output = join(dir, "aborted.gguf");
    const controller = new AbortController();
    const seen: QuantizeProgress[] = [];
    const e = await rejection(
      quantizeModel({
        input: medium,
        output,
        type: "Q4_K_M",
        threads: 1,
        signal: controller.signal,
        onProgress: (p) => {
          seen.push(p);
          if (p.done >= 2) controller.abort(); // the native thread is between tensors 2 and 3 by now
        },
      }),
    );
    expect(e.code).toBe("ERR_ABORTED");
    expect(e.name).toBe("AbortError");
    // It ran (progress came from the native side) and stopped long before the end.
    expect(seen.some((p) => p.done >= 2)).toBe(true);
    expect(seen.at(-1)!.done).toBeLessThan(seen.at(-1)!.total / 2);
    expect(existsSync(output)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes("aborted"))).toEqual([]);
  });

  test("an already aborted signal starts nothing", async () => {
    const e = await rejection(
      quantizeModel({ input: tiny.model, output: join(dir, "pre.gguf"), type: "Q8_0", signal: AbortSignal.abort() }),
    );
    expect(e.code).toBe("ERR_ABORTED");
    expect(readdirSync(dir).filter((f) => f.includes("pre"))).toEqual([]);
  });
});

describe("cli", () => {
  test("timelens quantize --json prints the result; the file is there", async () => {
    const output = join(dir, "cli-q6.gguf");
    const r = await runCli(["quantize", tiny.model, output, "Q6_K", "--threads", "2", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ output, type: "Q6_K", outputBytes: statSync(output).size });
    // Rows of 64 make Q6_K fall back to Q8_0 (8.5 bpw); F32 norms push the average a little higher.
    expect(out.bitsPerWeight).toBeGreaterThan(8.5);
    expect(out.bitsPerWeight).toBeLessThan(9);
    rmSync(output);
  });

  test("exit codes: usage 1, unknown type 2, mmproj input 3", async () => {
    expect((await runCli(["quantize", tiny.model])).code).toBe(1);
    const bad = await runCli(["quantize", tiny.model, join(dir, "x.gguf"), "Q9_9", "--json"]);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stderr).error.code).toBe("ERR_INVALID_ARGUMENT");
    const proj = await runCli(["quantize", tiny.mmproj, join(dir, "x.gguf"), "Q8_0", "--json"]);
    expect(proj.code).toBe(3);
    expect(JSON.parse(proj.stderr).error.code).toBe("ERR_MODEL_UNSUPPORTED");
  });
});

describe("a quantized model runs", () => {
  test.each(["Q8_0", "Q4_K_M"])("%s of the tiny model loads and grounds with the Grounder", async (type) => {
    const output = join(dir, `ground-${type}.gguf`);
    await quantizeModel({ input: tiny.model, output, type, threads: 2 });
    const grounder = await Grounder.load({ model: output, mmproj: tiny.mmproj, contextSize: 2048, threads: 2 });
    try {
      const r = await grounder.ground(makeClip({ seconds: 6 }), "a red box moves to the right", {
        totalTokens: 256,
        minTokens: 4,
        maxNewTokens: 12,
      });
      expect(r.usage.generatedTokens).toBeGreaterThan(0);
      expect(r.usage.imageTokens).toBeGreaterThan(0);
      expect(typeof r.text).toBe("string");
    } finally {
      await grounder.dispose();
      rmSync(output);
    }
  });
});
