/**
 * The benchmark's query normalisation (docs/reference.md "Prompt layout and special tokens"): whitespace runs become
 * one space, then strip, strip trailing '.' characters, strip again. Python semantics: `\s` and `str.strip()`
 * count the Unicode whitespace Python counts (including \x1c-\x1f, \x85, \u00a0,
 * \u2000-\u200a, \u3000 ...), and `rstrip('.')` removes every trailing '.' in one go
 * (so "a . ." becomes "a ." after the final strip, exactly as in Python).
 */
import { PY_WHITESPACE_CLASS } from "../util/pyunicode";

const WS_RUN = new RegExp(`[${PY_WHITESPACE_CLASS}]+`, "g");

export function normalizeQuery(query: string): string {
  // After collapsing, the only whitespace left is the single ASCII space.
  let q = query.replace(WS_RUN, " ");
  q = stripSpace(q);
  let end = q.length;
  while (end > 0 && q.charCodeAt(end - 1) === 0x2e) end--;
  return stripSpace(q.slice(0, end));
}

function stripSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 0x20) a++;
  while (b > a && s.charCodeAt(b - 1) === 0x20) b--;
  return s.slice(a, b);
}
