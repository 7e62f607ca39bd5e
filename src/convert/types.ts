/** Public types of the HF checkpoint -> GGUF converter (docs/models.md). */

/** Output type of the text GGUF, as llama.cpp's converter names them. */
export type TextOutType = "f32" | "f16" | "bf16" | "q8_0";
/** Output type of the mmproj GGUF. */
export type MmprojOutType = "f32" | "f16" | "bf16";

/** Model families the converter knows: TimeLens-8B is qwen3vl, TimeLens-7B/3B are qwen2.5vl. */
export type CheckpointFamily = "qwen3vl" | "qwen2.5vl";

export interface ConvertOptions {
  /** A local Hugging Face checkpoint directory (config.json, tokenizer.json, *.safetensors). */
  dir: string;
  /** Text model output type. Default "f16". */
  outtype?: TextOutType;
  /** Mmproj output type. Default "f16". */
  mmprojOuttype?: MmprojOutType;
  /** Text GGUF path. Default `<dir>/<name>-<OUTTYPE>.gguf`. `null` skips the text model. */
  outfile?: string | null;
  /** Mmproj GGUF path. Default `<dir>/mmproj-<name>-<OUTTYPE>.gguf`. `null` skips the mmproj. */
  mmprojOutfile?: string | null;
  /** Written as general.name. Default: the directory's base name. */
  name?: string;
  signal?: AbortSignal;
  onProgress?: (p: ConvertProgress) => void;
}

export interface ConvertProgress {
  stage: "convert-text" | "convert-mmproj";
  /** Tensor bytes written so far in this stage, and the stage's total. */
  done: number;
  total: number;
  /** The GGUF tensor being written. */
  tensor?: string;
}

export interface ConvertResult {
  family: CheckpointFamily;
  /** Absolute paths of what was written (absent when skipped). */
  model?: string;
  mmproj?: string;
  /** Sizes in bytes of the written files. */
  modelBytes?: number;
  mmprojBytes?: number;
}
