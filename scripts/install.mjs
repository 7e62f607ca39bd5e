#!/usr/bin/env node
// `npm install` hook. In a development checkout it builds the addon (cached, see build.mjs).
// For users it never fails the install: a prebuilt binary is used when one ships for this
// platform; otherwise it tries a source build, and if that is impossible the loader's error
// says how to build later (`npx timelens-native build`).
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const isDevCheckout = existsSync(join(root, ".git")) || existsSync(join(root, "test"));

function hasPrebuild() {
  const dir = join(root, "prebuilds");
  if (!existsSync(dir)) return false;
  const prefix = `${process.platform}-${process.arch}`;
  return readdirSync(dir).some(
    (d) => (d === prefix || d.startsWith(`${prefix}-`)) && existsSync(join(dir, d, "timelens.node")),
  );
}

async function main() {
  if (process.env.TIMELENS_SKIP_BUILD === "1") return;
  if (!isDevCheckout && hasPrebuild()) return;
  const { build, parseArgs } = await import("./build.mjs");
  const args = parseArgs([]);
  try {
    build(args);
  } catch (e) {
    if (isDevCheckout) throw e;
    console.error(
      `timelens-native: no prebuilt binary for ${process.platform}-${process.arch} and the source build failed (${e.message}).`,
    );
    console.error("timelens-native: install cmake, a C++17 compiler and git, then run: npx timelens-native build");
  }
}

main().catch((e) => {
  console.error(`timelens-native install: ${e.message}`);
  process.exit(1);
});
