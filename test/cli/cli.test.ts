/** The `timelens` command line: help, exit codes, and machine-readable output. */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePair } from "../helpers/models";
import { makeClip } from "../helpers/clips";

const ROOT = join(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const pair = fixturePair("tiny-qwen3vl");
let clip: string;
let dir: string;

function cli(...args: string[]) {
  const r = spawnSync(TSX, [join(ROOT, "src", "cli.ts"), ...args], { encoding: "utf8", timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  clip = makeClip({ seconds: 6 });
  dir = mkdtempSync(join(tmpdir(), "timelens-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("--help lists the commands and exits 0; no command is a usage error", () => {
  const help = cli("--help");
  expect(help.code).toBe(0);
  for (const c of ["ground", "info", "plan", "exit codes"]) expect(help.stdout).toContain(c);
  expect(cli().code).toBe(1);
  const unknown = cli("frobnicate");
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain("unknown command");
});

test("ground --json prints exactly one JSON object on stdout", () => {
  const r = cli(
    "ground",
    clip,
    "a red box moves",
    "--model",
    pair.model,
    "--mmproj",
    pair.mmproj,
    "--json",
    "--total-tokens",
    "256",
    "--min-tokens",
    "4",
    "--max-new-tokens",
    "8",
    "--context-size",
    "2048",
  );
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  const out = JSON.parse(lines[0]);
  expect(out.query).toBe("a red box moves");
  expect(out.frames.count).toBe(12);
  expect(typeof out.text).toBe("string");
  expect(out).toHaveProperty("start");
  expect(out).toHaveProperty("timings.totalMs");
});

test("ground prints streamed text then the span line", () => {
  const r = cli(
    "ground",
    clip,
    "a red box",
    "--model",
    pair.model,
    "--mmproj",
    pair.mmproj,
    "--total-tokens",
    "256",
    "--min-tokens",
    "4",
    "--max-new-tokens",
    "8",
    "--context-size",
    "2048",
  );
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/span: /);
  expect(r.stdout).toMatch(/time: decode/);
});

test("exit codes: 1 usage, 2 input error, 3 model error; errors on stderr", () => {
  const usage = cli("ground", clip, "q");
  expect(usage.code).toBe(1);
  expect(usage.stderr).toMatch(/--model and --mmproj/);
  const input = cli("ground", join(dir, "missing.mp4"), "q", "--model", pair.model, "--mmproj", pair.mmproj, "--json");
  expect(input.code).toBe(2);
  expect(input.stdout).toBe("");
  const missing = JSON.parse(input.stderr.trim().split("\n").pop()!).error;
  expect(missing.code).toBe("ERR_FILE_NOT_FOUND"); // as the README promises
  expect(missing.details.path).toBe(join(dir, "missing.mp4"));
  const bad = join(dir, "bad.gguf");
  writeFileSync(bad, "not a model");
  const model = cli("ground", clip, "q", "--model", bad, "--mmproj", pair.mmproj);
  expect(model.code).toBe(3);
  expect(model.stderr).toMatch(/not a GGUF/i);
});

test("info reads a pair from its headers", () => {
  const r = cli("info", pair.model, "--mmproj", pair.mmproj, "--json");
  expect(r.code).toBe(0);
  const info = JSON.parse(r.stdout);
  expect(info.model.architecture).toBe("qwen3vl");
  expect(info.mmproj.projector).toBe("qwen3vl_merger");
  expect(info.profile.id).toBe("qwen3-vl");
  expect(info.chatTemplate.supportsVideo).toBe(true);
  expect(info.specialTokens["<|vision_start|>"]).toBe(151652);
  const text = cli("info", pair.model);
  expect(text.stdout).toMatch(/qwen3vl/);
  expect(text.stdout).toMatch(/KiB per token/);
});

test("plan shows frames, size, tokens and labels without running a model", () => {
  const r = cli("plan", clip, "--profile", "timelens-8b", "--json");
  expect(r.code).toBe(0);
  const plan = JSON.parse(r.stdout);
  expect(plan.frames).toBe(12);
  expect(plan.pairs).toBe(6);
  expect(plan.labels).toHaveLength(6);
  expect(plan.labels[0]).toBe("<0.2 seconds>"); // frames 0 and 5 at 10 fps: mean 0.25 -> "0.2" (half to even)
  expect(plan.videoTokens).toBe(plan.pairs * plan.tokensPerPair);
  const withPrompt = cli("plan", clip, "--model", pair.model, "--prompt");
  expect(withPrompt.code).toBe(0);
  expect(withPrompt.stdout).toContain("<|vision_start|>");
  expect((withPrompt.stdout.match(/\[pair /g) ?? []).length).toBe(6);
});

test("two quick Ctrl-C during a ground: cancel, wait for the native threads, exit 130 without a crash", async () => {
  const long = makeClip({ seconds: 30 });
  const child = spawn(
    TSX,
    [join(ROOT, "src", "cli.ts"), "ground", long, "a red box", "--model", pair.model, "--mmproj", pair.mmproj],
    { env: { ...process.env, TIMELENS_LOG: "debug" } },
  );
  let stderr = "";
  let interruptedAt = -1;
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    // llama.cpp logs this as each frame pair's embeddings are decoded: native work is running now.
    if (interruptedAt < 0 && stderr.includes("image decoded (batch")) {
      interruptedAt = stderr.length;
      child.kill("SIGINT");
      setTimeout(() => child.kill("SIGINT"), 5);
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("exit", (c, s) => resolve([c, s])),
  );
  expect(interruptedAt).toBeGreaterThan(0); // the interrupt landed mid-ground, not after it
  expect({ code, signal }).toEqual({ code: 130, signal: null });
  expect(stderr).not.toMatch(/terminate called|FATAL ERROR|Segmentation|Aborted \(core/);
}, 120000);
