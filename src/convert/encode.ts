/**
 * Element conversions from checkpoint dtypes to GGUF tensor types, bit-exact with the official
 * converter's numpy code (docs/models.md, "Rounding"): every source value is first widened to
 * float32 (exact), then F16 rounds to nearest even (overflow to infinity), BF16 rounds to
 * nearest even with NaN forced quiet, and Q8_0 computes its scale and quants in float32.
 */
import { f32ToF16Bits } from "../gguf/quant";
import type { SourceDtype } from "./safetensors";

export type OutType = "F32" | "F16" | "BF16" | "Q8_0";

export const OUT_BYTES_PER_ELEMENT: Record<Exclude<OutType, "Q8_0">, number> = { F32: 4, F16: 2, BF16: 2 };

const { abs, floor, fround } = Math;

let bf16ToF16Table: Uint16Array | undefined;
let f16ToF32Table: Float32Array | undefined;

function bf16ToF16(): Uint16Array {
  if (!bf16ToF16Table) {
    const t = new Uint16Array(65536);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < 65536; i++) {
      u[0] = i << 16;
      t[i] = f32ToF16Bits(f[0]);
    }
    bf16ToF16Table = t;
  }
  return bf16ToF16Table;
}

function f16ToF32(): Float32Array {
  if (!f16ToF32Table) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >>> 10) & 0x1f;
      const mant = h & 0x3ff;
      t[h] =
        exp === 0
          ? sign * mant * 2 ** -24
          : exp === 0x1f
            ? mant
              ? NaN
              : sign * Infinity
            : sign * (1 + mant / 1024) * 2 ** (exp - 15);
    }
    f16ToF32Table = t;
  }
  return f16ToF32Table;
}

/**
 * bf16 bits -> f16 bits in place. Two elements per 32-bit load and store where the view is
 * 4-byte aligned: the loop is bound by typed-array accesses, and pairing halves them (about
 * 25% faster than one lookup per element, measured; docs/models.md, "Speed").
 */
function bf16ToF16InPlace(u16: Uint16Array): void {
  const t = bf16ToF16();
  let i = 0;
  if (u16.byteOffset % 4 !== 0 && u16.length > 0) u16[i++] = t[u16[0]];
  const pairs = (u16.length - i) >>> 1;
  if (pairs > 0) {
    const u32 = new Uint32Array(u16.buffer, u16.byteOffset + i * 2, pairs);
    for (let k = 0; k < pairs; k++) {
      const x = u32[k];
      u32[k] = t[x & 0xffff] | (t[x >>> 16] << 16);
    }
    i += pairs * 2;
  }
  for (; i < u16.length; i++) u16[i] = t[u16[i]];
}

/** Widens a chunk of source elements to float32 (exact for every source dtype). */
export function toFloat32(src: Uint8Array, dtype: SourceDtype): Float32Array {
  if (dtype === "F32") {
    const copy = new Uint8Array(src.byteLength);
    copy.set(src);
    return new Float32Array(copy.buffer);
  }
  const n = src.byteLength / 2;
  const u16 = new Uint16Array(n);
  new Uint8Array(u16.buffer).set(src);
  const out = new Float32Array(n);
  if (dtype === "BF16") {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = u16[i] << 16;
  } else {
    const t = f16ToF32();
    for (let i = 0; i < n; i++) out[i] = t[u16[i]];
  }
  return out;
}

/** float32 bits -> bfloat16 bits: NaN made quiet, then round to nearest even. */
function f32BitsToBf16(x: number): number {
  if ((x & 0x7fffffff) >>> 0 > 0x7f800000) x = ((x & 0xffff0000) | (64 << 16)) >>> 0;
  return Math.floor((x + 0x7fff + ((x >>> 16) & 1)) / 65536) & 0xffff;
}

/** Q8_0 blocks of 32: f16 scale d = max|x| / 127, quants round-half-away(x * (1/d)), all in float32. */
function quantizeQ8_0(values: Float32Array): Uint8Array {
  const blocks = values.length / 32;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * 32;
    let amax = 0;
    for (let i = 0; i < 32; i++) {
      const a = abs(values[base + i]);
      if (a > amax) amax = a;
    }
    const d = fround(amax / 127);
    const id = d === 0 ? 0 : fround(1 / d);
    const o = b * 34;
    view.setUint16(o, f32ToF16Bits(d), true);
    for (let i = 0; i < 32; i++) {
      const v = fround(values[base + i] * id);
      const a = abs(v);
      const fl = floor(a);
      let q = fl + floor(2 * (a - fl));
      if (v < 0) q = -q;
      if (q > 127) q = 127;
      else if (q < -128) q = -128;
      view.setInt8(o + 2 + i, q);
    }
  }
  return out;
}

/**
 * Encodes a chunk of source bytes (whole Q8_0 blocks when `out` is Q8_0) as `out`.
 * bf16 -> f16 converts `src` in place: callers pass a buffer they own.
 */
export function encodeChunk(src: Uint8Array, dtype: SourceDtype, out: OutType): Uint8Array {
  if (out === "Q8_0") return quantizeQ8_0(toFloat32(src, dtype));
  if (out === "F32") {
    const f = toFloat32(src, dtype);
    return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  }
  if (dtype === out) {
    // F16 -> F16 and BF16 -> BF16 are copies
    const copy = new Uint8Array(src.byteLength);
    copy.set(src);
    return copy;
  }
  if (dtype === "BF16" && out === "F16") {
    const n = src.byteLength / 2;
    // the common case (bf16 checkpoint, f16 output): in place when aligned, one table lookup each
    const u16 = src.byteOffset % 2 === 0 ? new Uint16Array(src.buffer, src.byteOffset, n) : new Uint16Array(n);
    if (u16.buffer !== src.buffer) new Uint8Array(u16.buffer).set(src);
    bf16ToF16InPlace(u16);
    return new Uint8Array(u16.buffer, u16.byteOffset, src.byteLength);
  }
  const f = toFloat32(src, dtype);
  const res = new Uint16Array(f.length);
  if (out === "F16") {
    for (let i = 0; i < f.length; i++) res[i] = f32ToF16Bits(f[i]);
  } else {
    const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
    for (let i = 0; i < f.length; i++) res[i] = f32BitsToBf16(bits[i]);
  }
  return new Uint8Array(res.buffer);
}

/** Bytes `elements` values take in `out` (Q8_0: 34 bytes per 32). */
export function encodedBytes(elements: number, out: OutType): number {
  return out === "Q8_0" ? (elements / 32) * 34 : elements * OUT_BYTES_PER_ELEMENT[out];
}
