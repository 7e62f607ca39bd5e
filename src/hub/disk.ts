/** Free-space check before long writes: how much each filesystem needs, and how much is missing. */
import { stat, statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { TimelensError } from "../errors";

export interface DiskNeed {
  /** A directory the bytes go to (it need not exist yet). */
  dir: string;
  bytes: number;
  /** What the bytes are for, e.g. "download" or "conversion". */
  purpose: string;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

async function existingAncestor(dir: string): Promise<string> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      await stat(d);
      return d;
    } catch {
      if (dirname(d) === d) return d;
    }
  }
}

/** Throws ERR_DISK_FULL when the needs of any one filesystem exceed its free space. */
export async function ensureFreeSpace(needs: readonly DiskNeed[]): Promise<void> {
  const byDevice = new Map<number, { dir: string; free: number; needs: DiskNeed[] }>();
  for (const need of needs) {
    if (need.bytes <= 0) continue;
    const at = await existingAncestor(need.dir);
    const dev = (await stat(at)).dev;
    let entry = byDevice.get(dev);
    if (!entry) {
      const fs = await statfs(at);
      entry = { dir: at, free: Number(fs.bavail) * Number(fs.bsize), needs: [] };
      byDevice.set(dev, entry);
    }
    entry.needs.push(need);
  }
  for (const { dir, free, needs: list } of byDevice.values()) {
    const needed = list.reduce((s, n) => s + n.bytes, 0);
    if (needed > free) {
      const parts = list.map((n) => `${n.purpose} ${formatBytes(n.bytes)}`).join(" + ");
      throw new TimelensError(
        "ERR_DISK_FULL",
        `Not enough disk space on ${dir}: ${formatBytes(needed)} needed (${parts}), ` +
          `${formatBytes(free)} free; free ${formatBytes(needed - free)} more`,
        { dir, needed, free, missing: needed - free, needs: list.map((n) => ({ ...n })) },
      );
    }
  }
}
