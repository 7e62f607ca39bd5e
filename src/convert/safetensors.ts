/**
 * Reads safetensors headers and tensor bytes with ranged reads (docs/models.md, "safetensors").
 * Nothing is trusted: the header length, every dtype, shape and offset pair is checked against
 * the file size before a byte of data is read, so a lying or truncated file gives a typed error.
 */
import { promises as fsp } from "node:fs";
import { TimelensError } from "../errors";

export type SourceDtype = "BF16" | "F16" | "F32";

export const DTYPE_BYTES: Record<SourceDtype, number> = { BF16: 2, F16: 2, F32: 4 };

export interface SafetensorsEntry {
  name: string;
  dtype: SourceDtype;
  /** Torch order (slowest-varying first). */
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
  file: string;
}

/** Header bytes we accept: real headers are a few MB at most; this bounds memory on a lying one. */
const MAX_HEADER_BYTES = 256 * 1024 * 1024;

function invalid(file: string, message: string, details: Record<string, unknown> = {}): TimelensError {
  return new TimelensError("ERR_CHECKPOINT_INVALID", `${file}: ${message}`, { file, ...details });
}

/** Pure: validates a parsed header against the file size and returns its entries. */
export function parseSafetensorsHeader(
  file: string,
  header: unknown,
  dataStart: number,
  fileSize: number,
): SafetensorsEntry[] {
  if (typeof header !== "object" || header === null || Array.isArray(header))
    throw invalid(file, "the safetensors header is not a JSON object");
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") continue;
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== "object" || t === null)
      throw invalid(file, `tensor "${name}" has no description`, { tensor: name });
    if (t.dtype !== "BF16" && t.dtype !== "F16" && t.dtype !== "F32") {
      throw new TimelensError(
        "ERR_CHECKPOINT_UNSUPPORTED",
        `${file}: tensor "${name}" has dtype ${String(t.dtype)}; the converter reads BF16, F16 and F32`,
        {
          file,
          tensor: name,
          dtype: t.dtype,
        },
      );
    }
    const shape = t.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw invalid(file, `tensor "${name}" has an invalid shape`, { tensor: name });
    const offs = t.data_offsets;
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offs[1] < offs[0]
    ) {
      throw invalid(file, `tensor "${name}" has invalid data_offsets`, { tensor: name });
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const byteLength = elements * DTYPE_BYTES[t.dtype];
    if (offs[1] - offs[0] !== byteLength) {
      throw invalid(
        file,
        `tensor "${name}": data_offsets span ${offs[1] - offs[0]} bytes ` +
          `but ${t.dtype}[${(shape as number[]).join(", ")}] needs ${byteLength}`,
        { tensor: name },
      );
    }
    const offset = dataStart + offs[0];
    if (offset + byteLength > fileSize) {
      throw invalid(
        file,
        `tensor "${name}" ends at byte ${offset + byteLength} but the file has ${fileSize} (truncated?)`,
        { tensor: name, fileSize },
      );
    }
    entries.push({ name, dtype: t.dtype, shape: shape as number[], offset, byteLength, file });
  }
  // overlapping tensors mean the offsets lie
  const sorted = [...entries].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].byteLength) {
      throw invalid(file, `tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap`, {
        tensor: sorted[i].name,
      });
    }
  }
  return entries;
}

/** Reads and validates the header of one safetensors file (8 + header bytes, no tensor data). */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsEntry[]> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new TimelensError("ERR_FILE_NOT_FOUND", `${file} does not exist`, { path: file });
    throw invalid(file, `cannot be opened: ${(e as Error).message}`);
  }
  try {
    const { size } = await fh.stat();
    if (size < 8) throw invalid(file, `is ${size} bytes: too short for a safetensors file`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const len = Number(lenBuf.readBigUInt64LE(0));
    if (len > MAX_HEADER_BYTES || 8 + len > size)
      throw invalid(file, `header length ${len} does not fit a ${size}-byte file`);
    const head = Buffer.alloc(len);
    await fh.read(head, 0, len, 8);
    let header: unknown;
    try {
      header = JSON.parse(head.toString("utf8"));
    } catch {
      throw invalid(file, "the safetensors header is not valid JSON");
    }
    return parseSafetensorsHeader(file, header, 8 + len, size);
  } finally {
    await fh.close();
  }
}

/** Open files of a checkpoint, read by byte range. */
export class RangeReader {
  private readonly handles = new Map<string, Promise<fsp.FileHandle>>();

  async read(file: string, offset: number, out: Buffer): Promise<void> {
    let h = this.handles.get(file);
    if (!h) {
      h = fsp.open(file, "r");
      this.handles.set(file, h);
    }
    const fh = await h;
    let done = 0;
    while (done < out.length) {
      const { bytesRead } = await fh.read(out, done, out.length - done, offset + done);
      if (bytesRead === 0)
        throw invalid(
          file,
          `ended at byte ${offset + done} while reading tensor data (truncated after the header was read?)`,
        );
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map(async (h) => (await h).close().catch(() => undefined)));
  }
}
