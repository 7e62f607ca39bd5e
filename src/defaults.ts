/**
 * Every default of model loading and token generation, in one place (docs/architecture.md
 * "Defaults"). The addon has none: it requires each field of what these functions return.
 * Pure functions: tests call them without a model.
 */
import { availableParallelism } from "node:os";
import { invalidArgument } from "./errors";
import type { GpuPreference, NativeDevice, NativeGenerationOptions, NativeLoadOptions } from "./native/types";

/** Load defaults; the public types' docs (ModelLoadOptions) quote these values. */
export const LOAD_DEFAULTS = Object.freeze({
  gpu: "auto" as GpuPreference,
  gpuLayers: -1,
  mmprojGpu: true,
  /** A TimeLens video budget of 14336 tokens plus room for the answer (capped by the model's n_ctx_train). */
  contextSize: 16384,
  batchSize: 512,
  flashAttention: "auto" as boolean | "auto",
  /** libmtmd keeps every frame at the size the video planner chose (docs/reference.md). */
  imageMinTokens: 1,
  imageMaxTokens: 16384,
  warmup: true,
  parallel: 8,
});

/** Token generation defaults (GenerateOptions' docs quote these values). */
export const GENERATION_DEFAULTS: Readonly<NativeGenerationOptions> = Object.freeze({
  maxTokens: 512,
  temperature: 0,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  seed: 0,
  stop: [],
  reportMargins: false,
});

/** The load options resolveLoadOptions reads, with their defaults (ModelLoadOptions extends this). */
export interface LoadOptionsInput {
  /** Text GGUF path. */
  model: string;
  /** mmproj (vision projector) GGUF path. */
  mmproj: string;
  /** Text layers to offload; -1 (default) = all that the backend takes. */
  gpuLayers?: number;
  /** Run the vision encoder on the GPU too (default true). */
  mmprojGpu?: boolean;
  /** CPU threads (default: os.availableParallelism(); 0 means the default too). */
  threads?: number;
  /**
   * KV context in tokens (default 16384: a TimeLens video budget of 14336 plus room for the
   * answer; capped by the model's training context).
   */
  contextSize?: number;
  /** Batch and micro-batch size in tokens (default 512). */
  batchSize?: number;
  /** Flash attention (default "auto": llama.cpp enables it where the device supports it). */
  flashAttention?: boolean | "auto";
  /** Upper bound of tokens one image may take before libmtmd would shrink it (default 16384). */
  imageMaxTokens?: number;
  /** Run libmtmd's warm-up encode at load (default true). */
  warmup?: boolean;
  /** Queries a VideoSession may decode at once with groundMany (default 8). */
  parallel?: number;
}

/** Facts the defaults depend on: the model's training context, and the GPUs chosen (loader.ts). */
export interface LoadFacts {
  nCtxTrain: number;
  /** Devices chosen for the GPU work; empty: everything on the CPU. */
  gpuDevices: readonly NativeDevice[];
  /** Threads for the CPU work when `threads` is not given (default: os.availableParallelism()). */
  hardwareThreads?: number;
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw invalidArgument(name, `an integer ${min}..${max}`, v);
  return v;
}

function number(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max)
    throw invalidArgument(name, `a number ${min}..${max}`, v);
  return v;
}

function boolean(name: string, value: boolean | undefined, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== "boolean") throw invalidArgument(name, "a boolean", v);
  return v;
}

/** The complete options the addon's load() takes. */
export function resolveLoadOptions(options: LoadOptionsInput, facts: LoadFacts): NativeLoadOptions {
  const useGpu = facts.gpuDevices.length > 0;
  const fa = options.flashAttention ?? LOAD_DEFAULTS.flashAttention;
  if (fa !== "auto" && typeof fa !== "boolean") throw invalidArgument("flashAttention", 'true, false or "auto"', fa);
  const contextDefault = Math.min(
    LOAD_DEFAULTS.contextSize,
    facts.nCtxTrain > 0 ? facts.nCtxTrain : LOAD_DEFAULTS.contextSize,
  );
  const gpuLayers = integer("gpuLayers", options.gpuLayers, LOAD_DEFAULTS.gpuLayers, -1, 1 << 20);
  const mmprojGpu = boolean("mmprojGpu", options.mmprojGpu, LOAD_DEFAULTS.mmprojGpu);
  return {
    model: options.model,
    mmproj: options.mmproj,
    gpuLayers: useGpu ? gpuLayers : 0,
    threads: integer(
      "threads",
      options.threads === 0 ? undefined : options.threads,
      facts.hardwareThreads ?? availableParallelism(),
      1,
      1024,
    ),
    contextSize: integer("contextSize", options.contextSize, contextDefault, 16, 1 << 24),
    batchSize: integer("batchSize", options.batchSize, LOAD_DEFAULTS.batchSize, 1, 1 << 24),
    flashAttention: fa === "auto" ? -1 : fa ? 1 : 0,
    imageMinTokens: LOAD_DEFAULTS.imageMinTokens,
    imageMaxTokens: integer("imageMaxTokens", options.imageMaxTokens, LOAD_DEFAULTS.imageMaxTokens, 1, 1 << 24),
    warmup: boolean("warmup", options.warmup, LOAD_DEFAULTS.warmup),
    parallel: integer("parallel", options.parallel, LOAD_DEFAULTS.parallel, 1, 64),
    layerDevices: useGpu && gpuLayers !== 0 ? facts.gpuDevices.map((d) => d.name) : [],
    projectorDevice: useGpu && mmprojGpu ? facts.gpuDevices[0].name : "",
  };
}

/** The complete token generation options the addon takes; rejects bad values (NaN seeds too). */
export function resolveGeneration(options: Partial<NativeGenerationOptions> = {}): NativeGenerationOptions {
  const d = GENERATION_DEFAULTS;
  const stop = options.stop ?? d.stop;
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== "string"))
    throw invalidArgument("stop", "an array of strings", stop);
  return {
    maxTokens: integer("maxTokens", options.maxTokens, d.maxTokens, 1, 1 << 24),
    temperature: number("temperature", options.temperature, d.temperature, 0, 1000),
    topK: integer("topK", options.topK, d.topK, 0, 1 << 24),
    topP: number("topP", options.topP, d.topP, 0, 1),
    minP: number("minP", options.minP, d.minP, 0, 1),
    seed: integer("seed", options.seed, d.seed, 0, 0xffffffff),
    stop: [...stop],
    reportMargins: boolean("reportMargins", options.reportMargins, d.reportMargins),
  };
}
