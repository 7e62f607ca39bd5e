/**
 * quantizeModel: a text GGUF to a smaller type with llama.cpp's own quantizer (in the addon,
 * off the JS thread), byte for byte what llama-quantize writes for the same input and type.
 * The input is checked here first (llama.cpp aborts the process on some malformed files); the
 * output appears only when complete: written to a temporary file, renamed at the end, removed
 * on failure or abort. See docs/quantize.md.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { AbortError, TimelensError, throwIfAborted } from "../errors";
import { readGguf, type GgufFile } from "../gguf/reader";
import { inspectTextModel } from "../gguf/validate";
import { loadAddon, type NativeAddon, type NativeQuantizeOptions } from "../native";
import { QUANT_TYPES, type QuantType, type QuantizeOptions, type QuantizeResult } from "./types";

export * from "./types";

/** The canonical name of a type given in any case; ERR_INVALID_ARGUMENT when we do not offer it. */
export function parseQuantType(type: string): QuantType {
  const upper = String(type).toUpperCase();
  const found = QUANT_TYPES.find((t) => t === upper);
  if (!found) {
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `Unknown quantization type "${type}"; supported: ${QUANT_TYPES.join(", ")}`,
      {
        type,
        supported: [...QUANT_TYPES],
      },
    );
  }
  return found;
}

function wholeNumber(value: number | undefined, name: string, min: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min)) {
    throw new TimelensError("ERR_INVALID_ARGUMENT", `${name} must be an integer >= ${min}, got ${value}`, {
      [name]: value,
    });
  }
}

/** Reads and checks the input header: a complete, single-file qwen3vl / qwen2vl text GGUF. */
async function checkInput(path: string): Promise<GgufFile> {
  const g = await readGguf(path, {
    skipLargeArrays: true,
    keepArrays: ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type"],
  });
  if (g.metadata["general.architecture"] === "clip") {
    throw new TimelensError(
      "ERR_MODEL_UNSUPPORTED",
      `${path} is an mmproj (vision projector); quantizeModel takes text models only. ` +
        "Keep the mmproj at F16, or convert it as Q8_0 (docs/quantize.md).",
      { path, architecture: "clip" },
    );
  }
  const splits = g.metadata["split.count"];
  if (splits !== undefined && Number(splits) > 1) {
    throw new TimelensError(
      "ERR_MODEL_UNSUPPORTED",
      `${path} is one of ${splits} split files; merge them first (llama-gguf-split --merge)`,
      {
        path,
        splits: Number(splits),
      },
    );
  }
  inspectTextModel(g); // architecture, keys and tensor shapes llama.cpp relies on
  return g;
}

async function checkOutput(input: string, output: string): Promise<void> {
  const dir = dirname(output);
  const st = await fsp.stat(dir).catch(() => null);
  if (!st?.isDirectory())
    throw new TimelensError("ERR_FILE_NOT_FOUND", `Output directory not found: ${dir}`, {
      path: dir,
      kind: "directory",
    });
  const [a, b] = await Promise.all([fsp.stat(input), fsp.stat(output).catch(() => null)]);
  if (b && a.dev === b.dev && a.ino === b.ino) {
    throw new TimelensError("ERR_INVALID_ARGUMENT", `The output ${output} is the input file; write to another path`, {
      input,
      output,
    });
  }
  if (b?.isDirectory())
    throw new TimelensError("ERR_INVALID_ARGUMENT", `The output ${output} is a directory`, { output });
}

/** What a native failure means for the caller. */
function mapNativeError(e: unknown, input: string): TimelensError {
  const err = e as { code?: string; message?: string };
  if (err?.code === "ERR_ABORTED") return new AbortError("Quantization aborted", { stage: "quantize" });
  const message = err?.message ?? String(e);
  const requant = /requantizing from type (\S+) is disabled/.exec(message);
  if (requant) {
    return new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `${input} has tensors already quantized as ${requant[1]}; quantizing them again loses more precision. ` +
        "Start from the F16/BF16 file, or pass allowRequantize (--allow-requantize).",
      { input, tensorType: requant[1] },
    );
  }
  return new TimelensError("ERR_NATIVE", message, { input }, { cause: e });
}

function quantizerOf(addon: NativeAddon, type: QuantType): Required<Pick<NativeAddon, "quantize">>["quantize"] {
  if (!addon.quantize || !addon.quantizeTypes) {
    throw new TimelensError(
      "ERR_ADDON_NOT_FOUND",
      "This timelens-native addon predates quantization; rebuild it (npx timelens-native build)",
      {},
    );
  }
  if (!addon.quantizeTypes().includes(type))
    throw new TimelensError("ERR_NATIVE", `The addon does not know the type ${type}`, { type });
  return addon.quantize.bind(addon);
}

export async function quantizeModel(options: QuantizeOptions): Promise<QuantizeResult> {
  const t0 = performance.now();
  const type = parseQuantType(options.type);
  wholeNumber(options.threads, "threads", 1);
  wholeNumber(options.maxBufferBytes, "maxBufferBytes", 0);
  const { signal, onProgress } = options;
  throwIfAborted(signal, "quantize");
  const input = resolve(options.input);
  const output = resolve(options.output);
  const g = await checkInput(input);
  await checkOutput(input, output);
  const quantize = quantizerOf(loadAddon({ path: options.addonPath, gpu: "auto" }).addon, type);
  throwIfAborted(signal, "quantize");

  const temp = join(dirname(output), `.${basename(output)}.${process.pid}-${randomBytes(4).toString("hex")}.partial`);
  const native: NativeQuantizeOptions = {
    input,
    output: temp,
    type,
    threads: options.threads ?? availableParallelism(),
    allowRequantize: options.allowRequantize ?? false,
    quantizeOutputTensor: options.quantizeOutputTensor ?? true,
    pure: options.pure ?? false,
    maxBufferBytes: options.maxBufferBytes ?? 0,
  };
  const total = g.tensors.length;
  let settled = false;
  const job = quantize(native, (e) => {
    if (settled || e.type !== "progress" || !onProgress) return;
    onProgress({ stage: "quantize", done: Math.round(e.progress * total), total, elapsedMs: performance.now() - t0 });
  });
  const onAbort = () => job.cancel();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    try {
      await job.promise;
    } catch (e) {
      throw mapNativeError(e, input);
    }
    throwIfAborted(signal, "quantize"); // aborted after the last tensor: still nothing at `output`
    await fsp.rename(temp, output);
  } catch (e) {
    await fsp.rm(temp, { force: true });
    throw e;
  } finally {
    settled = true;
    signal?.removeEventListener("abort", onAbort);
  }
  const [inputBytes, outputBytes] = [g.fileSize, (await fsp.stat(output)).size];
  return { output, type, inputBytes, outputBytes, ms: performance.now() - t0 };
}
