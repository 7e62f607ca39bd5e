/**
 * Worker-thread side of the frame resizer (docs/architecture.md "Data flow"): the same
 * createResizer the JS thread would run, so the pixels are byte-identical; it only moves the
 * CPU time off the thread that runs the application (an Electron main process, say).
 */
import { parentPort } from "node:worker_threads";
import { createResizer, type ResizeOptions, type Resizer } from "./resize";

/** One frame to resize (the reply's `out` is transferred back, not copied). */
export interface ResizeRequest {
  id: number;
  size: readonly [srcWidth: number, srcHeight: number, dstWidth: number, dstHeight: number];
  options?: ResizeOptions;
  src: Uint8Array;
}

export type ResizeReply = { id: number; out: Uint8Array } | { id: number; error: string };

/** Resizers keep their weights and scratch memory: a few size pairs are live at a time. */
const MAX_RESIZERS = 4;
const resizers = new Map<string, Resizer>();

function resizerFor(request: ResizeRequest): Resizer {
  const key = JSON.stringify([request.size, request.options ?? {}]);
  let r = resizers.get(key);
  if (!r) {
    r = createResizer(...request.size, request.options);
    if (resizers.size >= MAX_RESIZERS) resizers.delete(resizers.keys().next().value as string);
    resizers.set(key, r);
  }
  return r;
}

parentPort?.on("message", (request: ResizeRequest) => {
  let reply: ResizeReply;
  try {
    reply = { id: request.id, out: resizerFor(request).resize(request.src) };
  } catch (e) {
    reply = { id: request.id, error: (e as Error).message };
  }
  parentPort!.postMessage(reply, "out" in reply ? [reply.out.buffer as ArrayBuffer] : []);
});
