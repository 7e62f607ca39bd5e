/**
 * pullModel: hub repo -> HF cache -> GGUFs in the models cache (docs/hub.md).
 * Checkpoint repos are downloaded, converted (convertCheckpoint) and optionally quantized;
 * GGUF repos are downloaded only. Idempotent: what the manifest lists and the disk holds is
 * reused, so a second identical pull downloads and converts nothing.
 */
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { convertCheckpoint, convertNeeds } from "../convert";
import { quantizeModel } from "../quantize";
import type { ConvertProgress, MmprojOutType, TextOutType } from "../convert/types";
import { AbortError, TimelensError, throwIfAborted } from "../errors";
import { downloadFiles, type DownloadProgress } from "../hub/download";
import { hubConfig, type HubOptions } from "../hub/env";
import { hasCheckpoint, hasGguf, selectCheckpointFiles, selectGgufFiles, ggufTypeOf } from "../hub/files";
import { resolveRepo } from "../hub/repo";
import {
  commitDir,
  defaultModelsDir,
  presentFile,
  readManifest,
  removeStaleTemps,
  tempName,
  withFile,
  writeManifest,
  type ModelManifest,
} from "./cache";

export interface QuantizeRequest {
  input: string;
  output: string;
  type: string;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number }) => void;
}
/** The shape of quantizeModel (src/quantize/, the default); tests may pass another. */
export type Quantizer = (req: QuantizeRequest) => Promise<unknown>;

export type PullProgress =
  | DownloadProgress
  | (ConvertProgress & { stage: "convert-text" | "convert-mmproj" })
  | { stage: "quantize"; done: number; total: number };

export interface PullOptions {
  /** owner/name on the hub. */
  repo: string;
  /** Branch, tag or commit. Default "main". */
  revision?: string;
  /** Text GGUF type converted to. Default "f16". */
  outtype?: TextOutType;
  /** Mmproj type. Default "f16". */
  mmprojOuttype?: MmprojOutType;
  /** Checkpoint repos: quantize the text GGUF to this type. GGUF repos: pick the file of this type. */
  quant?: string;
  hub?: HubOptions;
  /** Models cache. Default $TIMELENS_CACHE_DIR/models. */
  modelsDir?: string;
  /** Quantization threads. Default: the quantizer's. */
  threads?: number;
  /** What quantizes for `quant` on checkpoint repos. Default: quantizeModel (the addon's llama_model_quantize). */
  quantize?: Quantizer;
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
}

export interface PullResult {
  repo: string;
  revision: string;
  commit: string;
  source: "checkpoint" | "gguf";
  /** Absolute paths. */
  model: string;
  mmproj: string | null;
  manifest: string;
  /** Bytes fetched from the hub by this call. */
  downloadedBytes: number;
  converted: boolean;
  quantized: boolean;
}

export async function pullModel(opts: PullOptions): Promise<PullResult> {
  const cfg = hubConfig(opts.hub);
  const revision = opts.revision ?? "main";
  const { signal } = opts;
  throwIfAborted(signal, "download");
  const snapshot = await resolveRepo(opts.repo, revision, cfg, signal);
  const dir = commitDir(opts.modelsDir ?? defaultModelsDir(), opts.repo, snapshot.commit);
  await removeStaleTemps(dir);
  let manifest: ModelManifest = (await readManifest(dir)) ?? {
    version: 1,
    repo: opts.repo,
    commit: snapshot.commit,
    source: "checkpoint",
    files: [],
    updatedAt: "",
  };
  const base = { repo: opts.repo, revision, commit: snapshot.commit };

  if (!hasCheckpoint(snapshot.files)) {
    if (!hasGguf(snapshot.files)) {
      throw new TimelensError(
        "ERR_CHECKPOINT_UNSUPPORTED",
        `${opts.repo} holds neither a transformers checkpoint (config.json + model*.safetensors) nor GGUF files`,
        { repo: opts.repo, commit: snapshot.commit },
      );
    }
    const pick = selectGgufFiles(opts.repo, snapshot.files, opts.quant);
    const files = pick.mmproj ? [pick.model, pick.mmproj] : [pick.model];
    const dl = await downloadFiles({ snapshot, files, cfg, signal, onProgress: opts.onProgress });
    const model = dl.paths[pick.model.path];
    const mmproj = pick.mmproj ? dl.paths[pick.mmproj.path] : null;
    manifest = { ...manifest, source: "gguf" };
    manifest = withFile(manifest, {
      role: "model",
      type: ggufTypeOf(pick.model.path) ?? "unknown",
      path: model,
      bytes: pick.model.size,
    });
    if (pick.mmproj && mmproj)
      manifest = withFile(manifest, {
        role: "mmproj",
        type: ggufTypeOf(pick.mmproj.path) ?? "unknown",
        path: mmproj,
        bytes: pick.mmproj.size,
      });
    const manifestPath = await writeManifest(dir, manifest);
    return {
      ...base,
      source: "gguf",
      model,
      mmproj,
      manifest: manifestPath,
      downloadedBytes: dl.downloadedBytes,
      converted: false,
      quantized: false,
    };
  }

  const outtype = (opts.outtype ?? "f16").toUpperCase();
  const mmprojType = (opts.mmprojOuttype ?? "f16").toUpperCase();
  const quant = opts.quant?.toUpperCase();
  const quantizer: Quantizer = opts.quantize ?? quantizeModel;
  const name = opts.repo.split("/")[1];
  let downloadedBytes = 0;
  let converted = false;
  let quantized = false;

  let text = await presentFile(dir, manifest, (f) => f.role === "model" && f.type === outtype && !f.quantizedFrom);
  let mmproj = await presentFile(dir, manifest, (f) => f.role === "mmproj" && f.type === mmprojType);
  const wanted = quant
    ? await presentFile(dir, manifest, (f) => f.role === "model" && f.type === quant && f.quantizedFrom === outtype)
    : text;

  if (!wanted || !mmproj) {
    if (!text || !mmproj) {
      const files = selectCheckpointFiles(opts.repo, snapshot.files);
      // config.json first (a few KB): the conversion's disk need comes from it, checked with the download's
      const first = await downloadFiles({
        snapshot,
        files: files.filter((f) => f.path === "config.json"),
        cfg,
        signal,
        onProgress: opts.onProgress,
      });
      const need = convertNeeds(await readConfig(first.paths["config.json"]), {
        outtype: text ? null : outtype,
        mmprojOuttype: mmproj ? null : mmprojType,
        quant: quant ?? null,
      }).total;
      const dl = await downloadFiles({
        snapshot,
        files,
        cfg,
        signal,
        onProgress: opts.onProgress,
        alsoNeeds: [{ dir, bytes: need, purpose: "conversion" }],
      });
      downloadedBytes = first.downloadedBytes + dl.downloadedBytes;
      const textOut = text ? null : join(dir, `${name}-${outtype}.gguf`);
      const mmprojOut = mmproj ? null : join(dir, `mmproj-${name}-${mmprojType}.gguf`);
      const result = await atomically(
        [textOut, mmprojOut],
        ([t, m]) =>
          convertCheckpoint({
            dir: dl.dir,
            outtype: opts.outtype ?? "f16",
            mmprojOuttype: opts.mmprojOuttype ?? "f16",
            outfile: t,
            mmprojOutfile: m,
            name,
            signal,
            onProgress: opts.onProgress,
          }),
        signal,
      );
      converted = true;
      manifest = { ...manifest, family: result.family };
      if (textOut)
        manifest = withFile(manifest, {
          role: "model",
          type: outtype,
          path: `${name}-${outtype}.gguf`,
          bytes: result.modelBytes ?? 0,
        });
      if (mmprojOut)
        manifest = withFile(manifest, {
          role: "mmproj",
          type: mmprojType,
          path: `mmproj-${name}-${mmprojType}.gguf`,
          bytes: result.mmprojBytes ?? 0,
        });
      await writeManifest(dir, manifest);
      text = await presentFile(dir, manifest, (f) => f.role === "model" && f.type === outtype && !f.quantizedFrom);
      mmproj = await presentFile(dir, manifest, (f) => f.role === "mmproj" && f.type === mmprojType);
      if (!text || !mmproj)
        throw new TimelensError("ERR_CHECKPOINT_INVALID", `conversion of ${opts.repo} did not produce both GGUFs`, {
          repo: opts.repo,
        });
    }
    if (quant) {
      const file = `${name}-${quant}.gguf`;
      const input = text.path;
      await atomically(
        [join(dir, file)],
        ([out]) =>
          quantizer!({
            input,
            output: out!,
            type: quant,
            threads: opts.threads,
            signal,
            onProgress: (p) => opts.onProgress?.({ stage: "quantize", done: p.done, total: p.total }),
          }),
        signal,
      );
      const { size } = await stat(join(dir, file));
      manifest = withFile(manifest, { role: "model", type: quant, path: file, bytes: size, quantizedFrom: outtype });
      await writeManifest(dir, manifest);
      quantized = true;
    }
  }
  const finalModel = quant
    ? await presentFile(dir, manifest, (f) => f.role === "model" && f.type === quant && f.quantizedFrom === outtype)
    : text;
  if (!finalModel || !mmproj)
    throw new TimelensError("ERR_MODEL_INVALID", `the models cache entry ${dir} is incomplete`, { dir });
  return {
    ...base,
    source: "checkpoint",
    model: finalModel.path,
    mmproj: mmproj.path,
    manifest: join(dir, "manifest.json"),
    downloadedBytes,
    converted,
    quantized,
  };
}

async function readConfig(path: string): Promise<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new TimelensError("ERR_CHECKPOINT_INVALID", `${path} is not valid JSON (${(e as Error).message})`, {
      file: path,
    });
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new TimelensError("ERR_CHECKPOINT_INVALID", `${path} is not a JSON object`, { file: path });
  return v as Record<string, unknown>;
}

/**
 * Runs `write` on temp names (`<final>.partial-<pid>-<random>`) and renames them to the final names only
 * when it succeeded; on failure or abort the temps are removed. `null` entries pass through.
 */
async function atomically<T>(
  finals: Array<string | null>,
  write: (temps: Array<string | null>) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const temps = finals.map((f) => (f ? tempName(f) : null));
  for (const f of finals) if (f) await mkdir(dirname(f), { recursive: true });
  try {
    const result = await write(temps);
    throwIfAborted(signal, "convert");
    for (let i = 0; i < finals.length; i++) if (finals[i]) await rename(temps[i]!, finals[i]!);
    return result;
  } catch (e) {
    await Promise.all(temps.map((t) => (t ? rm(t, { force: true }) : undefined)));
    if (signal?.aborted && !(e instanceof AbortError)) throw new AbortError();
    throw e;
  }
}
