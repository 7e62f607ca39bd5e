/** Reports: HTML pages and a PNG timeline of grounding results and eval runs (docs/report.md). */
export { renderReport, buildReportHtml, reportThumbnails } from "./grounding";
export type { ReportOptions, ReportModelInfo } from "./grounding";
export { renderTimelinePng, timelinePngLayout } from "./png";
export type { TimelinePngOptions, TimelinePngLayout } from "./png";
export { renderEvalReport, buildEvalReportHtml, byDuration, worstAndBest } from "./eval-report";
export type { EvalReportData, EvalReportItem, EvalReportOptions, BucketRow } from "./eval-report";
export { loadEvalReportData, predictionFiles } from "./eval-data";
export { extractThumbnails, pairTimesOf } from "./thumbnails";
export type { Thumbnail, ThumbnailOptions } from "./thumbnails";
export { PUBLISHED, PROFILE_PAPER_MODEL, parsePaperFigures } from "./paper";
export type { PaperFigures, PublishedMetrics } from "./paper";
export * as layout from "./layout";
