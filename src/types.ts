/** Public option and result types of the Grounder API. */
import type { Span } from "./parse";
import type { ProfileId, TimestampFormat } from "./prompt/profiles";

export type GroundStage = "probe" | "decode" | "encode" | "prefill" | "generate";

export interface GroundProgress {
  stage: GroundStage;
  /** Units done in this stage: frames (decode), pairs (encode), chunks (prefill), tokens (generate). */
  done: number;
  total: number;
  /** Since the call started (for Grounder.ground: before the probe); never restarts within a call. */
  elapsedMs: number;
}

/**
 * How the video's frames are sampled; defaults come from the model profile's `video`
 * (TimeLens: 2 fps, 64..14336 tokens). Token sampling of the answer is in QueryOptions.
 */
export interface FrameSamplingOptions {
  /** Frames per second of video (default: the profile's, 2). */
  fps?: number;
  /** Minimum tokens per frame (pixels = tokens * factor^2). */
  minTokens?: number;
  /** Token budget for the whole video. */
  totalTokens?: number;
  minFrames?: number;
  maxFrames?: number;
  /** Exact frame count instead of fps. */
  nframes?: number;
  /** Clip range in seconds. */
  start?: number;
  end?: number;
  /** Overrides the profile's timestamp label, e.g. "<{t} seconds>". */
  timestampFormat?: TimestampFormat;
}

export interface QueryOptions {
  /** Default: the profile's `answer.maxNewTokens` (512). */
  maxNewTokens?: number;
  /** 0 (default) = greedy, as the reference evaluates. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
  /** Each piece of answer text as it is generated. */
  onToken?: (text: string, token: number) => void;
  onProgress?: (p: GroundProgress) => void;
}

/** @deprecated Renamed FrameSamplingOptions (it is frame sampling, not token sampling). */
export type SamplingOptions = FrameSamplingOptions;

export interface GroundOptions extends FrameSamplingOptions, QueryOptions {}

export interface FrameSummary {
  count: number;
  width: number;
  height: number;
  pairs: number;
  tokensPerPair: number;
  /** Video frame numbers sampled. */
  indices: number[];
  /** Their times in seconds. */
  times: number[];
  /** The label before each pair, as the model saw it. */
  labels: string[];
}

export interface GroundTimings {
  probeMs: number;
  /** Decoding and resizing the frames; it runs while earlier pairs are encoded and prefilled. */
  decodeMs: number;
  /** The part of decodeMs that encode/prefill waited for (the rest was hidden behind them); always set by Grounder. */
  decodeWaitMs?: number;
  encodeMs: number;
  prefillMs: number;
  generateMs: number;
  /** The whole call: for Grounder.ground from before the probe, for a session query from its start. */
  totalMs: number;
  tokensPerSecond: number;
  /** True when the video prefix was not computed by this call (no decode/encode/prefill of the video). */
  reusedPrefix: boolean;
  /** Where the video prefix came from: computed now, still in the KV cache, or the disk cache. */
  prefixSource: "built" | "live" | "disk";
  /** Which device ran what: the vision encoder, and the text layers (e.g. "Vulkan0 (37/37 layers)" or "CPU"). */
  devices: { encode: string; llm: string };
}

export interface GroundUsage {
  /** KV cells the prompt used (video + text). */
  promptTokens: number;
  imageTokens: number;
  generatedTokens: number;
  contextSize: number;
}

export interface GroundingResult {
  /** First span's start in seconds, clamped to [0, duration]; null when the answer had no time. */
  start: number | null;
  end: number | null;
  /** Every [start, end] pair found in the answer, as extract_time returns them. */
  spans: Span[];
  /** False when no time could be read from the answer. */
  parsed: boolean;
  /** The model's raw answer. */
  text: string;
  query: string;
  profile: ProfileId;
  stopReason: "eog" | "maxTokens" | "stop" | "context";
  video: { duration: number; fps: number; totalFrames: number; width: number; height: number };
  frames: FrameSummary;
  timings: GroundTimings;
  usage: GroundUsage;
}

export type GroundEvent =
  | { type: "progress"; progress: GroundProgress }
  | { type: "token"; text: string; token: number }
  | { type: "result"; result: GroundingResult };
