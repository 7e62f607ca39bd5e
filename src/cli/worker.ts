/** `timelens worker --redis URL --model M --mmproj P`: answers grounding jobs from a BullMQ queue (docs/queue.md). */
import { realpath } from "node:fs/promises";
import { parseArgs } from "node:util";
import { Grounder } from "../session";
import { createGroundingWorker, modelIdentity } from "../queue";
import { EXIT, UsageError, num } from "./common";
import { MODEL_FLAGS, gpuFrom } from "./ground";

export const WORKER_HELP = `usage: timelens worker --redis <url> --model <model.gguf> --mmproj <mmproj.gguf> [options]

  --redis <url>          redis://host:6379/0 (Redis >= 6.2 with persistence; see docs/queue.md)
  --queue <name>         queue name (default timelens)
  --concurrency <n>      jobs at once (default 1; one model runs one job at a time)
  --gpu-device <n>       use only GPU n (sets CUDA_VISIBLE_DEVICES / GGML_VK_VISIBLE_DEVICES before loading)
  --cache-dir <dir>      keep video prefixes on disk, shared by runs and processes
  --allow-root <dir>     accept only videos under this folder (repeatable; default: any path)
  --name <name>          this worker's name on its jobs (default host:pid)
  --lock-duration <ms>   a job's lock; a dead worker's job is taken back after it (default 30000)
  --stalled-interval <ms>  how often dead workers' jobs are looked for (default 30000)
  --max-stalled <n>      times a job may lose its worker before it fails (default 1)
  --profile --context-size --threads --gpu   as for ground
Runs until SIGTERM or Ctrl-C: the job in hand is finished, then the worker exits 0; a second signal
puts the job back in the queue for another worker and exits at once.`;

function count(value: string | undefined, name: string, min: number): number | undefined {
  const n = num(value, name);
  if (n !== undefined && (!Number.isInteger(n) || n < min))
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

export async function workerCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...MODEL_FLAGS,
      redis: { type: "string" },
      queue: { type: "string" },
      concurrency: { type: "string" },
      "gpu-device": { type: "string" },
      "cache-dir": { type: "string" },
      "allow-root": { type: "string", multiple: true },
      name: { type: "string" },
      "lock-duration": { type: "string" },
      "stalled-interval": { type: "string" },
      "max-stalled": { type: "string" },
    },
  });
  if (values.help) {
    process.stdout.write(`${WORKER_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`worker takes no positional arguments (got "${positionals[0]}")`);
  if (!values.redis) throw new UsageError("worker needs --redis <url>");
  if (!values.model || !values.mmproj) throw new UsageError("worker needs --model and --mmproj");
  const concurrency = count(values.concurrency, "concurrency", 1);
  const gpuDevice = count(values["gpu-device"], "gpu-device", 0);
  const lockDurationMs = count(values["lock-duration"], "lock-duration", 1);
  const stalledIntervalMs = count(values["stalled-interval"], "stalled-interval", 1);
  const maxStalledCount = count(values["max-stalled"], "max-stalled", 0);
  const allowRoots = values["allow-root"] ? await Promise.all(values["allow-root"].map((r) => realpath(r))) : undefined;
  if (gpuDevice !== undefined) {
    // Read by the CUDA runtime and by ggml's Vulkan backend when the addon initialises them.
    process.env.CUDA_VISIBLE_DEVICES = String(gpuDevice);
    process.env.GGML_VK_VISIBLE_DEVICES = String(gpuDevice);
  }
  const log = (m: string): void => void process.stderr.write(`timelens worker: ${m}\n`);

  const load = new AbortController();
  const onLoadSignal = (): void => load.abort();
  process.once("SIGTERM", onLoadSignal);
  process.once("SIGINT", onLoadSignal);
  let grounder: Grounder;
  try {
    grounder = await Grounder.load({
      model: values.model,
      mmproj: values.mmproj,
      profile: values.profile as never,
      contextSize: num(values["context-size"], "context-size"),
      threads: num(values.threads, "threads"),
      gpu: gpuFrom(values.gpu),
      cacheDir: values["cache-dir"],
      signal: load.signal,
    });
  } finally {
    process.removeListener("SIGTERM", onLoadSignal);
    process.removeListener("SIGINT", onLoadSignal);
  }
  try {
    const worker = createGroundingWorker({
      grounder,
      redis: values.redis,
      name: values.queue,
      concurrency,
      allowRoots,
      modelIdentity: await modelIdentity(values.model, values.mmproj),
      workerName: values.name,
      lockDurationMs,
      stalledIntervalMs,
      maxStalledCount,
      keepSessions: concurrency,
      onLog: values.json ? undefined : log,
    });
    const stopped = new Promise<void>((resolve) => {
      let signals = 0;
      const stop = (): void => {
        signals++;
        if (signals === 1) log("stopping: finishing the current job (signal again to hand it back)");
        void worker.close({ returnJobs: signals > 1 }).then(resolve, resolve);
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    });
    await worker.ready();
    log(`ready: queue ${values.queue ?? "timelens"}, ${grounder.info.profileName}, pid ${process.pid}`);
    await stopped;
    log("stopped");
    return EXIT.ok;
  } finally {
    await grounder.dispose();
  }
}
