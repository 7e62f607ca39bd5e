#!/usr/bin/env node
// Vulkan vs CPU parity on the tiny fixture models, with every text layer and the vision
// projector offloaded to the Vulkan device. Runs where a Vulkan build exists; without a GPU,
// Mesa's lavapipe (apt-get install mesa-vulkan-drivers libvulkan1) is the device.
//
//   node scripts/check-vulkan.mjs [--vulkan build-vulkan/Release/timelens.node] [--cpu build/Release/timelens.node]
//                                 [--tokens 24] [--flash-attention off|on|auto] [--tie 0.25] [--strict] [--json]
//
// Needs: the two builds (`npm run build` and `npm run build -- --gpu vulkan`, or prebuilt
// folders such as prebuilds/linux-x64-vulkan/timelens.node) and the fixtures (`npm run fixtures`).
// Each build runs in its own child process. For every model and input, the greedy tokens of
// the Vulkan run must equal the CPU run's. Both runs report, per step, how far the best logit
// is ahead of the second (reportMargins). The backends' float arithmetic is not bit-identical
// and random-weight models have near-tied logits, so where the tokens differ the check prints
// that margin at the first differing step. Margins are judged relative to the ones observed in
// the same run, not against a fixed number: these models' margins are themselves only
// 0.001-0.003, so any fixed tolerance near that size accepts almost every divergence. A
// difference counts as float drift when, after identical tokens,
//   - the CPU margin at the first differing step is below --tie (default 0.25) times the median
//     CPU margin of the run (a tie by this run's own standard), and
//   - on the identical steps before it, the two backends' margins agreed to within --tie times
//     that median (the logits matched where the tokens did).
// A backend bug shows up as a difference at an ordinary margin, or as disagreeing margins.
// --strict demands identical tokens.
// Exit 0: parity; 1: mismatch; 2: setup problem (missing build, no Vulkan device).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Default --tie: a fraction of the run's median CPU margin. */
export const DEFAULT_TIE = 0.25;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : Number.NaN;
};

/**
 * Judges one Vulkan run against the CPU run of the same input from their tokens and per-step
 * top1 - top2 margins. Pure; exported for test/robustness/check-vulkan-margins.test.ts.
 * Returns { identical, firstDiff, marginAtDiff, typical, agreement, drift }: `typical` is the
 * median CPU margin, `agreement` the largest |cpu - vulkan| margin gap on the identical steps
 * before the first difference, `drift` whether the difference is float rounding at a near-tie.
 */
export function judgeRun(cpu, vulkan, tie = DEFAULT_TIE) {
  const n = Math.min(cpu.tokens.length, vulkan.tokens.length);
  let firstDiff = -1;
  for (let i = 0; i < n && firstDiff < 0; i++) if (cpu.tokens[i] !== vulkan.tokens[i]) firstDiff = i;
  if (firstDiff < 0 && cpu.tokens.length !== vulkan.tokens.length) firstDiff = n;
  const typical = median(cpu.margins.slice(0, Math.max(n, 1)));
  const upTo = firstDiff < 0 ? n : firstDiff;
  let agreement = 0;
  for (let i = 0; i < upTo; i++) agreement = Math.max(agreement, Math.abs(cpu.margins[i] - vulkan.margins[i]));
  if (firstDiff < 0) return { identical: true, firstDiff, marginAtDiff: null, typical, agreement, drift: false };
  const marginAtDiff = { cpu: cpu.margins[firstDiff], vulkan: vulkan.margins[firstDiff] };
  // A length difference with identical tokens (one run stopped at end-of-generation) has no
  // margin at the difference; it is drift only if that step's margins exist and tie.
  const tied = Number.isFinite(marginAtDiff.cpu) && typical > 0 && marginAtDiff.cpu < tie * typical;
  const agreed = typical > 0 && agreement <= tie * typical;
  return { identical: false, firstDiff, marginAtDiff, typical, agreement, drift: tied && agreed };
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const FAMILIES = ["tiny-qwen3vl", "tiny-qwen25vl"];

function argValue(argv, name, fallback) {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}

/** Deterministic RGB frame: gradients and a square that moves with `seed`. */
function frame(width, height, seed) {
  const data = new Uint8Array(width * height * 3);
  const sq = Math.min(width, height) >> 2;
  const sx = (seed * 37) % Math.max(1, width - sq);
  const sy = (seed * 23) % Math.max(1, height - sq);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inSq = x >= sx && x < sx + sq && y >= sy && y < sy + sq;
      data[i] = inSq ? 255 : Math.floor((x * 255) / width);
      data[i + 1] = inSq ? (seed * 60) & 255 : Math.floor((y * 255) / height);
      data[i + 2] = ((x + y + seed * 16) * 3) & 255;
    }
  }
  return { width, height, data };
}

/** The inputs: text only, and a short "video" of two mergeable frame pairs with timestamps. */
function inputs(family) {
  const side = family === "tiny-qwen3vl" ? 128 : 112; // 4x4 tokens per frame pair
  const open = "<|im_start|>user\n";
  const close = "<|im_end|>\n<|im_start|>assistant\n";
  return {
    text: [{ text: `${open}When does the man drink water?${close}`, special: true }],
    video: [
      { text: `${open}<0.5 seconds>`, special: true },
      { frames: [frame(side, side, 1), frame(side, side, 2)], mergeable: true },
      { text: "<1.5 seconds>", special: true },
      { frames: [frame(side, side, 3), frame(side, side, 4)], mergeable: true },
      { text: `Find the moment: a square moves right.${close}`, special: true },
    ],
  };
}

// ---- worker: one build, one process --------------------------------------------------
async function worker(addonPath, gpu, maxTokens, flashAttention) {
  const { tsImport } = await import("tsx/esm/api");
  const { VisionModel } = await tsImport(pathToFileURL(join(root, "src", "runtime", "model.ts")).href, import.meta.url);
  const out = { addon: addonPath, runs: [] };
  for (const family of FAMILIES) {
    const dir = join(root, "test", "fixtures", "models", family);
    const model = await VisionModel.load({
      model: join(dir, "model.gguf"),
      mmproj: join(dir, "mmproj.gguf"),
      addonPath,
      gpu,
      gpuLayers: -1,
      mmprojGpu: true,
      contextSize: 2048,
      batchSize: 512,
      threads: 2,
      warmup: false,
      flashAttention,
    });
    try {
      for (const [name, chunks] of Object.entries(inputs(family))) {
        const t0 = performance.now();
        const r = await model.exclusive(async (ops) => {
          ops.reset();
          await ops.evaluate(chunks);
          return ops.generate({ maxTokens, temperature: 0, reportMargins: true });
        });
        out.runs.push({
          family,
          input: name,
          tokens: r.tokens,
          margins: r.margins ?? [],
          text: r.text,
          ms: Math.round(performance.now() - t0),
        });
      }
      out.gpu ??= {};
      out.gpu[family] = model.info.gpu;
    } finally {
      await model.dispose();
    }
  }
  process.stdout.write(JSON.stringify(out));
}

/** The Vulkan devices ggml sees with this environment (a child process: nothing stays loaded here). */
function vulkanDevices(addonPath, env) {
  const code = `console.log(JSON.stringify(require(${JSON.stringify(addonPath)}).devices().filter((d) => d.backend === "Vulkan")))`;
  const r = spawnSync(process.execPath, ["-e", code], { encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`${addonPath} does not load: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function runWorker(addonPath, gpu, maxTokens, flashAttention, env = process.env) {
  const r = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), "--worker", addonPath, String(gpu), String(maxTokens), String(flashAttention)],
    {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 << 20,
      env,
    },
  );
  if (r.status !== 0)
    throw new Error(
      `the ${gpu === "false" ? "CPU" : "Vulkan"} run failed (${r.signal ?? r.status}):\n${(r.stderr || "").slice(-3000)}`,
    );
  return JSON.parse(r.stdout);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === "--worker")
    return worker(
      argv[1],
      argv[2] === "false" ? false : argv[2],
      Number(argv[3]),
      argv[4] === "auto" ? "auto" : argv[4] === "true",
    );
  const vulkan = resolve(argValue(argv, "--vulkan", join(root, "build-vulkan", "Release", "timelens.node")));
  const cpu = resolve(argValue(argv, "--cpu", join(root, "build", "Release", "timelens.node")));
  const maxTokens = Number(argValue(argv, "--tokens", "24"));
  const allowDrift = !argv.includes("--strict");
  const tie = Number(argValue(argv, "--tie", String(DEFAULT_TIE)));
  if (!(tie > 0 && tie < 1)) throw new Error("--tie is a fraction of the run's median margin, between 0 and 1");
  // Flash attention: off by default. With it on, Mesa 22.3's lavapipe (Debian 12) corrupts the
  // heap or crashes in its queue thread on these tiny models (attention head size 32); both runs use the
  // same setting so the comparison stays like for like.
  const fa = argValue(argv, "--flash-attention", "off");
  if (!["on", "off", "auto"].includes(fa)) throw new Error("--flash-attention must be on, off or auto");
  const flashAttention = fa === "auto" ? "auto" : fa === "on";
  for (const [what, p] of [
    ["Vulkan", vulkan],
    ["CPU", cpu],
  ]) {
    if (!existsSync(p)) {
      console.error(
        `check-vulkan: no ${what} build at ${p} (build it: npm run build${what === "Vulkan" ? " -- --gpu vulkan" : ""})`,
      );
      process.exit(2);
    }
  }
  for (const f of FAMILIES) {
    if (!existsSync(join(root, "test", "fixtures", "models", f, "model.gguf"))) {
      console.error(`check-vulkan: fixture ${f} missing (npm run fixtures)`);
      process.exit(2);
    }
  }
  const t0 = Date.now();
  // ggml skips CPU-type Vulkan devices (lavapipe) unless GGML_VK_VISIBLE_DEVICES names them:
  // with no other device, enable device 0 for this check.
  const env = { ...process.env };
  let devices = vulkanDevices(vulkan, env);
  if (!devices.length && env.GGML_VK_VISIBLE_DEVICES === undefined) {
    env.GGML_VK_VISIBLE_DEVICES = "0";
    devices = vulkanDevices(vulkan, env);
    if (devices.length)
      console.log(
        `check-vulkan: no GPU; using the software device ${devices[0].description} (GGML_VK_VISIBLE_DEVICES=0)`,
      );
  }
  if (!devices.length) {
    console.error(
      "check-vulkan: the Vulkan build sees no Vulkan device (apt-get install mesa-vulkan-drivers libvulkan1 for lavapipe)",
    );
    process.exit(2);
  }
  const vk = runWorker(vulkan, "vulkan", maxTokens, flashAttention, env);
  const ref = runWorker(cpu, "false", maxTokens, flashAttention);
  let ok = true;
  const report = { vulkan: vk.addon, cpu: ref.addon, flashAttention: fa, offload: vk.gpu, cases: [] };
  for (const family of FAMILIES) {
    const g = vk.gpu[family];
    if (g.backend !== "Vulkan" || g.offloadedLayers !== g.totalLayers || g.projectorDevice?.backend !== "Vulkan") {
      console.error(`check-vulkan: ${family} did not run fully on Vulkan: ${JSON.stringify(g)}`);
      process.exit(2);
    }
  }
  for (const a of vk.runs) {
    const b = ref.runs.find((r) => r.family === a.family && r.input === a.input);
    const j = judgeRun(b, a, tie);
    const c = {
      family: a.family,
      input: a.input,
      identical: j.identical,
      tokens: a.tokens.length,
      firstDiff: j.firstDiff,
      marginAtDiff: j.marginAtDiff,
      medianCpuMargin: j.typical,
      marginAgreement: j.agreement,
      vulkanMs: a.ms,
      cpuMs: b.ms,
      text: JSON.stringify(a.text),
      cpuText: j.identical ? undefined : JSON.stringify(b.text),
      floatDrift: j.drift,
    };
    report.cases.push(c);
    if (!j.identical && !(allowDrift && j.drift)) ok = false;
  }
  if (argv.includes("--json")) console.log(JSON.stringify(report, null, 2));
  else {
    const dev = vk.gpu[FAMILIES[0]];
    console.log(
      `check-vulkan: ${dev.offloadedLayers}/${dev.totalLayers} layers on ${dev.layerDevices.map((d) => `${d.name} (${d.description})`).join(", ")}, projector on ${dev.projectorDevice.name}`,
    );
    for (const c of report.cases) {
      const diff = c.identical
        ? ""
        : `, first differing token #${c.firstDiff} (top1-top2 logit there: cpu ${c.marginAtDiff.cpu?.toFixed(4)}, vulkan ${c.marginAtDiff.vulkan?.toFixed(4)}${c.floatDrift ? `: a near-tie, < ${tie} x the median` : ""})`;
      console.log(
        `  ${c.identical ? "same" : "DIFF"}  ${c.family.padEnd(14)} ${c.input.padEnd(6)} ${c.tokens} tokens, vulkan ${c.vulkanMs} ms, cpu ${c.cpuMs} ms, median cpu margin ${c.medianCpuMargin.toFixed(4)}, largest margin gap on equal steps ${c.marginAgreement.toFixed(4)}${diff}`,
      );
      console.log(`        vulkan: ${c.text.slice(0, 80)}`);
      if (!c.identical) console.log(`        cpu: ${c.cpuText.slice(0, 80)}`);
    }
    const drifted = report.cases.filter((c) => !c.identical).length;
    console.log(
      `check-vulkan: ${!ok ? "MISMATCH" : !drifted ? "tokens identical" : `passed: ${drifted} run(s) diverge, each at a near-tie relative to the run's margins (float rounding, not a backend error)`} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
  process.exit(ok ? 0 : 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`check-vulkan: ${e.stack || e.message}`);
    process.exit(2);
  });
}
