/**
 * Resampler checks against recorded outputs of torchvision 0.14 / PyTorch 1.13 and Pillow 9.4
 * (test/video/fixtures/torch-reference.json, from scripts/resize-reference.ts --write-fixtures),
 * plus engine equivalence and invariants. The broader measurement on full-size frames is
 * `npx tsx scripts/resize-reference.ts`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createResizer, resizeRgb, type ResizeOptions } from "../../src/video/resize";
import { wasmSimdAvailable } from "../../src/video/resize-wasm";

interface ResizeCase {
  name: string;
  w: number;
  h: number;
  ow: number;
  oh: number;
  input: string;
  torchDefault: string;
  torchAvx2: string;
  pil: string;
}
const fixture = JSON.parse(readFileSync(join(__dirname, "fixtures", "torch-reference.json"), "utf8")) as {
  resize: ResizeCase[];
};
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));

function diff(a: Uint8Array, b: Uint8Array): { mad: number; max: number; differing: number } {
  expect(a.length).toBe(b.length);
  let sum = 0;
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
    if (d) differing++;
  }
  return { mad: sum / a.length, max, differing };
}

describe.each(fixture.resize.map((c) => [c.name, c] as const))("reference case %s", (_name, c) => {
  const input = bytes(c.input);
  test("torch1-generic equals torchvision (ATEN_CPU_CAPABILITY=default) exactly, on both engines", () => {
    for (const engine of ["js", "wasm"] as const) {
      const ours = createResizer(c.w, c.h, c.ow, c.oh, { compat: "torch1-generic", engine }).resize(input);
      expect(diff(ours, bytes(c.torchDefault))).toEqual({ mad: 0, max: 0, differing: 0 });
    }
  });
  test("torch1-avx2 is within 1 of torchvision's AVX2 kernel on at most 0.5% of values", () => {
    const ours = createResizer(c.w, c.h, c.ow, c.oh, { compat: "torch1-avx2" }).resize(input);
    const d = diff(ours, bytes(c.torchAvx2));
    expect(d.max).toBeLessThanOrEqual(1);
    expect(d.differing).toBeLessThanOrEqual(Math.ceil(ours.length * 0.005));
  });
  test("default (torch2-simd) is within 1 of torchvision on at most 0.5% of values", () => {
    const ours = resizeRgb(input, c.w, c.h, c.ow, c.oh);
    const d = diff(ours, bytes(c.torchAvx2));
    expect(d.max).toBeLessThanOrEqual(1);
    expect(d.mad).toBeLessThan(0.01);
  });
  test("pil mode equals Pillow BICUBIC exactly", () => {
    const ours = createResizer(c.w, c.h, c.ow, c.oh, { mode: "pil" }).resize(input);
    expect(diff(ours, bytes(c.pil))).toEqual({ mad: 0, max: 0, differing: 0 });
  });
});

test("the fixture discriminates: torch and Pillow outputs differ on the downscale cases", () => {
  const c = fixture.resize[0];
  expect(diff(bytes(c.torchDefault), bytes(c.pil)).differing).toBeGreaterThan(0);
});

describe("engines and invariants", () => {
  const sizes: Array<[number, number, number, number]> = [
    [97, 61, 36, 22],
    [13, 9, 40, 28],
    [64, 16, 24, 16],
    [16, 64, 16, 23],
    [7, 5, 3, 2],
    [1, 1, 4, 4],
    [333, 197, 224, 128],
  ];
  const noise = (n: number) => {
    const a = new Uint8Array(n);
    let s = 12345;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      a[i] = s >>> 24;
    }
    return a;
  };
  test("WebAssembly SIMD is available in this runtime", () => {
    expect(wasmSimdAvailable()).toBe(true);
  });
  test.each(sizes)("wasm and js engines give identical bytes (%ix%i -> %ix%i)", (w, h, ow, oh) => {
    const src = noise(w * h * 3);
    for (const compat of ["torch2-simd", "torch2-generic", "torch1-avx2"] as const) {
      const a = createResizer(w, h, ow, oh, { compat, engine: "js" }).resize(src);
      const b = createResizer(w, h, ow, oh, { compat, engine: "wasm" }).resize(src);
      expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    }
  });
  test.each<[string, ResizeOptions]>([
    ["torch", {}],
    ["pil", { mode: "pil" }],
  ])("a flat colour stays that colour (%s)", (_n, opts) => {
    const src = new Uint8Array(50 * 30 * 3);
    for (let i = 0; i < src.length; i += 3) src.set([200, 17, 99], i);
    const out = createResizer(50, 30, 21, 64, opts).resize(src);
    for (let i = 0; i < out.length; i += 3) expect([out[i], out[i + 1], out[i + 2]]).toEqual([200, 17, 99]);
  });
  test("a resizer is reusable and can write into a caller's buffer", () => {
    const r = createResizer(97, 61, 36, 22);
    const a = noise(97 * 61 * 3);
    const first = r.resize(a);
    const out = new Uint8Array(36 * 22 * 3);
    r.resize(noise(97 * 61 * 3).reverse());
    expect(r.resize(a, out)).toBe(out);
    expect(Buffer.from(out).equals(Buffer.from(first))).toBe(true);
  });
  test("same size copies", () => {
    const a = noise(5 * 4 * 3);
    expect(Buffer.from(createResizer(5, 4, 5, 4).resize(a)).equals(Buffer.from(a))).toBe(true);
  });
  test("bad arguments", () => {
    expect(() => createResizer(0, 4, 2, 2)).toThrow(RangeError);
    expect(() => createResizer(4, 4, 2, 2.5)).toThrow(RangeError);
    expect(() => createResizer(4, 4, 2, 2).resize(new Uint8Array(10))).toThrow(/expected 48/);
    expect(() => createResizer(4, 4, 2, 2, { mode: "lanczos" as "pil" })).toThrow(/unknown resample mode/);
  });
});
