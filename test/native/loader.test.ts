/**
 * The addon loader without a real addon: candidate order, Electron asar mapping (posix and
 * win32 paths), the GPU runtime check, and the "auto" fallbacks with fake addons.
 */
import {
  addonCandidates,
  gpuRuntimePresent,
  loadAddon,
  mapAsarPath,
  type NativeAddon,
  type NativeBackends,
  type NativeDevice,
} from "../../src/native";

describe("mapAsarPath", () => {
  test("posix: app.asar -> app.asar.unpacked", () => {
    expect(
      mapAsarPath("/opt/App/resources/app.asar/node_modules/timelens-native/prebuilds/linux-x64/timelens.node"),
    ).toBe("/opt/App/resources/app.asar.unpacked/node_modules/timelens-native/prebuilds/linux-x64/timelens.node");
  });
  test("win32: app.asar -> app.asar.unpacked", () => {
    expect(
      mapAsarPath(
        "C:\\Program Files\\App\\resources\\app.asar\\node_modules\\timelens-native\\build\\Release\\timelens.node",
      ),
    ).toBe(
      "C:\\Program Files\\App\\resources\\app.asar.unpacked\\node_modules\\timelens-native\\build\\Release\\timelens.node",
    );
  });
  test("macOS bundle path", () => {
    expect(
      mapAsarPath(
        "/Applications/My App.app/Contents/Resources/app.asar/node_modules/timelens-native/prebuilds/darwin-arm64-metal/timelens.node",
      ),
    ).toBe(
      "/Applications/My App.app/Contents/Resources/app.asar.unpacked/node_modules/timelens-native/prebuilds/darwin-arm64-metal/timelens.node",
    );
  });
  test("already unpacked, or no asar: unchanged", () => {
    for (const p of [
      "/opt/App/resources/app.asar.unpacked/node_modules/timelens-native/build/Release/timelens.node",
      "C:\\App\\resources\\app.asar.unpacked\\node_modules\\x.node",
      "/home/me/project/node_modules/timelens-native/build/Release/timelens.node",
      "/home/me/my-app.asar.d/timelens.node",
      "/home/me/app.asarx/timelens.node",
    ])
      expect(mapAsarPath(p)).toBe(p);
  });
  test("only the first app.asar segment is mapped", () => {
    expect(mapAsarPath("/r/app.asar/x/app.asar/y.node")).toBe("/r/app.asar.unpacked/x/app.asar/y.node");
  });
});

describe("addonCandidates", () => {
  const rel = (root: string, paths: string[]) => paths.map((p) => p.slice(root.length + 1));

  test("linux auto: cuda, vulkan prebuilds, cpu prebuild, then local builds", () => {
    const root = "/pkg";
    const c = addonCandidates({ gpu: "auto", platform: "linux", arch: "x64", root });
    expect(
      rel(
        root,
        c.map((l) => l.path),
      ),
    ).toEqual([
      "prebuilds/linux-x64-cuda/timelens.node",
      "prebuilds/linux-x64-vulkan/timelens.node",
      "prebuilds/linux-x64/timelens.node",
      "build-cuda/Release/timelens.node",
      "build-vulkan/Release/timelens.node",
      "build/Release/timelens.node",
    ]);
    expect(c.map((l) => `${l.source}:${l.variant}`)).toEqual([
      "prebuild:cuda",
      "prebuild:vulkan",
      "prebuild:cpu",
      "build:cuda",
      "build:vulkan",
      "build:cpu",
    ]);
  });

  test("darwin auto: metal first", () => {
    const c = addonCandidates({ gpu: "auto", platform: "darwin", arch: "arm64", root: "/pkg" });
    expect(c.map((l) => l.path)).toEqual([
      "/pkg/prebuilds/darwin-arm64-metal/timelens.node",
      "/pkg/prebuilds/darwin-arm64/timelens.node",
      "/pkg/build-metal/Release/timelens.node",
      "/pkg/build/Release/timelens.node",
    ]);
  });

  test("an explicit gpu keeps only that variant; false keeps only cpu", () => {
    expect(addonCandidates({ gpu: "vulkan", platform: "linux", arch: "arm64", root: "/p" }).map((l) => l.path)).toEqual(
      [
        "/p/prebuilds/linux-arm64-vulkan/timelens.node",
        "/p/prebuilds/linux-arm64/timelens.node",
        "/p/build-vulkan/Release/timelens.node",
        "/p/build/Release/timelens.node",
      ],
    );
    expect(addonCandidates({ gpu: false, platform: "linux", arch: "x64", root: "/p" }).map((l) => l.variant)).toEqual([
      "cpu",
      "cpu",
    ]);
  });

  test("win32 paths, inside an Electron app.asar", () => {
    const root = "C:\\Users\\me\\AppData\\Local\\Programs\\App\\resources\\app.asar\\node_modules\\timelens-native";
    const c = addonCandidates({ gpu: "auto", platform: "win32", arch: "x64", root });
    const unpacked =
      "C:\\Users\\me\\AppData\\Local\\Programs\\App\\resources\\app.asar.unpacked\\node_modules\\timelens-native";
    expect(c.map((l) => l.path)).toEqual([
      `${unpacked}\\prebuilds\\win32-x64-cuda\\timelens.node`,
      `${unpacked}\\prebuilds\\win32-x64-vulkan\\timelens.node`,
      `${unpacked}\\prebuilds\\win32-x64\\timelens.node`,
      `${unpacked}\\build-cuda\\Release\\timelens.node`,
      `${unpacked}\\build-vulkan\\Release\\timelens.node`,
      `${unpacked}\\build\\Release\\timelens.node`,
    ]);
  });

  test("posix paths inside an Electron app.asar", () => {
    const c = addonCandidates({
      gpu: false,
      platform: "linux",
      arch: "x64",
      root: "/opt/App/resources/app.asar/node_modules/timelens-native",
    });
    expect(c.map((l) => l.path)).toEqual([
      "/opt/App/resources/app.asar.unpacked/node_modules/timelens-native/prebuilds/linux-x64/timelens.node",
      "/opt/App/resources/app.asar.unpacked/node_modules/timelens-native/build/Release/timelens.node",
    ]);
  });
});

describe("gpuRuntimePresent", () => {
  test("linux: looks for the driver libraries", () => {
    const have = new Set(["/usr/lib/x86_64-linux-gnu/libvulkan.so.1"]);
    const env = { platform: "linux", arch: "x64", libraryPath: "", exists: (p: string) => have.has(p) };
    expect(gpuRuntimePresent("vulkan", env)).toEqual({ ok: true, reason: "/usr/lib/x86_64-linux-gnu/libvulkan.so.1" });
    const cuda = gpuRuntimePresent("cuda", env);
    expect(cuda.ok).toBe(false);
    expect(cuda.reason).toMatch(/libcuda\.so\.1 not found.*NVIDIA driver/);
    expect(
      gpuRuntimePresent("cuda", { ...env, libraryPath: "/opt/nv", exists: (p) => p === "/opt/nv/libcuda.so.1" }).ok,
    ).toBe(true);
    expect(gpuRuntimePresent("metal", env).ok).toBe(false);
  });
  test("win32: System32 DLLs", () => {
    const env = {
      platform: "win32",
      systemRoot: "C:\\Windows",
      exists: (p: string) => p === "C:\\Windows\\System32\\nvcuda.dll",
    };
    expect(gpuRuntimePresent("cuda", env).ok).toBe(true);
    expect(gpuRuntimePresent("vulkan", env)).toMatchObject({ ok: false });
  });
  test("darwin: metal only", () => {
    expect(gpuRuntimePresent("metal", { platform: "darwin" }).ok).toBe(true);
    expect(gpuRuntimePresent("vulkan", { platform: "darwin" }).ok).toBe(false);
  });
});

describe("loadAddon (fake addons)", () => {
  const cpuDev: NativeDevice = {
    name: "CPU",
    description: "x86",
    backend: "CPU",
    type: "cpu",
    memoryFree: 1,
    memoryTotal: 2,
  };
  const vkDev: NativeDevice = {
    name: "Vulkan0",
    description: "llvmpipe",
    backend: "Vulkan",
    type: "gpu",
    memoryFree: 1,
    memoryTotal: 2,
  };
  const fake = (devices: NativeDevice[], backends?: Partial<NativeBackends>): NativeAddon => ({
    Model: class {} as never,
    setLogLevel: () => {},
    systemInfo: () => "",
    devices: () => devices,
    backends: () => ({ dynamic: false, dir: null, registered: [], gpuModules: [], ...backends }),
  });
  const root = addonCandidates({ gpu: "auto" })[0].path.replace(/prebuilds.*$/, "");
  const at = (rel: string) => `${root}${rel}`;

  test("auto: skips a CUDA build without the driver, takes the Vulkan build with a device", () => {
    const files = new Map<string, NativeAddon>([
      [at(`prebuilds/${process.platform}-${process.arch}-cuda/timelens.node`), fake([cpuDev])],
      [at(`prebuilds/${process.platform}-${process.arch}-vulkan/timelens.node`), fake([cpuDev, vkDev])],
      [at(`prebuilds/${process.platform}-${process.arch}/timelens.node`), fake([cpuDev])],
    ]);
    const r = loadAddon({
      gpu: "auto",
      exists: (p) => files.has(p),
      requireAddon: (p) => files.get(p)!,
      runtimePresent: (v) =>
        v === "cuda" ? { ok: false, reason: "libcuda.so.1 not found" } : { ok: true, reason: "ok" },
    });
    expect(r.location.variant).toBe("vulkan");
    expect(r.gpu).toMatchObject({ backend: "Vulkan", reason: null });
    expect(r.gpu.devices.map((d) => d.name)).toEqual(["Vulkan0"]);
    expect(r.skipped.map((s) => [s.location.variant, s.reason])).toEqual([["cuda", "libcuda.so.1 not found"]]);
  });

  test("auto: a static GPU build that fails to load or has no device is passed over, CPU with a reason", () => {
    const files = new Map<string, NativeAddon | Error>([
      [at("build-cuda/Release/timelens.node"), new Error("libcudart.so.12: cannot open shared object file")],
      [at("build-vulkan/Release/timelens.node"), fake([cpuDev])],
      [at("build/Release/timelens.node"), fake([cpuDev])],
    ]);
    const r = loadAddon({
      gpu: "auto",
      exists: (p) => files.has(p),
      requireAddon: (p) => {
        const v = files.get(p)!;
        if (v instanceof Error) throw v;
        return v;
      },
      runtimePresent: () => ({ ok: true, reason: "ok" }),
    });
    expect(r.location).toMatchObject({ variant: "cpu", source: "build" });
    expect(r.gpu.backend).toBeNull();
    expect(r.gpu.reason).toMatch(/libcudart\.so\.12.*no Vulkan device.*running on the CPU/);
  });

  test("auto: a prebuilt (dynamic) GPU build without a device is kept and runs on the CPU", () => {
    const files = new Map<string, NativeAddon>([
      [
        at(`prebuilds/${process.platform}-${process.arch}-vulkan/timelens.node`),
        fake([cpuDev], {
          dynamic: true,
          gpuModules: [
            { file: "libggml-vulkan.so", loaded: false, error: "libvulkan.so.1: cannot open shared object file" },
          ],
        }),
      ],
      [at(`prebuilds/${process.platform}-${process.arch}/timelens.node`), fake([cpuDev])],
    ]);
    const r = loadAddon({
      gpu: "auto",
      exists: (p) => files.has(p),
      requireAddon: (p) => files.get(p)!,
      runtimePresent: () => ({ ok: true, reason: "ok" }),
    });
    expect(r.location.variant).toBe("vulkan");
    expect(r.gpu.backend).toBeNull();
    expect(r.gpu.reason).toMatch(
      /no Vulkan device \(libggml-vulkan\.so: libvulkan\.so\.1: cannot open.*running on the CPU/,
    );
  });

  test("gpu: false takes the CPU build; an explicit variant is tried even without the runtime check", () => {
    const files = new Map<string, NativeAddon>([
      [at("build-vulkan/Release/timelens.node"), fake([cpuDev, vkDev])],
      [at("build/Release/timelens.node"), fake([cpuDev])],
    ]);
    const opts = {
      exists: (p: string) => files.has(p),
      requireAddon: (p: string) => files.get(p)!,
      runtimePresent: () => ({ ok: false, reason: "no" }),
    };
    expect(loadAddon({ ...opts, gpu: false }).location.path).toBe(at("build/Release/timelens.node"));
    expect(loadAddon({ ...opts, gpu: false }).gpu).toMatchObject({ backend: null, reason: null });
    const v = loadAddon({ ...opts, gpu: "vulkan" });
    expect(v.gpu.backend).toBe("Vulkan");
    const c = loadAddon({ ...opts, gpu: "cuda" });
    expect(c.location.variant).toBe("cpu");
    expect(c.gpu.reason).toMatch(/no cuda build found.*npx timelens-native build --gpu cuda/);
  });

  test("nothing there: ERR_ADDON_NOT_FOUND says how to build", () => {
    expect(() => loadAddon({ gpu: "auto", exists: () => false })).toThrow(/npx timelens-native build/);
    try {
      loadAddon({ gpu: "auto", exists: () => false });
    } catch (e) {
      expect((e as { code: string }).code).toBe("ERR_ADDON_NOT_FOUND");
    }
  });
});
