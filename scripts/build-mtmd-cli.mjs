#!/usr/bin/env node
// Builds llama.cpp's own `llama-mtmd-cli` and the other PARITY_TOOLS from the same pinned
// source and CPU flags as the addon, for parity tests (our greedy tokens, our quantized bytes
// must equal llama.cpp's). The build dir lives in the cache, keyed by release, so it is built
// once per machine.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, ensureLlamaSource } from "./llama-source.mjs";

// Every llama.cpp tool a parity test runs; one build makes them all.
export const PARITY_TOOLS = [
  "llama-mtmd-cli",
  "llama-quantize", // test/quantize/parity.test.ts: our quantizer's bytes against llama-quantize's
  "llama-bench", // bench/llama.ts: llama.cpp's own prefill/generate speed next to our runtime's
];

// Where a parity tool lands in the shared build dir.
export function toolPath(tool) {
  const { release } = ensureLlamaSource({ log: (l) => console.error(l) });
  const exe = process.platform === "win32" ? `${tool}.exe` : tool;
  return join(cacheRoot(), "cli", `${release.tag}-nlc${release.nodeLlamaCpp}-cpu`, "bin", exe);
}

export function mtmdCliPath() {
  return toolPath("llama-mtmd-cli");
}

function run(cmd, args, env) {
  // Build output goes to stderr: stdout carries only the binary's path.
  const r = spawnSync(cmd, args, { stdio: ["ignore", process.stderr, "inherit"], env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(" ")} ... failed (${r.status})`);
}

export function buildMtmdCli(log = console.error) {
  const { dir } = ensureLlamaSource({ log });
  const exePath = mtmdCliPath();
  const buildDir = dirname(dirname(exePath));
  const env = { ...process.env };
  const launcher =
    spawnSync("ccache", ["--version"], { stdio: "ignore" }).status === 0
      ? ["-DCMAKE_C_COMPILER_LAUNCHER=ccache", "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
      : [];
  if (launcher.length) env.CCACHE_DIR = process.env.CCACHE_DIR || join(cacheRoot(), "ccache");
  // Same CPU flags as the addon's default build (GGML_NATIVE off) so kernels match.
  run(
    "cmake",
    [
      "-S",
      dir,
      "-B",
      buildDir,
      "-DCMAKE_BUILD_TYPE=Release",
      "-DBUILD_SHARED_LIBS=OFF",
      "-DGGML_NATIVE=OFF",
      "-DLLAMA_BUILD_TESTS=OFF",
      "-DLLAMA_BUILD_EXAMPLES=OFF",
      "-DLLAMA_BUILD_SERVER=OFF",
      "-DLLAMA_CURL=OFF",
      "-DLLAMA_OPENSSL=OFF",
      "-DMTMD_VIDEO=OFF",
      "-DLLAMA_SUBPROCESS=OFF",
      "-DCMAKE_POSITION_INDEPENDENT_CODE=ON",
      ...launcher,
    ],
    env,
  );
  run("cmake", ["--build", buildDir, "--target", ...PARITY_TOOLS, "-j", String(availableParallelism())], env);
  for (const tool of PARITY_TOOLS) {
    if (!existsSync(toolPath(tool))) throw new Error(`${tool} not found at ${toolPath(tool)} after the build`);
  }
  return exePath;
}

// `node scripts/build-mtmd-cli.mjs` builds (if needed) and prints the binary's path;
// `--path` only prints where it would be; `--tool NAME` prints that parity tool's path instead.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const toolAt = process.argv.indexOf("--tool");
  const tool = toolAt >= 0 ? process.argv[toolAt + 1] : "llama-mtmd-cli";
  if (!PARITY_TOOLS.includes(tool)) throw new Error(`unknown parity tool "${tool}"; known: ${PARITY_TOOLS.join(", ")}`);
  const exe = toolPath(tool);
  if (process.argv.includes("--path")) console.log(exe);
  else {
    if (!PARITY_TOOLS.every((t) => existsSync(toolPath(t)))) buildMtmdCli((l) => console.error(l));
    console.log(exe);
  }
}
