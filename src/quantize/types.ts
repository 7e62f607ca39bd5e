/** Public types of `quantizeModel` and the quantization types it offers (docs/quantize.md). */
import { ggmlTypeByName } from "../gguf/types";

/**
 * The llama.cpp file types we offer, named as llama-quantize names them, with the ggml type most
 * tensors get (`base`). The K-quant mixes (_S, _M, _L) keep some tensors (attn_v, ffn_down,
 * output) at a higher type, so a file averages a little above its base type's bits per weight.
 * Left out: the IQ1/IQ2/IQ3 family and Q2_K_S (they need an importance matrix, which we do not
 * compute), ternary and MXFP4 types (other model kinds), and COPY.
 */
export const QUANT_TYPE_TABLE = [
  { name: "Q4_0", base: "Q4_0", mix: false },
  { name: "Q4_1", base: "Q4_1", mix: false },
  { name: "Q5_0", base: "Q5_0", mix: false },
  { name: "Q5_1", base: "Q5_1", mix: false },
  { name: "Q8_0", base: "Q8_0", mix: false },
  { name: "Q2_K", base: "Q2_K", mix: true },
  { name: "Q3_K_S", base: "Q3_K", mix: true },
  { name: "Q3_K_M", base: "Q3_K", mix: true },
  { name: "Q3_K_L", base: "Q3_K", mix: true },
  { name: "Q4_K_S", base: "Q4_K", mix: true },
  { name: "Q4_K_M", base: "Q4_K", mix: true },
  { name: "Q5_K_S", base: "Q5_K", mix: true },
  { name: "Q5_K_M", base: "Q5_K", mix: true },
  { name: "Q6_K", base: "Q6_K", mix: false },
  { name: "IQ4_NL", base: "IQ4_NL", mix: false },
  { name: "IQ4_XS", base: "IQ4_XS", mix: false },
  { name: "F16", base: "F16", mix: false },
  { name: "BF16", base: "BF16", mix: false },
  { name: "F32", base: "F32", mix: false },
] as const;

export type QuantType = (typeof QUANT_TYPE_TABLE)[number]["name"];

/** Every type quantizeModel accepts, in the table's order. */
export const QUANT_TYPES: readonly QuantType[] = QUANT_TYPE_TABLE.map((t) => t.name);

export interface QuantTypeInfo {
  name: QuantType;
  /** ggml type most tensors get. */
  base: string;
  /** Bits per weight of `base` (block bytes * 8 / block elements). */
  bitsPerWeight: number;
  /** A K-quant mix: some tensors are kept at a higher type. */
  mix: boolean;
}

/** Facts about one type; bits per weight come from the ggml block geometry in gguf/types.ts. */
export function quantTypeInfo(name: QuantType): QuantTypeInfo {
  const row = QUANT_TYPE_TABLE.find((t) => t.name === name)!;
  const g = ggmlTypeByName(row.base)!;
  return { name: row.name, base: row.base, bitsPerWeight: (g.typeSize * 8) / g.blockSize, mix: row.mix };
}

export interface QuantizeOptions {
  /** A text-model GGUF (qwen3vl or qwen2vl), usually F16 / BF16 from the converter. */
  input: string;
  /** Where the quantized GGUF goes; written to a temporary file next to it, then renamed. */
  output: string;
  /** One of QUANT_TYPES; case does not matter ("q4_k_m" works). */
  type: QuantType | string;
  /** CPU threads. Default: os.availableParallelism(). */
  threads?: number;
  /** Quantize tensors that are already quantized (error compounds). Default false, as llama-quantize. */
  allowRequantize?: boolean;
  /** Quantize output.weight too. Default true, as llama-quantize (false = --leave-output-tensor). */
  quantizeOutputTensor?: boolean;
  /** Every tensor gets the base type, no K-quant mix. Default false (llama-quantize --pure). */
  pure?: boolean;
  /** Most bytes of tensor rows held in memory at once. Default 0: llama.cpp's own cap (8 GiB). */
  maxBufferBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: QuantizeProgress) => void;
  /** Explicit addon file (default: the one the Grounder would load). */
  addonPath?: string;
}

export interface QuantizeProgress {
  stage: "quantize";
  /** Tensors started, of `total` (llama.cpp goes tensor by tensor). */
  done: number;
  total: number;
  elapsedMs: number;
}

export interface QuantizeResult {
  /** Absolute path of the written file. */
  output: string;
  type: QuantType;
  inputBytes: number;
  outputBytes: number;
  ms: number;
}
