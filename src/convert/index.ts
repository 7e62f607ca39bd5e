/**
 * Hugging Face checkpoint -> text GGUF + mmproj GGUF, in TypeScript, tensor by tensor with
 * ranged reads (bounded memory), written to temporary files renamed at the end
 * (docs/models.md, "Converter").
 */
import { promises as fsp } from "node:fs";
import { basename, join, resolve } from "node:path";
import { AbortError, TimelensError } from "../errors";
import { type GgufMetadataInput, gguf, writeGguf } from "../gguf/writer";
import { type Checkpoint, type CheckpointTensor, openCheckpoint } from "./checkpoint";
import { encodedBytes, type OutType } from "./encode";
import { convertNeeds } from "./estimate";
import { deepstackIndexes, generalKeys, mmprojKeys, TEXT_ARCH, textHparams, textModelKeys } from "./metadata";
import { type MappedTensor, mapTensorName, outputType, partShape, type TensorTarget, targetOf } from "./names";
import { RangeReader } from "./safetensors";
import { ChunkPool, tensorSource } from "./stream";
import type { ConvertOptions, ConvertProgress, ConvertResult, MmprojOutType, TextOutType } from "./types";
import { tokenizerMetadata } from "./vocab";

export type {
  ConvertOptions,
  ConvertProgress,
  ConvertResult,
  MmprojOutType,
  TextOutType,
  CheckpointFamily,
} from "./types";
export { openCheckpoint } from "./checkpoint";
export { type ConvertNeeds, type ConvertNeedsRequest, convertNeeds } from "./estimate";

export const TEXT_OUT_TYPES: readonly TextOutType[] = ["f32", "f16", "bf16", "q8_0"];
export const MMPROJ_OUT_TYPES: readonly MmprojOutType[] = ["f32", "f16", "bf16"];

interface PlannedTensor {
  source: CheckpointTensor;
  mapped: MappedTensor;
  /** ggml ne order. */
  dims: number[];
  type: OutType;
}

function planFile(ckpt: Checkpoint, target: TensorTarget, fileType: OutType): PlannedTensor[] {
  const ds = deepstackIndexes(ckpt.family, ckpt.config);
  const out: PlannedTensor[] = [];
  for (const t of ckpt.tensors) {
    if (targetOf(t.canonical) !== target) continue;
    for (const mapped of mapTensorName(t.canonical, ckpt.family, ds)) {
      const dims = partShape(t.shape, mapped.part, t.name).reverse();
      out.push({ source: t, mapped, dims, type: outputType(mapped.gguf, dims, fileType, target) });
    }
  }
  return out;
}

function fileTypeOf(t: string, allowed: readonly string[], what: string): OutType {
  if (!allowed.includes(t))
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `${what} must be one of ${allowed.join(", ")}, got ${JSON.stringify(t)}`,
      { [what]: t },
    );
  return t.toUpperCase() as OutType;
}

function metadataFor(
  ckpt: Checkpoint,
  target: TensorTarget,
  fileType: OutType,
  name: string,
  tensors: PlannedTensor[],
): Record<string, GgufMetadataInput> {
  const params = tensors.reduce((n, t) => n + t.dims.reduce((a, b) => a * b, 1), 0);
  if (target === "text") {
    const vocabSize = textHparams(ckpt.config).vocab_size;
    return {
      ...generalKeys(TEXT_ARCH[ckpt.family], "model", name, params, ckpt.generationConfig),
      ...textModelKeys(ckpt.family, ckpt.config, fileType),
      "general.quantization_version": gguf.u32(2),
      ...tokenizerMetadata(
        {
          tokenizer: ckpt.tokenizer,
          tokenizerConfig: ckpt.tokenizerConfig,
          config: ckpt.config,
          chatTemplateFile: ckpt.chatTemplateFile,
        },
        typeof vocabSize === "number" ? vocabSize : undefined,
      ),
    };
  }
  if (!ckpt.preprocessorConfig)
    throw new TimelensError(
      "ERR_CHECKPOINT_INVALID",
      `${ckpt.dir} has no preprocessor_config.json (the projector needs its image mean and std)`,
      {
        dir: ckpt.dir,
      },
    );
  return {
    ...generalKeys("clip", "mmproj", name, params, ckpt.generationConfig),
    ...mmprojKeys(ckpt.family, ckpt.config, ckpt.preprocessorConfig, fileType),
    "general.quantization_version": gguf.u32(2),
  };
}

async function writeFile(
  ckpt: Checkpoint,
  target: TensorTarget,
  fileType: OutType,
  name: string,
  path: string,
  opts: ConvertOptions,
): Promise<number> {
  const planned = planFile(ckpt, target, fileType);
  if (planned.length === 0)
    throw new TimelensError(
      "ERR_CHECKPOINT_INVALID",
      `the checkpoint has no ${target === "text" ? "text model" : "vision"} tensors`,
      { dir: ckpt.dir },
    );
  const metadata = metadataFor(ckpt, target, fileType, name, planned);
  const reader = new RangeReader();
  const pool = new ChunkPool();
  const stage: ConvertProgress["stage"] = target === "text" ? "convert-text" : "convert-mmproj";
  const total = planned.reduce(
    (n, p) =>
      n +
      encodedBytes(
        p.dims.reduce((a, b) => a * b, 1),
        p.type,
      ),
    0,
  );
  opts.onProgress?.({ stage, done: 0, total });
  try {
    const { bytes } = await writeGguf(
      path,
      {
        metadata,
        tensors: planned.map((p) => ({
          name: p.mapped.gguf,
          dims: p.dims,
          type: p.type,
          source: tensorSource(p, reader, pool),
        })),
      },
      {
        signal: opts.signal,
        onTensor: (tensor, done) => opts.onProgress?.({ stage, done: Math.min(done, total), total, tensor }),
      },
    );
    return bytes;
  } finally {
    await reader.close();
  }
}

function defaultName(dir: string): string {
  return basename(resolve(dir));
}

/**
 * Converts a local checkpoint into a text GGUF and an mmproj GGUF (either may be skipped).
 * Everything is validated before the first byte is written; on any failure or abort, no
 * output of this call is left behind.
 */
export async function convertCheckpoint(opts: ConvertOptions): Promise<ConvertResult> {
  const textType = fileTypeOf(opts.outtype ?? "f16", TEXT_OUT_TYPES, "outtype");
  const mmprojType = fileTypeOf(opts.mmprojOuttype ?? "f16", MMPROJ_OUT_TYPES, "mmprojOuttype");
  if (opts.signal?.aborted) throw new AbortError();
  const ckpt = await openCheckpoint(opts.dir);
  const name = opts.name ?? defaultName(opts.dir);
  const modelPath = opts.outfile === null ? null : resolve(opts.outfile ?? join(ckpt.dir, `${name}-${textType}.gguf`));
  const mmprojPath =
    opts.mmprojOutfile === null
      ? null
      : resolve(opts.mmprojOutfile ?? join(ckpt.dir, `mmproj-${name}-${mmprojType}.gguf`));
  if (!modelPath && !mmprojPath)
    throw new TimelensError("ERR_INVALID_ARGUMENT", "both outputs are skipped: nothing to convert", {});
  if (modelPath && modelPath === mmprojPath)
    throw new TimelensError("ERR_INVALID_ARGUMENT", "outfile and mmprojOutfile are the same path", { path: modelPath });
  const written: string[] = [];
  const result: ConvertResult = { family: ckpt.family };
  try {
    if (modelPath) {
      result.modelBytes = await writeFile(ckpt, "text", textType, name, modelPath, opts);
      result.model = modelPath;
      written.push(modelPath);
    }
    if (mmprojPath) {
      result.mmprojBytes = await writeFile(ckpt, "mmproj", mmprojType, name, mmprojPath, opts);
      result.mmproj = mmprojPath;
      written.push(mmprojPath);
    }
  } catch (e) {
    await Promise.all(written.map((p) => fsp.rm(p, { force: true })));
    if (e instanceof TimelensError) throw e;
    if ((e as Error)?.name === "AbortError") throw new AbortError();
    throw new TimelensError("ERR_CHECKPOINT_INVALID", `conversion failed: ${(e as Error).message}`, {}, { cause: e });
  }
  return result;
}

/**
 * Bytes the outputs will take (for disk-space checks before a conversion): the checkpoint is
 * validated, then sized by convertNeeds, the one estimate pulls use too.
 */
export async function estimateConvertBytes(
  dir: string,
  outtype: TextOutType = "f16",
  mmprojOuttype: MmprojOutType = "f16",
): Promise<{ model: number; mmproj: number }> {
  fileTypeOf(outtype, TEXT_OUT_TYPES, "outtype");
  fileTypeOf(mmprojOuttype, MMPROJ_OUT_TYPES, "mmprojOuttype");
  const ckpt = await openCheckpoint(dir);
  const needs = convertNeeds(ckpt.config, { outtype, mmprojOuttype, quant: null });
  return { model: needs.model, mmproj: needs.mmproj };
}
