/**
 * GGUF v3 writer. Metadata of every value type; tensors in F32, F16, Q8_0 (quantized here
 * from Float32 values) or as raw pre-encoded bytes of any known ggml type. Tensor data is
 * produced and written in chunks, so a large file never exists as one buffer.
 */
import { promises as fsp } from "node:fs";
import {
  GGUF_SCALAR_SIZE,
  GGUF_VALUE_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  alignUp,
  ggmlTensorBytes,
  ggmlTypeByName,
  type GgufScalarTypeName,
  type GgufValueTypeName,
  type GgmlTypeInfo,
} from "./types";
import { f32ToF16Bits, quantizeQ8_0 } from "./quant";

/** A metadata value with its GGUF type spelled out. */
export type GgufTypedValue =
  | { type: Exclude<GgufScalarTypeName, "string" | "bool" | "u64" | "i64">; value: number }
  | { type: "u64" | "i64"; value: number | bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: GgufScalarTypeName; value: readonly (number | bigint | boolean | string)[] };

/**
 * What `metadata` accepts: a typed value, or a plain string / boolean / number / array
 * (numbers: non-negative integers -> u32, negative integers -> i32, others -> f32;
 * bigint -> i64; arrays take their element type from the same rules).
 */
export type GgufMetadataInput =
  | GgufTypedValue
  | string
  | boolean
  | number
  | bigint
  | readonly string[]
  | readonly number[]
  | readonly boolean[];

export const gguf = {
  u8: (value: number): GgufTypedValue => ({ type: "u8", value }),
  i8: (value: number): GgufTypedValue => ({ type: "i8", value }),
  u16: (value: number): GgufTypedValue => ({ type: "u16", value }),
  i16: (value: number): GgufTypedValue => ({ type: "i16", value }),
  u32: (value: number): GgufTypedValue => ({ type: "u32", value }),
  i32: (value: number): GgufTypedValue => ({ type: "i32", value }),
  f32: (value: number): GgufTypedValue => ({ type: "f32", value }),
  f64: (value: number): GgufTypedValue => ({ type: "f64", value }),
  u64: (value: number | bigint): GgufTypedValue => ({ type: "u64", value }),
  i64: (value: number | bigint): GgufTypedValue => ({ type: "i64", value }),
  bool: (value: boolean): GgufTypedValue => ({ type: "bool", value }),
  str: (value: string): GgufTypedValue => ({ type: "string", value }),
  arr: (itemType: GgufScalarTypeName, value: readonly (number | bigint | boolean | string)[]): GgufTypedValue => ({
    type: "array",
    itemType,
    value,
  }),
};

export type WritableTensorType = "F32" | "F16" | "Q8_0";

/** Fills `out` with the values of elements [start, start + out.length) of the tensor. */
export type TensorFill = (out: Float32Array, start: number) => void;

export interface GgufTensorInput {
  name: string;
  /** ggml `ne` order (fastest-varying first), 1 to 4 dims. */
  dims: readonly number[];
  /** F32 / F16 / Q8_0 from float values; with `raw`, any known ggml type name. */
  type: WritableTensorType | string;
  /** All values at once... */
  data?: Float32Array;
  /** ...or produced chunk by chunk (chunks are whole rows of whole blocks). */
  fill?: TensorFill;
  /** ...or bytes already encoded in `type` (exactly the tensor's byte size). */
  raw?: Uint8Array;
  /** ...or encoded bytes produced asynchronously, in order, through `write` (the converter's path). */
  source?: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>;
}

export interface WriteGgufOptions {
  /** Data alignment; written as `general.alignment` when not the default 32. Default 32. */
  alignment?: number;
  /** Values per generated chunk (default 1 Mi values). */
  chunkValues?: number;
  /** Checked between writes; the partial file is removed when it fires. */
  signal?: AbortSignal;
  /** Called after each tensor's bytes are written, with the running data byte count. */
  onTensor?: (name: string, dataBytesDone: number, dataBytesTotal: number) => void;
}

function inferType(v: Exclude<GgufMetadataInput, GgufTypedValue | readonly unknown[]>): GgufScalarTypeName {
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "bigint") return "i64";
  if (Number.isInteger(v)) return v >= 0 && v <= 0xffffffff ? "u32" : v < 0 && v >= -0x80000000 ? "i32" : "i64";
  return "f32";
}

function toTyped(key: string, v: GgufMetadataInput): GgufTypedValue {
  if (typeof v === "object" && v !== null && !Array.isArray(v) && "type" in (v as object)) return v as GgufTypedValue;
  if (Array.isArray(v)) {
    const arr = v as readonly (string | number | boolean)[];
    let itemType: GgufScalarTypeName = "u32";
    if (arr.length > 0) {
      const types = new Set(arr.map((x) => inferType(x)));
      if (types.has("string")) itemType = "string";
      else if (types.has("bool")) itemType = "bool";
      else if (types.has("f32")) itemType = "f32";
      else if (types.has("i64")) itemType = "i64";
      else if (types.has("i32")) itemType = "i32";
      if (types.size > 1 && (types.has("string") || types.has("bool")))
        throw new TypeError(`metadata "${key}": mixed array element types`);
    }
    return { type: "array", itemType, value: arr };
  }
  const t = inferType(v as string | number | boolean | bigint);
  return { type: t, value: v } as GgufTypedValue;
}

// Local binding: global lookups are slow inside vm sandboxes (jest); this runs per token.
const byteLength = Buffer.byteLength;

/** Grows as it is written; used for the header only (tensor data is streamed). */
class ByteSink {
  private buf = Buffer.alloc(64 * 1024);
  len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  u64(v: number | bigint): void {
    this.ensure(8);
    if (typeof v === "number" && v >= 0 && v <= 0xffffffff) {
      this.buf.writeUInt32LE(v, this.len);
      this.buf.writeUInt32LE(0, this.len + 4);
    } else {
      this.buf.writeBigUInt64LE(BigInt(v), this.len);
    }
    this.len += 8;
  }
  string(s: string): void {
    const n = byteLength(s);
    this.u64(n);
    this.ensure(n);
    this.buf.write(s, this.len, "utf8");
    this.len += n;
  }
  scalar(type: GgufScalarTypeName, v: number | bigint | boolean | string, key: string): void {
    if (type === "string") {
      if (typeof v !== "string") throw new TypeError(`metadata "${key}": expected a string, got ${typeof v}`);
      this.string(v);
      return;
    }
    const size = GGUF_SCALAR_SIZE[type];
    this.ensure(size);
    const b = this.buf;
    const p = this.len;
    const num = (): number => {
      if (typeof v !== "number")
        throw new TypeError(`metadata "${key}": expected a number for ${type}, got ${String(v)}`);
      return v;
    };
    const int = (lo: number, hi: number): number => {
      const n = num();
      if (!Number.isInteger(n) || n < lo || n > hi)
        throw new RangeError(`metadata "${key}": ${n} is not a valid ${type}`);
      return n;
    };
    switch (type) {
      case "u8":
        b.writeUInt8(int(0, 0xff), p);
        break;
      case "i8":
        b.writeInt8(int(-0x80, 0x7f), p);
        break;
      case "u16":
        b.writeUInt16LE(int(0, 0xffff), p);
        break;
      case "i16":
        b.writeInt16LE(int(-0x8000, 0x7fff), p);
        break;
      case "u32":
        b.writeUInt32LE(int(0, 0xffffffff), p);
        break;
      case "i32":
        b.writeInt32LE(int(-0x80000000, 0x7fffffff), p);
        break;
      case "f32":
        b.writeFloatLE(num(), p);
        break;
      case "f64":
        b.writeDoubleLE(num(), p);
        break;
      case "bool":
        if (typeof v !== "boolean") throw new TypeError(`metadata "${key}": expected a boolean`);
        b.writeUInt8(v ? 1 : 0, p);
        break;
      case "u64":
        b.writeBigUInt64LE(BigInt(v as number | bigint), p);
        break;
      case "i64":
        b.writeBigInt64LE(BigInt(v as number | bigint), p);
        break;
    }
    this.len += size;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

interface PlannedTensor {
  input: GgufTensorInput;
  type: GgmlTypeInfo;
  byteSize: number;
  offset: number;
  nElements: number;
}

function planTensors(tensors: readonly GgufTensorInput[], alignment: number): PlannedTensor[] {
  const names = new Set<string>();
  let offset = 0;
  return tensors.map((t) => {
    if (Buffer.byteLength(t.name) >= GGML_MAX_NAME)
      throw new RangeError(`tensor name "${t.name}" is too long (max ${GGML_MAX_NAME - 1} bytes)`);
    if (names.has(t.name)) throw new RangeError(`duplicate tensor "${t.name}"`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > GGML_MAX_DIMS || t.dims.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new RangeError(`tensor "${t.name}": invalid dims [${t.dims.join(", ")}]`);
    }
    const type = ggmlTypeByName(t.type);
    if (!type) throw new RangeError(`tensor "${t.name}": unknown ggml type ${t.type}`);
    if (!t.raw && !t.source && !["F32", "F16", "Q8_0"].includes(type.name))
      throw new RangeError(`tensor "${t.name}": type ${type.name} can only be written from raw bytes`);
    const byteSize = ggmlTensorBytes(type, t.dims);
    const nElements = t.dims.reduce((a, b) => a * b, 1);
    if (t.raw && t.raw.byteLength !== byteSize)
      throw new RangeError(`tensor "${t.name}": raw data is ${t.raw.byteLength} bytes, expected ${byteSize}`);
    if (t.data && t.data.length !== nElements)
      throw new RangeError(`tensor "${t.name}": ${t.data.length} values for ${nElements} elements`);
    if (!t.raw && !t.data && !t.fill && !t.source)
      throw new RangeError(`tensor "${t.name}": give data, fill, raw or source`);
    const p: PlannedTensor = { input: t, type, byteSize, offset, nElements };
    offset = alignUp(offset + byteSize, alignment);
    return p;
  });
}

function encodeHeader(
  metadata: Record<string, GgufMetadataInput>,
  planned: PlannedTensor[],
  alignment: number,
): Buffer {
  const entries = Object.entries(metadata).map(([k, v]) => [k, toTyped(k, v)] as const);
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !("general.alignment" in metadata))
    entries.push(["general.alignment", { type: "u32", value: alignment }]);
  const al = entries.find(([k]) => k === "general.alignment");
  if (al && (al[1].type !== "u32" || al[1].value !== alignment))
    throw new RangeError(`general.alignment must be the u32 ${alignment}`);
  const s = new ByteSink();
  s.u32(0x46554747); // "GGUF" read as a little-endian u32
  s.u32(3);
  s.u64(planned.length);
  s.u64(entries.length);
  for (const [key, tv] of entries) {
    s.string(key);
    s.u32(GGUF_VALUE_TYPES[tv.type as GgufValueTypeName]);
    if (tv.type === "array") {
      s.u32(GGUF_VALUE_TYPES[tv.itemType]);
      s.u64(tv.value.length);
      for (const item of tv.value) s.scalar(tv.itemType, item, key);
    } else {
      s.scalar(tv.type, tv.value, key);
    }
  }
  for (const p of planned) {
    s.string(p.input.name);
    s.u32(p.input.dims.length);
    for (const d of p.input.dims) s.u64(d);
    s.u32(p.type.id);
    s.u64(p.offset);
  }
  return s.bytes();
}

/** Encodes `values` of a F32 / F16 / Q8_0 tensor into `out`; returns the byte count. */
function encodeValues(type: string, values: Float32Array, out: Buffer): number {
  if (type === "F32") {
    for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i], i * 4);
    return values.length * 4;
  }
  if (type === "F16") {
    for (let i = 0; i < values.length; i++) out.writeUInt16LE(f32ToF16Bits(values[i]), i * 2);
    return values.length * 2;
  }
  return quantizeQ8_0(values, out, 0);
}

/**
 * Writes a GGUF v3 file. The header is built in memory (it holds metadata and tensor
 * infos only); tensor data is generated, encoded and written chunk by chunk. The file is
 * written to `path + ".partial"` and renamed when complete.
 */
export async function writeGguf(
  path: string,
  content: { metadata: Record<string, GgufMetadataInput>; tensors: readonly GgufTensorInput[] },
  opts: WriteGgufOptions = {},
): Promise<{ bytes: number; dataOffset: number }> {
  const alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (alignment <= 0 || (alignment & (alignment - 1)) !== 0)
    throw new RangeError(`alignment ${alignment} is not a power of two`);
  const planned = planTensors(content.tensors, alignment);
  const header = encodeHeader(content.metadata, planned, alignment);
  const dataOffset = alignUp(header.length, alignment);
  const last = planned[planned.length - 1];
  const dataTotal = last ? last.offset + last.byteSize : 0;
  const tmp = `${path}.partial`;
  const fh = await fsp.open(tmp, "w");
  let pos = 0;
  // small pieces (headers, paddings, small tensors) are staged and written in large blocks
  const stage = Buffer.alloc(1 << 20);
  let staged = 0;
  const flush = async () => {
    let done = 0;
    while (done < staged) {
      const { bytesWritten } = await fh.write(stage, done, staged - done, pos - staged + done);
      done += bytesWritten;
    }
    staged = 0;
  };
  const write = async (b: Uint8Array) => {
    opts.signal?.throwIfAborted();
    if (staged + b.byteLength > stage.length) await flush();
    if (b.byteLength >= stage.length) {
      let done = 0;
      while (done < b.byteLength) {
        const { bytesWritten } = await fh.write(b, done, b.byteLength - done, pos + done);
        done += bytesWritten;
      }
    } else {
      stage.set(b, staged);
      staged += b.byteLength;
    }
    pos += b.byteLength;
  };
  const zeros = Buffer.alloc(alignment);
  try {
    await write(header);
    await write(zeros.subarray(0, dataOffset - header.length));
    const chunkValues = Math.max(1, opts.chunkValues ?? 1 << 20);
    for (const p of planned) {
      const t = p.input;
      if (t.raw) {
        await write(t.raw);
      } else if (t.source) {
        const before = pos;
        await t.source(write);
        if (pos - before !== p.byteSize)
          throw new RangeError(`tensor "${t.name}": source wrote ${pos - before} bytes, expected ${p.byteSize}`);
      } else {
        const ne0 = t.dims[0];
        // whole rows per chunk (rows are whole blocks), at least one row
        const rowsPerChunk = Math.max(1, Math.floor(chunkValues / Math.max(1, ne0)));
        const chunkLen = Math.min(p.nElements, rowsPerChunk * ne0);
        const values = t.data ? undefined : new Float32Array(chunkLen);
        const out = Buffer.alloc(Math.ceil((chunkLen / p.type.blockSize) * p.type.typeSize));
        for (let start = 0; start < p.nElements; start += chunkLen) {
          const n = Math.min(chunkLen, p.nElements - start);
          let chunk: Float32Array;
          if (t.data) chunk = t.data.subarray(start, start + n);
          else {
            chunk = n === values!.length ? values! : values!.subarray(0, n);
            chunk.fill(0);
            t.fill!(chunk, start);
          }
          const bytes = encodeValues(p.type.name, chunk, out);
          await write(out.subarray(0, bytes));
        }
      }
      const padded = alignUp(p.byteSize, alignment);
      if (padded > p.byteSize) await write(zeros.subarray(0, padded - p.byteSize));
      opts.onTensor?.(t.name, p.offset + p.byteSize, dataTotal);
    }
    await flush();
  } catch (e) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fsp.rename(tmp, path);
  return { bytes: pos, dataOffset };
}
