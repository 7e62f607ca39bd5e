/**
 * `timelens eval --shard k/N` and `--merge`: splitting a run by video without any shared
 * service, and joining the pieces into the files one run writes. Pure; see docs/queue.md.
 */
import { TimelensError } from "../errors";
import type { BenchItem } from "./bench";

export interface ShardSpec {
  /** 1-based. */
  index: number;
  count: number;
}

/** "k/N" with 1 <= k <= N. */
export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count)
    throw new TimelensError("ERR_INVALID_ARGUMENT", `A shard is k/N with 1 <= k <= N, e.g. 2/4; got "${text}"`, {
      shard: text,
    });
  return { index, count };
}

const videoKey = (it: BenchItem): string => `${it.dataset}\u0000${it.videoPath}`;

/**
 * Which shard each video goes to (1-based), by video key "<dataset>\0<videoPath>". Videos are
 * dealt in first-appearance order, each to the shard with the fewest queries so far (the
 * lowest index on a tie): deterministic for a given item list, and balanced by queries, not
 * videos, since videos carry different numbers of queries.
 */
export function assignShards(items: readonly BenchItem[], count: number): Map<string, number> {
  const queries = new Map<string, number>();
  for (const it of items) queries.set(videoKey(it), (queries.get(videoKey(it)) ?? 0) + 1);
  const load = new Array<number>(count).fill(0);
  const out = new Map<string, number>();
  for (const [video, n] of queries) {
    let best = 0;
    for (let s = 1; s < count; s++) if (load[s] < load[best]) best = s;
    load[best] += n;
    out.set(video, best + 1);
  }
  return out;
}

/** The items of one shard, in their original order. */
export function shardItems(items: readonly BenchItem[], spec: ShardSpec): BenchItem[] {
  const shardOf = assignShards(items, spec.count);
  return items.filter((it) => shardOf.get(videoKey(it)) === spec.index);
}

/** A shard's prediction file next to the merged one: preds.jsonl -> preds.shard-2-of-4.jsonl. */
export function shardFile(path: string, spec: ShardSpec): string {
  const tag = `.shard-${spec.index}-of-${spec.count}`;
  return /\.jsonl$/i.test(path) ? `${path.slice(0, -".jsonl".length)}${tag}.jsonl` : `${path}${tag}`;
}

/**
 * The order in which a fresh runEval writes `items` into `file`: distinct keys (first
 * occurrence), grouped by video in first-appearance order, queries in order within a video.
 */
export function runOrder(items: readonly BenchItem[], fileOf: (dataset: string) => string, file: string): string[] {
  const seen = new Set<string>();
  const groups = new Map<string, BenchItem[]>();
  for (const it of items) {
    const id = `${fileOf(it.dataset)}\u0000${it.key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const g = groups.get(videoKey(it));
    if (g) g.push(it);
    else groups.set(videoKey(it), [it]);
  }
  return [...groups.values()]
    .flat()
    .filter((it) => fileOf(it.dataset) === file)
    .map((it) => it.key);
}

export interface MergeResult {
  /** The merged file's text. */
  text: string;
  /** Keys asked for that no shard has. */
  missing: string[];
  /** Lines in the shards for keys not asked for (left out). */
  extra: number;
}

/**
 * Joins shard files: for each key of `order`, its line as the shard wrote it. `shards` are the
 * shard files' texts with their parsed records (key and 1-based line). A key in two shards
 * with different lines is an error (the shards were not made from the same inputs).
 */
export function mergeShardLines(
  order: readonly string[],
  shards: ReadonlyArray<{ name: string; text: string; records: ReadonlyArray<{ key: string; line: number }> }>,
): MergeResult {
  const lineOf = new Map<string, { line: string; from: string }>();
  for (const shard of shards) {
    const lines = shard.text.split("\n");
    for (const r of shard.records) {
      const raw = lines[r.line - 1].replace(/\r$/, "");
      const had = lineOf.get(r.key);
      if (had && had.line !== raw) {
        throw new TimelensError(
          "ERR_INVALID_ARGUMENT",
          `The key ${r.key} has different lines in ${had.from} and ${shard.name}: ` +
            "were the shards made from the same inputs?",
          { key: r.key },
        );
      }
      if (!had) lineOf.set(r.key, { line: raw, from: shard.name });
    }
  }
  const wanted = new Set(order);
  const out: string[] = [];
  const missing: string[] = [];
  for (const key of order) {
    const l = lineOf.get(key);
    if (l) out.push(l.line);
    else missing.push(key);
  }
  const extra = [...lineOf.keys()].filter((k) => !wanted.has(k)).length;
  return { text: out.map((l) => `${l}\n`).join(""), missing, extra };
}
