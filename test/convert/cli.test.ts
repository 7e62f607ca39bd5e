/** `timelens convert`: JSON output, defaults, usage and input errors with their exit codes. */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CHECKPOINT_CASES, checkpointRoot, tinyCheckpoint } from "../helpers/hf-checkpoints";
import { runCli } from "../helpers/cli";
import { dumpGguf } from "./gguf-dump";

afterAll(() => rmSync(checkpointRoot(), { recursive: true, force: true }));

test("--json prints one object with absolute paths; defaults are f16 next to the checkpoint", async () => {
  const dir = await tinyCheckpoint(CHECKPOINT_CASES[2]);
  const r = await runCli(["convert", dir, "--json"]);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as { model: string; mmproj: string; family: string; ms: number };
  expect(out.family).toBe("qwen2.5vl");
  expect(out.model).toBe(join(dir, "qwen25vl-new-F16.gguf"));
  expect(out.mmproj).toBe(join(dir, "mmproj-qwen25vl-new-F16.gguf"));
  expect(dumpGguf(out.model).metadata["general.file_type"].value).toBe(1);
  expect(dumpGguf(out.mmproj).tensors.length).toBeGreaterThan(20); // the layout the official converter empties
});

test("--outtype, --outfile and --no-mmproj", async () => {
  const dir = await tinyCheckpoint(CHECKPOINT_CASES[0]);
  const outfile = join(dir, "q8.gguf");
  const r = await runCli(["convert", dir, "--outtype", "q8_0", "--outfile", outfile, "--no-mmproj", "--json"]);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as { model: string; mmproj?: string };
  expect(out.model).toBe(outfile);
  expect(out.mmproj).toBeUndefined();
  expect(dumpGguf(outfile).metadata["general.file_type"].value).toBe(7);
});

test("usage errors exit 1, a bad checkpoint exits 3 with a typed JSON error", async () => {
  expect((await runCli(["convert"])).code).toBe(1);
  expect((await runCli(["convert", "x", "--outtype", "q4_k"])).code).toBe(1);
  const dir = await tinyCheckpoint(CHECKPOINT_CASES[0]);
  expect((await runCli(["convert", dir, "--no-mmproj", "--no-text"])).code).toBe(1);
  const missing = join(checkpointRoot(), "missing");
  const r = await runCli(["convert", missing, "--json"]);
  expect(r.code).toBe(2);
  expect(JSON.parse(r.stderr).error.code).toBe("ERR_FILE_NOT_FOUND");
  const file = await runCli(["convert", join(dir, "config.json"), "--json"]);
  expect(file.code).toBe(3);
  expect(JSON.parse(file.stderr).error.code).toBe("ERR_CHECKPOINT_INVALID");
  expect(existsSync(join(dir, "config.json-F16.gguf"))).toBe(false);
});
