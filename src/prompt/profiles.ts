/**
 * Model profiles: the one place that knows each model's pixel factor, prompt text,
 * timestamp rule and format, and default sampling budgets (docs/reference.md "Models", "Frame sampling", "Prompt layout and special tokens").
 */
import { TimelensError } from "../errors";
import { pyFixed } from "../util/pyformat";

export type ProfileId = "timelens-8b" | "timelens-7b" | "timelens-3b" | "qwen3-vl" | "qwen2.5-vl";
export type ModelFamily = "qwen3vl" | "qwen25vl";

/** How a pair's timestamp is derived from its two frame times. */
export type TimestampRule = "pair-mean" | "pair-first";

/**
 * A timestamp label: a template where `{t}` is the time with one decimal, formatted as
 * Python's f"{t:.1f}", or a function of the time in seconds.
 */
export type TimestampFormat = string | ((seconds: number) => string);

export interface SamplingDefaults {
  fps: number;
  minTokens: number;
  totalTokens: number;
  maxNewTokens: number;
}

export interface ModelProfile {
  id: ProfileId;
  displayName: string;
  family: ModelFamily;
  /** GGUF text architecture name. */
  architecture: "qwen3vl" | "qwen2vl";
  /** mmproj `clip.projector_type`. */
  projectorType: "qwen3vl_merger" | "qwen2.5vl_merger";
  patchSize: number;
  spatialMerge: number;
  temporalPatch: number;
  /** Pixels per token side after the merge: patchSize * spatialMerge. */
  factor: number;
  timestampRule: TimestampRule;
  timestampFormat: TimestampFormat;
  /** Text placed before the grounding instruction (TimeLens-7B's frame-timestamp note). */
  promptPrefix: string;
  defaults: SamplingDefaults;
}

const REFERENCE_DEFAULTS: SamplingDefaults = { fps: 2, minTokens: 64, totalTokens: 14336, maxNewTokens: 512 };

const QWEN3: Pick<ModelProfile, "family" | "architecture" | "projectorType" | "patchSize" | "spatialMerge" | "temporalPatch" | "factor"> = {
  family: "qwen3vl",
  architecture: "qwen3vl",
  projectorType: "qwen3vl_merger",
  patchSize: 16,
  spatialMerge: 2,
  temporalPatch: 2,
  factor: 32,
};
const QWEN25: typeof QWEN3 = {
  family: "qwen25vl",
  architecture: "qwen2vl",
  projectorType: "qwen2.5vl_merger",
  patchSize: 14,
  spatialMerge: 2,
  temporalPatch: 2,
  factor: 28,
};

/** Qwen3-VL processor: `<{t:.1f} seconds>` before each pair, t = mean of the pair's frame times. */
const QWEN3_TIMESTAMP = "<{t} seconds>";
/**
 * TimeLens-7B: the pair's first frame time with one decimal. The exact string its processor
 * inserts is not published outside the model repo (docs/reference.md "Prompt layout and special tokens"); this default follows the
 * paper's "10.2 seconds" and can be overridden per call with `timestampFormat`.
 */
const TIMELENS_7B_TIMESTAMP = "{t} seconds";
const TIMELENS_7B_PREFIX = "You are given a video with multiple frames. The numbers before each video frame indicate its sampling timestamp (in seconds). ";

export const PROFILES: Readonly<Record<ProfileId, ModelProfile>> = Object.freeze({
  "timelens-8b": {
    id: "timelens-8b",
    displayName: "TimeLens-8B",
    ...QWEN3,
    timestampRule: "pair-mean",
    timestampFormat: QWEN3_TIMESTAMP,
    promptPrefix: "",
    defaults: REFERENCE_DEFAULTS,
  },
  "qwen3-vl": {
    id: "qwen3-vl",
    displayName: "Qwen3-VL",
    ...QWEN3,
    timestampRule: "pair-mean",
    timestampFormat: QWEN3_TIMESTAMP,
    promptPrefix: "",
    defaults: REFERENCE_DEFAULTS,
  },
  "timelens-7b": {
    id: "timelens-7b",
    displayName: "TimeLens-7B",
    ...QWEN25,
    timestampRule: "pair-first",
    timestampFormat: TIMELENS_7B_TIMESTAMP,
    promptPrefix: TIMELENS_7B_PREFIX,
    defaults: REFERENCE_DEFAULTS,
  },
  "timelens-3b": {
    id: "timelens-3b",
    displayName: "TimeLens-3B",
    ...QWEN25,
    timestampRule: "pair-first",
    timestampFormat: TIMELENS_7B_TIMESTAMP,
    promptPrefix: TIMELENS_7B_PREFIX,
    defaults: REFERENCE_DEFAULTS,
  },
  "qwen2.5-vl": {
    id: "qwen2.5-vl",
    displayName: "Qwen2.5-VL",
    ...QWEN25,
    timestampRule: "pair-first",
    timestampFormat: TIMELENS_7B_TIMESTAMP,
    promptPrefix: "",
    defaults: REFERENCE_DEFAULTS,
  },
});

export const PROFILE_IDS = Object.keys(PROFILES) as ProfileId[];

/** The grounding instruction the models were trained on (docs/reference.md "Prompt layout and special tokens"), byte-exact. */
export function groundingInstruction(profile: ModelProfile, query: string): string {
  return `${profile.promptPrefix}Please find the visual event described by the sentence '${query}', determining its starting and ending times. The format should be: 'The event happens in <start time> - <end time> seconds'.`;
}

/** Formats one pair label with the profile's (or an overriding) timestamp format. */
export function formatTimestamp(seconds: number, format: TimestampFormat): string {
  if (typeof format === "function") return format(seconds);
  return format.split("{t}").join(pyFixed(seconds, 1));
}

/** The time a pair is labelled with: the mean of its two frame times, or the first. */
export function pairTime(rule: TimestampRule, first: number, second: number): number {
  return rule === "pair-mean" ? (first + second) / 2 : first;
}

export function getProfile(id: string): ModelProfile {
  const key = id.toLowerCase() as ProfileId;
  const p = PROFILES[key];
  if (!p) {
    throw new TimelensError("ERR_PROFILE_UNKNOWN", `Unknown model profile "${id}". Known profiles: ${PROFILE_IDS.join(", ")}.`, {
      profile: id,
      known: PROFILE_IDS,
    });
  }
  return p;
}

/** What detectProfile reads from the two GGUF headers. */
export interface ModelIdentity {
  architecture: string;
  projectorType?: string;
  /** `general.name` / `general.basename` / file name: used to tell TimeLens from its base. */
  name?: string;
}

/**
 * Picks a profile from GGUF metadata: the architecture and projector give the family, the
 * model name tells TimeLens-8B/7B/3B from the base Qwen models.
 */
export function detectProfile(id: ModelIdentity): ModelProfile {
  const arch = id.architecture.toLowerCase();
  const family: ModelFamily | undefined = arch === "qwen3vl" || arch === "qwen3vlmoe" ? "qwen3vl" : arch === "qwen2vl" ? "qwen25vl" : undefined;
  if (!family) {
    throw new TimelensError(
      "ERR_PROFILE_UNKNOWN",
      `No profile for a model with architecture "${id.architecture}". Supported: qwen3vl (TimeLens-8B, Qwen3-VL) and qwen2vl (TimeLens-7B/3B, Qwen2.5-VL). Known profiles: ${PROFILE_IDS.join(", ")}; pass { profile } to choose one.`,
      { architecture: id.architecture, known: PROFILE_IDS },
    );
  }
  if (id.projectorType) {
    const expected = family === "qwen3vl" ? PROFILES["qwen3-vl"].projectorType : PROFILES["qwen2.5-vl"].projectorType;
    if (id.projectorType !== expected) {
      throw new TimelensError(
        "ERR_MMPROJ_MISMATCH",
        `The mmproj projector "${id.projectorType}" does not belong to a ${id.architecture} text model (expected "${expected}").`,
        { projectorType: id.projectorType, expected },
      );
    }
  }
  const name = (id.name ?? "").toLowerCase();
  const isTimeLens = /time[\s_-]?lens/.test(name);
  if (family === "qwen3vl") return isTimeLens ? PROFILES["timelens-8b"] : PROFILES["qwen3-vl"];
  if (isTimeLens) return /\b3b\b|[-_ ]3b/.test(name) ? PROFILES["timelens-3b"] : PROFILES["timelens-7b"];
  return PROFILES["qwen2.5-vl"];
}
