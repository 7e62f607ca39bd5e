/**
 * The timeline block of a report: thumbnails at their pairs' times, a time axis, and one lane
 * per row with its bars, all in percent of one track so they line up at any page width.
 */
import { axisTicks, formatClock, thumbnailCells, timeToX } from "./layout";
import { escapeAttr, escapeHtml, jpegDataUri, lane, n3, type LaneBar } from "./html";
import type { Thumbnail } from "./thumbnails";

export interface TimelineRow {
  /** HTML of the row's heading (already escaped). */
  head: string;
  bars: LaneBar[];
}

export interface TimelineBlockOptions {
  duration: number;
  thumbnails: readonly Thumbnail[];
  rows: readonly TimelineRow[];
  /** Thumbnail height in CSS pixels (default: the thumbnails' own). */
  thumbnailHeight?: number;
  /** Smallest track width in CSS pixels (default 960); grows to fit the thumbnails. */
  minWidth?: number;
  /** Show each pair's label under its thumbnail (default true). */
  captions?: boolean;
  small?: boolean;
}

/** The track's CSS width: room for every thumbnail at full size, at least minWidth. */
export function trackWidth(count: number, thumbWidth: number, minWidth: number): number {
  return Math.max(minWidth, Math.ceil(count * (thumbWidth + 4)));
}

export function timelineBlock(o: TimelineBlockOptions): string {
  const thumbs = o.thumbnails;
  const h = o.thumbnailHeight ?? thumbs[0]?.height ?? 0;
  const thumbW = thumbs.length > 0 ? (h * thumbs[0].width) / thumbs[0].height : 0;
  const width = trackWidth(thumbs.length, thumbW, o.minWidth ?? 960);
  const captions = o.captions ?? true;
  const cells = thumbnailCells(
    thumbs.map((t) => timeToX(t.time, o.duration, 100)),
    100,
    (100 * thumbW) / width,
  );
  const figures = thumbs
    .map((t, i) => {
      const c = cells[i];
      const caption = captions ? `<figcaption>${escapeHtml(t.label)}</figcaption>` : "";
      return (
        `<figure class="thumb" style="left:${n3(c.left)}%;width:${n3(c.width)}%" ` +
        `title="${escapeAttr(`${t.label} (frame ${t.frameIndex})`)}">` +
        `<img src="${jpegDataUri(t.jpeg)}" alt="${escapeAttr(t.label)}" style="height:${n3(h)}px">${caption}</figure>`
      );
    })
    .join("");
  const stripHeight = thumbs.length > 0 ? h + (captions ? 15 : 0) : 0;
  const strip = thumbs.length > 0 ? `<div class="strip" style="height:${n3(stripHeight)}px">${figures}</div>` : "";
  const ticks = axisTicks(o.duration, Math.max(4, Math.min(16, Math.floor(width / 90))))
    .map(
      (t) =>
        `<div class="tick" style="left:${n3(timeToX(t, o.duration, 100))}%">` +
        `<span>${escapeHtml(formatClock(t))}</span></div>`,
    )
    .join("");
  const axis = o.small ? "" : `<div class="axis">${ticks}</div>`;
  const rows = o.rows
    .map(
      (r, i) =>
        `${r.head ? `<div class="row-head">${r.head}</div>` : ""}` +
        `${lane(r.bars, o.duration, { "data-row": i, "data-duration": n3(o.duration) }, o.small)}`,
    )
    .join("");
  return (
    `<div class="scroll"><div class="track" style="min-width:${width}px" data-duration="${n3(o.duration)}">` +
    `${strip}${axis}${rows}</div></div>`
  );
}
