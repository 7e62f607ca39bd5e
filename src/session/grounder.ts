/**
 * The public entry point: load a TimeLens / Qwen-VL GGUF pair, then ask when something
 * happens in a video.
 */
import { basename } from "node:path";
import { AbortError, TimelensError, invalidArgument, throwIfAborted } from "../errors";
import { loadAddon, type GpuPreference, type NativeDevice } from "../native";
import { detectProfile, getProfile, type ModelProfile, type ProfileId } from "../prompt/profiles";
import { VisionModel, type ModelInfo, type ModelLoadOptions } from "../runtime/model";
import { modelKvInputs, videoKvInputs, type KvModelInputs, type KvVideoInputs } from "../cache/inputs";
import { PrefixCache } from "../cache/prefix-cache";
import { resolveModelFiles, type HfLoadOptions } from "../models/resolve";
import { expandHome, expandPathOptions } from "../util/paths";
import { planFrames } from "../video/plan";
import { probeVideo } from "../video/probe";
import { videoFile } from "../video/temp-video";
import type { FrameSamplingOptions, GroundEvent, GroundOptions, GroundingResult, QueryOptions } from "../types";
import { groundEvents } from "./events";
import { checkQueryOptions } from "./query-options";
import { ProgressClock } from "./progress";
import { VideoSession } from "./video-session";

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

export interface OpenVideoOptions extends FrameSamplingOptions {
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
  private modelIdentity: Promise<KvModelInputs> | null = null;
  /** Fires on dispose(): probes and queries of every open session stop. */
  private readonly lifetime = new AbortController();
  private readonly sessions = new Set<VideoSession>();
  private disposing: Promise<void> | null = null;

  private constructor(model: VisionModel, profile: ModelProfile, options: GrounderLoadOptions) {
    this.model = model;
    this.profile = profile;
    this.options = options;
    this.cache = options.cacheDir ? new PrefixCache({ dir: options.cacheDir, maxBytes: options.cacheMaxBytes }) : null;
    this.info = { ...model.info, profile: profile.id, profileName: profile.displayName };
  }

  /** Loads the text GGUF and its mmproj; validates both before llama.cpp reads them. */
  static async load(input: GrounderLoadOptions | HfLoadOptions): Promise<Grounder> {
    checkLoadInput(input);
    // hf: models are pulled first (docs/hub.md); "~/..." means the home folder, as in a shell
    const options = expandPathOptions(await resolveModelFiles(input));
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
    return this.open(video, options, new ProgressClock());
  }

  private checkOpen(): void {
    if (this.disposing || this.model.isDisposed) throw new TimelensError("ERR_DISPOSED", "This Grounder was disposed");
  }

  private async open(video: VideoInput, options: OpenVideoOptions, clock: ProgressClock): Promise<VideoSession> {
    this.checkOpen();
    throwIfAborted(options.signal, "probe");
    const file = await videoFile(typeof video === "string" ? expandHome(video) : video);
    try {
      clock.emit("probe", 0, 1);
      const t0 = performance.now();
      const probed = await this.probe(file.path, options.signal);
      const probeMs = performance.now() - t0;
      clock.emit("probe", 1, 1);
      const session = new VideoSession({
        model: this.model,
        profile: this.profile,
        path: file.path,
        video: probed,
        plan: planFrames(probed, this.planOptions(options)),
        probeMs,
        ffmpegPath: this.options.ffmpegPath,
        ffprobePath: this.options.ffprobePath,
        cache:
          this.cache && options.cache !== false
            ? { cache: this.cache, identity: () => this.identity(file.path) }
            : undefined,
        lifetime: this.lifetime.signal,
        onClose: async () => {
          this.sessions.delete(session);
          await file.release();
        },
      });
      session.checkFits(options.maxNewTokens ?? this.profile.answer.maxNewTokens);
      this.checkOpen(); // disposed while probing: this session would outlive the model
      this.sessions.add(session);
      return session;
    } catch (e) {
      await file.release();
      throw e;
    }
  }

  /** The probe, with the configured ffprobe and ffmpeg (MKV/WebM frames are counted by decoding), cancellable. */
  private async probe(path: string, signal: AbortSignal | undefined) {
    const stops = signal ? [signal, this.lifetime.signal] : [this.lifetime.signal];
    try {
      return await probeVideo(path, {
        ffprobePath: this.options.ffprobePath,
        ffmpegPath: this.options.ffmpegPath,
        signal: AbortSignal.any(stops),
      });
    } catch (e) {
      if (e instanceof AbortError && this.lifetime.signal.aborted && !signal?.aborted) {
        throw new TimelensError(
          "ERR_DISPOSED",
          "The Grounder was disposed while the video was probed",
          {},
          { cause: e },
        );
      }
      throw e;
    }
  }

  /** Frame sampling options with the profile's video defaults filled in. */
  private planOptions(options: FrameSamplingOptions) {
    const defaults = this.profile.video;
    return {
      profile: this.profile,
      fps: options.fps ?? defaults.fps,
      minTokens: options.minTokens ?? defaults.minTokens,
      totalTokens: options.totalTokens ?? defaults.totalTokens,
      minFrames: options.minFrames,
      maxFrames: options.maxFrames,
      nframes: options.nframes,
      start: options.start,
      end: options.end,
      timestampFormat: options.timestampFormat,
    };
  }

  /** What a cached prefix depends on besides the profile and layout (docs/cache.md): files, build, options, info. */
  private async identity(videoPath: string): Promise<KvVideoInputs> {
    this.modelIdentity ??= modelKvInputs(this.options, this.model.info);
    return videoKvInputs(await this.modelIdentity, videoPath);
  }

  /** When does `query` happen in `video`? One-shot: opens a session, asks, closes it. */
  async ground(video: VideoInput, query: string, options: GroundOptions = {}): Promise<GroundingResult> {
    if (typeof query !== "string" || query.trim() === "")
      throw new TimelensError("ERR_INVALID_ARGUMENT", "The query must be a non-empty string");
    checkQueryOptions(options); // before the probe: a bad option costs nothing
    // One clock for the whole call: elapsedMs and totalMs include the probe.
    const clock = new ProgressClock(options.onProgress);
    const session = await this.open(video, options, clock);
    try {
      return await session.groundWith(query, options, clock);
    } finally {
      await session.close();
    }
  }

  /**
   * The same as ground(), as an async iterable of progress, token and result events.
   * Leaving the loop early (break, return, throw) cancels the work.
   */
  stream(
    video: VideoInput,
    query: string,
    options: Omit<GroundOptions, "onToken" | "onProgress"> = {},
  ): AsyncIterable<GroundEvent> {
    return groundEvents((hooks) => this.ground(video, query, { ...options, ...hooks }), options.signal);
  }

  /**
   * Frees the model. Every open session is closed: running work is cancelled (it rejects with
   * ERR_DISPOSED, also while it waits for ffmpeg), queued work rejects with ERR_DISPOSED. A
   * second call is a no-op (it waits for the first).
   */
  dispose(): Promise<void> {
    this.disposing ??= this.shutdown();
    return this.disposing;
  }

  private async shutdown(): Promise<void> {
    this.lifetime.abort();
    await Promise.all([...this.sessions].map((s) => s.close()));
    if (!this.model.isDisposed) await this.model.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** Streams one query on an open session as events (used by the CLI and by users). */
export function streamSession(
  session: VideoSession,
  query: string,
  options: Omit<QueryOptions, "onToken" | "onProgress"> = {},
): AsyncIterable<GroundEvent> {
  return groundEvents((hooks) => session.ground(query, { ...options, ...hooks }), options.signal);
}

function resolveProfile(
  choice: ProfileId | ModelProfile | undefined,
  info: ModelInfo,
  modelPath: string,
): ModelProfile {
  const profile =
    choice === undefined
      ? detectProfile({
          architecture: info.architecture,
          projectorType: info.projectorType,
          name: [info.name ?? "", basename(modelPath)].join(" "),
        })
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

/** The shape checks resolveModelFiles and path expansion rely on: a typed error, not a TypeError. */
function checkLoadInput(input: unknown): void {
  const o = input as Record<string, unknown> | null;
  if (o === null || typeof o !== "object") {
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      "load() needs { model, mmproj } paths to the text GGUF and the mmproj GGUF",
    );
  }
  for (const key of ["model", "mmproj", "cacheDir", "ffmpegPath", "ffprobePath"]) {
    if (o[key] !== undefined && typeof o[key] !== "string") throw invalidArgument(key, "a path string", o[key]);
  }
}
