/**
 * The canonical summary of a GGUF file our reference dumps use (docs/models.md, "Fidelity
 * tests"): each metadata value (arrays as element type, length and sha256 of a canonical
 * serialization: JSON for strings, little-endian bytes for numbers) and each tensor's type,
 * ne[] shape, byte size and sha256 of its stored bytes. Same form as the reference JSONs in
 * test/fixtures/convert, so a converted file compares key by key and tensor by tensor.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const VT_NAMES: Record<number, string> = {
  0: "UINT8",
  1: "INT8",
  2: "UINT16",
  3: "INT16",
  4: "UINT32",
  5: "INT32",
  6: "FLOAT32",
  7: "BOOL",
  8: "STRING",
  9: "ARRAY",
  10: "UINT64",
  11: "INT64",
  12: "FLOAT64",
};
const VT_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const GGML: Record<number, [string, number, number]> = {
  0: ["F32", 1, 4],
  1: ["F16", 1, 2],
  8: ["Q8_0", 32, 34],
  12: ["Q4_K", 256, 144],
  13: ["Q5_K", 256, 176],
  14: ["Q6_K", 256, 210],
  30: ["BF16", 1, 2],
};

export interface DumpEntry {
  type: string;
  value?: unknown;
  elem_type?: string;
  len?: number;
  sha256?: string;
  values?: unknown[];
}
export interface DumpTensor {
  name: string;
  type: string;
  shape: number[];
  n_bytes: number;
  sha256: string;
}
export interface GgufDump {
  metadata: Record<string, DumpEntry>;
  tensors: DumpTensor[];
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export function dumpGguf(path: string, short = 16): GgufDump {
  const b = readFileSync(path);
  let o = 4;
  const u32 = () => {
    const v = b.readUInt32LE(o);
    o += 4;
    return v;
  };
  const u64 = () => {
    const v = Number(b.readBigUInt64LE(o));
    o += 8;
    return v;
  };
  const str = () => {
    const n = u64();
    const s = b.toString("utf8", o, o + n);
    o += n;
    return s;
  };
  const scalar = (vt: number): unknown => {
    const at = o;
    o += VT_SIZE[vt];
    switch (vt) {
      case 0:
        return b.readUInt8(at);
      case 1:
        return b.readInt8(at);
      case 2:
        return b.readUInt16LE(at);
      case 3:
        return b.readInt16LE(at);
      case 4:
        return b.readUInt32LE(at);
      case 5:
        return b.readInt32LE(at);
      case 6:
        return b.readFloatLE(at);
      case 7:
        return b.readUInt8(at) !== 0;
      case 10:
        return Number(b.readBigUInt64LE(at));
      case 11:
        return Number(b.readBigInt64LE(at));
      default:
        return b.readDoubleLE(at);
    }
  };
  const value = (vt: number): DumpEntry => {
    if (vt === 8) return { type: "STRING", value: str() };
    if (vt !== 9) return { type: VT_NAMES[vt], value: scalar(vt) };
    const et = u32();
    const n = u64();
    const ent: DumpEntry = { type: "ARRAY", elem_type: VT_NAMES[et], len: n };
    let vals: unknown[] | undefined;
    if (et === 8) {
      vals = [];
      for (let i = 0; i < n; i++) vals.push(str());
      ent.sha256 = sha(Buffer.from(JSON.stringify(vals), "utf8"));
    } else {
      const size = VT_SIZE[et] * n;
      ent.sha256 = sha(b.subarray(o, o + size));
      if (n <= short) {
        vals = [];
        for (let i = 0; i < n; i++) vals.push(scalar(et));
      } else o += size;
    }
    if (n <= short) ent.values = vals;
    return ent;
  };
  if (b.toString("latin1", 0, 4) !== "GGUF") throw new Error(`${path}: not a GGUF file`);
  u32();
  const nTensors = u64();
  const nKv = u64();
  const metadata: Record<string, DumpEntry> = {};
  for (let i = 0; i < nKv; i++) {
    const key = str();
    metadata[key] = value(u32());
  }
  const infos: [string, number[], number, number][] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nd = u32();
    const dims: number[] = [];
    for (let d = 0; d < nd; d++) dims.push(u64());
    infos.push([name, dims, u32(), u64()]);
  }
  const align = (metadata["general.alignment"]?.value as number | undefined) ?? 32;
  const start = Math.ceil(o / align) * align;
  const tensors = infos.map(([name, dims, tt, off]) => {
    const [tname, bs, ts] = GGML[tt] ?? [`type${tt}`, 1, 1];
    const nbytes = (dims.reduce((x, y) => x * y, 1) / bs) * ts;
    return {
      name,
      type: tname,
      shape: dims,
      n_bytes: nbytes,
      sha256: sha(b.subarray(start + off, start + off + nbytes)),
    };
  });
  return { metadata, tensors };
}

/** Differences between two dumps (tensor sets compared by name; `ignoreKeys` skipped). */
export function diffDumps(ours: GgufDump, ref: GgufDump, ignoreKeys: readonly string[] = []): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(ours.metadata), ...Object.keys(ref.metadata)]);
  for (const k of keys) {
    if (ignoreKeys.includes(k)) continue;
    const a = JSON.stringify(ours.metadata[k] ?? null);
    const r = JSON.stringify(ref.metadata[k] ?? null);
    if (a !== r) out.push(`key ${k}: ours ${a.slice(0, 200)} reference ${r.slice(0, 200)}`);
  }
  const mine = new Map(ours.tensors.map((t) => [t.name, t]));
  const theirs = new Map(ref.tensors.map((t) => [t.name, t]));
  for (const name of new Set([...mine.keys(), ...theirs.keys()])) {
    const a = JSON.stringify(mine.get(name) ?? null);
    const r = JSON.stringify(theirs.get(name) ?? null);
    if (a !== r) out.push(`tensor ${name}: ours ${a} reference ${r}`);
  }
  return out;
}
