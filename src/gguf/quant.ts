/**
 * Float conversions and the Q8_0 block quantizer used by the GGUF writer, written from
 * the formats: IEEE binary16 (round to nearest even) and Q8_0 blocks of 32 values stored
 * as one f16 scale d followed by 32 int8 quants q, value = d * q.
 */

// Hot loops use local bindings, not global lookups (slow inside vm sandboxes such as jest's).
const { abs, round } = Math;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half bits, round to nearest, ties to even; overflow -> inf, NaN kept. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // inf / NaN
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit-1 mantissa into place, then round
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // carries into the exponent correctly
  return sign | h;
}

/** IEEE half bits -> number. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export const Q8_0_BLOCK = 32;
export const Q8_0_BYTES = 34;

/**
 * Quantizes `src` (length a multiple of 32) into Q8_0 blocks written to `out` at `outOffset`.
 * Scale d = max|x| / 127 (stored as f16); q = round-half-away(x / d) clamped to [-127, 127].
 */
export function quantizeQ8_0(src: Float32Array, out: Uint8Array, outOffset = 0): number {
  if (src.length % Q8_0_BLOCK !== 0)
    throw new RangeError(`Q8_0 needs a multiple of ${Q8_0_BLOCK} values, got ${src.length}`);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let o = outOffset;
  for (let b = 0; b < src.length; b += Q8_0_BLOCK) {
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const a = abs(src[b + i]);
      if (a > amax) amax = a;
    }
    const d = amax / 127;
    const inv = d !== 0 ? 1 / d : 0;
    view.setUint16(o, f32ToF16Bits(d), true);
    o += 2;
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const v = src[b + i] * inv;
      let q = v < 0 ? -round(-v) : round(v);
      if (q > 127) q = 127;
      else if (q < -127) q = -127;
      view.setInt8(o++, q);
    }
  }
  return o - outOffset;
}

/** Inverse of quantizeQ8_0 (for tests and checks). */
export function dequantizeQ8_0(bytes: Uint8Array, nValues: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(nValues);
  for (let b = 0, o = 0; b < nValues; b += Q8_0_BLOCK, o += Q8_0_BYTES) {
    const d = f16BitsToF32(view.getUint16(o, true));
    for (let i = 0; i < Q8_0_BLOCK; i++) out[b + i] = d * view.getInt8(o + 2 + i);
  }
  return out;
}
