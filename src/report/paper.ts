/**
 * Published TimeLens-Bench figures, to put next to a run's own metrics. The built-in table is
 * the "Performance" table of the TimeLens-8B model card (docs/report.md "Published figures"
 * says where it comes from); `parsePaperFigures` reads a replacement or addition from JSON.
 */
import { TimelensError } from "../errors";
import type { ProfileId } from "../prompt/profiles";

export interface PublishedMetrics {
  r1: { "0.3": number; "0.5": number; "0.7": number };
  miou: number;
}

export interface PaperFigures {
  /** Where the numbers come from (shown under the table). */
  source: string;
  /** Model name -> dataset name (e.g. "charades-timelens") -> metrics, in percent. */
  models: Record<string, Record<string, PublishedMetrics>>;
}

const m = (r3: number, r5: number, r7: number, miou: number): PublishedMetrics => ({
  r1: { "0.3": r3, "0.5": r5, "0.7": r7 },
  miou,
});

export const PUBLISHED: PaperFigures = {
  source: "TencentARC/TimeLens-8B model card (Hugging Face), Performance table; see docs/report.md",
  models: {
    "Qwen2.5-VL-7B-Instruct": {
      "charades-timelens": m(59.7, 37.8, 16.6, 39.3),
      "activitynet-timelens": m(44.1, 31.0, 16.1, 31.4),
      "qvhighlights-timelens": m(41.5, 27.8, 15.2, 31.6),
    },
    "TimeLens-7B": {
      "charades-timelens": m(70.5, 55.6, 28.4, 48.8),
      "activitynet-timelens": m(62.8, 51.0, 32.6, 46.2),
      "qvhighlights-timelens": m(74.1, 62.7, 43.1, 56.0),
    },
    "Qwen3-VL-8B-Instruct": {
      "charades-timelens": m(69.2, 53.4, 27.5, 48.3),
      "activitynet-timelens": m(62.1, 51.2, 34.4, 46.8),
      "qvhighlights-timelens": m(74.2, 64.6, 49.3, 59.4),
    },
    "TimeLens-8B": {
      "charades-timelens": m(76.6, 63.0, 35.2, 55.2),
      "activitynet-timelens": m(68.9, 58.4, 40.6, 53.2),
      "qvhighlights-timelens": m(80.2, 71.6, 55.5, 65.5),
    },
  },
};

/**
 * The published model a profile stands for, when the table has one. The base-model profiles
 * cover every size of their family; only the sizes the card lists are named here.
 */
export const PROFILE_PAPER_MODEL: Partial<Record<ProfileId, string>> = {
  "timelens-8b": "TimeLens-8B",
  "timelens-7b": "TimeLens-7B",
};

function bad(where: string, message: string): never {
  throw new TimelensError("ERR_INVALID_ARGUMENT", `${where}: ${message}`, { path: where });
}

function percent(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 100)
    bad(where, `expected a percentage 0..100, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Reads figures from JSON text: { "source": "...", "models": { "<model>": { "<dataset>":
 * { "r1": { "0.3": n, "0.5": n, "0.7": n }, "miou": n } } } }, percentages. Every field is
 * checked; a bad file is ERR_INVALID_ARGUMENT naming the field.
 */
export function parsePaperFigures(text: string, path = "paper figures"): PaperFigures {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    bad(path, `not valid JSON (${(e as Error).message})`);
  }
  const obj = root as Record<string, unknown>;
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) bad(path, "expected a JSON object");
  if (typeof obj.source !== "string" || obj.source.trim() === "")
    bad(path, `"source" must say where the numbers come from`);
  const models = obj.models as Record<string, unknown>;
  if (!models || typeof models !== "object" || Array.isArray(models)) bad(path, `"models" must be an object of models`);
  const out: PaperFigures = { source: obj.source, models: {} };
  for (const [model, datasets] of Object.entries(models)) {
    if (!datasets || typeof datasets !== "object" || Array.isArray(datasets))
      bad(path, `models["${model}"] must be an object of datasets`);
    out.models[model] = {};
    for (const [dataset, v] of Object.entries(datasets as Record<string, unknown>)) {
      const where = `${path}: models["${model}"]["${dataset}"]`;
      const mv = v as { r1?: Record<string, unknown>; miou?: unknown };
      if (!mv || typeof mv !== "object" || !mv.r1 || typeof mv.r1 !== "object") bad(where, `needs "r1" and "miou"`);
      out.models[model][dataset] = m(
        percent(mv.r1["0.3"], `${where}.r1["0.3"]`),
        percent(mv.r1["0.5"], `${where}.r1["0.5"]`),
        percent(mv.r1["0.7"], `${where}.r1["0.7"]`),
        percent(mv.miou, `${where}.miou`),
      );
    }
  }
  return out;
}
