/**
 * HTML building blocks shared by the grounding and eval reports: escaping (every piece of text
 * from a model, a query or a file goes through escapeHtml / escapeAttr), the page shell with
 * its inline stylesheet, and the timeline lane. No script, no external resource: the page is
 * one file that opens offline and prints (docs/report.md "The HTML file").
 */
import { BACKGROUND, GT_COLOR, INK, LANE_COLOR, MUTED, css, type Rgb } from "./palette";
import { spanBox, type TimeSpan } from "./layout";

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text for element content or a quoted attribute value. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Same as escapeHtml; named for the attribute case so call sites say what they mean. */
export const escapeAttr = escapeHtml;

/** A number for CSS or SVG with at most 3 decimals (no exponent, no "-0"). */
export function n3(v: number): string {
  const r = Math.round(v * 1000) / 1000;
  return Object.is(r, -0) ? "0" : String(r);
}

/** Seconds as a span end is printed: one decimal. */
export function sec(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(1);
}

const STYLE =
  `
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;padding:24px;` +
  `font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;` +
  `color:${css(INK)};background:${css(BACKGROUND)}}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px}
h3{font-size:15px;margin:16px 0 6px}
.muted{color:${css(MUTED)}}
.note{background:#fff8e1;border:1px solid #f0d98a;padding:6px 10px;border-radius:4px}
.scroll{overflow-x:auto;padding:0 18px 6px}
.track{position:relative;width:100%}
.strip{position:relative;background:#f6f7f9}
.thumb{position:absolute;top:0;margin:0;overflow:hidden}
.thumb img{display:block;width:100%;object-fit:contain;background:#000}
.thumb figcaption{font:10px/1.3 ui-monospace,"DejaVu Sans Mono",monospace;` +
  `white-space:nowrap;overflow:hidden;text-overflow:clip;text-align:center;color:${css(MUTED)}}
.axis{position:relative;height:22px;border-top:1px solid #c8ccd0}
.tick{position:absolute;top:0;height:5px;border-left:1px solid #9aa0a6}
.tick span{position:absolute;top:5px;transform:translateX(-50%);font-size:11px;color:${css(MUTED)};white-space:nowrap}
.row-head{margin:8px 0 2px;font-size:13px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
.lane{position:relative;height:22px;background:${css(LANE_COLOR)};border-radius:3px}
.lane.small{height:12px}
.bar{position:absolute;top:0;bottom:0}
.bar.gt{background:${css(GT_COLOR)}}
pre.answer{white-space:pre-wrap;word-break:break-word;background:#f6f7f9;padding:8px 10px;` +
  `border-radius:4px;margin:4px 0;font:13px/1.4 ui-monospace,"DejaVu Sans Mono",monospace}
table{border-collapse:collapse;margin:6px 0}
th,td{padding:3px 10px;border-bottom:1px solid #e3e5e8;text-align:right}
th:first-child,td:first-child{text-align:left}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
dl.facts dt{color:${css(MUTED)}}
dl.facts dd{margin:0}
ol.labels{columns:4 12em;font:12px/1.5 ui-monospace,"DejaVu Sans Mono",monospace;padding-left:3.5em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
.card{border:1px solid #e3e5e8;border-radius:6px;padding:10px 12px;break-inside:avoid}
svg text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:${css(MUTED)}}
@media print{body{padding:0}.scroll{overflow:visible}.track{min-width:0!important}.cards{grid-template-columns:1fr}}
`;

/** A whole page: doctype, charset, title, the stylesheet and the body. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="timelens-native">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

export interface LaneBar {
  span: TimeSpan;
  color?: Rgb;
  /** "gt" draws the ground-truth colour. */
  kind?: "pred" | "gt";
  title?: string;
}

/**
 * A lane the width of the timeline with bars at their spans' positions (percent of the lane,
 * from spanBox over a 100-wide timeline). data-* attributes carry the span for tooling.
 */
export function lane(
  bars: readonly LaneBar[],
  duration: number,
  attrs: Record<string, string | number> = {},
  small = false,
): string {
  const extra = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeAttr(v)}"`)
    .join("");
  const inner = bars
    .map((b) => {
      const box = spanBox(b.span, duration, 100, 0.25);
      if (!box) return "";
      const style =
        `left:${n3(box.left)}%;width:${n3(box.width)}%` +
        `${b.kind === "gt" ? "" : `;background:${css(b.color ?? INK)}`}`;
      const title = b.title ? ` title="${escapeAttr(b.title)}"` : "";
      return (
        `<div class="bar${b.kind === "gt" ? " gt" : ""}" data-start="${n3(b.span[0])}" ` +
        `data-end="${n3(b.span[1])}" style="${style}"${title}></div>`
      );
    })
    .join("");
  return `<div class="lane${small ? " small" : ""}"${extra}>${inner}</div>`;
}

/** A data: URI of a JPEG. */
export function jpegDataUri(jpeg: Buffer): string {
  return `data:image/jpeg;base64,${jpeg.toString("base64")}`;
}
