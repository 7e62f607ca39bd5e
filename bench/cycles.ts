/**
 * `npm run bench -- cycles [N]`: N (default 200) load -> ground -> dispose cycles of the tiny
 * qwen3vl Grounder in one fresh child process, and how much its resident memory grew.
 *
 * RSS right after a dispose + GC is bimodal on glibc's allocator (measured with the tiny pair:
 * 105-130 MB or 165-195 MB from one cycle to the next, freed pages not yet returned), so the
 * figure is taken from the FLOOR: the lowest RSS of cycles 10-19 (settled; the arenas fill over
 * the first 10-20 cycles) against the lowest of the last 10. A leak lifts every sample, the floor
 * included; freed-but-kept pages only lift some. growth = end floor / settled floor - 1, target
 * under 5 %. The medians of the same windows are printed too (docs/robustness.md, "Load/dispose cycles").
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { BENCH_OUT, benchVideo, table } from "./util";

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
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", join(__dirname, "cycles-child.ts"), ...args],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
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
    child.on("close", (code, signal) =>
      code === 0 ? resolve(samples) : reject(new Error(`cycles child ended ${signal ?? code}: ${err.slice(-2000)}`)),
    );
  });
}

/** Growth of the last 10 cycles over cycles 10-19, by the windows' lowest value (or median). */
export function cycleGrowth(
  samples: readonly Sample[],
  key: "rss" | "heapUsed" | "external" = "rss",
  by: "floor" | "median" = "floor",
): { settled: number; end: number; growth: number } {
  if (samples.length < 30) throw new Error("need at least 30 cycles");
  const pick = by === "floor" ? (xs: number[]) => Math.min(...xs) : median;
  const settled = pick(samples.slice(10, 20).map((s) => s[key]));
  const end = pick(samples.slice(-10).map((s) => s[key]));
  return { settled, end, growth: end / settled - 1 };
}

export async function runCyclesBench(cycles = 200): Promise<void> {
  const [fx] = await ensureFixtures({ names: ["tiny-qwen3vl"], log: (l) => console.error(l) });
  const video = benchVideo(4, "160x120", 10);
  const t0 = performance.now();
  const samples = await runChild([fx.model, fx.mmproj, video, String(cycles)]);
  const seconds = (performance.now() - t0) / 1000;
  mkdirSync(BENCH_OUT, { recursive: true });
  writeFileSync(join(BENCH_OUT, "cycles.json"), JSON.stringify(samples)); // every sample, for a closer look
  const rows = [
    [
      "memory",
      "cycle 0",
      "floor 10-19",
      "floor last 10",
      "growth (floor)",
      "median 10-19",
      "median last 10",
      "growth (median)",
    ],
  ];
  for (const key of ["rss", "heapUsed", "external"] as const) {
    const f = cycleGrowth(samples, key, "floor");
    const m = cycleGrowth(samples, key, "median");
    const pct = (g: number) => `${(g * 100).toFixed(2)} %`;
    rows.push([
      key,
      mb(samples[0][key]),
      mb(f.settled),
      mb(f.end),
      pct(f.growth),
      mb(m.settled),
      mb(m.end),
      pct(m.growth),
    ]);
  }
  const rss = cycleGrowth(samples, "rss", "floor");
  const rssAll = samples.map((s) => s.rss);
  console.log(
    `${cycles} load/ground/dispose cycles of tiny-qwen3vl (2 threads, ${video.split("/").pop()}) in ${seconds.toFixed(0)} s; ` +
      `RSS ranged ${mb(Math.min(...rssAll))} - ${mb(Math.max(...rssAll))}\n${table(rows)}`,
  );
  console.log(
    `cycles: RSS growth ${(rss.growth * 100).toFixed(2)} % over ${cycles} cycles (floor ${mb(rss.settled)} -> ${mb(rss.end)}; target < 5 %: ${rss.growth < 0.05 ? "met" : "NOT met"})`,
  );
}
