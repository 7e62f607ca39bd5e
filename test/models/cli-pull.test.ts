/** `timelens pull --json` and `timelens models list|rm` against the fake hub, through the env vars users set. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { runCli } from "../helpers/cli";
import { fixturePair } from "../helpers/models";
import { FakeHub } from "../hub/fake-hub";

const COMMIT = "4444444444444444444444444444444444444444";
let hub: FakeHub;
let dir: string;
const saved = { ...process.env };

beforeAll(async () => {
  const pair = fixturePair("tiny-qwen25vl");
  hub = new FakeHub();
  hub.add({
    name: "acme/Tiny25-GGUF",
    commit: COMMIT,
    files: [
      { path: "Tiny25-F16.gguf", data: readFileSync(pair.model), lfs: true },
      { path: "mmproj-Tiny25-F16.gguf", data: readFileSync(pair.mmproj), lfs: true },
    ],
  });
  hub.add({
    name: "acme/private",
    commit: COMMIT,
    token: "hf_ok",
    files: [{ path: "x.gguf", data: Buffer.from("GGUF") }],
  });
  await hub.start();
  dir = mkdtempSync(join(tmpdir(), "tl-cli-pull-"));
  process.env.HF_ENDPOINT = hub.url;
  process.env.HF_HOME = join(dir, "hf");
  delete process.env.HF_HUB_CACHE;
  delete process.env.HF_TOKEN;
  process.env.TIMELENS_CACHE_DIR = join(dir, "timelens");
});
afterAll(async () => {
  process.env = saved;
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("pull --json prints one object with absolute model and mmproj paths; models list / rm", async () => {
  const r = await runCli(["pull", "acme/Tiny25-GGUF", "--json"]);
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  const out = JSON.parse(lines[0]);
  expect(isAbsolute(out.model) && isAbsolute(out.mmproj)).toBe(true);
  expect(out.model).toBe(join(dir, "hf", "hub", "models--acme--Tiny25-GGUF", "snapshots", COMMIT, "Tiny25-F16.gguf"));
  expect(existsSync(out.mmproj)).toBe(true);

  const list = await runCli(["models", "list", "--json"]);
  const listed = JSON.parse(list.stdout);
  expect(listed.models.map((m: { repo: string }) => m.repo)).toEqual(["acme/Tiny25-GGUF"]);
  expect(listed.dir).toBe(join(dir, "timelens", "models"));

  const rm = await runCli(["models", "rm", "acme/Tiny25-GGUF", "--json"]);
  expect(JSON.parse(rm.stdout).removed).toHaveLength(1);
  expect(readdirSync(join(dir, "timelens", "models", "acme"))).toEqual([]);
  // The HF cache keeps the download for Python and for the next pull.
  expect(existsSync(out.model)).toBe(true);
});

test("pull of a gated repo without HF_TOKEN fails with ERR_HUB_UNAUTHORIZED; unknown repos with ERR_HUB_NOT_FOUND", async () => {
  const denied = await runCli(["pull", "acme/private", "--json"]);
  expect(denied.code).not.toBe(0);
  expect(JSON.parse(denied.stderr.trim().split("\n").pop()!).error.code).toBe("ERR_HUB_UNAUTHORIZED");
  const missing = await runCli(["pull", "acme/none", "--json"]);
  expect(JSON.parse(missing.stderr.trim().split("\n").pop()!).error.code).toBe("ERR_HUB_NOT_FOUND");
  const bad = await runCli(["pull", "--outtype", "f8", "acme/Tiny25-GGUF"]);
  expect(bad.code).toBe(1);
});
