/**
 * Main process: owns the Grounder (the native addon loads here, never in a renderer), answers
 * the renderer's requests over IPC and streams tokens back to the window that asked.
 *
 *   TIMELENS_MODEL=TimeLens-8B.Q4_K_M.gguf TIMELENS_MMPROJ=mmproj-TimeLens-8B.gguf npm start
 */
import { app, BrowserWindow, dialog, ipcMain } from "electron";
import { join } from "node:path";
import { Grounder, isTimelensError } from "timelens-native";
import { CHANNELS, type GroundReply, type GroundRequest } from "./api";

let grounder: Promise<Grounder> | null = null;
let running: AbortController | null = null;

function loadGrounder(): Promise<Grounder> {
  const model = process.env.TIMELENS_MODEL;
  const mmproj = process.env.TIMELENS_MMPROJ;
  if (!model || !mmproj)
    return Promise.reject(new Error("Set TIMELENS_MODEL and TIMELENS_MMPROJ to the GGUF and mmproj paths"));
  // gpu "auto": CUDA / Vulkan / Metal build when one loads here, else the CPU (info.gpu.reason says why).
  // A failed load is forgotten, so the next request tries again (e.g. after the user fixes a path).
  grounder ??= Grounder.load({ model, mmproj, gpu: "auto", onLog: (m) => console.log(m) }).catch((e: unknown) => {
    grounder = null;
    throw e;
  });
  return grounder;
}

function describeDevice(g: Grounder): string {
  const { gpu } = g.info;
  const layers = gpu.layerDevices.length
    ? `${gpu.offloadedLayers}/${gpu.totalLayers} layers on ${gpu.layerDevices.map((d) => d.description).join(", ")}`
    : "layers on the CPU";
  const projector = gpu.projectorDevice ? `vision on ${gpu.projectorDevice.description}` : "vision on the CPU";
  return `${layers}; ${projector}${gpu.reason ? ` (${gpu.reason})` : ""}`;
}

ipcMain.handle(CHANNELS.pick, async (event) => {
  const win = BrowserWindow.fromWebContents(event.sender);
  const options = {
    properties: ["openFile" as const],
    filters: [{ name: "Video", extensions: ["mp4", "mkv", "mov", "webm", "avi"] }],
  };
  const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
  return r.canceled ? null : (r.filePaths[0] ?? null);
});

ipcMain.handle(CHANNELS.ground, async (event, request: GroundRequest): Promise<GroundReply> => {
  if (typeof request?.video !== "string" || typeof request?.query !== "string")
    throw new Error("ground({ video, query }) needs two strings");
  running?.abort();
  const controller = new AbortController();
  running = controller;
  const sender = event.sender;
  const t0 = Date.now();
  try {
    const g = await loadGrounder();
    const r = await g.ground(request.video, request.query, {
      signal: controller.signal,
      onToken: (text) => {
        if (!sender.isDestroyed()) sender.send(CHANNELS.token, text);
      },
      onProgress: (p) => {
        if (!sender.isDestroyed()) sender.send(CHANNELS.progress, p.stage, p.done, p.total);
      },
    });
    return { start: r.start, end: r.end, text: r.text, device: describeDevice(g), ms: Date.now() - t0 };
  } catch (e) {
    // Errors cross IPC as plain messages; keep the stable code in front.
    throw new Error(isTimelensError(e) ? `${e.code}: ${e.message}` : (e as Error).message);
  } finally {
    if (running === controller) running = null;
  }
});

ipcMain.on(CHANNELS.cancel, () => running?.abort());

function createWindow(): void {
  const win = new BrowserWindow({
    width: 900,
    height: 640,
    webPreferences: {
      preload: join(__dirname, "preload.js"),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
    },
  });
  void win.loadFile(join(__dirname, "..", "index.html"));
}

app.whenReady().then(() => {
  createWindow();
  app.on("activate", () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on("window-all-closed", () => {
  running?.abort();
  if (process.platform !== "darwin") app.quit();
});

app.on("will-quit", () => {
  void grounder?.then((g) => g.dispose()).catch(() => {});
});
