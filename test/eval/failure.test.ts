/**
 * classifyFailure: the one rule that eval and the queue worker share for what a failed item
 * means (docs/queue.md#failures).
 */
import { AbortError, TimelensError, type ErrorCode } from "../../src/errors";
import { VIDEO_FAULT_CODES, classifyFailure, isOutOfMemory, workerDisposition } from "../../src/eval/failure";

const err = (code: ErrorCode, message = "x") => new TimelensError(code, message);

describe("classifyFailure", () => {
  test.each(["ERR_FILE_NOT_FOUND", "ERR_VIDEO_UNREADABLE", "ERR_VIDEO_TOO_SHORT", "ERR_VIDEO_ASPECT"] as ErrorCode[])(
    "%s is the video's fault (scored as an unparseable answer)",
    (code) => {
      expect(classifyFailure(err(code))).toBe("video");
      expect(VIDEO_FAULT_CODES.has(code)).toBe(true);
    },
  );

  test.each([
    "ERR_NATIVE",
    "ERR_STATE_INVALID",
    "ERR_CONTEXT_OVERFLOW",
    "ERR_QUEUE",
    "ERR_DISPOSED",
    "ERR_BUSY",
    "ERR_FFMPEG_NOT_FOUND",
    "ERR_MODEL_INVALID",
    "ERR_INVALID_ARGUMENT",
    "ERR_CLIP_RANGE",
  ] as ErrorCode[])("%s is infrastructure: never scored", (code) => {
    expect(classifyFailure(err(code))).toBe("infrastructure");
  });

  test("errors that are not ours (a bug, out of memory) are infrastructure", () => {
    expect(classifyFailure(new TypeError("x is undefined"))).toBe("infrastructure");
    expect(classifyFailure(new RangeError("Array buffer allocation failed"))).toBe("infrastructure");
    expect(classifyFailure("a string")).toBe("infrastructure");
  });

  test("an out-of-memory message under a video code is still infrastructure", () => {
    expect(isOutOfMemory(err("ERR_VIDEO_UNREADABLE", "av_malloc: Cannot allocate memory"))).toBe(true);
    expect(classifyFailure(err("ERR_VIDEO_UNREADABLE", "ffmpeg: Cannot allocate memory"))).toBe("infrastructure");
    expect(classifyFailure(err("ERR_VIDEO_UNREADABLE", "moov atom not found"))).toBe("video");
  });

  test("aborts: ERR_ABORTED always, a platform AbortError only once our signal fired", () => {
    expect(classifyFailure(new AbortError())).toBe("aborted");
    const platform = Object.assign(new Error("The operation was aborted"), { name: "AbortError" });
    expect(classifyFailure(platform)).toBe("infrastructure");
    expect(classifyFailure(platform, AbortSignal.abort())).toBe("aborted");
  });

  test("the worker fails bad job data at once and retries the rest", () => {
    expect(workerDisposition(err("ERR_INVALID_ARGUMENT"))).toBe("permanent");
    expect(workerDisposition(err("ERR_VIDEO_UNREADABLE"))).toBe("retry");
    expect(workerDisposition(err("ERR_NATIVE"))).toBe("retry");
    expect(workerDisposition(new Error("boom"))).toBe("retry");
  });
});
