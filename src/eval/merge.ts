/** `timelens eval --merge`: shard prediction files joined into the files one run writes (docs/queue.md). */
import { open, readFile, readdir, rename } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { TimelensError } from "../errors";
import type { BenchItem } from "./bench";
import { parsePredictionFile } from "./predictions";
import { mergeShardLines, runOrder, shardFile } from "./shard";

export interface MergedFile {
  file: string;
  /** The shard files read, in shard order. */
  shards: string[];
  lines: number;
  /** Lines in the shards for keys not asked for (left out). */
  extra: number;
}

/** The shard files of `file` (any N, one N only) in shard order; an error when one is missing. */
export async function findShardFiles(file: string): Promise<string[]> {
  const dir = dirname(file);
  const probe = shardFile(basename(file), { index: 1, count: 1 });
  const [head, tail] = probe.split(".shard-1-of-1");
  const names = await readdir(dir).catch(() => [] as string[]);
  const found = new Map<number, Map<number, string>>();
  for (const name of names) {
    if (!name.startsWith(head) || !name.endsWith(tail)) continue;
    const m = /^\.shard-(\d+)-of-(\d+)$/.exec(name.slice(head.length, name.length - tail.length));
    if (!m) continue;
    const count = Number(m[2]);
    const byIndex = found.get(count) ?? new Map<number, string>();
    byIndex.set(Number(m[1]), join(dir, name));
    found.set(count, byIndex);
  }
  if (found.size === 0)
    throw new TimelensError(
      "ERR_FILE_NOT_FOUND",
      `No shard files for ${file} (looked for ${join(dir, probe.replace("1-of-1", "K-of-N"))})`,
      { path: file },
    );
  if (found.size > 1)
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `Shard files of different splits next to ${file} (of ${[...found.keys()].join(", ")}); keep one split`,
      {
        path: file,
      },
    );
  const [[count, byIndex]] = [...found];
  const files: string[] = [];
  for (let k = 1; k <= count; k++) {
    const f = byIndex.get(k);
    if (!f)
      throw new TimelensError(
        "ERR_FILE_NOT_FOUND",
        `Shard ${k}/${count} of ${file} is missing (${shardFile(file, { index: k, count })})`,
        {
          path: file,
          shard: k,
          count,
        },
      );
    files.push(f);
  }
  return files;
}

/**
 * Writes each dataset's merged file from its shards, in a fresh run's order; atomically
 * (temp file, fsync, rename). Every asked-for key must be in a shard (else ERR_INVALID_ARGUMENT
 * and nothing is written for that file).
 */
export async function mergeShards(
  items: readonly BenchItem[],
  fileOf: (dataset: string) => string,
): Promise<MergedFile[]> {
  const files = [...new Set(items.map((it) => fileOf(it.dataset)))];
  const out: MergedFile[] = [];
  for (const file of files) {
    const shardFiles = await findShardFiles(file);
    const shards = await Promise.all(
      shardFiles.map(async (name) => {
        const text = await readFile(name, "utf8");
        const parsed = parsePredictionFile(text);
        if (parsed.tornLastLine)
          throw new TimelensError(
            "ERR_INVALID_ARGUMENT",
            `${name} ends in a torn line: run that shard again to finish it`,
            { path: name },
          );
        return { name, text, records: parsed.records };
      }),
    );
    const merged = mergeShardLines(runOrder(items, fileOf, file), shards);
    if (merged.missing.length > 0) {
      throw new TimelensError(
        "ERR_INVALID_ARGUMENT",
        `${merged.missing.length} items of ${file} are in no shard (first: ${merged.missing[0]}); ` +
          "finish the shards first",
        { path: file, missing: merged.missing.length },
      );
    }
    const tmp = `${file}.tmp-${process.pid}`;
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(merged.text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    out.push({
      file,
      shards: shardFiles,
      lines: merged.text === "" ? 0 : merged.text.split("\n").length - 1,
      extra: merged.extra,
    });
  }
  return out;
}
