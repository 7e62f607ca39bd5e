/**
 * `timelens doctor`: what this machine would run with: which ffmpeg and ffprobe were found
 * (where from, version) and which native addon loads (variant, source, path).
 */
import { parseArgs } from "node:util";
import { isTimelensError } from "../errors";
import { loadAddon, type GpuPreference } from "../native";
import { locateFfmpeg, locateFfprobe, toolVersion, type LocatedTool } from "../video/ffmpeg";
import { EXIT } from "./common";

export const DOCTOR_HELP = `usage: timelens doctor [--gpu auto|false|cuda|vulkan|metal] [--json]
  Prints the ffmpeg and ffprobe that would be used (path, where from, version) and the native
  addon that loads (variant, prebuild or build, path). Exit 0 when all three are usable, else 2.`;

interface ToolReport {
  path?: string;
  source?: LocatedTool["source"];
  detail?: string;
  version?: string;
  error?: string;
}

async function toolReport(locate: () => LocatedTool): Promise<ToolReport> {
  try {
    const t = locate();
    const v = await toolVersion(t.path);
    return { path: t.path, source: t.source, detail: t.detail, version: `${v.major}.${v.minor} (${v.line})` };
  } catch (e) {
    return { error: isTimelensError(e) ? e.message : String(e) };
  }
}

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      gpu: { type: "string", default: "auto" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${DOCTOR_HELP}\n`);
    return EXIT.ok;
  }
  const gpu = (values.gpu === "false" ? false : values.gpu) as GpuPreference;
  const ffmpeg = await toolReport(() => locateFfmpeg());
  const ffprobe = await toolReport(() => locateFfprobe());
  let addon: {
    path?: string;
    variant?: string;
    source?: string;
    gpuBackend?: string | null;
    gpuReason?: string | null;
    error?: string;
  };
  try {
    const sel = loadAddon({ gpu });
    addon = {
      path: sel.location.path,
      variant: sel.location.variant,
      source: sel.location.source,
      gpuBackend: sel.gpu.backend,
      gpuReason: sel.gpu.reason,
    };
  } catch (e) {
    addon = { error: isTimelensError(e) ? e.message : String(e) };
  }
  const report = { platform: `${process.platform}-${process.arch}`, node: process.version, ffmpeg, ffprobe, addon };
  const ok = !ffmpeg.error && !ffprobe.error && !addon.error;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return ok ? EXIT.ok : EXIT.input;
  }
  const tool = (name: string, t: ToolReport) =>
    t.error
      ? `${name.padEnd(8)}  MISSING: ${t.error}`
      : `${name.padEnd(8)}  ${t.path}\n          from ${t.source}: ${t.detail}\n          version ${t.version}`;
  const lines = [
    `platform  ${report.platform}, node ${report.node}`,
    tool("ffmpeg", ffmpeg),
    tool("ffprobe", ffprobe),
    addon.error
      ? `addon     MISSING: ${addon.error}`
      : `addon     ${addon.variant} (${addon.source}) ${addon.path}` +
        `${addon.gpuBackend ? `\n          GPU backend ${addon.gpuBackend}` : ""}` +
        `${addon.gpuReason ? `\n          ${addon.gpuReason}` : ""}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return ok ? EXIT.ok : EXIT.input;
}
