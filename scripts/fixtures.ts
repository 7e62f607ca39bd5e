/**
 * npm run fixtures -- [options]: writes the generated test models into test/fixtures/models/.
 * See --help. Reusable code lives in scripts/fixtures/.
 */
import { ensureFixtures } from "./fixtures/generate";
import { FIXTURES, type FixtureSize } from "./fixtures/configs";

const HELP = `Usage: npm run fixtures -- [--size tiny|medium|all] [--force] [--out DIR] [--only NAME]

Generates random-weight Qwen-VL GGUF pairs (model.gguf + mmproj.gguf + fixture.json)
from a fixed seed; identical bytes on every run.

  --size S    tiny (default), medium, or all; repeat or comma-separate for several.
              tiny:   ${FIXTURES.filter((f) => f.size === "tiny")
                .map((f) => f.name)
                .join(", ")} (real 151936-token vocabulary, < 20 MB each)
              medium: ${FIXTURES.filter((f) => f.size === "medium")
                .map((f) => f.name)
                .join(", ")} (hidden 512 x 8 layers, reduced vocabulary)
  --force     regenerate even when fixture.json says the files are current
  --out DIR   output root (default test/fixtures/models)
  --only N    only the fixture named N (repeatable)
  --help      this text

Existing fixtures whose fixture.json stamp (generator version, seed, config, template)
and file sizes match are kept. The test suite's global setup makes the tiny ones.`;

async function main(argv: string[]): Promise<number> {
  const sizes = new Set<FixtureSize>();
  const names: string[] = [];
  let force = false;
  let root: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      console.log(HELP);
      return 0;
    } else if (a === "--force") force = true;
    else if (a === "--size" || a.startsWith("--size=")) {
      const v = a.includes("=") ? a.slice(7) : argv[++i];
      for (const s of (v ?? "").split(",")) {
        if (s === "all") {
          sizes.add("tiny");
          sizes.add("medium");
        } else if (s === "tiny" || s === "medium") sizes.add(s);
        else {
          console.error(`unknown size "${s}"\n\n${HELP}`);
          return 2;
        }
      }
    } else if (a === "--out") root = argv[++i];
    else if (a === "--only") names.push(argv[++i]);
    else {
      console.error(`unknown option "${a}"\n\n${HELP}`);
      return 2;
    }
  }
  const t0 = performance.now();
  const done = await ensureFixtures({
    sizes: sizes.size ? [...sizes] : ["tiny"],
    names: names.length ? names : undefined,
    force,
    root,
    log: (l) => console.log(l),
  });
  console.log(`fixtures: ${done.length} pair(s) ready in ${Math.round(performance.now() - t0)} ms`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
