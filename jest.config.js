/**
 * Tests run the TypeScript sources directly (ts-jest, CommonJS), in two projects:
 *  - unit: pure code (plan, parse, metrics, prompt, gguf, eval scoring), run in parallel and
 *    forbidden to load the native addon (test/setup/no-addon.js);
 *  - native: everything else (addon, models, ffmpeg), one file at a time (test/setup/serial-runner.js):
 *    native work is CPU-bound on 2 cores, so one worker keeps timings sane and memory low.
 * `npm test` runs both; `npx jest --selectProjects unit` runs the fast half alone.
 */
const UNIT = [
  "<rootDir>/test/parse/**/*.test.ts",
  "<rootDir>/test/prompt/**/*.test.ts",
  "<rootDir>/test/gguf/**/*.test.ts",
  "<rootDir>/test/util/**/*.test.ts",
  "<rootDir>/test/video/plan.test.ts",
  "<rootDir>/test/eval/metrics.test.ts",
  "<rootDir>/test/eval/score.test.ts",
  "<rootDir>/test/eval/pyrepr.test.ts",
  "<rootDir>/test/eval/predictions.test.ts",
];

const shared = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: { warnOnly: false } }] },
};

module.exports = {
  projects: [
    {
      ...shared,
      displayName: "unit",
      testMatch: UNIT,
      setupFiles: ["<rootDir>/test/setup/no-addon.js"],
      globalSetup: "<rootDir>/test/setup/global-setup.ts",
    },
    {
      ...shared,
      displayName: "native",
      testMatch: ["<rootDir>/test/**/*.test.ts"],
      testPathIgnorePatterns: [
        "/node_modules/",
        ...UNIT.map((g) => g.replace("<rootDir>/", "/").replace("/**/*.test.ts", "/").replace(/\./g, "\\.")),
      ],
      globalSetup: "<rootDir>/test/setup/global-setup.ts",
      runner: "<rootDir>/test/setup/serial-runner.js",
    },
  ],
  testTimeout: 120000,
  maxWorkers: 2,
  reporters: ["default", "<rootDir>/test/setup/summary-reporter.js"],
};
