/**
 * `timelens report`: an HTML page (and optionally a PNG) of grounding results on a video,
 * from a model run or a saved `ground --json` result; or, with --eval, one page per
 * TimeLens-Bench dataset of a predictions run.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { TimelensError } from "../errors";
import { loadBench } from "../eval/bench";
import { getProfile, type ProfileId } from "../prompt/profiles";
import { buildReportHtml, reportThumbnails } from "../report/grounding";
import { renderTimelinePng } from "../report/png";
import { loadEvalReportData, predictionFiles } from "../report/eval-data";
import { renderEvalReport } from "../report/eval-report";
import { PROFILE_PAPER_MODEL, PUBLISHED, parsePaperFigures, type PaperFigures } from "../report/paper";
import type { GroundingResult } from "../types";
import { EXIT, UsageError, interruptSignal, num } from "./common";
import { MODEL_FLAGS, SAMPLING_FLAGS, loadGrounderFrom, samplingFrom } from "./ground";
import { ProgressBar } from "./progress";

export const REPORT_HELP =
  `usage: timelens report <video> <query> [<query> ...] --model <model.gguf> ` +
  `--mmproj <mmproj.gguf> [options]
       timelens report <video> --from <result.json> [options]
       timelens report --eval <preds.jsonl|dir> --bench <dir|file.json> [options]

  One self-contained HTML file (thumbnails inlined, no scripts, no network): the frames the
  model saw on a timeline with their prompt labels, each query's span(s) in its own row, the
  raw answers, timings, devices, model, profile and frame plan. Each query is one argument.
  --out <file.html>      where to write the page (default report.html; --eval: a folder, default timelens-report/)
  --png <file.png>       also write the timeline as a PNG
  --from <result.json>   render saved \`ground --json\` results (one object, an array, or JSON lines) without a model
  --max-thumbnails <n>   thumbnails on the timeline (default 100; the span's pairs are always kept)
  --thumbnail-height <n> thumbnail height in pixels (default 90)
  --title <text>         page title
  --note <text>          a notice shown at the top (e.g. "random-weight model")
  --model --mmproj --profile --context-size --threads --gpu --max-new-tokens   as for ground
  --fps --min-tokens --total-tokens --max-frames --start --end --timestamp-format   as for ground
 eval reports:
  --eval <path>          predictions: a .jsonl file or a folder of them (as \`timelens eval --out\` writes)
  --bench <path>         the TimeLens-Bench folder or annotation file the predictions belong to
  --videos <dir>         where the videos are (as for eval)
  --datasets <a,b>       only these datasets
  --paper <file.json>    published figures to compare with (default: the built-in TimeLens model-card table)
  --paper-model <name>   which published model this run is (default: from --profile, else every model)
  --examples <n>         worst and best queries shown (default 10 each)`;

function readResults(text: string, path: string): GroundingResult[] {
  const trimmed = text.trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    try {
      parsed = trimmed
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l));
    } catch (e) {
      throw new TimelensError(
        "ERR_INVALID_ARGUMENT",
        `${path} is not JSON (a \`ground --json\` result, an array of them, or one per line): ${(e as Error).message}`,
        { path },
      );
    }
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list as GroundingResult[];
}

async function readText(path: string, kind: string): Promise<string> {
  return readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") throw new TimelensError("ERR_FILE_NOT_FOUND", `${kind} not found: ${path}`, { path });
    throw e;
  });
}

async function writeOut(path: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(resolve(path)), { recursive: true });
  await writeFile(path, data);
}

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      png: { type: "string" },
      from: { type: "string" },
      "max-thumbnails": { type: "string" },
      "thumbnail-height": { type: "string" },
      title: { type: "string" },
      note: { type: "string" },
      eval: { type: "string" },
      bench: { type: "string" },
      videos: { type: "string" },
      datasets: { type: "string" },
      paper: { type: "string" },
      "paper-model": { type: "string" },
      examples: { type: "string" },
      ...MODEL_FLAGS,
      ...SAMPLING_FLAGS,
    },
  });
  if (values.help) {
    process.stdout.write(`${REPORT_HELP}\n`);
    return EXIT.ok;
  }
  const signal = interruptSignal();
  if (values.eval !== undefined) return evalReport(values, positionals, signal);

  const [video, ...queries] = positionals;
  if (!video) throw new UsageError("report needs a video (and queries, or --from result.json)");
  const maxThumbnails = num(values["max-thumbnails"], "max-thumbnails");
  const thumbnailHeight = num(values["thumbnail-height"], "thumbnail-height");
  let results: GroundingResult[];
  let model: string | { name?: string; path?: string; mmproj?: string } | undefined = values.model
    ? { path: values.model, mmproj: values.mmproj }
    : undefined;
  const bar = new ProgressBar();
  if (values.from !== undefined) {
    if (queries.length > 0) throw new UsageError("report --from renders saved results: give no queries");
    results = readResults(await readText(values.from, "Result file"), values.from);
  } else {
    if (queries.length === 0) throw new UsageError("report needs at least one query (or --from result.json)");
    if (!values.model || !values.mmproj)
      throw new UsageError("report needs --model and --mmproj (or --from result.json)");
    const grounder = await loadGrounderFrom(values, signal);
    try {
      model = { name: grounder.info.name ?? undefined, path: values.model, mmproj: values.mmproj };
      const session = await grounder.openVideo(video, {
        ...samplingFrom(values),
        signal,
        maxNewTokens: num(values["max-new-tokens"], "max-new-tokens"),
      });
      try {
        results = [];
        for (const q of queries) {
          results.push(
            await session.ground(q, {
              maxNewTokens: num(values["max-new-tokens"], "max-new-tokens"),
              signal,
              onProgress: (p) => bar.update(p),
            }),
          );
        }
      } finally {
        await session.close();
      }
    } finally {
      bar.clear();
      await grounder.dispose();
    }
  }
  const out = values.out ?? "report.html";
  const options = { video, maxThumbnails, thumbnailHeight, title: values.title, note: values.note, model, signal };
  const thumbnails = await reportThumbnails(results, options);
  await writeOut(out, buildReportHtml(results, thumbnails, options));
  const written = [out];
  if (values.png) {
    await writeOut(values.png, await renderTimelinePng(results, { ...options, thumbnails }));
    written.push(values.png);
  }
  if (values.json)
    process.stdout.write(`${JSON.stringify({ written, thumbnails: thumbnails.length, results: results.length })}\n`);
  else
    process.stdout.write(
      `wrote ${written.join(", ")} ` +
        `(${results.length} quer${results.length === 1 ? "y" : "ies"}, ${thumbnails.length} thumbnails)\n`,
    );
  return EXIT.ok;
}

async function evalReport(
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
  signal: AbortSignal,
): Promise<number> {
  if (positionals.length > 0)
    throw new UsageError(`report --eval takes no positional arguments (got "${positionals[0]}")`);
  const bench = values.bench as string | undefined;
  if (!bench)
    throw new UsageError("report --eval needs --bench <dir|file.json> (the annotations the predictions belong to)");
  const datasets = (values.datasets as string | undefined)
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const annotations = await loadBench(bench, { datasets, videos: values.videos as string | undefined });
  const files = await predictionFiles(values.eval as string);
  let paper: PaperFigures = PUBLISHED;
  if (values.paper)
    paper = parsePaperFigures(await readText(values.paper as string, "Paper figures file"), values.paper as string);
  const profile = values.profile ? getProfile(values.profile as string).id : undefined;
  const paperModel =
    (values["paper-model"] as string | undefined) ?? (profile ? PROFILE_PAPER_MODEL[profile] : undefined) ?? null;
  if (paperModel && !paper.models[paperModel]) {
    throw new UsageError(
      `--paper-model "${paperModel}" is not in the published figures (${Object.keys(paper.models).join(", ")})`,
    );
  }
  const examples = num(values.examples as string | undefined, "examples");
  const outDir = (values.out as string | undefined) ?? "timelens-report";
  const data = await loadEvalReportData(files, annotations);
  if (data.length === 0)
    throw new TimelensError(
      "ERR_INVALID_ARGUMENT",
      `No prediction in ${files.join(", ")} belongs to the bench ${bench}`,
      { files, bench },
    );
  const written: string[] = [];
  for (const d of data) {
    const html = await renderEvalReport(
      {
        ...d,
        paper,
        paperModel,
        profile: (profile ?? "timelens-8b") as ProfileId,
        model: values.model as string | undefined,
      },
      { examples, signal },
    );
    const path = join(outDir, `${d.dataset}.html`);
    await writeOut(path, html);
    written.push(path);
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ written, paperModel })}\n`);
  else process.stdout.write(`wrote ${written.join(", ")}\n`);
  return EXIT.ok;
}
