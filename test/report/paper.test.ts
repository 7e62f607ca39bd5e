/** Published figures: the built-in table's shape and the JSON reader's checks. */
import { PUBLISHED, PROFILE_PAPER_MODEL, parsePaperFigures } from "../../src/report/paper";
import { BENCH_DATASETS } from "../../src/eval/bench";

test("the built-in table covers every dataset for every model, in percent", () => {
  for (const [model, datasets] of Object.entries(PUBLISHED.models)) {
    expect(Object.keys(datasets).sort()).toEqual([...BENCH_DATASETS].sort());
    for (const m of Object.values(datasets)) {
      expect(m.r1["0.3"]).toBeGreaterThanOrEqual(m.r1["0.5"]);
      expect(m.r1["0.5"]).toBeGreaterThanOrEqual(m.r1["0.7"]);
      expect(m.miou).toBeGreaterThan(0);
      expect(m.miou).toBeLessThan(100);
    }
    expect(model.length).toBeGreaterThan(0);
  }
  for (const name of Object.values(PROFILE_PAPER_MODEL)) expect(PUBLISHED.models[name!]).toBeDefined();
});

test("parsePaperFigures reads a valid file and names the bad field otherwise", () => {
  const ok = {
    source: "my run",
    models: { Mine: { "charades-timelens": { r1: { "0.3": 50, "0.5": 40, "0.7": 20 }, miou: 35 } } },
  };
  expect(parsePaperFigures(JSON.stringify(ok)).models.Mine["charades-timelens"].miou).toBe(35);
  expect(() => parsePaperFigures("{")).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
  expect(() => parsePaperFigures(JSON.stringify({ ...ok, source: "" }))).toThrow(/source/);
  const bad = JSON.parse(JSON.stringify(ok));
  bad.models.Mine["charades-timelens"].r1["0.5"] = 140;
  expect(() => parsePaperFigures(JSON.stringify(bad), "f.json")).toThrow(/r1\["0.5"\]/);
  delete bad.models.Mine["charades-timelens"].miou;
  bad.models.Mine["charades-timelens"].r1["0.5"] = 40;
  expect(() => parsePaperFigures(JSON.stringify(bad))).toThrow(/miou/);
});
