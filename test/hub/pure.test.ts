import { RateMeter } from "../../src/hub/progress";
import { backoffMs } from "../../src/hub/retry";
import { conversionBytes } from "../../src/models/disk-need";

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
  const gb = 1e9;
  expect(conversionBytes(gb, { outtype: "f16", mmproj: true, quant: null })).toBe(1.15 * gb);
  expect(conversionBytes(gb, { outtype: "f32", mmproj: false, quant: null })).toBe(2 * gb);
  expect(conversionBytes(gb, { outtype: null, mmproj: false, quant: "Q4_K_M" })).toBe(0.55 * gb);
});
