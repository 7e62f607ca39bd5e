/**
 * Opens a local Hugging Face checkpoint: its JSON files, its safetensors shards (through the
 * index when there is one), the family and tensor-name layout, and checks every tensor's dtype
 * and shape against what config.json implies, before anything is written (docs/models.md).
 */
import { existsSync, promises as fsp } from "node:fs";
import { join, resolve } from "node:path";
import { TimelensError } from "../errors";
import { canonicalName, isIgnoredTensor, mapTensorName } from "./names";
import { readSafetensorsHeader, type SafetensorsEntry } from "./safetensors";
import type { CheckpointFamily } from "./types";
import { deepstackIndexes, textHparams, visionHparams } from "./metadata";

type Json = Record<string, unknown>;

export type CheckpointLayout = "new" | "old";

export interface CheckpointTensor extends SafetensorsEntry {
  canonical: string;
}

export interface Checkpoint {
  dir: string;
  family: CheckpointFamily;
  layout: CheckpointLayout;
  config: Json;
  generationConfig: Json | null;
  preprocessorConfig: Json | null;
  tokenizer: Json;
  tokenizerConfig: Json | null;
  chatTemplateFile: string | null;
  tensors: CheckpointTensor[];
}

const ARCHITECTURES: Record<string, CheckpointFamily> = {
  Qwen3VLForConditionalGeneration: "qwen3vl",
  Qwen2_5_VLForConditionalGeneration: "qwen2.5vl",
};

async function readJson(dir: string, name: string, required: true): Promise<Json>;
async function readJson(dir: string, name: string, required: false): Promise<Json | null>;
async function readJson(dir: string, name: string, required: boolean): Promise<Json | null> {
  const path = join(dir, name);
  let text: string;
  try {
    text = await fsp.readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      if (!required) return null;
      throw new TimelensError("ERR_CHECKPOINT_INVALID", `${dir} has no ${name}`, { file: path });
    }
    throw new TimelensError("ERR_CHECKPOINT_INVALID", `${path} cannot be read: ${(e as Error).message}`, {
      file: path,
    });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
    return v as Json;
  } catch (e) {
    throw new TimelensError("ERR_CHECKPOINT_INVALID", `${path} is not a JSON object (${(e as Error).message})`, {
      file: path,
    });
  }
}

/** Pure: the family from config.json's architectures. */
export function familyOf(config: Json): CheckpointFamily {
  const archs = config.architectures;
  const arch = Array.isArray(archs) ? archs[0] : undefined;
  const family = typeof arch === "string" ? ARCHITECTURES[arch] : undefined;
  if (!family) {
    throw new TimelensError(
      "ERR_CHECKPOINT_UNSUPPORTED",
      `config.json names architecture ${JSON.stringify(arch ?? null)}; the converter supports ` +
        `${Object.keys(ARCHITECTURES).join(", ")} (TimeLens-8B / TimeLens-7B)`,
      { file: "config.json", architecture: arch ?? null },
    );
  }
  return family;
}

/** Pure: which naming the tensors use. */
export function layoutOf(names: readonly string[]): CheckpointLayout {
  const isNew = names.some((n) => n.startsWith("model.language_model.") || n.startsWith("model.visual."));
  const isOld = names.some(
    (n) => n.startsWith("model.layers.") || n.startsWith("model.embed_tokens.") || n.startsWith("visual."),
  );
  if (isNew && isOld)
    throw new TimelensError(
      "ERR_CHECKPOINT_UNSUPPORTED",
      "the checkpoint mixes both tensor-name layouts (model.language_model.* and model.layers.*)",
      {},
    );
  if (!isNew && !isOld) {
    const prefixes = [...new Set(names.map((n) => n.split(".").slice(0, 2).join(".")))].slice(0, 8);
    throw new TimelensError(
      "ERR_CHECKPOINT_UNSUPPORTED",
      `no known tensor-name layout; tensor names start with ${prefixes.join(", ")}`,
      { prefixes },
    );
  }
  return isNew ? "new" : "old";
}

async function shardFiles(dir: string): Promise<{ files: string[]; weightMap: Record<string, string> | null }> {
  const index = await readJson(dir, "model.safetensors.index.json", false);
  if (index) {
    const map = index.weight_map;
    if (!map || typeof map !== "object")
      throw new TimelensError("ERR_CHECKPOINT_INVALID", "model.safetensors.index.json has no weight_map", {
        file: join(dir, "model.safetensors.index.json"),
      });
    const weightMap = map as Record<string, string>;
    const files = [...new Set(Object.values(weightMap))].sort();
    for (const f of files) {
      if (typeof f !== "string" || f.includes("/") || f.includes("\\") || !existsSync(join(dir, f))) {
        throw new TimelensError(
          "ERR_CHECKPOINT_INVALID",
          `model.safetensors.index.json names shard ${JSON.stringify(f)}, which is not in ${dir}`,
          {
            file: join(dir, String(f)),
          },
        );
      }
    }
    return { files, weightMap };
  }
  const files = (await fsp.readdir(dir)).filter((f) => f.startsWith("model") && f.endsWith(".safetensors")).sort();
  if (files.length === 0)
    throw new TimelensError("ERR_CHECKPOINT_INVALID", `${dir} has no model*.safetensors`, { dir });
  return { files, weightMap: null };
}

/** Pure: expected torch shapes of the tensors config.json implies (canonical names). */
export function expectedShapes(family: CheckpointFamily, config: Json): Map<string, number[]> {
  const h = textHparams(config);
  const e = new Map<string, number[]>();
  const n = (v: unknown, key: string) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
      throw new TimelensError("ERR_CHECKPOINT_INVALID", `config.json: ${key} is missing or invalid`, {
        file: "config.json",
        key,
      });
    return v;
  };
  const hidden = n(h.hidden_size, "hidden_size");
  const vocab = n(h.vocab_size, "vocab_size");
  const layers = n(h.num_hidden_layers, "num_hidden_layers");
  const heads = n(h.num_attention_heads, "num_attention_heads");
  const kvHeads = n(h.num_key_value_heads ?? heads, "num_key_value_heads");
  const headDim = h.head_dim === undefined ? hidden / heads : n(h.head_dim, "head_dim");
  const ff = n(h.intermediate_size, "intermediate_size");
  e.set("model.embed_tokens.weight", [vocab, hidden]);
  if (h.tie_word_embeddings !== true) e.set("lm_head.weight", [vocab, hidden]);
  e.set("model.norm.weight", [hidden]);
  for (let i = 0; i < layers; i++) {
    const l = `model.layers.${i}.`;
    e.set(`${l}input_layernorm.weight`, [hidden]);
    e.set(`${l}post_attention_layernorm.weight`, [hidden]);
    e.set(`${l}self_attn.q_proj.weight`, [heads * headDim, hidden]);
    e.set(`${l}self_attn.k_proj.weight`, [kvHeads * headDim, hidden]);
    e.set(`${l}self_attn.v_proj.weight`, [kvHeads * headDim, hidden]);
    e.set(`${l}self_attn.o_proj.weight`, [hidden, heads * headDim]);
    e.set(`${l}mlp.gate_proj.weight`, [ff, hidden]);
    e.set(`${l}mlp.up_proj.weight`, [ff, hidden]);
    e.set(`${l}mlp.down_proj.weight`, [hidden, ff]);
    if (family === "qwen3vl") {
      e.set(`${l}self_attn.q_norm.weight`, [headDim]);
      e.set(`${l}self_attn.k_norm.weight`, [headDim]);
    } else {
      e.set(`${l}self_attn.q_proj.bias`, [heads * headDim]);
      e.set(`${l}self_attn.k_proj.bias`, [kvHeads * headDim]);
      e.set(`${l}self_attn.v_proj.bias`, [kvHeads * headDim]);
    }
  }
  const v = visionHparams(family, config);
  const ve = n(v.hidden_size, "vision_config.hidden_size");
  const vf = n(v.intermediate_size, "vision_config.intermediate_size");
  const depth = n(v.depth, "vision_config.depth");
  const patch = n(v.patch_size, "vision_config.patch_size");
  const merge = n(v.spatial_merge_size ?? 2, "vision_config.spatial_merge_size");
  const out = n(v.out_hidden_size ?? hidden, "vision_config.out_hidden_size");
  const merged = ve * merge * merge;
  const lin = (name: string, o: number, i: number, bias = true) => {
    e.set(`${name}.weight`, [o, i]);
    if (bias) e.set(`${name}.bias`, [o]);
  };
  const norm = (name: string, size: number, bias: boolean) => {
    e.set(`${name}.weight`, [size]);
    if (bias) e.set(`${name}.bias`, [size]);
  };
  e.set("visual.patch_embed.proj.weight", [ve, 3, 2, patch, patch]);
  for (let i = 0; i < depth; i++) {
    const b = `visual.blocks.${i}.`;
    lin(`${b}attn.qkv`, 3 * ve, ve);
    lin(`${b}attn.proj`, ve, ve);
    if (family === "qwen3vl") {
      lin(`${b}mlp.linear_fc1`, vf, ve);
      lin(`${b}mlp.linear_fc2`, ve, vf);
    } else {
      lin(`${b}mlp.gate_proj`, vf, ve);
      lin(`${b}mlp.up_proj`, vf, ve);
      lin(`${b}mlp.down_proj`, ve, vf);
    }
    norm(`${b}norm1`, ve, family === "qwen3vl");
    norm(`${b}norm2`, ve, family === "qwen3vl");
  }
  if (family === "qwen3vl") {
    e.set("visual.patch_embed.proj.bias", [ve]);
    const pos = v.num_position_embeddings;
    if (pos !== undefined) e.set("visual.pos_embed.weight", [n(pos, "vision_config.num_position_embeddings"), ve]);
    lin("visual.merger.linear_fc1", merged, merged);
    lin("visual.merger.linear_fc2", out, merged);
    norm("visual.merger.norm", ve, true);
    const ds = Array.isArray(v.deepstack_visual_indexes) ? v.deepstack_visual_indexes.length : 0;
    for (let j = 0; j < ds; j++) {
      lin(`visual.deepstack_merger_list.${j}.linear_fc1`, merged, merged);
      lin(`visual.deepstack_merger_list.${j}.linear_fc2`, out, merged);
      norm(`visual.deepstack_merger_list.${j}.norm`, merged, true);
    }
  } else {
    norm("visual.merger.ln_q", ve, false);
    lin("visual.merger.mlp.0", merged, merged);
    lin("visual.merger.mlp.2", out, merged);
  }
  return e;
}

/** Pure: every required tensor present with its expected shape, nothing unexpected. */
export function checkShapes(family: CheckpointFamily, config: Json, tensors: readonly CheckpointTensor[]): void {
  const expected = expectedShapes(family, config);
  const seen = new Set<string>();
  for (const t of tensors) {
    const shape = expected.get(t.canonical);
    if (!shape) continue; // unknown names are refused by the name mapping, with the name
    seen.add(t.canonical);
    if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) {
      throw new TimelensError(
        "ERR_CHECKPOINT_INVALID",
        `${t.file}: tensor "${t.name}" has shape [${t.shape.join(", ")}] but config.json implies [${shape.join(", ")}]`,
        { file: t.file, tensor: t.name, shape: t.shape, expected: shape },
      );
    }
  }
  for (const name of expected.keys()) {
    if (!seen.has(name) && name !== "visual.pos_embed.weight") {
      throw new TimelensError(
        "ERR_CHECKPOINT_INVALID",
        `the checkpoint has no tensor "${name}", which config.json implies`,
        { tensor: name },
      );
    }
  }
}

export async function openCheckpoint(dirIn: string): Promise<Checkpoint> {
  const dir = resolve(dirIn);
  let st: Awaited<ReturnType<typeof fsp.stat>>;
  try {
    st = await fsp.stat(dir);
  } catch {
    throw new TimelensError("ERR_FILE_NOT_FOUND", `${dir} does not exist`, { path: dir });
  }
  if (!st.isDirectory())
    throw new TimelensError("ERR_CHECKPOINT_INVALID", `${dir} is not a directory (give the checkpoint's folder)`, {
      path: dir,
    });
  const config = await readJson(dir, "config.json", true);
  const family = familyOf(config);
  const tokenizer = await readJson(dir, "tokenizer.json", true);
  const tokenizerConfig = await readJson(dir, "tokenizer_config.json", false);
  const generationConfig = await readJson(dir, "generation_config.json", false);
  const preprocessorConfig = await readJson(dir, "preprocessor_config.json", false);
  let chatTemplateFile: string | null = null;
  if (existsSync(join(dir, "chat_template.jinja")))
    chatTemplateFile = await fsp.readFile(join(dir, "chat_template.jinja"), "utf8");
  else {
    const ct = await readJson(dir, "chat_template.json", false);
    if (ct && typeof ct.chat_template === "string") chatTemplateFile = ct.chat_template;
  }

  const { files, weightMap } = await shardFiles(dir);
  const tensors: CheckpointTensor[] = [];
  const names = new Set<string>();
  for (const f of files) {
    const entries = await readSafetensorsHeader(join(dir, f));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (names.has(e.name))
        throw new TimelensError("ERR_CHECKPOINT_INVALID", `tensor "${e.name}" is in more than one shard`, {
          tensor: e.name,
          file: e.file,
        });
      if (weightMap && weightMap[e.name] !== undefined && weightMap[e.name] !== f) {
        throw new TimelensError(
          "ERR_CHECKPOINT_INVALID",
          `the index puts "${e.name}" in ${weightMap[e.name]} but it is in ${f}`,
          {
            tensor: e.name,
            file: e.file,
          },
        );
      }
      names.add(e.name);
      if (isIgnoredTensor(e.name)) continue;
      tensors.push({ ...e, canonical: canonicalName(e.name) });
    }
  }
  if (weightMap) {
    for (const [name, f] of Object.entries(weightMap)) {
      if (!names.has(name))
        throw new TimelensError("ERR_CHECKPOINT_INVALID", `the index puts "${name}" in ${f}, which does not hold it`, {
          tensor: name,
          file: join(dir, f),
        });
    }
  }
  const layout = layoutOf(tensors.map((t) => t.name));
  // unknown names first: they say more than the missing tensor they usually cause
  const ds = deepstackIndexes(family, config);
  for (const t of tensors) mapTensorName(t.canonical, family, ds);
  checkShapes(family, config, tensors);
  return {
    dir,
    family,
    layout,
    config,
    generationConfig,
    preprocessorConfig,
    tokenizer,
    tokenizerConfig,
    chatTemplateFile,
    tensors,
  };
}
