import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf, writeGguf, type GgufTensorInput } from "../../src/gguf/writer";
import { parseGgufBuffer, readGguf, readGgufSync } from "../../src/gguf/reader";
import { dequantizeQ8_0, f16BitsToF32, f32ToF16Bits, quantizeQ8_0 } from "../../src/gguf/quant";
import { ggmlTypeByName, isSkippedArray } from "../../src/gguf/types";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-rw-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (x: number) => Math.fround(x);

describe("metadata round trip", () => {
  const metadata = {
    "t.u8": gguf.u8(250),
    "t.i8": gguf.i8(-100),
    "t.u16": gguf.u16(65000),
    "t.i16": gguf.i16(-32000),
    "t.u32": gguf.u32(4_000_000_000),
    "t.i32": gguf.i32(-2_000_000_000),
    "t.f32": gguf.f32(0.1),
    "t.f64": gguf.f64(0.1),
    "t.bool.true": gguf.bool(true),
    "t.bool.false": gguf.bool(false),
    "t.string": gguf.str("héllo <|im_end|> 世界"),
    "t.empty": gguf.str(""),
    "t.u64": gguf.u64(12345678901234n),
    "t.u64.big": gguf.u64(18446744073709551615n),
    "t.i64": gguf.i64(-9007199254740993n),
    "t.arr.str": gguf.arr("string", ["a", "", "ĠĠ", "<|vision_start|>"]),
    "t.arr.i32": gguf.arr("i32", [1, -2, 3]),
    "t.arr.f32": gguf.arr("f32", [0.5, 0.25, 0.1]),
    "t.arr.bool": gguf.arr("bool", [true, false, true]),
    "t.arr.u8": gguf.arr("u8", [0, 255]),
    "t.arr.u64": gguf.arr("u64", [1n, 2n]),
    "t.arr.f64": gguf.arr("f64", [1.5]),
    "t.arr.empty": gguf.arr("u32", []),
    "plain.string": "x",
    "plain.bool": true,
    "plain.uint": 7,
    "plain.negative": -7,
    "plain.float": 1.5,
    "plain.strings": ["p", "q"],
  };
  let path: string;
  beforeAll(async () => {
    path = join(dir, "meta.gguf");
    await writeGguf(path, { metadata, tensors: [] });
  });

  it("reads back every value type with its declared type", async () => {
    const g = await readGguf(path);
    expect(g.version).toBe(3);
    expect(g.tensors).toEqual([]);
    const m = g.metadata;
    expect(m["t.u8"]).toBe(250);
    expect(m["t.i8"]).toBe(-100);
    expect(m["t.u16"]).toBe(65000);
    expect(m["t.i16"]).toBe(-32000);
    expect(m["t.u32"]).toBe(4_000_000_000);
    expect(m["t.i32"]).toBe(-2_000_000_000);
    expect(m["t.f32"]).toBe(f32(0.1));
    expect(m["t.f64"]).toBe(0.1);
    expect(m["t.bool.true"]).toBe(true);
    expect(m["t.bool.false"]).toBe(false);
    expect(m["t.string"]).toBe("héllo <|im_end|> 世界");
    expect(m["t.empty"]).toBe("");
    expect(m["t.u64"]).toBe(12345678901234);
    expect(m["t.u64.big"]).toBe(18446744073709551615n);
    expect(m["t.i64"]).toBe(-9007199254740993n);
    expect(m["t.arr.str"]).toEqual(["a", "", "ĠĠ", "<|vision_start|>"]);
    expect(m["t.arr.i32"]).toEqual([1, -2, 3]);
    expect(m["t.arr.f32"]).toEqual([0.5, 0.25, f32(0.1)]);
    expect(m["t.arr.bool"]).toEqual([true, false, true]);
    expect(m["t.arr.u8"]).toEqual([0, 255]);
    expect(m["t.arr.u64"]).toEqual([1, 2]);
    expect(m["t.arr.f64"]).toEqual([1.5]);
    expect(m["t.arr.empty"]).toEqual([]);
    expect(m["plain.strings"]).toEqual(["p", "q"]);
    const types = g.metadataTypes;
    expect(types["t.u8"]).toEqual({ type: "u8" });
    expect(types["t.i64"]).toEqual({ type: "i64" });
    expect(types["t.arr.str"]).toEqual({ type: "array", itemType: "string", length: 4 });
    expect(types["plain.string"].type).toBe("string");
    expect(types["plain.bool"].type).toBe("bool");
    expect(types["plain.uint"].type).toBe("u32");
    expect(types["plain.negative"].type).toBe("i32");
    expect(types["plain.float"].type).toBe("f32");
    expect(Object.keys(m)).toEqual(Object.keys(metadata)); // order kept
  });

  it("sync, async, in-memory and small-chunk reads agree", async () => {
    const a = await readGguf(path);
    const b = readGgufSync(path);
    const c = parseGgufBuffer(readFileSync(path), { path });
    const d = await readGguf(path, { initialChunkBytes: 7 });
    const e = readGgufSync(path, { initialChunkBytes: 3 });
    for (const x of [b, c, d, e]) {
      expect(x.metadata).toEqual(a.metadata);
      expect(x.metadataTypes).toEqual(a.metadataTypes);
      expect(x.dataOffset).toBe(a.dataOffset);
    }
  });

  it("skips long arrays on request, keeping type and length, except the kept keys", async () => {
    const p = join(dir, "long.gguf");
    const long = Array.from({ length: 5000 }, (_, i) => `tok${i}`);
    await writeGguf(p, {
      metadata: {
        "a.tokens": gguf.arr("string", long),
        "a.types": gguf.arr(
          "i32",
          long.map((_, i) => i),
        ),
        "a.short": gguf.arr("i32", [1, 2]),
      },
      tensors: [],
    });
    const g = await readGguf(p, { skipLargeArrays: true, keepArrays: ["a.tokens"] });
    expect(g.metadata["a.tokens"]).toEqual(long);
    expect(isSkippedArray(g.metadata["a.types"])).toBe(true);
    expect(g.metadata["a.types"]).toEqual({ skipped: true, itemType: "i32", length: 5000 });
    expect(g.metadata["a.short"]).toEqual([1, 2]);
    const all = readGgufSync(p, { skipLargeArrays: 10 });
    expect(isSkippedArray(all.metadata["a.tokens"])).toBe(true);
  });

  it("rejects values that do not fit their type", async () => {
    await expect(writeGguf(join(dir, "bad.gguf"), { metadata: { x: gguf.u8(300) }, tensors: [] })).rejects.toThrow(
      /not a valid u8/,
    );
    await expect(writeGguf(join(dir, "bad.gguf"), { metadata: { x: gguf.u32(-1) }, tensors: [] })).rejects.toThrow(
      /not a valid u32/,
    );
  });
});

describe("tensor round trip", () => {
  const values = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
  const a = values(64 * 3, (i) => Math.sin(i) * 3);
  const b = values(32 * 2 * 2, (i) => (i % 7) - 3.5);
  const q = values(64 * 4, (i) => Math.cos(i * 0.37) * 0.05);
  const q4kBlock = new Uint8Array(144).map((_, i) => i);
  const tensors: GgufTensorInput[] = [
    { name: "a.f32", dims: [64, 3], type: "F32", data: a },
    { name: "b.f16", dims: [32, 2, 2], type: "F16", data: b },
    { name: "c.q8", dims: [64, 4], type: "Q8_0", fill: (out, start) => out.set(q.subarray(start, start + out.length)) },
    { name: "d.q4k", dims: [256], type: "Q4_K", raw: q4kBlock },
    { name: "e.bf16", dims: [3], type: "BF16", raw: new Uint8Array([1, 2, 3, 4, 5, 6]) },
    { name: "f.scalarish", dims: [1], type: "F32", data: Float32Array.of(42) },
  ];
  let path: string;
  beforeAll(async () => {
    path = join(dir, "tensors.gguf");
    await writeGguf(path, { metadata: { "general.architecture": "test" }, tensors }, { chunkValues: 64 });
  });

  it("lists tensors with ne order dims, types, aligned packed offsets and byte sizes", async () => {
    const g = await readGguf(path);
    expect(g.alignment).toBe(32);
    expect(g.dataOffset % 32).toBe(0);
    expect(g.tensors.map((t) => [t.name, t.dims, t.type.name, t.byteSize])).toEqual([
      ["a.f32", [64, 3], "F32", 64 * 3 * 4],
      ["b.f16", [32, 2, 2], "F16", 128 * 2],
      ["c.q8", [64, 4], "Q8_0", 8 * 34],
      ["d.q4k", [256], "Q4_K", 144],
      ["e.bf16", [3], "BF16", 6],
      ["f.scalarish", [1], "F32", 4],
    ]);
    let expected = 0;
    for (const t of g.tensors) {
      expect(t.offset).toBe(expected);
      expect(t.fileOffset).toBe(g.dataOffset + t.offset);
      expected += Math.ceil(t.byteSize / 32) * 32;
    }
    expect(g.fileSize).toBe(statSync(path).size);
    expect(g.fileSize).toBe(g.dataOffset + expected);
  });

  it("stores the values: F32 exactly, F16 rounded, Q8_0 within half a step, raw bytes as given", async () => {
    const g = await readGguf(path);
    const bytes = readFileSync(path);
    const at = (name: string) => {
      const t = g.tensors.find((x) => x.name === name)!;
      return bytes.subarray(t.fileOffset, t.fileOffset + t.byteSize);
    };
    const fa = at("a.f32");
    expect(new Float32Array(fa.buffer.slice(fa.byteOffset, fa.byteOffset + fa.byteLength))).toEqual(a);
    const fb = at("b.f16");
    for (let i = 0; i < b.length; i++) expect(f16BitsToF32(fb.readUInt16LE(i * 2))).toBe(b[i]); // halves of k/2 are exact
    const deq = dequantizeQ8_0(at("c.q8"), q.length);
    for (let blk = 0; blk < q.length; blk += 32) {
      const amax = Math.max(...Array.from(q.subarray(blk, blk + 32), Math.abs));
      for (let i = blk; i < blk + 32; i++)
        expect(Math.abs(deq[i] - q[i])).toBeLessThanOrEqual(amax / 127 / 2 + amax * 1e-3);
    }
    expect(Array.from(at("d.q4k"))).toEqual(Array.from(q4kBlock));
    expect(Array.from(at("e.bf16"))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("honours a custom alignment and records it as general.alignment", async () => {
    const p = join(dir, "align.gguf");
    await writeGguf(
      p,
      {
        metadata: {},
        tensors: [
          { name: "x", dims: [3], type: "F32", data: Float32Array.of(1, 2, 3) },
          { name: "y", dims: [1], type: "F32", data: Float32Array.of(4) },
        ],
      },
      { alignment: 64 },
    );
    const g = readGgufSync(p);
    expect(g.alignment).toBe(64);
    expect(g.metadata["general.alignment"]).toBe(64);
    expect(g.dataOffset % 64).toBe(0);
    expect(g.tensors[1].offset).toBe(64);
  });

  it("refuses tensors llama.cpp could not load", async () => {
    const w = (t: GgufTensorInput) => writeGguf(join(dir, "bad-t.gguf"), { metadata: {}, tensors: [t] });
    await expect(w({ name: "q", dims: [48], type: "Q8_0", data: new Float32Array(48) })).rejects.toThrow(/block size/);
    await expect(w({ name: "x".repeat(64), dims: [1], type: "F32", data: new Float32Array(1) })).rejects.toThrow(
      /too long/,
    );
    await expect(w({ name: "k", dims: [256], type: "Q4_K", data: new Float32Array(256) })).rejects.toThrow(/raw bytes/);
    await expect(w({ name: "d", dims: [1, 1, 1, 1, 1], type: "F32", data: new Float32Array(1) })).rejects.toThrow(
      /dims/,
    );
  });
});

describe("number formats", () => {
  it("converts float32 to half with round-to-nearest-even, subnormals and overflow", () => {
    expect(f32ToF16Bits(0)).toBe(0);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to infinity
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(f32ToF16Bits(2 ** -26)).toBe(0); // below half the smallest subnormal
    for (const x of [0.1, 0.333, -7.25, 1e-5, 1234.5])
      expect(Math.abs(f16BitsToF32(f32ToF16Bits(x)) - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11 + 2 ** -25);
  });

  it("quantizes Q8_0 blocks: f16 scale max/127 then 32 int8, zero blocks stay zero", () => {
    const src = new Float32Array(64);
    src[0] = 1.27;
    src[5] = -0.635;
    const out = new Uint8Array(68);
    expect(quantizeQ8_0(src, out)).toBe(68);
    const view = new DataView(out.buffer);
    expect(f16BitsToF32(view.getUint16(0, true))).toBeCloseTo(0.01, 4);
    expect(view.getInt8(2)).toBe(127);
    expect(view.getInt8(7)).toBe(-64); // -63.5 rounds away from zero
    expect(Array.from(out.subarray(34))).toEqual(new Array(34).fill(0));
    expect(ggmlTypeByName("q8_0")!.typeSize).toBe(34);
  });
});
