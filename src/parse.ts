/**
 * Answer parsing with the semantics of TimeLens's `extract_time` (docs/reference.md "Answers, metrics and the
 * benchmark"), on the lower-cased answer:
 *   1. clock times  \b(\d{1,2}:\d{2}:\d{2}(?:\.\d+)?|\d{1,2}:\d{2}(?:\.\d+)?)\b  (re.findall),
 *      an even count kept, paired, H*3600 + M*60 + S;
 *   2. else pairs from  (\d+\.?\d*)\s*-\s*(\d+\.?\d*) , else from  (\d+\.?\d*)\s+to\s+(\d+\.?\d*) ;
 *   3. else all numbers  \b(\d+\.\d+|\d+)\b , an even count kept, paired.
 *
 * Python `re` semantics, not JavaScript's: `\d` is any Unicode decimal digit (Nd), `\s` is
 * Python's whitespace, `\b` is a boundary between Python word characters (letters, all
 * numerics, "_"). Python's int()/float() accept any Nd digits ("١٢.٥" is 12.5), so we do too.
 * A digit string too long for a double becomes Infinity, as float() gives inf. String.toLowerCase
 * and Python's str.lower() agree on every character assigned in Unicode 14 (see util/pyunicode).
 *
 * The patterns are matched by hand-written scanners instead of JS regexes: pattern 2 as a
 * regex backtracks cubically on a long digit run with no '-' after it (in Python too), and
 * JS has no Python-compatible \b. Each scanner reproduces re.findall's result exactly
 * (leftmost match, then continue at its end) because for these patterns the greedy choice is
 * the only one that can succeed; the reasoning is noted at each scanner. Every scanner is
 * linear in the input length.
 */
import { isPyDigit, isPySpace, isPyWord, pyDigitValue } from "./util/pyunicode";

export type Span = [number, number];

const DOT = 0x2e;
const COLON = 0x3a;
const DASH = 0x2d;

/** Code points of a string; index past the end reads -1 ("no character"). */
class Cps {
  readonly cp: Uint32Array;
  readonly n: number;
  constructor(s: string) {
    this.cp = new Uint32Array(s.length);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          this.cp[n++] = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
          i++;
          continue;
        }
      }
      this.cp[n++] = c;
    }
    this.n = n;
  }
  at(i: number): number {
    return i >= 0 && i < this.n ? this.cp[i] : -1;
  }
  digit(i: number): boolean {
    return i >= 0 && i < this.n && isPyDigit(this.cp[i]);
  }
  word(i: number): boolean {
    return i >= 0 && i < this.n && isPyWord(this.cp[i]);
  }
  space(i: number): boolean {
    return i >= 0 && i < this.n && isPySpace(this.cp[i]);
  }
  /** End of the run of digits starting at i (i itself when there is none). */
  digitsEnd(i: number): number {
    while (this.digit(i)) i++;
    return i;
  }
  spacesEnd(i: number): number {
    while (this.space(i)) i++;
    return i;
  }
  /** Python float() of the digits and '.' in [a, b). */
  float(a: number, b: number): number {
    let s = "";
    for (let i = a; i < b; i++) {
      const c = this.cp[i];
      s += c === DOT ? "." : String.fromCharCode(0x30 + pyDigitValue(c));
    }
    return Number(s);
  }
  /** Python int() of the digits in [a, b). */
  int(a: number, b: number): number {
    let v = 0;
    for (let i = a; i < b; i++) v = v * 10 + pyDigitValue(this.cp[i]);
    return v;
  }
}

/**
 * Clock time at p:  \b(\d{1,2}:\d{2}:\d{2}(?:\.\d+)?|\d{1,2}:\d{2}(?:\.\d+)?)\b
 * Returns [end, seconds] or null. The match starts and ends with a digit, so the leading \b
 * is "no word character before p" and the trailing one "no word character after the end".
 * \d{1,2}: two digits and one digit cannot both be followed by ':', so the lead is the digit
 * run's first one or two digits. (?:\.\d+)?: shortening the fraction leaves a digit after the
 * end (no \b); dropping it leaves '.' after the end, which satisfies \b.
 */
function clockAt(t: Cps, p: number): [number, number] | null {
  if (!t.digit(p) || t.word(p - 1)) return null;
  const lead = t.digit(p + 1) ? 2 : 1;
  const c1 = p + lead;
  if (t.at(c1) !== COLON || !t.digit(c1 + 1) || !t.digit(c1 + 2)) return null;
  const hours = t.at(c1 + 3) === COLON && t.digit(c1 + 4) && t.digit(c1 + 5);
  // First alternative H:MM:SS, then M:SS (tried when the first fails, including at the \b).
  for (const three of hours ? [true, false] : [false]) {
    const secStart = three ? c1 + 4 : c1 + 1;
    const q = secStart + 2;
    let end = -1;
    if (t.at(q) === DOT && t.digit(q + 1)) {
      const f = t.digitsEnd(q + 1);
      if (!t.word(f)) end = f;
    }
    if (end < 0 && !t.word(q)) end = q;
    if (end < 0) continue;
    const s = t.float(secStart, end);
    const value = three ? t.int(p, c1) * 3600 + t.int(c1 + 1, c1 + 3) * 60 + s : t.int(p, c1) * 60 + s;
    return [end, value];
  }
  return null;
}

/**
 * Greedy  \d+\.?\d*  at i: the end index, or -1. In both range patterns whatever follows the
 * number must be whitespace, '-' or the end; giving back digits leaves a digit next and giving
 * back the '.' leaves '.', so the greedy match is the only one that can lead to a match.
 */
function numberEnd(t: Cps, i: number): number {
  let j = t.digitsEnd(i);
  if (j === i) return -1;
  if (t.at(j) === DOT) j = t.digitsEnd(j + 1);
  return j;
}

type RangeSep = "dash" | "to";

/**
 * (\d+\.?\d*)\s*-\s*(\d+\.?\d*)  or  (\d+\.?\d*)\s+to\s+(\d+\.?\d*)  at p. \s* / \s+ before a
 * fixed character or a digit are also deterministic (giving back whitespace leaves whitespace).
 */
function rangeAt(t: Cps, p: number, sep: RangeSep): [number, Span] | null {
  const e1 = numberEnd(t, p);
  if (e1 < 0) return null;
  let k = t.spacesEnd(e1);
  if (sep === "dash") {
    if (t.at(k) !== DASH) return null;
    k = t.spacesEnd(k + 1);
  } else {
    if (k === e1 || t.at(k) !== 0x74 /* t */ || t.at(k + 1) !== 0x6f /* o */) return null;
    const after = t.spacesEnd(k + 2);
    if (after === k + 2) return null;
    k = after;
  }
  const e2 = numberEnd(t, k);
  if (e2 < 0) return null;
  return [e2, [t.float(p, e1), t.float(k, e2)]];
}

function findRanges(t: Cps, sep: RangeSep): Span[] {
  const out: Span[] = [];
  let p = 0;
  while (p < t.n) {
    if (!t.digit(p)) {
      p++;
      continue;
    }
    const m = rangeAt(t, p, sep);
    if (m) {
      out.push(m[1]);
      p = m[0];
    } else {
      // Any later start inside this digit run reaches the same greedy end and fails the same way.
      p = t.digitsEnd(p);
    }
  }
  return out;
}

/**
 * \b(\d+\.\d+|\d+)\b at p. The first alternative can only end after the whole fraction run
 * (a shorter fraction leaves a digit next: no \b); the second after the whole integer run.
 */
function bareNumberAt(t: Cps, p: number): [number, number] | null {
  if (!t.digit(p) || t.word(p - 1)) return null;
  const j = t.digitsEnd(p);
  if (t.at(j) === DOT && t.digit(j + 1)) {
    const k = t.digitsEnd(j + 1);
    if (!t.word(k)) return [k, t.float(p, k)];
  }
  if (!t.word(j)) return [j, t.float(p, j)];
  return null;
}

function pairUp(values: number[]): Span[] {
  const out: Span[] = [];
  for (let i = 0; i + 1 < values.length; i += 2) out.push([values[i], values[i + 1]]);
  return out;
}

/**
 * All [start, end] pairs TimeLens's extract_time finds in a model answer, in order (raw: not
 * ordered, clamped or rounded). Never throws; linear time. A non-string gives [].
 */
export function extractTime(answer: string): Span[] {
  if (typeof answer !== "string") return [];
  const t = new Cps(answer.toLowerCase());

  const clocks: number[] = [];
  for (let p = 0; p < t.n; ) {
    const m = clockAt(t, p);
    if (m) {
      clocks.push(m[1]);
      p = m[0];
    } else p++;
  }
  if (clocks.length >= 2) return pairUp(clocks);

  const dash = findRanges(t, "dash");
  if (dash.length > 0) return dash;
  const to = findRanges(t, "to");
  if (to.length > 0) return to;

  const nums: number[] = [];
  for (let p = 0; p < t.n; ) {
    const m = bareNumberAt(t, p);
    if (m) {
      nums.push(m[1]);
      p = m[0];
    } else p = t.digit(p) ? t.digitsEnd(p) : p + 1;
  }
  return pairUp(nums);
}

export interface GroundingAnswer {
  /** Every pair extract_time found, raw (the reference scores spans[0] as it is). */
  spans: Span[];
  /** The first pair, ordered (start <= end) and clamped to [0, duration]; null when none. */
  start: number | null;
  end: number | null;
  parsed: boolean;
}

/**
 * Parses a model answer for application use: `spans` as extract_time returns them, and the
 * first pair made usable (swapped if reversed, clamped to [0, duration] when a finite duration
 * is given, else only to >= 0).
 */
export function parseGroundingAnswer(text: string, duration?: number): GroundingAnswer {
  const spans = extractTime(text);
  if (spans.length === 0) return { spans, start: null, end: null, parsed: false };
  let [a, b] = spans[0];
  if (a > b) [a, b] = [b, a];
  const hi = duration !== undefined && Number.isFinite(duration) && duration >= 0 ? duration : Infinity;
  const clamp = (x: number): number => Math.min(Math.max(x, 0), hi);
  return { spans, start: clamp(a), end: clamp(b), parsed: true };
}
