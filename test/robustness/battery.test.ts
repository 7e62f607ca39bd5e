/**
 * The standing robustness battery (docs/robustness.md): bad models, videos, queries and
 * options, lifecycle misuse, abort storms, concurrent calls and Worker termination. Each batch
 * runs in its own child process; this file asserts, per case, the allowed ending (a typed
 * TimelensError with a code, or a correct answer for odd-but-valid input), no signal death, no
 * hang, and that the same process grounds exactly as before once every case has run.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { video, type VideoName } from "../helpers/videos";
import { makeClip } from "../helpers/clips";
import { BATCHES } from "./batches";
import { type BatchReport, CASE_TIMEOUT_MS, type CaseReport, LINE_PREFIX } from "./harness";

interface ChildRun {
  batch: string;
  signal: NodeJS.Signals | null;
  code: number | null;
  cases: CaseReport[];
  /** The case that was running when the child died or was killed. */
  running: string | null;
  report: BatchReport | null;
  killedForHang: boolean;
  stderr: string;
}

const CHILD = join(__dirname, "child.ts");

/** Runs one batch; the whole child gets the sum of its cases' limits plus load time. */
function runBatch(batch: string): Promise<ChildRun> {
  const limit = BATCHES[batch].reduce((ms, c) => ms + (c.timeoutMs ?? CASE_TIMEOUT_MS), 60_000);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, batch], { stdio: ["ignore", "pipe", "pipe"] });
    const run: ChildRun = {
      batch,
      signal: null,
      code: null,
      cases: [],
      running: null,
      report: null,
      killedForHang: false,
      stderr: "",
    };
    let buffered = "";
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString("utf8");
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith(LINE_PREFIX)) {
          const { kind, body } = JSON.parse(line.slice(LINE_PREFIX.length));
          if (kind === "start") run.running = body.name;
          else if (kind === "case") {
            run.cases.push(body);
            run.running = null;
          } else run.report = body;
        }
        nl = buffered.indexOf("\n");
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      run.stderr = (run.stderr + d.toString("utf8")).slice(-4000);
    });
    const timer = setTimeout(() => {
      run.killedForHang = true;
      child.kill("SIGKILL");
    }, limit);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      run.code = code;
      run.signal = run.killedForHang ? null : signal;
      resolve(run);
    });
  });
}

const runs: ChildRun[] = [];

beforeAll(() => {
  // Make the cached fixture videos here, once, so no child races another to write them.
  for (const name of [
    "truncated",
    "truncated-faststart",
    "audio",
    "one",
    "tall",
    "rotated",
    "vfr",
    "editlist",
  ] as VideoName[])
    video(name);
  makeClip({ seconds: 4 });
});

afterAll(() => {
  const cases = runs.flatMap((r) => r.cases);
  const kinds = new Set(Object.values(BATCHES).flatMap((cs) => cs.map((c) => c.kind)));
  const crashes = runs.filter((r) => r.signal !== null || (r.code !== 0 && !r.killedForHang)).length;
  const hangs = cases.filter((c) => c.outcome.status === "hang").length + runs.filter((r) => r.killedForHang).length;
  const wrong = cases.filter((c) => c.problem !== null).length;
  const total = Object.values(BATCHES).reduce((n, cs) => n + cs.length, 0);
  console.log(
    `robustness: ${kinds.size} kinds, ${cases.length}/${total} cases run in ${runs.length} children, ${crashes} crashes, ${hangs} hangs, ${wrong} wrong endings`,
  );
});

describe.each(Object.keys(BATCHES))("batch %s", (batch) => {
  test("every case ends as allowed, nothing crashes or hangs, and grounding still works", async () => {
    const run = await runBatch(batch);
    runs.push(run);
    const died = run.signal
      ? `died of ${run.signal}`
      : run.killedForHang
        ? "was killed: it hung"
        : run.code !== 0
          ? `exited ${run.code}`
          : null;
    if (died) {
      throw new Error(`the ${batch} child ${died} during case ${run.running ?? "(between cases)"}\n${run.stderr}`);
    }
    const problems = run.cases.filter((c) => c.problem !== null).map((c) => `${c.name}: ${c.problem}`);
    expect(problems).toEqual([]);
    expect(run.cases.map((c) => c.name)).toEqual(BATCHES[batch].map((c) => c.name));
    expect(run.report).not.toBeNull();
    expect(run.report!.after).toBeNull();
  });
});
