/**
 * GGUF header reader. Reads only the header (metadata + tensor infos) through a file
 * descriptor, in growing chunks: model files are many GB and are never read whole.
 *
 * Every count and length read from the file is checked against what the file can hold
 * before anything is allocated, so a corrupt header fails fast with a typed error
 * instead of a huge allocation or a hang.
 */
import { promises as fsp, openSync, closeSync, fstatSync, readSync } from "node:fs";
import { TimelensError } from "../errors";
import {
  GGUF_SCALAR_SIZE,
  GGUF_VALUE_TYPE_NAMES,
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  alignUp,
  ggmlTypeById,
  removedGgmlTypeName,
  type GgufKvType,
  type GgufScalar,
  type GgufScalarTypeName,
  type GgufValue,
  type GgufValueTypeName,
} from "./types";

export interface GgufTensorInfo {
  name: string;
  /** Shape in ggml `ne` order (fastest-varying first). */
  dims: number[];
  type: { id: number; name: string };
  /** Offset of the data relative to the start of the data section, as stored in the file. */
  offset: number;
  /** Absolute offset of the data in the file (dataOffset + offset). */
  fileOffset: number;
  byteSize: number;
  nElements: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Record<string, GgufValue>;
  /** Declared type of each metadata entry (array element type and length included). */
  metadataTypes: Record<string, GgufKvType>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset where tensor data starts. */
  dataOffset: number;
  /** Bytes of header (before the alignment padding). */
  headerSize: number;
  fileSize: number;
}

export interface ReadGgufOptions {
  /**
   * Do not materialise arrays longer than a threshold (true: 4096 elements, or a number);
   * their entry becomes `{ skipped: true, itemType, length }`. Keeps header-only checks fast
   * on 150k-entry vocabularies and merge lists.
   */
  skipLargeArrays?: boolean | number;
  /** Keys whose arrays are read in full even when `skipLargeArrays` is set. */
  keepArrays?: readonly string[];
  /** First read size in bytes (default 1 MiB); reads double from there as needed. */
  initialChunkBytes?: number;
  /** Header larger than this is treated as corrupt (default 256 MiB). */
  maxHeaderBytes?: number;
  /** One string longer than this is treated as corrupt (default 64 MiB). */
  maxStringBytes?: number;
}

const DEFAULT_SKIP_THRESHOLD = 4096;
/** No GGUF header declares more than this many bytes of items: beyond it a count is corrupt. */
const ABSURD_BYTES = 1n << 40n;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8; // name length, n_dims, type, offset
const MIN_KV_BYTES = 8 + 1 + 4 + 1; // key length + 1 char, type, smallest value

/** Thrown inside the parser when the async source must read more; never escapes. */
class NeedMore {
  constructor(readonly end: number) {}
}

/** The bytes read so far from the start of the file. */
interface Source {
  buf: Buffer;
  avail: number;
  fileSize: number;
  path: string;
  /** Sync sources grow in place; async ones leave it undefined and the parser throws NeedMore. */
  growSync?: (end: number) => void;
}

function invalid(path: string, message: string, details: Record<string, unknown> = {}): TimelensError {
  return new TimelensError("ERR_MODEL_INVALID", `${path}: ${message}`, { path, ...details });
}

function unsupported(path: string, message: string, details: Record<string, unknown> = {}): TimelensError {
  return new TimelensError("ERR_MODEL_UNSUPPORTED", `${path}: ${message}`, { path, ...details });
}

class Cursor {
  pos = 0;
  constructor(
    private readonly src: Source,
    private readonly maxHeaderBytes: number,
  ) {}

  /** Makes `n` bytes available at pos, or fails: truncated (past EOF) or corrupt (beyond limits). */
  need(n: number, what: string): void {
    const end = this.pos + n;
    if (end <= this.src.avail) return;
    if (end > this.src.fileSize) {
      throw invalid(
        this.src.path,
        `truncated GGUF header: ${what} at offset ${this.pos} needs ${n} bytes ` +
          `but the file has ${this.src.fileSize} bytes`,
        {
          offset: this.pos,
          needed: n,
          fileSize: this.src.fileSize,
        },
      );
    }
    if (end > this.maxHeaderBytes) {
      throw invalid(
        this.src.path,
        `corrupt GGUF header: header would exceed ${this.maxHeaderBytes} bytes (${what} at offset ${this.pos})`,
        {
          offset: this.pos,
        },
      );
    }
    if (this.src.growSync) {
      this.src.growSync(end);
      return;
    }
    throw new NeedMore(end);
  }

  /**
   * Checks that `count` items of at least `minBytes` each can follow. Counts no file could
   * hold (over 1 TiB of items) are corrupt; plausible counts that overrun this file mean a
   * truncated file (or a corrupt count: the message says both).
   */
  checkCount(count: bigint, minBytes: number, what: string): number {
    const fileSize = this.src.fileSize;
    if (count * BigInt(minBytes) > ABSURD_BYTES) {
      throw invalid(
        this.src.path,
        `corrupt GGUF header: ${what} count ${count} is absurd (file is ${fileSize} bytes)`,
        { count: count.toString(), fileSize },
      );
    }
    const n = Number(count);
    if (this.pos + n * minBytes > fileSize) {
      throw invalid(
        this.src.path,
        `truncated or corrupt GGUF header: ${what} count ${n} needs at least ${n * minBytes} bytes ` +
          `but only ${fileSize - this.pos} remain`,
        {
          count: n,
          offset: this.pos,
          fileSize,
        },
      );
    }
    return n;
  }

  get buf(): Buffer {
    return this.src.buf;
  }

  u8(): number {
    this.need(1, "u8");
    return this.buf.readUInt8(this.pos++);
  }
  u32(what = "u32"): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(what = "u64"): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A string: u64 length + UTF-8 bytes. `decode: false` skips it. */
  string(what: string, maxBytes: number, decode = true): string {
    this.need(8, what);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    const n = hi * 0x100000000 + lo; // exact while hi < 2^21; larger is rejected below anyway
    const fileSize = this.src.fileSize;
    if (hi >= 0x200000 || n > maxBytes) {
      const len = (BigInt(hi) << 32n) | BigInt(lo);
      throw invalid(
        this.src.path,
        `corrupt GGUF header: ${what} length ${len} at offset ${this.pos - 8} is absurd (file is ${fileSize} bytes)`,
        {
          length: len.toString(),
          offset: this.pos - 8,
          fileSize,
        },
      );
    }
    this.need(n, what);
    const s = decode ? decodeUtf8(this.buf, this.pos, n) : "";
    this.pos += n;
    return s;
  }

  scalar(type: Exclude<GgufScalarTypeName, "string">): GgufScalar {
    const size = GGUF_SCALAR_SIZE[type];
    this.need(size, type);
    const b = this.buf;
    const p = this.pos;
    this.pos += size;
    switch (type) {
      case "u8":
        return b.readUInt8(p);
      case "i8":
        return b.readInt8(p);
      case "u16":
        return b.readUInt16LE(p);
      case "i16":
        return b.readInt16LE(p);
      case "u32":
        return b.readUInt32LE(p);
      case "i32":
        return b.readInt32LE(p);
      case "f32":
        return b.readFloatLE(p);
      case "f64":
        return b.readDoubleLE(p);
      case "bool":
        return b.readUInt8(p) !== 0;
      case "u64":
        return narrow(b.readBigUInt64LE(p));
      case "i64":
        return narrow(b.readBigInt64LE(p));
    }
  }
}

// Local binding: global lookups are slow inside vm sandboxes (jest) and this runs per token.
const { fromCharCode } = String;

/** UTF-8 decode; short ASCII strings (most vocabulary entries) skip the generic decoder. */
function decodeUtf8(buf: Buffer, start: number, n: number): string {
  if (n <= 16) {
    let ascii = true;
    for (let i = start; i < start + n; i++)
      if (buf[i] >= 0x80) {
        ascii = false;
        break;
      }
    if (ascii) {
      let s = "";
      for (let i = start; i < start + n; i++) s += fromCharCode(buf[i]);
      return s;
    }
  }
  return buf.toString("utf8", start, start + n);
}

/** A 64-bit integer as a number when exact, else as a bigint. */
function narrow(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

interface ParseState {
  phase: "preamble" | "kv" | "tensors" | "done";
  index: number;
  version: number;
  nKv: number;
  nTensors: number;
  metadata: Record<string, GgufValue>;
  metadataTypes: Record<string, GgufKvType>;
  tensorsRaw: {
    name: string;
    dims: number[];
    typeId: number;
    typeName: string;
    offset: number;
    byteSize: number;
    nElements: number;
  }[];
  tensorNames: Set<string>;
  alignment: number;
  nextOffset: number;
  headerSize: number;
}

class HeaderParser {
  readonly cur: Cursor;
  readonly state: ParseState = {
    phase: "preamble",
    index: 0,
    version: 0,
    nKv: 0,
    nTensors: 0,
    metadata: Object.create(null) as Record<string, GgufValue>,
    metadataTypes: Object.create(null) as Record<string, GgufKvType>,
    tensorsRaw: [],
    tensorNames: new Set(),
    alignment: GGUF_DEFAULT_ALIGNMENT,
    nextOffset: 0,
    headerSize: 0,
  };
  private readonly skipThreshold: number;
  private readonly keep: ReadonlySet<string>;
  private readonly maxStringBytes: number;

  constructor(
    private readonly src: Source,
    opts: ReadGgufOptions,
  ) {
    this.cur = new Cursor(src, opts.maxHeaderBytes ?? 256 * 1024 * 1024);
    const s = opts.skipLargeArrays;
    this.skipThreshold = s === true ? DEFAULT_SKIP_THRESHOLD : typeof s === "number" ? s : Infinity;
    this.keep = new Set(opts.keepArrays ?? []);
    this.maxStringBytes = opts.maxStringBytes ?? 64 * 1024 * 1024;
  }

  /** Runs to completion; on NeedMore the current item is rolled back so a retry resumes there. */
  run(): void {
    while (this.state.phase !== "done") {
      const save = this.cur.pos;
      try {
        this.step();
      } catch (e) {
        if (e instanceof NeedMore) this.cur.pos = save;
        throw e;
      }
    }
  }

  private step(): void {
    const st = this.state;
    if (st.phase === "preamble") this.preamble();
    else if (st.phase === "kv") {
      if (st.index < st.nKv) {
        this.kv();
        st.index++;
      } else this.afterKv();
    } else if (st.phase === "tensors") {
      if (st.index < st.nTensors) {
        this.tensorInfo();
        st.index++;
      } else {
        st.headerSize = this.cur.pos;
        st.phase = "done";
      }
    }
  }

  private preamble(): void {
    const { cur, src } = this;
    if (src.fileSize < 4)
      throw invalid(src.path, "not a GGUF file (shorter than the 4-byte magic)", { fileSize: src.fileSize });
    cur.need(4, "magic");
    const magic = cur.buf.toString("latin1", 0, 4);
    if (magic !== "GGUF") {
      throw invalid(src.path, `not a GGUF file (magic ${JSON.stringify(magic)}, expected "GGUF")`, { magic });
    }
    cur.pos = 4;
    const version = cur.u32("version");
    if (version === 1)
      throw unsupported(src.path, "GGUF version 1 is no longer supported by llama.cpp; re-convert the model", {
        version,
      });
    if (version !== 2 && version !== 3) {
      const hint = version > 0xffff ? " (byte-swapped? big-endian GGUF files are not supported)" : "";
      throw unsupported(src.path, `unsupported GGUF version ${version}${hint}; supported versions are 2 and 3`, {
        version,
      });
    }
    const nTensors = cur.u64("tensor count");
    const nKv = cur.u64("metadata count");
    this.state.nTensors = cur.checkCount(nTensors, MIN_TENSOR_INFO_BYTES, "tensor");
    this.state.nKv = cur.checkCount(nKv, MIN_KV_BYTES, "metadata entry");
    this.state.version = version;
    this.state.phase = "kv";
    this.state.index = 0;
  }

  private kv(): void {
    const { cur, src, state } = this;
    const at = cur.pos;
    const key = cur.string("metadata key", this.maxStringBytes);
    if (key.length === 0)
      throw invalid(src.path, `corrupt GGUF header: empty metadata key at offset ${at}`, { offset: at });
    if (key in state.metadata) throw invalid(src.path, `corrupt GGUF header: duplicate metadata key "${key}"`, { key });
    const typeId = cur.u32("value type");
    const type = GGUF_VALUE_TYPE_NAMES[typeId];
    if (type === undefined)
      throw invalid(src.path, `corrupt GGUF header: metadata "${key}" has unknown value type ${typeId}`, {
        key,
        typeId,
      });
    if (type !== "array") {
      state.metadata[key] = this.value(type, key);
      state.metadataTypes[key] = { type };
      return;
    }
    const itemTypeId = cur.u32("array element type");
    const itemType = GGUF_VALUE_TYPE_NAMES[itemTypeId];
    if (itemType === undefined)
      throw invalid(src.path, `corrupt GGUF header: array "${key}" has unknown element type ${itemTypeId}`, {
        key,
        typeId: itemTypeId,
      });
    if (itemType === "array")
      throw invalid(
        src.path,
        `corrupt or unsupported GGUF header: "${key}" is a nested array (llama.cpp rejects these)`,
        { key },
      );
    const minBytes = itemType === "string" ? 8 : GGUF_SCALAR_SIZE[itemType];
    const length = cur.checkCount(cur.u64("array length"), minBytes, `array "${key}" element`);
    state.metadataTypes[key] = { type: "array", itemType, length };
    const skip = length > this.skipThreshold && !this.keep.has(key);
    const elementLabel = `an element of "${key}"`;
    if (skip) {
      if (itemType === "string") for (let i = 0; i < length; i++) cur.string(elementLabel, this.maxStringBytes, false);
      else {
        cur.need(length * minBytes, `array "${key}"`);
        cur.pos += length * minBytes;
      }
      state.metadata[key] = { skipped: true, itemType, length };
      return;
    }
    const items: GgufScalar[] = new Array(length);
    if (itemType === "string") {
      for (let i = 0; i < length; i++) items[i] = cur.string(elementLabel, this.maxStringBytes);
    } else {
      cur.need(length * minBytes, `array "${key}"`);
      for (let i = 0; i < length; i++) items[i] = cur.scalar(itemType);
    }
    state.metadata[key] = items;
  }

  private value(type: Exclude<GgufValueTypeName, "array">, key: string): GgufScalar {
    return type === "string" ? this.cur.string(`value of "${key}"`, this.maxStringBytes) : this.cur.scalar(type);
  }

  private afterKv(): void {
    const { src, state } = this;
    const t = state.metadataTypes["general.alignment"];
    if (t) {
      const a = state.metadata["general.alignment"];
      if (t.type !== "u32" || typeof a !== "number" || a === 0 || (a & (a - 1)) !== 0) {
        throw invalid(
          src.path,
          `corrupt GGUF header: general.alignment must be a u32 power of two, got ${String(a)} (${t.type})`,
          { alignment: a },
        );
      }
      state.alignment = a;
    }
    state.phase = "tensors";
    state.index = 0;
  }

  private tensorInfo(): void {
    const { cur, src, state } = this;
    const name = cur.string("tensor name", this.maxStringBytes);
    if (Buffer.byteLength(name) >= GGML_MAX_NAME) {
      throw invalid(
        src.path,
        `corrupt GGUF header: tensor name "${name.slice(0, 80)}" is ${Buffer.byteLength(name)} bytes ` +
          `(llama.cpp allows ${GGML_MAX_NAME - 1})`,
        { tensor: name },
      );
    }
    if (state.tensorNames.has(name))
      throw invalid(src.path, `corrupt GGUF header: duplicate tensor name "${name}"`, { tensor: name });
    const nDims = cur.u32("tensor n_dims");
    if (nDims > GGML_MAX_DIMS)
      throw invalid(src.path, `corrupt GGUF header: tensor "${name}" has ${nDims} dimensions (max ${GGML_MAX_DIMS})`, {
        tensor: name,
        nDims,
      });
    const dims: number[] = [];
    let nElements = 1n;
    for (let i = 0; i < nDims; i++) {
      const d = cur.u64("tensor dimension");
      nElements *= d;
      if (d > BigInt(Number.MAX_SAFE_INTEGER) || nElements > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw invalid(src.path, `corrupt GGUF header: tensor "${name}" has an absurd shape (dimension ${i} = ${d})`, {
          tensor: name,
        });
      }
      dims.push(Number(d));
    }
    const typeId = cur.u32("tensor type");
    const type = ggmlTypeById(typeId);
    if (!type) {
      const removed = removedGgmlTypeName(typeId);
      if (removed)
        throw unsupported(
          src.path,
          `tensor "${name}" uses the removed ggml type ${removed} (${typeId}); re-convert the model`,
          { tensor: name, typeId },
        );
      if (typeId < 256)
        throw unsupported(
          src.path,
          `tensor "${name}" uses unknown ggml type id ${typeId} (made by a newer llama.cpp?)`,
          { tensor: name, typeId },
        );
      throw invalid(src.path, `corrupt GGUF header: tensor "${name}" has invalid ggml type id ${typeId}`, {
        tensor: name,
        typeId,
      });
    }
    const ne0 = dims.length > 0 ? dims[0] : 1;
    if (ne0 % type.blockSize !== 0) {
      throw invalid(
        src.path,
        `corrupt GGUF header: tensor "${name}" of type ${type.name} has rows of ${ne0} elements, ` +
          `not a multiple of the block size ${type.blockSize}`,
        { tensor: name },
      );
    }
    const n = Number(nElements);
    const byteSize = (n / type.blockSize) * type.typeSize;
    const offset = cur.u64("tensor offset");
    if (offset !== BigInt(state.nextOffset)) {
      throw invalid(
        src.path,
        `corrupt GGUF header: tensor "${name}" has data offset ${offset}, expected ${state.nextOffset} ` +
          `(tensors must be packed in order)`,
        {
          tensor: name,
          offset: offset.toString(),
          expected: state.nextOffset,
        },
      );
    }
    state.tensorNames.add(name);
    state.tensorsRaw.push({
      name,
      dims,
      typeId,
      typeName: type.name,
      offset: state.nextOffset,
      byteSize,
      nElements: n,
    });
    state.nextOffset = alignUp(state.nextOffset + byteSize, state.alignment);
  }

  result(): GgufFile {
    const { src, state } = this;
    const dataOffset = alignUp(state.headerSize, state.alignment);
    const tensors: GgufTensorInfo[] = state.tensorsRaw.map((t) => ({
      name: t.name,
      dims: t.dims,
      type: { id: t.typeId, name: t.typeName },
      offset: t.offset,
      fileOffset: dataOffset + t.offset,
      byteSize: t.byteSize,
      nElements: t.nElements,
    }));
    for (const t of tensors) {
      if (t.fileOffset + t.byteSize > src.fileSize) {
        throw invalid(
          src.path,
          `truncated GGUF file: data of tensor "${t.name}" ends at byte ${t.fileOffset + t.byteSize} ` +
            `but the file has ${src.fileSize} bytes`,
          {
            tensor: t.name,
            end: t.fileOffset + t.byteSize,
            fileSize: src.fileSize,
          },
        );
      }
    }
    return {
      path: src.path,
      version: state.version,
      metadata: state.metadata,
      metadataTypes: state.metadataTypes,
      tensors,
      alignment: state.alignment,
      dataOffset,
      headerSize: state.headerSize,
      fileSize: src.fileSize,
    };
  }
}

function nextSize(src: Source, end: number): number {
  return Math.min(src.fileSize, Math.max(end, src.buf.length * 2));
}

function notFound(path: string, e: NodeJS.ErrnoException): TimelensError {
  if (e.code === "ENOENT")
    return new TimelensError(
      "ERR_FILE_NOT_FOUND",
      `Model file not found: ${path}`,
      { path, kind: "gguf" },
      { cause: e },
    );
  if (e.code === "EISDIR")
    return new TimelensError(
      "ERR_FILE_NOT_FOUND",
      `Expected a GGUF file but found a directory: ${path}`,
      { path, kind: "gguf" },
      { cause: e },
    );
  return new TimelensError(
    "ERR_MODEL_INVALID",
    `${path}: cannot read file (${e.code ?? e.message})`,
    { path },
    { cause: e },
  );
}

/**
 * Reads the header of a GGUF file: metadata, tensor infos, data offset. Reads at most the
 * header bytes (plus one chunk), never the tensor data.
 */
export async function readGguf(path: string, opts: ReadGgufOptions = {}): Promise<GgufFile> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, "r");
  } catch (e) {
    throw notFound(path, e as NodeJS.ErrnoException);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw notFound(path, Object.assign(new Error("EISDIR"), { code: "EISDIR" }));
    const fileSize = st.size;
    const first = Math.min(fileSize, opts.initialChunkBytes ?? 1024 * 1024);
    const src: Source = { buf: Buffer.alloc(first), avail: 0, fileSize, path };
    const fill = async (size: number) => {
      if (size > src.buf.length) {
        const bigger = Buffer.alloc(size);
        src.buf.copy(bigger, 0, 0, src.avail);
        src.buf = bigger;
      }
      while (src.avail < size) {
        const { bytesRead } = await fh.read(src.buf, src.avail, size - src.avail, src.avail);
        if (bytesRead === 0) {
          src.fileSize = src.avail;
          break;
        } // file shrank under us
        src.avail += bytesRead;
      }
    };
    await fill(first);
    const parser = new HeaderParser(src, opts);
    for (;;) {
      try {
        parser.run();
        break;
      } catch (e) {
        if (!(e instanceof NeedMore)) throw e;
        await fill(nextSize(src, e.end));
      }
    }
    return parser.result();
  } finally {
    await fh.close();
  }
}

/** Synchronous twin of readGguf (same checks, blocking reads). */
export function readGgufSync(path: string, opts: ReadGgufOptions = {}): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw notFound(path, e as NodeJS.ErrnoException);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw notFound(path, Object.assign(new Error("EISDIR"), { code: "EISDIR" }));
    const src: Source = { buf: Buffer.alloc(0), avail: 0, fileSize: st.size, path };
    src.growSync = (end: number) => {
      const size = nextSize(src, end);
      const bigger = Buffer.alloc(size);
      src.buf.copy(bigger, 0, 0, src.avail);
      src.buf = bigger;
      while (src.avail < size) {
        const n = readSync(fd, src.buf, src.avail, size - src.avail, src.avail);
        if (n === 0) {
          src.fileSize = src.avail;
          break;
        }
        src.avail += n;
      }
    };
    src.growSync(Math.min(st.size, opts.initialChunkBytes ?? 1024 * 1024));
    const parser = new HeaderParser(src, opts);
    parser.run();
    return parser.result();
  } finally {
    closeSync(fd);
  }
}

/** Parses a GGUF header from bytes already in memory (the whole file, or at least its header). */
export function parseGgufBuffer(
  bytes: Uint8Array,
  opts: ReadGgufOptions & { path?: string; fileSize?: number } = {},
): GgufFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const src: Source = { buf, avail: buf.length, fileSize: opts.fileSize ?? buf.length, path: opts.path ?? "<buffer>" };
  src.growSync = (end: number) => {
    throw invalid(src.path, `truncated GGUF header: needs ${end} bytes but only ${src.avail} are in memory`, {
      needed: end,
    });
  };
  const parser = new HeaderParser(src, opts);
  parser.run();
  return parser.result();
}
