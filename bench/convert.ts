/**
 * `npm run bench -- convert [layers]`: converts a synthetic checkpoint with TimeLens-8B's real
 * widths (hidden 4096, ffn 12288, vocab 151936, vision 1152; `layers` text layers, default 1:
 * about 2.9 GB of bf16) to f16, and copies the same bytes with fs.copyFile in the same run.
 * Reports MB/s of both, the converter's CPU time and peak RSS (measured in a child process).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { FixtureConfig } from "../scripts/fixtures/configs";
import { writeTinyCheckpoint } from "../scripts/fixtures/hf-checkpoint";
import { BENCH_OUT, fmt, table } from "./util";

function timelens8bShapes(layers: number): FixtureConfig {
  return {
    name: "bench-timelens-8b",
    size: "medium",
    family: "qwen3vl",
    architecture: "qwen3vl",
    projectorType: "qwen3vl_merger",
    text: {
      nEmbd: 4096,
      nLayer: layers,
      nHead: 32,
      nHeadKv: 8,
      headDim: 128,
      nFf: 12288,
      nCtx: 262144,
      ropeSections: [24, 20, 20, 0],
      ropeFreqBase: 5_000_000,
      nDeepstack: 1,
      embdType: "F16",
      weightType: "F16",
      reducedVocab: null,
    },
    vision: {
      nEmbd: 1152,
      nFf: 4304,
      nLayer: 2,
      nHead: 16,
      patchSize: 16,
      imageSize: 768,
      deepstackLayers: [1],
      nWaPattern: 0,
      weightType: "F16",
    },
  };
}

function dirBytes(dir: string, filter: (f: string) => boolean): number {
  return readdirSync(dir)
    .filter(filter)
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/** Runs the conversion in a child process so its peak RSS is its own. */
function convertInChild(dir: string, out: string, src: string): { ms: number; maxRssKiB: number; cpuMs: number } {
  const script = `
    const { convertCheckpoint } = require(${JSON.stringify(join(src, "convert"))});
    const t0 = performance.now();
    convertCheckpoint({ dir: ${JSON.stringify(dir)}, outfile: ${JSON.stringify(join(out, "model.gguf"))}, mmprojOutfile: ${JSON.stringify(join(out, "mmproj.gguf"))} })
      .then(() => { const u = process.resourceUsage(); console.log(JSON.stringify({ ms: performance.now() - t0, maxRssKiB: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 })); })
      .catch((e) => { console.error(e); process.exit(1); });`;
  const stdout = execFileSync(process.execPath, ["--import", "tsx", "-e", script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(stdout.trim().split("\n").pop()!) as { ms: number; maxRssKiB: number; cpuMs: number };
}

function copyAll(dir: string, out: string): number {
  const t0 = performance.now();
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".safetensors"))) copyFileSync(join(dir, f), join(out, f));
  return performance.now() - t0;
}

/**
 * `CONVERT_BASELINE=<dir>`: the `src/` folder of another checkout (e.g. after
 * `git archive main src | tar -x -C /tmp/base`, `/tmp/base/src`): its converter runs as one more
 * row of the same table, so before/after figures come from one run on the same page cache.
 */
export async function runConvertBench(layers = 1, baseline = process.env.CONVERT_BASELINE): Promise<void> {
  const dir = join(BENCH_OUT, `convert-ckpt-${layers}l`);
  const out = join(BENCH_OUT, "convert-out");
  if (!existsSync(join(dir, "model.safetensors.index.json"))) {
    console.log(`writing the synthetic checkpoint (${layers} text layers) to ${dir} ...`);
    await writeTinyCheckpoint(dir, { family: "qwen3vl", layout: "new", shards: 2, config: timelens8bShapes(layers) });
  }
  const input = dirBytes(dir, (f) => f.endsWith(".safetensors"));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const copy1 = copyAll(dir, out); // also warms the page cache for both runs alike
  for (const f of readdirSync(out)) rmSync(join(out, f));
  const base = baseline ? convertInChild(dir, out, baseline) : null;
  for (const f of readdirSync(out)) rmSync(join(out, f));
  const conv = convertInChild(dir, out, join(__dirname, "..", "src"));
  const output = dirBytes(out, (f) => f.endsWith(".gguf"));
  for (const f of readdirSync(out)) rmSync(join(out, f));
  const copy2 = copyAll(dir, out);
  rmSync(out, { recursive: true, force: true });
  const mbs = (bytes: number, ms: number) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
  console.log(
    `\ninput ${(input / 1e9).toFixed(2)} GB of bf16 safetensors -> ${(output / 1e9).toFixed(2)} GB of f16 GGUF (text + mmproj)\n`,
  );
  const row = (what: string, r: { ms: number; maxRssKiB: number; cpuMs: number }) => [
    what,
    fmt(r.ms),
    mbs(input, r.ms),
    fmt(r.cpuMs),
    `${(r.maxRssKiB / 1024).toFixed(0)} MiB`,
  ];
  console.log(
    table([
      ["run", "time", "input rate", "CPU time", "peak RSS"],
      ["fs.copyFile of the shards (before)", fmt(copy1), mbs(input, copy1), "-", "-"],
      ...(base ? [row(`baseline convert (${baseline})`, base)] : []),
      row("timelens convert --outtype f16", conv),
      ["fs.copyFile of the shards (after)", fmt(copy2), mbs(input, copy2), "-", "-"],
    ]),
  );
}
