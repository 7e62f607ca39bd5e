#!/usr/bin/env node
// Builds the addon from source: fetches the pinned llama.cpp release, then runs cmake-js.
//   node scripts/build.mjs [--gpu cpu|cuda|vulkan|metal] [--native] [--debug] [--jobs N] [--dl]
//                          [--cmake NAME=VALUE ...]
// Env: TIMELENS_GPU (same as --gpu), TIMELENS_CACHE_DIR (cache root), TIMELENS_NO_CCACHE=1,
// TIMELENS_CMAKE_FLAGS="NAME=VALUE ..." (extra CMake definitions, e.g. CMAKE_CUDA_ARCHITECTURES),
// VULKAN_SDK (a Vulkan SDK: its headers, glslc and loader are used).
// Output: build/Release/timelens.node (cpu) or build-<gpu>/Release/timelens.node: one file,
// llama.cpp linked in statically, tuned for any x86-64 / arm64 CPU (--native: this machine's).
// --dl (used by prebuild.mjs): ggml's dynamically loaded backends (GGML_BACKEND_DL) with every
// CPU variant, so one binary runs on any CPU of its arch and picks the best kernels at run time;
// output build-dl-<gpu>/Release/: timelens.node + libtimelens-*.so|dylib|dll + libggml-*.
// Compiled objects are cached with ccache (when installed) in <cache>/ccache, so a second
// build, or a build in a fresh clone, does not recompile llama.cpp.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { availableParallelism, platform } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, ensureLlamaSource } from "./llama-source.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const GPUS = ["cpu", "cuda", "vulkan", "metal"];

export function parseArgs(argv) {
  const args = {
    gpu: process.env.TIMELENS_GPU || (platform() === "darwin" ? "metal" : "cpu"),
    native: false,
    debug: false,
    dl: false,
    jobs: availableParallelism(),
    cmake: (process.env.TIMELENS_CMAKE_FLAGS || "").split(/\s+/).filter(Boolean),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--gpu") args.gpu = value();
    else if (a.startsWith("--gpu=")) args.gpu = a.slice(6);
    else if (a === "--native") args.native = true;
    else if (a === "--debug") args.debug = true;
    else if (a === "--dl") args.dl = true;
    else if (a === "--cmake") args.cmake.push(value());
    else if (a.startsWith("--cmake=")) args.cmake.push(a.slice(8));
    else if (a === "--jobs" || a === "-j") args.jobs = Number(value());
    else if (a === "--help" || a === "-h") args.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (!GPUS.includes(args.gpu)) throw new Error(`--gpu must be one of ${GPUS.join(", ")}, got "${args.gpu}"`);
  if (args.gpu === "metal" && platform() !== "darwin") throw new Error("--gpu metal builds only on macOS");
  if (args.dl && args.native) throw new Error("--dl builds every CPU variant; --native makes no sense with it");
  for (const f of args.cmake)
    if (!/^[A-Za-z_][A-Za-z0-9_]*(:[A-Z]+)?=/.test(f)) throw new Error(`--cmake wants NAME=VALUE, got "${f}"`);
  return args;
}

/** CMake -D flags for a GPU variant. GPU code is pinned so every build of a variant is alike. */
export function gpuFlags(gpu) {
  switch (gpu) {
    case "cuda":
      return ["GGML_CUDA=ON"];
    case "vulkan":
      return ["GGML_VULKAN=ON"];
    case "metal":
      return ["GGML_METAL=ON", "GGML_METAL_EMBED_LIBRARY=ON"];
    default:
      return platform() === "darwin" ? ["GGML_METAL=OFF"] : [];
  }
}

export function outDir(gpu, dl = false) {
  if (dl) return join(root, `build-dl-${gpu}`);
  return join(root, gpu === "cpu" ? "build" : `build-${gpu}`);
}

function hasCommand(cmd) {
  return spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;
}

function which(cmd) {
  for (const dir of (process.env.PATH || "").split(platform() === "win32" ? ";" : ":")) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

/**
 * ggml's Vulkan shaders include two (Intel-Xe-only flash-attention decode) that need
 * GL_KHR_cooperative_matrix in glslc. Older glslc (Debian 12's shaderc 2023.2, Ubuntu 22.04)
 * cannot compile them, and the whole build fails. On such a toolchain we point CMake at a
 * small wrapper that compiles every other shader with the real glslc and writes an empty
 * compute shader for cooperative-matrix variants. Those pipelines are only created on Intel
 * Xe GPUs, so such a build is fine for other GPUs (and lavapipe) but not to ship: the build
 * stamp records it and prebuild.mjs refuses it. A current Vulkan SDK needs no wrapper.
 * Returns extra CMake flags (and a note), or nothing when glslc is recent enough.
 */
/**
 * ggml's Vulkan backend needs Vulkan headers >= 1.3.261 (VK_EXT_layer_settings). Checks the
 * headers CMake will use before a long build fails on them; with VULKAN_SDK set, points CMake
 * at that SDK's headers explicitly (a cached older include dir would otherwise win).
 */
function vulkanHeaderFlags() {
  if (platform() === "win32") return [];
  const sdkInclude = process.env.VULKAN_SDK ? join(process.env.VULKAN_SDK, "include") : null;
  const include =
    sdkInclude && existsSync(join(sdkInclude, "vulkan", "vulkan_core.h"))
      ? sdkInclude
      : ["/usr/include", "/usr/local/include", "/opt/homebrew/include"].find((d) =>
          existsSync(join(d, "vulkan", "vulkan_core.h")),
        );
  if (!include) throw new Error("no Vulkan headers found: install a Vulkan SDK (set VULKAN_SDK) or libvulkan-dev");
  const core = readFileSync(join(include, "vulkan", "vulkan_core.h"), "utf8");
  const version = Number(/#define VK_HEADER_VERSION (\d+)/.exec(core)?.[1] ?? 0);
  if (version < 261) {
    throw new Error(
      `the Vulkan headers in ${include} are version 1.x.${version}; llama.cpp's Vulkan backend needs 1.3.261 or newer. Install a current Vulkan SDK and set VULKAN_SDK (see README: "Vulkan on Debian 12 / Ubuntu 22.04")`,
    );
  }
  return include === sdkInclude ? [`Vulkan_INCLUDE_DIR=${include}`] : [];
}

/**
 * ggml's CUDA backend needs nvcc and cuBLAS. A toolkit without cuBLAS (a minimal nvcc-only
 * install) fails late in CMake's generate step with "CUDA::cublas target not found"; say it
 * first, plainly.
 */
function checkCudaToolkit() {
  const nvcc =
    [process.env.CUDA_PATH, process.env.CUDA_HOME]
      .filter(Boolean)
      .map((d) => join(d, "bin", platform() === "win32" ? "nvcc.exe" : "nvcc"))
      .find((p) => existsSync(p)) || which(platform() === "win32" ? "nvcc.exe" : "nvcc");
  if (!nvcc) throw new Error("--gpu cuda needs the CUDA toolkit (nvcc not found on PATH, CUDA_PATH or CUDA_HOME)");
  const real = (() => {
    try {
      return realpathSync(nvcc);
    } catch {
      return nvcc;
    }
  })();
  const roots = [
    dirname(dirname(real)),
    dirname(dirname(nvcc)),
    process.env.CUDA_PATH,
    process.env.CUDA_HOME,
    "/usr/local/cuda",
    "/usr",
  ].filter(Boolean);
  const includes = roots.flatMap((r) => [
    join(r, "include"),
    join(r, "targets", process.arch === "arm64" ? "sbsa-linux" : "x86_64-linux", "include"),
    join(r, "math_libs", "include"),
  ]);
  if (!includes.some((d) => existsSync(join(d, "cublas_v2.h")))) {
    throw new Error(
      `--gpu cuda: ${nvcc} is there but cuBLAS is not (no cublas_v2.h next to it): install the toolkit's cuBLAS development files (e.g. libcublas-dev-12-x, or the full CUDA toolkit)`,
    );
  }
}

function glslcCompat(llamaDir, out, log) {
  if (platform() === "win32" || process.env.TIMELENS_GLSLC_COMPAT === "0") return null;
  const glslc =
    process.env.VULKAN_SDK && existsSync(join(process.env.VULKAN_SDK, "bin", "glslc"))
      ? join(process.env.VULKAN_SDK, "bin", "glslc")
      : which("glslc");
  if (!glslc) return null; // CMake's FindVulkan reports the missing glslc itself
  const test = join(llamaDir, "ggml", "src", "ggml-vulkan", "vulkan-shaders", "feature-tests", "coopmat.comp");
  const probe = spawnSync(glslc, ["-o", "-", "-fshader-stage=compute", "--target-env=vulkan1.3", test], {
    encoding: "utf8",
  });
  if (probe.status === 0 && !/not supported/.test(probe.stderr || "")) return null;
  const dir = join(out, "glslc-compat");
  mkdirSync(dir, { recursive: true });
  const stubSrc = join(dir, "empty.comp");
  const stub = join(dir, "empty.spv");
  writeFileSync(stubSrc, "#version 450\nlayout(local_size_x = 1) in;\nvoid main() {}\n");
  const r = spawnSync(glslc, ["-fshader-stage=compute", "--target-env=vulkan1.2", stubSrc, "-o", stub], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`glslc cannot compile an empty shader: ${r.stderr}`);
  const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  const wrapper = join(dir, "glslc");
  writeFileSync(
    wrapper,
    [
      "#!/bin/sh",
      "# Written by timelens-native scripts/build.mjs (see glslcCompat there): this glslc lacks",
      "# GL_KHR_cooperative_matrix; cooperative-matrix shader variants become empty shaders.",
      "out=; dep=; src=; prev=",
      'for a in "$@"; do',
      '  case "$prev" in -o) out=$a ;; -MF) dep=$a ;; esac',
      '  case "$a" in *.comp) src=$a ;; esac',
      "  prev=$a",
      "done",
      'case "$out" in',
      "  *_cm1.spv|*_cm2.spv)",
      `    cp ${q(stub)} "$out" || exit 1`,
      '    if [ -n "$dep" ]; then printf \'%s: %s\\n\' "$out" "$src" > "$dep"; fi',
      `    echo "$out" >> ${q(join(dir, "stubbed.txt"))}`,
      "    exit 0 ;;",
      "esac",
      `exec ${q(glslc)} "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(wrapper, 0o755);
  log(
    `timelens-native: ${glslc} lacks GL_KHR_cooperative_matrix; building with ${wrapper} (Intel-Xe-only cooperative-matrix shaders left empty: fine for this machine, not for shipping; install a current Vulkan SDK for a full build)`,
  );
  return {
    flags: [`Vulkan_GLSLC_EXECUTABLE=${wrapper}`],
    note: "glslc-compat: cooperative-matrix shaders are empty (old glslc)",
  };
}

export function build(args, log = console.error) {
  const { dir: llamaDir, release } = ensureLlamaSource({ log });
  const out = outDir(args.gpu, args.dl);
  const flags = [
    `LLAMA_CPP_DIR=${llamaDir}`,
    `TIMELENS_NATIVE_CPU=${args.native ? "ON" : "OFF"}`,
    `TIMELENS_BACKEND_DL=${args.dl ? "ON" : "OFF"}`,
    ...gpuFlags(args.gpu),
  ];
  const notes = [];
  if (args.gpu === "cuda") checkCudaToolkit();
  if (args.gpu === "vulkan") {
    flags.push(...vulkanHeaderFlags());
    const compat = glslcCompat(llamaDir, out, log);
    if (compat) {
      flags.push(...compat.flags);
      notes.push(compat.note);
    }
  }
  flags.push(...(args.cmake ?? []));
  const env = { ...process.env };
  if (!process.env.TIMELENS_NO_CCACHE && hasCommand("ccache")) {
    env.CCACHE_DIR = process.env.CCACHE_DIR || join(cacheRoot(), "ccache");
    env.CCACHE_BASEDIR = root; // our own sources hash by relative path, so clones share hits
    env.CCACHE_NOHASHDIR = "1";
    flags.push(
      "CMAKE_C_COMPILER_LAUNCHER=ccache",
      "CMAKE_CXX_COMPILER_LAUNCHER=ccache",
      "CMAKE_CUDA_COMPILER_LAUNCHER=ccache",
    );
  } else {
    log(
      "timelens-native: ccache not found; the llama.cpp build will not be cached (apt-get install ccache / brew install ccache)",
    );
  }
  const cmakeJs = join(dirname(fileURLToPath(import.meta.resolve("cmake-js/package.json"))), "bin", "cmake-js");
  const common = [
    "--out",
    out,
    "--parallel",
    String(args.jobs),
    ...(args.debug ? ["--debug"] : []),
    ...flags.map((f) => `--CD${f}`),
  ];
  log(
    `timelens-native: building the ${args.gpu}${args.dl ? " (dynamic backends, all CPU variants)" : ""} addon against llama.cpp ${release.tag} (first build: several minutes)`,
  );
  const t0 = Date.now();
  // `configure` every time (seconds): `cmake-js build` alone keeps an existing build dir's old
  // -D values, so a changed flag would be silently ignored.
  for (const step of ["configure", "build"]) {
    const r = spawnSync(process.execPath, [cmakeJs, step, ...common], { cwd: root, env, stdio: "inherit" });
    if (r.status !== 0) throw new Error(`cmake-js ${step} failed with exit code ${r.status}`);
  }
  const binary = join(out, args.debug ? "Debug" : "Release", "timelens.node");
  if (!existsSync(binary)) throw new Error(`build finished but ${binary} is missing`);
  const stamp = {
    release,
    gpu: args.gpu,
    native: args.native,
    dl: args.dl,
    platform: platform(),
    arch: process.arch,
    notes,
    flags: flags.filter((f) => !f.startsWith("LLAMA_CPP_DIR") && !f.startsWith("Vulkan_GLSLC")),
    builtAt: new Date().toISOString(),
    seconds: (Date.now() - t0) / 1000,
  };
  mkdirSync(dirname(binary), { recursive: true });
  writeFileSync(join(dirname(binary), "timelens.json"), JSON.stringify(stamp, null, 2));
  log(`timelens-native: built ${binary} in ${stamp.seconds.toFixed(1)} s`);
  return binary;
}

// Run directly, or through the `timelens-native` bin link (node_modules/.bin/timelens-native is a
// symlink, so compare real paths).
const invokedAs = process.argv[1]
  ? (() => {
      try {
        return realpathSync(process.argv[1]);
      } catch {
        return process.argv[1];
      }
    })()
  : "";
if (invokedAs === fileURLToPath(import.meta.url)) {
  try {
    const argv = process.argv.slice(2);
    if (argv[0] === "build") argv.shift(); // `npx timelens-native build ...`
    const args = parseArgs(argv);
    if (args.help) {
      console.log(
        "usage: npx timelens-native build [--gpu cpu|cuda|vulkan|metal] [--native] [--debug] [--jobs N] [--dl] [--cmake NAME=VALUE]",
      );
      process.exit(0);
    }
    build(args);
  } catch (e) {
    console.error(`timelens-native build failed: ${e.message}`);
    process.exit(1);
  }
}
