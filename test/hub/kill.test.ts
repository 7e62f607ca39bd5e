/** A download killed with SIGKILL mid-file continues from the bytes on disk in the next process. */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadFiles, hubConfig, resolveRepo } from "../../src/hub";
import { FakeHub, sha256 } from "./fake-hub";

const weights = randomBytes(4 * 1024 * 1024);
let hub: FakeHub;
let cacheDir: string;

beforeAll(async () => {
  hub = new FakeHub();
  hub.add({
    name: "acme/slow",
    commit: "3333333333333333333333333333333333333333",
    files: [{ path: "model.safetensors", data: weights, lfs: true }],
  });
  await hub.start();
  cacheDir = mkdtempSync(join(tmpdir(), "tl-kill-"));
});
afterAll(async () => {
  await hub.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

test("kill -9 mid-download, then a new run resumes with a Range request for the rest", async () => {
  hub.faults = { throttle: 64 * 1024 };
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(__dirname, "child", "download-child.ts"), hub.url, cacheDir, "acme/slow"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(signal ?? code)),
  );
  await new Promise<void>((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const last = Number(buf.trim().split("\n").pop());
      if (last >= 1024 * 1024) resolve();
    });
    child.on("exit", () => reject(new Error(`child exited before it got 1 MiB: ${stderr}`)));
  });
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  const partial = join(cacheDir, "models--acme--slow", "blobs", `${sha256(weights)}.incomplete`);
  const kept = statSync(partial).size;
  expect(kept).toBeGreaterThanOrEqual(1024 * 1024);
  expect(kept).toBeLessThan(weights.length);

  hub.faults = {};
  hub.log.length = 0;
  const cfg = hubConfig({ endpoint: hub.url, cacheDir, retryDelayMs: 5 });
  const snapshot = await resolveRepo("acme/slow", "main", cfg);
  const r = await downloadFiles({ snapshot, files: snapshot.files, cfg });
  expect(readFileSync(r.paths["model.safetensors"]).equals(weights)).toBe(true);
  const reads = hub.blobRequests();
  expect(reads.map((x) => x.range)).toEqual([`bytes=${kept}-${weights.length - 1}`]);
  expect(reads[0].sent).toBe(weights.length - kept);
  expect(r.downloadedBytes).toBe(weights.length - kept);
});
