/**
 * The eval report: one HTML page per TimeLens-Bench dataset with the run's metrics next to the
 * published ones, the IoU histogram, the R1-vs-threshold curve, the score by video duration,
 * and the worst and best queries with their frames and predicted vs ground-truth bars.
 */
import { TimelensError } from "../errors";
import { metricsFromIous, type ScoredPrediction } from "../eval/score";
import { R1_THRESHOLDS, type Metrics } from "../eval/metrics";
import { getProfile, type ProfileId } from "../prompt/profiles";
import { planFrames } from "../video/plan";
import { probeVideo } from "../video/probe";
import type { FrameSummary } from "../types";
import {
  CURVE_THRESHOLDS,
  DURATION_EDGES,
  bucketIndex,
  bucketLabel,
  iouHistogram,
  r1Curve,
  selectPairs,
} from "./layout";
import { escapeHtml, page, sec } from "./html";
import { css, spanColor } from "./palette";
import type { PaperFigures, PublishedMetrics } from "./paper";
import { curveSvg, histogramSvg } from "./svg";
import { extractThumbnails, pairTimesOf, type Thumbnail } from "./thumbnails";
import { timelineBlock } from "./timeline";

export interface EvalReportItem extends ScoredPrediction {
  /** Video length in seconds (the annotation's), for the duration buckets and the bars. */
  duration: number;
  /** The model's raw answer. */
  answer: string;
  /** Where the video is, when known (thumbnails of the worst and best queries). */
  videoPath?: string;
}

export interface EvalReportData {
  dataset: string;
  /** Scored items (each key once). */
  items: readonly EvalReportItem[];
  /** Where the predictions came from (shown in the header). */
  predictionsFile?: string;
  /** Annotation items with no prediction, and lines that could not be scored. */
  missing?: number;
  unscorable?: number;
  /** Published figures and which of their models this run is (null: show every model). */
  paper?: PaperFigures;
  paperModel?: string | null;
  /** Profile for planning the thumbnails' frames (default timelens-8b). */
  profile?: ProfileId;
  /** Shown under the title (e.g. the model file). */
  model?: string;
}

export interface EvalReportOptions {
  /** How many worst and best queries to show (default 10 each). */
  examples?: number;
  /** Thumbnails per example row (default 16). */
  exampleThumbnails?: number;
  /** Bucket edges in seconds (default DURATION_EDGES). */
  durationEdges?: readonly number[];
  thumbnailHeight?: number;
  generatedAt?: string;
  signal?: AbortSignal;
  ffmpegPath?: string;
  ffprobePath?: string;
  /** Thumbnails made earlier, by item key (tests; otherwise decoded from videoPath). */
  thumbnails?: ReadonlyMap<string, readonly Thumbnail[]>;
  /** After each example's thumbnails. */
  onProgress?: (done: number, total: number) => void;
}

/** Worst first (lowest IoU, then key order), and best first among the others. */
export function worstAndBest<T extends { iou: number; key: string }>(
  items: readonly T[],
  n: number,
): { worst: T[]; best: T[] } {
  const sorted = [...items].sort((a, b) => a.iou - b.iou || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const worst = sorted.slice(0, n);
  const best = sorted.slice(Math.max(worst.length, sorted.length - n)).reverse();
  return { worst, best };
}

export interface BucketRow {
  label: string;
  count: number;
  metrics: Metrics | null;
}

/** Metrics per duration bucket (empty buckets kept, with null metrics). */
export function byDuration(
  items: readonly { iou: number; duration: number }[],
  edges: readonly number[] = DURATION_EDGES,
): BucketRow[] {
  const groups = Array.from({ length: edges.length - 1 }, () => [] as number[]);
  for (const it of items) {
    const b = bucketIndex(it.duration, edges);
    if (b >= 0) groups[b].push(it.iou);
  }
  return groups.map((g, i) => ({
    label: bucketLabel(edges, i),
    count: g.length,
    metrics: g.length > 0 ? metricsFromIous(g) : null,
  }));
}

function f1(v: number): string {
  return v.toFixed(1);
}

function metricsCells(m: PublishedMetrics | Metrics): string {
  return `${R1_THRESHOLDS.map((t) => `<td>${f1(m.r1[t])}</td>`).join("")}<td>${f1(m.miou)}</td>`;
}

function delta(a: number, b: number): string {
  const d = a - b;
  return `${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(1)}`;
}

function metricsTable(data: EvalReportData, metrics: Metrics): string {
  const rows = [`<tr data-row="run"><td><b>this run</b> (${metrics.count} queries)</td>${metricsCells(metrics)}</tr>`];
  const paper = data.paper;
  const chosen = data.paperModel ?? null;
  if (paper) {
    const names = chosen ? [chosen] : Object.keys(paper.models);
    for (const name of names) {
      const p = paper.models[name]?.[data.dataset];
      if (!p) {
        rows.push(
          `<tr><td>${escapeHtml(name)} (published)</td>` +
            `<td colspan="4" class="muted">no published figure for ${escapeHtml(data.dataset)}</td></tr>`,
        );
        continue;
      }
      rows.push(`<tr data-row="paper"><td>${escapeHtml(name)} (published)</td>${metricsCells(p)}</tr>`);
      if (chosen)
        rows.push(
          `<tr data-row="delta"><td class="muted">this run − published</td>` +
            `${R1_THRESHOLDS.map((t) => `<td>${delta(metrics.r1[t], p.r1[t])}</td>`).join("")}` +
            `<td>${delta(metrics.miou, p.miou)}</td></tr>`,
        );
    }
  }
  const source = paper
    ? `<p class="muted">Published figures: ${escapeHtml(paper.source)}.` +
      `${chosen ? "" : " The run's model was not named (--paper-model), " + "so every published model is listed."}</p>`
    : `<p class="note">No published figures were given.</p>`;
  return (
    `<table><thead><tr><th></th><th>R1@0.3</th><th>R1@0.5</th><th>R1@0.7</th><th>mIoU</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table>${source}`
  );
}

function bucketTable(rows: readonly BucketRow[]): string {
  const body = rows
    .filter((r) => r.count > 0)
    .map((r) => `<tr><td>${escapeHtml(r.label)}</td><td>${r.count}</td>${metricsCells(r.metrics!)}</tr>`)
    .join("");
  return (
    `<table><thead><tr><th>video duration</th><th>queries</th>` +
    `<th>R1@0.3</th><th>R1@0.5</th><th>R1@0.7</th><th>mIoU</th></tr></thead>` +
    `<tbody>${body}</tbody></table>`
  );
}

function exampleCard(
  it: EvalReportItem,
  rank: number,
  kind: "worst" | "best",
  thumbs: readonly Thumbnail[],
  thumbHeight: number | undefined,
): string {
  const rows = [
    {
      head: `<span class="muted">predicted ${sec(it.prediction[0])} – ${sec(it.prediction[1])} s</span>`,
      bars: [{ span: it.prediction, color: spanColor(0), kind: "pred" as const }],
    },
    {
      head: `<span class="muted">ground truth ${sec(it.gt[0])} – ${sec(it.gt[1])} s</span>`,
      bars: [{ span: it.gt, kind: "gt" as const }],
    },
  ];
  return (
    `<div class="card" data-kind="${kind}" data-rank="${rank}">
<div><b>${rank + 1}.</b> IoU <b>${it.iou.toFixed(3)}</b> · ` +
    `<span class="muted">${escapeHtml(it.video)} · ${sec(it.duration)} s</span></div>
<p class="query">${escapeHtml(it.query)}</p>
${timelineBlock({
  duration: it.duration,
  thumbnails: thumbs,
  rows,
  thumbnailHeight: thumbHeight,
  minWidth: 480,
  captions: false,
  small: true,
})}
<details><summary class="muted">raw answer</summary><pre class="answer">${escapeHtml(it.answer)}</pre></details>
</div>`
  );
}

/** The page (pure: thumbnails are passed in by item key). */
export function buildEvalReportHtml(
  data: EvalReportData,
  thumbnails: ReadonlyMap<string, readonly Thumbnail[]>,
  options: Omit<EvalReportOptions, "signal" | "thumbnails" | "onProgress"> = {},
): string {
  if (data.items.length === 0)
    throw new TimelensError("ERR_INVALID_ARGUMENT", `Nothing to report for ${data.dataset}: no scored predictions`, {
      dataset: data.dataset,
    });
  const metrics = metricsFromIous(data.items.map((i) => i.iou));
  const n = options.examples ?? 10;
  const { worst, best } = worstAndBest(data.items, n);
  const title = `timelens eval report: ${data.dataset}`;
  const counts = [`${data.items.length} queries scored`];
  if (data.missing) counts.push(`${data.missing} annotation items have no prediction (not scored)`);
  if (data.unscorable) counts.push(`${data.unscorable} lines could not be scored`);
  const empty = data.items.filter((i) => i.emptyAnswer).length;
  if (empty) counts.push(`${empty} empty answers (failed items, scored as misses)`);
  const markers =
    data.paperModel && data.paper?.models[data.paperModel]?.[data.dataset]
      ? R1_THRESHOLDS.map((t) => ({
          x: Number(t),
          y: data.paper!.models[data.paperModel!][data.dataset].r1[t],
          label: `${data.paperModel} published R1@${t}`,
        }))
      : [];
  const curve = r1Curve(
    data.items.map((i) => i.iou),
    CURVE_THRESHOLDS,
  );
  const body =
    `<header>
<h1>${escapeHtml(title)}</h1>
<div class="muted">${escapeHtml(
      [data.model ? `model ${data.model}` : "", data.predictionsFile ? `predictions ${data.predictionsFile}` : ""]
        .filter(Boolean)
        .join(" · "),
    )}</div>
<div class="muted">${escapeHtml(counts.join(" · "))}</div>
</header>
<section aria-label="metrics"><h2>Metrics</h2>${metricsTable(data, metrics)}</section>
<section aria-label="charts"><h2>IoU distribution</h2>
<div class="cards"><figure>${histogramSvg(iouHistogram(metrics.ious))}` +
    `<figcaption class="muted">Queries per IoU bin (0.1 wide).</figcaption></figure>
<figure>${curveSvg(CURVE_THRESHOLDS, curve, markers)}<figcaption class="muted">R1 at every IoU threshold` +
    `${markers.length ? "; circles: published R1@0.3/0.5/0.7" : ""}.</figcaption></figure></div>
</section>
<section aria-label="by duration"><h2>By video duration</h2>` +
    `${bucketTable(byDuration(data.items, options.durationEdges))}</section>
<section aria-label="worst"><h2>The ${worst.length} worst queries</h2>` +
    `<div class="cards">${worst
      .map((it, i) => exampleCard(it, i, "worst", thumbnails.get(it.key) ?? [], options.thumbnailHeight))
      .join("\n")}</div></section>
<section aria-label="best"><h2>The ${best.length} best queries</h2>` +
    `<div class="cards">${best
      .map((it, i) => exampleCard(it, i, "best", thumbnails.get(it.key) ?? [], options.thumbnailHeight))
      .join("\n")}</div></section>
<footer class="muted"><p>Made by timelens-native on ${escapeHtml(options.generatedAt ?? new Date().toISOString())}. ` +
    `Legend: <span class="swatch" style="background:${css(spanColor(0))}"></span>predicted, ` +
    `<span class="swatch" style="background:rgb(90, 90, 90)"></span>ground truth.</p></footer>`;
  return page(title, body);
}

/** Frames the profile's sampler would give the model for a video (for example thumbnails). */
async function plannedFrames(path: string, profile: ProfileId, options: EvalReportOptions): Promise<FrameSummary> {
  const probed = await probeVideo(path, { ffprobePath: options.ffprobePath, signal: options.signal });
  const plan = planFrames(probed, { profile: getProfile(profile) });
  return {
    count: plan.indices.length,
    width: plan.width,
    height: plan.height,
    pairs: plan.pairs.length,
    tokensPerPair: plan.tokensPerPair,
    indices: plan.indices,
    times: plan.frameTimes,
    labels: plan.pairs.map((p) => p.label),
  };
}

/**
 * The eval report page. Thumbnails of the worst and best queries are decoded from their videos
 * with the profile's frame plan (the frames the model saw); an example whose video is missing
 * or unreadable is shown with its bars only. Errors: ERR_INVALID_ARGUMENT when nothing was scored; ERR_ABORTED.
 */
export async function renderEvalReport(data: EvalReportData, options: EvalReportOptions = {}): Promise<string> {
  const thumbs = new Map<string, readonly Thumbnail[]>(options.thumbnails ?? []);
  if (!options.thumbnails) {
    const { worst, best } = worstAndBest(data.items, options.examples ?? 10);
    const todo = [...worst, ...best].filter((it) => it.videoPath);
    const profile = data.profile ?? "timelens-8b";
    let done = 0;
    for (const it of todo) {
      try {
        const frames = await plannedFrames(it.videoPath!, profile, options);
        const pairs = selectPairs(
          pairTimesOf(frames, profile),
          [it.prediction, it.gt],
          options.exampleThumbnails ?? 16,
        );
        thumbs.set(
          it.key,
          await extractThumbnails(it.videoPath!, frames, profile, pairs, {
            height: options.thumbnailHeight ?? 48,
            signal: options.signal,
            ffmpegPath: options.ffmpegPath,
            ffprobePath: options.ffprobePath,
          }),
        );
      } catch (e) {
        if ((e as TimelensError).code === "ERR_ABORTED" || (e as TimelensError).code === "ERR_FFMPEG_NOT_FOUND")
          throw e;
        thumbs.set(it.key, []);
      }
      options.onProgress?.(++done, todo.length);
    }
  }
  return buildEvalReportHtml(data, thumbs, options);
}
