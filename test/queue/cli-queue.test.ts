/**
 * `timelens worker` processes and `timelens eval --redis` on a real redis-server with the tiny
 * Qwen3-VL pair, and `--shard k/N` + `--merge`: the prediction files must be byte for byte those
 * of one local `timelens eval` of the same inputs (including a missing and an unreadable video,
 * scored as failures), after a worker is killed with -9 mid-job, and with SIGTERM shutdowns.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCli } from "../helpers/cli";
import { fixturePair } from "../helpers/models";
import { startRedis, type TestRedis } from "../helpers/redis";
import { makeMiniBench } from "../eval/minibench";

jest.setTimeout(600_000);

const ROOT = resolve(__dirname, "..", "..");
const { model, mmproj } = fixturePair("tiny-qwen3vl");
const LOW = [
  "--fps",
  "1",
  "--total-tokens",
  "256",
  "--min-tokens",
  "16",
  "--max-new-tokens",
  "8",
  "--context-size",
  "2048",
  "--threads",
  "2",
];

interface WorkerProc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `timelens worker` and resolves once it says it is ready. */
function startWorker(redis: string, queue: string, name: string): Promise<WorkerProc> {
  const args = [
    "--import",
    "tsx",
    "src/cli.ts",
    "worker",
    "--redis",
    redis,
    "--queue",
    queue,
    "--name",
    name,
    "--model",
    model,
    "--mmproj",
    mmproj,
    "--context-size",
    "2048",
    "--threads",
    "2",
    "--lock-duration",
    "3000",
    "--stalled-interval",
    "1000",
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  return new Promise((resolveReady, reject) => {
    child.stderr!.on("data", (d) => {
      err += String(d);
      if (err.includes("ready:")) resolveReady({ child, stderr: () => err, exited });
    });
    void exited.then(({ code }) => reject(new Error(`worker ${name} exited (${code}) before it was ready:\n${err}`)));
  });
}

async function stopWorker(w: WorkerProc | undefined): Promise<number | null> {
  if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return w?.child.exitCode ?? null;
  w.child.kill("SIGTERM");
  return (await w.exited).code;
}

describe("eval across processes: Redis queue, shards", () => {
  let dir: string;
  let redis: TestRedis;
  let reference: string;
  const workers: WorkerProc[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "timelens-qcli-"));
    makeMiniBench(dir, "charades-timelens", [
      {
        id: "AAA01",
        seconds: 3,
        duration: "3.0",
        queries: [
          ["[0.5, 2.0]", "A square moves."],
          ["[0, 3]", "colours  change"],
        ],
      },
      { id: "missing1", seconds: 0, duration: "5.5", queries: [["[1, 2]", "nothing here."]] },
      {
        id: "BB2",
        seconds: 3,
        duration: "3",
        queries: [
          ["[1.0, 2.5]", "bars are shown"],
          ["[0, 1]", "the clip starts"],
        ],
      },
      {
        id: "CCC3",
        seconds: 2,
        duration: "2.0",
        queries: [
          ["[0, 1]", "one"],
          ["[1, 2]", "two"],
          ["[0.5, 1.5]", "three"],
        ],
      },
      { id: "broken", seconds: 0, duration: "4.0", queries: [["[0, 2]", "cannot be read"]] },
      { id: "DD4", seconds: 2, duration: "2", queries: [["[0, 2]", "the end"]] },
    ]);
    writeFileSync(join(dir, "videos", "charades", "broken.mp4"), "not a video at all");
    redis = await startRedis();
    const local = await runCli([
      "eval",
      "--bench",
      dir,
      "--model",
      model,
      "--mmproj",
      mmproj,
      "--out",
      join(dir, "local.jsonl"),
      "--json",
      ...LOW,
    ]);
    expect(local.code).toBe(0);
    reference = readFileSync(join(dir, "local.jsonl"), "utf8");
    const j = JSON.parse(local.stdout);
    expect(j.failures.map((f: { code: string }) => f.code).sort()).toEqual([
      "ERR_FILE_NOT_FOUND",
      "ERR_VIDEO_UNREADABLE",
    ]);
  });

  afterAll(async () => {
    for (const w of workers) await stopWorker(w).catch(() => {});
    await redis?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("two workers, one producer: the files of a local run, byte for byte; SIGTERM exits 0", async () => {
    const a = await startWorker(redis.url, "two", "wa");
    const b = await startWorker(redis.url, "two", "wb");
    workers.push(a, b);
    const out = join(dir, "queued.jsonl");
    const r = await runCli([
      "eval",
      "--bench",
      dir,
      "--redis",
      redis.url,
      "--queue",
      "two",
      "--model",
      model,
      "--mmproj",
      mmproj,
      "--out",
      out,
      "--json",
      ...LOW,
    ]);
    expect(r.stderr).not.toContain("ERR_INTERNAL");
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(reference);
    const j = JSON.parse(r.stdout);
    expect(j.failures.find((f: { code: string }) => f.code === "ERR_VIDEO_UNREADABLE")).toBeTruthy();
    // Run again: every job is found finished, nothing is asked twice, the file stays as it is.
    const again = await runCli([
      "eval",
      "--bench",
      dir,
      "--redis",
      redis.url,
      "--queue",
      "two",
      "--model",
      model,
      "--mmproj",
      mmproj,
      "--out",
      out,
      "--json",
      ...LOW,
    ]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).datasets[0].predicted).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(reference);
    expect(await stopWorker(a)).toBe(0);
    expect(await stopWorker(b)).toBe(0);
    expect(a.stderr() + b.stderr()).toContain("stopped");
  });

  it("kill -9 of a worker mid-job: the other worker finishes its job; nothing lost or twice", async () => {
    const a = await startWorker(redis.url, "kill", "victim");
    workers.push(a);
    const out = join(dir, "killed.jsonl");
    const producer = runCli([
      "eval",
      "--bench",
      dir,
      "--redis",
      redis.url,
      "--queue",
      "kill",
      "--out",
      out,
      "--json",
      ...LOW,
    ]);
    // Kill the only worker as soon as it starts a job: that job is then held by a dead worker.
    const jobId = await new Promise<string>((resolveJob) => {
      const onData = (): void => {
        const m = /job (tl-[0-9a-f]+): .*queries \(attempt 1\)/.exec(a.stderr());
        if (m) {
          a.child.stderr!.off("data", onData);
          a.child.kill("SIGKILL");
          resolveJob(m[1]);
        }
      };
      a.child.stderr!.on("data", onData);
      onData();
    });
    expect((await a.exited).signal).toBe("SIGKILL");
    const b = await startWorker(redis.url, "kill", "rescuer");
    workers.push(b);
    const r = await producer;
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(reference);
    // The killed job was taken back (stalled) and answered by the rescuer.
    const { createGroundingQueue } = await import("../../src/queue");
    const q = createGroundingQueue({ redis: redis.url, name: "kill" });
    try {
      const job = (await q.queue.getJob(jobId))!;
      expect(await job.getState()).toBe("completed");
      expect(job.returnvalue.worker).toBe("rescuer");
      expect(job.attemptsStarted).toBeGreaterThanOrEqual(2);
    } finally {
      await q.close();
    }
    expect(await stopWorker(b)).toBe(0);
  });

  it("Redis stopped and started mid-run: worker and producer reconnect and the run completes", async () => {
    const w = await startWorker(redis.url, "restart", "steady");
    workers.push(w);
    const out = join(dir, "restarted.jsonl");
    const producer = runCli([
      "eval",
      "--bench",
      dir,
      "--redis",
      redis.url,
      "--queue",
      "restart",
      "--out",
      out,
      "--json",
      ...LOW,
    ]);
    await new Promise<void>((resolveStarted) => {
      const onData = (): void => {
        if (/job tl-[0-9a-f]+: done/.test(w.stderr())) {
          w.child.stderr!.off("data", onData);
          resolveStarted();
        }
      };
      w.child.stderr!.on("data", onData);
      onData();
    });
    await redis.stop();
    await redis.start();
    const r = await producer;
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(reference);
    expect(await stopWorker(w)).toBe(0);
  });

  it("--shard 1/2 and 2/2, then --merge: the file of one run, byte for byte", async () => {
    const out = join(dir, "sharded.jsonl");
    const parts = [];
    for (const k of [1, 2]) {
      const r = await runCli([
        "eval",
        "--bench",
        dir,
        "--model",
        model,
        "--mmproj",
        mmproj,
        "--out",
        out,
        "--shard",
        `${k}/2`,
        "--json",
        ...LOW,
      ]);
      expect(r.code).toBe(0);
      parts.push(readFileSync(join(dir, `sharded.shard-${k}-of-2.jsonl`), "utf8"));
    }
    expect(parts.every((p) => p.length > 0)).toBe(true);
    expect(parts[0]).not.toBe(reference);
    const m = await runCli(["eval", "--bench", dir, "--out", out, "--merge", "--json"]);
    expect(m.code).toBe(0);
    expect(JSON.parse(m.stdout).merged[0].shards).toHaveLength(2);
    expect(readFileSync(out, "utf8")).toBe(reference);
    // A missing shard is an error, not a short file.
    rmSync(join(dir, "sharded.shard-2-of-2.jsonl"));
    const bad = await runCli(["eval", "--bench", dir, "--out", out, "--merge"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Shard 2/2");
  });
});
