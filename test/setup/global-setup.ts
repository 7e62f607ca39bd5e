// Runs once before the suite: makes the tiny GGUF fixture pairs (kept when current).
import { ensureFixtures } from "../../scripts/fixtures/generate";

export default async function globalSetup(): Promise<void> {
  await ensureFixtures({
    sizes: ["tiny"],
    log: (line) => {
      if (!line.endsWith("is current")) process.stderr.write(`${line}\n`);
    },
  });
}
