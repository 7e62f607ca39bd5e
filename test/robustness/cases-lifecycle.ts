/**
 * Faults in how the API is used rather than what it is fed: calls after dispose or close,
 * dispose mid-call, throwing callbacks, misuse of the exported VisionModel, abort storms and
 * concurrent calls. Each must end in a typed error or a correct answer, never a crash.
 */
import { readFileSync } from "node:fs";
import { Grounder, VisionModel, type ErrorCode, type GroundingResult, type GroundStage } from "../../src";
import { video } from "../helpers/videos";
import { type CaseContext, CaseFailure, type RobustCase } from "./harness";

const FAST_LOAD = { contextSize: 2048, threads: 2, warmup: false } as const;

/** A Grounder of the batch's own for cases that dispose it. */
async function ownGrounder(ctx: CaseContext): Promise<Grounder> {
  return Grounder.load({ ...ctx.pair, ...FAST_LOAD });
}

/** Resolves with the first rejection's error, or fails the case if `p` resolves. */
async function rejection(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new CaseFailure(`${what} resolved; expected it to reject`);
}

function sameAsBaseline(ctx: CaseContext, r: GroundingResult, what: string): void {
  if (r.text !== ctx.baseline.text)
    throw new CaseFailure(
      `${what}: answer ${JSON.stringify(r.text)} differs from the baseline ${JSON.stringify(ctx.baseline.text)}`,
    );
}

const LIFECYCLE: RobustCase[] = [
  {
    kind: "lifecycle-after-dispose",
    name: "ground-after-dispose",
    expect: { codes: ["ERR_DISPOSED"] },
    run: async (ctx) => {
      const g = await ownGrounder(ctx);
      await g.dispose();
      await g.ground(ctx.clip, ctx.query, ctx.fast);
    },
  },
  {
    kind: "lifecycle-after-dispose",
    name: "openVideo-after-dispose",
    expect: { codes: ["ERR_DISPOSED"] },
    run: async (ctx) => {
      const g = await ownGrounder(ctx);
      await g.dispose();
      await g.openVideo(ctx.clip);
    },
  },
  {
    kind: "lifecycle-double-dispose",
    name: "dispose-twice-is-a-no-op",
    expect: { ok: true },
    run: async (ctx) => {
      const g = await ownGrounder(ctx);
      await g.dispose();
      await g.dispose();
    },
  },
  {
    kind: "lifecycle-dispose-mid-call",
    name: "dispose-during-encode",
    expect: { codes: ["ERR_DISPOSED", "ERR_ABORTED"] },
    run: async (ctx) => {
      const g = await ownGrounder(ctx);
      let disposing: Promise<void> | null = null;
      const p = g.ground(ctx.clip, ctx.query, {
        ...ctx.fast,
        onProgress: (e) => {
          if (e.stage === "encode" && !disposing) disposing = g.dispose();
        },
      });
      try {
        await p;
      } finally {
        await disposing;
      }
    },
  },
  {
    kind: "lifecycle-dispose-mid-call",
    name: "dispose-during-generate",
    expect: { codes: ["ERR_DISPOSED", "ERR_ABORTED"] },
    run: async (ctx) => {
      const g = await ownGrounder(ctx);
      let disposing: Promise<void> | null = null;
      const p = g.ground(ctx.clip, ctx.query, {
        ...ctx.fast,
        maxNewTokens: 64,
        onToken: () => {
          disposing ??= g.dispose();
        },
      });
      try {
        await p;
      } finally {
        await disposing;
      }
    },
  },
  {
    kind: "lifecycle-dispose-mid-call",
    name: "dispose-with-queued-calls",
    expect: { ok: true },
    run: async (ctx) => {
      const g = await ownGrounder(ctx);
      const calls = Array.from({ length: 4 }, () =>
        g.ground(ctx.clip, ctx.query, ctx.fast).then(
          () => null,
          (e: unknown) => e,
        ),
      );
      await new Promise((r) => setTimeout(r, 20));
      await g.dispose();
      for (const e of await Promise.all(calls)) {
        const code = (e as { code?: string } | null)?.code;
        if (e !== null && code !== "ERR_DISPOSED" && code !== "ERR_ABORTED")
          throw new CaseFailure(`a queued call ended in ${String(e)}`);
      }
    },
  },
  {
    kind: "lifecycle-session-closed",
    name: "session-ground-after-close",
    expect: { codes: ["ERR_DISPOSED", "ERR_STATE_INVALID"] },
    run: async (ctx) => {
      const s = await ctx.grounder.openVideo(ctx.clip, ctx.fast);
      await s.close();
      await s.close(); // twice: a no-op
      await s.ground(ctx.query, ctx.fast);
    },
  },
  {
    kind: "lifecycle-session-closed",
    name: "session-close-during-query",
    expect: { ok: true, codes: ["ERR_DISPOSED", "ERR_ABORTED"] },
    run: async (ctx) => {
      const s = await ctx.grounder.openVideo(readFileSync(ctx.clip), ctx.fast);
      let closing: Promise<void> | null = null;
      try {
        await s.ground(ctx.query, {
          ...ctx.fast,
          onProgress: (e) => {
            if (e.stage === "decode" && !closing) closing = s.close();
          },
        });
      } finally {
        await closing;
      }
    },
  },
  {
    kind: "lifecycle-session-closed",
    name: "session-after-grounder-dispose",
    expect: { codes: ["ERR_DISPOSED"] },
    run: async (ctx) => {
      const g = await ownGrounder(ctx);
      const s = await g.openVideo(ctx.clip, ctx.fast);
      await g.dispose();
      await s.ground(ctx.query, ctx.fast);
    },
  },
  ...(["decode", "encode", "prefill", "generate"] as GroundStage[]).map(
    (stage): RobustCase => ({
      kind: "lifecycle-callback-throws",
      name: `onProgress-throws-in-${stage}`,
      expect: { ok: true },
      run: async (ctx) => {
        const boom = new Error(`user callback failed in ${stage}`);
        const e = await rejection(
          ctx.grounder.ground(ctx.clip, ctx.query, {
            ...ctx.fast,
            onProgress: (p) => {
              if (p.stage === stage) throw boom;
            },
          }),
          `ground with an onProgress that throws in ${stage}`,
        );
        if (e !== boom) throw new CaseFailure(`rejected with ${String(e)}, not the callback's own error`);
      },
    }),
  ),
  {
    kind: "lifecycle-callback-throws",
    name: "onToken-throws",
    expect: { ok: true },
    run: async (ctx) => {
      const boom = new Error("user onToken failed");
      const e = await rejection(
        ctx.grounder.ground(ctx.clip, ctx.query, {
          ...ctx.fast,
          onToken: () => {
            throw boom;
          },
        }),
        "ground with an onToken that throws",
      );
      if (e !== boom) throw new CaseFailure(`rejected with ${String(e)}, not the callback's own error`);
    },
  },
  {
    kind: "lifecycle-stream-break",
    name: "stream-left-after-first-event",
    expect: { ok: true },
    run: async (ctx) => {
      for await (const _e of ctx.grounder.stream(ctx.clip, ctx.query, ctx.fast)) break;
      for await (const e of ctx.grounder.stream(ctx.clip, ctx.query, ctx.fast)) if (e.type === "token") break;
    },
  },
];

/** The exported VisionModel used out of order: llama.cpp asserts (aborts) on these unless we check first. */
async function withModel<T>(ctx: CaseContext, fn: (m: VisionModel) => Promise<T>): Promise<T> {
  const m = await VisionModel.load({ ...ctx.pair, ...FAST_LOAD });
  try {
    return await fn(m);
  } finally {
    await m.dispose();
  }
}

const STATE: ErrorCode[] = ["ERR_STATE_INVALID", "ERR_INVALID_ARGUMENT"];
const text = (t: string) => ({ text: t, special: false });

const NATIVE_MISUSE: RobustCase[] = [
  {
    kind: "native-generate-without-logits",
    name: "generate-before-any-evaluate",
    expect: { codes: STATE },
    run: (ctx) =>
      withModel(ctx, (m) =>
        m.exclusive((ops) => {
          ops.reset();
          return ops.generate({ maxTokens: 4, temperature: 0 });
        }),
      ),
  },
  {
    kind: "native-generate-without-logits",
    name: "generateMany-empty-suffix",
    expect: { codes: STATE },
    run: (ctx) =>
      withModel(ctx, (m) =>
        m.exclusive(async (ops) => {
          ops.reset();
          await ops.evaluate([text("Hello")]);
          return ops.generateMany([[]], { maxTokens: 4, temperature: 0 });
        }),
      ),
  },
  {
    kind: "native-generate-without-logits",
    name: "generateMany-one-empty-among-two",
    expect: { codes: STATE },
    run: (ctx) =>
      withModel(ctx, (m) =>
        m.exclusive(async (ops) => {
          ops.reset();
          await ops.evaluate([text("Hello")]);
          return ops.generateMany([[text(" world")], []], { maxTokens: 4, temperature: 0 });
        }),
      ),
  },
  {
    kind: "native-bad-rewind",
    name: "rewind-past-the-end",
    expect: { codes: STATE },
    run: (ctx) =>
      withModel(ctx, (m) =>
        m.exclusive(async (ops) => {
          ops.reset();
          await ops.evaluate([text("Hello")]);
          ops.rewind({ nPast: 100_000, nCells: 100_000 });
        }),
      ),
  },
  {
    kind: "native-bad-rewind",
    name: "rewind-mismatched-cells",
    expect: { codes: STATE },
    run: (ctx) =>
      withModel(ctx, (m) =>
        m.exclusive(async (ops) => {
          ops.reset();
          await ops.evaluate([text("Hello there")]);
          const s = ops.state();
          ops.rewind({ nPast: s.nPast, nCells: s.nCells + 7 });
        }),
      ),
  },
  {
    kind: "native-bad-frames",
    name: "frame-with-short-data",
    expect: { codes: ["ERR_INVALID_ARGUMENT"] },
    run: (ctx) =>
      withModel(ctx, (m) =>
        m.exclusive((ops) =>
          ops.evaluate([{ frames: [{ width: 64, height: 64, data: new Uint8Array(10) }], mergeable: false }]),
        ),
      ),
  },
  {
    kind: "native-bad-frames",
    name: "frame-of-zero-size",
    expect: { codes: ["ERR_INVALID_ARGUMENT"] },
    run: (ctx) =>
      withModel(ctx, (m) =>
        m.exclusive((ops) =>
          ops.evaluate([{ frames: [{ width: 0, height: 0, data: new Uint8Array(0) }], mergeable: false }]),
        ),
      ),
  },
  {
    kind: "native-bad-frames",
    name: "mergeable-pair-of-different-sizes",
    expect: { codes: ["ERR_INVALID_ARGUMENT"] },
    run: (ctx) =>
      withModel(ctx, (m) =>
        m.exclusive((ops) =>
          ops.evaluate([
            {
              frames: [
                { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) },
                { width: 96, height: 64, data: new Uint8Array(96 * 64 * 3) },
              ],
              mergeable: true,
            },
          ]),
        ),
      ),
  },
  {
    kind: "native-bad-tokens",
    name: "detokenize-out-of-vocab",
    expect: { codes: ["ERR_INVALID_ARGUMENT"] },
    run: (ctx) => withModel(ctx, async (m) => m.detokenize([-1, 1e9])),
  },
  {
    kind: "native-bad-seed",
    name: "generate-seed-NaN",
    expect: { codes: ["ERR_INVALID_ARGUMENT"] },
    run: (ctx) =>
      withModel(ctx, (m) =>
        m.exclusive(async (ops) => {
          ops.reset();
          await ops.evaluate([text("Hello")]);
          return ops.generate({ maxTokens: 2, temperature: 0.7, seed: Number.NaN });
        }),
      ),
  },
];

/** Waits `ms` then aborts: a storm of these lands at every stage of a grounding. */
function abortAfter(ms: number): AbortSignal {
  const c = new AbortController();
  setTimeout(() => c.abort(), ms);
  return c.signal;
}

const ABORTS: RobustCase[] = [
  {
    kind: "abort-before-start",
    name: "already-aborted-signal",
    expect: { codes: ["ERR_ABORTED"] },
    run: (ctx) => ctx.grounder.ground(ctx.clip, ctx.query, { ...ctx.fast, signal: AbortSignal.abort() }),
  },
  {
    kind: "abort-before-start",
    name: "aborted-with-a-reason",
    expect: { codes: ["ERR_ABORTED"] },
    run: (ctx) =>
      ctx.grounder.ground(ctx.clip, ctx.query, { ...ctx.fast, signal: AbortSignal.abort(new Error("user left")) }),
  },
  ...(["decode", "encode", "prefill", "generate"] as GroundStage[]).map(
    (stage): RobustCase => ({
      kind: "abort-inside-stage",
      name: `abort-from-callback-in-${stage}`,
      expect: { codes: ["ERR_ABORTED"] },
      run: (ctx) => {
        const c = new AbortController();
        return ctx.grounder.ground(ctx.clip, ctx.query, {
          ...ctx.fast,
          signal: c.signal,
          onProgress: (p) => {
            if (p.stage === stage) c.abort();
          },
        });
      },
    }),
  ),
  {
    kind: "abort-storm",
    name: "abort-storm-24-staggered",
    expect: { ok: true },
    timeoutMs: 120_000,
    run: async (ctx) => {
      // 24 queued calls whose signals fire 0-460 ms in: some while queued, some mid-native-call.
      const ends = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          ctx.grounder.ground(ctx.clip, ctx.query, { ...ctx.fast, signal: abortAfter(i * 20) }).then(
            (r) => r,
            (e: unknown) => e,
          ),
        ),
      );
      for (const e of ends) {
        if ((e as GroundingResult).text !== undefined)
          sameAsBaseline(ctx, e as GroundingResult, "a call that finished before its abort");
        else if ((e as { code?: string }).code !== "ERR_ABORTED")
          throw new CaseFailure(`an aborted call ended in ${String(e)}`);
      }
    },
  },
  {
    kind: "abort-storm",
    name: "abort-storm-on-one-session",
    expect: { ok: true },
    run: async (ctx) => {
      const s = await ctx.grounder.openVideo(ctx.clip, ctx.fast);
      try {
        const ends = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            s.ground(ctx.query, { ...ctx.fast, signal: abortAfter(i * 15) }).then(
              () => null,
              (e: unknown) => e,
            ),
          ),
        );
        for (const e of ends)
          if (e !== null && (e as { code?: string }).code !== "ERR_ABORTED")
            throw new CaseFailure(`ended in ${String(e)}`);
        sameAsBaseline(ctx, await s.ground(ctx.query, ctx.fast), "the session after the storm");
      } finally {
        await s.close();
      }
    },
  },
];

const CONCURRENCY: RobustCase[] = [
  {
    kind: "concurrent-calls",
    name: "ten-concurrent-grounds",
    expect: { ok: true },
    timeoutMs: 120_000,
    run: async (ctx) => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => ctx.grounder.ground(ctx.clip, ctx.query, ctx.fast)),
      );
      for (const [i, r] of results.entries()) sameAsBaseline(ctx, r, `concurrent call ${i}`);
    },
  },
  {
    kind: "concurrent-calls",
    name: "ten-concurrent-mixed-good-and-bad",
    expect: { ok: true },
    timeoutMs: 120_000,
    run: async (ctx) => {
      const bad = [video("audio").path, video("tall").path, "", Buffer.alloc(0), 42];
      const ends = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          ctx.grounder.ground((i % 2 ? bad[i >> 1] : ctx.clip) as string, ctx.query, ctx.fast).then(
            (r) => r,
            (e: unknown) => e,
          ),
        ),
      );
      ends.forEach((e, i) => {
        if (i % 2 === 0) sameAsBaseline(ctx, e as GroundingResult, `good call ${i}`);
        else if (!(e as { code?: string }).code?.startsWith("ERR_"))
          throw new CaseFailure(`bad call ${i} ended in ${String(e)}`);
      });
    },
  },
  {
    kind: "concurrent-calls",
    name: "ten-concurrent-on-one-session",
    expect: { ok: true },
    timeoutMs: 120_000,
    run: async (ctx) => {
      const s = await ctx.grounder.openVideo(ctx.clip, ctx.fast);
      try {
        const results = await Promise.all(Array.from({ length: 10 }, () => s.ground(ctx.query, ctx.fast)));
        for (const [i, r] of results.entries()) sameAsBaseline(ctx, r, `session call ${i}`);
      } finally {
        await s.close();
      }
    },
  },
  {
    kind: "concurrent-calls",
    name: "ten-concurrent-sessions",
    expect: { ok: true },
    timeoutMs: 120_000,
    run: async (ctx) => {
      const sessions = await Promise.all(Array.from({ length: 10 }, () => ctx.grounder.openVideo(ctx.clip, ctx.fast)));
      try {
        const results = await Promise.all(sessions.map((s) => s.ground(ctx.query, ctx.fast)));
        for (const [i, r] of results.entries()) sameAsBaseline(ctx, r, `session ${i}`);
      } finally {
        await Promise.all(sessions.map((s) => s.close()));
      }
    },
  },
];

export const LIFECYCLE_BATCHES = {
  lifecycle: LIFECYCLE,
  native: NATIVE_MISUSE,
  aborts: ABORTS,
  concurrency: CONCURRENCY,
};
