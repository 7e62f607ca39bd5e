/**
 * `timelens eval` end to end on a synthetic mini-bench with the tiny random-weight Qwen3-VL
 * pair and low budgets: the reference file format line by line, failure accounting for a
 * missing video, the printed metrics, and resuming after SIGKILL and after a torn line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCli as run } from "../helpers/cli";
import { parseBenchAnnotation } from "../../src/eval/bench";
import { referenceTimestamps } from "../../src/eval/metrics";
import { formatPredictionLine, parsePredictionFile } from "../../src/eval/predictions";
import { scorePredictionText } from "../../src/eval/score";
import { extractTime } from "../../src/parse";
import { fixturePair } from "../helpers/models";
import { makeMiniBench } from "./minibench";

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

describe("timelens eval on a mini-bench", () => {
  let dir: string;
  let annotation: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "timelens-e2e-"));
    annotation = makeMiniBench(dir, "charades-timelens", [
      {
        id: "AAA01",
        seconds: 4,
        duration: "4.0",
        queries: [
          ["[0.5, 2.0]", "A square moves."],
          ["[0, 3]", "colours  change"],
        ],
      },
      {
        id: "missing1",
        seconds: 0,
        duration: "5.5",
        queries: [
          ["[1, 2]", "nothing here."],
          ["[2.5, 4.0]", "still nothing"],
        ],
      },
      {
        id: "BB2",
        seconds: 3,
        duration: "3",
        queries: [
          ["[1.0, 2.5]", "bars are shown"],
          ["[0, 1]", "the clip starts"],
        ],
      },
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes reference lines, scores the missing video as failures, prints the metrics", async () => {
    const out = join(dir, "preds.jsonl");
    const r = await run(["eval", "--bench", dir, "--model", model, "--mmproj", mmproj, "--out", out, "--json", ...LOW]);
    expect(r.stderr).not.toContain("ERR_INTERNAL");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);

    // The file, line by line: keys, rounded timestamps, the annotation's duration text.
    const text = readFileSync(out, "utf8");
    const lines = text.split("\n");
    expect(lines.pop()).toBe("");
    const bench = parseBenchAnnotation(readFileSync(annotation, "utf8"), {
      dataset: "charades-timelens",
      videoDir: join(dir, "videos", "charades"),
    });
    const records = parsePredictionFile(text).records;
    expect(records.map((x) => x.key)).toEqual([
      "AAA01.mp4>>>A square moves>>>[0.5, 2.0]",
      "AAA01.mp4>>>colours change>>>[0, 3]",
      "missing1.mp4>>>nothing here>>>[1, 2]",
      "missing1.mp4>>>still nothing>>>[2.5, 4.0]",
      "BB2.mp4>>>bars are shown>>>[1.0, 2.5]",
      "BB2.mp4>>>the clip starts>>>[0, 1]",
    ]);
    records.forEach((rec, i) => {
      const item = bench.items[i];
      const expected = formatPredictionLine({
        video: item.videoName,
        query: item.query,
        gt: item.gt,
        timestamps: referenceTimestamps(extractTime(rec.answers), Number(item.duration)),
        answers: rec.answers,
        duration: item.duration,
      });
      expect(lines[i]).toBe(expected);
      for (const [s, e] of rec.timestamps) expect(Number.isInteger(s) && Number.isInteger(e)).toBe(true);
      expect(lines[i]).toMatch(/"timestamps": \[\[-?\d+\.0, -?\d+\.0\]/);
    });
    expect(lines[0]).toMatch(/"duration": 4\.0\}\}$/);
    expect(lines[4]).toMatch(/"duration": 3\}\}$/);
    expect(lines[2]).toBe(
      '{"missing1.mp4>>>nothing here>>>[1, 2]": {"timestamps": [[16.0, 26.0]], "answers": "", "duration": 5.5}}',
    );
    expect(lines[3]).toBe(
      '{"missing1.mp4>>>still nothing>>>[2.5, 4.0]": {"timestamps": [[16.0, 26.0]], "answers": "", "duration": 5.5}}',
    );

    // Counts, failures, metrics (the same as scoring the file alone), timings.
    expect(j.aborted).toBe(false);
    expect(j.datasets).toHaveLength(1);
    expect(j.datasets[0]).toMatchObject({
      name: "charades-timelens",
      file: out,
      items: 6,
      unique: 6,
      resumed: 0,
      predicted: 6,
      failed: 2,
      remaining: 0,
      scored: 6,
    });
    expect(j.failures.map((f: { videoId: string; code: string }) => `${f.videoId}:${f.code}`)).toEqual([
      "missing1:ERR_FILE_NOT_FOUND",
      "missing1:ERR_FILE_NOT_FOUND",
    ]);
    const alone = scorePredictionText(text).metrics!;
    expect(j.datasets[0].metrics).toEqual({ count: 6, r1: alone.r1, miou: alone.miou });
    expect(j.timings.videosOpened).toBe(2);
    expect(j.timings.queries).toBe(6);
    expect(j.timings.generateMs).toBeGreaterThan(0);

    // Again, for people: everything is resumed, nothing is re-run, the table is printed.
    const again = await run([
      "eval",
      "--bench",
      annotation,
      "--model",
      model,
      "--mmproj",
      mmproj,
      "--out",
      out,
      ...LOW,
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`charades-timelens: ${out} (6 items, 6 resumed, 0 new, 2 failed)`);
    expect(again.stdout).toMatch(/R1@0\.3\s+R1@0\.5\s+R1@0\.7\s+mIoU/);
    expect(again.stdout).toMatch(/charades-timelens\s+6\s+\d+\.\d\d/);
    expect(readFileSync(out, "utf8")).toBe(text);
  });

  it("resumes after SIGKILL and after a torn last line: no key twice, every key present", async () => {
    const big = mkdtempSync(join(tmpdir(), "timelens-e2e-kill-"));
    try {
      const videos = Array.from({ length: 4 }, (_, v) => ({
        id: `K${v}`,
        seconds: 3,
        duration: "3.0",
        queries: Array.from({ length: 2 }, (_, q) => [`[${q}, ${q + 1.5}]`, `event ${v}-${q}`] as [string, string]),
      }));
      makeMiniBench(big, "qvhighlights-timelens", videos);
      const out = join(big, "out.jsonl");
      const total = videos.length * 2;
      const args = [
        "--import",
        "tsx",
        "src/cli.ts",
        "eval",
        "--bench",
        big,
        "--model",
        model,
        "--mmproj",
        mmproj,
        "--out",
        out,
        "--json",
        ...LOW,
      ];

      // 1. Kill -9 as soon as the first complete lines are on disk.
      const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      const linesAtKill = await killAfterLines(child, out, 2);
      expect(linesAtKill).toBeGreaterThanOrEqual(2);
      expect(linesAtKill).toBeLessThan(total); // else the run finished before the kill and this test proves nothing
      expect(existsSync(`${out}.lock`)).toBe(true); // the dead run's lock, which the next run takes over

      // 2. Tear the file: half of a line for a key that is not done yet.
      const done = parsePredictionFile(readFileSync(out, "utf8")).records.map((x) => x.key);
      const pendingKey = "K3.mp4>>>event 3-1>>>[1, 2.5]";
      expect(done).not.toContain(pendingKey);
      const half = formatPredictionLine({
        video: "K3.mp4",
        query: "event 3-1",
        gt: [1n, 2.5],
        timestamps: [[1, 2]],
        answers: "torn",
        duration: 3,
      }).slice(0, 30);
      appendFileSync(out, half);

      // 3. Resume to the end.
      const second = await runChild(args);
      expect(second.code).toBe(0);
      const j = JSON.parse(second.stdout);
      expect(j.repaired).toEqual([{ file: out, truncatedBytes: 30 }]);
      expect(j.datasets[0].resumed).toBe(done.length);
      expect(j.datasets[0].predicted).toBe(total - done.length);
      expect(j.datasets[0].remaining).toBe(0);

      const file = parsePredictionFile(readFileSync(out, "utf8"));
      expect(file.tornLastLine).toBe(false);
      const keys = file.records.map((x) => x.key);
      expect(keys).toHaveLength(total);
      expect(new Set(keys).size).toBe(total);
      const expectedKeys = parseBenchAnnotation(readFileSync(join(big, "qvhighlights-timelens.json"), "utf8"), {
        dataset: "qvhighlights-timelens",
        videoDir: ".",
      }).items.map((i) => i.key);
      expect(new Set(keys)).toEqual(new Set(expectedKeys));
      expect(keys.slice(0, done.length)).toEqual(done); // the finished lines were kept as they were
      expect(keys).toContain(pendingKey);
      expect(existsSync(`${out}.lock`)).toBe(false);
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
  });
});

function completeLines(path: string): number {
  if (!existsSync(path)) return 0;
  return readFileSync(path, "utf8").split("\n").length - 1;
}

function killAfterLines(child: ChildProcess, path: string, n: number): Promise<number> {
  return new Promise((resolveKill, reject) => {
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += String(d)));
    const timer = setInterval(() => {
      const have = completeLines(path);
      if (have >= n) {
        clearInterval(timer);
        child.kill("SIGKILL");
        child.once("exit", () => resolveKill(completeLines(path)));
      }
    }, 5);
    child.once("exit", (code, signal) => {
      if (signal !== "SIGKILL") {
        clearInterval(timer);
        reject(new Error(`the eval exited by itself (code ${code}) before it could be killed:\n${stderr}`));
      }
    });
  });
}

function runChild(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += String(d)));
    child.stderr.on("data", (d) => (stderr += String(d)));
    child.once("exit", (code) => resolveRun({ code, stdout, stderr }));
  });
}
