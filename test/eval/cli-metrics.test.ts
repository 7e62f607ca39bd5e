/** `timelens metrics` on a hand-written predictions file, alone and cross-checked with a bench. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli as run } from "../helpers/cli";
import { HAND_BENCH, HAND_WRITTEN } from "./hand-written";

describe("timelens metrics", () => {
  let dir: string;
  let preds: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "timelens-metrics-"));
    preds = join(dir, "preds.jsonl");
    writeFileSync(preds, `${HAND_WRITTEN}\n`);
    writeFileSync(join(dir, "charades-timelens.json"), HAND_BENCH);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("scores a file alone (--json)", async () => {
    const r = await run(["metrics", preds, "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.files).toEqual([{ path: preds, lines: 7, records: 7, distinct: 6, repeatedKeys: 1, tornLastLine: false }]);
    expect(j.datasets).toHaveLength(1);
    expect(j.datasets[0]).toMatchObject({ name: "preds", scored: 6, emptyAnswers: 1, repeatedKeys: 1, unscorable: [] });
    expect(j.datasets[0].metrics).toEqual({
      count: 6,
      r1: { "0.3": 400 / 6, "0.5": 400 / 6, "0.7": 300 / 6 },
      miou: 350 / 6,
    });
  });

  it("cross-checks against the bench: per dataset, missing items, keys not in the bench", async () => {
    const r = await run(["metrics", preds, "--bench", dir, "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.datasets.map((d: { name: string }) => d.name)).toEqual(["charades-timelens", "(not in bench)"]);
    expect(j.datasets[0]).toMatchObject({ expected: 6, present: 5, missing: ["d.mp4>>>q6>>>[1, 2]"], scored: 5 });
    expect(j.datasets[0].metrics).toEqual({ count: 5, r1: { "0.3": 60, "0.5": 60, "0.7": 40 }, miou: 50 });
    expect(j.unknown).toEqual(["z.mp4>>>stray>>>[1.0, 2.0]"]);
  });

  it("prints a table and the missing keys for people", async () => {
    const r = await run(["metrics", preds, "--bench", join(dir, "charades-timelens.json")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/R1@0\.3\s+R1@0\.5\s+R1@0\.7\s+mIoU/);
    expect(r.stdout).toMatch(/charades-timelens\s+5\s+60\.00\s+60\.00\s+40\.00\s+50\.00/);
    expect(r.stdout).toContain("charades-timelens: 5/6 annotation items predicted, 1 missing");
    expect(r.stdout).toContain("missing: d.mp4>>>q6>>>[1, 2]");
    expect(r.stdout).toContain("1 keys are in no annotation of the bench");
  });

  it("exit codes: usage 1, missing file 2", async () => {
    expect((await run(["metrics"])).code).toBe(1);
    const missing = await run(["metrics", join(dir, "nope.jsonl"), "--json"]);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stderr).error.code).toBe("ERR_FILE_NOT_FOUND");
  });
});
