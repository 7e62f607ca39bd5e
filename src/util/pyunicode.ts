/**
 * Python 3 `str` character classes, for code that must behave like a Python `re` pattern or a
 * `str` method. Python's `re` (str patterns) and `str.isspace()/isalnum()` use the Unicode
 * database; JavaScript's `\s`, `\w`, `\d` and `\b` do NOT agree with them:
 *
 * - whitespace: Python counts \x1c-\x1f and \x85 as whitespace and not U+FEFF; JS the reverse.
 * - `\d`: Python matches any Unicode decimal digit (category Nd), JS (even with /u) only 0-9.
 * - `\w` / `\b`: Python's word characters are `isalnum()` plus "_" (letters, all numerics);
 *   JS's are [A-Za-z0-9_] (with /u too, unless /i is also set).
 *
 * Checked exhaustively over all code points against CPython 3.11 (Unicode 14.0): the sets here
 * agree on every character assigned in Unicode 14; the only differences are characters that
 * newer Unicode versions (used by newer Node / Python releases) assigned since, which
 * CPython 3.11 treats as unassigned. The same holds for String.toLowerCase vs str.lower().
 */

/** Python `str.isspace()` == `re` `\s` for str patterns. */
export const PY_WHITESPACE_CLASS =
  "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const NON_ASCII_SPACE = new Set([0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);

export function isPySpace(cp: number): boolean {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20);
  return NON_ASCII_SPACE.has(cp) || (cp >= 0x2000 && cp <= 0x200a);
}

const ND = /^\p{Nd}$/u;
const WORD = /^[\p{L}\p{N}_]$/u;

/** Python `re` `\d` for str patterns: a Unicode decimal digit (category Nd). */
export function isPyDigit(cp: number): boolean {
  if (cp < 0x80) return cp >= 0x30 && cp <= 0x39;
  if (cp < 0x660) return false; // U+0660 ARABIC-INDIC DIGIT ZERO is the first non-ASCII Nd
  return ND.test(String.fromCodePoint(cp));
}

/** Python `re` `\w` for str patterns: `str.isalnum()` or "_". */
export function isPyWord(cp: number): boolean {
  if (cp < 0x80)
    return (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f;
  if (cp >= 0xd800 && cp <= 0xdfff) return false; // a lone surrogate
  return WORD.test(String.fromCodePoint(cp));
}

/**
 * The value of a decimal digit, as Python's int()/float() read it. Unicode assigns decimal
 * digits only in contiguous runs 0..9 (a stability guarantee), so a maximal run of Nd code
 * points is a sequence of whole decades starting at a zero.
 */
export function pyDigitValue(cp: number): number {
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  let start = cp;
  while (start > 0 && isPyDigit(start - 1)) start--;
  return (cp - start) % 10;
}
