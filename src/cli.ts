#!/usr/bin/env node
/** The `timelens` command line. */
import { EXIT, UsageError, reportError } from "./cli/common";
import { DOCTOR_HELP, doctorCommand } from "./cli/doctor";
import { EVAL_HELP, evalCommand } from "./cli/eval";
import { GROUND_HELP, groundCommand } from "./cli/ground";
import { INFO_HELP, infoCommand } from "./cli/info";
import { METRICS_HELP, metricsCommand } from "./cli/metrics";
import { PLAN_HELP, planCommand } from "./cli/plan";

const HELP = `timelens: when does it happen in the video? (TimeLens / Qwen-VL on llama.cpp)

commands:
  ground <video> <query> --model M --mmproj P   find the span of an event
  info <model.gguf> [--mmproj P]                what a GGUF pair is
  plan <video> [--model M | --profile id]       frame plan and prompt layout, no model run
  eval --bench B --model M --mmproj P           TimeLens-Bench predictions (resumable) and metrics
  metrics <preds.jsonl> [--bench B]             score a predictions file
  doctor                                        which ffmpeg, ffprobe and native addon are used

Run \`timelens <command> --help\` for its options.
exit codes: 0 ok, 1 usage, 2 input error, 3 model error, 130 interrupted

${GROUND_HELP}

${INFO_HELP}

${PLAN_HELP}

${EVAL_HELP}

${METRICS_HELP}

${DOCTOR_HELP}`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  ground: groundCommand,
  info: infoCommand,
  plan: planCommand,
  eval: evalCommand,
  metrics: metricsCommand,
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
    if (err?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" || err?.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" || err?.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
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
