/** TimeLens-Bench evaluation: annotations, runs, prediction files, metrics. */
export { BENCH_DATASETS, loadBench, parseBenchAnnotation, uniqueItems, videoSubset } from "./bench";
export type { BenchDataset, BenchDatasetName, BenchItem, LoadBenchOptions } from "./bench";
export { runEval } from "./run";
export type {
  EvalDatasetReport,
  EvalFailure,
  EvalGrounderLike,
  EvalItemEvent,
  EvalProgress,
  EvalReport,
  EvalSessionLike,
  EvalTimings,
  RunEvalOptions,
} from "./run";
export { crossCheck, metricsFromIous, scorePredictionText, scorePredictions, timestampsFieldChecker } from "./score";
export type { CrossCheck, CrossCheckDataset, ScoreOptions, ScoredPrediction, ScoreResult } from "./score";
export { PredictionWriter } from "./writer";
export type { OpenPredictionsOptions, OpenedPredictions } from "./writer";
export {
  KEY_SEPARATOR,
  formatPredictionLine,
  parsePredictionFile,
  parsePredictionKey,
  predictionKey,
} from "./predictions";
export type { ParsedPrediction, PredictionFile, PredictionRecord } from "./predictions";
export {
  R1_THRESHOLDS,
  computeMetrics,
  formatMetricsTable,
  iou,
  predictionForScoring,
  referenceTimestamps,
  roundToUnit,
} from "./metrics";
export type { Metrics, MetricsItem, R1Threshold, Span } from "./metrics";
export { isPyNumber, parsePyJson } from "./pyjson";
export type { PyJson } from "./pyjson";
