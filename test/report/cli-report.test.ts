/**
 * `timelens report` end to end: the tiny random-weight model on a synthetic clip (HTML and PNG
 * written, several queries on one timeline), a saved `ground --json` result, an eval run's
 * predictions against a synthetic bench, and the usage / input errors.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { runCli } from "../helpers/cli";
import { makeClip } from "../helpers/clips";
import { fixturePair } from "../helpers/models";
import { makeMiniBench } from "../eval/minibench";
import { checkWellFormed } from "./wellformed";
import { escapeHtml } from "../../src/report/html";
import { formatPredictionLine } from "../../src/eval/predictions";
import { loadBench } from "../../src/eval/bench";
import { resultFor } from "./fixtures";

let dir: string;
let clip: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "timelens-report-cli-"));
  clip = makeClip({ seconds: 6 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FAST = [
  "--total-tokens",
  "256",
  "--min-tokens",
  "4",
  "--max-new-tokens",
  "8",
  "--context-size",
  "2048",
  "--threads",
  "2",
];

test("report with the tiny model: one HTML with a row per query, and a PNG", async () => {
  const { model, mmproj } = fixturePair("tiny-qwen3vl");
  const out = join(dir, "r.html");
  const png = join(dir, "r.png");
  const r = await runCli([
    "report",
    clip,
    "a red box moves",
    "the <b>picture</b> changes",
    "--model",
    model,
    "--mmproj",
    mmproj,
    ...FAST,
    "--out",
    out,
    "--png",
    png,
    "--note",
    "random weights",
    "--json",
  ]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ written: [out, png], thumbnails: 6, results: 2 });
  const html = readFileSync(out, "utf8");
  checkWellFormed(html);
  expect(html).toContain("a red box moves");
  expect(html).toContain("the &lt;b&gt;picture&lt;/b&gt; changes");
  expect(html.match(/class="lane"/g)).toHaveLength(2);
  expect(html.match(/<pre class="answer">/g)).toHaveLength(2);
  expect(html).toContain(escapeHtml(model));
  for (const label of ["&lt;0.2 seconds&gt;", "&lt;5.7 seconds&gt;"]) expect(html).toContain(label);
  const meta = await sharp(readFileSync(png)).metadata();
  expect(meta.format).toBe("png");
  expect(meta.width).toBe(1200);
});

test("report --from renders saved results without a model", async () => {
  const a = await resultFor(clip, "saved one", [[1, 2]]);
  const b = await resultFor(clip, "saved two", [[3, 4]]);
  const json = join(dir, "results.jsonl");
  writeFileSync(json, `${JSON.stringify(a)}\n${JSON.stringify(b)}\n`);
  const out = join(dir, "from.html");
  const r = await runCli(["report", clip, "--from", json, "--out", out, "--max-thumbnails", "3"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("2 queries, 3 thumbnails");
  const html = readFileSync(out, "utf8");
  expect(html).toContain("saved two");
  expect(html.match(/<img /g)).toHaveLength(3);
});

test("report --eval writes one page per dataset with the published row", async () => {
  const bench = join(dir, "bench");
  makeMiniBench(bench, "charades-timelens", [
    {
      id: "vid1",
      seconds: 4,
      duration: "4.0",
      queries: [
        ["[0.0, 2.0]", "first thing."],
        ["[2.0, 4.0]", "second thing."],
      ],
    },
    { id: "vid2", seconds: 3, duration: "3.0", queries: [["[1.0, 3.0]", "third thing."]] },
  ]);
  const preds = join(dir, "preds");
  const [items] = (await loadBench(bench)).map((d) => d.items);
  const answer = (i: number, ts: [number, number]) =>
    formatPredictionLine({
      video: items[i].videoName,
      query: items[i].query,
      gt: items[i].gt,
      timestamps: [ts],
      answers: `${ts[0]} - ${ts[1]}`,
      duration: items[i].duration,
    });
  const lines = [answer(0, [0, 2]), answer(1, [0, 1])];
  require("node:fs").mkdirSync(preds, { recursive: true });
  writeFileSync(join(preds, "charades-timelens.jsonl"), `${lines.join("\n")}\n`);
  const outDir = join(dir, "eval-report");
  const r = await runCli([
    "report",
    "--eval",
    preds,
    "--bench",
    bench,
    "--out",
    outDir,
    "--profile",
    "timelens-8b",
    "--json",
  ]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({
    written: [join(outDir, "charades-timelens.html")],
    paperModel: "TimeLens-8B",
  });
  const html = readFileSync(join(outDir, "charades-timelens.html"), "utf8");
  checkWellFormed(html);
  expect(html).toContain("2 queries scored · 1 annotation items have no prediction");
  expect(html).toContain("<td>50.0</td><td>50.0</td><td>50.0</td><td>50.0</td>"); // IoU 1 and 0
  expect(html).toContain("TimeLens-8B (published)");
  expect(html.match(/data:image\/jpeg/g)!.length).toBeGreaterThan(2); // examples have their frames
});

test("usage and input errors", async () => {
  expect((await runCli(["report"])).code).toBe(1);
  expect((await runCli(["report", clip, "q"])).stderr).toContain("--model and --mmproj");
  expect((await runCli(["report", clip, "q", "--from", "x.json"])).code).toBe(1);
  const missing = await runCli(["report", clip, "--from", join(dir, "nope.json")]);
  expect(missing.code).toBe(2);
  const bad = join(dir, "bad.json");
  writeFileSync(bad, "{not json");
  expect((await runCli(["report", clip, "--from", bad])).code).toBe(2);
  expect((await runCli(["report", "--eval", dir])).stderr).toContain("--bench");
  const help = await runCli(["report", "--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("--paper-model");
  expect(existsSync(join(dir, "report.html"))).toBe(false);
});
