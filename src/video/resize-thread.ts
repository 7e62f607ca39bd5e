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

/** Resizes frames of one size pair. */
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
/** Frames sent to each worker and not yet back. */
const pendingOf = new WeakMap<Worker, Map<number, Pending>>();

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

/** The worker died or could not start: the frames it held are resized on the JS thread. */
class WorkerGone extends Error {}

function failAll(pending: Map<number, Pending>, error: Error): void {
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
    const pending = new Map<number, Pending>();
    pendingOf.set(w, pending);
    w.on("message", (reply: ResizeReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (pending.size === 0) w.unref();
      if ("error" in reply) p.reject(new RangeError(reply.error));
      else p.resolve(reply.out);
    });
    w.on("error", () => {
      // cannot load or crashed (a packager that left the file out, say): stay on the JS thread
      workerFailed = true;
    });
    w.on("exit", () => {
      if (worker === w) worker = null;
      failAll(pending, new WorkerGone("The resize worker stopped"));
    });
    w.unref();
    worker = w;
  } catch {
    workerFailed = true;
  }
  return worker;
}

/** Sends one frame to the worker; `src` is cloned, so the caller's copy stays for a fallback. */
function resizeOnWorker(w: Worker, request: Omit<ResizeRequest, "id">): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const id = nextId++;
    pendingOf.get(w)!.set(id, { resolve, reject });
    w.ref(); // a frame in flight keeps the process alive until it comes back
    w.postMessage({ ...request, id } satisfies ResizeRequest);
  });
}

/**
 * A resizer for one size pair on the shared worker (`thread: "worker"`), or on the JS thread
 * when `thread` is "main" or the worker is unavailable. If the worker stops, the frames in
 * flight and later ones are resized on the JS thread (a stopped worker is restarted for the
 * next video; one that fails to load is not tried again).
 */
export function createAsyncResizer(
  size: readonly [srcWidth: number, srcHeight: number, dstWidth: number, dstHeight: number],
  options: ResizeOptions | undefined,
  thread: "worker" | "main" = "worker",
): AsyncResizer {
  // Built here first: invalid sizes throw the same RangeError synchronously on both paths.
  const local = createResizer(...size, options);
  if (thread === "main" || !startWorker()) return { thread: "main", resize: async (src) => local.resize(src) };
  let gone = false;
  return {
    thread: "worker",
    resize: async (src) => {
      const w = gone ? null : startWorker();
      if (!w) return local.resize(src);
      try {
        return await resizeOnWorker(w, { size, options, src });
      } catch (e) {
        if (!(e instanceof WorkerGone)) throw e;
        gone = true;
        return local.resize(src);
      }
    },
  };
}

/**
 * Stops the shared resize worker; the next resize starts a new one. Frames in flight finish on
 * the JS thread. (Idle, the worker does not keep a process alive; this is for tests and for
 * apps that want every thread gone at once.)
 */
export async function stopResizeWorker(): Promise<void> {
  const w = worker;
  worker = null;
  await w?.terminate();
}
