/** `timelens eval` pieces that need no model: output paths, the progress line, usage errors. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli";
import { EvalProgressBar, outputPaths } from "../../src/cli/eval";

describe("eval output paths", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "timelens-out-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a .jsonl file, one per dataset when there are several, a folder, or a {dataset} pattern", async () => {
    expect((await outputPaths("p.jsonl", ["charades-timelens"]))("charades-timelens")).toBe("p.jsonl");
    expect((await outputPaths("r/p.jsonl", ["a", "b"]))("b")).toBe("r/p.b.jsonl");
    expect((await outputPaths(dir, ["a"]))("a")).toBe(join(dir, "a.jsonl"));
    expect((await outputPaths("x/{dataset}-preds.jsonl", ["a", "b"]))("b")).toBe("x/b-preds.jsonl");
    expect((await outputPaths(undefined, ["a"]))("a")).toBe(join("timelens-eval", "a.jsonl"));
  });
});

describe("eval progress line", () => {
  function fakeTty(): { stream: NodeJS.WriteStream; written: () => string } {
    let text = "";
    const stream = {
      isTTY: true,
      columns: 200,
      write: (s: string) => ((text += s), true),
    } as unknown as NodeJS.WriteStream;
    return { stream, written: () => text };
  }

  it("shows per-dataset counts, rate, ETA, failures and the current stage; nothing off a TTY", () => {
    const { stream, written } = fakeTty();
    const bar = new EvalProgressBar(stream);
    bar.update({
      datasets: [
        { name: "charades-timelens", total: 10, done: 4, failed: 1 },
        { name: "activitynet-timelens", total: 5, done: 0, failed: 0 },
      ],
      total: 15,
      done: 4,
      resumed: 2,
      failed: 1,
      elapsedMs: 4000,
      queriesPerSecond: 0.5,
      etaMs: 22_000,
      current: {
        dataset: "charades-timelens",
        videoId: "v",
        query: "q",
        stage: { stage: "encode", done: 3, total: 8, elapsedMs: 10 },
      },
    });
    expect(written()).toBe("\rcharades 4/10  activitynet 0/5 | 4/15 0.500 q/s eta 22.0s 1 failed | encode 3/8\x1b[K");
    bar.clear();
    expect(written().endsWith("\r\x1b[K")).toBe(true);

    const plain = { isTTY: false, write: jest.fn() } as unknown as NodeJS.WriteStream;
    new EvalProgressBar(plain).update({
      datasets: [],
      total: 1,
      done: 0,
      resumed: 0,
      failed: 0,
      elapsedMs: 0,
      queriesPerSecond: null,
      etaMs: null,
    });
    expect(plain.write).not.toHaveBeenCalled();
  });
});

describe("eval usage errors", () => {
  async function code(args: string[]): Promise<number> {
    const err = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      return await main(args);
    } finally {
      err.mockRestore();
    }
  }

  it("needs --bench, --model and --mmproj; refuses clip ranges and bad limits", async () => {
    expect(await code(["eval", "--model", "m", "--mmproj", "p"])).toBe(1);
    expect(await code(["eval", "--bench", "b"])).toBe(1);
    expect(await code(["eval", "--bench", "b", "--model", "m", "--mmproj", "p", "--start", "1"])).toBe(1);
    expect(await code(["eval", "--bench", "b", "--model", "m", "--mmproj", "p", "--limit", "0"])).toBe(1);
    expect(await code(["eval", "--bench", "/nonexistent/bench", "--model", "m", "--mmproj", "p"])).toBe(2);
  });
});
