/**
 * Grounding results for report tests: the real frame plan of a real (synthetic) video, with
 * spans chosen by the test (a random-weight model gives no usable span to draw).
 */
import { getProfile, type ProfileId } from "../../src/prompt/profiles";
import { planFrames } from "../../src/video/plan";
import { probeVideo } from "../../src/video/probe";
import type { GroundingResult } from "../../src/types";

export async function resultFor(
  video: string,
  query: string,
  spans: Array<[number, number]>,
  opts: { profile?: ProfileId; totalTokens?: number; text?: string } = {},
): Promise<GroundingResult> {
  const profileId = opts.profile ?? "timelens-8b";
  const probed = await probeVideo(video);
  const plan = planFrames(probed, {
    profile: getProfile(profileId),
    totalTokens: opts.totalTokens ?? 2048,
    minTokens: 16,
  });
  const text = opts.text ?? spans.map(([a, b]) => `${a} - ${b} seconds`).join(", ");
  return {
    start: spans[0]?.[0] ?? null,
    end: spans[0]?.[1] ?? null,
    spans,
    parsed: spans.length > 0,
    text,
    query,
    profile: profileId,
    stopReason: "eog",
    video: {
      duration: probed.duration,
      fps: probed.fps,
      totalFrames: probed.totalFrames,
      width: probed.width,
      height: probed.height,
    },
    frames: {
      count: plan.indices.length,
      width: plan.width,
      height: plan.height,
      pairs: plan.pairs.length,
      tokensPerPair: plan.tokensPerPair,
      indices: plan.indices,
      times: plan.frameTimes,
      labels: plan.pairs.map((p) => p.label),
    },
    timings: {
      probeMs: 1,
      decodeMs: 2,
      encodeMs: 3,
      prefillMs: 4,
      generateMs: 5,
      totalMs: 15,
      tokensPerSecond: 10,
      reusedPrefix: false,
      prefixSource: "built",
      devices: { encode: "CPU", llm: "CPU" },
    },
    usage: { promptTokens: 100, imageTokens: 80, generatedTokens: 6, contextSize: 4096 },
  };
}
