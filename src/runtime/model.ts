/**
 * A loaded text model + projector pair: the typed, queued face of the native Model.
 * Validates the GGUF pair before llama.cpp sees it, serialises every native call, maps
 * AbortSignals to native cancellation and native error codes to TimelensErrors.
 */
import { AbortError, ContextOverflowError, TimelensError, throwIfAborted, type ErrorCode } from "../errors";
import { inspectModelPair } from "../gguf/validate";
import {
  loadAddon,
  type AddonLocation,
  type GpuPreference,
  type NativeChunk,
  type NativeDeviceRef,
  type NativeEvalResult,
  type NativeGenerateReport,
  type NativeModel,
  type NativeSamplingOptions,
  type NativeState,
} from "../native";
import { SerialQueue } from "../util/queue";
import { expandPathOptions } from "../util/paths";

export interface ModelLoadOptions {
  /** Text GGUF path. */
  model: string;
  /** mmproj (vision projector) GGUF path. */
  mmproj: string;
  /** "auto" (default) uses the best GPU build that loads, false forces the CPU build. */
  gpu?: GpuPreference;
  /** Text layers to offload; -1 (default) = all that the backend takes. */
  gpuLayers?: number;
  /** Run the vision encoder on the GPU too (default true). */
  mmprojGpu?: boolean;
  threads?: number;
  /** KV context in tokens (default 16384: a TimeLens video budget of 14336 plus room for the answer). */
  contextSize?: number;
  batchSize?: number;
  flashAttention?: boolean | "auto";
  /** Upper bound of tokens one image may take before libmtmd would shrink it (default 16384). */
  imageMaxTokens?: number;
  /** Run libmtmd's warm-up encode at load (default true). */
  warmup?: boolean;
  /** Queries a VideoSession may decode at once with groundMany (default 8). */
  parallel?: number;
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
  contextSize: number;
  batchSize: number;
  vocabSize: number;
  parameters: number;
  chatTemplate: string | null;
  /** Special token ids found by their text (`<|vision_start|>` ...). */
  specialTokens: Record<string, number>;
  fileSizes: { model: number; mmproj: number };
  usesMrope: boolean;
  /** Sequences that can be decoded together (groundMany). */
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

export interface GenerateOptions extends NativeSamplingOptions {
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

export interface GenerateManyOptions extends NativeSamplingOptions {
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
}

export const DEFAULT_CONTEXT_SIZE = 16384;

const SPECIAL_TOKEN_TEXTS = [
  "<|endoftext|>",
  "<|im_start|>",
  "<|im_end|>",
  "<|vision_start|>",
  "<|vision_end|>",
  "<|vision_pad|>",
  "<|image_pad|>",
  "<|video_pad|>",
];

/** Turns an Error thrown by the addon into the matching TimelensError. */
export function fromNativeError(e: unknown, stage?: string): Error {
  if (e instanceof TimelensError) return e;
  const err = e as Error & { code?: string; needed?: number; available?: number };
  if (!err || typeof err.code !== "string") return err;
  if (err.code === "ERR_ABORTED") return new AbortError(err.message, stage ? { stage } : {});
  if (err.code === "ERR_CONTEXT_OVERFLOW") {
    return new ContextOverflowError(
      err.needed ?? -1,
      err.available ?? -1,
      "Lower the video's token budget (totalTokens, fps or maxFrames), or load the model with a larger contextSize.",
    );
  }
  return new TimelensError(err.code as ErrorCode, err.message);
}

function toResult(r: NativeGenerateReport): GenerateResult {
  const seconds = r.timings.generateMs / 1000;
  return {
    tokens: Array.from(r.tokens),
    ...(r.margins ? { margins: Array.from(r.margins) } : {}),
    text: new TextDecoder("utf-8").decode(r.bytes),
    stopReason: r.stopReason,
    timings: { generateMs: r.timings.generateMs, firstTokenMs: r.timings.firstTokenMs, tokensPerSecond: seconds > 0 ? r.tokens.length / seconds : 0 },
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

export class VisionModel {
  readonly info: ModelInfo;
  private readonly native: NativeModel;
  private readonly queue = new SerialQueue();
  private disposed = false;
  /** Which prefix this model's KV cache holds now (set by VideoSession; docs/architecture.md). */
  kvHolder: object | undefined = undefined;

  private constructor(native: NativeModel, info: ModelInfo) {
    this.native = native;
    this.info = info;
  }

  static async load(options: ModelLoadOptions): Promise<VisionModel> {
    if (!options || typeof options.model !== "string" || typeof options.mmproj !== "string") {
      throw new TimelensError("ERR_INVALID_ARGUMENT", "load() needs { model, mmproj } paths to the text GGUF and the mmproj GGUF");
    }
    options = expandPathOptions(options); // "~/model.gguf" means the home folder's
    throwIfAborted(options.signal, "load");
    const pair = await inspectModelPair(options.model, options.mmproj);
    const log = options.onLog ?? (() => {});
    const requested = options.gpu ?? "auto";
    const { addon, location, gpu, skipped } = loadAddon({ path: options.addonPath, gpu: requested });
    for (const s of skipped) log(`timelens-native: skipped ${s.location.path}: ${s.reason}`);
    log(
      `timelens-native: using ${location.path} (${location.variant}, ${location.source})${gpu.backend ? ` on ${gpu.backend}: ${gpu.devices.map((d) => `${d.name} (${d.description})`).join(", ")}` : ""}`,
    );
    if (gpu.reason) {
      log(`timelens-native: ${gpu.reason}`);
      // Asked for a specific GPU and did not get it: say so even without onLog.
      if (requested !== "auto" && requested !== false && !options.onLog) process.emitWarning(gpu.reason, { code: "TIMELENS_GPU_FALLBACK" });
    }
    const native = new addon.Model();
    const onAbort = () => native.cancel();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const useGpu = gpu.backend !== null;
      await native.load(
        {
          model: options.model,
          mmproj: options.mmproj,
          gpuLayers: useGpu ? (options.gpuLayers ?? -1) : 0,
          mmprojGpu: useGpu ? (options.mmprojGpu ?? true) : false,
          threads: options.threads ?? 0,
          contextSize: options.contextSize ?? Math.min(DEFAULT_CONTEXT_SIZE, pair.text.nCtxTrain || DEFAULT_CONTEXT_SIZE),
          batchSize: options.batchSize ?? 512,
          flashAttention: options.flashAttention === undefined || options.flashAttention === "auto" ? -1 : options.flashAttention ? 1 : 0,
          imageMinTokens: 1,
          imageMaxTokens: options.imageMaxTokens ?? 16384,
          warmup: options.warmup ?? true,
          parallel: options.parallel ?? 8,
          ...(gpu.backend ? { gpuBackend: gpu.backend } : {}),
        },
        (e) => {
          if (e.type === "progress") options.onProgress?.(e.progress);
        },
      );
    } catch (e) {
      throw fromNativeError(e, "load");
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    const n = native.info();
    const specialTokens: Record<string, number> = {};
    for (const text of SPECIAL_TOKEN_TEXTS) {
      const ids = native.tokenize(text, true);
      if (ids.length === 1) specialTokens[text] = ids[0];
    }
    const info: ModelInfo = {
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
      vocabSize: n.vocabSize,
      parameters: n.parameters,
      chatTemplate: n.chatTemplate,
      specialTokens,
      fileSizes: pair.fileSizes,
      usesMrope: n.usesMrope,
      parallel: options.parallel ?? 8,
      addon: location,
      gpu: {
        requested,
        // null when nothing went to the GPU after all (gpuLayers 0 and mmprojGpu false)
        backend: !n.offload || n.offload.offloadedLayers > 0 || n.offload.projectorDevice ? gpu.backend : null,
        layerDevices: n.offload?.layerDevices ?? [],
        offloadedLayers: n.offload?.offloadedLayers ?? 0,
        totalLayers: n.offload?.totalLayers ?? n.nLayer + 1,
        projectorDevice: n.offload?.projectorDevice ?? null,
        reason: gpu.reason,
        skipped: skipped.map((s) => ({ path: s.location.path, variant: s.location.variant, reason: s.reason })),
      },
      systemInfo: n.systemInfo,
    };
    return new VisionModel(native, info);
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
    return Array.from(this.native.tokenize(text, options.special ?? false));
  }

  detokenize(tokens: readonly number[]): string {
    return this.detokenizeBytes(tokens).toString("utf8");
  }

  /** The raw bytes of the tokens' pieces (a piece may hold part of a UTF-8 character). */
  detokenizeBytes(tokens: readonly number[]): Buffer {
    this.checkOpen();
    return this.native.detokenize(Int32Array.from(tokens));
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
    const withSignal = async <T>(signal: AbortSignal | undefined, stage: string, run: () => Promise<T>): Promise<T> => {
      throwIfAborted(signal, stage);
      const onAbort = () => native.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        return await run();
      } catch (e) {
        throw fromNativeError(e, stage);
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    };
    return {
      evaluate: (chunks, options = {}) =>
        withSignal(options.signal, "prefill", () =>
          native.evaluate(chunks, { reserve: options.reserve ?? 0 }, (e) => {
            if (e.type === "chunk") options.onChunk?.(e.index);
          }),
        ),
      generate: (options = {}) =>
        withSignal(options.signal, "generate", async () => {
          const decoder = new TextDecoder("utf-8");
          const { signal: _s, onToken, ...sampling } = options;
          const r = await native.generate(sampling, (e) => {
            if (e.type === "token" && onToken) onToken(decoder.decode(e.bytes, { stream: true }), e.token);
          });
          return toResult(r);
        }),
      generateMany: (suffixes, options = {}) =>
        withSignal(options.signal, "generate", async () => {
          const decoders = suffixes.map(() => new TextDecoder("utf-8"));
          const { signal: _s, onToken, ...sampling } = options;
          const reports = await native.generateMany(suffixes, sampling, (e) => {
            if (e.type === "token" && onToken) onToken(e.seq, decoders[e.seq].decode(e.bytes, { stream: true }), e.token);
          });
          return reports.map(toResult);
        }),
      saveState: (path) => withSignal(undefined, "save", () => native.saveState(path)),
      loadState: (path, state) => withSignal(undefined, "load", () => native.loadState(path, state)),
      state: () => native.state(),
      rewind: (state) => {
        try {
          native.rewind(state);
        } catch (e) {
          throw fromNativeError(e);
        }
      },
      reset: () => native.reset(),
    };
  }

  /**
   * Cancels the running call, rejects the queued ones when they come up, then frees the
   * native model. A second dispose() rejects with ERR_DISPOSED.
   */
  async dispose(): Promise<void> {
    this.checkOpen();
    this.disposed = true;
    if (this.native.busy) this.native.cancel();
    await this.queue.idle();
    this.native.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.disposed) await this.dispose();
  }
}
