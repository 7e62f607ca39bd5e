/**
 * The report's geometry, as pure functions: which frame pairs get a thumbnail, where a time or
 * a span lands on a timeline of a given width, how thumbnails share the strip, the axis ticks.
 * HTML (percentages) and PNG (pixels) both draw from these numbers; see docs/report.md.
 */

/** Default cap on thumbnails per timeline row (docs/report.md "Long videos"). */
export const MAX_THUMBNAILS = 100;

export type TimeSpan = readonly [number, number];

/**
 * k indices spread evenly over 0..n-1, first and last included (k >= n gives all of them).
 * Rounded positions i * (n - 1) / (k - 1); ascending and unique.
 */
export function evenlySpaced(n: number, k: number): number[] {
  if (!Number.isInteger(n) || n <= 0 || !(k >= 1)) return [];
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  if (k === 1) return [0];
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const v = Math.round((i * (n - 1)) / (k - 1));
    if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
  }
  return out;
}

/** Position of the element of ascending `times` nearest to t (the earlier one on a tie). */
export function nearestIndex(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(times[lo - 1] - t) <= Math.abs(times[lo] - t)) return lo - 1;
  return lo;
}

/**
 * Which pairs (positions in `pairTimes`, ascending) get a thumbnail, at most `max` of them:
 * every pair when they fit; otherwise the pairs a span points at first (the pair nearest each
 * span edge, then the pairs inside spans, evenly thinned to half the budget), and the rest of
 * the budget evenly over the whole video. Edge pairs are kept even past the cap when there are
 * more span edges than `max` allows.
 */
export function selectPairs(
  pairTimes: readonly number[],
  spans: readonly TimeSpan[] = [],
  max = MAX_THUMBNAILS,
): number[] {
  const n = pairTimes.length;
  const cap = Math.max(2, Math.floor(max));
  if (n <= cap) return Array.from({ length: n }, (_, i) => i);
  const finite = spans
    .filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b))
    .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
  const keep = new Set<number>();
  for (const [a, b] of finite) {
    keep.add(nearestIndex(pairTimes, a));
    keep.add(nearestIndex(pairTimes, b));
  }
  const inside: number[] = [];
  for (let i = 0; i < n; i++)
    if (!keep.has(i) && finite.some(([a, b]) => pairTimes[i] >= a && pairTimes[i] <= b)) inside.push(i);
  const insideBudget = Math.max(0, Math.floor(cap / 2) - keep.size);
  for (const j of evenlySpaced(inside.length, insideBudget)) keep.add(inside[j]);
  const rest = cap - keep.size;
  if (rest > 0) {
    // The rest of the budget evenly over the pairs not yet kept (evenly over the video).
    const others: number[] = [];
    for (let i = 0; i < n; i++) if (!keep.has(i)) others.push(i);
    for (const j of evenlySpaced(others.length, rest)) keep.add(others[j]);
  }
  return [...keep].sort((a, b) => a - b);
}

/** x of time t on a timeline `width` wide showing [0, duration], clamped to the timeline. */
export function timeToX(t: number, duration: number, width: number): number {
  if (!(duration > 0) || !Number.isFinite(t)) return 0;
  return Math.min(width, Math.max(0, (t / duration) * width));
}

/**
 * The box a span occupies on the timeline: [left, left + width), reversed spans drawn from
 * their smaller end, clamped to the timeline, at least `minWidth` wide so an instant shows.
 * Null when the span lies wholly outside [0, duration] or is not finite.
 */
export function spanBox(
  span: TimeSpan,
  duration: number,
  width: number,
  minWidth = 2,
): { left: number; width: number } | null {
  const [a, b] = span;
  if (!Number.isFinite(a) || !Number.isFinite(b) || !(duration > 0)) return null;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  if (hi < 0 || lo > duration) return null;
  let left = timeToX(lo, duration, width);
  let right = timeToX(hi, duration, width);
  if (right - left < minWidth) {
    const mid = (left + right) / 2;
    left = Math.max(0, Math.min(width - minWidth, mid - minWidth / 2));
    right = left + minWidth;
  }
  return { left, width: right - left };
}

export interface ThumbnailCell {
  /** x of the pair's time: the thumbnail is centred here. */
  center: number;
  /** The thumbnail's box: centred on `center`, no wider than maxWidth nor than its share. */
  left: number;
  width: number;
}

/**
 * Thumbnail boxes for ascending centre positions on a strip `width` wide: each thumbnail is
 * centred on its time and gets at most the room up to halfway to its neighbours (and to the
 * strip's ends), so none overlap, capped at maxWidth.
 */
export function thumbnailCells(centers: readonly number[], width: number, maxWidth: number): ThumbnailCell[] {
  return centers.map((c, i) => {
    const leftRoom = i === 0 ? c : (c - centers[i - 1]) / 2;
    const rightRoom = i === centers.length - 1 ? width - c : (centers[i + 1] - c) / 2;
    const half = Math.max(0, Math.min(maxWidth / 2, leftRoom, rightRoom));
    return { center: c, left: c - half, width: 2 * half };
  });
}

/** Axis ticks over [0, duration]: a 1/2/5 x 10^k second step giving at most `maxTicks` ticks. */
export function axisTicks(duration: number, maxTicks = 10): number[] {
  if (!(duration > 0)) return [0];
  const steps = [0.1, 0.2, 0.5];
  let step = 0.1;
  for (let scale = 1; ; scale *= 10) {
    const found = steps.map((s) => s * scale).find((s) => duration / s <= maxTicks - 1);
    if (found !== undefined) {
      step = found;
      break;
    }
  }
  const ticks: number[] = [];
  for (let k = 0; k * step <= duration + 1e-9; k++) ticks.push(Math.round(k * step * 10) / 10);
  return ticks;
}

/** Seconds as the axis writes them: "45 s", "1:30", "1:02:03". */
export function formatClock(seconds: number): string {
  if (seconds < 60) return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

// ---- Eval report statistics ----

/** Default video-duration bucket edges in seconds (docs/report.md "Eval report"). */
export const DURATION_EDGES = [0, 15, 30, 60, 120, 180, 300, 600, Infinity] as const;

/** Index of the bucket [edges[i], edges[i+1]) holding d; the last bucket is closed. -1 outside. */
export function bucketIndex(d: number, edges: readonly number[]): number {
  if (!Number.isFinite(d) && d !== Infinity) return -1;
  for (let i = 0; i + 1 < edges.length; i++) {
    const last = i + 2 === edges.length;
    if (d >= edges[i] && (d < edges[i + 1] || (last && d <= edges[i + 1]))) return i;
  }
  return -1;
}

/** "0-15 s", "600+ s". */
export function bucketLabel(edges: readonly number[], i: number): string {
  return edges[i + 1] === Infinity ? `${edges[i]}+ s` : `${edges[i]}-${edges[i + 1]} s`;
}

/** Counts of IoUs (0..1) in `bins` equal bins; 1.0 falls in the last bin. */
export function iouHistogram(ious: readonly number[], bins = 10): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const v of ious) {
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.max(0, Math.floor(v * bins)))]++;
  }
  return counts;
}

/** Percent of IoUs >= t for each threshold (the R1 metric at every threshold). */
export function r1Curve(ious: readonly number[], thresholds: readonly number[]): number[] {
  if (ious.length === 0) return thresholds.map(() => 0);
  return thresholds.map((t) => (100 * ious.filter((v) => v >= t).length) / ious.length);
}

/** 0, 0.05, ..., 1.0 (the curve's x values), computed as k / 20 to avoid drift. */
export const CURVE_THRESHOLDS: readonly number[] = Array.from({ length: 21 }, (_, k) => k / 20);
