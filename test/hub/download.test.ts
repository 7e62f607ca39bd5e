import { randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadFiles, hubConfig, resolveRepo, selectCheckpointFiles, type DownloadProgress } from "../../src/hub";
import { FakeHub, sha256 } from "./fake-hub";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const weights = randomBytes(3 * 1024 * 1024 + 17);
const config = Buffer.from(JSON.stringify({ architectures: ["Qwen3VLForConditionalGeneration"] }));
const tokenizer = Buffer.from(JSON.stringify({ model: { type: "BPE" } }));

let hub: FakeHub;
let cacheDir: string;

beforeAll(async () => {
  hub = new FakeHub();
  hub.add({
    name: "acme/tiny",
    commit: COMMIT,
    files: [
      { path: "config.json", data: config },
      { path: "tokenizer.json", data: tokenizer },
      { path: "README.md", data: Buffer.from("# tiny") },
      { path: "model.safetensors", data: weights, lfs: true },
    ],
  });
  hub.add({
    name: "acme/gated",
    commit: COMMIT,
    token: "hf_secret",
    files: [
      { path: "config.json", data: config },
      { path: "tokenizer.json", data: tokenizer },
      { path: "model.safetensors", data: weights, lfs: true },
    ],
  });
  await hub.start();
});
afterAll(() => hub.stop());
beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), "tl-hub-"));
  hub.faults = {};
  hub.log.length = 0;
});
afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

const cfg = (extra: object = {}) =>
  hubConfig({ endpoint: hub.url, cacheDir, token: undefined, retryDelayMs: 5, ...extra });
const repoDir = () => join(cacheDir, "models--acme--tiny");

async function pull(extra: object = {}, onProgress?: (p: DownloadProgress) => void) {
  const c = cfg(extra);
  const snapshot = await resolveRepo("acme/tiny", "main", c);
  return downloadFiles({
    snapshot,
    files: selectCheckpointFiles("acme/tiny", snapshot.files),
    cfg: c,
    onProgress,
    progressIntervalMs: 0,
  });
}

test("downloads into the HF cache layout: blobs by hash, relative snapshot links, refs/main", async () => {
  const events: DownloadProgress[] = [];
  const r = await pull({}, (p) => events.push(p));
  expect(r.dir).toBe(join(repoDir(), "snapshots", COMMIT));
  expect(Object.keys(r.paths).sort()).toEqual(["config.json", "model.safetensors", "tokenizer.json"]);
  expect(readFileSync(join(repoDir(), "refs", "main"), "utf8")).toBe(COMMIT);
  const link = join(r.dir, "model.safetensors");
  expect(lstatSync(link).isSymbolicLink()).toBe(true);
  expect(readlinkSync(link)).toBe(join("..", "..", "blobs", sha256(weights)));
  expect(readFileSync(link).equals(weights)).toBe(true);
  expect(existsSync(join(r.dir, "README.md"))).toBe(false);
  expect(r.downloadedBytes).toBe(weights.length + config.length + tokenizer.length);
  const last = events[events.length - 1];
  expect(last.done).toBe(last.total);
  expect(last.total).toBe(weights.length + config.length + tokenizer.length);
  expect(events.some((e) => e.file === "model.safetensors" && e.fileDone < e.fileTotal)).toBe(true);
  // The LFS file went through the redirect to the blob server.
  expect(hub.blobRequests().length).toBe(1);
});

test("a second download fetches nothing; a blob already present (a Python download) is linked, not fetched", async () => {
  await pull();
  const before = hub.log.length;
  const again = await pull();
  expect(again.downloadedBytes).toBe(0);
  expect(hub.log.slice(before).filter((l) => l.url.includes("/resolve/") || l.server === "blob")).toEqual([]);

  rmSync(join(repoDir(), "snapshots"), { recursive: true });
  const relinked = await pull();
  expect(relinked.downloadedBytes).toBe(0);
  expect(readFileSync(relinked.paths["model.safetensors"]).equals(weights)).toBe(true);
});

test("a dropped connection is resumed with a Range request for the remaining bytes only", async () => {
  hub.faults = { dropAfter: [1024 * 1024] };
  const r = await pull();
  expect(readFileSync(r.paths["model.safetensors"]).equals(weights)).toBe(true);
  const reads = hub.blobRequests();
  expect(reads.length).toBe(2);
  expect(reads[0].range).toBeUndefined();
  const resumedAt = Number(/^bytes=(\d+)-/.exec(reads[1].range ?? "")?.[1]);
  expect(resumedAt).toBeGreaterThan(0);
  expect(resumedAt).toBeLessThanOrEqual(1024 * 1024);
  expect(reads[1].sent).toBe(weights.length - resumedAt);
});

test("a partial file left by an earlier run is continued, never restarted", async () => {
  const blobs = join(repoDir(), "blobs");
  mkdirSync(blobs, { recursive: true });
  const have = 2 * 1024 * 1024 + 5;
  writeFileSync(join(blobs, `${sha256(weights)}.incomplete`), weights.subarray(0, have));
  const r = await pull();
  expect(readFileSync(r.paths["model.safetensors"]).equals(weights)).toBe(true);
  const reads = hub.blobRequests();
  expect(reads.map((x) => x.range)).toEqual([`bytes=${have}-${weights.length - 1}`]);
  expect(reads[0].sent).toBe(weights.length - have);
  expect(r.downloadedBytes).toBe(weights.length - have + config.length + tokenizer.length);
});

test("a server that ignores Range makes us start the file over instead of appending garbage", async () => {
  const blobs = join(repoDir(), "blobs");
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(blobs, `${sha256(weights)}.incomplete`), weights.subarray(0, 4096));
  hub.faults = { ignoreRange: true };
  const r = await pull();
  expect(readFileSync(r.paths["model.safetensors"]).equals(weights)).toBe(true);
});

test("transient 503s are retried with backoff", async () => {
  hub.faults = { unavailable: 2 };
  const r = await pull();
  expect(readFileSync(r.paths["model.safetensors"]).equals(weights)).toBe(true);
  expect(hub.blobRequests().length).toBe(3);
});

test("too many failures in a row give ERR_DOWNLOAD_FAILED and keep the partial bytes", async () => {
  hub.faults = { dropAfter: [100_000, 0, 0, 0] };
  await expect(pull({ retries: 2 })).rejects.toMatchObject({
    code: "ERR_DOWNLOAD_FAILED",
    details: { bytesOnDisk: 100_000 },
  });
  expect(readFileSync(join(repoDir(), "blobs", `${sha256(weights)}.incomplete`)).length).toBe(100_000);
});

test("content that does not match its sha256 is rejected and removed", async () => {
  hub.faults = { corrupt: true };
  await expect(pull()).rejects.toMatchObject({
    code: "ERR_DOWNLOAD_FAILED",
    details: { file: "model.safetensors", expected: sha256(weights) },
  });
  expect(existsSync(join(repoDir(), "blobs", `${sha256(weights)}.incomplete`))).toBe(false);
  expect(existsSync(join(repoDir(), "blobs", sha256(weights)))).toBe(false);
  expect(existsSync(join(repoDir(), "snapshots", COMMIT, "model.safetensors"))).toBe(false);
});

test("404 and 401 become ERR_HUB_NOT_FOUND and ERR_HUB_UNAUTHORIZED (which names HF_TOKEN)", async () => {
  await expect(resolveRepo("acme/nope", "main", cfg())).rejects.toMatchObject({ code: "ERR_HUB_NOT_FOUND" });
  await expect(resolveRepo("acme/tiny", "v9", cfg())).rejects.toMatchObject({ code: "ERR_HUB_NOT_FOUND" });
  const denied = resolveRepo("acme/gated", "main", cfg());
  await expect(denied).rejects.toMatchObject({ code: "ERR_HUB_UNAUTHORIZED", details: { status: 401 } });
  await expect(denied).rejects.toThrow(/HF_TOKEN/);
  const c = cfg({ token: "hf_secret" });
  const from = hub.log.length;
  const ok = await resolveRepo("acme/gated", "main", c);
  expect(ok.commit).toBe(COMMIT);
  const r = await downloadFiles({ snapshot: ok, files: selectCheckpointFiles("acme/gated", ok.files), cfg: c });
  expect(readFileSync(r.paths["model.safetensors"]).equals(weights)).toBe(true);
  // The token goes to the hub, never to the blob host the LFS redirect points at.
  const withToken = hub.log.slice(from);
  expect(withToken.filter((l) => l.server === "hub").map((l) => l.auth)).toEqual(
    Array(withToken.filter((l) => l.server === "hub").length).fill("Bearer hf_secret"),
  );
  expect(withToken.filter((l) => l.server === "blob").map((l) => l.auth)).toEqual([undefined, undefined]);
});

test("HF_ENDPOINT, HF_TOKEN and HF_HUB_CACHE are read from the environment", () => {
  const saved = { ...process.env };
  try {
    process.env.HF_ENDPOINT = "http://example.test/";
    process.env.HF_TOKEN = "hf_env";
    process.env.HF_HUB_CACHE = "/tmp/somewhere";
    const c = hubConfig();
    expect([c.endpoint, c.token, c.cacheDir]).toEqual(["http://example.test", "hf_env", "/tmp/somewhere"]);
    delete process.env.HF_HUB_CACHE;
    process.env.HF_HOME = "/tmp/hfhome";
    expect(hubConfig().cacheDir).toBe(join("/tmp/hfhome", "hub"));
  } finally {
    process.env = saved;
  }
});

test("with the hub unreachable, a cached revision is served from the HF cache", async () => {
  await pull();
  const offline = hubConfig({ endpoint: "http://127.0.0.1:9", cacheDir, retries: 0, retryDelayMs: 1 });
  const snap = await resolveRepo("acme/tiny", "main", offline);
  expect(snap).toMatchObject({ commit: COMMIT, fromCache: true });
  const r = await downloadFiles({
    snapshot: snap,
    files: selectCheckpointFiles("acme/tiny", snap.files),
    cfg: offline,
  });
  expect(r.downloadedBytes).toBe(0);
});

test("an AbortSignal stops the transfer and keeps the partial file for a resume", async () => {
  hub.faults = { dropAfter: [] };
  const c = cfg();
  const snapshot = await resolveRepo("acme/tiny", "main", c);
  const controller = new AbortController();
  const run = downloadFiles({
    snapshot,
    files: selectCheckpointFiles("acme/tiny", snapshot.files),
    cfg: c,
    signal: controller.signal,
    progressIntervalMs: 0,
    onProgress: (p) => {
      if (p.file === "model.safetensors" && p.fileDone > 0) controller.abort();
    },
  });
  await expect(run).rejects.toMatchObject({ code: "ERR_ABORTED" });
  expect(existsSync(join(repoDir(), "blobs", `${sha256(weights)}.incomplete`))).toBe(true);
  const r = await pull();
  expect(readFileSync(r.paths["model.safetensors"]).equals(weights)).toBe(true);
  expect(hub.blobRequests().pop()?.range).toMatch(/^bytes=[1-9]\d*-/);
});

test("a download that does not fit on the disk fails before it starts, saying how much is missing", async () => {
  const c = cfg();
  const snapshot = await resolveRepo("acme/tiny", "main", c);
  const huge = { dir: cacheDir, bytes: 2 ** 60, purpose: "conversion" };
  await expect(
    downloadFiles({ snapshot, files: selectCheckpointFiles("acme/tiny", snapshot.files), cfg: c, alsoNeeds: [huge] }),
  ).rejects.toMatchObject({
    code: "ERR_DISK_FULL",
    details: { missing: expect.any(Number) },
  });
  expect(hub.blobRequests()).toEqual([]);
});

test("two concurrent downloads of one repo fetch each blob once (a lock per blob)", async () => {
  hub.faults = { throttle: 256 * 1024 };
  const [a, b] = await Promise.all([pull(), pull()]);
  expect(readFileSync(a.paths["model.safetensors"]).equals(weights)).toBe(true);
  expect(b.paths["model.safetensors"]).toBe(a.paths["model.safetensors"]);
  expect(hub.blobRequests().length).toBe(1);
  expect(existsSync(join(cacheDir, ".locks", "models--acme--tiny", `${sha256(weights)}.timelens.lock`))).toBe(false);
});
