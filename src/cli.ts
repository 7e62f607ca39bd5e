#!/usr/bin/env node
/** The `timelens` command line. */
import { EXIT, UsageError, reportError } from "./cli/common";
import { CONVERT_HELP, convertCommand } from "./cli/convert";
import { DOCTOR_HELP, doctorCommand } from "./cli/doctor";
import { EVAL_HELP, evalCommand } from "./cli/eval";
import { GROUND_HELP, groundCommand } from "./cli/ground";
import { INFO_HELP, infoCommand } from "./cli/info";
import { METRICS_HELP, metricsCommand } from "./cli/metrics";
import { PLAN_HELP, planCommand } from "./cli/plan";
import { QUANTIZE_HELP, quantizeCommand } from "./cli/quantize";
import { PULL_HELP, pullCommand } from "./cli/pull";
import { MODELS_HELP, modelsCommand } from "./cli/models";
import { REPORT_HELP, reportCommand } from "./cli/report";
import { WORKER_HELP, workerCommand } from "./cli/worker";

const HELP = `timelens: when does it happen in the video? (TimeLens / Qwen-VL on llama.cpp)

commands:
  ground <video> <query> --model M --mmproj P   find the span of an event
  info <model.gguf> [--mmproj P]                what a GGUF pair is
  plan <video> [--model M | --profile id]       frame plan and prompt layout, no model run
  eval --bench B --model M --mmproj P           TimeLens-Bench predictions (resumable) and metrics
  metrics <preds.jsonl> [--bench B]             score a predictions file
  pull <owner/repo> [--quant T]                 download + convert a Hugging Face model
  models [list|rm <owner/repo>]                 pulled models
  report <video> <query>... | --eval preds/     HTML (and PNG) report of answers or of an eval run
  convert <hf-dir> [--outtype T]                Hugging Face checkpoint -> GGUF + mmproj (no Python)
  quantize <in.gguf> <out.gguf> <TYPE>          a smaller text GGUF (Q4_K_M, Q8_0, ...)
  worker --redis URL --model M --mmproj P       answer grounding jobs from a Redis queue (scaling out)
  doctor                                        which ffmpeg, ffprobe and native addon are used

Run \`timelens <command> --help\` for its options.
exit codes: 0 ok, 1 usage, 2 input error, 3 model error, 130 interrupted

${GROUND_HELP}

${INFO_HELP}

${PLAN_HELP}

${EVAL_HELP}

${METRICS_HELP}

${REPORT_HELP}

${CONVERT_HELP}

${QUANTIZE_HELP}

${WORKER_HELP}

${PULL_HELP}

${MODELS_HELP}

${DOCTOR_HELP}`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  ground: groundCommand,
  info: infoCommand,
  plan: planCommand,
  eval: evalCommand,
  metrics: metricsCommand,
  report: reportCommand,
  convert: convertCommand,
  quantize: quantizeCommand,
  worker: workerCommand,
  pull: pullCommand,
  models: modelsCommand,
  doctor: doctorCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes("--json");
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${HELP}\n`);
    return command ? EXIT.ok : EXIT.usage;
  }
  const run = COMMANDS[command];
  try {
    if (!run) throw new UsageError(`unknown command "${command}"`);
    return await run(rest);
  } catch (e) {
    const err = e as { code?: string };
    if (
      err?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ||
      err?.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" ||
      err?.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL"
    ) {
      return reportError(new UsageError((e as Error).message), json);
    }
    return reportError(e, json);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
