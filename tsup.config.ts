import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: { index: "src/index.ts" },
    format: ["cjs", "esm"],
    dts: true,
    target: "node18",
    platform: "node",
    sourcemap: true,
    clean: true,
    shims: true,
    splitting: false,
    // scripts/cache-root.js is CommonJS (install scripts use it before any build); the ESM bundle
    // needs a real `require` for what that file requires.
    banner: ({ format }) => (format === "esm" ? { js: 'import { createRequire as __timelensCreateRequire } from "node:module"; const require = __timelensCreateRequire(import.meta.url);' } : {}),
  },
  {
    // The CLI is CommonJS only: package.json bin points at dist/cli.js.
    entry: { cli: "src/cli.ts" },
    format: ["cjs"],
    target: "node18",
    platform: "node",
    sourcemap: true,
    splitting: false,
  },
]);
