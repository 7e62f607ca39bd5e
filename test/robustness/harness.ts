/**
 * The robustness battery's vocabulary: a case, what it may end in, and how an ending is
 * classified. Cases run inside a child process (child.ts); the jest file only reads their
 * reports, so a native abort or segfault shows up as a signal on the child, not as a dead suite.
 */
import { TimelensError, type ErrorCode, type Grounder, type GroundOptions, type GroundingResult } from "../../src";

/** What the child hands every case. */
export interface CaseContext {
  /** A loaded tiny-qwen3vl Grounder, shared by the batch (the process under test). */
  grounder: Grounder;
  /** A small good clip and the fast options the baseline grounding used. */
  clip: string;
  fast: GroundOptions;
  query: string;
  /** The batch's private scratch folder (removed when the child ends). */
  dir: string;
  pair: { model: string; mmproj: string };
  /** The baseline answer of this process before any case ran (greedy, so exact). */
  baseline: GroundingResult;
}

/**
 * Allowed endings: `codes` lists the TimelensError codes the case may reject with; `ok` says
 * a normal result is fine too (inputs that are odd but valid). A case with neither must throw.
 */
export interface Expectation {
  codes?: readonly ErrorCode[];
  ok?: boolean;
}

export interface RobustCase {
  /** The kind of bad input or fault (the summary counts kinds). */
  kind: string;
  /** Unique within the battery. */
  name: string;
  expect: Expectation;
  run(ctx: CaseContext): Promise<unknown>;
  /** Per-case limit in ms before it counts as a hang (default CASE_TIMEOUT_MS). */
  timeoutMs?: number;
}

export const CASE_TIMEOUT_MS = 60_000;

/** Thrown by a case's own checks (e.g. "the 10 concurrent answers differ"): always a failure. */
export class CaseFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CaseFailure";
  }
}

export type Outcome =
  | { status: "ok" }
  | { status: "typed"; code: string; message: string }
  | { status: "untyped"; name: string; message: string }
  | { status: "failed"; message: string }
  | { status: "hang"; afterMs: number };

export function classify(e: unknown): Outcome {
  if (e instanceof CaseFailure) return { status: "failed", message: e.message };
  if (e instanceof TimelensError && typeof e.code === "string" && e.code.startsWith("ERR_")) {
    return { status: "typed", code: e.code, message: e.message.slice(0, 300) };
  }
  const err = e as { name?: unknown; message?: unknown } | null;
  return { status: "untyped", name: String(err?.name ?? typeof e), message: String(err?.message ?? e).slice(0, 300) };
}

/** Does the outcome satisfy the expectation? Returns the reason when it does not. */
export function judge(outcome: Outcome, expect: Expectation): string | null {
  switch (outcome.status) {
    case "ok":
      return expect.ok ? null : `resolved, but expected a TimelensError ${describeCodes(expect)}`;
    case "typed":
      return expect.codes?.includes(outcome.code as ErrorCode)
        ? null
        : `rejected with ${outcome.code} (${outcome.message}), expected ${describeCodes(expect)}`;
    case "untyped":
      return `rejected with a plain ${outcome.name}: ${outcome.message}`;
    case "failed":
      return outcome.message;
    case "hang":
      return `no answer after ${outcome.afterMs} ms`;
  }
}

function describeCodes(expect: Expectation): string {
  const codes = expect.codes?.join(" | ") ?? "";
  return expect.ok ? `a result${codes ? ` or ${codes}` : ""}` : codes || "(nothing)";
}

/** Runs one case with a deadline; never throws. */
export async function runCase(c: RobustCase, ctx: CaseContext): Promise<Outcome> {
  const limit = c.timeoutMs ?? CASE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ status: "hang", afterMs: limit }), limit);
  });
  const done = c.run(ctx).then(
    (): Outcome => ({ status: "ok" }),
    (e: unknown) => classify(e),
  );
  try {
    return await Promise.race([done, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the child prints per case (one JSON line each, prefixed so other output cannot confuse it). */
export interface CaseReport {
  kind: string;
  name: string;
  outcome: Outcome;
  problem: string | null;
  ms: number;
}

export interface BatchReport {
  batch: string;
  cases: CaseReport[];
  /** The grounding after every case: null when it matched the baseline, else why not. */
  after: string | null;
}

export const LINE_PREFIX = "@@robust ";

/** The same process still grounds correctly: a full result equal to the baseline's text and frames. */
export function compareWithBaseline(baseline: GroundingResult, after: GroundingResult): string | null {
  if (after.text !== baseline.text)
    return `answer changed: ${JSON.stringify(after.text)} vs ${JSON.stringify(baseline.text)}`;
  if (after.frames.indices.join() !== baseline.frames.indices.join()) return "sampled frames changed";
  if (after.usage.generatedTokens < 1) return "no tokens generated";
  if (after.usage.promptTokens !== baseline.usage.promptTokens)
    return `prompt tokens ${after.usage.promptTokens} vs ${baseline.usage.promptTokens}`;
  return null;
}
