/** timelens-native: video temporal grounding with TimeLens / Qwen-VL models on llama.cpp. */
export { Grounder, streamSession } from "./grounder";
export type { GrounderInfo, GrounderLoadOptions, OpenVideoOptions, VideoInput } from "./grounder";
export { VideoSession } from "./session";
export type * from "./types";

export { TimelensError, AbortError, ContextOverflowError, isTimelensError } from "./errors";
export type { ErrorCode } from "./errors";

export { VisionModel } from "./runtime/model";
export type { ModelInfo, ModelLoadOptions, GenerateOptions, GenerateResult } from "./runtime/model";
export { loadAddon, addonCandidates, mapAsarPath } from "./native";
export type { GpuPreference, NativeDevice, AddonLocation } from "./native";

export { PROFILES, PROFILE_IDS, getProfile, detectProfile, groundingInstruction, formatTimestamp } from "./prompt/profiles";
export type { ModelProfile, ProfileId, TimestampFormat } from "./prompt/profiles";
export { renderPrompt, referencePromptText } from "./prompt/render";
export type { PromptSegment, RenderedPrompt, RenderPromptOptions } from "./prompt/render";
export { normalizeQuery } from "./prompt/query";

export { planFrames } from "./video/plan";
export { probeVideo } from "./video/probe";
export { readFrames } from "./video/decode";
export { resolveFfmpeg, resolveFfprobe, locateFfmpeg, locateFfprobe } from "./video/ffmpeg";
export type { LocatedTool } from "./video/ffmpeg";
export type { FramePlan, FramePair, Frame, ProbedVideo, VideoInfo } from "./video/types";

export { extractTime, parseGroundingAnswer } from "./parse";
export type { Span, GroundingAnswer } from "./parse";
export { iou, computeMetrics, predictionForScoring, formatMetricsTable } from "./eval/metrics";
export type { Metrics, MetricsItem } from "./eval/metrics";
export { loadBench, runEval, scorePredictions } from "./eval/index";

export { pyFixed, pyRound } from "./util/pyformat";
