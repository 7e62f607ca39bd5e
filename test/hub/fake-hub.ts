/**
 * A local HTTP server that answers the hub endpoints @huggingface/hub calls, the way the hub does:
 *   GET /api/models/{repo}/revision/{rev}   model info with `sha` (the commit)
 *   GET /api/models/{repo}/tree/{commit}    the file list (oid, size, lfs { oid, size })
 *   GET /{repo}/resolve/{rev}/{path}        plain files: 200/206 with ETag + X-Repo-Commit;
 *                                           LFS files: 302 with X-Linked-Etag / X-Linked-Size to a
 *                                           blob URL on a second server (like the CDN), which serves Range.
 * Faults are switchable per test: drop the connection after N bytes, ignore Range, refuse with 401.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeFile {
  path: string;
  data: Buffer;
  /** LFS files are served through a redirect to the blob server and listed with their sha256. */
  lfs?: boolean;
}

export interface FakeRepo {
  name: string;
  commit: string;
  files: FakeFile[];
  /** Needs `Authorization: Bearer <token>`; else 401 like a gated repo. */
  token?: string;
}

export interface RequestLog {
  server: "hub" | "blob";
  method: string;
  url: string;
  range?: string;
  auth?: string;
  /** Body bytes actually sent. */
  sent: number;
}

export interface Faults {
  /** Close the socket after sending this many body bytes of a blob response (once per entry). */
  dropAfter?: number[];
  /** Answer ranged blob requests with 200 and the whole file. */
  ignoreRange?: boolean;
  /** Corrupt served blob bytes (flip the first byte). */
  corrupt?: boolean;
  /** Answer this many blob requests with 503 first. */
  unavailable?: number;
  /** Send blob bodies in chunks of this many bytes, 20 ms apart (a slow link). */
  throttle?: number;
}

export const gitOid = (data: Buffer): string =>
  createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

export class FakeHub {
  readonly log: RequestLog[] = [];
  faults: Faults = {};
  private repos = new Map<string, FakeRepo>();
  private hub!: Server;
  private blobs!: Server;
  url = "";
  private blobUrl = "";

  add(repo: FakeRepo): void {
    this.repos.set(repo.name, repo);
  }

  async start(): Promise<void> {
    this.hub = createServer((req, res) => this.handleHub(req, res));
    this.blobs = createServer((req, res) => this.handleBlob(req, res));
    await Promise.all([listen(this.hub), listen(this.blobs)]);
    this.url = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.blobUrl = `http://127.0.0.1:${(this.blobs.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.blobs]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  blobRequests(): RequestLog[] {
    return this.log.filter((l) => l.server === "blob" && l.range !== "bytes=0-0");
  }

  private record(server: "hub" | "blob", req: IncomingMessage): RequestLog {
    const entry: RequestLog = {
      server,
      method: req.method ?? "GET",
      url: req.url ?? "",
      range: req.headers.range,
      auth: req.headers.authorization,
      sent: 0,
    };
    this.log.push(entry);
    return entry;
  }

  private findRepo(name: string, req: IncomingMessage, res: ServerResponse): FakeRepo | null {
    const repo = this.repos.get(name);
    if (!repo) {
      json(res, 404, { error: "Repository not found" }, { "X-Error-Code": "RepoNotFound" });
      return null;
    }
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      json(
        res,
        401,
        { error: "Access to model is restricted. You must have access to it and be authenticated to access it." },
        { "X-Error-Code": "GatedRepo" },
      );
      return null;
    }
    return repo;
  }

  private handleHub(req: IncomingMessage, res: ServerResponse): void {
    this.record("hub", req);
    const url = new URL(req.url ?? "/", this.url);
    const path = decodeURIComponent(url.pathname);
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path);
    if (m) {
      const repo = this.findRepo(m[1], req, res);
      if (!repo) return;
      if (m[2] !== "main" && m[2] !== repo.commit)
        return json(res, 404, { error: `Invalid rev id: ${m[2]}` }, { "X-Error-Code": "RevisionNotFound" });
      return json(res, 200, {
        _id: "x",
        id: repo.name,
        sha: repo.commit,
        private: false,
        gated: repo.token ? "manual" : false,
        downloads: 0,
        likes: 0,
        lastModified: "2026-01-01T00:00:00.000Z",
      });
    }
    m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(path);
    if (m) {
      const repo = this.findRepo(m[1], req, res);
      if (!repo) return;
      if (m[2] !== "main" && m[2] !== repo.commit)
        return json(res, 404, { error: "Invalid rev id" }, { "X-Error-Code": "RevisionNotFound" });
      return json(
        res,
        200,
        repo.files.map((f) => ({
          type: "file",
          path: f.path,
          size: f.data.length,
          oid: gitOid(f.data),
          ...(f.lfs ? { lfs: { oid: sha256(f.data), size: f.data.length, pointerSize: 134 } } : {}),
        })),
      );
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (m) {
      const repo = this.findRepo(m[1], req, res);
      if (!repo) return;
      if (m[2] !== "main" && m[2] !== repo.commit)
        return json(res, 404, { error: "Invalid rev id" }, { "X-Error-Code": "RevisionNotFound" });
      const file = repo.files.find((f) => f.path === m![3]);
      if (!file) return json(res, 404, { error: "Entry not found" }, { "X-Error-Code": "EntryNotFound" });
      const common = { "X-Repo-Commit": repo.commit };
      if (file.lfs) {
        const sha = sha256(file.data);
        res.writeHead(302, {
          ...common,
          Location: `${this.blobUrl}/blobs/${repo.name}/${sha}`,
          "X-Linked-Etag": `"${sha}"`,
          "X-Linked-Size": String(file.data.length),
          ETag: `W/"${gitOid(Buffer.from(sha))}"`,
          "Content-Length": "0",
        });
        return void res.end();
      }
      return serveBytes(
        req,
        res,
        file.data,
        { ...common, ETag: `"${gitOid(file.data)}"` },
        this.log[this.log.length - 1],
        this.faults,
        false,
      );
    }
    json(res, 404, { error: "Not found" });
  }

  private handleBlob(req: IncomingMessage, res: ServerResponse): void {
    const entry = this.record("blob", req);
    const m = /^\/blobs\/([^/]+\/[^/]+)\/([0-9a-f]{64})$/.exec(new URL(req.url ?? "/", this.blobUrl).pathname);
    const file = m && this.repos.get(m[1])?.files.find((f) => f.lfs && sha256(f.data) === m[2]);
    if (!file) return json(res, 404, { error: "NoSuchKey" });
    if (this.faults.unavailable && this.faults.unavailable > 0 && req.headers.range !== "bytes=0-0") {
      this.faults.unavailable--;
      return json(res, 503, { error: "Slow down" });
    }
    serveBytes(
      req,
      res,
      this.faults.corrupt ? corrupt(file.data) : file.data,
      { ETag: `"${sha256(file.data)}"`, "Accept-Ranges": "bytes" },
      entry,
      this.faults,
      true,
    );
  }
}

function corrupt(data: Buffer): Buffer {
  const copy = Buffer.from(data);
  copy[0] ^= 0xff;
  return copy;
}

function serveBytes(
  req: IncomingMessage,
  res: ServerResponse,
  data: Buffer,
  headers: Record<string, string>,
  entry: RequestLog,
  faults: Faults,
  isBlob: boolean,
): void {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
  let start = 0;
  let end = data.length - 1;
  let status = 200;
  if (range && !(isBlob && faults.ignoreRange && range[1] !== "0")) {
    start = Number(range[1]);
    end = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
    if (start >= data.length) {
      res.writeHead(416, { "Content-Range": `bytes */${data.length}` });
      return void res.end();
    }
    status = 206;
  }
  const body = data.subarray(start, end + 1);
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/octet-stream",
    "Content-Length": String(body.length),
    ...(status === 206 ? { "Content-Range": `bytes ${start}-${end}/${data.length}` } : {}),
  });
  const drop = isBlob && req.headers.range !== "bytes=0-0" ? faults.dropAfter?.shift() : undefined;
  if (drop !== undefined && drop < body.length) {
    const part = body.subarray(0, drop);
    entry.sent = part.length;
    res.write(part, () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  if (isBlob && faults.throttle && req.headers.range !== "bytes=0-0") {
    const step = faults.throttle;
    let at = 0;
    const tick = (): void => {
      if (res.destroyed) return;
      const part = body.subarray(at, at + step);
      at += part.length;
      entry.sent = at;
      if (at >= body.length) return void res.end(part);
      res.write(part);
      setTimeout(tick, 20);
    };
    return tick();
  }
  entry.sent = body.length;
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
}
