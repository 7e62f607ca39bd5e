import { writeFileSync } from "node:fs";
import { join } from "node:path";

export type FixtureName = "tiny-qwen3vl" | "tiny-qwen25vl" | "medium-qwen3vl" | "medium-qwen25vl";

export const FIXTURE_ROOT = join(__dirname, "..", "fixtures", "models");

export function fixturePair(name: FixtureName): { model: string; mmproj: string } {
  return { model: join(FIXTURE_ROOT, name, "model.gguf"), mmproj: join(FIXTURE_ROOT, name, "mmproj.gguf") };
}

/** Pixels per token side for each tiny family (patch 16 or 14, merge 2). */
export const FACTOR: Record<"tiny-qwen3vl" | "tiny-qwen25vl", number> = { "tiny-qwen3vl": 32, "tiny-qwen25vl": 28 };

/** A deterministic RGB test frame: gradients plus a moving square, different per `seed`. */
export function syntheticFrame(
  width: number,
  height: number,
  seed: number,
): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(width * height * 3);
  const sq = Math.min(width, height) >> 2;
  const sx = (seed * 37) % Math.max(1, width - sq);
  const sy = (seed * 23) % Math.max(1, height - sq);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inSquare = x >= sx && x < sx + sq && y >= sy && y < sy + sq;
      data[i] = inSquare ? 255 : (x * 255) / width;
      data[i + 1] = inSquare ? (seed * 60) & 255 : (y * 255) / height;
      data[i + 2] = ((x + y + seed * 16) * 3) & 255;
    }
  }
  return { width, height, data };
}

/** Writes a binary PPM (P6), which llama.cpp's image loader reads, for parity runs. */
export function writePpm(path: string, frame: { width: number; height: number; data: Uint8Array }): void {
  const header = Buffer.from(`P6\n${frame.width} ${frame.height}\n255\n`, "ascii");
  writeFileSync(path, Buffer.concat([header, Buffer.from(frame.data)]));
}
