/**
 * GGUF and ggml type tables, written from the documented file format (magic "GGUF",
 * little-endian, v3: u64 counts, typed key/value pairs, tensor infos, aligned data).
 */

/** GGUF metadata value type ids. */
export const GGUF_VALUE_TYPES = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufValueTypeName = keyof typeof GGUF_VALUE_TYPES;
/** Types an array element can have (llama.cpp rejects nested arrays). */
export type GgufScalarTypeName = Exclude<GgufValueTypeName, "array">;

export const GGUF_VALUE_TYPE_NAMES: readonly GgufValueTypeName[] = (() => {
  const names: GgufValueTypeName[] = [];
  for (const [name, id] of Object.entries(GGUF_VALUE_TYPES)) names[id] = name as GgufValueTypeName;
  return names;
})();

/** Byte size of a fixed-size scalar; strings are variable (8-byte length prefix + bytes). */
export const GGUF_SCALAR_SIZE: Readonly<Record<Exclude<GgufScalarTypeName, "string">, number>> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
};

/** A metadata value as read: 64-bit integers are numbers when exactly representable, else bigint. */
export type GgufScalar = number | bigint | boolean | string;

/**
 * An array the reader did not materialise (see `skipLargeArrays`): its element type and
 * length are known, its items are not.
 */
export interface GgufSkippedArray {
  readonly skipped: true;
  readonly itemType: GgufScalarTypeName;
  readonly length: number;
}

export type GgufValue = GgufScalar | GgufScalar[] | GgufSkippedArray;

export function isSkippedArray(v: unknown): v is GgufSkippedArray {
  return typeof v === "object" && v !== null && !Array.isArray(v) && (v as GgufSkippedArray).skipped === true;
}

/** The declared type of one metadata entry. */
export interface GgufKvType {
  type: GgufValueTypeName;
  /** For arrays: the element type. */
  itemType?: GgufScalarTypeName;
  /** For arrays: the element count. */
  length?: number;
}

/** Block geometry of a ggml tensor type: `blockSize` elements take `typeSize` bytes. */
export interface GgmlTypeInfo {
  id: number;
  name: string;
  blockSize: number;
  typeSize: number;
}

const QK_K = 256;

/** ggml tensor types of the bundled release (ids from ggml.h; sizes from the block layouts). */
const GGML_TYPE_LIST: GgmlTypeInfo[] = [
  { id: 0, name: "F32", blockSize: 1, typeSize: 4 },
  { id: 1, name: "F16", blockSize: 1, typeSize: 2 },
  { id: 2, name: "Q4_0", blockSize: 32, typeSize: 2 + 16 },
  { id: 3, name: "Q4_1", blockSize: 32, typeSize: 2 + 2 + 16 },
  { id: 6, name: "Q5_0", blockSize: 32, typeSize: 2 + 4 + 16 },
  { id: 7, name: "Q5_1", blockSize: 32, typeSize: 2 + 2 + 4 + 16 },
  { id: 8, name: "Q8_0", blockSize: 32, typeSize: 2 + 32 },
  { id: 9, name: "Q8_1", blockSize: 32, typeSize: 2 + 2 + 32 },
  { id: 10, name: "Q2_K", blockSize: QK_K, typeSize: 2 + 2 + QK_K / 16 + QK_K / 4 },
  { id: 11, name: "Q3_K", blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 8 + 12 },
  { id: 12, name: "Q4_K", blockSize: QK_K, typeSize: 2 + 2 + QK_K / 2 + 12 },
  { id: 13, name: "Q5_K", blockSize: QK_K, typeSize: 2 + 2 + QK_K / 2 + QK_K / 8 + 12 },
  { id: 14, name: "Q6_K", blockSize: QK_K, typeSize: 2 + QK_K / 2 + QK_K / 4 + QK_K / 16 },
  { id: 15, name: "Q8_K", blockSize: QK_K, typeSize: 4 + QK_K + QK_K / 8 },
  { id: 16, name: "IQ2_XXS", blockSize: QK_K, typeSize: 2 + QK_K / 4 },
  { id: 17, name: "IQ2_XS", blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 32 },
  { id: 18, name: "IQ3_XXS", blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 8 },
  { id: 19, name: "IQ1_S", blockSize: QK_K, typeSize: 2 + QK_K / 8 + QK_K / 16 },
  { id: 20, name: "IQ4_NL", blockSize: 32, typeSize: 2 + 16 },
  { id: 21, name: "IQ3_S", blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4 },
  { id: 22, name: "IQ2_S", blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 16 },
  { id: 23, name: "IQ4_XS", blockSize: QK_K, typeSize: 2 + 2 + QK_K / 2 + QK_K / 64 },
  { id: 24, name: "I8", blockSize: 1, typeSize: 1 },
  { id: 25, name: "I16", blockSize: 1, typeSize: 2 },
  { id: 26, name: "I32", blockSize: 1, typeSize: 4 },
  { id: 27, name: "I64", blockSize: 1, typeSize: 8 },
  { id: 28, name: "F64", blockSize: 1, typeSize: 8 },
  { id: 29, name: "IQ1_M", blockSize: QK_K, typeSize: QK_K / 8 + QK_K / 16 + QK_K / 32 },
  { id: 30, name: "BF16", blockSize: 1, typeSize: 2 },
  { id: 34, name: "TQ1_0", blockSize: QK_K, typeSize: 2 + 4 * 13 },
  { id: 35, name: "TQ2_0", blockSize: QK_K, typeSize: 2 + 64 },
  { id: 39, name: "MXFP4", blockSize: 32, typeSize: 1 + 16 },
  { id: 40, name: "NVFP4", blockSize: 64, typeSize: 4 + 32 },
  { id: 41, name: "Q1_0", blockSize: 128, typeSize: 2 + 16 },
  { id: 42, name: "Q2_0", blockSize: 64, typeSize: 2 + 16 },
];

/** Ids that once existed and were removed from GGUF files (Q4_2, Q4_3, the repacked Q4_0_x_y / IQ4_NL_x_y). */
const REMOVED_GGML_TYPES: Readonly<Record<number, string>> = {
  4: "Q4_2",
  5: "Q4_3",
  31: "Q4_0_4_4",
  32: "Q4_0_4_8",
  33: "Q4_0_8_8",
  36: "IQ4_NL_4_4",
  37: "IQ4_NL_4_8",
  38: "IQ4_NL_8_8",
};

const BY_ID = new Map<number, GgmlTypeInfo>(GGML_TYPE_LIST.map((t) => [t.id, t]));
const BY_NAME = new Map<string, GgmlTypeInfo>(GGML_TYPE_LIST.map((t) => [t.name, t]));

/** Every ggml type this package knows, by id. */
export const GGML_TYPES: readonly GgmlTypeInfo[] = GGML_TYPE_LIST;

export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

export function ggmlTypeByName(name: string): GgmlTypeInfo | undefined {
  return BY_NAME.get(name.toUpperCase());
}

/** Name of a removed type id, if it is one. */
export function removedGgmlTypeName(id: number): string | undefined {
  return REMOVED_GGML_TYPES[id];
}

/**
 * Bytes of a tensor of `nElements` elements whose rows have `ne0` elements. Throws a
 * RangeError when the row length is not a multiple of the type's block size.
 */
export function ggmlTensorBytes(type: GgmlTypeInfo, dims: readonly number[]): number {
  const ne0 = dims.length > 0 ? dims[0] : 1;
  if (ne0 % type.blockSize !== 0) {
    throw new RangeError(`row length ${ne0} is not a multiple of the ${type.name} block size ${type.blockSize}`);
  }
  let n = 1;
  for (const d of dims) n *= d;
  return (n / type.blockSize) * type.typeSize;
}

/** Rounds `n` up to a multiple of `align` (a power of two or any positive integer). */
export function alignUp(n: number, align: number): number {
  const r = n % align;
  return r === 0 ? n : n + (align - r);
}

export const GGUF_MAGIC = "GGUF";
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** llama.cpp's limit on tensor name length (GGML_MAX_NAME, including the terminating NUL). */
export const GGML_MAX_NAME = 64;
export const GGML_MAX_DIMS = 4;
