/**
 * Model card metadata (docs/models.md, "Model card keys"): for a checkpoint with a README.md
 * front matter in a folder named like a release, the official converter adds general.license,
 * base_model.*, dataset.*, tags, languages (from the card) and basename / finetune (guessed from
 * the folder name). We write none of them, on purpose; everything else equals its output. The
 * reference is the official converter's dump for this very checkpoint and README.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTinyCheckpoint } from "../../scripts/fixtures/hf-checkpoint";
import { convertCheckpoint } from "../../src/convert";
import { diffDumps, dumpGguf, type GgufDump } from "./gguf-dump";

/** The README the reference was made with (a model card of the usual Hugging Face shape). */
const README = `---
license: apache-2.0
language:
- en
base_model:
- Qwen/Qwen3-VL-8B-Instruct
datasets:
- TencentARC/TimeLens-100K
pipeline_tag: video-text-to-text
library_name: transformers
tags:
- video-temporal-grounding
---

# TimeLens-8B
`;

/** The keys the official converter takes from the card and the folder name, and we do not write. */
const CARD_KEYS = [
  "general.name",
  "general.basename",
  "general.finetune",
  "general.license",
  "general.base_model.count",
  "general.base_model.0.name",
  "general.base_model.0.organization",
  "general.base_model.0.repo_url",
  "general.dataset.count",
  "general.dataset.0.name",
  "general.dataset.0.organization",
  "general.dataset.0.repo_url",
  "general.tags",
  "general.languages",
];

const root = mkdtempSync(join(tmpdir(), "timelens-card-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("a model card changes only the card keys of the official output, and nothing of ours", async () => {
  const dir = join(root, "TimeLens-8B");
  await writeTinyCheckpoint(dir, { family: "qwen3vl", layout: "new", shards: 1 });
  writeFileSync(join(dir, "README.md"), README);
  const ref = JSON.parse(
    readFileSync(join(__dirname, "..", "fixtures", "convert", "card-qwen3vl-new-f16.json"), "utf8"),
  ) as GgufDump;
  const { model } = await convertCheckpoint({
    dir,
    outtype: "f16",
    outfile: join(root, "card.gguf"),
    mmprojOutfile: null,
  });
  const ours = dumpGguf(model!);
  expect(diffDumps(ours, ref, CARD_KEYS)).toEqual([]);
  // the reference holds every card key; ours only general.name (the folder's name, as always)
  expect(CARD_KEYS.filter((k) => !(k in ref.metadata))).toEqual([]);
  expect(CARD_KEYS.filter((k) => k in ours.metadata)).toEqual(["general.name"]);
  expect(ref.metadata["general.license"]).toEqual({ type: "STRING", value: "apache-2.0" });
  expect(ref.metadata["general.finetune"]).toEqual({ type: "STRING", value: "8b" }); // a guess from "TimeLens-8B"
});
