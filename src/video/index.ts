/** The video pipeline: find ffmpeg, probe, plan (pure), decode + resize. See docs/architecture.md. */
export {
  resolveFfmpeg,
  resolveFfprobe,
  locateFfmpeg,
  locateFfprobe,
  clearFfmpegCache,
  type FfmpegOptions,
  type FfprobeOptions,
  type LocatedTool,
} from "./ffmpeg";
export { probeVideo, countDecodedFrames, type ProbeOptions, type ProbedVideoDetails, type FrameCountMode, type VideoSource } from "./probe";
export {
  planFrames,
  frameRange,
  frameCount,
  smartResize,
  pairFrames,
  roundByFactor,
  ceilByFactor,
  floorByFactor,
  type PlanOptions,
  type FramePlanDetails,
} from "./plan";
export { readFrames, selectExpression, type ReadFramesOptions } from "./decode";
export { createResizer, resizeRgb, type Resizer, type ResizeOptions, type ResampleMode } from "./resize";
export { torchLinspace, TORCH_COMPATS, type TorchCompat } from "./torch-compat";
export type { VideoInfo, ProbedVideo, FramePair, FramePlan, Frame } from "./types";
