/**
 * Parity with llama.cpp itself: for the same images and prompt, our greedy tokens equal those
 * of `llama-mtmd-cli` built from the same source and CPU flags (scripts/build-mtmd-cli.mjs).
 * The CLI prints pieces, not ids, and random-weight output has partial UTF-8 pieces, so the
 * comparison is on raw bytes: our pieces concatenated against the CLI's stdout.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VisionModel } from "../../src/runtime/model";
import type { NativeChunk } from "../../src/native";
import { fixturePair, syntheticFrame, writePpm, type FixtureName } from "../helpers/models";

const MARKER = "<__media__>";
const N_PREDICT = 16;
const PROMPT = "Describe the images.";
let cli: string;
let dir: string;

beforeAll(
  () => {
    // Builds llama-mtmd-cli on the first run on a machine (a few minutes), then reuses it.
    const script = join(__dirname, "..", "..", "scripts", "build-mtmd-cli.mjs");
    cli = execFileSync(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] })
      .toString()
      .trim()
      .split("\n")
      .pop()!;
    if (!existsSync(cli)) throw new Error(`llama-mtmd-cli not found at ${cli}`);
    dir = mkdtempSync(join(tmpdir(), "timelens-parity-"));
  },
  30 * 60 * 1000,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runCli(name: FixtureName, images: string[]): { stdout: Buffer; prompt: string; runs: number } {
  const pair = fixturePair(name);
  const args = [
    "-m",
    pair.model,
    "--mmproj",
    pair.mmproj,
    ...images.flatMap((i) => ["--image", i]),
    "-p",
    PROMPT,
    "-n",
    String(N_PREDICT),
    "--temp",
    "0",
    "--jinja",
    "-c",
    "4096",
    "-b",
    "512",
    "-ub",
    "512",
    "-t",
    "2",
    "-v",
  ];
  const r = spawnSync(cli, args, { maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`llama-mtmd-cli failed (${r.status}): ${r.stderr.toString().slice(-2000)}`);
  // -v logs the chat-formatted prompt; we feed exactly that text to our side.
  const log = r.stderr.toString("utf8");
  const m = /formatted_chat\.prompt: ([\s\S]*?)\n\d+\.\d+\.\d+\.\d+ D /.exec(log);
  if (!m) throw new Error("could not find the formatted prompt in llama-mtmd-cli's log");
  const runs = /eval time =\s+[\d.]+ ms \/\s+(\d+) runs/.exec(log);
  if (!runs) throw new Error("could not find the generation count in llama-mtmd-cli's log");
  return { stdout: r.stdout, prompt: m[1], runs: Number(runs[1]) };
}

describe.each(["tiny-qwen3vl", "tiny-qwen25vl"] as const)("%s", (name) => {
  test("greedy tokens equal llama-mtmd-cli's for the same images and prompt", async () => {
    const side = 224; // 7x7 tokens (32 px) or 8x8 (28 px): a size libmtmd keeps as is
    const frames = [syntheticFrame(side, side, 1), syntheticFrame(side, side, 2)];
    const images = frames.map((f, i) => {
      const p = join(dir, `${name}-${i}.ppm`);
      writePpm(p, f);
      return p;
    });
    const { stdout, prompt, runs } = runCli(name, images);

    const parts = prompt.split(MARKER);
    expect(parts).toHaveLength(images.length + 1);
    const chunks: NativeChunk[] = [];
    parts.forEach((text, i) => {
      if (text) chunks.push({ text, special: true });
      if (i < frames.length) chunks.push({ frames: [frames[i]], mergeable: false }); // the CLI does not merge
    });

    // The local static build has the CLI's CPU kernels; a prebuilt folder would pick others at run time.
    const addonPath = join(__dirname, "..", "..", "build", "Release", "timelens.node");
    const model = await VisionModel.load({
      ...fixturePair(name),
      contextSize: 4096,
      batchSize: 512,
      threads: 2,
      addonPath,
    });
    try {
      const gen = await model.exclusive(async (ops) => {
        await ops.evaluate(chunks);
        return ops.generate({ maxTokens: N_PREDICT });
      });
      expect(gen.tokens.length).toBeGreaterThan(0);
      const ours = Buffer.from(model.detokenizeBytes(gen.tokens));
      // The CLI frames its output with newlines of its own: stdout = "\n"* + our bytes + "\n"*.
      const at = stdout.indexOf(ours);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(stdout.subarray(0, at).toString("latin1")).toMatch(/^\n*$/);
      expect(stdout.subarray(at + ours.length).toString("latin1")).toMatch(/^\n*$/);
      // And the CLI generated as many tokens: 16 sampled, the last one not decoded.
      expect(runs).toBe(gen.tokens.length - 1);
    } finally {
      await model.dispose();
    }
  });
});
