/**
 * Parity with llama.cpp: for the same input and type, quantizeModel writes exactly the bytes of
 * `llama-quantize` built from the same source (scripts/build-mtmd-cli.mjs builds it).
 *
 * The tiny fixtures have rows of 64 (and 192) values, fewer than a K-quant block (256), so
 * llama.cpp falls back there: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (docs/quantize.md); the
 * medium fixture (rows of 512 and 1536) takes the real K-quant blocks. Both are checked.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quantizeModel, type QuantType } from "../../src/quantize";
import { readGguf } from "../../src/gguf/reader";
import { ensureFixtures } from "../../scripts/fixtures/generate";
import { FIXTURE_ROOT, type FixtureName } from "../helpers/models";

let tool: string;
let dir: string;

beforeAll(
  async () => {
    const script = join(__dirname, "..", "..", "scripts", "build-mtmd-cli.mjs");
    // Builds the parity tools on the first run on a machine (minutes), then reuses them.
    tool = execFileSync(process.execPath, [script, "--tool", "llama-quantize"], {
      stdio: ["ignore", "pipe", "inherit"],
    })
      .toString()
      .trim()
      .split("\n")
      .pop()!;
    if (!existsSync(tool)) throw new Error(`llama-quantize not found at ${tool}`);
    await ensureFixtures({ sizes: ["medium"], names: ["medium-qwen3vl"], log: () => {} });
    dir = mkdtempSync(join(tmpdir(), "timelens-quant-parity-"));
  },
  30 * 60 * 1000,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function llamaQuantize(input: string, output: string, type: string, threads: number): void {
  const r = spawnSync(tool, [input, output, type, String(threads)], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`llama-quantize failed (${r.status}): ${(r.stderr || r.stdout).slice(-2000)}`);
}

async function tensorTypes(path: string): Promise<Set<string>> {
  const g = await readGguf(path, { skipLargeArrays: true });
  return new Set(g.tensors.filter((t) => t.dims.length > 1).map((t) => t.type.name));
}

async function compare(
  name: FixtureName,
  type: QuantType,
  ours: { threads: number; maxBufferBytes?: number },
): Promise<Set<string>> {
  const input = join(FIXTURE_ROOT, name, "model.gguf");
  const theirs = join(dir, `${name}-${type}-llama.gguf`);
  const mine = join(dir, `${name}-${type}-ours.gguf`);
  llamaQuantize(input, theirs, type, 2);
  await quantizeModel({ input, output: mine, type, ...ours });
  const a = readFileSync(theirs);
  const b = readFileSync(mine);
  expect(b.length).toBe(a.length);
  expect(b.equals(a)).toBe(true);
  const types = await tensorTypes(mine);
  rmSync(theirs);
  rmSync(mine);
  return types;
}

describe.each(["tiny-qwen3vl", "tiny-qwen25vl"] as const)("%s", (name) => {
  test.each(["Q8_0", "Q4_K_M", "Q6_K", "Q5_K_M", "Q4_0"] as const)(
    "%s: byte-identical to llama-quantize",
    async (type) => {
      const types = await compare(name, type, { threads: 2 });
      // Rows of 64 are shorter than a K-quant block: no K-quant tensor is written.
      for (const k of ["Q4_K", "Q5_K", "Q6_K"]) expect(types.has(k)).toBe(false);
      if (type === "Q4_K_M") expect(types.has("Q5_0")).toBe(true);
    },
  );
});

describe("medium-qwen3vl (K-quant blocks)", () => {
  test.each(["Q4_K_M", "Q6_K", "Q8_0"] as const)("%s: byte-identical to llama-quantize", async (type) => {
    const types = await compare("medium-qwen3vl", type, { threads: 2 });
    if (type === "Q4_K_M") expect(types.has("Q4_K")).toBe(true);
    if (type === "Q6_K") expect(types.has("Q6_K")).toBe(true);
  });

  test("thread count and memory cap do not change the bytes", async () => {
    await compare("medium-qwen3vl", "Q4_K_M", { threads: 1, maxBufferBytes: 256 * 1024 });
  });
});
