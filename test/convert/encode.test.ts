/**
 * The conversion kernels at the edges the random test checkpoints never reach: rounding ties,
 * overflow, NaN, subnormals, zero blocks (docs/models.md, "Rounding"). Expected bits are worked
 * out by hand from the IEEE formats and the rules the official converter's numpy code applies.
 */
import { encodeChunk, toFloat32 } from "../../src/convert/encode";
import { outputType } from "../../src/convert/names";

const f32Bytes = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);
const f32Bits = (...bits: number[]) => new Uint8Array(new Uint32Array(bits).buffer);
const u16 = (b: Uint8Array) => Array.from(new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));

test("f32 -> f16 rounds to nearest even and overflows to infinity", () => {
  // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: goes to the even 1.0 (0x3c00)
  // 1 + 3*2^-11 is a tie between 1+2^-10 and 1+2^-9: goes to the even 1+2^-9 (0x3c02)
  expect(
    u16(encodeChunk(f32Bytes(1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, -65520, 2 ** -24, 2 ** -26), "F32", "F16")),
  ).toEqual([0x3c00, 0x3c02, 0x7bff, 0x7c00, 0xfc00, 0x0001, 0x0000]);
});

test("f32 -> bf16 rounds to nearest even and keeps NaN quiet", () => {
  expect(
    u16(encodeChunk(f32Bits(0x3f808000, 0x3f818000, 0x3f808001, 0x7f800001, 0xff800000, 0x7f7fffff), "F32", "BF16")),
  ).toEqual([0x3f80, 0x3f82, 0x3f81, 0x7fc0, 0xff80, 0x7f80]);
});

test("bf16 -> f16 goes through float32 exactly (table path agrees with direct path)", () => {
  const bf = new Uint16Array([0x3f80, 0x4780, 0x477f, 0x0001, 0x8000, 0x7fc0]);
  const bytes = new Uint8Array(bf.buffer);
  const viaF32 = encodeChunk(new Uint8Array(toFloat32(bytes, "BF16").buffer), "F32", "F16");
  // bf16 -> f16 works in place on its input: give each call its own copy
  expect(u16(encodeChunk(bytes.slice(), "BF16", "F16"))).toEqual(u16(viaF32));
  expect(u16(encodeChunk(bytes.slice(), "BF16", "F16")).slice(0, 3)).toEqual([0x3c00, 0x7c00, 0x7bf8]); // 65536 overflows
  const odd = new Uint8Array(bytes.length + 1);
  odd.set(bytes, 1);
  expect(u16(encodeChunk(odd.subarray(1), "BF16", "F16"))).toEqual(u16(viaF32)); // unaligned input is copied
});

test("copies: bf16 -> bf16 and f16 -> f16 are byte for byte", () => {
  const b = new Uint8Array([1, 2, 3, 4, 5, 6]);
  expect(Array.from(encodeChunk(b, "BF16", "BF16"))).toEqual([1, 2, 3, 4, 5, 6]);
  expect(Array.from(encodeChunk(b, "F16", "F16"))).toEqual([1, 2, 3, 4, 5, 6]);
});

test("q8_0: scale max/127 in float32, quants rounded half away from zero", () => {
  const v = new Float32Array(32);
  v[0] = 127; // d = 1, so quants are the values themselves
  v[1] = 2.5; // a tie: away from zero -> 3
  v[2] = -2.5; // -> -3
  v[3] = 0.49;
  const out = encodeChunk(new Uint8Array(v.buffer), "F32", "Q8_0");
  expect(out.length).toBe(34);
  expect(out[0] | (out[1] << 8)).toBe(0x3c00); // f16 1.0
  expect(Array.from(new Int8Array(out.buffer, 2, 4))).toEqual([127, 3, -3, 0]);
  const zeros = encodeChunk(new Uint8Array(128), "F32", "Q8_0");
  expect(Array.from(zeros).every((x) => x === 0)).toBe(true);
});

test("output types: norms, 1-D and position embeddings stay F32; patch embedding follows f16 only", () => {
  expect(outputType("blk.0.attn_norm.weight", [64], "F16", "text")).toBe("F32");
  expect(outputType("blk.0.attn_q.bias", [64], "Q8_0", "text")).toBe("F32");
  expect(outputType("blk.0.attn_q_norm.weight", [32], "BF16", "text")).toBe("F32");
  expect(outputType("token_embd.weight", [64, 151936], "Q8_0", "text")).toBe("Q8_0");
  expect(outputType("blk.0.ffn_down.weight", [48, 64], "Q8_0", "text")).toBe("F16"); // rows not whole blocks
  expect(outputType("v.position_embd.weight", [64, 2304], "F16", "mmproj")).toBe("F32");
  expect(outputType("v.patch_embd.weight.1", [16, 16, 3, 64], "F16", "mmproj")).toBe("F16");
  expect(outputType("v.patch_embd.weight", [16, 16, 3, 64], "BF16", "mmproj")).toBe("F32");
  expect(outputType("mm.0.weight", [256, 256], "BF16", "mmproj")).toBe("BF16");
});
