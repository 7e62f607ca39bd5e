/**
 * What the converter writes, llama.cpp loads and runs: each family converted from a
 * new-layout checkpoint (the layout the official converter gets wrong for Qwen2.5-VL), loaded
 * by the Grounder and asked about a generated clip.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { convertCheckpoint } from "../../src/convert";
import { Grounder } from "../../src/session";
import { makeClip } from "../helpers/clips";
import { CHECKPOINT_CASES, checkpointRoot, tinyCheckpoint } from "../helpers/hf-checkpoints";

let clip: string;
beforeAll(() => {
  clip = makeClip({ seconds: 4 });
});
afterAll(() => rmSync(checkpointRoot(), { recursive: true, force: true }));

const cases = [
  { id: "qwen3vl-new", outtype: "f16", arch: "qwen3vl" },
  { id: "qwen25vl-new", outtype: "q8_0", arch: "qwen2vl" },
] as const;

test.each(cases)("$id ($outtype) loads and grounds", async ({ id, outtype, arch }) => {
  const dir = await tinyCheckpoint(CHECKPOINT_CASES.find((c) => c.id === id)!);
  const r = await convertCheckpoint({ dir, outtype, outfile: join(dir, "m.gguf"), mmprojOutfile: join(dir, "p.gguf") });
  const g = await Grounder.load({ model: r.model!, mmproj: r.mmproj!, contextSize: 2048, threads: 2 });
  try {
    expect(g.info.architecture).toBe(arch);
    const tokens: string[] = [];
    const res = await g.ground(clip, "a box moves", {
      totalTokens: 128,
      minTokens: 4,
      maxNewTokens: 6,
      onToken: (t) => tokens.push(t),
    });
    expect(res.usage.promptTokens).toBeGreaterThan(20);
    expect(res.usage.imageTokens).toBeGreaterThan(0);
    expect(res.usage.generatedTokens).toBeGreaterThan(0);
    expect(tokens.join("")).toBe(res.text);
  } finally {
    await g.dispose();
  }
});
