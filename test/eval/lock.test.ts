/**
 * The prediction file lock (src/eval/writer.ts): our own pid in a lock we do not hold is
 * stale (containers reuse pids), a live process's lock is respected, and a stale lock is taken
 * over by exactly one of several processes racing for it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PredictionWriter } from "../../src/eval/writer";

const DEAD_PID = 2147483646; // above any pid_max: no such process

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "timelens-lock-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("a lock holding our own pid that this process does not hold is taken over", async () => {
  const path = join(dir, "p.jsonl");
  writeFileSync(`${path}.lock`, `${process.pid}\n`); // left by an earlier container with our pid
  const { writer } = await PredictionWriter.open(path);
  expect(readFileSync(`${path}.lock`, "utf8").trim()).toBe(String(process.pid));
  // Now we do hold it: a second open in this process is refused.
  await expect(PredictionWriter.open(path)).rejects.toMatchObject({ code: "ERR_BUSY" });
  await writer.close();
  expect(existsSync(`${path}.lock`)).toBe(false);
});

test("two opens of one file at once in this process: one gets it, the other is refused", async () => {
  const path = join(dir, "p.jsonl");
  const results = await Promise.allSettled([
    PredictionWriter.open(path),
    PredictionWriter.open(join(dir, ".", "p.jsonl")),
  ]);
  expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
  const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  expect(rejected.reason).toMatchObject({ code: "ERR_BUSY" });
  const ok = results.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<
    Awaited<ReturnType<typeof PredictionWriter.open>>
  >;
  await ok.value.writer.close();
});

test("a live process's lock is respected, and left in place", async () => {
  const path = join(dir, "p.jsonl");
  const sleeper: ChildProcess = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" });
  try {
    writeFileSync(`${path}.lock`, `${sleeper.pid}\n`);
    await expect(PredictionWriter.open(path)).rejects.toMatchObject({
      code: "ERR_BUSY",
      details: { pid: sleeper.pid },
    });
    expect(readFileSync(`${path}.lock`, "utf8")).toBe(`${sleeper.pid}\n`);
  } finally {
    sleeper.kill("SIGKILL");
  }
});

test("a lock whose holder died is taken over, and the takeover leaves no marker behind", async () => {
  const path = join(dir, "p.jsonl");
  writeFileSync(`${path}.lock`, `${DEAD_PID}\n`);
  const { writer } = await PredictionWriter.open(path);
  expect(readdirSync(dir).sort()).toEqual(["p.jsonl", "p.jsonl.lock"]);
  await writer.close();
});

function runChild(file: string, startAt: number, holdMs: number): Promise<string> {
  const args = ["--import", "tsx", join(__dirname, "lock-child.ts"), file, String(startAt), String(holdMs)];
  // Each child pauses between judging the lock stale and taking it over: all of them judge it
  // stale first, so a takeover that is not atomic would let several through.
  const env = { ...process.env, TIMELENS_TEST_LOCK_PAUSE_MS: "300" };
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], env });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  return new Promise((resolve) => child.on("exit", () => resolve(out.trim())));
}

test("several processes racing for a stale lock: exactly one takes it over", async () => {
  const path = join(dir, "p.jsonl");
  for (let round = 0; round < 3; round++) {
    writeFileSync(`${path}.lock`, `${DEAD_PID}\n`);
    // Started together once every child is up (tsx start-up takes a few seconds on a busy machine).
    const startAt = Date.now() + 6000;
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => runChild(path, startAt, 2500)));
    expect(outcomes.filter((o) => o === "got")).toHaveLength(1);
    expect(outcomes.filter((o) => o !== "got")).toEqual(Array(5).fill("ERR_BUSY"));
    expect(existsSync(`${path}.lock`)).toBe(false);
  }
});
