/**
 * `npm run bench -- cancel [tiny|medium] [runs]`: how long a cancel takes to stop the
 * native work, per stage, when it lands INSIDE the running native call (docs/cancellation.md).
 * Each run aborts from an event the addon emits during the call (encode: its first
 * cancellation point inside the encode; prefill: the start of a long text prefill; generate:
 * a token), after a random extra delay so the abort lands anywhere in the work. Latency =
 * abort() to the promise's rejection. Prints one row per stage. A reported figure, not a test.
 */
import type { NativeChunk } from "../src/native";
import { VisionModel } from "../src/runtime/model";
import { ensureFixtures } from "../scripts/fixtures/generate";
import { syntheticFrame } from "../test/helpers/models";

type Stage = "encode" | "prefill" | "generate";

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

export async function runNativeCancelBench(size: "tiny" | "medium" = "tiny", runs = 10): Promise<void> {
  const [pair] = await ensureFixtures({ names: [`${size}-qwen3vl`], log: (l) => console.error(l) });
  const model = await VisionModel.load({ model: pair.model, mmproj: pair.mmproj, contextSize: 16384, batchSize: 512 });
  const side = 32 * 40; // 40x40 merged tokens: 1600 per pair
  const frames = [syntheticFrame(side, side, 1), syntheticFrame(side, side, 2)];
  const encodeInput: NativeChunk[] = [
    { text: "<|im_start|>user\n", special: true },
    { frames, mergeable: true },
    { text: "<|im_end|>\n", special: true },
  ];
  const longText = Array.from({ length: 2000 }, (_, i) => `w${i}`).join(" ");
  const prompt: NativeChunk[] = [{ text: "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", special: true }];

  // How long each stage's whole call takes uncancelled, to spread the aborts over it.
  const full: Record<Stage, number> = { encode: 0, prefill: 0, generate: 0 };
  await model.exclusive(async (ops) => {
    ops.reset();
    const e = await ops.evaluate(encodeInput);
    full.encode = e.timings.encodeMs;
    ops.reset();
    const p = await ops.evaluate([{ text: longText, special: false }]);
    full.prefill = p.timings.prefillMs;
    ops.reset();
    await ops.evaluate(prompt);
    const g = await ops.generate({ maxTokens: 64 });
    full.generate = g.timings.generateMs / Math.max(1, g.tokens.length); // per token
  });

  const rows: string[] = [];
  for (const stage of ["encode", "prefill", "generate"] as Stage[]) {
    const latencies: number[] = [];
    for (let i = 0; i < runs; i++) {
      const controller = new AbortController();
      let abortedAt = 0;
      const abortSoon = () => {
        if (abortedAt) return;
        abortedAt = -1;
        setTimeout(
          () => {
            abortedAt = performance.now();
            controller.abort();
          },
          Math.random() * full[stage] * 0.5,
        );
      };
      const err = await model
        .exclusive(async (ops) => {
          ops.reset();
          if (stage === "encode")
            return ops.evaluate(encodeInput, {
              signal: controller.signal,
              onStage: (s) => s === "encode-step" && abortSoon(),
            });
          if (stage === "prefill")
            return ops.evaluate([{ text: longText, special: false }], {
              signal: controller.signal,
              onStage: (s) => s === "prefill" && abortSoon(),
            });
          await ops.evaluate(prompt);
          return ops.generate({ maxTokens: 100000, signal: controller.signal, onToken: abortSoon });
        })
        .catch((e) => e);
      if (abortedAt > 0 && (err as { code?: string })?.code === "ERR_ABORTED")
        latencies.push(performance.now() - abortedAt);
    }
    const unit = stage === "generate" ? "ms per token" : "ms per call";
    rows.push(
      `${stage.padEnd(8)} uncancelled ${full[stage].toFixed(1)} ${unit}; cancel latency over ${latencies.length} aborts: ` +
        `median ${percentile(latencies, 0.5).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
    );
  }
  await model.dispose();
  console.log(`${size}-qwen3vl, ${model.info.threads} threads, CPU`);
  for (const r of rows) console.log(r);
}
