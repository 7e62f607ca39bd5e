// Child process for the kill -9 test: downloads one repo from the fake hub given in argv.
import { downloadFiles, hubConfig, resolveRepo } from "../../../src/hub";

async function run(): Promise<void> {
  const [endpoint, cacheDir, repo] = process.argv.slice(2);
  const cfg = hubConfig({ endpoint, cacheDir, retryDelayMs: 5 });
  const snapshot = await resolveRepo(repo, "main", cfg);
  await downloadFiles({
    snapshot,
    files: snapshot.files,
    cfg,
    progressIntervalMs: 0,
    onProgress: (p) => process.stdout.write(`${p.fileDone}\n`),
  });
}
run().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
