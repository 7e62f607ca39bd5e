/// <reference lib="dom" />
/**
 * Opening a report in Debian's chromium (driven by playwright-core, which never downloads a
 * browser) and recording what a reader would see: a full-page screenshot, console errors,
 * and every request the page tried to make (all are refused).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.TIMELENS_CHROMIUM ?? "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface PageVisit {
  screenshot: Buffer;
  consoleErrors: string[];
  /** Requests other than the report file itself. */
  requests: string[];
  /** Result of `inspect` run in the page. */
  probe: unknown;
}

/** Fails (never skips) when the browser is missing: .ci/run installs it. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser test needs Debian's chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it). Set TIMELENS_CHROMIUM to use another.`,
    );
  }
}

export async function visit(
  html: string,
  inspect: (page: Page) => Promise<unknown>,
  viewport = { width: 1280, height: 900 },
): Promise<PageVisit> {
  requireChromium();
  process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = "1";
  const dir = mkdtempSync(join(tmpdir(), "timelens-browser-"));
  const file = join(dir, "report.html");
  writeFileSync(file, html);
  const url = pathToFileURL(file).href;
  const context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport,
    offline: true,
  });
  const consoleErrors: string[] = [];
  const requests = new Set<string>();
  try {
    await context.route("**/*", (route) => {
      const u = route.request().url();
      if (u === url) return route.continue();
      requests.add(u);
      return route.abort();
    });
    context.on("request", (r) => {
      const u = r.url();
      if (u !== url && !u.startsWith("data:")) requests.add(u);
    });
    const page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await page.goto(url, { waitUntil: "load" });
    await page.evaluate(() =>
      Promise.all(
        Array.from(document.images).map((img) =>
          img.complete ? null : new Promise((r) => (img.onload = img.onerror = r)),
        ),
      ),
    );
    const probe = await inspect(page);
    const screenshot = await page.screenshot({ fullPage: true });
    return { screenshot, consoleErrors, requests: [...requests], probe };
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
