/**
 * The report's colours, one place for all of them: HTML, SVG and PNG draw with these, and the
 * browser and PNG tests look for them in the pixels. Span colours are opaque so a screenshot
 * shows them exactly.
 */
export type Rgb = readonly [number, number, number];

/** Predicted span colour per query row (cycled). */
export const SPAN_COLORS: readonly Rgb[] = [
  [214, 39, 40],
  [31, 119, 180],
  [44, 160, 44],
  [148, 103, 189],
  [255, 127, 14],
  [23, 190, 207],
];

/** Ground-truth bar colour in the eval report. */
export const GT_COLOR: Rgb = [90, 90, 90];
/** Background of the page, of empty lanes, of the PNG. */
export const BACKGROUND: Rgb = [255, 255, 255];
export const LANE_COLOR: Rgb = [238, 240, 243];
export const INK: Rgb = [33, 37, 41];
export const MUTED: Rgb = [108, 117, 125];

export function spanColor(row: number): Rgb {
  return SPAN_COLORS[((row % SPAN_COLORS.length) + SPAN_COLORS.length) % SPAN_COLORS.length];
}

export function css(c: Rgb): string {
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

export function hex(c: Rgb): string {
  return `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}
