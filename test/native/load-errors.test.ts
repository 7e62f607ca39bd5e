/**
 * Every bad model input yields its typed error through the load path, and the process keeps
 * running (a llama.cpp abort or segfault would kill this test process).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VisionModel } from "../../src/runtime/model";
import {
  projContent,
  textContent,
  writeContent,
  dropTensor,
  retypeTensor,
  setKey,
} from "../../scripts/fixtures/variants";
import { fixturePair } from "../helpers/models";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "timelens-load-errors-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const qwen3 = fixturePair("tiny-qwen3vl");
const qwen25 = fixturePair("tiny-qwen25vl");

async function loadError(model: string, mmproj: string): Promise<{ code: string; message: string }> {
  const e = await VisionModel.load({ model, mmproj, contextSize: 512 }).then(
    async (m) => {
      await m.dispose();
      return null;
    },
    (err) => err,
  );
  expect(e).not.toBeNull();
  return e;
}

test("missing file", async () => {
  const e = await loadError(join(dir, "nope.gguf"), qwen3.mmproj);
  expect(e.code).toBe("ERR_FILE_NOT_FOUND");
  expect(e.message).toContain("nope.gguf");
});

test("not a GGUF", async () => {
  const p = join(dir, "text.gguf");
  writeFileSync(p, "this is not a model\n".repeat(100));
  const e = await loadError(p, qwen3.mmproj);
  expect(e.code).toBe("ERR_MODEL_INVALID");
  expect(e.message).toMatch(/not a GGUF/i);
});

test("truncated GGUF", async () => {
  const p = join(dir, "truncated.gguf");
  const bytes = readFileSync(qwen3.model);
  writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const e = await loadError(p, qwen3.mmproj);
  expect(e.code).toBe("ERR_MODEL_INVALID");
  expect(e.message).toMatch(/truncated/i);
});

test("corrupt header counts", async () => {
  const p = join(dir, "corrupt.gguf");
  const bytes = Buffer.from(readFileSync(qwen3.model));
  bytes.writeBigUInt64LE(0xffffffffffn, 8); // tensor count
  writeFileSync(p, bytes);
  const e = await loadError(p, qwen3.mmproj);
  expect(e.code).toBe("ERR_MODEL_INVALID");
  expect(e.message).toMatch(/corrupt|truncated/i);
});

test("Qwen2.5-VL projector with a Qwen3-VL text model", async () => {
  const e = await loadError(qwen3.model, qwen25.mmproj);
  expect(e.code).toBe("ERR_MMPROJ_MISMATCH");
});

test("projector of the right family with the wrong embedding size", async () => {
  const cfg = projContent("qwen3vl");
  const p = await writeContent(dir, "narrow-mmproj.gguf", cfg, (c) => {
    // Re-shape the merger output to a width the text model does not have.
    const mm2w = c.tensors.find((t) => t.name === "mm.2.weight")!;
    const mm2b = c.tensors.find((t) => t.name === "mm.2.bias")!;
    mm2w.dims = [mm2w.dims[0], mm2w.dims[1] * 2];
    mm2b.dims = [mm2b.dims[0] * 2];
    for (const t of c.tensors.filter((t) => /^v\.deepstack\.\d+\.fc2\./.test(t.name))) {
      t.dims = t.name.endsWith("weight") ? [t.dims[0], t.dims[1] * 2] : [t.dims[0] * 2];
    }
  });
  const e = await loadError(qwen3.model, p);
  expect(e.code).toBe("ERR_MMPROJ_MISMATCH");
  expect(e.message).toMatch(/\d+.*\d+/);
});

test("mmproj without a vision encoder", async () => {
  const p = await writeContent(dir, "novision.gguf", projContent("qwen3vl"), setKey("clip.has_vision_encoder", false));
  const e = await loadError(qwen3.model, p);
  expect(e.code).toBe("ERR_NO_VISION");
});

test("mmproj missing a tensor that would crash llama.cpp", async () => {
  const p = await writeContent(dir, "noqkv.gguf", projContent("qwen3vl"), dropTensor("v.blk.0.attn_qkv.weight"));
  const e = await loadError(qwen3.model, p);
  expect(e.code).toBe("ERR_MODEL_INVALID");
  expect(e.message).toContain("v.blk.0.attn_qkv.weight");
});

test("F16 position embedding (aborts in ggml) is refused", async () => {
  const p = await writeContent(
    dir,
    "f16pos.gguf",
    projContent("qwen3vl"),
    retypeTensor("v.position_embd.weight", "F16"),
  );
  const e = await loadError(qwen3.model, p);
  expect(e.code).toBe("ERR_MODEL_INVALID");
});

test("text model and mmproj swapped", async () => {
  const e = await loadError(qwen3.mmproj, qwen3.model);
  expect(e.code).toBe("ERR_MODEL_INVALID");
  expect(e.message).toMatch(/swapped/);
});

test("an unsupported text architecture", async () => {
  const content = await textContent("qwen3vl");
  const p = await writeContent(dir, "llama.gguf", content, (c) => {
    c.metadata["general.architecture"] = "llama";
  });
  const e = await loadError(p, qwen3.mmproj);
  expect(e.code).toBe("ERR_MODEL_UNSUPPORTED");
});

test("the process is still healthy: a good pair loads after all that", async () => {
  const copy = join(dir, "copy.gguf");
  copyFileSync(qwen3.model, copy);
  const m = await VisionModel.load({ model: copy, mmproj: qwen3.mmproj, contextSize: 512 });
  expect(m.info.architecture).toBe("qwen3vl");
  await m.dispose();
});
