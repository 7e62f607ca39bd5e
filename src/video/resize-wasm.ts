/**
 * WebAssembly SIMD kernels for the "torch" resampler of resize.ts. WebAssembly's f32x4
 * arithmetic is IEEE float32 with no fused multiply-add, so these loops compute exactly what the
 * Math.fround emulation computes (t = x0*w0; t += xj*wj in tap order; clamp; round half to even),
 * four values per instruction. The module is assembled here from its opcodes at first use: no
 * binary is shipped and no toolchain is needed.
 *
 * Exports (all pointers are byte offsets into the module's own memory):
 *   hpass(src, srcRowBytes, rows, out, outW, starts, sizes, weights, weightRowBytes)
 *       RGB u8 rows -> RGB f32 rows, horizontal taps (starts = byte offsets in a row).
 *   vpass(src, rowBytes, out, outRows, starts, sizes, weights, weightRowBytes, groups)
 *       f32 rows -> f32 rows, vertical taps (starts = byte offsets of the first source row).
 *   widen(src, count, out)     u8 -> f32, `count` values (a multiple of 4).
 *   finish(src, count, out)    f32 -> u8 with clamp to [0, 255] and round half to even.
 * Vectors store 4 lanes, so buffers carry 16 bytes of padding at their ends.
 */

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const str = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, "utf8")];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Instructions.
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const ADD = [0x6a];
const MUL = [0x6c];
const GE_U = [0x4f];
const mem = (align = 0, offset = 0) => [...uleb(align), ...uleb(offset)];
const I32_LOAD = [0x28, ...mem()];
const F32_LOAD = [0x2a, ...mem()];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const V_LOAD = simd(0x00, ...mem());
const V_STORE = simd(0x0b, ...mem());
const V_ZERO = simd(0x0c, ...new Array<number>(16).fill(0));
const F32X4_SPLAT = simd(0x13);
const LOAD32_ZERO = simd(0x5c, ...mem());
const STORE32_LANE0 = simd(0x5a, ...mem(), 0);
const I8X16_NARROW_U = simd(0x66);
const F32X4_NEAREST = simd(0x6a);
const I16X8_NARROW_U = simd(0x86);
const I16X8_EXTEND_LOW_U8 = simd(0x89);
const I32X4_EXTEND_LOW_U16 = simd(0xa9);
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const F32X4_MIN = simd(0xe8);
const F32X4_MAX = simd(0xe9);
const I32X4_TRUNC_SAT_U = simd(0xf9);
const F32X4_CONVERT_S = simd(0xfa);
const f32c = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return [0x43, ...b];
};

/** `local += delta` */
const inc = (local: number, delta: number | number[]) => [
  ...get(local),
  ...(typeof delta === "number" ? i32c(delta) : delta),
  ...ADD,
  ...set(local),
];

/** for (counter = 0; counter < limit; counter++) { body } with limit a local. */
function forLoop(counter: number, limit: number, body: number[]): number[] {
  return [
    ...i32c(0),
    ...set(counter),
    0x02,
    0x40, // block
    0x03,
    0x40, // loop
    ...get(counter),
    ...get(limit),
    ...GE_U,
    0x0d,
    1, // br_if exit
    ...body,
    ...inc(counter, 1),
    0x0c,
    0, // br loop
    0x0b,
    0x0b, // end loop, end block
  ];
}

function func(locals: Array<[number, number]>, body: number[]): number[] {
  const code = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...body, 0x0b];
  return [...uleb(code.length), ...code];
}

/** u8 at ptr -> f32x4 (lanes: bytes ptr..ptr+3). */
const loadU8x4AsF32 = (ptrLocal: number) => [
  ...get(ptrLocal),
  ...LOAD32_ZERO,
  ...I16X8_EXTEND_LOW_U8,
  ...I32X4_EXTEND_LOW_U16,
  ...F32X4_CONVERT_S,
];

function hpass(): number[] {
  // params 0 src, 1 srcRow, 2 rows, 3 out, 4 outW, 5 starts, 6 sizes, 7 weights, 8 wRow
  // locals 9 y, 10 x, 11 j, 12 p, 13 wp, 14 n, 15 rowBase, 16 o, 17 acc(v128)
  const [y, x, j, p, wp, n, rowBase, o, acc] = [9, 10, 11, 12, 13, 14, 15, 16, 17];
  const tap = [
    ...get(acc),
    ...loadU8x4AsF32(p),
    ...get(wp),
    ...F32_LOAD,
    ...F32X4_SPLAT,
    ...F32X4_MUL,
    ...F32X4_ADD,
    ...set(acc),
    ...inc(p, 3),
    ...inc(wp, 4),
  ];
  const pixel = [
    ...get(rowBase),
    ...get(5),
    ...get(x),
    ...i32c(4),
    ...MUL,
    ...ADD,
    ...I32_LOAD,
    ...ADD,
    ...set(p),
    ...get(6),
    ...get(x),
    ...i32c(4),
    ...MUL,
    ...ADD,
    ...I32_LOAD,
    ...set(n),
    ...get(7),
    ...get(x),
    ...get(8),
    ...MUL,
    ...ADD,
    ...set(wp),
    ...V_ZERO,
    ...set(acc),
    ...forLoop(j, n, tap),
    ...get(o),
    ...get(acc),
    ...V_STORE,
    ...inc(o, 12),
  ];
  const row = [...get(0), ...get(y), ...get(1), ...MUL, ...ADD, ...set(rowBase), ...forLoop(x, 4, pixel)];
  return func(
    [
      [8, I32],
      [1, V128],
    ],
    [...get(3), ...set(o), ...forLoop(y, 2, row)],
  );
}

function vpass(): number[] {
  // params 0 src, 1 rowBytes, 2 out, 3 outRows, 4 starts, 5 sizes, 6 weights, 7 wRow, 8 groups
  // locals 9 y, 10 g, 11 j, 12 base, 13 n, 14 wrow, 15 orow, 16 p, 17 wp, 18 acc(v128)
  const [y, g, j, base, n, wrow, orow, p, wp, acc] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const tap = [
    ...get(acc),
    ...get(p),
    ...V_LOAD,
    ...get(wp),
    ...F32_LOAD,
    ...F32X4_SPLAT,
    ...F32X4_MUL,
    ...F32X4_ADD,
    ...set(acc),
    ...inc(p, get(1)),
    ...inc(wp, 4),
  ];
  const group = [
    ...V_ZERO,
    ...set(acc),
    ...get(base),
    ...get(g),
    ...i32c(16),
    ...MUL,
    ...ADD,
    ...set(p),
    ...get(wrow),
    ...set(wp),
    ...forLoop(j, n, tap),
    ...get(orow),
    ...get(g),
    ...i32c(16),
    ...MUL,
    ...ADD,
    ...get(acc),
    ...V_STORE,
  ];
  const row = [
    ...get(0),
    ...get(4),
    ...get(y),
    ...i32c(4),
    ...MUL,
    ...ADD,
    ...I32_LOAD,
    ...ADD,
    ...set(base),
    ...get(5),
    ...get(y),
    ...i32c(4),
    ...MUL,
    ...ADD,
    ...I32_LOAD,
    ...set(n),
    ...get(6),
    ...get(y),
    ...get(7),
    ...MUL,
    ...ADD,
    ...set(wrow),
    ...get(2),
    ...get(y),
    ...get(1),
    ...MUL,
    ...ADD,
    ...set(orow),
    ...forLoop(g, 8, group),
  ];
  return func(
    [
      [9, I32],
      [1, V128],
    ],
    forLoop(y, 3, row),
  );
}

function widen(): number[] {
  // params 0 src(u8), 1 count, 2 out(f32); locals 3 i, 4 groups
  const [i, groups] = [3, 4];
  const body = [...get(2), ...loadU8x4AsF32(0), ...V_STORE, ...inc(0, 4), ...inc(2, 16)];
  return func([[2, I32]], [...get(1), ...i32c(2), 0x76 /* i32.shr_u */, ...set(groups), ...forLoop(i, groups, body)]);
}

function finish(): number[] {
  // params 0 src(f32), 1 count, 2 out(u8); locals 3 i, 4 groups, 5 v(v128)
  const [i, groups] = [3, 4];
  const body = [
    ...get(2),
    ...get(0),
    ...V_LOAD,
    ...f32c(0),
    ...F32X4_SPLAT,
    ...F32X4_MAX,
    ...f32c(255),
    ...F32X4_SPLAT,
    ...F32X4_MIN,
    ...F32X4_NEAREST,
    ...I32X4_TRUNC_SAT_U,
    0x22,
    5, // local.tee v
    ...get(5),
    ...I16X8_NARROW_U,
    0x22,
    5,
    ...get(5),
    ...I8X16_NARROW_U,
    ...STORE32_LANE0,
    ...inc(0, 16),
    ...inc(2, 4),
  ];
  return func(
    [
      [2, I32],
      [1, V128],
    ],
    [...get(1), ...i32c(2), 0x76, ...set(groups), ...forLoop(i, groups, body)],
  );
}

function moduleBytes(): Uint8Array {
  const t9 = [0x60, ...vec(new Array(9).fill([I32])), 0];
  const t3 = [0x60, ...vec(new Array(3).fill([I32])), 0];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([t9, t3])),
    ...section(3, vec([[0], [0], [1], [1]])),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(
      7,
      vec([
        [...str("memory"), 0x02, 0],
        [...str("hpass"), 0x00, 0],
        [...str("vpass"), 0x00, 1],
        [...str("widen"), 0x00, 2],
        [...str("finish"), 0x00, 3],
      ]),
    ),
    ...section(10, vec([hpass(), vpass(), widen(), finish()])),
  ];
  return new Uint8Array(bytes);
}

/** The few WebAssembly APIs used here (the project's TS lib has no DOM/WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}
const WA: WasmApi | undefined = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

export interface TorchKernel {
  memory: WasmMemory;
  hpass(
    src: number,
    srcRow: number,
    rows: number,
    out: number,
    outW: number,
    starts: number,
    sizes: number,
    weights: number,
    wRow: number,
  ): void;
  vpass(
    src: number,
    rowBytes: number,
    out: number,
    outRows: number,
    starts: number,
    sizes: number,
    weights: number,
    wRow: number,
    groups: number,
  ): void;
  widen(src: number, count: number, out: number): void;
  finish(src: number, count: number, out: number): void;
}

let compiled: WasmModule | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is unavailable. */
function wasmModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      const bytes = moduleBytes();
      compiled = WA && WA.validate(bytes) ? new WA.Module(bytes) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

export function wasmSimdAvailable(): boolean {
  return wasmModule() !== null;
}

/** A fresh kernel instance with its own memory of at least `bytes`, or null without SIMD. */
export function instantiateTorchKernel(bytes: number): TorchKernel | null {
  const mod = wasmModule();
  if (!mod) return null;
  const instance = new WA!.Instance(mod, {});
  const e = instance.exports as unknown as TorchKernel;
  const pages = Math.ceil(bytes / 65536);
  const have = e.memory.buffer.byteLength / 65536;
  if (pages > have) e.memory.grow(pages - have);
  return e;
}
