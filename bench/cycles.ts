/**
 * `npm run bench -- cycles [N]`: N (default 200) load -> ground -> dispose cycles of the tiny
 * qwen3vl Grounder in one fresh child process, and how much its resident memory grew.
 *
 * Growth is measured from the settled level, not from cycle 0: the allocator's arenas fill
 * over the first cycles (docs/robustness.md, "Load/dispose cycles"), after which a leak-free
 * process stays flat. settled = median RSS of cycles 5-14, end = median of the last 10;
 * growth = end / settled - 1. The target is under 5 %. Medians damp single spikes.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { benchVideo, table } from "./util";

interface Sample {
  cycle: number;
  rss: number;
  heapUsed: number;
  external: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

function runChild(args: string[]): Promise<Sample[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", join(__dirname, "cycles-child.ts"), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const samples: Sample[] = [];
    let buf = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) {
        if (!l.trim()) continue;
        const s: Sample = JSON.parse(l);
        samples.push(s);
        if (s.cycle % 25 === 0) process.stderr.write(`cycles: ${s.cycle} rss ${mb(s.rss)}\n`);
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString("utf8");
    });
    child.on("close", (code, signal) => (code === 0 ? resolve(samples) : reject(new Error(`cycles child ended ${signal ?? code}: ${err.slice(-2000)}`))));
  });
}

/** Growth of the last 10 cycles over the settled level of cycles 5-14. */
export function cycleGrowth(samples: readonly Sample[], key: "rss" | "heapUsed" | "external" = "rss"): { settled: number; end: number; growth: number } {
  if (samples.length < 30) throw new Error("need at least 30 cycles");
  const settled = median(samples.slice(5, 15).map((s) => s[key]));
  const end = median(samples.slice(-10).map((s) => s[key]));
  return { settled, end, growth: end / settled - 1 };
}

export async function runCyclesBench(cycles = 200): Promise<void> {
  const [fx] = await ensureFixtures({ names: ["tiny-qwen3vl"], log: (l) => console.error(l) });
  const video = benchVideo(4, "160x120", 10);
  const t0 = performance.now();
  const samples = await runChild([fx.model, fx.mmproj, video, String(cycles)]);
  const seconds = (performance.now() - t0) / 1000;
  const rows = [["memory", "cycle 0", "settled (5-14)", "end (last 10)", "growth"]];
  for (const key of ["rss", "heapUsed", "external"] as const) {
    const g = cycleGrowth(samples, key);
    rows.push([key, mb(samples[0][key]), mb(g.settled), mb(g.end), `${(g.growth * 100).toFixed(2)} %`]);
  }
  const rss = cycleGrowth(samples, "rss");
  console.log(`${cycles} load/ground/dispose cycles of tiny-qwen3vl (2 threads, ${video.split("/").pop()}) in ${seconds.toFixed(0)} s\n${table(rows)}`);
  console.log(
    `cycles: RSS growth ${(rss.growth * 100).toFixed(2)} % over ${cycles} cycles (${mb(rss.settled)} -> ${mb(rss.end)}; target < 5 %: ${rss.growth < 0.05 ? "met" : "NOT met"})`,
  );
}
