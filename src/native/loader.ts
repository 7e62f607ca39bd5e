/**
 * Finds and loads the compiled addon. Order: an explicit path, then
 * prebuilds/<platform>-<arch>-<gpu> (best GPU variant that loads), prebuilds/<platform>-<arch>,
 * then local builds (build-<gpu>/Release, build/Release). Paths inside an Electron app.asar
 * are mapped to app.asar.unpacked, where native files must live.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join as joinPath, posix, resolve, win32 } from "node:path";
import { TimelensError } from "../errors";
import type { GpuPreference, GpuVariant, NativeAddon, NativeDevice } from "./types";

export interface AddonLocation {
  path: string;
  variant: "cpu" | GpuVariant;
  source: "explicit" | "prebuild" | "build";
}

/** ggml's registry name for each GPU variant (what `NativeDevice.backend` says). */
export const GPU_BACKEND_NAMES: Record<GpuVariant, string> = { cuda: "CUDA", vulkan: "Vulkan", metal: "MTL" };

/**
 * The package's root folder: the nearest folder above this file whose package.json is ours
 * (this file runs from src/native/ in tests and from dist/ when bundled).
 */
function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = joinPath(dir, "package.json");
    try {
      if (
        existsSync(manifest) &&
        (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "timelens-native"
      )
        return dir;
    } catch {
      // unreadable: keep looking further up
    }
    const parent = dirname(dir);
    if (parent === dir) return resolve(start, "..");
    dir = parent;
  }
}

const packageRoot = findPackageRoot(__dirname);
// A real `require` in both the CommonJS and the ESM build (tsup shims __filename there).
const nodeRequire = createRequire(__filename);

/**
 * Electron: native files cannot load from inside app.asar; they ship in app.asar.unpacked.
 * Handles both separators whatever the host (a win32 path seen on posix and the reverse), and
 * leaves paths that already point into app.asar.unpacked (or merely start with "app.asar") alone.
 */
export function mapAsarPath(p: string): string {
  return p.replace(/([\\/])app\.asar(?=[\\/]|$)/, "$1app.asar.unpacked");
}

function variantsFor(gpu: GpuPreference, platform: string): GpuVariant[] {
  if (gpu === false) return [];
  if (gpu !== "auto") return [gpu];
  return platform === "darwin" ? ["metal"] : ["cuda", "vulkan"];
}

/** Every place the addon may be, best first. Pure: tests check the order. */
export function addonCandidates(
  opts: { gpu?: GpuPreference; platform?: string; arch?: string; root?: string } = {},
): AddonLocation[] {
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  const root = opts.root ?? packageRoot;
  // Join with the separator of the target platform, so tests can build win32 paths on posix.
  const join = platform === "win32" ? win32.join : posix.join;
  const variants = variantsFor(opts.gpu ?? "auto", platform);
  const out: AddonLocation[] = [];
  for (const v of variants)
    out.push({
      path: join(root, "prebuilds", `${platform}-${arch}-${v}`, "timelens.node"),
      variant: v,
      source: "prebuild",
    });
  out.push({
    path: join(root, "prebuilds", `${platform}-${arch}`, "timelens.node"),
    variant: "cpu",
    source: "prebuild",
  });
  for (const v of variants)
    out.push({ path: join(root, `build-${v}`, "Release", "timelens.node"), variant: v, source: "build" });
  out.push({ path: join(root, "build", "Release", "timelens.node"), variant: "cpu", source: "build" });
  return out.map((l) => ({ ...l, path: mapAsarPath(l.path) }));
}

/**
 * Is the GPU runtime a variant needs on this machine at all? A cheap file check made before
 * "auto" loads a GPU build, so it does not load a CUDA build on a machine without the NVIDIA
 * driver. The devices the loaded addon reports decide in the end.
 */
export function gpuRuntimePresent(
  variant: GpuVariant,
  env: {
    platform?: string;
    arch?: string;
    exists?: (p: string) => boolean;
    libraryPath?: string;
    systemRoot?: string;
  } = {},
): { ok: boolean; reason: string } {
  const platform = env.platform ?? process.platform;
  const exists = env.exists ?? existsSync;
  if (variant === "metal")
    return platform === "darwin" ? { ok: true, reason: "macOS" } : { ok: false, reason: "Metal exists only on macOS" };
  if (platform === "win32") {
    const sys = win32.join(env.systemRoot ?? process.env.SystemRoot ?? "C:\\Windows", "System32");
    const dll = variant === "cuda" ? "nvcuda.dll" : "vulkan-1.dll";
    const p = win32.join(sys, dll);
    return exists(p)
      ? { ok: true, reason: p }
      : {
          ok: false,
          reason: `${dll} not found in ${sys} (${variant === "cuda" ? "no NVIDIA driver" : "no Vulkan driver"})`,
        };
  }
  if (platform === "darwin") return { ok: false, reason: `${variant} is not available on macOS` };
  const arch = env.arch ?? process.arch;
  const triplet = arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const dirs = [
    ...(env.libraryPath ?? process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean),
    `/usr/lib/${triplet}`,
    `/lib/${triplet}`,
    "/usr/lib64",
    "/usr/lib",
    "/lib64",
    "/usr/local/lib",
    "/usr/lib/wsl/lib",
  ];
  const lib = variant === "cuda" ? "libcuda.so.1" : "libvulkan.so.1";
  for (const d of dirs) {
    const p = posix.join(d, lib);
    if (exists(p)) return { ok: true, reason: p };
  }
  return {
    ok: false,
    reason:
      `${lib} not found (` +
      (variant === "cuda" ? "no NVIDIA driver" : "no Vulkan loader; install libvulkan1 and a Vulkan driver") +
      ")",
  };
}

const loaded = new Map<string, NativeAddon>();

/**
 * llama.cpp's CPU backend uses OpenMP. Its default busy-waiting threads collapse when the
 * cores are shared (ffmpeg decoding next to the encoder, an app's UI, other processes):
 * `npm run bench -- omp` measured 20-40x slower grounds on a shared 2-core machine
 * (docs/reference.md, "OpenMP waiting"). It must be set before the addon (and libgomp) loads; an explicit
 * OMP_WAIT_POLICY in the environment wins.
 */
function preferPassiveOpenMp(): void {
  if (process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = "PASSIVE";
}

export interface LoadAddonOptions {
  /** Explicit path to a timelens.node. */
  path?: string;
  gpu?: GpuPreference;
  /** Called with the reason a candidate was skipped (e.g. a CUDA build without a driver). */
  onSkip?: (location: AddonLocation, reason: string) => void;
  /** For tests: how to load a candidate (default: require). */
  requireAddon?: (path: string) => NativeAddon;
  /** For tests: the runtime check (default: gpuRuntimePresent). */
  runtimePresent?: (variant: GpuVariant) => { ok: boolean; reason: string };
  /** For tests: whether a candidate exists (default: existsSync). */
  exists?: (path: string) => boolean;
}

export interface GpuSelection {
  /** What was asked for. */
  requested: GpuPreference;
  /** The ggml backend the GPU work goes to ("CUDA", "Vulkan", "MTL"), or null: CPU only. */
  backend: string | null;
  /** Its devices on this machine (what llama.cpp will offload to). */
  devices: NativeDevice[];
  /** Why less than the request is used (null when nothing was given up). */
  reason: string | null;
}

export interface AddonSelection {
  addon: NativeAddon;
  location: AddonLocation;
  gpu: GpuSelection;
  /** Candidates passed over, with why. */
  skipped: Array<{ location: AddonLocation; reason: string }>;
}

/**
 * The GPUs to offload to, by llama.cpp's own default rule: every discrete GPU, else the
 * integrated GPUs of one backend; optionally only those of `backend`; never RPC devices.
 * This is the only place devices are chosen: the addon receives the list by name
 * (docs/architecture.md "GPU choice"). Pure: tests check it.
 */
export function chooseGpuDevices(devices: readonly NativeDevice[], backend: string | null): NativeDevice[] {
  const ofBackend = devices.filter(
    (d) => d.backend !== "RPC" && (backend === null || d.backend.toLowerCase() === backend.toLowerCase()),
  );
  const discrete = ofBackend.filter((d) => d.type === "gpu");
  if (discrete.length) return discrete;
  const integrated = ofBackend.filter((d) => d.type === "igpu");
  return integrated.filter((d) => d.backend === integrated[0]?.backend);
}

function gpuDevicesOf(addon: NativeAddon, backend: string | null): NativeDevice[] {
  try {
    return chooseGpuDevices(addon.devices(), backend);
  } catch {
    return [];
  }
}

function moduleErrors(addon: NativeAddon): string {
  try {
    const b = addon.backends?.();
    const failed = (b?.gpuModules ?? []).filter((m) => !m.loaded).map((m) => `${m.file}: ${m.error}`);
    return failed.length ? ` (${failed.join("; ")})` : "";
  } catch {
    return "";
  }
}

/**
 * Loads the best addon that exists and loads on this machine, and says which GPU backend
 * (if any) it will use. With gpu "auto": GPU builds whose runtime is missing are passed over;
 * a static GPU build without a device is passed over too; a prebuilt (dynamic-backend) GPU
 * build without a device is kept and runs on the CPU (its own CPU backend; loading a second
 * prebuilt copy into the process would share its libraries), with the reason recorded.
 */
export function loadAddon(options: LoadAddonOptions = {}): AddonSelection {
  preferPassiveOpenMp(); // measured: docs/reference.md, "OpenMP waiting"
  const gpu = options.gpu ?? "auto";
  const exists = options.exists ?? existsSync;
  const requireAddon =
    options.requireAddon ??
    ((p: string) => {
      const cached = loaded.get(p);
      if (cached) return cached;
      const addon = nodeRequire(p) as NativeAddon;
      loaded.set(p, addon);
      return addon;
    });
  const runtimePresent = options.runtimePresent ?? ((v: GpuVariant) => gpuRuntimePresent(v));
  const candidates: AddonLocation[] = options.path
    ? [{ path: mapAsarPath(resolve(options.path)), variant: "cpu", source: "explicit" }]
    : addonCandidates({ gpu });
  const failures: string[] = [];
  const skipped: AddonSelection["skipped"] = [];
  const skip = (c: AddonLocation, reason: string) => {
    skipped.push({ location: c, reason });
    options.onSkip?.(c, reason);
  };
  for (const c of candidates) {
    if (!exists(c.path)) continue;
    if (c.variant !== "cpu" && gpu === "auto") {
      const rt = runtimePresent(c.variant);
      if (!rt.ok) {
        skip(c, rt.reason);
        continue;
      }
    }
    let addon: NativeAddon;
    try {
      addon = requireAddon(c.path);
    } catch (e) {
      const reason = (e as Error).message;
      failures.push(`${c.path}: ${reason}`);
      skip(c, reason);
      continue;
    }
    const earlier = skipped.length
      ? skipped.map((s) => `${s.location.variant} ${s.location.source}: ${s.reason}`).join("; ")
      : null;
    if (gpu === false)
      return { addon, location: c, skipped, gpu: { requested: gpu, backend: null, devices: [], reason: null } };
    // An explicit addon path says nothing about its variant: any GPU device it has counts.
    const backend = c.variant === "cpu" ? null : GPU_BACKEND_NAMES[c.variant];
    const devices = gpuDevicesOf(addon, backend);
    if (devices.length) {
      const used = devices[0].backend;
      return {
        addon,
        location: c,
        skipped,
        gpu: { requested: gpu, backend: used, devices: devices.filter((d) => d.backend === used), reason: null },
      };
    }
    if (c.variant !== "cpu") {
      const why =
        `the ${c.variant} build loaded but found no ` + `${GPU_BACKEND_NAMES[c.variant]} device${moduleErrors(addon)}`;
      const dynamic = (() => {
        try {
          return addon.backends?.().dynamic === true;
        } catch {
          return false;
        }
      })();
      if (gpu === "auto" && !dynamic) {
        skip(c, why);
        continue;
      }
      return {
        addon,
        location: c,
        skipped,
        gpu: { requested: gpu, backend: null, devices: [], reason: `${why}; running on the CPU` },
      };
    }
    let reason: string;
    if (c.source === "explicit") reason = `${options.path} has no GPU device; running on the CPU`;
    else if (gpu === "auto")
      reason = earlier
        ? `no usable GPU build (${earlier}); running on the CPU`
        : `no GPU build installed for ${process.platform}-${process.arch}; running on the CPU`;
    else
      reason =
        `no ${gpu} build found${earlier ? ` (${earlier})` : ""}; ` +
        `running on the CPU (build one: npx timelens-native build --gpu ${gpu})`;
    return { addon, location: c, skipped, gpu: { requested: gpu, backend: null, devices: [], reason } };
  }
  const tried = candidates.map((c) => c.path);
  throw new TimelensError(
    "ERR_ADDON_NOT_FOUND",
    [
      `No usable timelens-native addon for ${process.platform}-${process.arch}.`,
      failures.length
        ? `These exist but failed to load:\n  ${failures.join("\n  ")}`
        : `Looked in:\n  ${tried.join("\n  ")}`,
      "Build one from source (needs cmake, a C++17 compiler and git): npx timelens-native build " +
        "  (add --gpu cuda|vulkan|metal for a GPU build)",
    ].join("\n"),
    { tried, failures },
  );
}
