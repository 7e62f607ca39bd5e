/**
 * The streaming path at sizes the tiny test checkpoints never reach (docs/models.md, "Speed"):
 * many chunks per tensor with reused buffers and three stages in flight, odd element counts and
 * offsets for the paired bf16 -> f16 kernel. Expected bytes come from the one-element-at-a-time
 * reference (toFloat32, then f32 -> f16), and from the whole tensor encoded in one chunk.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeChunk, type OutType, toFloat32 } from "../../src/convert/encode";
import { RangeReader } from "../../src/convert/safetensors";
import { ChunkPool, tensorSource } from "../../src/convert/stream";

const tmp = mkdtempSync(join(tmpdir(), "timelens-stream-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Pseudo-random bf16 bits over the whole range (normals, subnormals, overflow, NaN). */
function randomBits(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 16;
  }
  return out;
}

function referenceF16(bits: Uint16Array): number[] {
  const f = toFloat32(new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength), "BF16");
  return Array.from(new Uint16Array(encodeChunk(new Uint8Array(f.buffer), "F32", "F16").buffer));
}

test("bf16 -> f16: the paired kernel equals the element-wise reference for every length and alignment", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  expect(Array.from(new Uint16Array(encodeChunk(new Uint8Array(all.slice().buffer), "BF16", "F16").buffer))).toEqual(
    referenceF16(all),
  );
  const bits = randomBits(37, 7);
  for (const offset of [0, 2, 4, 6]) {
    for (const n of [0, 1, 2, 3, 36, 37 - offset / 2]) {
      const buf = new Uint8Array(offset + n * 2 + 4);
      const view = buf.subarray(offset, offset + n * 2);
      view.set(new Uint8Array(bits.buffer, 0, n * 2));
      buf.fill(0xab, offset + n * 2); // bytes past the view must stay as they are
      const got = encodeChunk(view, "BF16", "F16");
      expect([offset, n, Array.from(new Uint16Array(got.slice().buffer))]).toEqual([
        offset,
        n,
        referenceF16(bits.subarray(0, n)),
      ]);
      expect(Array.from(buf.subarray(offset + n * 2))).toEqual([0xab, 0xab, 0xab, 0xab]);
    }
  }
});

/** A writer whose writes complete later and copy the bytes only then, as a real file write does. */
function slowWriter(): { write: (b: Uint8Array) => Promise<void>; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  let busy = false;
  return {
    write: async (b) => {
      if (busy) throw new Error("writes overlapped");
      busy = true;
      await new Promise((r) => setTimeout(r, 1));
      parts.push(Buffer.from(b));
      busy = false;
    },
    bytes: () => Buffer.concat(parts),
  };
}

async function stream(
  file: string,
  dims: number[],
  dtype: "BF16" | "F32",
  type: OutType,
  chunkBytes: number,
  offset: number,
): Promise<Buffer> {
  const reader = new RangeReader();
  const w = slowWriter();
  const el = dtype === "BF16" ? 2 : 4;
  const elements = dims.reduce((a, b) => a * b, 1);
  const source = { file, dtype, shape: [...dims].reverse(), offset, byteLength: elements * el };
  try {
    await tensorSource(
      { source, mapped: { gguf: "t", part: { kind: "all" } }, dims, type },
      reader,
      new ChunkPool(chunkBytes),
    )(w.write);
  } finally {
    await reader.close();
  }
  return w.bytes();
}

test.each([
  ["BF16", "F16"],
  ["BF16", "BF16"],
  ["BF16", "F32"],
  ["BF16", "Q8_0"],
  ["F32", "F16"],
  ["F32", "F32"],
] as const)("many small chunks with reused buffers write what one chunk writes: %s -> %s", async (dtype, type) => {
  const dims = [64, 37]; // 37 rows of 64: chunks of 3 rows leave a short last chunk
  const el = dtype === "BF16" ? 2 : 4;
  const data = Buffer.from(randomBits((dims[0] * dims[1] * el) / 2, 11).buffer);
  if (dtype === "F32") for (let i = 0; i < data.length; i += 4) data.writeFloatLE(((i % 977) - 488) / 97, i);
  const file = join(tmp, `${dtype}-${type}.bin`);
  writeFileSync(file, Buffer.concat([Buffer.alloc(24, 0xcd), data])); // data starts past a fake header
  const whole = await stream(file, dims, dtype, type, 1 << 20, 24);
  const small = await stream(file, dims, dtype, type, 3 * dims[0] * el, 24);
  expect(small.length).toBe(whole.length);
  expect(small.equals(whole)).toBe(true);
  const one = encodeChunk(Buffer.from(data), dtype, type);
  expect(whole.equals(Buffer.from(one.buffer, one.byteOffset, one.byteLength))).toBe(true);
});

test("a failed write stops the stream with that error, after the writes before it", async () => {
  const file = join(tmp, "fail.bin");
  const dims = [32, 20];
  writeFileSync(file, Buffer.from(randomBits(dims[0] * dims[1], 3).buffer));
  const reader = new RangeReader();
  let calls = 0;
  const write = async () => {
    calls++;
    if (calls === 3) throw new Error("disk full");
  };
  const source = { file, dtype: "BF16" as const, shape: [20, 32], offset: 0, byteLength: 32 * 20 * 2 };
  const run = tensorSource(
    { source, mapped: { gguf: "t", part: { kind: "all" } }, dims, type: "F16" },
    reader,
    new ChunkPool(64 * 2),
  )(write);
  await expect(run).rejects.toThrow("disk full");
  await reader.close();
  expect(calls).toBe(3);
});
