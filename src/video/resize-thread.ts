/**
 * Runs frame resizing on one shared worker thread (src/video/resize-worker.ts), so decoding a
 * video does not hold the JS thread for the resampling of every frame. The worker starts on
 * first use and does not keep the process alive while idle; if it cannot start (a bundler that
 * dropped the worker file, a runtime without worker_threads) resizing falls back to the JS
 * thread with the same code and the same bytes.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { createResizer, type ResizeOptions } from "./resize";
import type { ResizeReply, ResizeRequest } from "./resize-worker";

/** Resizes frames of one size pair; `resize` takes ownership of `src` (it is transferred). */
export interface AsyncResizer {
  resize(src: Uint8Array): Promise<Uint8Array>;
  /** "worker" when frames are resized off the JS thread. */
  readonly thread: "worker" | "main";
}

interface Pending {
  resolve: (out: Uint8Array) => void;
  reject: (e: Error) => void;
}

let worker: Worker | null = null;
let workerFailed = false;
let nextId = 1;
const pending = new Map<number, Pending>();

/**
 * The worker script next to this file: the built .js in dist/, or the .ts source when the
 * package runs from source (tests, tsx), which then needs tsx's loader in the worker.
 */
function workerScript(): { path: string; execArgv: string[] } | null {
  const js = join(__dirname, "resize-worker.js");
  if (existsSync(js)) return { path: js, execArgv: [] };
  const ts = join(__dirname, "resize-worker.ts");
  if (!existsSync(ts)) return null;
  try {
    return { path: ts, execArgv: ["--require", require.resolve("tsx/cjs")] };
  } catch {
    return null; // no TypeScript loader installed: resize on the JS thread
  }
}

function failAll(error: Error): void {
  for (const p of pending.values()) p.reject(error);
  pending.clear();
}

function startWorker(): Worker | null {
  if (worker || workerFailed) return worker;
  const script = workerScript();
  if (!script) {
    workerFailed = true;
    return null;
  }
  try {
    const w = new Worker(script.path, { execArgv: script.execArgv });
    w.on("message", (reply: ResizeReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (pending.size === 0) w.unref();
      if ("error" in reply) p.reject(new RangeError(reply.error));
      else p.resolve(reply.out);
    });
    w.on("error", (e) => failAll(e));
    w.on("exit", () => {
      if (worker === w) worker = null;
      failAll(new Error("The resize worker stopped"));
    });
    w.unref();
    worker = w;
  } catch {
    workerFailed = true;
  }
  return worker;
}

/**
 * A resizer for one size pair on the shared worker (`thread: "worker"`), or on the JS thread
 * when `thread` is "main" or the worker is unavailable.
 */
export function createAsyncResizer(
  size: readonly [srcWidth: number, srcHeight: number, dstWidth: number, dstHeight: number],
  options: ResizeOptions | undefined,
  thread: "worker" | "main" = "worker",
): AsyncResizer {
  // Built here first: invalid sizes throw the same RangeError synchronously on both paths.
  const local = createResizer(...size, options);
  const w = thread === "worker" ? startWorker() : null;
  if (!w) return { thread: "main", resize: async (src) => local.resize(src) };
  return {
    thread: "worker",
    resize: (src) =>
      new Promise<Uint8Array>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        w.ref(); // a frame in flight keeps the process alive until it comes back
        const request: ResizeRequest = { id, size, options, src };
        w.postMessage(request, [src.buffer as ArrayBuffer]);
      }),
  };
}
