/** Tiny HF checkpoints for tests, written once per process into a temp folder. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CheckpointFamily,
  type CheckpointLayout,
  writeTinyCheckpoint,
} from "../../scripts/fixtures/hf-checkpoint";

export interface CheckpointCase {
  id: string;
  family: CheckpointFamily;
  layout: CheckpointLayout;
  shards: number;
  /** The reference dump folder name (the official converter's output for this checkpoint). */
  ref: string;
}

/** The four checkpoints the reference dumps in test/fixtures/convert were made from. */
export const CHECKPOINT_CASES: readonly CheckpointCase[] = [
  { id: "qwen3vl-new", family: "qwen3vl", layout: "new", shards: 2, ref: "qwen3vl-new" },
  { id: "qwen3vl-old", family: "qwen3vl", layout: "old", shards: 1, ref: "qwen3vl-old" },
  { id: "qwen25vl-new", family: "qwen2.5vl", layout: "new", shards: 1, ref: "qwen25vl-new" },
  { id: "qwen25vl-old", family: "qwen2.5vl", layout: "old", shards: 3, ref: "qwen25vl-old" },
];

let root: string | undefined;
const made = new Map<string, Promise<string>>();

export function checkpointRoot(): string {
  root ??= mkdtempSync(join(tmpdir(), "timelens-hf-"));
  return root;
}

/** Path of the case's checkpoint (written on first use). */
export function tinyCheckpoint(c: CheckpointCase): Promise<string> {
  let p = made.get(c.id);
  if (!p) {
    const dir = join(checkpointRoot(), c.id);
    p = writeTinyCheckpoint(dir, { family: c.family, layout: c.layout, shards: c.shards }).then(() => dir);
    made.set(c.id, p);
  }
  return p;
}
