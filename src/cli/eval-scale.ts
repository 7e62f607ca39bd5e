/**
 * The parts of `timelens eval` that spread a run out: --redis (a job queue), --shard k/N and
 * --merge (docs/queue.md).
 */
import { readFile } from "node:fs/promises";
import { formatMetricsTable } from "../eval/metrics";
import { mergeShards } from "../eval/merge";
import { parsePredictionFile } from "../eval/predictions";
import { scorePredictions } from "../eval/score";
import type { BenchItem } from "../eval/bench";
import { createGroundingQueue, modelIdentity, type GroundingQueue } from "../queue";
import { QueueGrounder } from "../queue/producer";
import { EXIT } from "./common";
import { metricsJson } from "./eval";

export const EVAL_SCALE_HELP = `\
  --redis <url>        be a producer: one job per video on a BullMQ queue in Redis, answered by
                       \`timelens worker\` processes; the files are those of a local run (--model/--mmproj
                       optional: when given, only workers running that pair may answer)
  --queue <name>       queue name (default timelens)
  --shard <k/N>        run only shard k of N (split by video); writes <out>.shard-k-of-N.jsonl
  --merge              join the shard files of --out into the files one run writes (no model needed)`;

export const EVAL_SCALE_FLAGS = {
  redis: { type: "string" },
  queue: { type: "string" },
  shard: { type: "string" },
  merge: { type: "boolean", default: false },
} as const;

/** The producer's stand-in for a Grounder, and the queue to close afterwards. */
export async function queueGrounderFrom(values: {
  redis?: string;
  queue?: string;
  model?: string;
  mmproj?: string;
}): Promise<{ grounder: QueueGrounder; queue: GroundingQueue; model: string | undefined }> {
  const model = values.model && values.mmproj ? await modelIdentity(values.model, values.mmproj) : undefined;
  const queue = createGroundingQueue({ redis: values.redis!, name: values.queue });
  return { grounder: new QueueGrounder(queue, { model }), queue, model };
}

/** --merge: writes the merged files, prints what was merged and the metrics. */
export async function mergeCommand(
  items: readonly BenchItem[],
  outFor: (dataset: string) => string,
  json: boolean,
): Promise<number> {
  const merged = await mergeShards(items, outFor);
  const datasets = [];
  for (const name of [...new Set(items.map((it) => it.dataset))]) {
    const file = outFor(name);
    const keys = new Set(items.filter((it) => it.dataset === name).map((it) => it.key));
    const records = parsePredictionFile(await readFile(file, "utf8")).records.filter((r) => keys.has(r.key));
    const m = merged.find((f) => f.file === file)!;
    datasets.push({ name, file, shards: m.shards, lines: m.lines, extra: m.extra, score: scorePredictions(records) });
  }
  if (json) {
    const merged = datasets.map(({ score, ...d }) => ({ ...d, metrics: metricsJson(score.metrics) }));
    process.stdout.write(`${JSON.stringify({ merged })}\n`);
    return EXIT.ok;
  }
  const out = datasets.map(
    (d) =>
      `${d.name}: ${d.file} (${d.lines} items from ${d.shards.length} shards` +
      `${d.extra ? `, ${d.extra} extra lines left out` : ""})`,
  );
  const rows = datasets.filter((d) => d.score.metrics).map((d) => ({ name: d.name, metrics: d.score.metrics! }));
  if (rows.length > 0) out.push("", formatMetricsTable(rows, { digits: 2 }));
  process.stdout.write(`${out.join("\n")}\n`);
  return EXIT.ok;
}
