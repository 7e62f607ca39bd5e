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
    banner: ({ format }) =>
      format === "esm"
        ? {
            js: 'import { createRequire as __timelensCreateRequire } from "node:module"; const require = __timelensCreateRequire(import.meta.url);',
          }
        : {},
  },
  {
    // timelens-native/queue (BullMQ + Redis; docs/queue.md): its own entry so apps that do not
    // scale out never load bullmq.
    entry: { queue: "src/queue/index.ts" },
    format: ["cjs", "esm"],
    dts: true,
    target: "node18",
    platform: "node",
    sourcemap: true,
    shims: true,
    splitting: false,
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
  {
    // The frame resize worker (src/video/resize-thread.ts loads dist/resize-worker.js next to the
    // bundle that uses it): CommonJS, so every entry (ESM, CJS, CLI) can start it.
    entry: { "resize-worker": "src/video/resize-worker.ts" },
    format: ["cjs"],
    target: "node18",
    platform: "node",
    sourcemap: true,
    splitting: false,
  },
]);
