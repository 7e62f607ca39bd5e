/**
 * The addon's JavaScript surface (native/addon.cpp, native/model.cpp, native/quantize.cpp):
 * the types only. Every option object is complete: the defaults are resolved in
 * src/defaults.ts before anything reaches native code, which requires every field.
 */
export type GpuVariant = "cuda" | "vulkan" | "metal";
export type GpuPreference = "auto" | GpuVariant | false;

/** Raw chunk given to the addon: text, or frames (a mergeable pair becomes one temporal patch). */
export type NativeChunk =
  | { text: string; special: boolean }
  | { frames: Array<{ width: number; height: number; data: Uint8Array }>; mergeable: boolean };

export interface NativeChunkReport {
  type: "text" | "image";
  nTokens: number;
  nPos: number;
  tokens?: Int32Array;
}

export interface NativeEvalResult {
  chunks: NativeChunkReport[];
  nPast: number;
  nCells: number;
  timings: {
    tokenizeMs: number;
    encodeMs: number;
    prefillMs: number;
    textTokens: number;
    imageTokens: number;
    images: number;
  };
}

export interface NativeGenerateReport {
  tokens: Int32Array;
  /** With reportMargins: top1 - top2 logit before each sampled token. */
  margins?: Float32Array;
  bytes: Buffer;
  stopReason: "eog" | "maxTokens" | "stop" | "context";
  timings: { generateMs: number; firstTokenMs: number; tokens: number };
}

export interface NativeGenerateResult extends NativeGenerateReport {
  nPast: number;
  nCells: number;
}

export type NativeEvent =
  | { type: "progress"; progress: number }
  | { type: "token"; token: number; bytes: Buffer; seq: number }
  | { type: "chunk"; index: number }
  /**
   * Work starting inside a running native call: "encode" / "prefill" of chunk `index`, and
   * "encode-step" once that encode reached its first cancellation point (docs/cancellation.md).
   */
  | { type: "stage"; stage: "encode" | "encode-step" | "prefill"; index: number };

/** Every field is required (native/model.cpp ParseLoadOptions); src/defaults.ts resolves them. */
export interface NativeLoadOptions {
  model: string;
  mmproj: string;
  /** -1: all layers that fit; ignored (0) when layerDevices is empty. */
  gpuLayers: number;
  /** >= 1 */
  threads: number;
  contextSize: number;
  /** Also the micro-batch size. */
  batchSize: number;
  /** -1 auto, 0 off, 1 on */
  flashAttention: number;
  imageMinTokens: number;
  imageMaxTokens: number;
  warmup: boolean;
  /** Sequences for generateMany; they share the prefix's KV cells. */
  parallel: number;
  /** ggml device names for the text layers, as chosen by loader.ts (empty: the CPU). */
  layerDevices: string[];
  /** ggml device name for the vision encoder ("": the CPU). */
  projectorDevice: string;
}

export interface NativeDeviceRef {
  name: string;
  description: string;
  backend: string;
}

/** Where the loaded model's work runs, as chosen at load. */
export interface NativeOffload {
  /** Devices holding the offloaded text layers (empty: all on the CPU). */
  layerDevices: NativeDeviceRef[];
  /** Text layers offloaded, counting the output layer, of totalLayers (n_layer + 1). */
  offloadedLayers: number;
  totalLayers: number;
  /** Where the vision encoder (mmproj) runs; null: the CPU. */
  projectorDevice: NativeDeviceRef | null;
}

export interface NativeModelInfo {
  architecture: string | null;
  name: string | null;
  description: string;
  parameters: number;
  sizeBytes: number;
  nCtxTrain: number;
  nEmbd: number;
  nLayer: number;
  vocabSize: number;
  /** Read back from the llama.cpp context: what it uses, not the options given. */
  contextSize: number;
  batchSize: number;
  ubatchSize: number;
  /** Sequences the context holds (llama_n_seq_max). */
  parallel: number;
  threads: number;
  /** The flash attention mode given to llama.cpp ("auto" is resolved inside it, unreported). */
  flashAttention: "auto" | "enabled" | "disabled";
  /** KV cache element type (ggml type name, "f16"). */
  kvType: string;
  kvUnified: boolean;
  imageMinTokens: number;
  imageMaxTokens: number;
  warmup: boolean;
  chatTemplate: string | null;
  eosToken: number;
  usesMrope: boolean;
  hasVision: boolean;
  systemInfo: string;
  offload: NativeOffload;
}

/** Token generation, every field required (native/model.cpp ParseGeneration); src/defaults.ts resolves them. */
export interface NativeGenerationOptions {
  maxTokens: number;
  /** <= 0: greedy. */
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  /** An integer 0..2^32-1. */
  seed: number;
  stop: string[];
  /** Report, per step, how far the best logit is ahead of the second (parity debugging). */
  reportMargins: boolean;
}

export interface NativeState {
  nPast: number;
  nCells: number;
  hasLogits?: boolean;
}

/** The addon's Model class: one call at a time (callers queue), every method may throw a coded Error. */
export interface NativeModel {
  load(options: NativeLoadOptions, onEvent?: (e: NativeEvent) => void): Promise<void>;
  info(): NativeModelInfo;
  tokenize(text: string, special: boolean): Int32Array;
  detokenize(tokens: Int32Array): Buffer;
  evaluate(
    chunks: NativeChunk[],
    options: { reserve: number },
    onEvent?: (e: NativeEvent) => void,
  ): Promise<NativeEvalResult>;
  generate(options: NativeGenerationOptions, onEvent?: (e: NativeEvent) => void): Promise<NativeGenerateResult>;
  /** One text-only suffix per sequence on top of the current state; the state is restored after. */
  generateMany(
    suffixes: NativeChunk[][],
    options: NativeGenerationOptions,
    onEvent?: (e: NativeEvent) => void,
  ): Promise<NativeGenerateReport[]>;
  /** Writes the current state (sequence 0) to a file; resolves with its size in bytes. */
  saveState(path: string): Promise<number>;
  /** Replaces the context with a state written by saveState; rejects with ERR_STATE_INVALID if it does not fit. */
  loadState(path: string, state: NativeState): Promise<void>;
  state(): NativeState;
  rewind(state: NativeState): void;
  reset(): void;
  cancel(): void;
  dispose(): void;
  readonly busy: boolean;
  readonly disposed: boolean;
}

export interface NativeDevice {
  name: string;
  description: string;
  backend: string;
  type: "cpu" | "gpu" | "igpu" | "accel";
  memoryFree: number;
  memoryTotal: number;
}

export interface NativeBackends {
  /** true for prebuilt binaries: backends are modules loaded from `dir`, the addon's folder. */
  dynamic: boolean;
  dir: string | null;
  /** ggml backend registries present ("CPU", "Vulkan", "CUDA", "MTL" ...). */
  registered: string[];
  /** GPU backend modules found next to the addon, and why one did not load. */
  gpuModules: Array<{ file: string; loaded: boolean; error: string | null }>;
}

/** native/quantize.cpp: every option is required; defaults live in src/quantize/. */
export interface NativeQuantizeOptions {
  input: string;
  output: string;
  /** A name from quantizeTypes(). */
  type: string;
  threads: number;
  allowRequantize: boolean;
  quantizeOutputTensor: boolean;
  pure: boolean;
  /** 0: llama.cpp's own cap. */
  maxBufferBytes: number;
}

export interface NativeQuantizeJob {
  /** Rejects with code ERR_ABORTED after cancel(), ERR_NATIVE with llama.cpp's errors otherwise. */
  promise: Promise<void>;
  /** Stops before the next tensor. */
  cancel(): void;
}

export interface NativeAddon {
  Model: new () => NativeModel;
  setLogLevel(level: number): void;
  systemInfo(): string;
  devices(): NativeDevice[];
  /** Absent in addons built before it existed. */
  backends?(): NativeBackends;
  /** Absent in addons built before it existed. Progress events: tensors started / tensors. */
  quantize?(options: NativeQuantizeOptions, onEvent?: (e: NativeEvent) => void): NativeQuantizeJob;
  quantizeTypes?(): string[];
}
