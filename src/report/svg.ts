/** Inline SVG charts for the eval report: the IoU histogram and the R1-vs-threshold curve (pure). */
import { escapeHtml, n3 } from "./html";
import { INK, MUTED, css, spanColor, type Rgb } from "./palette";

const W = 420;
const H = 220;
const M = { left: 40, right: 12, top: 12, bottom: 34 };

function frame(inner: string, label: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" ` +
    `aria-label="${escapeHtml(label)}">${inner}</svg>`
  );
}

function axes(xLabel: string, yLabel: string, yMax: number, yTicks: number[]): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const y = (v: number) => M.top + ph - (v / yMax) * ph;
  const grid = yTicks
    .map(
      (v) =>
        `<line x1="${M.left}" x2="${M.left + pw}" y1="${n3(y(v))}" y2="${n3(y(v))}" stroke="#e3e5e8"/>` +
        `<text x="${M.left - 4}" y="${n3(y(v) + 4)}" text-anchor="end">${escapeHtml(String(v))}</text>`,
    )
    .join("");
  return (
    `${grid}<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="${css(MUTED)}"/>` +
    `<text x="${M.left + pw / 2}" y="${H - 4}" text-anchor="middle">${escapeHtml(xLabel)}</text>` +
    `<text x="10" y="${M.top + ph / 2}" text-anchor="middle" ` +
    `transform="rotate(-90 10 ${M.top + ph / 2})">${escapeHtml(yLabel)}</text>`
  );
}

function niceMax(v: number): number {
  if (v <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Bars of counts over [0, 1] in equal bins, x ticks every 0.1 (counts from iouHistogram). */
export function histogramSvg(counts: readonly number[], color: Rgb = spanColor(1)): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const max = niceMax(Math.max(0, ...counts));
  const bw = pw / counts.length;
  const bars = counts
    .map((c, i) => {
      const h = (c / max) * ph;
      return (
        `<rect x="${n3(M.left + i * bw + 1)}" y="${n3(M.top + ph - h)}" width="${n3(bw - 2)}" ` +
        `height="${n3(h)}" fill="${css(color)}">` +
        `<title>IoU ${(i / counts.length).toFixed(1)}-${((i + 1) / counts.length).toFixed(1)}: ${c}</title></rect>`
      );
    })
    .join("");
  const xt = counts
    .map((_, i) => i)
    .concat(counts.length)
    .filter((i) => i % Math.max(1, Math.round(counts.length / 10)) === 0)
    .map(
      (i) =>
        `<text x="${n3(M.left + i * bw)}" y="${M.top + ph + 14}" text-anchor="middle">` +
        `${(i / counts.length).toFixed(1)}</text>`,
    )
    .join("");
  return frame(axes("IoU", "queries", max, [0, max / 2, max]) + bars + xt, "IoU histogram");
}

export interface CurvePoint {
  x: number;
  y: number;
  label: string;
}

/** The R1 curve (percent vs IoU threshold 0..1) with optional published points as markers. */
export function curveSvg(
  thresholds: readonly number[],
  values: readonly number[],
  markers: readonly CurvePoint[] = [],
  color: Rgb = spanColor(0),
): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (t: number) => M.left + t * pw;
  const y = (v: number) => M.top + ph - (v / 100) * ph;
  const path = thresholds.map((t, i) => `${i === 0 ? "M" : "L"}${n3(x(t))},${n3(y(values[i]))}`).join("");
  const dots = markers
    .map(
      (m) =>
        `<circle cx="${n3(x(m.x))}" cy="${n3(y(m.y))}" r="4" fill="none" stroke="${css(INK)}" stroke-width="1.5">` +
        `<title>${escapeHtml(m.label)}</title></circle>`,
    )
    .join("");
  const xt = [0, 0.2, 0.4, 0.6, 0.8, 1]
    .map((t) => `<text x="${n3(x(t))}" y="${M.top + ph + 14}" text-anchor="middle">${t.toFixed(1)}</text>`)
    .join("");
  return frame(
    axes("IoU threshold", "R1 (%)", 100, [0, 25, 50, 75, 100]) +
      `<path d="${path}" fill="none" stroke="${css(color)}" stroke-width="2"/>` +
      dots +
      xt,
    "R1 against IoU threshold",
  );
}
