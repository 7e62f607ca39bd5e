/**
 * renderTimelinePng: the timeline of a report as a PNG, for apps that show it without a
 * browser. sharp renders the lanes, span bars and axis from an SVG and composites the
 * thumbnails over it (docs/report.md "PNG").
 */
import sharp, { type OverlayOptions } from "sharp";
import { TimelensError } from "../errors";
import type { GroundingResult } from "../types";
import { axisTicks, formatClock, spanBox, thumbnailCells, timeToX } from "./layout";
import { escapeHtml, n3 } from "./html";
import { BACKGROUND, INK, LANE_COLOR, MUTED, hex, spanColor } from "./palette";
import { checkSameTimeline, reportThumbnails, type ReportOptions } from "./grounding";

export interface TimelinePngOptions extends Omit<ReportOptions, "title" | "model" | "note" | "generatedAt"> {
  /** Image width in pixels (default 1200). */
  width?: number;
}

export interface TimelinePngLayout {
  width: number;
  height: number;
  /** The horizontal extent time maps onto: x(t) = track.left + t / duration * track.width. */
  track: { left: number; width: number };
  strip: { top: number; height: number };
  axis: { top: number };
  /** One per result: its label line and its lane. */
  rows: Array<{ labelTop: number; top: number; height: number }>;
}

const PAD = 12;
const LANE = 24;
const LABEL = 18;
const AXIS = 22;

/** Where everything goes in the PNG (pure). */
export function timelinePngLayout(rows: number, thumbnailHeight: number, width = 1200): TimelinePngLayout {
  if (!(Number.isInteger(width) && width >= 200 && width <= 16384))
    throw new TimelensError("ERR_INVALID_ARGUMENT", `PNG width must be an integer 200..16384, got ${width}`);
  const strip = { top: PAD, height: thumbnailHeight };
  const axis = { top: strip.top + strip.height + (thumbnailHeight > 0 ? 4 : 0) };
  let y = axis.top + AXIS;
  const out: TimelinePngLayout["rows"] = [];
  for (let i = 0; i < rows; i++) {
    out.push({ labelTop: y, top: y + LABEL, height: LANE });
    y += LABEL + LANE + 6;
  }
  return { width, height: y + PAD - 6, track: { left: PAD, width: width - 2 * PAD }, strip, axis, rows: out };
}

/**
 * The timeline of grounding results (one lane per result, thumbnails from `video` or
 * `thumbnails`) as a PNG Buffer. Errors as renderReport's.
 */
export async function renderTimelinePng(
  results: GroundingResult | readonly GroundingResult[],
  options: TimelinePngOptions = {},
): Promise<Buffer> {
  const list: readonly GroundingResult[] = Array.isArray(results) ? results : [results as GroundingResult];
  checkSameTimeline(list);
  const thumbs = await reportThumbnails(list, options);
  const duration = list[0].video.duration;
  const thumbH = thumbs.length > 0 ? (options.thumbnailHeight ?? thumbs[0].height) : 0;
  const L = timelinePngLayout(list.length, thumbH, options.width ?? 1200);
  const X = (t: number) => L.track.left + timeToX(t, duration, L.track.width);

  const svg: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" shape-rendering="crispEdges">`,
  ];
  svg.push(`<rect x="0" y="0" width="${L.width}" height="${L.height}" fill="${hex(BACKGROUND)}"/>`);
  svg.push(`<rect x="${L.track.left}" y="${L.axis.top}" width="${L.track.width}" height="1" fill="${hex(MUTED)}"/>`);
  for (const t of axisTicks(duration, Math.max(4, Math.floor(L.track.width / 90)))) {
    const x = Math.round(X(t));
    svg.push(`<rect x="${x}" y="${L.axis.top}" width="1" height="5" fill="${hex(MUTED)}"/>`);
    svg.push(
      `<text x="${x}" y="${L.axis.top + 17}" font-size="11" font-family="sans-serif" ` +
        `text-anchor="middle" fill="${hex(MUTED)}">${escapeHtml(formatClock(t))}</text>`,
    );
  }
  list.forEach((r, i) => {
    const row = L.rows[i];
    svg.push(
      `<text x="${L.track.left}" y="${row.labelTop + 13}" font-size="12" ` +
        `font-family="sans-serif" fill="${hex(INK)}">${escapeHtml(`Q${i + 1} ${r.query}`.slice(0, 200))}</text>`,
    );
    svg.push(
      `<rect x="${L.track.left}" y="${row.top}" width="${L.track.width}" ` +
        `height="${row.height}" fill="${hex(LANE_COLOR)}"/>`,
    );
    for (const s of r.spans) {
      const box = spanBox(s, duration, L.track.width, 2);
      if (!box) continue;
      svg.push(
        `<rect x="${n3(L.track.left + box.left)}" y="${row.top}" width="${n3(box.width)}" ` +
          `height="${row.height}" fill="${hex(spanColor(i))}"/>`,
      );
    }
  });
  svg.push("</svg>");

  const overlays: OverlayOptions[] = [];
  if (thumbs.length > 0) {
    const thumbW = (thumbH * thumbs[0].width) / thumbs[0].height;
    const cells = thumbnailCells(
      thumbs.map((t) => X(t.time)),
      L.track.left + L.track.width,
      thumbW,
    );
    for (let i = 0; i < thumbs.length; i++) {
      const left = Math.max(0, Math.round(cells[i].left));
      const w = Math.min(L.width - left, Math.floor(cells[i].width));
      if (w < 1) continue;
      const input = await sharp(thumbs[i].jpeg)
        .resize({ width: w, height: thumbH, fit: "contain", background: { r: 0, g: 0, b: 0 } })
        .toBuffer();
      overlays.push({ input, left, top: L.strip.top });
    }
  }
  return sharp(Buffer.from(svg.join("")), { density: 72 })
    .composite(overlays)
    .png()
    .toBuffer();
}
