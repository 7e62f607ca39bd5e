/**
 * torch.linspace float32 emulation. The torch 1.x builds are checked bit for bit against values
 * recorded from real PyTorch 1.13 (Debian python3-torch, ATEN_CPU_CAPABILITY default / avx2 /
 * avx512; test/video/fixtures/torch-reference.json, made by scripts/resize-reference.ts
 * --write-fixtures). The torch 2 builds use the same scalar formulas as the torch 1 tail
 * elements, which those cases also pin down; a hand-derived case shows the FMA difference.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { torchBuild, torchLinspace, TORCH_COMPATS, type TorchCompat } from "../../src/video/torch-compat";
import { planFrames } from "../../src/video/plan";

interface LinspaceCase {
  start: number;
  end: number;
  steps: number;
  default: string;
  avx2: string;
  avx512: string;
}
const fixture = JSON.parse(readFileSync(join(__dirname, "fixtures", "torch-reference.json"), "utf8")) as {
  linspace: LinspaceCase[];
};
const f32 = (b64: string) => Array.from(new Float32Array(new Uint8Array(Buffer.from(b64, "base64")).buffer));
const roundHalfEven = (x: number) => {
  const f = Math.floor(x);
  const d = x - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
};

describe("torchLinspace against PyTorch 1.13", () => {
  const builds: Array<[keyof LinspaceCase, TorchCompat]> = [
    ["default", "torch1-generic"],
    ["avx2", "torch1-avx2"],
    ["avx512", "torch1-avx512"],
  ];
  test("fixture has cases where the builds round differently", () => {
    const disagreeing = fixture.linspace.filter(
      (c) => new Set([c.default, c.avx2, c.avx512].map((b) => f32(b).map(roundHalfEven).join())).size > 1,
    );
    expect(disagreeing.length).toBeGreaterThanOrEqual(10);
  });
  test.each(builds)("ATEN_CPU_CAPABILITY=%s is reproduced bit for bit by %s", (cap, compat) => {
    let checked = 0;
    for (const c of fixture.linspace) {
      const want = f32(c[cap] as string);
      const got = Array.from(torchLinspace(c.start, c.end, c.steps, compat));
      expect({ case: [c.start, c.end, c.steps], got }).toEqual({ case: [c.start, c.end, c.steps], got: want });
      checked++;
    }
    expect(checked).toBe(fixture.linspace.length);
  });
  test("a different build does not match every case (the fixture discriminates)", () => {
    const mismatches = fixture.linspace.filter(
      (c) => f32(c.avx2).join() !== Array.from(torchLinspace(c.start, c.end, c.steps, "torch1-generic")).join(),
    );
    expect(mismatches.length).toBeGreaterThan(0);
  });
});

describe("torch 2 formulas", () => {
  test("hand-derived: linspace(0, 11546, 768)[608], FMA vs separate rounding", () => {
    // step = f32(11546 / 767): 15.0534550... * 2^20 = 15784691.68 -> 15784692 * 2^-20 = 15.053455352783203
    // 608 >= 384 (second half): value = 11546 - step * (767 - 608 = 159)
    // step * 159 = 2393.4994010925293 exactly.
    // generic: f32(2393.4994010925293) = 9803773.55 * 2^-12 -> 9803774 * 2^-12 = 2393.49951171875;
    //   11546 - 2393.49951171875 = 9152.50048828125 = 9372160.5 * 2^-10: a tie, to even -> 9152.5
    //   round half to even -> 9152
    // fma: f32(11546 - 2393.4994010925293 = 9152.500598907471) = 9372160.61 * 2^-10 -> 9152.5009765625 -> 9153
    const s = torchLinspace(0, 11546, 768, "torch2-simd");
    const g = torchLinspace(0, 11546, 768, "torch2-generic");
    expect(g[608]).toBe(9152.5);
    expect(roundHalfEven(g[608])).toBe(9152);
    expect(s[608]).toBe(9152.5009765625);
    expect(roundHalfEven(s[608])).toBe(9153);
    // planFrames picks the build with torchCompat: an 11547-frame video at 30 fps samples 768 frames
    expect(planFrames({ totalFrames: 11547, fps: 30, width: 640, height: 360 }).indices[608]).toBe(9153);
    expect(
      planFrames({ totalFrames: 11547, fps: 30, width: 640, height: 360 }, { torchCompat: "torch2-generic" })
        .indices[608],
    ).toBe(9152);
  });
  test("both ends are exact and the halves are computed from their own end", () => {
    for (const compat of TORCH_COMPATS) {
      const v = torchLinspace(3, 1000003, 9, compat);
      expect(v[0]).toBe(3);
      expect(v[8]).toBe(1000003);
    }
    // step = 3/2 exactly; halfway = 2: 0, 1.5 | 6 - 3 = 3, 6 - 1.5 = 4.5, 6
    expect(Array.from(torchLinspace(0, 6, 5))).toEqual([0, 1.5, 3, 4.5, 6]);
  });
  test("degenerate sizes and unknown builds", () => {
    expect(Array.from(torchLinspace(5, 9, 1))).toEqual([5]);
    expect(torchLinspace(5, 9, 0)).toHaveLength(0);
    expect(() => torchLinspace(0, 1, -1)).toThrow(RangeError);
    expect(() => torchBuild("torch3" as TorchCompat)).toThrow(/unknown torch build/);
  });
});
