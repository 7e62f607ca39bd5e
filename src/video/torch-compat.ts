/**
 * Bit-level emulation of the two PyTorch float32 computations the reference frame sampler
 * depends on: `torch.linspace(start, end, n)` (default dtype float32) and the antialiased
 * bicubic resize weights (see resize.ts). Their last bits depend on the PyTorch version and on
 * the CPU kernel PyTorch dispatches to, so the build is a parameter.
 */

/**
 * Which PyTorch CPU build to reproduce.
 *
 * - `"torch2-simd"` (default): PyTorch >= 2.0 on x86-64 with AVX2 or AVX-512, and arm64. Its
 *   `linspace` is scalar (`start + step*i` for the first half, `end - step*(n-1-i)` for the
 *   second) and the SIMD kernels are compiled with fused multiply-add contraction.
 * - `"torch2-generic"`: PyTorch >= 2.0 running its generic kernel (`ATEN_CPU_CAPABILITY=default`
 *   or a CPU without AVX2): same formulas without contraction.
 * - `"torch1-avx2"`, `"torch1-avx512"`, `"torch1-generic"`: PyTorch 1.x (checked against 1.13),
 *   whose `linspace` was vectorised in blocks of 8 (AVX2, generic) or 16 (AVX-512) values and
 *   whose bicubic filter used a double constant.
 */
export type TorchCompat = "torch2-simd" | "torch2-generic" | "torch1-avx2" | "torch1-avx512" | "torch1-generic";

export const TORCH_COMPATS: readonly TorchCompat[] = [
  "torch2-simd",
  "torch2-generic",
  "torch1-avx2",
  "torch1-avx512",
  "torch1-generic",
];

export interface TorchBuild {
  version: 1 | 2;
  fma: boolean;
  /** float32 lanes of torch 1.x's vectorised linspace (0 = scalar). */
  vectorWidth: 0 | 8 | 16;
}

export function torchBuild(compat: TorchCompat = "torch2-simd"): TorchBuild {
  switch (compat) {
    case "torch2-simd":
      return { version: 2, fma: true, vectorWidth: 0 };
    case "torch2-generic":
      return { version: 2, fma: false, vectorWidth: 0 };
    case "torch1-avx2":
      return { version: 1, fma: true, vectorWidth: 8 };
    case "torch1-avx512":
      return { version: 1, fma: true, vectorWidth: 16 };
    case "torch1-generic":
      return { version: 1, fma: false, vectorWidth: 8 };
    default:
      throw new RangeError(`unknown torch build "${String(compat)}"; expected one of ${TORCH_COMPATS.join(", ")}`);
  }
}

const f32 = Math.fround;

/**
 * `torch.linspace(start, end, steps)` in float32, bit for bit, for the given build.
 * start/end are converted to float32 first (exact for frame numbers below 2^24).
 *
 * The float32 step is (end - start) / (steps - 1). Values before the midpoint (i < steps/2,
 * integer division) are start + step*i, the others end - step*(steps-1-i), so both ends are
 * exact. With FMA each of those is one rounding; without, two. torch 1.x additionally filled
 * blocks of `vectorWidth` values (two blocks per iteration while at least two fit) from the
 * block's first value: v[c+k] = base(c) + k*step, where base(c) uses the formula of c's half.
 */
export function torchLinspace(
  start: number,
  end: number,
  steps: number,
  compat: TorchCompat = "torch2-simd",
): Float32Array {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`steps must be a non-negative integer, got ${steps}`);
  const out = new Float32Array(steps);
  if (steps === 0) return out;
  const s = f32(start);
  const e = f32(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const { fma, vectorWidth: V } = torchBuild(compat);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  // a*b is exact in double here (float32 times an integer below 2^11), and so is the sum for
  // frame numbers below 2^24, so f32(a*b + c) is a correctly rounded fused multiply-add.
  const scalar = (i: number): number => {
    if (i < halfway) return fma ? f32(step * i + s) : f32(s + f32(step * i));
    const k = steps - i - 1;
    return fma ? f32(e - step * k) : f32(e - f32(step * k));
  };
  let i = 0;
  if (V > 0) {
    for (; i <= steps - 2 * V; i += 2 * V) {
      for (let block = 0; block < 2; block++) {
        const c = i + block * V;
        const base = scalar(c);
        out[c] = base;
        for (let k = 1; k < V; k++) out[c + k] = f32(base + f32(k * step));
      }
    }
  }
  for (; i < steps; i++) out[i] = scalar(i);
  return out;
}
