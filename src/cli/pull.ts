/** `timelens pull <owner/repo>`: hub -> HF cache -> GGUFs in the models cache (docs/hub.md). */
import { parseArgs } from "node:util";
import { TEXT_OUT_TYPES } from "../convert";
import type { TextOutType } from "../convert/types";
import { formatBytes } from "../hub/disk";
import { pullModel, type PullProgress } from "../models/pull";
import { isHfUri, parseModelUri } from "../models/uri";
import { EXIT, UsageError, interruptSignal } from "./common";
import { ProgressBar, formatMs } from "./progress";

export const PULL_HELP =
  `usage: timelens pull <owner/repo | hf:owner/repo[@rev][:QUANT]> ` +
  `[--revision R] [--outtype f16|bf16|f32|q8_0] [--quant TYPE] [--json]
  Downloads a Hugging Face repo into the HF cache ($HF_HOME/hub) and converts it into a text GGUF
  and an mmproj GGUF in the models cache ($TIMELENS_CACHE_DIR/models). Repos of ready GGUFs are
  downloaded only (--quant picks the file). Interrupted downloads resume. --json prints one object
  with the absolute "model" and "mmproj" paths.
  env: HF_ENDPOINT, HF_TOKEN (gated / private repos), HF_HOME / HF_HUB_CACHE, HF_HUB_OFFLINE, TIMELENS_CACHE_DIR`;

export function describeProgress(p: PullProgress): string {
  if (p.stage === "download") {
    const eta = (ms: number | null): string => (ms === null ? "?" : formatMs(ms));
    return (
      `${p.file} ${formatBytes(p.fileDone)}/${formatBytes(p.fileTotal)} ` +
      `${formatBytes(Math.round(p.fileBytesPerSecond))}/s eta ${eta(p.fileEtaMs)} ` +
      `| all ${formatBytes(p.done)}/${formatBytes(p.total)} eta ${eta(p.etaMs)}`
    );
  }
  if (p.stage === "quantize") return `${p.done}/${p.total} tensors`;
  return `${formatBytes(p.done)}/${formatBytes(p.total)}${"tensor" in p && p.tensor ? ` ${p.tensor}` : ""}`;
}

export async function pullCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      revision: { type: "string" },
      outtype: { type: "string" },
      quant: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${PULL_HELP}\n`);
    return EXIT.ok;
  }
  const [target] = positionals;
  if (!target || positionals.length > 1) throw new UsageError("pull needs one repo: owner/name or hf:owner/name");
  const uri = parseModelUri(isHfUri(target) ? target : `hf:${target}`);
  const outtype = values.outtype?.toLowerCase();
  if (outtype !== undefined && !(TEXT_OUT_TYPES as readonly string[]).includes(outtype))
    throw new UsageError(`--outtype must be one of ${TEXT_OUT_TYPES.join(", ")}`);
  const bar = new ProgressBar();
  try {
    const r = await pullModel({
      repo: uri.repo,
      revision: values.revision ?? uri.revision,
      outtype: outtype as TextOutType | undefined,
      quant: values.quant ?? uri.quant,
      signal: interruptSignal(),
      onProgress: (p) => bar.update(p, describeProgress(p)),
    });
    bar.clear();
    if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      const what =
        r.source === "gguf"
          ? "downloaded"
          : [r.converted && "converted", r.quantized && "quantized"].filter(Boolean).join(" + ") ||
            "already in the cache";
      process.stdout.write(
        `${r.repo}@${r.commit.slice(0, 12)}: ${what}` +
          `${r.downloadedBytes ? ` (${formatBytes(r.downloadedBytes)} downloaded)` : ""}` +
          `\nmodel   ${r.model}\nmmproj  ${r.mmproj ?? "(none in this repo)"}` +
          `\n`,
      );
    }
    return EXIT.ok;
  } finally {
    bar.clear();
  }
}
