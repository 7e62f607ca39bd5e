/**
 * Compares src/video/resize.ts with an independent reference (torchvision + Pillow, run by
 * scripts/resize-reference.py) on synthetic but real-looking frames made by ffmpeg.
 *
 *   npx tsx scripts/resize-reference.ts [--python /usr/bin/python3] [--keep]
 *   npx tsx scripts/resize-reference.ts --write-fixtures   (regenerates test/video/fixtures/torch-reference.json)
 *
 * For each frame/size case it prints the mean absolute difference per channel value (0-255
 * scale), the max difference and the share of values that match exactly, for:
 *   ours(torch, each `compat` build) vs torchvision under each ATEN_CPU_CAPABILITY,
 *   ours(pil) vs Pillow.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveFfmpeg } from "../src/video/ffmpeg";
import { createResizer, type ResizeOptions } from "../src/video/resize";
import { wasmSimdAvailable } from "../src/video/resize-wasm";
import { torchLinspace } from "../src/video/torch-compat";

interface Case {
  name: string;
  source: string;
  w: number;
  h: number;
  ow: number;
  oh: number;
}

const SOURCES: Record<string, string> = {
  testsrc2: "testsrc2=size={W}x{H}:rate=1",
  mandelbrot: "mandelbrot=size={W}x{H}:rate=1:end_pts=1",
  gradients: "gradients=size={W}x{H}:rate=1:speed=0.1",
  noise: "nullsrc=size={W}x{H}:rate=1,geq=r='random(1)*255':g='random(2)*255':b='random(3)*255'",
  bars: "smptehdbars=size={W}x{H}:rate=1",
};

const CASES: Case[] = [
  { name: "1080p->480x256 (2 fps plan, 2 min)", source: "testsrc2", w: 1920, h: 1080, ow: 480, oh: 256 },
  { name: "1080p->640x352", source: "mandelbrot", w: 1920, h: 1080, ow: 640, oh: 352 },
  { name: "720p->448x256", source: "gradients", w: 1280, h: 720, ow: 448, oh: 256 },
  { name: "odd 333x197->224x128", source: "testsrc2", w: 333, h: 197, ow: 224, oh: 128 },
  { name: "odd 641x361->320x192", source: "mandelbrot", w: 641, h: 361, ow: 320, oh: 192 },
  { name: "upscale 64x48->256x192", source: "testsrc2", w: 64, h: 48, ow: 256, oh: 192 },
  { name: "upscale odd 75x41->288x160", source: "mandelbrot", w: 75, h: 41, ow: 288, oh: 160 },
  { name: "width only 640x480->320x480", source: "bars", w: 640, h: 480, ow: 320, oh: 480 },
  { name: "mixed 200x600->416x288", source: "testsrc2", w: 200, h: 600, ow: 416, oh: 288 },
  { name: "noise 500x300->224x128", source: "noise", w: 500, h: 300, ow: 224, oh: 128 },
  { name: "portrait 1080x1920->256x480", source: "mandelbrot", w: 1080, h: 1920, ow: 256, oh: 480 },
  { name: "4K 3840x2160->512x288", source: "testsrc2", w: 3840, h: 2160, ow: 512, oh: 288 },
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function makeFrame(c: Case, path: string): void {
  // Some sources only make even sizes: generate one pixel larger where needed, then crop.
  const ew = c.w + (c.w % 2),
    eh = c.h + (c.h % 2);
  const src = `${SOURCES[c.source].replace("{W}", String(ew)).replace("{H}", String(eh))},format=rgb24,crop=${c.w}:${c.h}:0:0`;
  execFileSync(resolveFfmpeg(), [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    src,
    "-frames:v",
    "1",
    "-pix_fmt",
    "rgb24",
    "-f",
    "rawvideo",
    path,
  ]);
}

function compare(a: Uint8Array, b: Uint8Array): { mad: number; max: number; exact: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let sum = 0,
    max = 0,
    same = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
    if (d === 0) same++;
  }
  return { mad: sum / a.length, max, exact: same / a.length };
}

function fmt(r: { mad: number; max: number; exact: number }): string {
  return `MAD ${r.mad.toFixed(5)} max ${r.max} exact ${(r.exact * 100).toFixed(3)}%`;
}

function main(): void {
  const python = arg("--python") ?? "/usr/bin/python3";
  const dir = mkdtempSync(join(tmpdir(), "resize-ref-"));
  try {
    const jobs = CASES.map((c, i) => {
      const src = join(dir, `case${i}.rgb`);
      makeFrame(c, src);
      return { src, w: c.w, h: c.h, ow: c.ow, oh: c.oh, out: join(dir, `case${i}`) };
    });
    console.log(`ours: resize engine ${wasmSimdAvailable() ? "WebAssembly SIMD" : "JavaScript"}`);
    const caps = ["default", "avx2", "avx512"];
    const refs: Record<string, Uint8Array[]> = {};
    let pil: Uint8Array[] = [];
    for (const cap of caps) {
      const r = spawnSync(python, [join(__dirname, "resize-reference.py")], {
        input: JSON.stringify({ resize: jobs }),
        env: { ...process.env, ATEN_CPU_CAPABILITY: cap },
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`reference failed (${cap}): ${r.stderr}`);
      const { linspace: _l, ...versions } = JSON.parse(r.stdout) as Record<string, unknown>;
      console.log(`reference: ${JSON.stringify(versions)}`);
      refs[cap] = jobs.map((j) => new Uint8Array(readFileSync(`${j.out}.torch.rgb`)));
      pil = jobs.map((j) => new Uint8Array(readFileSync(`${j.out}.pil.rgb`)));
    }
    const variants: Array<[string, ResizeOptions]> = [
      ["torch2-simd", { mode: "torch", compat: "torch2-simd" }],
      ["torch1-avx2", { mode: "torch", compat: "torch1-avx2" }],
      ["torch1-generic", { mode: "torch", compat: "torch1-generic" }],
    ];
    const totals: Record<string, { sum: number; n: number; max: number; exactSum: number }> = {};
    const add = (key: string, r: { mad: number; max: number; exact: number }, n: number) => {
      const t = (totals[key] ??= { sum: 0, n: 0, max: 0, exactSum: 0 });
      t.sum += r.mad * n;
      t.n += n;
      t.max = Math.max(t.max, r.max);
      t.exactSum += r.exact * n;
    };
    CASES.forEach((c, i) => {
      const src = new Uint8Array(readFileSync(jobs[i].src));
      console.log(`\n${c.name} [${c.source}]`);
      for (const [vname, opts] of variants) {
        const t0 = performance.now();
        const ours = createResizer(c.w, c.h, c.ow, c.oh, opts).resize(src);
        const ms = performance.now() - t0;
        for (const cap of caps) {
          const r = compare(ours, refs[cap][i]);
          add(`${vname} vs torchvision[${cap}]`, r, ours.length);
          console.log(`  ours ${vname.padEnd(14)} vs torchvision[${cap.padEnd(7)}]: ${fmt(r)}  (${ms.toFixed(1)} ms)`);
        }
      }
      const ourPil = createResizer(c.w, c.h, c.ow, c.oh, { mode: "pil" }).resize(src);
      const rp = compare(ourPil, pil[i]);
      add("pil vs Pillow", rp, ourPil.length);
      console.log(`  ours pil         vs Pillow             : ${fmt(rp)}`);
      const rx = compare(refs.avx2[i], pil[i]);
      add("torchvision[avx2] vs Pillow (reference spread)", rx, ourPil.length);
      console.log(`  torchvision[avx2] vs Pillow (for scale): ${fmt(rx)}`);
    });
    console.log("\nOverall (value-weighted):");
    for (const [k, t] of Object.entries(totals))
      console.log(
        `  ${k.padEnd(48)} MAD ${(t.sum / t.n).toFixed(6)} max ${t.max} exact ${((t.exactSum / t.n) * 100).toFixed(4)}%`,
      );
    if (process.argv.includes("--keep")) console.log(`kept ${dir}`);
  } finally {
    if (!process.argv.includes("--keep")) rmSync(dir, { recursive: true, force: true });
  }
}

/** Deterministic PRNG (mulberry32) for the fixture case list. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const roundHalfEven = (x: number): number => {
  const f = Math.floor(x);
  const d = x - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
};

/**
 * Writes test/video/fixtures/torch-reference.json: small resize cases (input and the outputs of
 * torchvision under ATEN_CPU_CAPABILITY=default and avx2, and of Pillow) and torch.linspace
 * cases (float32 values per capability), chosen so that the capabilities disagree on some.
 */
function writeFixtures(python: string): void {
  const dir = mkdtempSync(join(tmpdir(), "torch-fixtures-"));
  try {
    const small: Case[] = [
      { name: "down 2.7x", source: "testsrc2", w: 97, h: 61, ow: 36, oh: 22 },
      { name: "down noise", source: "noise", w: 50, h: 40, ow: 21, oh: 17 },
      { name: "up", source: "mandelbrot", w: 13, h: 9, ow: 40, oh: 28 },
      { name: "mixed", source: "testsrc2", w: 20, h: 60, ow: 41, oh: 29 },
      { name: "width only", source: "bars", w: 64, h: 16, ow: 24, oh: 16 },
      { name: "height only", source: "gradients", w: 16, h: 64, ow: 16, oh: 23 },
    ];
    const resize = small.map((c, i) => {
      const src = join(dir, `s${i}.rgb`);
      makeFrame(c, src);
      return { src, w: c.w, h: c.h, ow: c.ow, oh: c.oh, out: join(dir, `s${i}`) };
    });
    // linspace: realistic plans plus random ranges; keep those where builds round differently.
    const rand = rng(20251122);
    const candidates: Array<[number, number, number]> = [];
    for (let t = 0; t < 4000; t++) {
      const n = 2 * (1 + Math.floor(rand() * 384));
      const start = rand() < 0.6 ? 0 : Math.floor(rand() * 5000);
      const end = start + n - 1 + Math.floor(rand() * (rand() < 0.5 ? 500 : 200000));
      candidates.push([start, end, n]);
    }
    const caps = ["default", "avx2", "avx512"] as const;
    const lin: Record<string, number[][]> = {};
    const images: Record<string, string[]> = {};
    let versions: unknown;
    for (const cap of caps) {
      const r = spawnSync(python, [join(__dirname, "resize-reference.py")], {
        input: JSON.stringify({ resize: cap === "avx512" ? [] : resize, linspace: candidates }),
        env: { ...process.env, ATEN_CPU_CAPABILITY: cap },
        encoding: "utf8",
        maxBuffer: 1 << 30,
      });
      if (r.status !== 0) throw new Error(`reference failed (${cap}): ${r.stderr}`);
      const parsed = JSON.parse(r.stdout) as { linspace: number[][]; torch: string; torchvision: string; pil: string };
      versions = {
        torch: parsed.torch,
        torchvision: parsed.torchvision,
        pil: parsed.pil,
        capabilities: "default, avx2, avx512 (ATEN_CPU_CAPABILITY)",
      };
      lin[cap] = parsed.linspace;
      if (cap !== "avx512") images[cap] = resize.map((j) => readFileSync(`${j.out}.torch.rgb`).toString("base64"));
      if (cap === "default") images.pil = resize.map((j) => readFileSync(`${j.out}.pil.rgb`).toString("base64"));
    }
    const differs = (i: number) => {
      const r = caps.map((c) => lin[c][i].map(roundHalfEven).join(","));
      const ours = ["torch2-simd", "torch2-generic"].map((c) =>
        Array.from(torchLinspace(...candidates[i], c as "torch2-simd"), roundHalfEven).join(","),
      );
      return new Set([...r, ...ours]).size > 1;
    };
    const picked: number[] = [];
    for (let i = 0; i < candidates.length && picked.length < 30; i++)
      if (differs(i) && candidates[i][2] <= 160) picked.push(i);
    for (let i = 0; i < candidates.length && picked.length < 45; i++)
      if (!picked.includes(i) && candidates[i][2] <= 48) picked.push(i);
    const f32b64 = (v: number[]) => Buffer.from(new Float32Array(v).buffer).toString("base64");
    const fixture = {
      about:
        "Generated by scripts/resize-reference.ts --write-fixtures from Debian's python3-torch / python3-torchvision / python3-pil. Do not edit.",
      versions,
      resize: small.map((c, i) => ({
        name: c.name,
        w: c.w,
        h: c.h,
        ow: c.ow,
        oh: c.oh,
        input: readFileSync(resize[i].src).toString("base64"),
        torchDefault: images.default[i],
        torchAvx2: images.avx2[i],
        pil: images.pil[i],
      })),
      linspace: picked.map((i) => ({
        start: candidates[i][0],
        end: candidates[i][1],
        steps: candidates[i][2],
        default: f32b64(lin.default[i]),
        avx2: f32b64(lin.avx2[i]),
        avx512: f32b64(lin.avx512[i]),
      })),
    };
    const out = join(__dirname, "..", "test", "video", "fixtures", "torch-reference.json");
    writeFileSync(out, `${JSON.stringify(fixture, null, 1)}\n`);
    console.log(
      `wrote ${out}: ${fixture.resize.length} resize cases, ${fixture.linspace.length} linspace cases (${picked.filter((i) => differs(i)).length} where builds disagree)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes("--write-fixtures")) writeFixtures(arg("--python") ?? "/usr/bin/python3");
else main();
