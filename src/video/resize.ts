/**
 * Bicubic resampling with antialiasing of packed RGB uint8 frames, written to reproduce the
 * reference pipeline bit for bit (docs/reference.md "Frame sampling").
 *
 * Two reference behaviours are implemented; both are separable (horizontal pass first, then
 * vertical, a pass is skipped when its size does not change), use the Keys cubic kernel with
 * a = -0.5 and widen its support by the downscale factor (the "antialias" part):
 *
 * - `"torch"` (default): what `torchvision.transforms.functional.resize(uint8_tensor, size,
 *   InterpolationMode.BICUBIC, antialias=True)` does, the call qwen-vl-utils makes. torchvision
 *   casts the uint8 tensor to float32, runs PyTorch's CPU `_upsample_bicubic2d_aa` kernel, clamps
 *   to [0, 255], rounds half to even and casts back. Every float32 operation of that kernel
 *   (scale, centres, kernel weights and their normalisation, the multiply-accumulate) is
 *   emulated with `Math.fround`; `compat` picks the PyTorch build (torch-compat.ts).
 * - `"pil"`: Pillow's `Image.resize(size, Image.BICUBIC)` on an RGB image: weights in double,
 *   converted to 22-bit fixed point, integer accumulation, and the horizontal result is rounded
 *   and clipped to uint8 before the vertical pass.
 *
 * The two differ by at most 1 on a small fraction of pixels (PIL rounds the intermediate rows).
 */

import { instantiateTorchKernel, type TorchKernel } from "./resize-wasm";
import { torchBuild, type TorchCompat } from "./torch-compat";

export type ResampleMode = "torch" | "pil";

export interface ResizeOptions {
  /** Which reference to reproduce. Default "torch". */
  mode?: ResampleMode;
  /**
   * torch mode only: the PyTorch build to reproduce (default "torch2-simd"). The SIMD kernels
   * contract the filter-weight polynomial into fused multiply-adds and torch 1.x used a double
   * constant in it; either changes the last float bit of some weights, which moves well under
   * 0.01% of output values by 1.
   */
  compat?: TorchCompat;
  /**
   * torch mode only: "wasm" runs the passes as WebAssembly SIMD (several times faster, same
   * bits), "js" as plain typed-array loops; "auto" (default) uses wasm where available.
   */
  engine?: "auto" | "wasm" | "js";
}

/** Precomputed taps of one axis: output i reads `size[i]` inputs from `start[i]`. */
interface AxisTaps {
  inSize: number;
  outSize: number;
  /** Taps per output (row stride of `weights`). */
  stride: number;
  start: Int32Array;
  size: Int32Array;
  /** torch: float32 weights. */
  weights?: Float32Array;
  /** pil: fixed-point weights. */
  fixed?: Int32Array;
}

const f32 = Math.fround;

/** float32 fused multiply-add: a*b is exact in double for float32 operands, one final rounding. */
function fmaf(a: number, b: number, c: number): number {
  return f32(a * b + c);
}

/**
 * PyTorch's antialiasing bicubic filter (Keys, a = -0.5) in float32.
 * torch >= 2.0 evaluates `cubic_convolution1/2` with float32 `a`; torch 1.x used Pillow's
 * form with a double `a` (first branch in double, second in float then scaled in double).
 */
function torchCubic(xIn: number, fma: boolean, version: 1 | 2): number {
  const x = Math.abs(xIn);
  if (version === 1) {
    if (x < 1) return f32((1.5 * x - 2.5) * x * x + 1);
    if (x < 2) {
      // (((x - 5) * x + 8) * x - 4) * a: float32 Horner, then times the double a
      if (fma) return f32(fmaf(fmaf(f32(x - 5), x, 8), x, -4) * -0.5);
      return f32(f32(f32(f32(f32(f32(x - 5) * x) + 8) * x) - 4) * -0.5);
    }
    return 0;
  }
  if (x < 1) {
    // ((A + 2) * x - (A + 3)) * x * x + 1 with A = -0.5
    if (fma) return fmaf(f32(fmaf(1.5, x, -2.5) * x), x, 1);
    return f32(f32(f32(f32(f32(1.5 * x) - 2.5) * x) * x) + 1);
  }
  if (x < 2) {
    // ((A * x - 5A) * x + 8A) * x - 4A with A = -0.5
    if (fma) return fmaf(fmaf(fmaf(-0.5, x, 2.5), x, -4), x, 2);
    return f32(f32(f32(f32(f32(f32(-0.5 * x) + 2.5) * x) - 4) * x) + 2);
  }
  return 0;
}

/** PyTorch `_compute_indices_min_size_weights_aa` for every output index, in float32. */
function torchTaps(inSize: number, outSize: number, fma: boolean, version: 1 | 2): AxisTaps {
  const scale = f32(inSize / outSize);
  const support = scale >= 1 ? f32(2 * scale) : 2;
  const stride = Math.ceil(support) * 2 + 1;
  const invscale = scale >= 1 ? f32(1 / scale) : 1;
  const start = new Int32Array(outSize);
  const size = new Int32Array(outSize);
  const weights = new Float32Array(outSize * stride);
  for (let i = 0; i < outSize; i++) {
    const center = f32(scale * (i + 0.5));
    const xmin = Math.max(Math.trunc(f32(center - support) + 0.5), 0);
    let xsize = Math.min(Math.trunc(f32(center + support) + 0.5), inSize) - xmin;
    xsize = Math.min(Math.max(xsize, 0), stride);
    let total = 0;
    const o = i * stride;
    for (let j = 0; j < xsize; j++) {
      const arg = f32((f32(j + xmin - center) + 0.5) * invscale);
      const w = torchCubic(arg, fma, version);
      weights[o + j] = w;
      total = f32(total + w);
    }
    if (total !== 0) for (let j = 0; j < xsize; j++) weights[o + j] = f32(weights[o + j] / total);
    start[i] = xmin;
    size[i] = xsize;
  }
  return { inSize, outSize, stride, start, size, weights };
}

/** Pillow's bicubic filter, in double. */
function pilCubic(xIn: number): number {
  const a = -0.5;
  const x = Math.abs(xIn);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

const PIL_PRECISION_BITS = 32 - 8 - 2;

/** Pillow `precompute_coeffs` + `normalize_coeffs_8bpc`. */
function pilTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 2 * filterscale;
  const stride = Math.ceil(support) * 2 + 1;
  const ss = 1 / filterscale;
  const start = new Int32Array(outSize);
  const size = new Int32Array(outSize);
  const fixed = new Int32Array(outSize * stride);
  const k = new Float64Array(stride);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = pilCubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    const o = i * stride;
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      fixed[o + x] =
        w < 0 ? Math.trunc(-0.5 + w * (1 << PIL_PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PIL_PRECISION_BITS));
    }
    start[i] = xmin;
    size[i] = xmax;
  }
  return { inSize, outSize, stride, start, size, fixed };
}

/** Round half to even of a value already clamped to [0, 255] (torch.round). */
function roundHalfEven255(v: number): number {
  const fl = Math.floor(v);
  const d = v - fl;
  if (d > 0.5) return fl + 1;
  if (d < 0.5) return fl;
  return (fl & 1) === 0 ? fl : fl + 1;
}

function clampRound(v: number): number {
  if (!(v > 0)) return 0; // also NaN
  if (v >= 255) return 255;
  return roundHalfEven255(v);
}

/**
 * Horizontal pass, float32 multiply-accumulate in tap order (t = x0*w0; t += xj*wj), one rounding
 * per operation. src is RGB (uint8 or float32 rows of srcW).
 */
function torchHorizontal(src: ArrayLike<number>, rows: number, taps: AxisTaps, dst: Float32Array): void {
  const { outSize, stride, start, size } = taps;
  const w = taps.weights!;
  const inRow = taps.inSize * 3;
  const outRow = outSize * 3;
  for (let y = 0; y < rows; y++) {
    const ib = y * inRow;
    const ob = y * outRow;
    for (let x = 0; x < outSize; x++) {
      const n = size[x];
      const wo = x * stride;
      let p = ib + start[x] * 3;
      let k = w[wo];
      let r = f32(src[p] * k);
      let g = f32(src[p + 1] * k);
      let b = f32(src[p + 2] * k);
      for (let j = 1; j < n; j++) {
        p += 3;
        k = w[wo + j];
        r = f32(r + f32(src[p] * k));
        g = f32(g + f32(src[p + 1] * k));
        b = f32(b + f32(src[p + 2] * k));
      }
      const o = ob + x * 3;
      dst[o] = r;
      dst[o + 1] = g;
      dst[o + 2] = b;
    }
  }
}

/** Vertical pass, float32 accumulate; rowLen = values per row (width*3). */
function torchVertical(src: ArrayLike<number>, rowLen: number, taps: AxisTaps, dst: Float32Array): void {
  const { outSize, stride, start, size } = taps;
  const w = taps.weights!;
  for (let y = 0; y < outSize; y++) {
    const n = size[y];
    const wo = y * stride;
    const s0 = start[y] * rowLen;
    const ob = y * rowLen;
    const k0 = w[wo];
    for (let c = 0; c < rowLen; c++) dst[ob + c] = f32(src[s0 + c] * k0);
    for (let j = 1; j < n; j++) {
      const k = w[wo + j];
      const sb = s0 + j * rowLen;
      for (let c = 0; c < rowLen; c++) dst[ob + c] = f32(dst[ob + c] + f32(src[sb + c] * k));
    }
  }
}

function pilClip8(v: number): number {
  // v is the accumulated fixed-point value including the rounding offset.
  if (v >= 1 << (PIL_PRECISION_BITS + 8)) return 255;
  if (v <= 0) return 0;
  return v >> PIL_PRECISION_BITS;
}

function pilHorizontal(src: Uint8Array, rows: number, taps: AxisTaps, dst: Uint8Array): void {
  const { outSize, stride, start, size } = taps;
  const k = taps.fixed!;
  const inRow = taps.inSize * 3;
  const outRow = outSize * 3;
  const half = 1 << (PIL_PRECISION_BITS - 1);
  for (let y = 0; y < rows; y++) {
    const ib = y * inRow;
    const ob = y * outRow;
    for (let x = 0; x < outSize; x++) {
      const n = size[x];
      const ko = x * stride;
      let p = ib + start[x] * 3;
      let r = half;
      let g = half;
      let b = half;
      for (let j = 0; j < n; j++, p += 3) {
        const w = k[ko + j];
        // Pillow accumulates in a 32-bit int; the sums stay within range for 8-bit input.
        r = (r + src[p] * w) | 0;
        g = (g + src[p + 1] * w) | 0;
        b = (b + src[p + 2] * w) | 0;
      }
      const o = ob + x * 3;
      dst[o] = pilClip8(r);
      dst[o + 1] = pilClip8(g);
      dst[o + 2] = pilClip8(b);
    }
  }
}

function pilVertical(src: Uint8Array, rowLen: number, taps: AxisTaps, dst: Uint8Array, acc: Int32Array): void {
  const { outSize, stride, start, size } = taps;
  const k = taps.fixed!;
  const half = 1 << (PIL_PRECISION_BITS - 1);
  for (let y = 0; y < outSize; y++) {
    const n = size[y];
    const ko = y * stride;
    const s0 = start[y] * rowLen;
    acc.fill(half);
    for (let j = 0; j < n; j++) {
      const w = k[ko + j];
      const sb = s0 + j * rowLen;
      for (let c = 0; c < rowLen; c++) acc[c] = (acc[c] + src[sb + c] * w) | 0;
    }
    const ob = y * rowLen;
    for (let c = 0; c < rowLen; c++) dst[ob + c] = pilClip8(acc[c]);
  }
}

const align16 = (n: number) => (n + 15) & ~15;

/**
 * The torch passes on the WebAssembly SIMD kernel: same arithmetic as torchHorizontal /
 * torchVertical / clampRound, four lanes at a time. Returns null without WebAssembly SIMD.
 */
function wasmTorchResizer(
  srcW: number,
  srcH: number,
  dstW: number,
  dstH: number,
  hTaps?: AxisTaps,
  vTaps?: AxisTaps,
): ((src: Uint8Array, out?: Uint8Array) => Uint8Array) | null {
  const srcBytes = srcW * srcH * 3;
  const dstBytes = dstW * dstH * 3;
  const midW = hTaps ? dstW : srcW; // width of the rows the vertical pass reads
  let at = 0;
  const take = (bytes: number) => {
    const p = at;
    at = align16(at + bytes + 16);
    return p;
  };
  const srcOff = take(srcBytes);
  // f32 rows feeding the vertical pass: the horizontal result, or the widened source.
  const midOff = vTaps ? take(srcH * midW * 3 * 4) : -1;
  const foutCount = Math.ceil(dstBytes / 4) * 4;
  const foutOff = take(foutCount * 4);
  const dstOff = take(foutCount);
  const tapsOff = (t: AxisTaps | undefined, unit: number) => {
    if (!t) return undefined;
    const starts = take(t.outSize * 4);
    const sizes = take(t.outSize * 4);
    const weights = take(t.outSize * t.stride * 4);
    return { t, unit, starts, sizes, weights };
  };
  const h = tapsOff(hTaps, 3);
  const v = tapsOff(vTaps, midW * 3 * 4);
  const k: TorchKernel | null = instantiateTorchKernel(at);
  if (!k) return null;
  const buf = k.memory.buffer;
  for (const x of [h, v]) {
    if (!x) continue;
    const starts = new Int32Array(buf, x.starts, x.t.outSize);
    for (let i = 0; i < x.t.outSize; i++) starts[i] = x.t.start[i] * x.unit;
    new Int32Array(buf, x.sizes, x.t.outSize).set(x.t.size);
    new Float32Array(buf, x.weights, x.t.outSize * x.t.stride).set(x.t.weights!);
  }
  const srcView = new Uint8Array(buf, srcOff, srcBytes);
  const dstView = new Uint8Array(buf, dstOff, dstBytes);
  return (src: Uint8Array, out?: Uint8Array): Uint8Array => {
    if (src.length < srcBytes) throw new RangeError(`frame has ${src.length} bytes, expected ${srcBytes}`);
    srcView.set(src.subarray(0, srcBytes));
    if (h && v) {
      k.hpass(srcOff, srcW * 3, srcH, midOff, dstW, h.starts, h.sizes, h.weights, h.t.stride * 4);
      k.vpass(
        midOff,
        dstW * 3 * 4,
        foutOff,
        dstH,
        v.starts,
        v.sizes,
        v.weights,
        v.t.stride * 4,
        Math.ceil((dstW * 3) / 4),
      );
    } else if (h) {
      k.hpass(srcOff, srcW * 3, srcH, foutOff, dstW, h.starts, h.sizes, h.weights, h.t.stride * 4);
    } else if (v) {
      k.widen(srcOff, Math.ceil(srcBytes / 4) * 4, midOff);
      k.vpass(
        midOff,
        srcW * 3 * 4,
        foutOff,
        dstH,
        v.starts,
        v.sizes,
        v.weights,
        v.t.stride * 4,
        Math.ceil((srcW * 3) / 4),
      );
    }
    k.finish(foutOff, foutCount, dstOff);
    const dst = out ?? new Uint8Array(dstBytes);
    dst.set(dstView);
    return dst;
  };
}

/** A resize function bound to one input and output size, reusing its scratch buffers. */
export interface Resizer {
  readonly srcWidth: number;
  readonly srcHeight: number;
  readonly dstWidth: number;
  readonly dstHeight: number;
  readonly mode: ResampleMode;
  /** Resizes one packed RGB frame (srcWidth*srcHeight*3 bytes). Writes into `out` when given. */
  resize(src: Uint8Array, out?: Uint8Array): Uint8Array;
}

/**
 * Builds a resizer for one size pair. Weights are computed once; call `resize` per frame.
 * Throws RangeError on non-positive sizes.
 */
export function createResizer(
  srcWidth: number,
  srcHeight: number,
  dstWidth: number,
  dstHeight: number,
  options: ResizeOptions = {},
): Resizer {
  for (const [name, v] of [
    ["srcWidth", srcWidth],
    ["srcHeight", srcHeight],
    ["dstWidth", dstWidth],
    ["dstHeight", dstHeight],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  const mode = options.mode ?? "torch";
  const needH = dstWidth !== srcWidth;
  const needV = dstHeight !== srcHeight;
  const srcBytes = srcWidth * srcHeight * 3;
  const dstBytes = dstWidth * dstHeight * 3;

  if (mode === "torch") {
    const { version, fma } = torchBuild(options.compat);
    const engine = options.engine ?? "auto";
    if (engine !== "auto" && engine !== "wasm" && engine !== "js")
      throw new RangeError(`unknown resize engine "${String(engine)}"`);
    // The weights follow the build's contraction; the multiply-accumulate loops of the x86
    // builds we could check (torch 1.13, Debian, default and AVX2 kernels) do not contract.
    const hTaps = needH ? torchTaps(srcWidth, dstWidth, fma, version) : undefined;
    const vTaps = needV ? torchTaps(srcHeight, dstHeight, fma, version) : undefined;
    if (engine !== "js" && (needH || needV)) {
      const wasm = wasmTorchResizer(srcWidth, srcHeight, dstWidth, dstHeight, hTaps, vTaps);
      if (wasm) return { srcWidth, srcHeight, dstWidth, dstHeight, mode, resize: wasm };
      if (engine === "wasm") throw new Error("WebAssembly SIMD is not available in this runtime");
    }
    const mid = needH && needV ? new Float32Array(srcHeight * dstWidth * 3) : undefined;
    const fout = needH || needV ? new Float32Array(dstBytes) : undefined;
    return {
      srcWidth,
      srcHeight,
      dstWidth,
      dstHeight,
      mode,
      resize(src: Uint8Array, out?: Uint8Array): Uint8Array {
        if (src.length < srcBytes) throw new RangeError(`frame has ${src.length} bytes, expected ${srcBytes}`);
        const dst = out ?? new Uint8Array(dstBytes);
        if (!needH && !needV) {
          dst.set(src.subarray(0, srcBytes));
          return dst;
        }
        if (needH && needV) {
          torchHorizontal(src, srcHeight, hTaps!, mid!);
          torchVertical(mid!, dstWidth * 3, vTaps!, fout!);
        } else if (needH) {
          torchHorizontal(src, srcHeight, hTaps!, fout!);
        } else {
          torchVertical(src, srcWidth * 3, vTaps!, fout!);
        }
        for (let i = 0; i < dstBytes; i++) dst[i] = clampRound(fout![i]);
        return dst;
      },
    };
  }

  if (mode !== "pil") throw new RangeError(`unknown resample mode "${String(mode)}"`);
  const hTaps = needH ? pilTaps(srcWidth, dstWidth) : undefined;
  const vTaps = needV ? pilTaps(srcHeight, dstHeight) : undefined;
  const mid = needH && needV ? new Uint8Array(srcHeight * dstWidth * 3) : undefined;
  const acc = new Int32Array(dstWidth * 3);
  return {
    srcWidth,
    srcHeight,
    dstWidth,
    dstHeight,
    mode,
    resize(src: Uint8Array, out?: Uint8Array): Uint8Array {
      if (src.length < srcBytes) throw new RangeError(`frame has ${src.length} bytes, expected ${srcBytes}`);
      const dst = out ?? new Uint8Array(dstBytes);
      if (needH && needV) {
        pilHorizontal(src, srcHeight, hTaps!, mid!);
        pilVertical(mid!, dstWidth * 3, vTaps!, dst, acc);
      } else if (needH) {
        pilHorizontal(src, srcHeight, hTaps!, dst);
      } else if (needV) {
        pilVertical(src, srcWidth * 3, vTaps!, dst, acc);
      } else {
        dst.set(src.subarray(0, srcBytes));
      }
      return dst;
    },
  };
}

/** One-shot convenience wrapper around createResizer. */
export function resizeRgb(
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  dstWidth: number,
  dstHeight: number,
  options?: ResizeOptions,
): Uint8Array {
  return createResizer(srcWidth, srcHeight, dstWidth, dstHeight, options).resize(src);
}
