/**
 * renderReport: one self-contained HTML page for one or more grounding results on the same
 * video: the timeline of the frames the model saw (with their prompt labels), each query's
 * span(s) in its own row, the raw answers, timings, devices, model, profile and frame plan.
 */
import { basename } from "node:path";
import { TimelensError } from "../errors";
import type { GroundingResult } from "../types";
import { formatClock, MAX_THUMBNAILS, selectPairs, type TimeSpan } from "./layout";
import { escapeHtml, page, sec } from "./html";
import { css, spanColor } from "./palette";
import { checkFrameSummary, extractThumbnails, pairTimesOf, type Thumbnail } from "./thumbnails";
import { timelineBlock } from "./timeline";

export interface ReportModelInfo {
  /** Display name, e.g. the GGUF's general.name. */
  name?: string;
  /** The model file or URI (hf:...). */
  path?: string;
  mmproj?: string;
}

export interface ReportOptions {
  /** The video the results came from: thumbnails are decoded from it. Without it the timeline has no pictures. */
  video?: string | Uint8Array;
  /** Thumbnails made earlier (extractThumbnails); used instead of decoding `video`. */
  thumbnails?: readonly Thumbnail[];
  /** At most this many thumbnails on the timeline (default 100; span pairs always kept). */
  maxThumbnails?: number;
  /** Thumbnail height in pixels (default 90). */
  thumbnailHeight?: number;
  /** Page title (default: "timelens report: <video name>"). */
  title?: string;
  /** What model produced the results (results do not record it). */
  model?: string | ReportModelInfo;
  /** A line shown at the top in a warning box, e.g. that the weights are random. */
  note?: string;
  /** Shown in the footer (default: now, ISO 8601). */
  generatedAt?: string;
  signal?: AbortSignal;
  ffmpegPath?: string;
  ffprobePath?: string;
  /** Thumbnail progress. */
  onProgress?: (done: number, total: number) => void;
}

/** Every result must describe the same frame plan: the rows share one timeline. */
export function checkSameTimeline(results: readonly GroundingResult[]): void {
  if (results.length === 0)
    throw new TimelensError("ERR_INVALID_ARGUMENT", "A report needs at least one grounding result");
  results.forEach((r, i) => {
    if (!r || typeof r !== "object" || typeof r.query !== "string" || !r.video || !(r.video.duration > 0)) {
      throw new TimelensError(
        "ERR_INVALID_ARGUMENT",
        `Result ${i} is not a grounding result (needs query, video.duration, frames)`,
        { index: i },
      );
    }
    checkFrameSummary(r.frames, `result ${i} frames`);
    if (!Array.isArray(r.spans))
      throw new TimelensError("ERR_INVALID_ARGUMENT", `Result ${i} has no spans list`, { index: i });
  });
  const first = results[0];
  const key = (r: GroundingResult) =>
    JSON.stringify([r.video.duration, r.frames.indices, r.frames.labels, r.frames.width, r.frames.height]);
  const k0 = key(first);
  results.forEach((r, i) => {
    if (key(r) !== k0)
      throw new TimelensError(
        "ERR_INVALID_ARGUMENT",
        `Result ${i} ("${r.query}") was made with a different frame plan than result 0; ` +
          `a report shows results of one video and plan`,
        { index: i },
      );
  });
}

/** Every span of every result (for keeping their pairs among the thumbnails). */
export function spansOf(results: readonly GroundingResult[]): TimeSpan[] {
  return results.flatMap((r) => r.spans.map((s) => [s[0], s[1]] as const));
}

/** The thumbnails a report shows: the selected pairs, decoded from the video. */
export async function reportThumbnails(
  results: readonly GroundingResult[],
  options: ReportOptions,
): Promise<Thumbnail[]> {
  if (options.thumbnails) return [...options.thumbnails];
  if (options.video === undefined) return [];
  const r = results[0];
  const pairs = selectPairs(
    pairTimesOf(r.frames, r.profile),
    spansOf(results),
    options.maxThumbnails ?? MAX_THUMBNAILS,
  );
  return extractThumbnails(options.video, r.frames, r.profile, pairs, {
    height: options.thumbnailHeight,
    signal: options.signal,
    ffmpegPath: options.ffmpegPath,
    ffprobePath: options.ffprobePath,
    onProgress: options.onProgress,
  });
}

function ms(v: number): string {
  return v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

function modelLine(model: ReportOptions["model"]): string {
  if (model === undefined) return "";
  const m = typeof model === "string" ? { path: model } : model;
  const parts = [
    m.name,
    m.path && m.path !== m.name ? m.path : undefined,
    m.mmproj ? `mmproj ${m.mmproj}` : undefined,
  ].filter(Boolean);
  return parts.join(" · ");
}

function spanText(r: GroundingResult): string {
  if (!r.parsed || r.spans.length === 0) return "no time found in the answer";
  return r.spans.map((s) => `${sec(s[0])} – ${sec(s[1])} s`).join(", ");
}

function answerSection(r: GroundingResult, i: number): string {
  const t = r.timings;
  const color = css(spanColor(i));
  const timings = `<table><thead><tr><th>stage</th><th>time</th></tr></thead><tbody>
<tr><td>probe</td><td>${ms(t.probeMs)}</td></tr>
<tr><td>decode</td><td>${ms(t.decodeMs)}</td></tr>
<tr><td>encode (vision)</td><td>${ms(t.encodeMs)}</td></tr>
<tr><td>prefill</td><td>${ms(t.prefillMs)}</td></tr>
<tr><td>generate</td><td>${ms(t.generateMs)} (${escapeHtml(t.tokensPerSecond.toFixed(1))} tok/s)</td></tr>
<tr><td>total</td><td>${ms(t.totalMs)}</td></tr>
</tbody></table>`;
  return (
    `<section class="card" data-query="${i}">
<h3><span class="swatch" style="background:${color}"></span>Query ${i + 1}</h3>
<p class="query">${escapeHtml(r.query)}</p>
<dl class="facts">
<dt>span${r.spans.length > 1 ? "s" : ""}</dt><dd>${escapeHtml(spanText(r))}</dd>
<dt>stopped</dt><dd>${escapeHtml(r.stopReason)}, ${r.usage.generatedTokens} tokens</dd>
<dt>ran on</dt><dd>vision encoder ${escapeHtml(t.devices.encode)}, text model ${escapeHtml(t.devices.llm)}</dd>
<dt>video prefix</dt><dd>${escapeHtml(
      t.prefixSource === "built"
        ? "computed for this query"
        : t.prefixSource === "live"
          ? "reused from the open session"
          : "loaded from the disk cache",
    )}</dd>
<dt>prompt</dt><dd>${r.usage.promptTokens} tokens (${r.usage.imageTokens} video) ` +
    `of a ${r.usage.contextSize}-token context</dd>
</dl>
<div class="muted">raw answer</div>
<pre class="answer">${escapeHtml(r.text)}</pre>
${timings}
</section>`
  );
}

/** The page for results and their thumbnails (pure: no I/O). */
export function buildReportHtml(
  results: readonly GroundingResult[],
  thumbnails: readonly Thumbnail[],
  options: Omit<ReportOptions, "thumbnails" | "signal" | "onProgress"> = {},
): string {
  checkSameTimeline(results);
  const r0 = results[0];
  const f = r0.frames;
  const duration = r0.video.duration;
  const videoName = typeof options.video === "string" ? basename(options.video) : "video";
  const title = options.title ?? `timelens report: ${videoName}`;
  const rows = results.map((r, i) => ({
    head:
      `<span class="swatch" style="background:${css(spanColor(i))}"></span>` +
      `<b>Q${i + 1}</b> ${escapeHtml(r.query)} ` +
      `<span class="muted">· ${escapeHtml(spanText(r))}</span>`,
    bars: r.spans.map((s) => ({
      span: [s[0], s[1]] as const,
      color: spanColor(i),
      title: `${r.query}: ${sec(s[0])}-${sec(s[1])} s`,
    })),
  }));
  const model = modelLine(options.model);
  const v = r0.video;
  const head = `<header>
<h1>${escapeHtml(title)}</h1>
<div class="muted">${escapeHtml(
    `${formatClock(duration)} (${duration.toFixed(2)} s) · ` +
      `${v.width}x${v.height} · ${v.fps.toFixed(3)} fps · ${v.totalFrames} frames`,
  )}</div>
<div class="muted">${escapeHtml(
    [model ? `model ${model}` : "", `profile ${r0.profile}`].filter(Boolean).join(" · "),
  )}</div>
${options.note ? `<p class="note">${escapeHtml(options.note)}</p>` : ""}
</header>`;
  const shown = thumbnails.length;
  const timeline = `<section aria-label="timeline">
<h2>Timeline</h2>
<div class="muted">${
    shown > 0
      ? `${shown} of ${f.pairs} frame pairs shown ` +
        `(the first frame of each, as the model saw it: ${f.width}x${f.height}), ` +
        `each at its label's time`
      : `${f.pairs} frame pairs (no thumbnails: no video given)`
  }</div>
${timelineBlock({ duration, thumbnails, rows, thumbnailHeight: options.thumbnailHeight })}
</section>`;
  const answers =
    `<section aria-label="answers"><h2>Answers</h2>` +
    `<div class="cards">${results.map(answerSection).join("\n")}</div></section>`;
  const plan =
    `<section aria-label="frame plan">
<h2>Frame plan</h2>
<dl class="facts">
<dt>frames</dt><dd>${f.count} sampled ` +
    `(frame ${f.indices[0]} to ${f.indices[f.indices.length - 1]}), ${f.pairs} pairs</dd>
<dt>frame size</dt><dd>${f.width}x${f.height}, ${f.tokensPerPair} tokens per pair</dd>
<dt>sampled times</dt><dd>${sec(f.times[0])} – ${sec(f.times[f.times.length - 1])} s</dd>
</dl>
<details><summary>The ${f.pairs} pair labels, as put in the prompt</summary>
<ol class="labels" start="0">${f.labels.map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ol>
</details>
</section>`;
  const foot =
    `<footer class="muted"><p>Made by timelens-native on ` +
    `${escapeHtml(options.generatedAt ?? new Date().toISOString())}. ` +
    `One file, no scripts, no network.</p></footer>`;
  return page(title, [head, timeline, answers, plan, foot].join("\n"));
}

/**
 * The HTML report of grounding results on one video (one row per result). With `video` the
 * timeline shows the frames the model saw (at most maxThumbnails, span pairs kept). Errors:
 * ERR_INVALID_ARGUMENT (no results, results of different plans, malformed results), and those
 * of decoding the video.
 */
export async function renderReport(
  results: GroundingResult | readonly GroundingResult[],
  options: ReportOptions = {},
): Promise<string> {
  const list: readonly GroundingResult[] = Array.isArray(results) ? results : [results as GroundingResult];
  checkSameTimeline(list);
  const thumbnails = await reportThumbnails(list, options);
  return buildReportHtml(list, thumbnails, options);
}
