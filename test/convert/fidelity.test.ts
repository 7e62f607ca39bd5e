/**
 * Byte fidelity with llama.cpp's own convert_hf_to_gguf.py: for each tiny checkpoint (both
 * families, both layouts, sharded and single-file) and each output type, our GGUF summarises to
 * exactly the reference dump the official converter produced (docs/models.md, "Fidelity tests"):
 * same tensor names, types, shapes and data hashes, same metadata keys, types and values.
 * general.name is the one key allowed to differ (it comes from the directory name).
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { convertCheckpoint } from "../../src/convert";
import type { TextOutType } from "../../src/convert/types";
import { CHECKPOINT_CASES, checkpointRoot, tinyCheckpoint } from "../helpers/hf-checkpoints";
import { diffDumps, dumpGguf, type GgufDump } from "./gguf-dump";

const REF_DIR = join(__dirname, "..", "fixtures", "convert");
const ref = (name: string): GgufDump => JSON.parse(readFileSync(join(REF_DIR, `${name}.json`), "utf8")) as GgufDump;
const TEXT_TYPES: TextOutType[] = ["f16", "bf16", "f32", "q8_0"];

afterAll(() => rmSync(checkpointRoot(), { recursive: true, force: true }));

describe.each(CHECKPOINT_CASES)("$id", (c) => {
  test.each(TEXT_TYPES)("text model, %s", async (t) => {
    const dir = await tinyCheckpoint(c);
    const outfile = join(dir, `out-${t}.gguf`);
    const r = await convertCheckpoint({ dir, outtype: t, outfile, mmprojOutfile: null });
    expect(r.model).toBe(outfile);
    expect(r.mmproj).toBeUndefined();
    const reference = ref(`${c.ref}-${t}`);
    expect(reference.tensors.length).toBeGreaterThan(10);
    expect(diffDumps(dumpGguf(outfile), reference, ["general.name"])).toEqual([]);
    rmSync(outfile);
  });

  test.each(["f16", "bf16", "f32"] as const)("mmproj, %s", async (t) => {
    const dir = await tinyCheckpoint(c);
    const mmprojOutfile = join(dir, `mmproj-${t}.gguf`);
    await convertCheckpoint({ dir, mmprojOuttype: t, outfile: null, mmprojOutfile });
    // The official converter writes an EMPTY mmproj for Qwen2.5-VL in the new layout; ours holds
    // the same tensors as for the old layout (the generator seeds both layouts alike).
    const reference = ref(`mmproj-${c.family === "qwen2.5vl" ? "qwen25vl-old" : c.ref}-${t}`);
    expect(reference.tensors.length).toBeGreaterThan(20);
    expect(diffDumps(dumpGguf(mmprojOutfile), reference, ["general.name"])).toEqual([]);
    rmSync(mmprojOutfile);
  });
});

test("general.name defaults to the directory name and can be set", async () => {
  const dir = await tinyCheckpoint(CHECKPOINT_CASES[0]);
  const a = await convertCheckpoint({ dir, outfile: join(dir, "n1.gguf"), mmprojOutfile: null });
  expect(dumpGguf(a.model!).metadata["general.name"].value).toBe("qwen3vl-new");
  const b = await convertCheckpoint({ dir, outfile: join(dir, "n2.gguf"), mmprojOutfile: null, name: "TimeLens-8B" });
  expect(dumpGguf(b.model!).metadata["general.name"].value).toBe("TimeLens-8B");
});
