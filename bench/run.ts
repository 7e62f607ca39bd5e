/** `npm run bench -- <name>`: runs one benchmark (sessions, decode, cycles, llama, ...) and prints its figures. */
const BENCHES: Record<string, (args: string[]) => Promise<void>> = {
  sessions: async (args) =>
    (await import("./sessions")).runSessionsBench((args[0] as "qwen3vl" | "qwen25vl") ?? "qwen3vl"),
  decode: async () => (await import("./decode")).runDecodeBench(),
  report: async () => (await import("./report")).runReportBench(),
  convert: async (args) => (await import("./convert")).runConvertBench(args[0] ? Number(args[0]) : 1),
  omp: async (args) => (await import("./omp")).runOmpBench((args[0] as "tiny" | "medium") ?? "tiny"),
  abort: async (args) => (await import("./abort")).runAbortBench((args[0] as "qwen3vl" | "qwen25vl") ?? "qwen3vl"),
  quantize: async (args) => (await import("./quantize")).runQuantizeBench(args),
  queue: async (args) => (await import("./queue")).runQueueBench(args[0] ? Number(args[0]) : undefined),
  llama: async (args) => (await import("./llama")).runLlamaBench(args),
  cancel: async (args) =>
    (await import("./native-cancel")).runNativeCancelBench(
      (args[0] as "tiny" | "medium") ?? "tiny",
      args[1] ? Number(args[1]) : 10,
    ),
  cycles: async (args) => (await import("./cycles")).runCyclesBench(args[0] ? Number(args[0]) : 200),
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  const bench = name ? BENCHES[name] : undefined;
  if (!bench) {
    console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join("|")}> [args]`);
    process.exit(1);
  }
  await bench(rest);
}

void main();
