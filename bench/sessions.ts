/**
 * `npm run bench -- sessions`: what a VideoSession saves. On the MEDIUM fixture pair and a
 * 60 s synthetic video, in one run: (a) 8 queries as 8 fresh ground() calls, (b) the same 8
 * through one session, (c) groundMany with the 8, (d) a fresh process re-opening the video
 * from the disk cache + 1 query. Every run is timed alike: from the video path to the last
 * answer, probe included. Prints wall times, ratios to one fresh query, and where the time
 * goes, with how much of decode + resize was hidden behind encode/prefill (the wait is what
 * the prefill spent waiting for frames). A reported figure, not a pass/fail test.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Grounder } from "../src/session";
import type { GroundOptions, GroundingResult } from "../src/types";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { benchVideo, fmt, table } from "./util";

const QUERIES = [
  "a person opens the door",
  "the ball turns red",
  "someone drinks water with a glass",
  "the camera pans left",
  "a dog runs across the room",
  "the lights go out",
  "a man sits down on a chair",
  "the screen shows a clock",
];
// A typical answer ("The event happens in 12.0 - 17.5 seconds.") is about 16 tokens.
const OPTIONS = { maxNewTokens: 16 } satisfies GroundOptions;

async function child(model: string, mmproj: string, video: string, cacheDir: string): Promise<void> {
  const t0 = performance.now();
  const g = await Grounder.load({ model, mmproj, cacheDir, contextSize: 16384 });
  const loadMs = performance.now() - t0;
  const t1 = performance.now();
  const session = await g.openVideo(video, OPTIONS);
  const r = await session.ground(QUERIES[0], OPTIONS);
  const wallMs = performance.now() - t1;
  await session.close();
  await g.dispose();
  process.stdout.write(JSON.stringify({ loadMs, wallMs, source: r.timings.prefixSource, text: r.text }));
}

function breakdown(rs: GroundingResult[]): string {
  const sum = (k: "decodeMs" | "decodeWaitMs" | "encodeMs" | "prefillMs" | "generateMs") =>
    rs.reduce((s, r) => s + (r.timings[k] ?? 0), 0);
  // decode+resize runs while the previous pair is encoded/prefilled: only the wait is on the critical path
  const decode = sum("decodeMs");
  const hidden = decode > 0 ? ` (waited ${fmt(sum("decodeWaitMs"))}, ${fmt(decode - sum("decodeWaitMs"))} hidden)` : "";
  return `decode ${fmt(decode)}${hidden}, encode ${fmt(sum("encodeMs"))}, prefill ${fmt(sum("prefillMs"))}, generate ${fmt(sum("generateMs"))}`;
}

export async function runSessionsBench(family: "qwen3vl" | "qwen25vl" = "qwen3vl"): Promise<void> {
  const [pair] = await ensureFixtures({ names: [`medium-${family}`], log: (l) => console.error(l) });
  const video = benchVideo(60);
  const cacheDir = mkdtempSync(join(tmpdir(), "timelens-bench-cache-"));
  try {
    const g = await Grounder.load({ model: pair.model, mmproj: pair.mmproj, contextSize: 16384, parallel: 8 });
    const plan = await g.openVideo(video, OPTIONS);
    console.log(
      `medium-${family}, 60 s video: ${plan.plan.indices.length} frames at ` +
        `${plan.plan.width}x${plan.plan.height}, ${plan.plan.pairs.length * plan.plan.tokensPerPair} video ` +
        `tokens; ${QUERIES.length} queries, ${OPTIONS.maxNewTokens} new tokens each`,
    );
    await plan.close();

    let t = performance.now();
    const fresh: GroundingResult[] = [];
    for (const q of QUERIES) fresh.push(await g.ground(video, q, OPTIONS));
    const a = performance.now() - t;
    const single = a / QUERIES.length;
    console.error(`(a) done in ${fmt(a)}`);

    // Every run is timed from the video path to the last answer: openVideo (probe + plan) is
    // inside the timer in (b) and (c) as ground() has it inside in (a).
    t = performance.now();
    const session = await g.openVideo(video, OPTIONS);
    const seq: GroundingResult[] = [];
    for (const q of QUERIES) seq.push(await session.ground(q, OPTIONS));
    const b = performance.now() - t;
    await session.close();
    console.error(`(b) done in ${fmt(b)}`);

    t = performance.now();
    const session2 = await g.openVideo(video, OPTIONS);
    const many = await session2.groundMany(QUERIES, OPTIONS);
    const c = performance.now() - t;
    await session2.close();
    console.error(`(c) done in ${fmt(c)}`);

    // Fill the disk cache, then re-open it from a fresh process.
    const g2 = await Grounder.load({ model: pair.model, mmproj: pair.mmproj, contextSize: 16384, cacheDir });
    await g2.ground(video, QUERIES[0], OPTIONS);
    await g2.dispose();
    await g.dispose();
    const out = execFileSync(
      process.execPath,
      [...process.execArgv, __filename, "--child", pair.model, pair.mmproj, video, cacheDir],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    ).toString();
    const d = JSON.parse(out) as { loadMs: number; wallMs: number; source: string; text: string };

    const same = (xs: GroundingResult[]) => xs.every((r, i) => r.text === fresh[i].text);
    console.log(
      table([
        ["run", "wall", "x one fresh query", "identical to fresh", "where the time goes"],
        ["(a) 8 fresh ground()", fmt(a), (a / single).toFixed(2), "-", breakdown(fresh)],
        ["(b) 1 session, 8 queries", fmt(b), (b / single).toFixed(2), String(same(seq)), breakdown(seq)],
        [
          "(c) groundMany(8)",
          fmt(c),
          (c / single).toFixed(2),
          String(same(many)),
          breakdown(many.slice(0, 1)) + " (shared)",
        ],
        [
          "(d) disk cache, new process, 1 query",
          fmt(d.wallMs),
          (d.wallMs / single).toFixed(2),
          String(d.text === fresh[0].text),
          `prefix from ${d.source}; model load ${fmt(d.loadMs)} not counted`,
        ],
      ]),
    );
    console.log(`one fresh query: ${fmt(single)}; goals: (b) <= 1.5x, (c) < (b), (d) <= 0.2x`);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === "--child") void child(args[1], args[2], args[3], args[4]);
  else void runSessionsBench((args[0] as "qwen3vl" | "qwen25vl") ?? "qwen3vl");
}
