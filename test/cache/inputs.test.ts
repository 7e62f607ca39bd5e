/**
 * Gathering the key's inputs from files: the model pair's and the video's contents decide,
 * not their paths; the addon's build stamp is read next to the addon.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelKvInputs, prefixCacheKey, videoKvInputs } from "../../src/cache/inputs";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "timelens-kv-inputs-"));
  for (const [name, text] of [
    ["m.gguf", "model bytes"],
    ["p.gguf", "mmproj bytes"],
    ["v.mp4", "video bytes"],
    ["w.mp4", "other video"],
  ])
    writeFileSync(join(dir, name), text);
  mkdirSync(join(dir, "Release"));
  writeFileSync(join(dir, "Release", "timelens.json"), JSON.stringify({ release: { tag: "b1" }, gpu: "cpu" }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const layout = { indices: [0, 1], width: 56, height: 56, segments: [] };
const info = () => ({ addon: { path: join(dir, "Release", "timelens.node"), variant: "cpu" }, contextSize: 4096 });

test("the key follows file contents and the build stamp, not paths", async () => {
  const opts = { model: join(dir, "m.gguf"), mmproj: join(dir, "p.gguf"), contextSize: 4096 };
  const model = await modelKvInputs(opts, info());
  expect(model.build).toEqual({ release: { tag: "b1" }, gpu: "cpu" });
  const key = prefixCacheKey(await videoKvInputs(model, join(dir, "v.mp4")), "p", layout);

  copyFileSync(join(dir, "v.mp4"), join(dir, "copy.mp4"));
  expect(prefixCacheKey(await videoKvInputs(model, join(dir, "copy.mp4")), "p", layout)).toBe(key);
  expect(prefixCacheKey(await videoKvInputs(model, join(dir, "w.mp4")), "p", layout)).not.toBe(key);

  copyFileSync(join(dir, "m.gguf"), join(dir, "m2.gguf"));
  const moved = await modelKvInputs({ ...opts, model: join(dir, "m2.gguf") }, info());
  expect(prefixCacheKey(await videoKvInputs(moved, join(dir, "v.mp4")), "p", layout)).toBe(key);

  writeFileSync(join(dir, "m2.gguf"), "other model bytes");
  const changed = await modelKvInputs({ ...opts, model: join(dir, "m2.gguf") }, info());
  expect(prefixCacheKey(await videoKvInputs(changed, join(dir, "v.mp4")), "p", layout)).not.toBe(key);

  writeFileSync(join(dir, "Release", "timelens.json"), JSON.stringify({ release: { tag: "b2" }, gpu: "cpu" }));
  const rebuilt = await modelKvInputs(opts, info());
  expect(prefixCacheKey(await videoKvInputs(rebuilt, join(dir, "v.mp4")), "p", layout)).not.toBe(key);
});
