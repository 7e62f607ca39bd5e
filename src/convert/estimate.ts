/**
 * Disk the converter's outputs take, from config.json alone (docs/models.md, "Disk needs"): the
 * tensor shapes config.json implies (the ones openCheckpoint checks every checkpoint against),
 * mapped and typed by the same rules the converter writes with. It needs no weights, so a pull
 * checks free space for the download and the conversion together before fetching a byte.
 */
import { TimelensError } from "../errors";
import { alignUp, GGUF_DEFAULT_ALIGNMENT, ggmlTypeByName } from "../gguf/types";
import { QUANT_TYPES, type QuantType, quantTypeInfo } from "../quantize/types";
import { expectedShapes, familyOf } from "./checkpoint";
import { encodedBytes, type OutType } from "./encode";
import { deepstackIndexes } from "./metadata";
import { mapTensorName, outputType, partShape, targetOf } from "./names";

type Json = Record<string, unknown>;

/** Header allowance: the text GGUF's holds the vocab, merges and chat template (~7 MB for Qwen's). */
const TEXT_HEADER_BYTES = 16 * 1024 * 1024;
const MMPROJ_HEADER_BYTES = 1024 * 1024;
/** Bits per weight no K-quant mix exceeds for the tensors it keeps higher (Q6_K's 6.5625). */
const MIX_HIGH_BPW = 6.5625;
const Q8_0_BPW = 8.5;

export interface ConvertNeedsRequest {
  /** Text GGUF type ("f16" ...), or null when the text GGUF is not written. */
  outtype: string | null;
  /** Mmproj GGUF type, or null when it is not written. */
  mmprojOuttype: string | null;
  /** A llama-quantize type the text GGUF is quantized to afterwards, or null. */
  quant: string | null;
}

export interface ConvertNeeds {
  model: number;
  mmproj: number;
  /** Upper bound of the quantized text GGUF (0 without `quant`). */
  quantized: number;
  total: number;
}

function outType(t: string, what: string): OutType {
  const u = t.toUpperCase();
  if (u !== "F32" && u !== "F16" && u !== "BF16" && u !== "Q8_0")
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `${what} must be one of f32, f16, bf16, q8_0, got ${JSON.stringify(t)}`,
      { [what]: t },
    );
  return u;
}

function quantType(t: string): QuantType {
  const u = t.toUpperCase() as QuantType;
  if (!QUANT_TYPES.includes(u))
    throw new TimelensError("ERR_INVALID_ARGUMENT", `unknown quantization type ${JSON.stringify(t)}`, { quant: t });
  return u;
}

/**
 * Bytes of a tensor after llama-quantize, bounded from above: 1-D tensors stay F32; weights take
 * the type's base bits, or Q6_K's where a mix (or the output matrix) is kept higher. Rows that
 * are not whole blocks of the type fall back to a type of 32-element blocks (at most Q8_0's 8.5
 * bits), or to F16 when they are not whole blocks of 32 either (docs/quantize.md).
 */
function quantizedBytes(gguf: string, dims: readonly number[], elements: number, quant: QuantType): number {
  if (dims.length <= 1 || !gguf.endsWith(".weight") || gguf.endsWith("_norm.weight")) return elements * 4;
  const info = quantTypeInfo(quant);
  const block = ggmlTypeByName(info.base)?.blockSize ?? 1;
  const fits = (b: number) => dims[0] % b === 0;
  const fallback = fits(32) ? Q8_0_BPW : 16;
  let bpw = fits(block) ? info.bitsPerWeight : Math.max(info.bitsPerWeight, fallback);
  // the higher type of mixes and output matrices is Q6_K, with blocks of 256
  const high = info.mix || gguf === "output.weight" || gguf === "token_embd.weight";
  if (high && bpw < MIX_HIGH_BPW) bpw = fits(256) ? MIX_HIGH_BPW : fallback;
  return Math.ceil((elements * bpw) / 8);
}

/** Pure: the bytes each output of a conversion takes, for a checkpoint with this config.json. */
export function convertNeeds(config: Json, want: ConvertNeedsRequest): ConvertNeeds {
  const family = familyOf(config);
  const ds = deepstackIndexes(family, config);
  const textType = want.outtype === null ? null : outType(want.outtype, "outtype");
  const mmprojType = want.mmprojOuttype === null ? null : outType(want.mmprojOuttype, "mmprojOuttype");
  const quant = want.quant === null ? null : quantType(want.quant);
  const needs = { model: 0, mmproj: 0, quantized: 0 };
  for (const [canonical, shape] of expectedShapes(family, config)) {
    const target = targetOf(canonical);
    for (const mapped of mapTensorName(canonical, family, ds)) {
      const dims = partShape(shape, mapped.part, canonical).reverse();
      const elements = dims.reduce((a, b) => a * b, 1);
      const size = (t: OutType) =>
        alignUp(encodedBytes(elements, outputType(mapped.gguf, dims, t, target)), GGUF_DEFAULT_ALIGNMENT);
      if (target === "mmproj") {
        if (mmprojType) needs.mmproj += size(mmprojType);
        continue;
      }
      if (textType) needs.model += size(textType);
      if (quant) needs.quantized += alignUp(quantizedBytes(mapped.gguf, dims, elements, quant), GGUF_DEFAULT_ALIGNMENT);
    }
  }
  if (textType) needs.model += TEXT_HEADER_BYTES;
  if (mmprojType) needs.mmproj += MMPROJ_HEADER_BYTES;
  if (quant) needs.quantized += TEXT_HEADER_BYTES;
  return { ...needs, total: needs.model + needs.mmproj + needs.quantized };
}
