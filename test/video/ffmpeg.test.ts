/**
 * ffmpeg / ffprobe discovery: order (option, env, packages, PATH), missing-file handling,
 * caching, the not-found message, the packages' mode-fix copy, and version parsing. Fake
 * binaries are small shell scripts in temp dirs.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isTimelensError } from "../../src/errors";
import {
  clearFfmpegCache,
  executableCopy,
  findOnPath,
  fpsModeArgs,
  locateFfmpeg,
  locateFfprobe,
  packageBinary,
  parseToolVersion,
  resolveFfmpeg,
  resolveFfprobe,
  runTool,
  toolVersion,
  type PackageLookup,
} from "../../src/video/ffmpeg";

const ENV_KEYS = ["TIMELENS_FFMPEG", "TIMELENS_FFPROBE", "FFMPEG_BIN", "PATH"] as const;
let saved: Record<string, string | undefined>;
let root: string;

function fakeBin(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, "#!/bin/sh\necho fake\n");
  chmodSync(p, 0o755);
  return p;
}

function catchErr(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(isTimelensError(e)).toBe(true);
    return e as { code: string; message: string };
  }
  throw new Error("expected an error");
}

beforeEach(() => {
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ["TIMELENS_FFMPEG", "TIMELENS_FFPROBE", "FFMPEG_BIN"]) delete process.env[k];
  root = mkdtempSync(join(tmpdir(), "tl-ffmpeg-"));
  clearFfmpegCache();
});

afterEach(() => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  rmSync(root, { recursive: true, force: true });
  clearFfmpegCache();
});

describe("resolveFfmpeg order", () => {
  test("explicit option beats env and PATH", () => {
    const opt = fakeBin(join(root, "opt"), "ffmpeg");
    process.env.TIMELENS_FFMPEG = fakeBin(join(root, "env"), "ffmpeg");
    process.env.PATH = join(root, "path");
    fakeBin(join(root, "path"), "ffmpeg");
    expect(resolveFfmpeg({ ffmpegPath: opt })).toBe(opt);
  });
  test("TIMELENS_FFMPEG beats FFMPEG_BIN, FFMPEG_BIN beats PATH", () => {
    const own = fakeBin(join(root, "own"), "ffmpeg");
    const bin = fakeBin(join(root, "bin"), "ffmpeg");
    process.env.PATH = join(root, "path");
    const onPath = fakeBin(join(root, "path"), "ffmpeg");
    process.env.TIMELENS_FFMPEG = own;
    process.env.FFMPEG_BIN = bin;
    expect(resolveFfmpeg()).toBe(own);
    delete process.env.TIMELENS_FFMPEG;
    expect(resolveFfmpeg()).toBe(bin);
    delete process.env.FFMPEG_BIN;
    expect(resolveFfmpeg({ usePackages: false })).toBe(onPath);
  });
  test("a bare command name in the option is looked up on PATH", () => {
    process.env.PATH = join(root, "p");
    const p = fakeBin(join(root, "p"), "my-ffmpeg");
    expect(resolveFfmpeg({ ffmpegPath: "my-ffmpeg" })).toBe(p);
  });
  test("a configured path that does not exist is an error naming its source, not a fall-through", () => {
    process.env.PATH = join(root, "path");
    fakeBin(join(root, "path"), "ffmpeg");
    const e1 = catchErr(() => resolveFfmpeg({ ffmpegPath: join(root, "nope", "ffmpeg") }));
    expect(e1.code).toBe("ERR_FFMPEG_NOT_FOUND");
    expect(e1.message).toMatch(/ffmpegPath option/);
    process.env.TIMELENS_FFMPEG = join(root, "missing");
    expect(catchErr(() => resolveFfmpeg()).message).toMatch(/TIMELENS_FFMPEG/);
  });
  test("nothing found: ERR_FFMPEG_NOT_FOUND says how to get ffmpeg", () => {
    process.env.PATH = join(root, "empty");
    mkdirSync(join(root, "empty"));
    const e = catchErr(() => resolveFfmpeg({ usePackages: false }));
    expect(e.code).toBe("ERR_FFMPEG_NOT_FOUND");
    expect(e.message).toMatch(/apt-get install ffmpeg/);
    expect(e.message).toMatch(/brew install ffmpeg/);
    expect(e.message).toMatch(/choco install ffmpeg/);
    expect(e.message).toMatch(/TIMELENS_FFMPEG/);
    expect(e.message).toMatch(/@ffmpeg-installer\/ffmpeg/);
    const p = catchErr(() => resolveFfprobe({ usePackages: false }));
    expect(p.message).toMatch(/TIMELENS_FFPROBE/);
  });
  test("results are cached per explicit option until clearFfmpegCache()", () => {
    const a = fakeBin(join(root, "a"), "ffmpeg");
    expect(resolveFfmpeg({ ffmpegPath: a })).toBe(a);
    rmSync(a);
    expect(resolveFfmpeg({ ffmpegPath: a })).toBe(a); // cached
    clearFfmpegCache();
    expect(catchErr(() => resolveFfmpeg({ ffmpegPath: a })).code).toBe("ERR_FFMPEG_NOT_FOUND");
  });
});

describe("resolveFfprobe order", () => {
  test("option, then TIMELENS_FFPROBE, then an ffprobe next to a configured ffmpeg, then PATH", () => {
    const opt = fakeBin(join(root, "opt"), "ffprobe");
    const env = fakeBin(join(root, "env"), "ffprobe");
    const custom = join(root, "custom");
    fakeBin(custom, "ffmpeg");
    const sibling = fakeBin(custom, "ffprobe");
    process.env.PATH = join(root, "path");
    const onPath = fakeBin(join(root, "path"), "ffprobe");
    process.env.TIMELENS_FFPROBE = env;
    process.env.TIMELENS_FFMPEG = join(custom, "ffmpeg");
    expect(resolveFfprobe({ ffprobePath: opt })).toBe(opt);
    expect(resolveFfprobe()).toBe(env);
    delete process.env.TIMELENS_FFPROBE;
    expect(resolveFfprobe()).toBe(sibling);
    expect(resolveFfprobe({ ffmpegPath: join(custom, "ffmpeg") })).toBe(sibling);
    delete process.env.TIMELENS_FFMPEG;
    expect(resolveFfprobe({ usePackages: false })).toBe(onPath);
  });
});

/** A fake per-platform package: package.json plus the binary (a shell script) with `mode`. */
function fakePackage(dir: string, tool: "ffmpeg" | "ffprobe", mode: number, version = "9.9.9"): PackageLookup {
  const pkgDir = join(dir, "node_modules", `@${tool}-installer`, "linux-x64");
  mkdirSync(pkgDir, { recursive: true });
  writeFileSync(join(pkgDir, "package.json"), JSON.stringify({ name: `@${tool}-installer/linux-x64`, version }));
  const bin = join(pkgDir, tool);
  writeFileSync(bin, `#!/bin/sh\necho ${tool} from package\n`);
  chmodSync(bin, mode);
  return {
    platform: "linux",
    arch: "x64",
    copyDir: join(dir, "cache"),
    resolve: (id) => {
      if (id !== `@${tool}-installer/linux-x64/package.json`) throw new Error(`Cannot find module '${id}'`);
      return join(pkgDir, "package.json");
    },
  };
}

describe("optional packages", () => {
  test("the order is option, env, package, PATH", () => {
    const pkg = fakePackage(root, "ffmpeg", 0o755);
    const opt = fakeBin(join(root, "opt"), "ffmpeg");
    const env = fakeBin(join(root, "env"), "ffmpeg");
    process.env.PATH = join(root, "path");
    const onPathBin = fakeBin(join(root, "path"), "ffmpeg");
    process.env.TIMELENS_FFMPEG = env;
    expect(locateFfmpeg({ ffmpegPath: opt }, pkg)).toMatchObject({ path: opt, source: "option" });
    expect(locateFfmpeg({}, pkg)).toMatchObject({ path: env, source: "env", detail: "TIMELENS_FFMPEG" });
    delete process.env.TIMELENS_FFMPEG;
    const fromPkg = locateFfmpeg({}, pkg);
    expect(fromPkg.source).toBe("package");
    expect(fromPkg.detail).toMatch(/@ffmpeg-installer\/linux-x64@9\.9\.9/);
    expect(locateFfmpeg({ usePackages: false }, pkg)).toMatchObject({ path: onPathBin, source: "PATH" });
    const ffprobePkg = fakePackage(root, "ffprobe", 0o755);
    expect(locateFfprobe({}, ffprobePkg).source).toBe("package");
    const probeOnPath = fakeBin(join(root, "path"), "ffprobe");
    expect(
      locateFfprobe(
        {},
        {
          resolve: () => {
            throw new Error("not installed");
          },
        },
      ),
    ).toMatchObject({ path: probeOnPath, source: "PATH" });
  });
  test("a package that is not installed is skipped", () => {
    expect(
      packageBinary("ffmpeg", {
        resolve: () => {
          throw new Error("Cannot find module");
        },
      }),
    ).toBeUndefined();
  });
  test("an installed package without its binary is skipped, and the not-found message says so", () => {
    const pkg = fakePackage(root, "ffprobe", 0o755);
    rmSync(join(root, "node_modules", "@ffprobe-installer", "linux-x64", "ffprobe"));
    expect(packageBinary("ffprobe", pkg)).toBeUndefined();
    process.env.PATH = join(root, "empty");
    const e = catchErr(() => locateFfprobe({}, pkg));
    expect(e.message).toMatch(/@ffprobe-installer\/linux-x64@9\.9\.9 is installed but holds no ffprobe/);
  });
  test("a binary stored without execute bits (no postinstall ran) is used through a verified 0755 copy", async () => {
    const pkg = fakePackage(root, "ffprobe", 0o644);
    const original = join(root, "node_modules", "@ffprobe-installer", "linux-x64", "ffprobe");
    const found = packageBinary("ffprobe", pkg);
    expect(found).toBeDefined();
    expect(found!.path).not.toBe(original);
    expect(found!.path.startsWith(join(root, "cache"))).toBe(true);
    expect(found!.detail).toMatch(/verified 0755 copy/);
    expect(statSync(found!.path).mode & 0o777).toBe(0o755);
    expect(readFileSync(found!.path)).toEqual(readFileSync(original));
    expect(statSync(original).mode & 0o777).toBe(0o644); // the package itself is left alone
    const r = await runTool(found!.path, []);
    expect(r.stdout.trim()).toBe("ffprobe from package");
  });
  test("the copy is reused while the original is unchanged, and redone when it changes or the copy is damaged", () => {
    const pkg = fakePackage(root, "ffmpeg", 0o644);
    const original = join(root, "node_modules", "@ffmpeg-installer", "linux-x64", "ffmpeg");
    const first = packageBinary("ffmpeg", pkg)!.path;
    const firstIno = statSync(first).ino;
    expect(packageBinary("ffmpeg", pkg)!.path).toBe(first);
    expect(statSync(first).ino).toBe(firstIno); // not rewritten
    writeFileSync(original, "#!/bin/sh\necho a newer build\n");
    chmodSync(original, 0o644);
    utimesSync(original, new Date(), new Date(Date.now() + 5000));
    const second = packageBinary("ffmpeg", pkg)!.path;
    expect(readFileSync(second, "utf8")).toMatch(/a newer build/);
    writeFileSync(second, "truncated");
    expect(readFileSync(packageBinary("ffmpeg", pkg)!.path, "utf8")).toMatch(/a newer build/);
  });
  test("executableCopy throws when the cache folder cannot be written", () => {
    const src = join(root, "ffprobe");
    writeFileSync(src, "binary");
    const blocker = join(root, "blocked");
    writeFileSync(blocker, "a file where the cache folder should be");
    expect(() => executableCopy(src, join(blocker, "sub"))).toThrow();
  });
  test("Electron: a binary inside app.asar is taken from app.asar.unpacked", () => {
    const unpacked = fakeBin(
      join(root, "app.asar.unpacked", "node_modules", "@ffmpeg-installer", "linux-x64"),
      "ffmpeg",
    );
    const asarJson = join(root, "app.asar", "node_modules", "@ffmpeg-installer", "linux-x64", "package.json");
    const found = packageBinary("ffmpeg", { platform: "linux", arch: "x64", resolve: () => asarJson });
    expect(found?.path).toBe(unpacked);
  });
  // Only linux-x64 is checked (CI's platform); elsewhere the packages may legitimately be absent.
  (process.platform === "linux" && process.arch === "x64" ? test : test.skip)(
    "the installed @ffmpeg-installer / @ffprobe-installer binaries run",
    async () => {
      const ffmpeg = packageBinary("ffmpeg", { copyDir: join(root, "cache") });
      const ffprobe = packageBinary("ffprobe", { copyDir: join(root, "cache") });
      expect(ffmpeg).toBeDefined();
      expect(ffprobe).toBeDefined();
      expect(
        parseToolVersion((await runTool(ffmpeg!.path, ["-hide_banner", "-version"])).stdout).major,
      ).toBeGreaterThanOrEqual(4);
      expect((await runTool(ffprobe!.path, ["-hide_banner", "-version"])).stdout).toMatch(/^ffprobe version/);
    },
  );
});

describe("version parsing", () => {
  test("releases by number, git builds by libavutil, the frame-rate flag by version", () => {
    const debian = parseToolVersion(
      "ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2025\nlibavutil      57. 28.100 / 57. 28.100\n",
    );
    expect(debian).toMatchObject({ major: 5, minor: 1, libavutil: { major: 57, minor: 28 } });
    expect(parseToolVersion("ffmpeg version n6.1.1 Copyright").major).toBe(6);
    // @ffmpeg-installer/linux-x64 4.1.0: a 2018 git build between 4.1 and 4.2.
    const git2018 = parseToolVersion(
      "ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/\nbuilt with gcc 6.3.0\nlibavutil      56. 24.101 / 56. 24.101\n",
    );
    expect(git2018).toMatchObject({ major: 4, minor: 1 });
    expect(
      parseToolVersion("ffprobe version N-66595-gc2b38619c0-static\nlibavutil      58. 14.100 / 58. 14.100\n"),
    ).toMatchObject({ major: 6, minor: 0 });
    expect(parseToolVersion("something else entirely").major).toBe(99);
    expect(fpsModeArgs(git2018, "passthrough")).toEqual(["-vsync", "passthrough"]);
    expect(fpsModeArgs({ major: 5, minor: 0 }, "vfr")).toEqual(["-vsync", "vfr"]);
    expect(fpsModeArgs(debian, "passthrough")).toEqual(["-fps_mode", "passthrough"]);
    expect(fpsModeArgs({ major: 7, minor: 1 }, "vfr")).toEqual(["-fps_mode", "vfr"]);
  });
});

describe("running tools", () => {
  test("findOnPath finds the real ffmpeg, toolVersion parses it", async () => {
    const real = resolveFfmpeg();
    expect(real).toBeTruthy();
    const v = await toolVersion(real);
    expect(v.major).toBeGreaterThanOrEqual(4);
    expect(v.line).toMatch(/version/);
    expect(findOnPath("surely-not-a-command-xyz")).toBeUndefined();
  });
  test("runTool rejects with AbortError when aborted, and ERR_FFMPEG_NOT_FOUND when the binary cannot start", async () => {
    const ac = new AbortController();
    const p = runTool(
      resolveFfmpeg(),
      ["-hide_banner", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=30", "-f", "null", "-"],
      { signal: ac.signal },
    );
    setTimeout(() => ac.abort(), 200);
    await expect(p).rejects.toMatchObject({ name: "AbortError", code: "ERR_ABORTED" });
    await expect(runTool(join(root, "nothing-here"), [])).rejects.toMatchObject({ code: "ERR_FFMPEG_NOT_FOUND" });
  });
});
