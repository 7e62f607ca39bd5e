/** A strict check of the HTML the reports write: balanced tags, quoted attributes, no script. */
const VOID = new Set(["meta", "img", "br", "hr", "input", "link", "source"]);

export interface HtmlCheck {
  tags: number;
  attributes: string[];
}

/** Throws on the first problem; returns the tag count and every attribute name seen. */
export function checkWellFormed(html: string): HtmlCheck {
  if (!html.startsWith("<!DOCTYPE html>")) throw new Error("no doctype");
  const body = html.replace(/<style>[\s\S]*?<\/style>/g, "<style></style>");
  const stack: string[] = [];
  const attributes: string[] = [];
  let tags = 0;
  const tagRe =
    /<(\/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*="[^"<>]*")*)\s*(\/?)>|<!DOCTYPE html>|<(?!\s)/g;
  let m: RegExpExecArray | null;
  while ((m = tagRe.exec(body))) {
    if (m[0] === "<!DOCTYPE html>") continue;
    if (m[0] === "<") throw new Error(`stray or malformed tag at ${m.index}: ${body.slice(m.index, m.index + 80)}`);
    tags++;
    const [, close, rawName, attrs, selfClose] = m;
    const name = rawName.toLowerCase();
    if (name === "script") throw new Error("a <script> element");
    for (const a of attrs.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)="/g)) attributes.push(a[1].toLowerCase());
    if (close) {
      const top = stack.pop();
      if (top !== name) throw new Error(`</${name}> closes <${top}>`);
    } else if (!VOID.has(name) && !selfClose) stack.push(name);
  }
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(" > ")}`);
  return { tags, attributes };
}
