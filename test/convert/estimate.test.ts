/**
 * convertNeeds, the one disk estimate (pull's free-space check, estimateConvertBytes), against
 * what the converter and the quantizer really write for the tiny checkpoints of both families
 * (docs/models.md, "Disk needs"): tensor data exact, header within its allowance, quantized
 * output at most the bound.
 */
import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { convertCheckpoint, estimateConvertBytes } from "../../src/convert";
import { convertNeeds } from "../../src/convert/estimate";
import { readGguf } from "../../src/gguf/reader";
import { quantizeModel } from "../../src/quantize";
import { CHECKPOINT_CASES, checkpointRoot, tinyCheckpoint } from "../helpers/hf-checkpoints";

const HEADER_ALLOWANCE = { text: 16 * 1024 * 1024, mmproj: 1024 * 1024 };

afterAll(() => rmSync(checkpointRoot(), { recursive: true, force: true }));

/** Data section bytes and header bytes of a written GGUF. */
async function sections(path: string): Promise<{ data: number; header: number }> {
  const g = await readGguf(path, { skipLargeArrays: true });
  return { data: statSync(path).size - g.dataOffset, header: g.dataOffset };
}

describe.each(CHECKPOINT_CASES.filter((c) => c.layout === "new"))("$id", (c) => {
  test.each(["f16", "bf16", "f32", "q8_0"] as const)(
    "text %s and mmproj f16: data exact, headers within the allowance",
    async (t) => {
      const dir = await tinyCheckpoint(c);
      const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
      const outfile = join(dir, `est-${t}.gguf`);
      const mmprojOutfile = join(dir, `est-mmproj-${t}.gguf`);
      await convertCheckpoint({ dir, outtype: t, outfile, mmprojOutfile });
      const needs = convertNeeds(config, { outtype: t, mmprojOuttype: "f16", quant: null });
      const text = await sections(outfile);
      const mmproj = await sections(mmprojOutfile);
      expect(needs.model - HEADER_ALLOWANCE.text).toBe(text.data);
      expect(needs.mmproj - HEADER_ALLOWANCE.mmproj).toBe(mmproj.data);
      expect(text.header).toBeLessThan(HEADER_ALLOWANCE.text);
      expect(mmproj.header).toBeLessThan(HEADER_ALLOWANCE.mmproj);
      expect(await estimateConvertBytes(dir, t, "f16")).toEqual({ model: needs.model, mmproj: needs.mmproj });
      rmSync(outfile);
      rmSync(mmprojOutfile);
    },
  );

  test.each(["Q4_K_M", "Q4_0", "Q8_0", "F16"])("quantized to %s: at most the bound", async (q) => {
    const dir = await tinyCheckpoint(c);
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
    const input = join(dir, `est-q-in-${q}.gguf`);
    const output = join(dir, `est-q-out-${q}.gguf`);
    await convertCheckpoint({ dir, outtype: "f16", outfile: input, mmprojOutfile: null });
    await quantizeModel({ input, output, type: q });
    const bound = convertNeeds(config, { outtype: null, mmprojOuttype: null, quant: q }).quantized;
    const written = await sections(output);
    expect(written.data).toBeGreaterThan(0);
    expect(written.data).toBeLessThanOrEqual(bound - HEADER_ALLOWANCE.text);
    rmSync(input);
    rmSync(output);
  });
});
