/**
 * The one helper that turns a video input into a file path. ffmpeg needs a seekable file (an
 * MP4's index may sit at its end), so bytes go to a private temporary file that lives until
 * `release()`; a path is used as it is.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TimelensError } from "../errors";

/** Video input: a file path, or the file's bytes (written to a temporary file while used). */
export type VideoSource = string | Uint8Array;

export interface VideoFile {
  path: string;
  /** True when `path` is a temporary copy of bytes (report "<buffer>" instead of it). */
  temporary: boolean;
  /** Removes the temporary copy; a no-op for a path input. Safe to call more than once. */
  release(): Promise<void>;
}

/** Writes bytes to a file only this user can read, in the system temp folder. */
async function writeTempVideo(bytes: Uint8Array): Promise<string> {
  const path = join(tmpdir(), `timelens-${process.pid}-${randomBytes(6).toString("hex")}.video`);
  await fsp.writeFile(path, bytes, { mode: 0o600 });
  return path;
}

/** A file path for `source`; throws ERR_INVALID_ARGUMENT for anything but a path or bytes. */
export async function videoFile(source: VideoSource): Promise<VideoFile> {
  if (typeof source === "string") return { path: source, temporary: false, release: async () => {} };
  if (!(source instanceof Uint8Array)) {
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      "A video must be a file path or a Buffer/Uint8Array of the file's bytes",
    );
  }
  const path = await writeTempVideo(source);
  return { path, temporary: true, release: () => fsp.rm(path, { force: true }) };
}

/** Runs `fn` with a file path for `source`, removing a temporary copy afterwards. */
export async function withVideoFile<T>(source: VideoSource, fn: (file: VideoFile) => Promise<T>): Promise<T> {
  const file = await videoFile(source);
  try {
    return await fn(file);
  } finally {
    await file.release();
  }
}
