/**
 * The reference prediction file (docs/reference.md "Answers, metrics and the benchmark"): JSONL, one object per line,
 *   {"<video_name>>>><query>>>><gt span>": {"timestamps": [[s, e], ...], "answers": "...", "duration": d}}
 * written by Python's json.dumps with its defaults, the key built with an f-string, so the
 * span is Python's str() of the annotation's list: "[12.0, 17.5]" for floats, "[12, 17]" for
 * ints (json.load gives ints for numbers written without a '.'). `timestamps` are
 * round(x / unit) * unit, i.e. Python floats ("12.0").
 */
import { TimelensError } from "../errors";
import { pyJsonNumber, pyJsonString, pyListRepr, type PyNumber } from "../util/pyrepr";

export const KEY_SEPARATOR = ">>>";

export interface PredictionRecord {
  /** The video's file name (Python os.path.basename of its path), e.g. "3MSZA.mp4". */
  video: string;
  query: string;
  /** Ground-truth span as the annotation has it: a number is a Python float, a bigint a Python int. */
  gt: readonly [PyNumber, PyNumber];
  /** What the reference stores: referenceTimestamps(spans, duration). Written as Python floats. */
  timestamps: ReadonlyArray<readonly [number, number]>;
  /** The model's full answer text. */
  answers: string;
  duration: PyNumber;
}

/** The line's key: f"{video_name}>>>{query}>>>{span}". */
export function predictionKey(video: string, query: string, gt: readonly [PyNumber, PyNumber]): string {
  return `${video}${KEY_SEPARATOR}${query}${KEY_SEPARATOR}${pyListRepr(gt)}`;
}

/** One line of the file (without the newline), byte-identical to Python's json.dumps output. */
export function formatPredictionLine(record: PredictionRecord): string {
  const key = predictionKey(record.video, record.query, record.gt);
  const timestamps = `[${record.timestamps.map(([s, e]) => `[${pyJsonNumber(s)}, ${pyJsonNumber(e)}]`).join(", ")}]`;
  const answers = pyJsonString(record.answers);
  const duration = pyJsonNumber(record.duration);
  return `{${pyJsonString(key)}: {"timestamps": ${timestamps}, "answers": ${answers}, "duration": ${duration}}}`;
}

export interface ParsedPrediction {
  key: string;
  video: string;
  query: string;
  /** The ground-truth span read back from the key; null when the key has no readable span. */
  gt: [number, number] | null;
  timestamps: Array<[number, number]>;
  /** `answers` (some reference variants write `answer`). */
  answers: string;
  duration: number | null;
  /** 1-based line number in the file. */
  line: number;
}

export interface PredictionFile {
  records: ParsedPrediction[];
  /** The last line was cut off mid-write (no newline after it, not valid JSON) and was skipped. */
  tornLastLine: boolean;
}

/** Splits a key at its first and last ">>>" (a query may itself contain ">>>"). */
export function parsePredictionKey(key: string): { video: string; query: string; gt: [number, number] | null } {
  const first = key.indexOf(KEY_SEPARATOR);
  const last = key.lastIndexOf(KEY_SEPARATOR);
  if (first === -1) return { video: key, query: "", gt: null };
  if (first === last) return { video: key.slice(0, first), query: key.slice(first + KEY_SEPARATOR.length), gt: null };
  return {
    video: key.slice(0, first),
    query: key.slice(first + KEY_SEPARATOR.length, last),
    gt: parsePySpan(key.slice(last + KEY_SEPARATOR.length)),
  };
}

const PY_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parsePyNumber(text: string): number | null {
  const t = text.trim();
  if (PY_NUMBER.test(t)) return Number(t);
  const l = t.toLowerCase();
  if (l === "inf" || l === "+inf" || l === "infinity") return Infinity;
  if (l === "-inf" || l === "-infinity") return -Infinity;
  if (l === "nan") return NaN;
  return null;
}

/** Python str() of a 2-element list or tuple of numbers, e.g. "[12.0, 17.5]" or "(3, 5)". */
function parsePySpan(text: string): [number, number] | null {
  const m = /^\s*[[(](.*)[\])]\s*$/s.exec(text);
  if (!m) return null;
  const parts = m[1].split(",");
  if (parts.length !== 2) return null;
  const a = parsePyNumber(parts[0]);
  const b = parsePyNumber(parts[1]);
  return a === null || b === null ? null : [a, b];
}

/**
 * JSON.parse that also reads the NaN / Infinity / -Infinity Python's json.dumps writes for
 * non-finite floats (as NaN -> null is not a number, they come back as NaN via a marker).
 */
function parsePyJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (first) {
    if (!/NaN|Infinity/.test(line)) throw first;
    let out = "";
    let inString = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (inString) {
        out += c;
        if (c === "\\") out += line[++i] ?? "";
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') {
        inString = true;
        out += c;
      } else if (line.startsWith("NaN", i)) {
        out += '"__py_nan__"';
        i += 2;
      } else if (line.startsWith("-Infinity", i)) {
        out += "-1e999";
        i += 8;
      } else if (line.startsWith("Infinity", i)) {
        out += "1e999";
        i += 7;
      } else out += c;
    }
    return JSON.parse(out);
  }
}

function toNumber(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (v === "__py_nan__") return NaN;
  return null;
}

function readTimestamps(v: unknown): Array<[number, number]> {
  if (!Array.isArray(v)) return [];
  const out: Array<[number, number]> = [];
  for (const pair of v) {
    if (!Array.isArray(pair) || pair.length < 2) continue;
    const a = toNumber(pair[0]);
    const b = toNumber(pair[1]);
    if (a !== null && b !== null) out.push([a, b]);
  }
  return out;
}

/**
 * Reads a prediction file. Blank lines are skipped; a last line that is cut off (no newline
 * after it and not valid JSON, as when a run was killed mid-write) is skipped and reported;
 * any other unreadable line is an error (ERR_INVALID_ARGUMENT, with its line number).
 */
export function parsePredictionFile(text: string): PredictionFile {
  const lines = text.split("\n");
  const records: ParsedPrediction[] = [];
  let tornLastLine = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (raw.trim() === "") continue;
    const isLast = i === lines.length - 1; // no newline after it
    let obj: unknown;
    try {
      obj = parsePyJson(raw);
    } catch (err) {
      if (isLast) {
        tornLastLine = true;
        break;
      }
      throw new TimelensError(
        "ERR_INVALID_ARGUMENT",
        `Prediction file line ${i + 1} is not valid JSON: ${(err as Error).message}`,
        { line: i + 1 },
        { cause: err },
      );
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      throw new TimelensError("ERR_INVALID_ARGUMENT", `Prediction file line ${i + 1} is not a JSON object.`, {
        line: i + 1,
      });
    }
    for (const [key, value] of Object.entries(obj as Record<string, unknown>)) {
      const v = (value ?? {}) as Record<string, unknown>;
      const answers = typeof v.answers === "string" ? v.answers : typeof v.answer === "string" ? v.answer : "";
      records.push({
        key,
        ...parsePredictionKey(key),
        timestamps: readTimestamps(v.timestamps),
        answers,
        duration: toNumber(v.duration),
        line: i + 1,
      });
    }
  }
  return { records, tornLastLine };
}
