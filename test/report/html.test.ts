/** The grounding and eval report HTML: well-formed, self-contained, and text is escaped. */
import { makeClip } from "../helpers/clips";
import { buildReportHtml, renderReport } from "../../src/report/grounding";
import { buildEvalReportHtml, byDuration, worstAndBest, type EvalReportItem } from "../../src/report/eval-report";
import { escapeHtml } from "../../src/report/html";
import { PUBLISHED } from "../../src/report/paper";
import { resultFor } from "./fixtures";
import { checkWellFormed } from "./wellformed";

const EVIL = `<script>alert("x")</script>" onmouseover="alert(1)" '><img src=x onerror=alert(2)>`;

let clip: string;
beforeAll(() => {
  clip = makeClip({ seconds: 6 });
});

test("escapeHtml escapes the five characters", () => {
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});

test("a query and an answer with markup cannot inject anything", async () => {
  const r = await resultFor(clip, EVIL, [[1, 2]], { text: `${EVIL} 1.0 - 2.0 seconds` });
  const html = buildReportHtml([r], [], { title: EVIL, note: EVIL, model: { name: EVIL, path: EVIL } });
  const check = checkWellFormed(html);
  expect(check.attributes.filter((a) => a.startsWith("on"))).toEqual([]);
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/<img src=x/);
  expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&quot; onmouseover=&quot;alert(1)&quot;");
});

test("the report has the labels exactly as prompted, the spans, timings and plan", async () => {
  const a = await resultFor(clip, "first", [[1.5, 3.5]]);
  const b = await resultFor(clip, "second", [
    [4, 5.5],
    [0.5, 1],
  ]);
  const html = await renderReport([a, b], { video: clip, model: "m.gguf", generatedAt: "T" });
  const check = checkWellFormed(html);
  expect(check.tags).toBeGreaterThan(50);
  for (const label of a.frames.labels) expect(html).toContain(`<li>${escapeHtml(label)}</li>`);
  expect(html.match(/<img /g)).toHaveLength(a.frames.pairs); // 6 pairs, all shown
  expect(html.match(/data:image\/jpeg;base64,/g)).toHaveLength(a.frames.pairs);
  expect(html).not.toMatch(/(?:src|href)="(?!data:)/); // nothing to fetch
  expect(html.match(/class="bar"/g)).toHaveLength(3);
  expect(html).toContain('data-start="4" data-end="5.5"');
  expect(html).toContain("1.5 – 3.5 s");
  expect(html).toContain(`${a.frames.width}x${a.frames.height}, ${a.frames.tokensPerPair} tokens per pair`);
  expect(html).toContain("<td>decode</td>");
  expect(html).toContain("model m.gguf");
});

test("results of different frame plans are refused; empty input too", async () => {
  const a = await resultFor(clip, "a", [[1, 2]]);
  const other = await resultFor(clip, "b", [[1, 2]]);
  const b = { ...other, frames: { ...other.frames, indices: other.frames.indices.map((i) => i + 1) } };
  await expect(renderReport([a, b])).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
  await expect(renderReport([])).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
  await expect(renderReport([{ ...a, frames: { ...a.frames, labels: [] } }])).rejects.toMatchObject({
    code: "ERR_INVALID_ARGUMENT",
  });
});

function item(key: string, iou: number, duration: number, extra: Partial<EvalReportItem> = {}): EvalReportItem {
  return {
    key,
    video: `${key}.mp4`,
    query: `query ${key}`,
    gt: [1, 3],
    prediction: [1, 3],
    iou,
    emptyAnswer: false,
    line: 1,
    duration,
    answer: "1 - 3 seconds",
    ...extra,
  };
}

test("worst and best: ordered, disjoint when there are enough items", () => {
  const items = [item("a", 0.5, 10), item("b", 0.1, 10), item("c", 0.9, 10), item("d", 0.1, 10), item("e", 0.7, 10)];
  const { worst, best } = worstAndBest(items, 2);
  expect(worst.map((i) => i.key)).toEqual(["b", "d"]);
  expect(best.map((i) => i.key)).toEqual(["c", "e"]);
  const few = worstAndBest(items.slice(0, 3), 2);
  expect(few.worst.map((i) => i.key)).toEqual(["b", "a"]);
  expect(few.best.map((i) => i.key)).toEqual(["c"]);
});

test("byDuration: metrics per bucket", () => {
  const rows = byDuration([item("a", 0.6, 10), item("b", 0.2, 12), item("c", 1, 40)], [0, 15, 30, Infinity]);
  expect(rows.map((r) => r.count)).toEqual([2, 0, 1]);
  expect(rows[0].metrics!.r1["0.5"]).toBe(50);
  expect(rows[0].metrics!.miou).toBeCloseTo(40, 10);
  expect(rows[1].metrics).toBeNull();
});

test("the eval page: metrics next to the published row with deltas, charts, escaped examples", () => {
  const items = [
    item("a", 1, 10),
    item("b", 0, 20, { query: EVIL, answer: EVIL, prediction: [15, 18] }),
    item("c", 0.5, 100),
  ];
  const html = buildEvalReportHtml(
    { dataset: "charades-timelens", items, paper: PUBLISHED, paperModel: "TimeLens-8B" },
    new Map(),
    { generatedAt: "T" },
  );
  const check = checkWellFormed(html);
  expect(check.attributes.filter((a) => a.startsWith("on"))).toEqual([]);
  expect(html).not.toMatch(/<script/i);
  // Run: R1@0.3 = 66.7 (2 of 3), R1@0.5 = 66.7, R1@0.7 = 33.3, mIoU 50.0; published 76.6/63.0/35.2/55.2.
  expect(html).toContain(
    '<tr data-row="run"><td><b>this run</b> (3 queries)</td><td>66.7</td><td>66.7</td><td>33.3</td><td>50.0</td></tr>',
  );
  expect(html).toContain(
    '<tr data-row="paper"><td>TimeLens-8B (published)</td><td>76.6</td><td>63.0</td><td>35.2</td><td>55.2</td></tr>',
  );
  expect(html).toContain("<td>−9.9</td><td>+3.7</td><td>−1.9</td><td>−5.2</td>");
  expect(html.match(/<svg /g)).toHaveLength(2);
  expect(html).toContain('data-kind="worst" data-rank="0"');
  expect(html.indexOf("&lt;script&gt;")).toBeGreaterThan(0);
  expect(() => buildEvalReportHtml({ dataset: "x", items: [] }, new Map())).toThrow(
    expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
  );
});

test("without a chosen model every published model is listed", () => {
  const html = buildEvalReportHtml(
    { dataset: "qvhighlights-timelens", items: [item("a", 1, 10)], paper: PUBLISHED, paperModel: null },
    new Map(),
  );
  for (const name of Object.keys(PUBLISHED.models)) expect(html).toContain(`${name} (published)`);
  expect(html).not.toContain('data-row="delta"');
});
