/**
 * A child process for test/cache/prefix-cache.test.ts: stores one key `rounds` times, each
 * time with state bytes of its own (its id repeated), written slowly in chunks so two writers
 * interleave. Run with `node --import tsx store-child.ts <dir> <key> <id> <rounds>`.
 */
import { open } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { PrefixCache } from "../../src/cache/prefix-cache";

async function main(): Promise<void> {
  const [dir, key, id, rounds] = process.argv.slice(2);
  const cache = new PrefixCache({ dir });
  const chunk = Buffer.alloc(64 * 1024, Number(id));
  for (let r = 0; r < Number(rounds); r++) {
    await cache.store(
      key,
      { nPast: 10 + Number(id), nCells: 10 + Number(id), imageTokens: 1, savedMs: Number(id) },
      async (tmp) => {
        const fh = await open(tmp, "w");
        try {
          for (let c = 0; c < 8; c++) {
            await fh.write(chunk);
            await sleep(1);
          }
        } finally {
          await fh.close();
        }
      },
    );
  }
  process.stdout.write("done\n");
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
