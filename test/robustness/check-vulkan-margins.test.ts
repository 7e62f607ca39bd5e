/**
 * scripts/check-vulkan.mjs judges a Vulkan run against the CPU run by margins relative to the
 * run's own (docs/robustness.md, "Vulkan parity"). The random-weight fixtures' CPU margins
 * (top1 - top2 logit, 24 greedy steps) have medians of 0.02-0.06 and minima of 0.001-0.003;
 * the runs below are shaped like them. A fixed tolerance of 0.05 would accept a flip at the
 * median margin; the relative rule must not.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

interface Run {
  tokens: number[];
  margins: number[];
}
interface Judgement {
  identical: boolean;
  firstDiff: number;
  typical: number;
  agreement: number;
  drift: boolean;
}

const SCRIPT = pathToFileURL(join(__dirname, "..", "..", "scripts", "check-vulkan.mjs")).href;

/** Calls the script's exported judgeRun in a plain node process (it is an ES module). */
function judge(cpu: Run, vulkan: Run, tie?: number): Judgement {
  const code = `import { judgeRun } from ${JSON.stringify(SCRIPT)};
const [cpu, vk, tie] = JSON.parse(process.argv[1]);
process.stdout.write(JSON.stringify(judgeRun(cpu, vk, tie ?? undefined)));`;
  const out = execFileSync(
    process.execPath,
    ["--input-type=module", "-e", code, JSON.stringify([cpu, vulkan, tie ?? null])],
    { encoding: "utf8" },
  );
  return JSON.parse(out);
}

// 24 steps: margins around a median of 0.03, one near-tie (0.0015) at step 9.
const MARGINS = [
  0.05, 0.021, 0.03, 0.09, 0.012, 0.04, 0.028, 0.066, 0.035, 0.0015, 0.03, 0.024, 0.11, 0.031, 0.019, 0.045, 0.03,
  0.026, 0.07, 0.033, 0.014, 0.029, 0.05, 0.038,
];
const TOKENS = MARGINS.map((_, i) => 1000 + i);
const cpu: Run = { tokens: TOKENS, margins: MARGINS };

/** The Vulkan run: the CPU's margins nudged by `noise`, tokens diverging from step `at`. */
function vulkanRun(at: number | null, noise = 1e-4): Run {
  return {
    tokens: TOKENS.map((t, i) => (at !== null && i >= at ? t + 500 : t)),
    margins: MARGINS.map((m, i) => m + (i % 2 ? noise : -noise)),
  };
}

test("identical tokens are identical", () => {
  const j = judge(cpu, vulkanRun(null));
  expect(j.identical).toBe(true);
  expect(j.firstDiff).toBe(-1);
  expect(j.typical).toBeCloseTo(0.031, 3);
});

test("a divergence at the run's near-tie, with agreeing margins before it, is float drift", () => {
  const j = judge(cpu, vulkanRun(9));
  expect(j.identical).toBe(false);
  expect(j.firstDiff).toBe(9);
  expect(j.agreement).toBeCloseTo(1e-4, 6);
  expect(j.drift).toBe(true);
});

test("a divergence at an ordinary margin is a mismatch, although it is below the old fixed 0.05", () => {
  const j = judge(cpu, vulkanRun(6)); // margin 0.028: about the median
  expect(MARGINS[6]).toBeLessThan(0.05);
  expect(j.drift).toBe(false);
});

test("a near-tie divergence after margins that disagree at the run's scale is a mismatch", () => {
  const j = judge(cpu, vulkanRun(9, 0.01)); // the backends' margins differ by 0.01 on equal steps
  expect(j.firstDiff).toBe(9);
  expect(j.drift).toBe(false);
});

test("--tie scales the threshold with the run's median", () => {
  // 0.012 (step 4) is 0.39 x the median: drift at tie 0.5, not at the default 0.25
  expect(judge(cpu, vulkanRun(4)).drift).toBe(false);
  expect(judge(cpu, vulkanRun(4), 0.5).drift).toBe(true);
});
