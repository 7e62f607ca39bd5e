/**
 * One file from the hub into the HF cache, resumable (docs/hub.md):
 * bytes go to blobs/<etag>.incomplete; a later try hashes what is there and asks only for the
 * rest with a Range request (the library's ranged reads: WebBlob.slice). Transient failures are
 * retried with backoff; the content is checked against its sha256 (LFS) or git blob id before the
 * file is renamed to blobs/<etag>. A file that fails its check is removed.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { downloadFile } from "@huggingface/hub";
import { AbortError, TimelensError } from "../errors";
import { fileSize } from "./cache-layout";
import type { HubConfig } from "./env";
import { describe, isTransientStatus, statusError } from "./errors";
import type { RepoFile } from "./files";
import { backoffMs, sleep } from "./retry";

export interface TransferRequest {
  repo: string;
  commit: string;
  file: RepoFile;
  /** Final blob path; `${blob}.incomplete` holds the partial file. */
  blob: string;
  cfg: HubConfig;
  signal?: AbortSignal;
  /** Bytes of this file now on disk (called as they arrive; starts with what a resume found). */
  onBytes?: (onDisk: number) => void;
}

/** What the fetch wrapper saw of the last response: the library's stream hides status codes. */
interface Attempt {
  controller: AbortController;
  status?: number;
  /** The server ignored our Range (200) or answered another range: the partial file must go. */
  rangeMismatch?: boolean;
  stalled?: boolean;
}

/** Downloads `file` into `blob` (resuming a partial one) and verifies it. */
export async function transferFile(req: TransferRequest): Promise<void> {
  const { file, cfg, signal } = req;
  const partial = `${req.blob}.incomplete`;
  const what = `${req.repo}/${file.path}`;
  await mkdir(dirname(req.blob), { recursive: true });

  let have = (await fileSize(partial)) ?? 0;
  if (have > file.size) {
    await rm(partial, { force: true });
    have = 0;
  }
  let hash = newHash(file);
  if (have > 0) await hashPrefix(partial, have, hash, signal);
  req.onBytes?.(have);

  let current: Attempt | null = null;
  // The library calls this for every request; it binds the attempt's signal and records what came back.
  const observe: typeof fetch = async (input, init) => {
    const attempt = current!;
    const res = await fetch(input, { ...init, signal: attempt.controller.signal });
    attempt.status = res.status;
    const range = new Headers(init?.headers).get("range");
    const start = range ? Number(/^bytes=(\d+)-/.exec(range)?.[1] ?? 0) : 0;
    if (start > 0 && res.ok) {
      const got = Number(/^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1] ?? -1);
      if (res.status !== 206 || got !== start) attempt.rangeMismatch = true;
    }
    return res;
  };

  let blob: Blob | null = null;
  let failures = 0;
  const progress = (n: number): void => {
    have = n;
    req.onBytes?.(n);
  };
  while (have < file.size) {
    const attempt: Attempt = { controller: new AbortController() };
    current = attempt;
    const onAbort = (): void => attempt.controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const before = have;
    try {
      if (signal?.aborted) throw new AbortError();
      blob ??= await downloadFile({
        repo: { type: "model", name: req.repo },
        path: file.path,
        revision: req.commit,
        hubUrl: cfg.endpoint,
        accessToken: cfg.token,
        fetch: observe,
        xet: false,
      });
      if (!blob) throw statusError(404, `file ${what}`, { repo: req.repo, file: file.path });
      if (blob.size !== file.size) {
        throw new TimelensError(
          "ERR_DOWNLOAD_FAILED",
          `${what}: the hub serves ${blob.size} bytes, its listing says ${file.size}`,
          {
            repo: req.repo,
            file: file.path,
            expected: file.size,
            actual: blob.size,
          },
        );
      }
      const stream = blob.slice(have, file.size).stream() as unknown as WebReadableStream<Uint8Array>;
      await appendStream(partial, have, stream, hash, attempt, cfg.stallTimeoutMs, progress);
      if (attempt.rangeMismatch) throw new Error("the server did not honour the Range request");
      if (have > file.size) {
        await rm(partial, { force: true });
        throw new TimelensError(
          "ERR_DOWNLOAD_FAILED",
          `${what}: the server sent more than the file's ${file.size} bytes; the partial file was removed`,
          {
            repo: req.repo,
            file: file.path,
            size: file.size,
          },
        );
      }
    } catch (e) {
      if (signal?.aborted)
        throw new AbortError(`Aborted while downloading ${file.path}`, {
          stage: "download",
          file: file.path,
          bytesOnDisk: have,
        });
      if (e instanceof TimelensError) throw e;
      if (attempt.rangeMismatch) {
        // What arrived is not the rest of the file: start it over.
        await rm(partial, { force: true });
        hash = newHash(file);
        progress(0);
      }
      const status =
        attempt.status !== undefined && (attempt.status < 200 || attempt.status > 299) ? attempt.status : undefined;
      if (status === 416) {
        await rm(partial, { force: true });
        throw new TimelensError(
          "ERR_DOWNLOAD_FAILED",
          `${what}: the server refused to resume (HTTP 416); the partial file was removed, run again`,
          {
            repo: req.repo,
            file: file.path,
            status,
          },
        );
      }
      if (status !== undefined && !isTransientStatus(status))
        throw statusError(status, `file ${what}`, { repo: req.repo, file: file.path }, e);
      failures = have > before ? 1 : failures + 1;
      if (failures > cfg.retries) {
        throw new TimelensError(
          "ERR_DOWNLOAD_FAILED",
          `${what}: ${failures} tries in a row failed ` +
            `(${attempt.stalled ? `no data for ${cfg.stallTimeoutMs} ms` : describe(e)}); ` +
            `${have} of ${file.size} bytes are kept and the next run resumes from there`,
          { repo: req.repo, file: file.path, bytesOnDisk: have, size: file.size },
          { cause: e },
        );
      }
      await sleep(backoffMs(failures, cfg.retryDelayMs), signal);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  const actual = hash.digest("hex");
  const expected = file.sha256 ?? file.gitOid;
  if (expected && actual !== expected) {
    await rm(partial, { force: true });
    throw new TimelensError(
      "ERR_DOWNLOAD_FAILED",
      `${what}: downloaded content does not match its ${file.sha256 ? "sha256" : "git blob id"} ` +
        `(expected ${expected}, got ${actual}); the bad file was removed`,
      { repo: req.repo, file: file.path, expected, actual },
    );
  }
  if (file.size === 0) await (await open(partial, "w")).close();
  await rename(partial, req.blob);
}

/** sha256 for LFS files; the git blob id (sha1 over a "blob <size>\0" header) for the others. */
function newHash(file: RepoFile): Hash {
  if (file.sha256) return createHash("sha256");
  const h = createHash("sha1");
  h.update(`blob ${file.size}\0`);
  return h;
}

async function hashPrefix(path: string, length: number, hash: Hash, signal?: AbortSignal): Promise<void> {
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, signal })) hash.update(chunk as Buffer);
}

/** Writes the stream into `path` from `offset`, feeding the hash; reports the bytes on disk after each chunk. */
async function appendStream(
  path: string,
  offset: number,
  stream: WebReadableStream<Uint8Array>,
  hash: Hash,
  attempt: Attempt,
  stallMs: number,
  onBytes: (onDisk: number) => void,
): Promise<void> {
  const fh = await open(path, offset === 0 ? "w" : "r+");
  let pos = offset;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      attempt.stalled = true;
      attempt.controller.abort();
    }, stallMs);
  };
  try {
    arm();
    for await (const chunk of Readable.fromWeb(stream)) {
      if (attempt.rangeMismatch) break;
      const buf = chunk as Buffer;
      await fh.write(buf, 0, buf.length, pos);
      hash.update(buf);
      pos += buf.length;
      onBytes(pos);
      arm();
    }
  } finally {
    clearTimeout(timer);
    await fh.close();
  }
}
