import { RateMeter } from "../../src/hub/progress";
import { backoffMs } from "../../src/hub/retry";
import { convertNeeds } from "../../src/convert/estimate";
import { checkpointConfig } from "../../scripts/fixtures/hf-checkpoint";

test("rate and ETA come from the recent window", () => {
  const m = new RateMeter(5000);
  expect(m.sample(0, 0, 1000)).toEqual({ done: 0, total: 1000, bytesPerSecond: 0, etaMs: null });
  expect(m.sample(1000, 100, 1000)).toEqual({ done: 100, total: 1000, bytesPerSecond: 100, etaMs: 9000 });
  m.sample(6000, 600, 1000);
  // Samples older than 5 s fell out of the window: the rate is the last second's 200 B/s.
  expect(m.sample(7000, 800, 1000)).toMatchObject({ bytesPerSecond: 200, etaMs: 1000 });
  expect(m.sample(8000, 1000, 1000).etaMs).toBe(0);
});

test("backoff doubles and is capped", () => {
  expect([1, 2, 3, 10].map((a) => backoffMs(a, 500))).toEqual([500, 1000, 2000, 30_000]);
});

test("conversion disk need scales with the output type", () => {
  // the one estimate (src/convert/estimate.ts) pulls and estimateConvertBytes use; exact sizes
  // against converted files are in test/convert/estimate.test.ts
  const config = checkpointConfig("qwen3vl", "new");
  const header = 16 * 1024 * 1024;
  const at = (outtype: string | null, quant: string | null = null) =>
    convertNeeds(config, { outtype, mmprojOuttype: null, quant });
  const f16 = at("f16").model - header;
  expect(f16).toBeGreaterThan(0);
  expect(at("bf16").model - header).toBe(f16);
  // f32 doubles every weight; the 1-D tensors were F32 already
  expect(at("f32").model - header).toBeGreaterThan(1.9 * f16);
  expect(at("f32").model - header).toBeLessThan(2 * f16);
  expect(at(null)).toEqual({ model: 0, mmproj: 0, quantized: 0, total: 0 });
  const q4 = at(null, "Q4_K_M").quantized - header;
  expect(q4).toBeGreaterThan(0.25 * f16);
  expect(q4).toBeLessThan(0.55 * f16);
  const both = convertNeeds(config, { outtype: "f16", mmprojOuttype: "f16", quant: "Q8_0" });
  expect(both.total).toBe(both.model + both.mmproj + both.quantized);
  expect(both.mmproj).toBeGreaterThan(1024 * 1024);
  expect(() => at("q4_0")).toThrow(expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }));
});
