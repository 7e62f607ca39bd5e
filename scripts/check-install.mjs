#!/usr/bin/env node
// The user's install path, end to end: `npm pack` this package (with its prebuilds/), install
// the tarball into an empty project with cmake, the compilers and any system ffmpeg/ffprobe
// hidden from PATH and without install scripts (ffmpeg then comes from the optional
// @ffmpeg-installer / @ffprobe-installer packages; see docs/reference.md), and ground a short generated video with the tiny fixture models through the
// prebuilt addon. Then, with the prebuilt folder moved away, loading must fail with
// ERR_ADDON_NOT_FOUND saying how to build from source, and `npx timelens-native build` (run
// with the full PATH) must produce an addon that grounds the same video.
//
//   node scripts/check-install.mjs [--skip-source-build] [--with-scripts] [--keep]
//
// Needs: prebuilds/<platform>-<arch>/ (npm run prebuilds), dist/ (npx tsup; built here when
// missing), the fixtures (npm run fixtures), the npm registry. A few minutes; the source build is
// quick when ccache has llama.cpp (any earlier `npm run build` on this machine).
// Exit 0: every step passed; 1: a step failed (printed).
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const keep = argv.includes("--keep");
const skipSourceBuild = argv.includes("--skip-source-build");
// Also install with install scripts on (our hook must see the prebuild and do nothing; the
// ffmpeg packages carry their binaries in the tarball, so no script is needed for them).
const withScripts = argv.includes("--with-scripts");
const steps = [];
const t0 = Date.now();

function step(name, fn) {
  const s = Date.now();
  try {
    const detail = fn();
    steps.push({ name, ok: true, seconds: (Date.now() - s) / 1000, detail });
    console.log(`ok    ${name} (${((Date.now() - s) / 1000).toFixed(1)} s)${detail ? `: ${detail}` : ""}`);
  } catch (e) {
    steps.push({ name, ok: false, seconds: (Date.now() - s) / 1000, detail: e.message });
    console.log(`FAIL  ${name}: ${e.message}`);
    throw e;
  }
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 << 20, ...opts });
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${r.status}:\n${(r.stderr || "").slice(-3000)}${(r.stdout || "").slice(-2000)}`,
    );
  return r.stdout;
}

function which(cmd) {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

const prebuild = join(root, "prebuilds", `${process.platform}-${process.arch}`);
const fixtures = join(root, "test", "fixtures", "models", "tiny-qwen3vl");
const work = mkdtempSync(join(tmpdir(), "timelens-install-"));
const project = join(work, "app");
// A PATH with node, npm and sh only: no cmake, cc, c++, make, ninja, git, ffmpeg, ffprobe.
const bin = join(work, "bin");

// The consumer: CommonJS, as most users write it; prints one JSON line.
const consumer = `
const { Grounder } = require("timelens-native");
(async () => {
  const [model, mmproj, video] = process.argv.slice(2);
  let g;
  try {
    const gpu = process.env.CHECK_GPU === "false" ? false : "auto";
    g = await Grounder.load({ model, mmproj, contextSize: 4096, gpu });
  } catch (e) {
    console.log(JSON.stringify({ error: { code: e.code, message: e.message } }));
    return;
  }
  const tokens = [];
  const r = await g.ground(video, "a square moves to the right", { maxNewTokens: 12, onToken: (t) => tokens.push(t) });
  const { locateFfmpeg, locateFfprobe } = require("timelens-native");
  console.log(JSON.stringify({ ffmpeg: locateFfmpeg(), ffprobe: locateFfprobe(), addon: g.info.addon, gpu: g.info.gpu, devices: Grounder.devices().map((d) => d.name), text: r.text, streamed: tokens.join(""), start: r.start, end: r.end, frames: r.frames.count }));
  await g.dispose();
})().catch((e) => { console.error(e); process.exit(1); });
`;
const esmCheck = `import { Grounder, addonCandidates } from "timelens-native"; console.log(JSON.stringify({ devices: Grounder.devices().length, first: addonCandidates()[0].path }));`;

let ok = false;
try {
  step("preconditions", () => {
    if (!existsSync(join(prebuild, "timelens.node")))
      throw new Error(`${prebuild} has no timelens.node: run npm run prebuilds first`);
    if (!existsSync(join(fixtures, "model.gguf"))) throw new Error("fixtures missing: npm run fixtures");
    if (!existsSync(join(root, "dist", "index.js")))
      run(process.execPath, [join(root, "node_modules", "tsup", "dist", "cli-default.js")], { cwd: root });
    return readdirSync(join(root, "prebuilds")).join(", ");
  });

  let tarball;
  step("npm pack", () => {
    // --ignore-scripts: dist/ is already built; `prepare` would rebuild it.
    const out = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: root });
    const info = JSON.parse(out.slice(out.indexOf("[")))[0];
    tarball = join(work, info.filename);
    const byDir = {};
    for (const f of info.files) {
      const m = /^prebuilds\/([^/]+)\//.exec(f.path);
      const key = m ? `prebuilds/${m[1]}` : f.path.split("/")[0];
      byDir[key] = (byDir[key] ?? 0) + f.size;
    }
    const parts = Object.entries(byDir)
      .filter(([k]) => k.startsWith("prebuilds/"))
      .map(([k, v]) => `${k} ${(v / 1048576).toFixed(1)} MiB`);
    return `${info.filename}: ${(info.size / 1048576).toFixed(1)} MiB packed, ${(info.unpackedSize / 1048576).toFixed(1)} MiB unpacked, ${info.entryCount} files; ${parts.join(", ")}`;
  });

  step("PATH without compilers", () => {
    mkdirSync(bin);
    const npmCli = join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js");
    const npxCli = join(dirname(npmCli), "npx-cli.js");
    symlinkSync(process.execPath, join(bin, "node"));
    writeFileSync(join(bin, "npm"), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`, { mode: 0o755 });
    writeFileSync(join(bin, "npx"), `#!/bin/sh\nexec "${process.execPath}" "${npxCli}" "$@"\n`, { mode: 0o755 });
    symlinkSync(which("sh"), join(bin, "sh"));
    const env = { ...process.env, PATH: bin };
    const seen = ["cmake", "cc", "gcc", "c++", "g++", "make", "ninja", "git", "ffmpeg", "ffprobe"].filter(
      (t) => spawnSync("sh", ["-c", `command -v ${t}`], { env }).status === 0,
    );
    if (seen.length) throw new Error(`still on PATH: ${seen.join(", ")}`);
    return `PATH=${bin}`;
  });
  const bare = { ...process.env, PATH: bin, npm_config_update_notifier: "false" };
  delete bare.CC;
  delete bare.CXX;
  for (const k of ["TIMELENS_FFMPEG", "TIMELENS_FFPROBE", "FFMPEG_BIN"]) delete bare[k];

  step("install the tarball (no install scripts, no compilers)", () => {
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "timelens-install-check", private: true, version: "1.0.0" }, null, 2),
    );
    run("npm", ["install", tarball, "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: project,
      env: bare,
    });
    writeFileSync(join(project, "consumer.cjs"), consumer);
    writeFileSync(join(project, "esm.mjs"), esmCheck);
    const pkg = join(project, "node_modules", "timelens-native");
    return `${readdirSync(join(pkg, "prebuilds")).join(", ")} in node_modules/timelens-native/prebuilds`;
  });

  if (withScripts) {
    step("install again with install scripts on (no compilers)", () => {
      const p2 = join(work, "app-scripts");
      mkdirSync(p2);
      writeFileSync(
        join(p2, "package.json"),
        JSON.stringify({ name: "timelens-install-check-2", private: true, version: "1.0.0" }),
      );
      const out = run(
        "npm",
        ["install", tarball, "--foreground-scripts", "--no-audit", "--no-fund", "--loglevel=warn"],
        { cwd: p2, env: bare },
      );
      if (existsSync(join(p2, "node_modules", "timelens-native", "build")))
        throw new Error("the install hook built from source although a prebuild ships");
      return (
        out
          .trim()
          .split("\n")
          .filter((l) => /timelens/.test(l))
          .slice(-2)
          .join(" | ") || "hook ran, nothing built"
      );
    });
  }

  const video = join(project, "demo.mp4");
  step("demo video (lavfi, with the packaged ffmpeg)", () => {
    const make = `const f = require("timelens-native").locateFfmpeg(); require("node:child_process").execFileSync(f.path, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=duration=4:size=320x240:rate=10", "-pix_fmt", "yuv420p", process.argv[1]]); console.log(f.source + " " + f.detail);`;
    const from = run("node", ["-e", make, video], { cwd: project, env: bare }).trim();
    if (!from.startsWith("package ")) throw new Error(`ffmpeg came from ${from}, not from the optional package`);
    return `${statSync(video).size} bytes; ffmpeg from ${from}`;
  });

  const ground = (gpu = "auto") =>
    JSON.parse(
      run("node", ["consumer.cjs", join(fixtures, "model.gguf"), join(fixtures, "mmproj.gguf"), video], {
        cwd: project,
        env: { ...bare, CHECK_GPU: gpu },
      })
        .trim()
        .split("\n")
        .pop(),
    );

  step("ground through the prebuilt addon", () => {
    const r = ground();
    if (r.error) throw new Error(`${r.error.code}: ${r.error.message}`);
    if (r.addon.source !== "prebuild" || !r.addon.path.includes(join("node_modules", "timelens-native", "prebuilds")))
      throw new Error(`loaded ${JSON.stringify(r.addon)}, not the installed prebuild`);
    if (r.streamed !== r.text) throw new Error("streamed tokens differ from the result text");
    if (!(r.frames > 0)) throw new Error("no frames");
    if (r.ffmpeg.source !== "package" || r.ffprobe.source !== "package")
      throw new Error(
        `ffmpeg from ${r.ffmpeg.source}, ffprobe from ${r.ffprobe.source}: expected the optional packages`,
      );
    return `${r.addon.path.slice(project.length + 1)}; gpu ${r.gpu.backend ?? "none"} (${r.gpu.reason ?? "-"}); ${r.frames} frames; ffprobe ${r.ffprobe.detail}; answer ${JSON.stringify(r.text)}`;
  });

  step("ground with gpu: false (the CPU folder)", () => {
    const r = ground("false");
    if (r.error) throw new Error(`${r.error.code}: ${r.error.message}`);
    const cpuFolder = join("prebuilds", `${process.platform}-${process.arch}`, "timelens.node");
    if (!r.addon.path.endsWith(cpuFolder)) throw new Error(`loaded ${r.addon.path}, not ${cpuFolder}`);
    return `${r.addon.path.slice(project.length + 1)}; answer ${JSON.stringify(r.text)}`;
  });

  step("ESM import", () => run("node", ["esm.mjs"], { cwd: project, env: bare }).trim());

  const pkg = join(project, "node_modules", "timelens-native");
  step("no matching prebuild: the error says how to build", () => {
    renameSync(join(pkg, "prebuilds"), join(pkg, "prebuilds.off"));
    const r = ground();
    if (!r.error) throw new Error(`loaded ${JSON.stringify(r.addon)} without a prebuild`);
    if (r.error.code !== "ERR_ADDON_NOT_FOUND" || !r.error.message.includes("npx timelens-native build"))
      throw new Error(`unexpected error ${JSON.stringify(r.error)}`);
    return r.error.message.split("\n").pop();
  });

  if (!skipSourceBuild) {
    step("npx timelens-native build (full PATH), then ground", () => {
      const tb = Date.now();
      run("npx", ["--no-install", "timelens-native", "build", "--jobs", "2"], {
        cwd: project,
        env: { ...process.env },
      });
      const built = join(pkg, "build", "Release", "timelens.node");
      if (!existsSync(built)) throw new Error(`npx timelens-native build exited 0 but ${built} is missing`);
      const buildSeconds = ((Date.now() - tb) / 1000).toFixed(0);
      const r = ground();
      if (r.error) throw new Error(`${r.error.code}: ${r.error.message}`);
      if (r.addon.source !== "build") throw new Error(`loaded ${JSON.stringify(r.addon)}`);
      return `built in ${buildSeconds} s; ${r.addon.path.slice(project.length + 1)}; answer ${JSON.stringify(r.text)}`;
    });
  }
  renameSync(join(pkg, "prebuilds.off"), join(pkg, "prebuilds"));
  ok = true;
} catch {
  // reported by step()
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
console.log(`check-install: ${ok ? "passed" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(ok ? 0 : 1);
