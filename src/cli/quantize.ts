/** `timelens quantize <in.gguf> <out.gguf> <TYPE>`: llama.cpp's quantizer through the addon. */
import { parseArgs } from "node:util";
import { readGguf } from "../gguf/reader";
import { QUANT_TYPES, quantizeModel } from "../quantize";
import { EXIT, UsageError, interruptSignal, num } from "./common";
import { ProgressBar, formatMs } from "./progress";

export const QUANTIZE_HELP = `usage: timelens quantize <in.gguf> <out.gguf> <TYPE> [options]

  Quantizes a text-model GGUF (the mmproj is not quantized: docs/quantize.md).
  TYPE: ${QUANT_TYPES.join(", ")}
  --threads <n>          CPU threads (default: all)
  --allow-requantize     also quantize tensors that are already quantized
  --leave-output-tensor  keep output.weight as it is
  --pure                 no K-quant mix: every tensor gets the type's base type
  --json                 print one JSON object on stdout and nothing else`;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** What the written file averages: tensor bytes x 8 / weights (fallbacks and mixes included). */
async function bitsPerWeight(path: string): Promise<number> {
  const g = await readGguf(path, { skipLargeArrays: true });
  const bytes = g.tensors.reduce((a, t) => a + t.byteSize, 0);
  const weights = g.tensors.reduce((a, t) => a + t.nElements, 0);
  return (bytes * 8) / weights;
}

export async function quantizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      threads: { type: "string" },
      "allow-requantize": { type: "boolean", default: false },
      "leave-output-tensor": { type: "boolean", default: false },
      pure: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${QUANTIZE_HELP}\n`);
    return EXIT.ok;
  }
  const [input, output, type, ...extra] = positionals;
  if (!input || !output || !type || extra.length) throw new UsageError("quantize needs <in.gguf> <out.gguf> <TYPE>");
  const bar = new ProgressBar();
  try {
    const r = await quantizeModel({
      input,
      output,
      type,
      threads: num(values.threads, "threads"),
      allowRequantize: values["allow-requantize"],
      quantizeOutputTensor: !values["leave-output-tensor"],
      pure: values.pure,
      signal: interruptSignal(),
      onProgress: values.json ? undefined : (p) => bar.update(p),
    });
    bar.clear();
    const bpw = await bitsPerWeight(r.output);
    if (values.json) process.stdout.write(`${JSON.stringify({ ...r, bitsPerWeight: bpw })}\n`);
    else {
      process.stdout.write(
        `${r.output}: ${r.type} (${bpw.toFixed(2)} bits per weight), ` +
          `${mib(r.inputBytes)} -> ${mib(r.outputBytes)} in ${formatMs(r.ms)}\n`,
      );
    }
    return EXIT.ok;
  } finally {
    bar.clear();
  }
}
