/**
 * `npm run bench -- llama [qwen3vl|qwen25vl] [--depth N] [--rounds R] [--pipeline]`: our runtime
 * next to llama.cpp's own `llama-bench`, built from the same source and CPU flags (scripts/build-mtmd-cli.mjs), on the
 * MEDIUM fixture's text model, 2 threads, batch = ubatch = 512, flash attention on, at the
 * depth a real grounding reaches (docs/robustness.md, "Runtime overhead against llama.cpp"):
 *
 *  - depth D: the prompt of a 60 s 640x480 video at the profile's defaults (planned image
 *    tokens plus the rendered prompt's text tokens), as ground() would build it: the TimeLens
 *    budget (14336 tokens) is what caps it, so D is the depth of a full-budget grounding;
 *    `--depth N` sets D directly (for a quicker run);
 *  - ours: VisionModel.evaluate of D plain text tokens into an empty context, then 32 greedy
 *    tokens at depth D: the same work as llama-bench's tests, through our addon;
 *  - llama-bench: pp D (prefill D tokens at depth 0) and tg 32 at depth D, one repetition each;
 *  - with --pipeline also one real ground() of that video (its prefill includes the LLM decode
 *    of image embeddings; its vision encode is reported apart).
 *
 * `--rounds R` alternates ours and llama-bench R times and shows each cell's best round (and all).
 * Prints the rates side by side and ours / llama.cpp. A reported figure, not a pass/fail test.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Grounder } from "../src/session";
import { detectProfile } from "../src/prompt/profiles";
import { renderPrompt } from "../src/prompt/render";
import { VisionModel } from "../src/runtime/model";
import { planFrames } from "../src/video/plan";
import { probeVideo } from "../src/video/probe";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { benchVideo, table } from "./util";

const THREADS = 2;
const BATCH = 512;
const GEN_TOKENS = 32;
const LOAD = { threads: THREADS, batchSize: BATCH, flashAttention: true, contextSize: 16384 } as const;
const QUERY = "a red square moves to the right";

interface Rates {
  prefillTokens: number;
  prefillPerSecond: number;
  genTokens: number;
  genPerSecond: number;
}

/** llama-bench's path; builds the parity tools first when it is missing. */
async function llamaBenchPath(): Promise<string> {
  const script = pathToFileURL(join(__dirname, "..", "scripts", "build-mtmd-cli.mjs")).href;
  const { toolPath, buildMtmdCli } = (await import(script)) as {
    toolPath(t: string): string;
    buildMtmdCli(log: (l: string) => void): string;
  };
  const exe = toolPath("llama-bench");
  if (!existsSync(exe)) buildMtmdCli((l) => console.error(l));
  return exe;
}

/** One llama-bench test; returns its tokens/s. */
function llamaBench(exe: string, model: string, args: string[]): { tokensPerSecond: number; stddev: number } {
  const all = [
    "-m",
    model,
    "-t",
    String(THREADS),
    "-b",
    String(BATCH),
    "-ub",
    String(BATCH),
    "-fa",
    "on",
    "-ngl",
    "0",
    "-r",
    "1",
    "--no-warmup",
    "-o",
    "json",
    ...args,
  ];
  const r = spawnSync(exe, all, { encoding: "utf8", maxBuffer: 16 << 20 });
  if (r.status !== 0)
    throw new Error(`llama-bench ${all.join(" ")} failed (${r.signal ?? r.status}): ${r.stderr.slice(-2000)}`);
  const [row] = JSON.parse(r.stdout) as Array<{ avg_ts: number; stddev_ts: number }>;
  return { tokensPerSecond: row.avg_ts, stddev: row.stddev_ts };
}

/** Ours, the whole pipeline: one grounding at the profile's defaults. */
async function pipeline(
  model: string,
  mmproj: string,
  video: string,
): Promise<Rates & { encodeMs: number; text: string }> {
  const g = await Grounder.load({ model, mmproj, ...LOAD });
  try {
    const r = await g.ground(video, QUERY, { maxNewTokens: GEN_TOKENS });
    return {
      prefillTokens: r.usage.promptTokens,
      prefillPerSecond: r.usage.promptTokens / (r.timings.prefillMs / 1000),
      genTokens: r.usage.generatedTokens,
      genPerSecond: r.timings.tokensPerSecond,
      encodeMs: r.timings.encodeMs,
      text: r.text,
    };
  } finally {
    await g.dispose();
  }
}

/** The KV depth ground() reaches on `video` at the profile's defaults: planned image tokens + prompt text tokens. */
export async function groundingDepth(m: VisionModel, video: string): Promise<number> {
  const profile = detectProfile({
    architecture: m.info.architecture,
    projectorType: m.info.projectorType,
    name: m.info.name ?? "",
  });
  const d = profile.video;
  const plan = planFrames(await probeVideo(video), {
    profile,
    fps: d.fps,
    minTokens: d.minTokens,
    totalTokens: d.totalTokens,
  });
  const prompt = renderPrompt({
    chatTemplate: m.info.chatTemplate ?? "",
    profile,
    pairs: plan.pairs,
    query: QUERY,
    tokensPerPair: plan.tokensPerPair,
  });
  let depth = 0;
  for (const s of prompt.segments)
    depth += s.kind === "text" ? m.tokenize(s.text, { special: s.special }).length : plan.tokensPerPair;
  return depth;
}

/** Ours, like llama-bench: `depth` text tokens into an empty context, then greedy tokens at that depth. */
async function textOnly(model: string, mmproj: string, video: string, fixedDepth?: number): Promise<Rates> {
  const m = await VisionModel.load({ model, mmproj, ...LOAD, warmup: false });
  try {
    const depth = fixedDepth ?? (await groundingDepth(m, video));
    // " the" is one token in the Qwen2 vocabulary, so the text is exactly `depth` tokens.
    const text = " the".repeat(depth);
    const n = m.tokenize(text).length;
    if (n !== depth) throw new Error(`the filler text is ${n} tokens, not ${depth}`);
    return await m.exclusive(async (ops) => {
      ops.reset();
      const t0 = performance.now();
      await ops.evaluate([{ text, special: false }], { reserve: GEN_TOKENS });
      const prefillMs = performance.now() - t0;
      const gen = await ops.generate({ maxTokens: GEN_TOKENS, temperature: 0 });
      return {
        prefillTokens: depth,
        prefillPerSecond: depth / (prefillMs / 1000),
        genTokens: gen.tokens.length,
        genPerSecond: gen.timings.tokensPerSecond,
      };
    });
  } finally {
    await m.dispose();
  }
}

export async function runLlamaBench(args: string[] = []): Promise<void> {
  const family = args.includes("qwen25vl") ? "qwen25vl" : "qwen3vl";
  const [fx] = await ensureFixtures({ names: [`medium-${family}`], log: (l) => console.error(l) });
  const exe = await llamaBenchPath();
  const video = benchVideo(60, "640x480");
  const at = args.indexOf("--depth");
  const fixedDepth = at >= 0 ? Number(args[at + 1]) : undefined;
  if (fixedDepth !== undefined && !(Number.isInteger(fixedDepth) && fixedDepth > 0))
    throw new Error("--depth needs a positive integer");
  const ra = args.indexOf("--rounds");
  const rounds = ra >= 0 ? Number(args[ra + 1]) : 1;
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error("--rounds needs a positive integer");
  const load = loadavg()[0].toFixed(2);
  // Rounds alternate ours and llama-bench so that a change in the machine's load hits both;
  // each cell shows the best round (the least disturbed), every round's value after it.
  const runs = { ours: [] as Rates[], pp: [] as number[], tg: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    console.error(`llama: round ${r + 1}/${rounds}: ours, text prefill + generate ...`);
    runs.ours.push(await textOnly(fx.model, fx.mmproj, video, fixedDepth));
    const d = runs.ours[0].prefillTokens;
    console.error(`llama: llama-bench pp${d} ...`);
    runs.pp.push(llamaBench(exe, fx.model, ["-p", String(d), "-n", "0"]).tokensPerSecond);
    console.error(`llama: llama-bench tg${GEN_TOKENS} @ d${d} ...`);
    runs.tg.push(llamaBench(exe, fx.model, ["-p", "0", "-n", String(GEN_TOKENS), "-d", String(d)]).tokensPerSecond);
  }
  const best = (xs: number[]) => Math.max(...xs);
  const depth = runs.ours[0].prefillTokens;
  const ours: Rates = {
    prefillTokens: depth,
    prefillPerSecond: best(runs.ours.map((o) => o.prefillPerSecond)),
    genTokens: Math.min(...runs.ours.map((o) => o.genTokens)),
    genPerSecond: best(runs.ours.map((o) => o.genPerSecond)),
  };
  const pp = { tokensPerSecond: best(runs.pp) };
  const tg = { tokensPerSecond: best(runs.tg) };
  const pipe = args.includes("--pipeline") ? await pipeline(fx.model, fx.mmproj, video) : null;
  const f = (x: number) => x.toFixed(1);
  const each = (xs: number[]) => (xs.length > 1 ? ` (${xs.map(f).join(", ")})` : "");
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const rows = [
    ["", "prefill tokens/s", "generate tokens/s", "ours / llama-bench (prefill, generate)"],
    [
      `llama-bench (pp${depth}, tg${GEN_TOKENS} @ d${depth})`,
      f(pp.tokensPerSecond) + each(runs.pp),
      f(tg.tokensPerSecond) + each(runs.tg),
      "",
    ],
    [
      `ours, text (${depth} tokens, ${ours.genTokens} generated)`,
      f(ours.prefillPerSecond) + each(runs.ours.map((o) => o.prefillPerSecond)),
      f(ours.genPerSecond) + each(runs.ours.map((o) => o.genPerSecond)),
      `${ratio(ours.prefillPerSecond, pp.tokensPerSecond)}, ${ratio(ours.genPerSecond, tg.tokensPerSecond)}`,
    ],
  ];
  if (pipe) {
    rows.push([
      `ours, ground() (${pipe.prefillTokens}-token video prompt, ${pipe.genTokens} generated)`,
      f(pipe.prefillPerSecond),
      f(pipe.genPerSecond),
      `${ratio(pipe.prefillPerSecond, pp.tokensPerSecond)}, ${ratio(pipe.genPerSecond, tg.tokensPerSecond)}`,
    ]);
  }
  console.log(
    `medium-${family} text model, ${THREADS} threads, batch/ubatch ${BATCH}, flash attention on, ${rounds} alternating round(s), best shown; ` +
      `depth ${depth}${fixedDepth ? " (--depth)" : ` = the prompt of ground() on ${video.split("/").pop()} at the profile's defaults`}; load average at start ${load}\n${table(rows)}` +
      (pipe
        ? `\n(ground() prefill counts the LLM decode of image embeddings and text; its vision encode took ${(pipe.encodeMs / 1000).toFixed(1)} s more)`
        : ""),
  );
}
