/**
 * Streams one tensor from the safetensors shards into the GGUF writer (docs/models.md, "Speed"):
 * ranged reads of whole rows into a few reused chunk buffers, three stages in flight at once
 * (the next chunk is read and this one encoded while the previous one is written), so the
 * JavaScript thread only runs the element kernel and the disk stays busy.
 */
import { encodeChunk, type OutType } from "./encode";
import type { MappedTensor } from "./names";
import { DTYPE_BYTES, type RangeReader, type SourceDtype } from "./safetensors";

/**
 * Bytes of source data read per chunk: bounds memory whatever the tensor's size. 4 MiB (three in
 * flight) used less CPU than 16 MiB in our runs: a chunk read, converted and written again stays
 * closer to the CPU caches, and the system calls per GB stay few.
 */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Chunk buffers reused across the chunks and tensors of one output file. A fresh buffer per
 * chunk costs a page fault per 4 KiB and the kernel's zeroing of every page, which measured
 * as much as the conversion itself; a pool of three (read, encode, write) costs neither.
 */
export class ChunkPool {
  private readonly free: ArrayBuffer[] = [];
  constructor(readonly chunkBytes: number = CHUNK_BYTES) {}

  /** A buffer of `bytes` (a pooled one when it fits, else a one-off). */
  take(bytes: number): Buffer {
    if (bytes > this.chunkBytes) return Buffer.allocUnsafeSlow(bytes);
    const ab = this.free.pop() ?? Buffer.allocUnsafeSlow(this.chunkBytes).buffer;
    return Buffer.from(ab, 0, bytes);
  }

  give(b: Buffer): void {
    if (b.buffer.byteLength === this.chunkBytes && b.byteOffset === 0) this.free.push(b.buffer as ArrayBuffer);
  }
}

export interface StreamedTensor {
  source: { file: string; dtype: SourceDtype; shape: number[]; offset: number; byteLength: number };
  mapped: MappedTensor;
  /** ggml ne order. */
  dims: number[];
  type: OutType;
}

type Write = (bytes: Uint8Array) => Promise<void>;

/** [out, in, 2, kh, kw] -> temporal slice t: small (the patch embedding), read whole and gathered. */
async function writeTemporalSlice(p: StreamedTensor, t: number, reader: RangeReader, write: Write): Promise<void> {
  const src = p.source;
  const el = DTYPE_BYTES[src.dtype];
  const [o, i, , kh, kw] = src.shape;
  const all = Buffer.alloc(src.byteLength);
  await reader.read(src.file, src.offset, all);
  const plane = kh * kw * el;
  const gathered = Buffer.alloc(src.byteLength / 2);
  for (let k = 0; k < o * i; k++) all.copy(gathered, k * plane, (k * 2 + t) * plane, (k * 2 + t + 1) * plane);
  await write(encodeChunk(gathered, src.dtype, p.type));
}

/** The writer's `source` callback for one planned tensor. */
export function tensorSource(p: StreamedTensor, reader: RangeReader, pool: ChunkPool): (write: Write) => Promise<void> {
  return async (write) => {
    const src = p.source;
    const part = p.mapped.part;
    if (part.kind === "temporal") return writeTemporalSlice(p, part.t, reader, write);
    const rowBytes = p.dims[0] * DTYPE_BYTES[src.dtype];
    const rows = p.dims.slice(1).reduce((a, b) => a * b, 1);
    const start = src.offset + (part.kind === "rows" ? part.index * rows * rowBytes : 0);
    const rowsPerChunk = Math.max(1, Math.floor(pool.chunkBytes / rowBytes));
    const readChunk = async (r: number) => {
      const buf = pool.take(Math.min(rowsPerChunk, rows - r) * rowBytes);
      await reader.read(src.file, start + r * rowBytes, buf);
      return buf;
    };
    const copy = src.dtype === p.type; // bf16 -> bf16, f16 -> f16, f32 -> f32: the bytes as read
    let next: Promise<Buffer> | null = readChunk(0);
    let writing: Promise<void> | null = null;
    let writingBuf: Buffer | null = null;
    for (let r = 0; next; r += rowsPerChunk) {
      const buf: Buffer = await next;
      next = r + rowsPerChunk < rows ? readChunk(r + rowsPerChunk) : null;
      // the encoder works in place for bf16 -> f16; other types return a buffer of their own
      const out = copy ? buf : encodeChunk(buf, src.dtype, p.type);
      if (writing) {
        await writing;
        if (writingBuf) pool.give(writingBuf);
      }
      writing = write(out);
      // a failed write is awaited (and thrown) on the next turn; this only keeps it from
      // counting as unhandled while a read is awaited first
      writing.catch(() => undefined);
      if (out.buffer === buf.buffer) writingBuf = buf;
      else {
        writingBuf = null;
        pool.give(buf);
      }
    }
    if (writing) await writing;
    if (writingBuf) pool.give(writingBuf);
  };
}
