/**
 * Teardown (docs/cancellation.md "Worker and window teardown"): a worker_threads Worker that
 * holds a Grounder is terminate()d mid-ground 20 times, at every stage, then the same process
 * loads and grounds normally. Runs in a child process so that a native crash (SIGABRT from
 * an exception escaping into Node, a use-after-free) is seen as a signal, not as jest dying.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { makeClip } from "../helpers/clips";

test("terminating a Worker mid-ground 20 times never crashes; the process grounds afterwards", () => {
  const clip = makeClip({ seconds: 6 });
  const child = join(__dirname, "children", "worker-terminate.ts");
  const run = spawnSync(process.execPath, ["--import", "tsx", child, clip, "20"], {
    encoding: "utf8",
    timeout: 400000,
  });
  expect({ signal: run.signal, status: run.status, stderr: run.status === 0 ? "" : run.stderr.slice(-2000) }).toEqual({
    signal: null,
    status: 0,
    stderr: "",
  });
  const out = JSON.parse(run.stdout.trim().split("\n").pop() as string) as {
    terminatedAt: string[];
    text: string;
    spans: number;
  };
  expect(out.terminatedAt).toHaveLength(20);
  // Every stage was interrupted at least once: decode (ffmpeg), encode, prefill and generate (native).
  expect(new Set(out.terminatedAt)).toEqual(new Set(["decode", "encode", "prefill", "generate"]));
  expect(out.text.length).toBeGreaterThan(0);
}, 450000);
