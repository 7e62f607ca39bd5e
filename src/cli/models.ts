/** `timelens models [list | rm <owner/repo>]`: what the models cache holds (docs/hub.md). */
import { isAbsolute } from "node:path";
import { parseArgs } from "node:util";
import { formatBytes } from "../hub/disk";
import { absoluteIn, defaultModelsDir, listModels, removeModel } from "../models/cache";
import { EXIT, UsageError } from "./common";

export const MODELS_HELP = `usage: timelens models [list] [--json] | timelens models rm <owner/repo> [--json]
  Lists or removes pulled models in $TIMELENS_CACHE_DIR/models. rm leaves the HF download cache alone.`;

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(`${MODELS_HELP}\n`);
    return EXIT.ok;
  }
  const [action = "list", repo, ...extra] = positionals;
  if (action === "list") {
    if (repo) throw new UsageError("models list takes no arguments");
    const models = await listModels();
    if (values.json) {
      process.stdout.write(
        JSON.stringify({
          dir: defaultModelsDir(),
          models: models.map((m) => ({
            repo: m.repo,
            commit: m.commit,
            dir: m.dir,
            source: m.manifest.source,
            bytes: m.bytes,
            files: m.manifest.files.map((f) => ({ ...f, path: absoluteIn(m.dir, f) })),
          })),
        }) + "\n",
      );
      return EXIT.ok;
    }
    if (models.length === 0) process.stdout.write(`no models in ${defaultModelsDir()}\n`);
    for (const m of models) {
      const files = m.manifest.files
        .map((f) => `${f.role} ${f.type}${isAbsolute(f.path) ? " (HF cache)" : ""}`)
        .join(", ");
      process.stdout.write(`${m.repo}@${m.commit.slice(0, 12)}  ${formatBytes(m.bytes)}  ${files}\n`);
    }
    return EXIT.ok;
  }
  if (action === "rm") {
    if (!repo || extra.length) throw new UsageError("models rm needs one owner/repo");
    const gone = await removeModel(repo);
    if (values.json)
      process.stdout.write(
        `${JSON.stringify({ removed: gone.map((m) => ({ repo: m.repo, commit: m.commit, bytes: m.bytes })) })}\n`,
      );
    else
      process.stdout.write(
        gone.length
          ? `removed ${repo} (${gone.length} commit${gone.length > 1 ? "s" : ""}, ` +
              `${formatBytes(gone.reduce((s, m) => s + m.bytes, 0))})\n`
          : `${repo} is not in the models cache\n`,
      );
    return EXIT.ok;
  }
  throw new UsageError(`unknown models action "${action}" (list, rm)`);
}
