/** `timelens info <model.gguf> [--mmproj P]`: what a GGUF (pair) is, read from headers only. */
import { statSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { readGguf } from "../gguf/reader";
import { checkPair, inspectMmproj, inspectTextModel } from "../gguf/validate";
import { detectProfile } from "../prompt/profiles";
import { EXIT, UsageError } from "./common";

export const INFO_HELP = `usage: timelens info <model.gguf> [--mmproj <mmproj.gguf>] [--json]`;

const KEEP = {
  skipLargeArrays: true,
  keepArrays: ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "clip.vision.image_mean", "clip.vision.image_std"],
};

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export async function infoCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      mmproj: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${INFO_HELP}\n`);
    return EXIT.ok;
  }
  const [modelPath] = positionals;
  if (!modelPath) throw new UsageError("info needs a model GGUF path");
  const text = inspectTextModel(await readGguf(modelPath, KEEP));
  const mmproj = values.mmproj ? inspectMmproj(await readGguf(values.mmproj, KEEP)) : undefined;
  if (mmproj) checkPair(text, mmproj);
  const profile = detectProfile({
    architecture: text.architecture,
    projectorType: mmproj?.projectorType,
    name: `${text.name ?? ""} ${basename(modelPath)}`,
  });
  const template = text.chatTemplate ?? "";
  const report = {
    model: {
      path: modelPath,
      sizeBytes: statSync(modelPath).size,
      architecture: text.architecture,
      name: text.name,
      layers: text.nLayer,
      embedding: text.nEmbd,
      heads: text.nHead,
      kvHeads: text.nHeadKv,
      headDim: text.headDim,
      contextTrain: text.nCtxTrain,
      vocab: text.vocabSize,
      deepstackLayers: text.nDeepstack,
      kvBytesPerToken: 2 * text.nLayer * text.nHeadKv * text.headDim * 2,
    },
    mmproj: mmproj && {
      path: values.mmproj,
      sizeBytes: statSync(values.mmproj!).size,
      projector: mmproj.projectorType,
      patchSize: mmproj.patchSize,
      spatialMerge: mmproj.spatialMerge,
      temporalPatch: mmproj.temporalPatch,
      visionLayers: mmproj.blockCount,
      visionHidden: mmproj.embeddingLength,
      deepstackLayers: mmproj.nDeepstack,
    },
    profile: {
      id: profile.id,
      name: profile.displayName,
      pixelsPerToken: profile.factor,
      timestampRule: profile.timestampRule,
    },
    chatTemplate: {
      present: template.length > 0,
      length: template.length,
      supportsVideo: template.includes("video"),
      defaultSystemMessage: /You are a helpful assistant/.test(template),
    },
    specialTokens: text.specialTokens,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return EXIT.ok;
  }
  const m = report.model;
  const lines = [
    `model     ${m.path} (${mb(m.sizeBytes)})`,
    `          ${m.architecture}${m.name ? ` "${m.name}"` : ""}: ` +
      `${m.layers} layers, hidden ${m.embedding}, ` +
      `${m.heads} heads / ${m.kvHeads} KV heads x ${m.headDim}, vocab ${m.vocab}`,
    `          trained context ${m.contextTrain} tokens; ` +
      `KV cache ${(m.kvBytesPerToken / 1024).toFixed(1)} KiB per token at f16` +
      `${m.deepstackLayers ? `; ${m.deepstackLayers} deepstack layers` : ""}`,
  ];
  if (report.mmproj) {
    const p = report.mmproj;
    lines.push(
      `mmproj    ${p.path} (${mb(p.sizeBytes)})`,
      `          ${p.projector}: patch ${p.patchSize}, merge ${p.spatialMerge}, temporal ${p.temporalPatch}, ` +
        `${p.visionLayers} layers, hidden ${p.visionHidden}`,
    );
  }
  lines.push(
    `profile   ${report.profile.name} (${report.profile.id}): ${report.profile.pixelsPerToken} px per token side, ` +
      `timestamps ${report.profile.timestampRule}`,
    "template  " +
      (report.chatTemplate.present
        ? `${report.chatTemplate.length} chars, ` +
          `${report.chatTemplate.supportsVideo ? "handles video" : "NO video handling"}` +
          `${report.chatTemplate.defaultSystemMessage ? ", default system message" : ""}`
        : "missing"),
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  return EXIT.ok;
}
