/**
 * createGroundingQueue + createGroundingWorker in one process, on a real redis-server and the
 * tiny Qwen3-VL pair: answers equal a direct session's, bad data and unreadable videos fail
 * the job with typed reasons (bounded attempts, backoff), and the worker keeps going.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Grounder } from "../../src/session";
import {
  createGroundingQueue,
  createGroundingWorker,
  type GroundingQueue,
  type GroundingWorker,
} from "../../src/queue";
import { fixturePair } from "../helpers/models";
import { startRedis, type TestRedis } from "../helpers/redis";
import { makeVideo } from "../eval/minibench";

const LOW = { fps: 1, totalTokens: 256, minTokens: 16, maxNewTokens: 8 };

describe("grounding queue and worker (real Redis, tiny model)", () => {
  let redis: TestRedis;
  let grounder: Grounder;
  let dir: string;
  let video: string;
  let queue: GroundingQueue;
  let worker: GroundingWorker;
  const log: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "timelens-queue-"));
    video = join(dir, "v.mp4");
    makeVideo(video, 3);
    redis = await startRedis();
    grounder = await Grounder.load({ ...fixturePair("tiny-qwen3vl"), contextSize: 2048, threads: 2 });
    queue = createGroundingQueue({ redis: redis.url, name: "t", attempts: 2, backoffMs: 300, pollMs: 200 });
    worker = createGroundingWorker({
      grounder,
      redis: redis.url,
      name: "t",
      allowRoots: [dir],
      onLog: (m) => log.push(m),
      lockDurationMs: 5000,
      stalledIntervalMs: 2000,
    });
    await worker.ready();
  });

  afterAll(async () => {
    await worker?.close();
    await queue?.close();
    await grounder?.dispose();
    await redis?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers every query of a job in order, as a direct session does", async () => {
    const queries = ["A square moves.", "colours change", "A square moves."];
    const viaQueue = await queue.ground(video, queries, LOW);
    const session = await grounder.openVideo(video, LOW);
    const direct = [];
    try {
      for (const q of queries) direct.push(await session.ground(q, { maxNewTokens: LOW.maxNewTokens }));
    } finally {
      await session.close();
    }
    expect(viaQueue.map((r) => r.text)).toEqual(direct.map((r) => r.text));
    expect(viaQueue.map((r) => r.spans)).toEqual(direct.map((r) => r.spans));
    expect(viaQueue.map((r) => r.query)).toEqual(direct.map((r) => r.query));
    expect(viaQueue[0].frames).toEqual(direct[0].frames);
  });

  it("adding the same work again finds the finished job: no second run", async () => {
    const data = { video, queries: ["the clip starts"], options: { ...LOW } };
    const id = await queue.add(data);
    const first = await queue.result(id);
    const started = (await queue.queue.getJob(id))!.attemptsStarted;
    expect(await queue.add(data)).toBe(id);
    expect(await queue.result(id)).toEqual(first);
    expect((await queue.queue.getJob(id))!.attemptsStarted).toBe(started);
  });

  it("an unreadable video fails with its typed error after the bounded attempts, with backoff", async () => {
    const bad = join(dir, "broken.mp4");
    writeFileSync(bad, "this is not a video");
    const id = await queue.add({ video: bad, queries: ["anything"], options: LOW });
    await expect(queue.result(id)).rejects.toMatchObject({ code: "ERR_VIDEO_UNREADABLE" });
    const job = (await queue.queue.getJob(id))!;
    expect(await job.getState()).toBe("failed");
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).toMatch(/^ERR_VIDEO_UNREADABLE: /);
    // Two attempts, the second no earlier than the backoff after the first.
    const starts = log.filter((l) => l.startsWith(`job ${id}: `) && l.includes("(attempt"));
    expect(starts).toHaveLength(2);
    expect(job.finishedOn! - job.timestamp).toBeGreaterThanOrEqual(300);
  });

  it("bad job data is rejected at once with a clear reason, and the worker keeps answering", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ queries: ["q"] }, /`video`/],
      [{ video: video, queries: "q" }, /`queries`/],
      [{ video: video, queries: ["q"], options: { fps: "fast" } }, /fps must be a finite number/],
      [{ video: "/etc/hostname", queries: ["q"] }, /outside the allowed roots/],
    ];
    for (const [i, [data, reason]] of cases.entries()) {
      // Straight onto the BullMQ queue, as any producer could: createGroundingQueue would refuse it.
      const job = await queue.queue.add("ground", data as never, { jobId: `bad-${i}` });
      const err = await queue.result(job.id!).catch((e) => e);
      expect(err).toMatchObject({ message: expect.stringMatching(reason) });
      expect(err).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
      const after = (await queue.queue.getJob(job.id!))!;
      expect(after.failedReason).toMatch(/^ERR_INVALID_ARGUMENT: Bad grounding job: /);
      expect(after.failedReason).toMatch(reason);
      expect(after.attemptsMade).toBe(1); // not retried
    }
    await expect(queue.ground(video, ["still here?"], LOW)).resolves.toHaveLength(1);
  });

  it("subscribers see every finished job, results and failures", async () => {
    const seen: Array<{ jobId: string; ok: boolean }> = [];
    const unsubscribe = queue.subscribe((o) => seen.push({ jobId: o.jobId, ok: o.ok }));
    try {
      const okId = await queue.add({ video, queries: ["subscribed"], options: LOW });
      const badId = await queue.add({ video: join(dir, "nope.mp4"), queries: ["gone"], options: LOW });
      await queue.result(okId);
      await expect(queue.result(badId)).rejects.toMatchObject({ code: "ERR_FILE_NOT_FOUND" });
      await waitFor(() => seen.some((s) => s.jobId === okId) && seen.some((s) => s.jobId === badId));
      expect(seen.find((s) => s.jobId === okId)!.ok).toBe(true);
      expect(seen.find((s) => s.jobId === badId)!.ok).toBe(false);
    } finally {
      unsubscribe();
    }
  });
});

/** Waits (on a short timer, bounded) for a condition that an event callback makes true. */
async function waitFor(cond: () => boolean, ms = 10000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
