/**
 * `npm run bench -- queue [jobs]`: the grounding queue on the MEDIUM fixture pair, in one run:
 * (a) the jobs answered directly (one Grounder, one session per video, in this process),
 * (b) the same jobs through Redis with 1 `timelens worker` process, (c) with 2. Prints wall
 * times, throughput, and the queue's overhead per job ((b) - (a)) / jobs, which includes the
 * Redis round trips and result transfer. A reported figure, not a pass/fail test. On a 2-core
 * machine two workers share the cores: expect overhead, not speed-up.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { Grounder } from "../src/session";
import { createGroundingQueue } from "../src/queue";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { startRedis } from "../test/helpers/redis";
import { benchVideo, fmt, table } from "./util";

const ROOT = resolve(__dirname, "..");
const OPTIONS = { maxNewTokens: 16, totalTokens: 1024 };
const QUERIES = ["a person opens the door", "the ball turns red"];

function worker(redis: string, queue: string, model: string, mmproj: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/cli.ts",
      "worker",
      "--redis",
      redis,
      "--queue",
      queue,
      "--model",
      model,
      "--mmproj",
      mmproj,
      "--context-size",
      "4096",
    ],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  return new Promise((res, rej) => {
    child.stderr!.on("data", (d) => {
      err += String(d);
      if (err.includes("ready:")) res(child);
    });
    child.once("exit", (code) => rej(new Error(`worker exited ${code}: ${err}`)));
  });
}

export async function runQueueBench(jobs = 6): Promise<void> {
  await ensureFixtures({ sizes: ["medium"], log: () => {} });
  const dir = join(ROOT, "test", "fixtures", "models", "medium-qwen3vl");
  const model = join(dir, "model.gguf");
  const mmproj = join(dir, "mmproj.gguf");
  const videos = Array.from({ length: jobs }, (_, i) => benchVideo(4 + i, "320x240", 10));

  const g = await Grounder.load({ model, mmproj, contextSize: 4096 });
  const t0 = performance.now();
  for (const v of videos) {
    const s = await g.openVideo(v, OPTIONS);
    for (const q of QUERIES) await s.ground(q, OPTIONS);
    await s.close();
  }
  const directMs = performance.now() - t0;
  await g.dispose();

  const redis = await startRedis();
  const rows: string[][] = [
    ["how", "wall", "jobs/s", "vs direct"],
    ["direct ground()", fmt(directMs), (jobs / (directMs / 1000)).toFixed(3), "1.00"],
  ];
  let oneMs = 0;
  try {
    for (const n of [1, 2]) {
      const name = `bench-${n}`;
      const children = await Promise.all(Array.from({ length: n }, () => worker(redis.url, name, model, mmproj)));
      const queue = createGroundingQueue({ redis: redis.url, name, pollMs: 200 });
      try {
        const t = performance.now();
        await Promise.all(videos.map((v) => queue.ground(v, QUERIES, OPTIONS)));
        const ms = performance.now() - t;
        if (n === 1) oneMs = ms;
        rows.push([
          `${n} worker${n > 1 ? "s" : ""}`,
          fmt(ms),
          (jobs / (ms / 1000)).toFixed(3),
          (ms / directMs).toFixed(2),
        ]);
      } finally {
        await queue.close();
        await Promise.all(children.map((c) => new Promise((r) => (c.once("exit", r), c.kill("SIGTERM")))));
      }
    }
  } finally {
    await redis.dispose();
  }
  console.log(table(rows));
  console.log(
    `queue overhead per job (1 worker - direct) / jobs: ${fmt((oneMs - directMs) / jobs)} (${jobs} jobs of ${QUERIES.length} queries)`,
  );
}
