/**
 * `npm run bench -- omp [tiny|medium]`: does OMP_WAIT_POLICY=PASSIVE help? The same ground()
 * (2 threads) in fresh child processes with OMP_WAIT_POLICY unset (the loader then sets
 * PASSIVE itself), ACTIVE (busy waiting), and PASSIVE, on the machine as it is and next to one
 * more busy-looping process. Each cell is the median of 3 runs;
 * the two policies alternate so drift in the machine's load hits both alike.
 */
import { spawn, spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { benchVideo, table } from "./util";

const CHILD = `
const { Grounder } = require(${JSON.stringify(join(__dirname, "..", "src", "session"))});
(async () => {
  const [model, mmproj, video] = process.argv.slice(1);
  const g = await Grounder.load({ model, mmproj, threads: 2, contextSize: 16384 });
  const t = performance.now();
  await g.ground(video, "a red square moves", { maxNewTokens: 16 });
  console.log(JSON.stringify({ ms: performance.now() - t }));
  await g.dispose();
})();`;

function once(policy: string | undefined, model: string, mmproj: string, video: string): number {
  const env = { ...process.env };
  if (policy) env.OMP_WAIT_POLICY = policy;
  else delete env.OMP_WAIT_POLICY;
  const r = spawnSync(process.execPath, ["-r", require.resolve("tsx/cjs"), "-e", CHILD, model, mmproj, video], {
    env,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!).ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function runOmpBench(size: "tiny" | "medium" = "tiny"): Promise<void> {
  const [fx] = await ensureFixtures({ names: [`${size}-qwen3vl`], log: (l) => console.error(l) });
  const video = benchVideo(size === "tiny" ? 8 : 30);
  const loadBefore = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  const rows = [["load", "policy", "ground (median of 3)", "runs"]];
  for (const load of ["as is", "+1 busy process"]) {
    const busy = load === "as is" ? undefined : spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" });
    try {
      const runs: Record<string, number[]> = { "unset (loader)": [], ACTIVE: [], PASSIVE: [] };
      for (let i = 0; i < 3; i++) {
        runs["unset (loader)"].push(once(undefined, fx.model, fx.mmproj, video));
        runs.ACTIVE.push(once("ACTIVE", fx.model, fx.mmproj, video));
        runs.PASSIVE.push(once("PASSIVE", fx.model, fx.mmproj, video));
      }
      for (const [policy, ms] of Object.entries(runs))
        rows.push([
          load,
          policy,
          `${(median(ms) / 1000).toFixed(2)} s`,
          ms.map((m) => (m / 1000).toFixed(2)).join(" "),
        ]);
    } finally {
      busy?.kill("SIGKILL");
    }
  }
  console.log(`${size} fixture, 2 threads, ${video}, load average before: ${loadBefore}\n${table(rows)}`);
}
