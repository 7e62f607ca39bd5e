/**
 * TimeLens-Bench annotations (docs/reference.md "Answers, metrics and the benchmark"):
 *   {charades,activitynet,qvhighlights}-timelens.json =
 *   { "<vid>": { "duration": d, "spans": [[s, e], ...], "queries": [q, ...] }, ... }
 * spans and queries pair up in order (Python zip: the shorter list wins); the video is
 * videos/<subset>/<vid>.mp4 where <subset> is the dataset name without "-timelens".
 *
 * Each (video, query) becomes one BenchItem whose `key` is the reference prediction key,
 * f"{basename(video_path)}>>>{query}>>>{span}", where `query` is the NORMALISED query (the
 * reference's loader normalises queries before building annotations, and its inference script
 * takes both the prompt and the key from that normalised query) and `span` is str() of the
 * annotation's span list, ints and floats as the file wrote them (see pyjson.ts).
 */
import { readFile, readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { TimelensError } from "../errors";
import { normalizeQuery } from "../prompt/query";
import type { PyNumber } from "../util/pyrepr";
import { predictionKey } from "./predictions";
import { isPyNumber, parsePyJson, type PyJson } from "./pyjson";

/** The three TimeLens-Bench subsets, in the paper's order. */
export const BENCH_DATASETS = ["charades-timelens", "activitynet-timelens", "qvhighlights-timelens"] as const;
export type BenchDatasetName = (typeof BENCH_DATASETS)[number];

export interface BenchItem {
  dataset: string;
  /** The annotation's video id (the JSON key). */
  videoId: string;
  /** Where the video is expected: <videoDir>/<videoId>.mp4. */
  videoPath: string;
  /** basename(videoPath), the first part of the key. */
  videoName: string;
  /** The normalised query: what the model is asked and what the key holds. */
  query: string;
  /** The query as the annotation wrote it. */
  rawQuery: string;
  /** The ground-truth span as the annotation wrote it (bigint = Python int, number = float). */
  gt: readonly [PyNumber, PyNumber];
  /** The annotation's duration (seconds), int or float as written. */
  duration: PyNumber;
  /** The reference prediction key. */
  key: string;
  /** Position of the query within its video's list. */
  queryIndex: number;
}

export interface BenchDataset {
  name: string;
  annotationPath: string;
  videoDir: string;
  /** Every (video, query) pair in annotation order, duplicates included. */
  items: BenchItem[];
  videoCount: number;
  /** Items whose key repeats an earlier item's key (the reference's metrics count a key once). */
  duplicateKeys: number;
  /** Oddities that do not stop the run (spans and queries of different lengths, ...). */
  warnings: string[];
}

/** The videos/ sub-folder of a dataset: "charades-timelens" -> "charades". */
export function videoSubset(dataset: string): string {
  return dataset.replace(/-timelens$/i, "");
}

function invalid(path: string, message: string, details: Record<string, unknown> = {}): never {
  throw new TimelensError("ERR_INVALID_ARGUMENT", `${path}: ${message}`, { path, ...details });
}

function asSpan(v: PyJson): readonly [PyNumber, PyNumber] | null {
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [a, b] = v;
  return isPyNumber(a) && isPyNumber(b) ? [a, b] : null;
}

/**
 * Parses one annotation file's text into items (pure: touches no file). `videoDir` is where the
 * dataset's <vid>.mp4 files are expected.
 */
export function parseBenchAnnotation(
  text: string,
  options: { dataset: string; videoDir: string; annotationPath?: string },
): BenchDataset {
  const path = options.annotationPath ?? `${options.dataset}.json`;
  const root = parsePyJson(text, path);
  if (!(root instanceof Map)) invalid(path, "the annotation must be a JSON object of videos");
  const items: BenchItem[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  let duplicateKeys = 0;
  for (const [videoId, entry] of root) {
    if (!(entry instanceof Map)) invalid(path, `video "${videoId}" is not an object`, { video: videoId });
    const duration = entry.get("duration");
    const spans = entry.get("spans");
    const queries = entry.get("queries");
    if (duration === undefined || !isPyNumber(duration))
      invalid(path, `video "${videoId}" has no numeric "duration"`, { video: videoId });
    if (!Array.isArray(spans)) invalid(path, `video "${videoId}" has no "spans" list`, { video: videoId });
    if (!Array.isArray(queries)) invalid(path, `video "${videoId}" has no "queries" list`, { video: videoId });
    if (spans.length !== queries.length) {
      warnings.push(
        `video "${videoId}": ${spans.length} spans but ${queries.length} queries; ` +
          `the extra ${spans.length > queries.length ? "spans" : "queries"} are ignored, as the reference's zip() does`,
      );
    }
    const videoPath = join(options.videoDir, `${videoId}.mp4`);
    const videoName = basename(videoPath);
    const n = Math.min(spans.length, queries.length);
    for (let i = 0; i < n; i++) {
      const gt = asSpan(spans[i]);
      if (!gt)
        invalid(path, `video "${videoId}" span ${i} is not a [start, end] pair of numbers`, {
          video: videoId,
          index: i,
        });
      const rawQuery = queries[i];
      if (typeof rawQuery !== "string")
        invalid(path, `video "${videoId}" query ${i} is not a string`, { video: videoId, index: i });
      const query = normalizeQuery(rawQuery);
      const key = predictionKey(videoName, query, gt);
      if (seen.has(key)) duplicateKeys++;
      else seen.add(key);
      items.push({
        dataset: options.dataset,
        videoId,
        videoPath,
        videoName,
        query,
        rawQuery,
        gt,
        duration,
        key,
        queryIndex: i,
      });
    }
  }
  return {
    name: options.dataset,
    annotationPath: path,
    videoDir: options.videoDir,
    items,
    videoCount: root.size,
    duplicateKeys,
    warnings,
  };
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

export interface LoadBenchOptions {
  /** Dataset names to load (default: every known subset whose annotation file is in the bench folder). */
  datasets?: readonly string[];
  /**
   * Where the videos are. Either a folder holding the <subset>/ folders or a folder holding the
   * <vid>.mp4 files themselves: when <videos>/<subset> is a folder it is used, else <videos>.
   * Default: <folder of the annotation>/videos/<subset>.
   */
  videos?: string;
}

async function resolveVideoDir(dataset: string, annotationPath: string, videos: string | undefined): Promise<string> {
  const subset = videoSubset(dataset);
  if (videos === undefined) return join(dirname(annotationPath), "videos", subset);
  const nested = join(videos, subset);
  return (await isDir(nested)) ? nested : videos;
}

/**
 * Loads TimeLens-Bench annotations. `source` is the bench folder (holding
 * <dataset>.json and videos/<subset>/) or one annotation file (its dataset name is the file name
 * without ".json"). Unknown or missing datasets are ERR_FILE_NOT_FOUND / ERR_INVALID_ARGUMENT.
 */
export async function loadBench(source: string, options: LoadBenchOptions = {}): Promise<BenchDataset[]> {
  const wanted = options.datasets?.map((d) => d.trim()).filter((d) => d !== "");
  let files: Array<{ dataset: string; path: string }>;
  if (await isFile(source)) {
    const dataset = basename(source).replace(/\.json$/i, "");
    if (wanted && wanted.length > 0 && !wanted.includes(dataset)) {
      throw new TimelensError(
        "ERR_INVALID_ARGUMENT",
        `${source} holds the dataset "${dataset}", not ${wanted.map((w) => `"${w}"`).join(", ")}.`,
        {
          source,
          dataset,
          wanted,
        },
      );
    }
    files = [{ dataset, path: source }];
  } else if (await isDir(source)) {
    if (wanted && wanted.length > 0) {
      files = wanted.map((dataset) => ({ dataset, path: join(source, `${dataset}.json`) }));
      for (const f of files) {
        if (!(await isFile(f.path))) {
          throw new TimelensError(
            "ERR_FILE_NOT_FOUND",
            `No annotation file for dataset "${f.dataset}": ${f.path} does not exist.`,
            {
              path: f.path,
              dataset: f.dataset,
            },
          );
        }
      }
    } else {
      files = [];
      for (const dataset of BENCH_DATASETS) {
        const path = join(source, `${dataset}.json`);
        if (await isFile(path)) files.push({ dataset, path });
      }
      if (files.length === 0) {
        const present = (await readdir(source)).filter((n) => n.endsWith(".json"));
        throw new TimelensError(
          "ERR_FILE_NOT_FOUND",
          `${source} holds none of ${BENCH_DATASETS.map((d) => `${d}.json`).join(", ")}` +
            `${present.length ? ` (it has ${present.join(", ")}: pass --datasets or the file itself)` : ""}.`,
          { source },
        );
      }
    }
  } else {
    throw new TimelensError("ERR_FILE_NOT_FOUND", `The bench path does not exist: ${source}`, { path: source });
  }
  const out: BenchDataset[] = [];
  for (const f of files) {
    const text = await readFile(f.path, "utf8");
    const videoDir = await resolveVideoDir(f.dataset, f.path, options.videos);
    out.push(parseBenchAnnotation(text, { dataset: f.dataset, videoDir, annotationPath: f.path }));
  }
  return out;
}

/** Items with each key once (the first occurrence), in order. */
export function uniqueItems(items: readonly BenchItem[]): BenchItem[] {
  const seen = new Set<string>();
  const out: BenchItem[] = [];
  for (const it of items) {
    const id = `${it.dataset}\u0000${it.key}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(it);
    }
  }
  return out;
}
