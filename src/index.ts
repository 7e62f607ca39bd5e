/** timelens-native: video temporal grounding with TimeLens / Qwen-VL models on llama.cpp. */
export { Grounder, streamSession, VideoSession } from "./session";
export type { GrounderInfo, GrounderLoadOptions, OpenVideoOptions, VideoInput, GroundManyOptions } from "./session";
export type * from "./types";

export { TimelensError, AbortError, ContextOverflowError, isTimelensError } from "./errors";
export type { ErrorCode } from "./errors";

export { VisionModel } from "./runtime/model";
export type { ModelInfo, ModelLoadOptions, GenerateOptions, GenerateResult } from "./runtime/model";
export { loadAddon, addonCandidates, mapAsarPath } from "./native";
export type { GpuPreference, NativeDevice, AddonLocation } from "./native";

export {
  PROFILES,
  PROFILE_IDS,
  getProfile,
  detectProfile,
  groundingInstruction,
  formatTimestamp,
} from "./prompt/profiles";
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

// Reports (docs/report.md)
export {
  renderReport,
  renderTimelinePng,
  renderEvalReport,
  extractThumbnails,
  parsePaperFigures,
  PUBLISHED,
} from "./report/index";
export type {
  ReportOptions,
  ReportModelInfo,
  TimelinePngOptions,
  EvalReportData,
  EvalReportItem,
  EvalReportOptions,
  Thumbnail,
  ThumbnailOptions,
  PaperFigures,
  PublishedMetrics,
} from "./report/index";

// Model supply: Hugging Face checkpoint -> GGUF (docs/models.md)
export { convertCheckpoint, estimateConvertBytes, TEXT_OUT_TYPES, MMPROJ_OUT_TYPES } from "./convert";
export type {
  ConvertOptions,
  ConvertProgress,
  ConvertResult,
  TextOutType,
  MmprojOutType,
  CheckpointFamily,
} from "./convert";
// Quantization (docs/quantize.md).
export { quantizeModel, parseQuantType, quantTypeInfo, QUANT_TYPES } from "./quantize";
export type { QuantType, QuantTypeInfo, QuantizeOptions, QuantizeProgress, QuantizeResult } from "./quantize";

// Model supply: hub downloads and the models cache (docs/hub.md)
export { pullModel } from "./models/pull";
export type { PullOptions, PullProgress, PullResult, Quantizer, QuantizeRequest } from "./models/pull";
export { parseModelUri, isHfUri } from "./models/uri";
export type { ModelUri } from "./models/uri";
export { listModels, removeModel, defaultModelsDir } from "./models/cache";
export type { CachedModel, ModelManifest, ManifestFile } from "./models/cache";
export type { HfLoadOptions } from "./models/resolve";
export { downloadFiles, resolveRepo, hubConfig } from "./hub";
export type { HubOptions, DownloadProgress, RepoFile, RepoSnapshot } from "./hub";
