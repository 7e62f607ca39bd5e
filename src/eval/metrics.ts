/**
 * TimeLens-Bench scoring (docs/reference.md "Answers, metrics and the benchmark"): the first
 * extracted pair (or [duration+10, duration+20] when there is none), rounded to whole seconds
 * half-to-even, IoU against the ground truth, R1@{0.3,0.5,0.7} (IoU >= m) and mIoU, as percentages.
 */
import { TimelensError } from "../errors";
import { pyFixed, pyRound } from "../util/pyformat";

export type Span = readonly [number, number];

/**
 * Temporal IoU exactly as the reference computes it:
 * max(min(a1, b1) - max(a0, b0), 0) / (max(a1, b1) - min(a0, b0)).
 * Not symmetric in meaning for reversed spans: a reversed prediction scores 0 (its
 * "intersection" is negative), as in the reference; nothing is reordered.
 *
 * A zero union (both spans empty at the same point, e.g. prediction [5, 5] against ground truth
 * [5, 5]) is a ZeroDivisionError in the reference, which stops its whole evaluation. We throw a
 * TimelensError (ERR_INVALID_ARGUMENT) instead of returning NaN. With a well-formed ground truth
 * (start <= end) the union is zero only when the ground truth is itself empty.
 * Infinite ends (a 400-digit number in an answer) give IoU 0; the reference would stop in round().
 */
export function iou(a: Span, b: Span): number {
  const max0 = Math.max(a[0], b[0]);
  const min0 = Math.min(a[0], b[0]);
  const max1 = Math.max(a[1], b[1]);
  const min1 = Math.min(a[1], b[1]);
  const union = max1 - min0;
  const v = Math.max(min1 - max0, 0) / union;
  if (union === 0 || Number.isNaN(v)) {
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `IoU of [${a[0]}, ${a[1]}] and [${b[0]}, ${b[1]}] is undefined: ${
        union === 0
          ? "both spans are empty at the same point (the reference divides by zero here)"
          : "a span end is NaN or infinite on both sides"
      }.`,
      { a: [a[0], a[1]], b: [b[0], b[1]] },
    );
  }
  return v;
}

/** The reference's rounding: round(x / unit) * unit, Python round (half to even). */
export function roundToUnit(x: number, unit = 1.0): number {
  return pyRound(x / unit) * unit;
}

/**
 * What the reference writes as `timestamps`: every extracted pair rounded to the unit, or
 * [[duration + 10, duration + 20]] (rounded too) when nothing was extracted.
 */
export function referenceTimestamps(
  spans: readonly Span[] | null | undefined,
  duration: number,
  unit = 1.0,
): Array<[number, number]> {
  const source: readonly Span[] = spans && spans.length > 0 ? spans : [[duration + 10, duration + 20]];
  return source.map(([s, e]) => [roundToUnit(s, unit), roundToUnit(e, unit)]);
}

/** The span the reference scores: the first pair, or the fallback, rounded. */
export function predictionForScoring(
  spans: readonly Span[] | null | undefined,
  duration: number,
  unit = 1.0,
): [number, number] {
  const first: Span = spans && spans.length > 0 ? spans[0] : [duration + 10, duration + 20];
  return [roundToUnit(first[0], unit), roundToUnit(first[1], unit)];
}

export const R1_THRESHOLDS = ["0.3", "0.5", "0.7"] as const;
export type R1Threshold = (typeof R1_THRESHOLDS)[number];

export interface MetricsItem {
  /** Extracted pairs (raw, as extractTime returns them); null or [] when the answer had none. */
  prediction: readonly Span[] | null;
  gt: Span;
  duration: number;
}

export interface Metrics {
  count: number;
  /** Percent of items with IoU >= m. */
  r1: Record<R1Threshold, number>;
  /** Mean IoU x 100. */
  miou: number;
  /** Per-item IoU (0..1), in input order. */
  ious: number[];
}

export function computeMetrics(items: readonly MetricsItem[]): Metrics {
  if (items.length === 0) {
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      "computeMetrics needs at least one item (R1 and mIoU of nothing are undefined).",
    );
  }
  const ious = items.map((it) => iou(predictionForScoring(it.prediction, it.duration), it.gt));
  const r1 = {} as Record<R1Threshold, number>;
  for (const m of R1_THRESHOLDS) {
    const threshold = Number(m);
    r1[m] = (100 * ious.filter((v) => v >= threshold).length) / ious.length;
  }
  const miou = (100 * ious.reduce((s, v) => s + v, 0)) / ious.length;
  return { count: items.length, r1, miou, ious };
}

/** A plain-text table: one row per named result, R1@0.3/0.5/0.7 and mIoU, `digits` decimals. */
export function formatMetricsTable(
  rows: ReadonlyArray<{ name: string; metrics: Metrics }> | Metrics,
  options: { digits?: number } = {},
): string {
  const digits = options.digits ?? 1;
  const list = Array.isArray(rows)
    ? (rows as ReadonlyArray<{ name: string; metrics: Metrics }>)
    : [{ name: "all", metrics: rows as Metrics }];
  const header = ["", "count", "R1@0.3", "R1@0.5", "R1@0.7", "mIoU"];
  const body = list.map(({ name, metrics }) => [
    name,
    String(metrics.count),
    ...R1_THRESHOLDS.map((m) => pyFixed(metrics.r1[m], digits)),
    pyFixed(metrics.miou, digits),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}
