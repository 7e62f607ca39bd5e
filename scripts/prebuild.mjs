#!/usr/bin/env node
// Builds the binaries that ship inside the npm tarball: prebuilds/<platform>-<arch>[-<gpu>]/.
//   node scripts/prebuild.mjs [--gpu cpu,vulkan] [--jobs N] [--no-build] [--allow-old-glslc]
// (`npm run prebuild -- --gpu cpu,cuda,vulkan`). Default variants: cpu + metal on macOS, cpu
// elsewhere.
//
// Each folder is self-contained: timelens.node, our shared libs (libtimelens-ggml-base,
// -ggml, -llama, -mtmd; RPATH $ORIGIN / @loader_path), every CPU backend variant
// (libggml-cpu-<x64|sse42|haswell|skylakex|...>: ggml picks the best for the CPU it runs on),
// and the folder's GPU backend module (libggml-vulkan / -cuda / -metal). The build is ggml's
// "dynamic backends" build (scripts/build.mjs --dl), so the same files run on an old x86-64
// and use AVX-512 where present, and a GPU module whose driver is missing simply does not load.
//
// A GPU build also holds every CPU module, so the cpu folder is cut from the first GPU build
// when one is requested (one build gives both), or built on its own otherwise.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { platform } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, outDir, parseArgs as parseBuildArgs } from "./build.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const GPU_MODULE = /^(lib)?ggml-(cuda|vulkan|metal|hip|sycl|opencl|musa)\b/;

export function parseArgs(argv) {
  const args = {
    gpus: platform() === "darwin" ? ["cpu", "metal"] : ["cpu"],
    jobs: undefined,
    build: true,
    allowOldGlslc: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--gpu")
      args.gpus = argv[++i]
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    else if (a.startsWith("--gpu=")) args.gpus = a.slice(6).split(",").filter(Boolean);
    else if (a === "--jobs" || a === "-j") args.jobs = Number(argv[++i]);
    else if (a === "--no-build") args.build = false;
    else if (a === "--allow-old-glslc") args.allowOldGlslc = true;
    else if (a === "--help" || a === "-h") args.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  for (const g of args.gpus)
    if (!["cpu", "cuda", "vulkan", "metal"].includes(g)) throw new Error(`unknown variant ${g}`);
  return args;
}

/** Files of a dynamic-backend build that belong in a prebuild folder. */
export function shippedFiles(names, variant) {
  return names.filter((n) => {
    if (n === "timelens.node") return true;
    if (!/\.(so|dylib|dll)$/.test(n)) return false; // .a, .lib, .exp, .pdb, vulkan-shaders-gen ...
    if (/^(lib)?timelens-/.test(n)) return true;
    if (/^(lib)?ggml-cpu[-.]/.test(n)) return true;
    const gpu = GPU_MODULE.exec(n);
    return gpu !== null && gpu[2] === variant;
  });
}

/**
 * The OpenMP runtime ggml's CPU backend links to (GCC's libgomp.so.1 on Linux, MSVC's
 * vcomp140.dll on Windows) is not on every machine: ship it in the folder, where RUNPATH
 * $ORIGIN (Windows: the addon's folder) finds it. Returns [file name, source path] or null.
 */
function openmpRuntime(dir, files) {
  if (platform() === "linux") {
    const needs = files.some((f) =>
      /\(NEEDED\)\s+Shared library: \[libgomp\.so\.1\]/.test(
        spawnSync("readelf", ["-d", join(dir, f)], { encoding: "utf8" }).stdout || "",
      ),
    );
    if (!needs) return null;
    for (const cc of [process.env.CC, "gcc", "cc"].filter(Boolean)) {
      const r = spawnSync(cc, ["-print-file-name=libgomp.so.1"], { encoding: "utf8" });
      const p = (r.stdout || "").trim();
      if (r.status === 0 && p.startsWith("/") && existsSync(p)) return ["libgomp.so.1", realpathSync(p)];
    }
    throw new Error("the CPU backend needs libgomp.so.1, but gcc -print-file-name cannot find it");
  }
  if (platform() === "win32" && process.env.VCToolsRedistDir) {
    const arch = process.arch === "arm64" ? "arm64" : "x64";
    const base = join(process.env.VCToolsRedistDir, arch);
    const omp = existsSync(base) ? readdirSync(base).find((d) => /OpenMP$/.test(d)) : null;
    if (omp && existsSync(join(base, omp, "vcomp140.dll"))) return ["vcomp140.dll", join(base, omp, "vcomp140.dll")];
  }
  return null;
}

/** Linux: every shipped ELF must find its siblings through $ORIGIN and carry no build paths. */
function checkElf(dir, files) {
  if (platform() !== "linux" || spawnSync("readelf", ["--version"], { stdio: "ignore" }).status !== 0) return;
  for (const f of files) {
    const out = spawnSync("readelf", ["-d", join(dir, f)], { encoding: "utf8" }).stdout;
    const runpath = /\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[(.*)\]/.exec(out)?.[1];
    if (runpath && runpath !== "$ORIGIN") throw new Error(`${f} has RUNPATH ${runpath}, expected $ORIGIN`);
    if (out.includes(root)) throw new Error(`${f} refers to the build tree (${root})`);
    for (const m of out.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)) {
      const lib = m[1];
      if (/^lib(timelens-|ggml)/.test(lib) && !files.includes(lib))
        throw new Error(`${f} needs ${lib}, which is not in the folder`);
    }
  }
}

/** Loads the folder's addon in a fresh process and lists its backends: the folder works alone. */
function smokeTest(dir) {
  const code = `const a = require(${JSON.stringify(join(dir, "timelens.node"))}); console.log(JSON.stringify({ backends: a.backends(), devices: a.devices().map((d) => d.name + " (" + d.backend + ")") }))`;
  const r = spawnSync(process.execPath, ["-e", code], {
    encoding: "utf8",
    env: { ...process.env, LD_LIBRARY_PATH: "" },
  });
  if (r.status !== 0) throw new Error(`${dir}/timelens.node does not load on its own: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

export function folderName(variant, plat = process.platform, arch = process.arch) {
  return variant === "cpu" ? `${plat}-${arch}` : `${plat}-${arch}-${variant}`;
}

function dirSize(dir) {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

export function prebuild(args, log = console.error) {
  const gpuBuilds = args.gpus.filter((g) => g !== "cpu");
  const builds = gpuBuilds.length ? gpuBuilds : ["cpu"];
  const made = [];
  for (const gpu of builds) {
    const t0 = Date.now();
    const release = join(outDir(gpu, true), "Release");
    if (args.build)
      build({ ...parseBuildArgs(["--gpu", gpu, "--dl"]), ...(args.jobs ? { jobs: args.jobs } : {}) }, log);
    else if (!existsSync(join(release, "timelens.node")))
      throw new Error(`--no-build, but ${release} has no timelens.node`);
    const stamp = JSON.parse(readFileSync(join(release, "timelens.json"), "utf8"));
    if (!stamp.dl) throw new Error(`${release} is not a dynamic-backend build`);
    if (stamp.notes?.length && !args.allowOldGlslc) {
      throw new Error(
        `${release} was built with a workaround (${stamp.notes.join("; ")}); not shipping it. Use a current Vulkan SDK, or --allow-old-glslc for a local test.`,
      );
    }
    const buildSeconds = (Date.now() - t0) / 1000;
    // The cpu folder comes from the first build: same libraries, without the GPU module.
    const variants = gpu === builds[0] && args.gpus.includes("cpu") && gpu !== "cpu" ? [gpu, "cpu"] : [gpu];
    for (const variant of variants) {
      const dest = join(root, "prebuilds", folderName(variant));
      rmSync(dest, { recursive: true, force: true });
      mkdirSync(dest, { recursive: true });
      const files = shippedFiles(readdirSync(release), variant);
      for (const f of files) copyFileSync(join(release, f), join(dest, f));
      const omp = openmpRuntime(dest, files);
      if (omp) {
        copyFileSync(omp[1], join(dest, omp[0]));
        files.push(omp[0]);
      }
      // Drop the static symbol tables (exports stay): about 10% smaller.
      if (platform() === "linux" && spawnSync("strip", ["--version"], { stdio: "ignore" }).status === 0) {
        for (const f of files)
          if (f !== omp?.[0]) spawnSync("strip", ["--strip-unneeded", join(dest, f)], { stdio: "inherit" });
      }
      checkElf(dest, files);
      writeFileSync(
        join(dest, "timelens.json"),
        JSON.stringify({ ...stamp, gpu: variant, files, prebuiltAt: new Date().toISOString() }, null, 2),
      );
      const smoke = smokeTest(dest);
      if (variant === "cpu" && smoke.backends.registered.some((r) => r !== "CPU"))
        throw new Error(`${dest}: a cpu folder registered ${smoke.backends.registered.join(", ")}`);
      const size = dirSize(dest);
      log(
        `timelens-native: prebuilds/${folderName(variant)}: ${files.length} files, ${(size / 1048576).toFixed(1)} MiB; backends ${smoke.backends.registered.join(", ")}; devices ${smoke.devices.join(", ")}`,
      );
      made.push({
        folder: folderName(variant),
        files: files.length,
        bytes: size,
        buildSeconds,
        backends: smoke.backends.registered,
        devices: smoke.devices,
      });
    }
  }
  return made;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) {
      console.log(
        "usage: node scripts/prebuild.mjs [--gpu cpu,cuda,vulkan,metal] [--jobs N] [--no-build] [--allow-old-glslc]",
      );
      process.exit(0);
    }
    console.log(JSON.stringify(prebuild(args), null, 2));
  } catch (e) {
    console.error(`timelens-native prebuild failed: ${e.message}`);
    process.exit(1);
  }
}
