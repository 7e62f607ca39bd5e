/**
 * Scoring an existing prediction file the way the reference's compute_metrics reads one:
 *   - all lines merged into one dict: a repeated key counts once, its LAST line wins (the
 *     key keeps its first position, which only matters for the order of the float sum);
 *   - the ground truth is the key's span (Python eval of its last part);
 *   - the prediction is timestamps[0] as stored (no rounding again: the writer rounded);
 *     a line without "timestamps" has its "answers" parsed by extract_time instead (first pair,
 *     unrounded); no pair at all scores as (-100, -100), i.e. IoU 0;
 *   - R1@m = 100 * #(IoU >= m) / n, mIoU = 100 * sum(IoU) / n over the n distinct keys.
 * Differences from the reference, on inputs it cannot score: a key without a readable span
 * (its eval() raises) and a zero-length union (its ZeroDivisionError) stop the reference; here
 * such keys are listed in `unscorable` and left out of n.
 */
import { TimelensError } from "../errors";
import { extractTime } from "../parse";
import { R1_THRESHOLDS, iou, type Metrics, type R1Threshold, type Span } from "./metrics";
import { parsePredictionFile, type ParsedPrediction } from "./predictions";
import type { BenchDataset, BenchItem } from "./bench";

export interface ScoredPrediction {
  key: string;
  video: string;
  query: string;
  gt: [number, number];
  /** The span scored. */
  prediction: [number, number];
  iou: number;
  /** answers === "": a failed item (missing video, ...) or an empty model answer. */
  emptyAnswer: boolean;
  line: number;
}

export interface ScoreResult {
  /** null when nothing could be scored. */
  metrics: Metrics | null;
  items: ScoredPrediction[];
  /** Lines whose key an earlier line already had (the later line is the one scored). */
  repeatedKeys: number;
  unscorable: Array<{ key: string; line: number; reason: string }>;
}

/** Metrics from per-item IoUs, summed in the given order as the reference does. */
export function metricsFromIous(ious: readonly number[]): Metrics {
  if (ious.length === 0) throw new TimelensError("ERR_INVALID_ARGUMENT", "Metrics need at least one scored item.");
  const n = ious.length;
  const r1 = {} as Record<R1Threshold, number>;
  for (const m of R1_THRESHOLDS) {
    const threshold = Number(m);
    r1[m] = (ious.filter((v) => v >= threshold).length * 100) / n;
  }
  let sum = 0;
  for (const v of ious) sum += v;
  return { count: n, r1, miou: (sum * 100) / n, ious: [...ious] };
}

export interface ScoreOptions {
  /**
   * For a record with no timestamps: did its line have a "timestamps" field at all (an empty
   * list scores as no pair; a missing field means "parse the answer")? Default: it did.
   */
  hasTimestampsField?: (record: ParsedPrediction) => boolean;
}

/** Scores parsed prediction records (see the module comment for the rules). */
export function scorePredictions(records: readonly ParsedPrediction[], options: ScoreOptions = {}): ScoreResult {
  const byKey = new Map<string, ParsedPrediction>();
  let repeatedKeys = 0;
  for (const r of records) {
    if (byKey.has(r.key)) repeatedKeys++;
    byKey.set(r.key, r);
  }
  const items: ScoredPrediction[] = [];
  const unscorable: ScoreResult["unscorable"] = [];
  for (const r of byKey.values()) {
    if (!r.gt || !r.gt.every(Number.isFinite)) {
      unscorable.push({ key: r.key, line: r.line, reason: "the key has no readable [start, end] ground-truth span" });
      continue;
    }
    let pairs: Span[] = r.timestamps;
    if (pairs.length === 0 && options.hasTimestampsField && !options.hasTimestampsField(r))
      pairs = extractTime(r.answers);
    const p: [number, number] = pairs.length > 0 ? [pairs[0][0], pairs[0][1]] : [-100, -100];
    let v: number;
    try {
      v = iou(p, r.gt);
    } catch (e) {
      unscorable.push({ key: r.key, line: r.line, reason: (e as Error).message });
      continue;
    }
    items.push({
      key: r.key,
      video: r.video,
      query: r.query,
      gt: r.gt,
      prediction: p,
      iou: v,
      emptyAnswer: r.answers === "",
      line: r.line,
    });
  }
  return {
    metrics: items.length > 0 ? metricsFromIous(items.map((i) => i.iou)) : null,
    items,
    repeatedKeys,
    unscorable,
  };
}

/**
 * For records parsed from `text`: did the record's line have a "timestamps" field? (Only
 * consulted for records with no timestamps; see ScoreOptions.)
 */
export function timestampsFieldChecker(text: string): (record: ParsedPrediction) => boolean {
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  return (r) => {
    const raw = lines[r.line - 1];
    if (raw === undefined) return true;
    try {
      const obj = JSON.parse(raw) as Record<string, unknown>;
      const v = obj[r.key];
      return typeof v === "object" && v !== null && "timestamps" in v;
    } catch {
      return true; // NaN / Infinity lines: the writer of such a line wrote timestamps
    }
  };
}

/** Parses and scores the text of a prediction file. */
export function scorePredictionText(
  text: string,
): ScoreResult & { records: ParsedPrediction[]; tornLastLine: boolean } {
  const file = parsePredictionFile(text);
  return {
    ...scorePredictions(file.records, { hasTimestampsField: timestampsFieldChecker(text) }),
    records: file.records,
    tornLastLine: file.tornLastLine,
  };
}

export interface CrossCheckDataset {
  name: string;
  /** Distinct keys the annotation has. */
  expected: number;
  /** Of those, how many the predictions hold. */
  present: number;
  /** Annotation items with no prediction (each key once). */
  missing: BenchItem[];
  /** The records that belong to this dataset. */
  records: ParsedPrediction[];
}

export interface CrossCheck {
  datasets: CrossCheckDataset[];
  /** Records whose key is in none of the datasets. */
  unknown: ParsedPrediction[];
}

/** Splits prediction records by dataset (by key) and lists what each dataset is missing. */
export function crossCheck(records: readonly ParsedPrediction[], datasets: readonly BenchDataset[]): CrossCheck {
  const owner = new Map<string, number>();
  datasets.forEach((d, i) => {
    for (const it of d.items) if (!owner.has(it.key)) owner.set(it.key, i);
  });
  const perDataset = datasets.map(() => [] as ParsedPrediction[]);
  const unknown: ParsedPrediction[] = [];
  const present = new Set<string>();
  for (const r of records) {
    const i = owner.get(r.key);
    if (i === undefined) unknown.push(r);
    else {
      perDataset[i].push(r);
      present.add(r.key);
    }
  }
  return {
    datasets: datasets.map((d, i) => {
      const seen = new Set<string>();
      const missing: BenchItem[] = [];
      let expected = 0;
      let have = 0;
      for (const it of d.items) {
        if (seen.has(it.key)) continue;
        seen.add(it.key);
        expected++;
        if (present.has(it.key) && owner.get(it.key) === i) have++;
        else missing.push(it);
      }
      return { name: d.name, expected, present: have, missing, records: perDataset[i] };
    }),
    unknown,
  };
}
