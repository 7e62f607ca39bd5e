/**
 * A JSON reader that keeps what Python's json.load keeps and JSON.parse loses:
 *   - int versus float: a number written without '.', 'e' or 'E' is a Python int (we return a
 *     bigint), any other a Python float (a number). The reference prints annotation spans with
 *     str(), so "[0, 14]" and "[0.0, 14.0]" are different prediction keys;
 *   - NaN, Infinity and -Infinity, which Python's json accepts by default;
 *   - object key order, including integer-like keys (a JS object would move "123" first):
 *     objects come back as Maps; a repeated key keeps its first position and its last value,
 *     as a Python dict does.
 * Strings are decoded by JSON.parse (same escapes and the same rejection of raw control
 * characters as Python's strict mode). A leading UTF-8 byte order mark is skipped.
 */
import { TimelensError } from "../errors";
import type { PyNumber } from "../util/pyrepr";

export type PyJson = null | boolean | string | PyNumber | PyJson[] | Map<string, PyJson>;

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class Reader {
  pos = 0;
  constructor(
    readonly text: string,
    readonly source: string,
  ) {}

  fail(what: string): never {
    const before = this.text.slice(0, this.pos);
    const line = before.split("\n").length;
    const column = this.pos - before.lastIndexOf("\n");
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `${this.source} is not valid JSON: ${what} at line ${line} column ${column}.`,
      {
        source: this.source,
        line,
        column,
      },
    );
  }

  ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  value(depth: number): PyJson {
    if (depth > 512) this.fail("nesting too deep");
    this.ws();
    const t = this.text;
    const c = t[this.pos];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    if (t.startsWith("true", this.pos)) return ((this.pos += 4), true);
    if (t.startsWith("false", this.pos)) return ((this.pos += 5), false);
    if (t.startsWith("null", this.pos)) return ((this.pos += 4), null);
    if (t.startsWith("NaN", this.pos)) return ((this.pos += 3), NaN);
    if (t.startsWith("Infinity", this.pos)) return ((this.pos += 8), Infinity);
    if (t.startsWith("-Infinity", this.pos)) return ((this.pos += 9), -Infinity);
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(t);
    if (m) {
      this.pos += m[0].length;
      return m[1] !== undefined || m[2] !== undefined ? Number(m[0]) : BigInt(m[0]);
    }
    return this.fail(c === undefined ? "unexpected end of input" : `unexpected ${JSON.stringify(c)}`);
  }

  string(): string {
    const t = this.text;
    const start = this.pos;
    let i = start + 1;
    for (;;) {
      const q = t.indexOf('"', i);
      if (q === -1) return this.fail("unterminated string");
      let bs = 0;
      for (let k = q - 1; k > start && t.charCodeAt(k) === 0x5c; k--) bs++;
      if (bs % 2 === 0) {
        i = q + 1;
        break;
      }
      i = q + 1;
    }
    try {
      const s = JSON.parse(t.slice(start, i)) as string;
      this.pos = i;
      return s;
    } catch {
      return this.fail("invalid string");
    }
  }

  array(depth: number): PyJson[] {
    this.pos++;
    const out: PyJson[] = [];
    this.ws();
    if (this.text[this.pos] === "]") return (this.pos++, out);
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.text[this.pos++];
      if (c === "]") return out;
      if (c !== ",") this.pos--, this.fail("expected ',' or ']'");
    }
  }

  object(depth: number): Map<string, PyJson> {
    this.pos++;
    const out = new Map<string, PyJson>();
    this.ws();
    if (this.text[this.pos] === "}") return (this.pos++, out);
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail("expected a string key");
      const key = this.string();
      this.ws();
      if (this.text[this.pos] !== ":") this.fail("expected ':'");
      this.pos++;
      out.set(key, this.value(depth + 1));
      this.ws();
      const c = this.text[this.pos++];
      if (c === "}") return out;
      if (c !== ",") this.pos--, this.fail("expected ',' or '}'");
    }
  }
}

/** Parses JSON text the way Python's json.loads reads it (see the module comment). */
export function parsePyJson(text: string, source = "The input"): PyJson {
  const r = new Reader(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, source);
  const v = r.value(0);
  r.ws();
  if (r.pos !== r.text.length) r.fail("extra data after the value");
  return v;
}

/** True for a Python number (int or float); booleans are not numbers here. */
export function isPyNumber(v: PyJson): v is PyNumber {
  return typeof v === "number" || typeof v === "bigint";
}
