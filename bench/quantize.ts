/**
 * `npm run bench -- quantize [tiny-qwen3vl|medium-qwen3vl] [TYPE ...]`: wall time of quantizeModel
 * next to llama-quantize (same source, same input, same threads) in the same run, alternating,
 * median of 5, and whether the bytes are equal. llama-quantize's time includes its process
 * start; ours includes the header check in TypeScript.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { quantizeModel, parseQuantType } from "../src/quantize";
import { fmt, table } from "./util";

const REPS = 5;
const THREADS = 2;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function runQuantizeBench(args: string[]): Promise<void> {
  const fixture = args[0] && !args[0].startsWith("Q") && !args[0].startsWith("q") ? args[0] : "tiny-qwen3vl";
  const types = args.filter((a) => a !== fixture).map(parseQuantType);
  if (!types.length) types.push("Q8_0", "Q4_K_M", "Q6_K");
  const [fx] = await ensureFixtures({ names: [fixture], sizes: ["tiny", "medium"] });
  if (!fx) throw new Error(`unknown fixture ${fixture}`);
  const input = join(__dirname, "..", "test", "fixtures", "models", fixture, "model.gguf");
  const tool = execFileSync(
    process.execPath,
    [join(__dirname, "..", "scripts", "build-mtmd-cli.mjs"), "--tool", "llama-quantize"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  )
    .toString()
    .trim()
    .split("\n")
    .pop()!;
  const dir = mkdtempSync(join(tmpdir(), "timelens-bench-quantize-"));
  const rows = [["type", "quantizeModel", "llama-quantize", "ratio", "same bytes"]];
  try {
    for (const type of types) {
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < REPS; i++) {
        let t = performance.now();
        await quantizeModel({ input, output: join(dir, "ours.gguf"), type, threads: THREADS });
        ours.push(performance.now() - t);
        t = performance.now();
        const r = spawnSync(tool, [input, join(dir, "theirs.gguf"), type, String(THREADS)], { stdio: "ignore" });
        theirs.push(performance.now() - t);
        if (r.status !== 0) throw new Error(`llama-quantize failed (${r.status})`);
      }
      const same = readFileSync(join(dir, "ours.gguf")).equals(readFileSync(join(dir, "theirs.gguf")));
      rows.push([
        type,
        fmt(median(ours)),
        fmt(median(theirs)),
        (median(ours) / median(theirs)).toFixed(2),
        same ? "yes" : "NO",
      ]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`quantize ${fixture} (${THREADS} threads, median of ${REPS})\n${table(rows)}`);
}
