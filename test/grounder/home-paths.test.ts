/**
 * `~` in path options: model, mmproj, cacheDir and the video resolve under the home folder, and
 * no literal `~` folder appears in the working directory. Runs in a child process with its own
 * HOME (os.homedir() reads the real environment, which jest's process.env copy does not change).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturePair } from "../helpers/models";
import { video } from "../helpers/videos";

let home: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "tl-home-"));
  mkdirSync(join(home, "models"));
  mkdirSync(join(home, "cwd"));
  const tiny = fixturePair("tiny-qwen3vl");
  symlinkSync(tiny.model, join(home, "models", "model.gguf"));
  symlinkSync(tiny.mmproj, join(home, "models", "mmproj.gguf"));
  symlinkSync(video("cfr30").path, join(home, "clip.mp4"));
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

const CHILD = `
const { Grounder } = require(${JSON.stringify(join(__dirname, "..", "..", "src", "session"))});
(async () => {
  const g = await Grounder.load({ model: "~/models/model.gguf", mmproj: "~/models/mmproj.gguf", cacheDir: "~/.cache/app/timelens", contextSize: 4096 });
  const r = await g.ground("~/clip.mp4", "a square moves", { maxNewTokens: 4 });
  await g.dispose();
  console.log(JSON.stringify({ frames: r.frames.count }));
})().catch((e) => { console.log(JSON.stringify({ error: e.message })); });`;

(process.platform === "win32" ? test.skip : test)("Grounder.load and ground take ~/ paths", () => {
  const r = spawnSync(process.execPath, ["-r", require.resolve("tsx/cjs"), "-e", CHILD], {
    cwd: join(home, "cwd"),
    env: { ...process.env, HOME: home },
    encoding: "utf8",
  });
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  expect(out.error).toBeUndefined();
  expect(out.frames).toBeGreaterThan(0);
  expect(existsSync(join(home, "cwd", "~"))).toBe(false);
  expect(readdirSync(join(home, ".cache", "app", "timelens")).length).toBeGreaterThan(0);
});
