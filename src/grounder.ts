/**
 * The public entry point: load a TimeLens / Qwen-VL GGUF pair, then ask when something
 * happens in a video.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { TimelensError, throwIfAborted } from "./errors";
import { loadAddon, type GpuPreference, type NativeDevice } from "./native";
import { detectProfile, getProfile, type ModelProfile, type ProfileId } from "./prompt/profiles";
import { VisionModel, type ModelInfo, type ModelLoadOptions } from "./runtime/model";
import { ProgressClock, VideoSession } from "./session";
import { PrefixCache, sampledFileHash } from "./cache/prefix-cache";
import { eventStream } from "./util/event-stream";
import { resolveLoadOptions, type HfLoadOptions } from "./models/resolve";
import { expandHome, expandPathOptions } from "./util/paths";
import { planFrames } from "./video/plan";
import { probeVideo } from "./video/probe";
import type { GroundEvent, GroundOptions, GroundingResult, QueryOptions, SamplingOptions } from "./types";

export interface GrounderLoadOptions extends ModelLoadOptions {
  /** Model profile; detected from the GGUF metadata when omitted. */
  profile?: ProfileId | ModelProfile;
  /** Explicit ffmpeg / ffprobe binaries (else env, the @ffmpeg-installer packages, PATH). */
  ffmpegPath?: string;
  ffprobePath?: string;
  /**
   * Keep computed video prefixes (KV state after decode + encode + prefill) here, so a video
   * re-opened later, in any process, with the same model and options skips that work.
   */
  cacheDir?: string;
  /** Size limit of cacheDir; least recently used entries go first (default 20 GiB). */
  cacheMaxBytes?: number;
}

export interface GrounderInfo extends ModelInfo {
  profile: ProfileId;
  profileName: string;
}

export type VideoInput = string | Buffer | Uint8Array;

export interface OpenVideoOptions extends SamplingOptions {
  signal?: AbortSignal;
  /** Only used for the early "does it fit" check (default: the profile's). */
  maxNewTokens?: number;
  /** Use the Grounder's cacheDir for this video (default true when a cacheDir is set). */
  cache?: boolean;
}

export class Grounder {
  readonly info: GrounderInfo;
  readonly profile: ModelProfile;
  private readonly model: VisionModel;
  private readonly options: GrounderLoadOptions;
  private readonly cache: PrefixCache | null;
  private modelIdentity: Promise<string> | null = null;

  private constructor(model: VisionModel, profile: ModelProfile, options: GrounderLoadOptions) {
    this.model = model;
    this.profile = profile;
    this.options = options;
    this.cache = options.cacheDir ? new PrefixCache({ dir: options.cacheDir, maxBytes: options.cacheMaxBytes }) : null;
    this.info = { ...model.info, profile: profile.id, profileName: profile.displayName };
  }

  /** Loads the text GGUF and its mmproj; validates both before llama.cpp reads them. */
  static async load(input: GrounderLoadOptions | HfLoadOptions): Promise<Grounder> {
    // hf: models are pulled first (docs/hub.md); "~/..." means the home folder, as in a shell
    const options = expandPathOptions(await resolveLoadOptions(input));
    const model = await VisionModel.load(options);
    try {
      const profile = resolveProfile(options.profile, model.info, options.model);
      return new Grounder(model, profile, options);
    } catch (e) {
      await model.dispose();
      throw e;
    }
  }

  /** Backends and devices the addon can use on this machine. */
  static devices(options: { gpu?: GpuPreference; addonPath?: string } = {}): NativeDevice[] {
    return loadAddon({ path: options.addonPath, gpu: options.gpu ?? "auto" }).addon.devices();
  }

  /** Probes and plans a video and returns a session; the heavy work happens on the first query. */
  async openVideo(video: VideoInput, options: OpenVideoOptions = {}): Promise<VideoSession> {
    if (this.model.isDisposed) throw new TimelensError("ERR_DISPOSED", "This Grounder was disposed");
    throwIfAborted(options.signal, "probe");
    const { path, cleanup } = await materialize(video);
    try {
      const t0 = performance.now();
      const probed = await probeVideo(path, { ffprobePath: this.options.ffprobePath });
      const probeMs = performance.now() - t0;
      throwIfAborted(options.signal, "probe");
      const plan = planFrames(probed, {
        profile: this.profile,
        fps: options.fps ?? this.profile.defaults.fps,
        minTokens: options.minTokens ?? this.profile.defaults.minTokens,
        totalTokens: options.totalTokens ?? this.profile.defaults.totalTokens,
        minFrames: options.minFrames,
        maxFrames: options.maxFrames,
        nframes: options.nframes,
        start: options.start,
        end: options.end,
        timestampFormat: options.timestampFormat,
      });
      const session = new VideoSession({
        model: this.model,
        profile: this.profile,
        path,
        video: probed,
        plan,
        probeMs,
        ffmpegPath: this.options.ffmpegPath,
        cache: this.cache && options.cache !== false ? { cache: this.cache, identity: () => this.identity(path) } : undefined,
        onClose: cleanup,
      });
      session.checkFits(options.maxNewTokens ?? this.profile.defaults.maxNewTokens);
      return session;
    } catch (e) {
      await cleanup();
      throw e;
    }
  }

  /** What a cached prefix depends on besides the plan and prompt: the exact video, model pair and build. */
  private async identity(videoPath: string): Promise<Record<string, unknown>> {
    this.modelIdentity ??= Promise.all([sampledFileHash(this.options.model), sampledFileHash(this.options.mmproj)]).then((h) => h.join(":"));
    const info = this.model.info;
    return {
      video: await sampledFileHash(videoPath),
      model: await this.modelIdentity,
      addon: info.addon.variant,
      system: info.systemInfo,
      ctxTrain: info.nCtxTrain,
    };
  }

  /** When does `query` happen in `video`? One-shot: opens a session, asks, closes it. */
  async ground(video: VideoInput, query: string, options: GroundOptions = {}): Promise<GroundingResult> {
    if (typeof query !== "string" || query.trim() === "") throw new TimelensError("ERR_INVALID_ARGUMENT", "The query must be a non-empty string");
    const clock = new ProgressClock(options.onProgress);
    clock.emit("probe", 0, 1);
    const session = await this.openVideo(video, options);
    clock.emit("probe", 1, 1);
    try {
      return await session.ground(query, options);
    } finally {
      await session.close();
    }
  }

  /**
   * The same as ground(), as an async iterable of progress, token and result events.
   * Leaving the loop early (break, return, throw) cancels the work.
   */
  stream(video: VideoInput, query: string, options: Omit<GroundOptions, "onToken" | "onProgress"> = {}): AsyncIterable<GroundEvent> {
    return eventStream<GroundEvent, GroundingResult>(
      (emit, signal) =>
        this.ground(video, query, {
          ...options,
          signal: options.signal ? AbortSignal.any([options.signal, signal]) : signal,
          onProgress: (progress) => emit({ type: "progress", progress }),
          onToken: (text, token) => emit({ type: "token", text, token }),
        }),
      (result) => ({ type: "result", result }),
    );
  }

  /** Frees the model. Running work is cancelled; queued work rejects with ERR_DISPOSED. */
  async dispose(): Promise<void> {
    await this.model.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.model.isDisposed) await this.dispose();
  }
}

/** Streams one query on an open session as events (used by the CLI and by users). */
export function streamSession(session: VideoSession, query: string, options: Omit<QueryOptions, "onToken" | "onProgress"> = {}): AsyncIterable<GroundEvent> {
  return eventStream<GroundEvent, GroundingResult>(
    (emit, signal) =>
      session.ground(query, {
        ...options,
        signal: options.signal ? AbortSignal.any([options.signal, signal]) : signal,
        onProgress: (progress) => emit({ type: "progress", progress }),
        onToken: (text, token) => emit({ type: "token", text, token }),
      }),
    (result) => ({ type: "result", result }),
  );
}

function resolveProfile(choice: ProfileId | ModelProfile | undefined, info: ModelInfo, modelPath: string): ModelProfile {
  const profile =
    choice === undefined
      ? detectProfile({ architecture: info.architecture, projectorType: info.projectorType, name: [info.name ?? "", basename(modelPath)].join(" ") })
      : typeof choice === "string"
        ? getProfile(choice)
        : choice;
  if (profile.architecture !== info.architecture) {
    throw new TimelensError(
      "ERR_PROFILE_UNKNOWN",
      `Profile ${profile.displayName} is for ${profile.architecture} models, but this model is ${info.architecture}`,
      { profile: profile.id, architecture: info.architecture },
    );
  }
  return profile;
}

/** A Buffer input goes to a private temp file (ffmpeg needs a seekable file). */
async function materialize(video: VideoInput): Promise<{ path: string; cleanup: () => Promise<void> }> {
  if (typeof video === "string") return { path: expandHome(video), cleanup: async () => {} };
  if (!(video instanceof Uint8Array)) throw new TimelensError("ERR_INVALID_ARGUMENT", "video must be a file path or a Buffer");
  const dir = await mkdtemp(join(tmpdir(), "timelens-video-"));
  const path = join(dir, "input");
  await writeFile(path, video);
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
