/**
 * A loaded text model + projector pair: the typed, queued face of the native Model.
 * Validates the GGUF pair before llama.cpp sees it, serialises every native call, maps
 * AbortSignals to native cancellation and native error codes to TimelensErrors.
 */
import { LOAD_DEFAULTS, resolveGeneration, resolveLoadOptions, type LoadOptionsInput } from "../defaults";
import {
  AbortError,
  ContextOverflowError,
  TimelensError,
  invalidArgument,
  isErrorCode,
  throwIfAborted,
} from "../errors";
import { PROMPT_SPECIAL_TOKENS } from "../gguf/specials";
import { inspectModelPair, type ModelPairInfo } from "../gguf/validate";
import {
  loadAddon,
  type AddonLocation,
  type AddonSelection,
  type GpuPreference,
  type NativeChunk,
  type NativeDeviceRef,
  type NativeEvalResult,
  type NativeEvent,
  type NativeGenerateReport,
  type NativeGenerationOptions,
  type NativeModel,
  type NativeModelInfo,
  type NativeState,
} from "../native";
import { SerialQueue } from "../util/queue";
import { expandPathOptions } from "../util/paths";

/** Load options: the tunables (documented with their defaults in src/defaults.ts) plus the loader's. */
export interface ModelLoadOptions extends LoadOptionsInput {
  /** "auto" (default) uses the best GPU build that loads, false forces the CPU build. */
  gpu?: GpuPreference;
  /** Explicit addon path (else prebuilds/ then local builds). */
  addonPath?: string;
  /**
   * Told how the addon and GPU were chosen, and why a GPU was passed over (quiet by default;
   * the same facts are in `info.gpu`). Pass `console.error` to see them.
   */
  onLog?: (message: string) => void;
  onProgress?: (progress: number) => void;
  signal?: AbortSignal;
}

export interface ModelInfo {
  architecture: string;
  name: string | null;
  projectorType: string;
  patchSize: number;
  spatialMerge: number;
  temporalPatch: number;
  nEmbd: number;
  nLayer: number;
  nCtxTrain: number;
  /** Context settings as llama.cpp reports them after load (not the options echoed). */
  contextSize: number;
  batchSize: number;
  ubatchSize: number;
  threads: number;
  /** Flash attention mode given to llama.cpp ("auto" is resolved inside it). */
  flashAttention: "auto" | "enabled" | "disabled";
  /** KV cache element type ("f16"). */
  kvType: string;
  imageMinTokens: number;
  imageMaxTokens: number;
  vocabSize: number;
  parameters: number;
  chatTemplate: string | null;
  /** Special token ids found by their text (`<|vision_start|>` ...). */
  specialTokens: Record<string, number>;
  fileSizes: { model: number; mmproj: number };
  usesMrope: boolean;
  /** Sequences that can be decoded together (groundMany), as the context reports. */
  parallel: number;
  addon: AddonLocation;
  /** Which device runs what, as chosen at load. */
  gpu: GpuInfo;
  systemInfo: string;
}

export interface GpuInfo {
  /** The `gpu` load option. */
  requested: GpuPreference;
  /** ggml backend of the GPU work ("CUDA", "Vulkan", "MTL"), or null when everything runs on the CPU. */
  backend: string | null;
  /** Devices holding the offloaded text layers (empty: the CPU holds them all). */
  layerDevices: NativeDeviceRef[];
  /** Text layers offloaded (the output layer counts as one) out of `totalLayers`. */
  offloadedLayers: number;
  totalLayers: number;
  /** Where the vision encoder runs (null: the CPU). */
  projectorDevice: NativeDeviceRef | null;
  /** Why less than requested is used (a missing driver, no device, no GPU build), else null. */
  reason: string | null;
  /** GPU builds passed over, with why. */
  skipped: Array<{ path: string; variant: string; reason: string }>;
}

/**
 * Token generation (every field optional; src/defaults.ts GENERATION_DEFAULTS): maxTokens
 * (default 512), temperature (default 0: greedy), topK (default 40), topP (default 0.95),
 * minP (default 0.05; the three apply only when temperature > 0), seed (default 0, an integer
 * 0..2^32-1), stop (default []), reportMargins (default false).
 */
export type GenerationOptions = Partial<NativeGenerationOptions>;

export interface GenerateOptions extends GenerationOptions {
  signal?: AbortSignal;
  /** Each decoded piece of text as it is produced (UTF-8 split across tokens is held back). */
  onToken?: (text: string, token: number) => void;
}

export interface GenerateResult {
  tokens: number[];
  /** With `reportMargins`: top1 - top2 logit before each token (near 0: a float-fragile choice). */
  margins?: number[];
  text: string;
  stopReason: "eog" | "maxTokens" | "stop" | "context";
  timings: { generateMs: number; firstTokenMs: number; tokensPerSecond: number };
}

export interface GenerateManyOptions extends GenerationOptions {
  signal?: AbortSignal;
  /** Each decoded piece of text, with the index of the suffix it belongs to. */
  onToken?: (index: number, text: string, token: number) => void;
}

export interface EvaluateOptions {
  signal?: AbortSignal;
  /** Tokens to keep free after this input (for the answer). */
  reserve?: number;
  /** Called after each libmtmd chunk is in the KV cache. */
  onChunk?: (index: number) => void;
  /**
   * Called, while the native call runs, as chunk `index` starts its "encode" or "prefill", and
   * with "encode-step" once its encode reached a cancellation point (docs/cancellation.md).
   */
  onStage?: (stage: "encode" | "encode-step" | "prefill", index: number) => void;
}

/** Turns an Error thrown by the addon into the matching TimelensError. */
export function fromNativeError(e: unknown, stage?: string): Error {
  if (e instanceof TimelensError) return e;
  const err = e as Error & { code?: string; needed?: number; available?: number; stage?: string };
  if (!err || typeof err.code !== "string") return err;
  if (err.code === "ERR_ABORTED") {
    const where = err.stage ?? stage; // the addon says where it stopped ("encode", "prefill", "generate")
    return new AbortError(err.message, where ? { stage: where } : {});
  }
  if (err.code === "ERR_CONTEXT_OVERFLOW") {
    return new ContextOverflowError(
      err.needed ?? -1,
      err.available ?? -1,
      "Lower the video's token budget (totalTokens, fps or maxFrames), or load the model with a larger contextSize.",
    );
  }
  // A code this package does not define (a newer addon, a bug) is still a typed error.
  if (!isErrorCode(err.code)) return new TimelensError("ERR_NATIVE", err.message, { nativeCode: err.code });
  return new TimelensError(err.code, err.message);
}

function toResult(r: NativeGenerateReport): GenerateResult {
  const seconds = r.timings.generateMs / 1000;
  return {
    tokens: Array.from(r.tokens),
    ...(r.margins ? { margins: Array.from(r.margins) } : {}),
    text: new TextDecoder("utf-8").decode(r.bytes),
    stopReason: r.stopReason,
    timings: {
      generateMs: r.timings.generateMs,
      firstTokenMs: r.timings.firstTokenMs,
      tokensPerSecond: seconds > 0 ? r.tokens.length / seconds : 0,
    },
  };
}

/** The operations available inside one exclusive block (see VisionModel.exclusive). */
export interface ModelOps {
  evaluate(chunks: NativeChunk[], options?: EvaluateOptions): Promise<NativeEvalResult>;
  generate(options?: GenerateOptions): Promise<GenerateResult>;
  /** Answers several text suffixes in parallel sequences on top of the current state, then restores it. */
  generateMany(suffixes: NativeChunk[][], options?: GenerateManyOptions): Promise<GenerateResult[]>;
  saveState(path: string): Promise<number>;
  loadState(path: string, state: NativeState): Promise<void>;
  state(): NativeState;
  rewind(state: NativeState): void;
  reset(): void;
}

/** Says how the addon and GPU were chosen (the same facts end up in `info.gpu`). */
function reportSelection(selection: AddonSelection, options: ModelLoadOptions, requested: GpuPreference): void {
  const { location, gpu, skipped } = selection;
  const log = options.onLog ?? (() => {});
  for (const s of skipped) log(`timelens-native: skipped ${s.location.path}: ${s.reason}`);
  const devices = gpu.devices.map((d) => `${d.name} (${d.description})`).join(", ");
  log(
    `timelens-native: using ${location.path} (${location.variant}, ${location.source})` +
      `${gpu.backend ? ` on ${gpu.backend}: ${devices}` : ""}`,
  );
  if (gpu.reason) {
    log(`timelens-native: ${gpu.reason}`);
    // Asked for a specific GPU and did not get it: say so even without onLog.
    if (requested !== "auto" && requested !== false && !options.onLog)
      process.emitWarning(gpu.reason, { code: "TIMELENS_GPU_FALLBACK" });
  }
}

/** Loads the native model, cancelling on the signal; native errors become TimelensErrors. */
async function loadNative(
  selection: AddonSelection,
  options: ModelLoadOptions,
  pair: ModelPairInfo,
): Promise<NativeModel> {
  const resolved = resolveLoadOptions(options, { nCtxTrain: pair.text.nCtxTrain, gpuDevices: selection.gpu.devices });
  const native = new selection.addon.Model();
  const onAbort = () => native.cancel();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let listenerError: { error: unknown } | undefined;
  try {
    await native.load(resolved, (e) => {
      if (e.type !== "progress" || listenerError) return;
      try {
        options.onProgress?.(e.progress);
      } catch (error) {
        listenerError = { error }; // the load stops, and rejects with it
        native.cancel();
      }
    });
  } catch (e) {
    if (listenerError) throw listenerError.error;
    throw fromNativeError(e, "load");
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  if (listenerError) {
    native.dispose();
    throw listenerError.error;
  }
  return native;
}

/** Ids of the chat and vision special tokens, looked up by text in the model's own vocabulary. */
function specialTokenIds(native: NativeModel): Record<string, number> {
  const out: Record<string, number> = {};
  for (const text of PROMPT_SPECIAL_TOKENS) {
    const ids = native.tokenize(text, true);
    if (ids.length === 1) out[text] = ids[0];
  }
  return out;
}

function modelInfo(
  native: NativeModel,
  n: NativeModelInfo,
  pair: ModelPairInfo,
  selection: AddonSelection,
  requested: GpuPreference,
): ModelInfo {
  const { location, gpu, skipped } = selection;
  return {
    architecture: n.architecture ?? pair.text.architecture,
    name: n.name,
    projectorType: pair.mmproj.projectorType,
    patchSize: pair.mmproj.patchSize,
    spatialMerge: pair.mmproj.spatialMerge,
    temporalPatch: 2,
    nEmbd: n.nEmbd,
    nLayer: n.nLayer,
    nCtxTrain: n.nCtxTrain,
    contextSize: n.contextSize,
    batchSize: n.batchSize,
    ubatchSize: n.ubatchSize,
    threads: n.threads,
    flashAttention: n.flashAttention,
    kvType: n.kvType,
    imageMinTokens: n.imageMinTokens,
    imageMaxTokens: n.imageMaxTokens,
    vocabSize: n.vocabSize,
    parameters: n.parameters,
    chatTemplate: n.chatTemplate,
    specialTokens: specialTokenIds(native),
    fileSizes: pair.fileSizes,
    usesMrope: n.usesMrope,
    parallel: n.parallel,
    addon: location,
    gpu: {
      requested,
      // null when nothing went to the GPU after all (gpuLayers 0 and mmprojGpu false)
      backend: n.offload.offloadedLayers > 0 || n.offload.projectorDevice ? gpu.backend : null,
      layerDevices: n.offload.layerDevices,
      offloadedLayers: n.offload.offloadedLayers,
      totalLayers: n.offload.totalLayers,
      projectorDevice: n.offload.projectorDevice,
      reason: gpu.reason,
      skipped: skipped.map((s) => ({ path: s.location.path, variant: s.location.variant, reason: s.reason })),
    },
    systemInfo: n.systemInfo,
  };
}

/**
 * Runs a native call with cancellation: the signal cancels it; a listener that throws
 * cancels it too and the call rejects with what the listener threw (docs/cancellation.md).
 */
async function nativeCall<T>(
  native: NativeModel,
  signal: AbortSignal | undefined,
  stage: string,
  run: (listen: <E>(fn: (e: E) => void) => (e: E) => void) => Promise<T>,
): Promise<T> {
  throwIfAborted(signal, stage);
  const onAbort = () => native.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  let listenerError: { error: unknown } | undefined;
  const listen =
    <E>(fn: (e: E) => void) =>
    (e: E) => {
      if (listenerError) return;
      try {
        fn(e);
      } catch (error) {
        listenerError = { error };
        native.cancel();
      }
    };
  // A listener's throw cancels the native work, but its event may arrive after the work already
  // finished: then undo what the call did, so a rejected call never leaves its tokens behind.
  try {
    const before = native.state();
    const result = await run(listen);
    if (listenerError) {
      native.rewind(before);
      throw listenerError.error;
    }
    return result;
  } catch (e) {
    if (listenerError) throw listenerError.error;
    throw fromNativeError(e, stage);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

export class VisionModel {
  readonly info: ModelInfo;
  /** Which prefix this model's KV cache holds now (set by VideoSession; docs/architecture.md). */
  kvHolder: object | undefined = undefined;
  private readonly native: NativeModel;
  private readonly queue = new SerialQueue();
  private disposed = false;
  private disposing: Promise<void> | undefined;

  private constructor(native: NativeModel, info: ModelInfo) {
    this.native = native;
    this.info = info;
  }

  static async load(options: ModelLoadOptions): Promise<VisionModel> {
    if (!options || typeof options.model !== "string" || typeof options.mmproj !== "string") {
      throw new TimelensError(
        "ERR_INVALID_ARGUMENT",
        "load() needs { model, mmproj } paths to the text GGUF and the mmproj GGUF",
      );
    }
    options = expandPathOptions(options); // "~/model.gguf" means the home folder's
    throwIfAborted(options.signal, "load");
    const pair = await inspectModelPair(options.model, options.mmproj);
    const requested = options.gpu ?? LOAD_DEFAULTS.gpu;
    const selection = loadAddon({ path: options.addonPath, gpu: requested });
    reportSelection(selection, options, requested);
    const native = await loadNative(selection, options, pair);
    return new VisionModel(native, modelInfo(native, native.info(), pair, selection, requested));
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private checkOpen(): void {
    if (this.disposed) throw new TimelensError("ERR_DISPOSED", "This model was disposed");
  }

  /** Token ids of `text`; with special=false, `<|im_end|>` and friends are plain text. */
  tokenize(text: string, options: { special?: boolean } = {}): number[] {
    this.checkOpen();
    if (typeof text !== "string") throw invalidArgument("tokenize(text)", "a string", text);
    return Array.from(this.native.tokenize(text, options.special ?? false));
  }

  detokenize(tokens: readonly number[]): string {
    return this.detokenizeBytes(tokens).toString("utf8");
  }

  /** The raw bytes of the tokens' pieces (a piece may hold part of a UTF-8 character). */
  detokenizeBytes(tokens: readonly number[]): Buffer {
    this.checkOpen();
    try {
      return this.native.detokenize(Int32Array.from(tokens));
    } catch (e) {
      throw fromNativeError(e);
    }
  }

  /**
   * Runs `fn` with exclusive use of the model: no other call interleaves with its native
   * operations. Queued behind earlier calls; a signal that fires while queued drops it.
   */
  async exclusive<T>(fn: (ops: ModelOps) => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.checkOpen();
    return this.queue.run(() => {
      this.checkOpen();
      return fn(this.ops());
    }, signal);
  }

  evaluate(chunks: NativeChunk[], options: EvaluateOptions = {}): Promise<NativeEvalResult> {
    return this.exclusive((ops) => ops.evaluate(chunks, options), options.signal);
  }

  generate(options: GenerateOptions = {}): Promise<GenerateResult> {
    return this.exclusive((ops) => ops.generate(options), options.signal);
  }

  private ops(): ModelOps {
    const native = this.native;
    const wrap = <T>(run: () => T): T => {
      try {
        return run();
      } catch (e) {
        throw fromNativeError(e);
      }
    };
    return {
      evaluate: (chunks, options = {}) =>
        nativeCall(native, options.signal, "prefill", (listen) =>
          native.evaluate(
            chunks,
            { reserve: options.reserve ?? 0 },
            listen((e: NativeEvent) => {
              if (e.type === "chunk") options.onChunk?.(e.index);
              else if (e.type === "stage") options.onStage?.(e.stage, e.index);
            }),
          ),
        ),
      generate: (options = {}) => {
        const { signal, onToken, ...generation } = options;
        return nativeCall(native, signal, "generate", async (listen) => {
          const resolved = resolveGeneration(generation);
          const decoder = new TextDecoder("utf-8");
          const r = await native.generate(
            resolved,
            listen((e: NativeEvent) => {
              if (e.type === "token" && onToken) onToken(decoder.decode(e.bytes, { stream: true }), e.token);
            }),
          );
          return toResult(r);
        });
      },
      generateMany: (suffixes, options = {}) => {
        const { signal, onToken, ...generation } = options;
        return nativeCall(native, signal, "generate", async (listen) => {
          const resolved = resolveGeneration(generation);
          if (!Array.isArray(suffixes))
            throw invalidArgument("generateMany(suffixes)", "an array of chunk arrays", suffixes);
          const decoders = suffixes.map(() => new TextDecoder("utf-8"));
          const reports = await native.generateMany(
            suffixes,
            resolved,
            listen((e: NativeEvent) => {
              if (e.type === "token" && onToken)
                onToken(e.seq, decoders[e.seq].decode(e.bytes, { stream: true }), e.token);
            }),
          );
          return reports.map(toResult);
        });
      },
      saveState: (path) => nativeCall(native, undefined, "save", () => native.saveState(path)),
      loadState: (path, state) => nativeCall(native, undefined, "load", () => native.loadState(path, state)),
      state: () => wrap(() => native.state()),
      rewind: (state) => wrap(() => native.rewind(state)),
      reset: () => wrap(() => native.reset()),
    };
  }

  /**
   * Cancels the running call, rejects the queued ones when they come up, then frees the
   * native model. Calling it again is a no-op that waits for the first call to finish; every
   * other call after dispose() rejects with ERR_DISPOSED.
   */
  dispose(): Promise<void> {
    if (!this.disposing) {
      this.disposed = true;
      this.kvHolder = undefined;
      if (this.native.busy) this.native.cancel();
      this.disposing = this.queue.idle().then(() => this.native.dispose());
    }
    return this.disposing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
