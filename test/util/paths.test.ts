/** expandHome / cacheRoot: `~` in path options means the home folder, as in a shell. */
import { join } from "node:path";
import { cacheRoot, expandHome, expandPathOptions } from "../../src/util/paths";

const HOME = "/home/ada";

test("a leading ~ or ~/ becomes the home folder", () => {
  expect(expandHome("~", HOME)).toBe(HOME);
  expect(expandHome("~/.cache/my-app/timelens", HOME)).toBe(join(HOME, ".cache/my-app/timelens"));
  expect(expandHome("~/", HOME)).toBe(join(HOME, ""));
});

test("anything else is left alone", () => {
  expect(expandHome("models/~/x.gguf", HOME)).toBe("models/~/x.gguf");
  expect(expandHome("~ada/x", HOME)).toBe("~ada/x");
  expect(expandHome("/abs/~", HOME)).toBe("/abs/~");
  expect(expandHome("relative.gguf", HOME)).toBe("relative.gguf");
});

test("~\\ counts only on Windows", () => {
  expect(expandHome("~\\models\\a.gguf", "C:\\Users\\ada", "win32")).toBe(join("C:\\Users\\ada", "models\\a.gguf"));
  expect(expandHome("~\\x", HOME, "linux")).toBe("~\\x");
});

test("cacheRoot: TIMELENS_CACHE_DIR (with ~), else XDG_CACHE_HOME, else ~/.cache", () => {
  expect(cacheRoot({ TIMELENS_CACHE_DIR: "~/c" }, HOME)).toBe(join(HOME, "c"));
  expect(cacheRoot({ XDG_CACHE_HOME: "/x" }, HOME)).toBe(join("/x", "timelens-native"));
  expect(cacheRoot({}, HOME)).toBe(join(HOME, ".cache", "timelens-native"));
});

test("expandPathOptions expands every path option and nothing else, without touching the input", () => {
  const input = {
    model: "~/m.gguf",
    mmproj: "/abs/p.gguf",
    cacheDir: "~/.cache/app",
    ffmpegPath: "~/bin/ffmpeg",
    query: "~/not a path",
    threads: 2,
  };
  const out = expandPathOptions(input, HOME);
  expect(out).toEqual({
    model: join(HOME, "m.gguf"),
    mmproj: "/abs/p.gguf",
    cacheDir: join(HOME, ".cache/app"),
    ffmpegPath: join(HOME, "bin/ffmpeg"),
    query: "~/not a path",
    threads: 2,
  });
  expect(input.model).toBe("~/m.gguf");
});
