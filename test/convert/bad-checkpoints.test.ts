/**
 * Bad checkpoints get a typed error naming the file (and tensor) and leave no GGUF behind
 * (docs/models.md, "Bad input"). Each case copies a good sharded checkpoint, breaks one thing,
 * and converts both files.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { convertCheckpoint } from "../../src/convert";
import { TimelensError } from "../../src/errors";
import { CHECKPOINT_CASES, checkpointRoot, tinyCheckpoint } from "../helpers/hf-checkpoints";

const SHARDED = CHECKPOINT_CASES.find((c) => c.id === "qwen25vl-old")!; // 3 shards
const SMALL_SHARD = "model-00003-of-00003.safetensors";
let good: string;
let n = 0;

beforeAll(async () => {
  good = await tinyCheckpoint(SHARDED);
});
afterAll(() => rmSync(checkpointRoot(), { recursive: true, force: true }));

/** A copy of the good checkpoint, then `breakIt` applied to it. */
function broken(breakIt: (dir: string) => void): string {
  const dir = join(checkpointRoot(), `broken-${n++}`);
  mkdirSync(dir);
  for (const f of readdirSync(good)) if (!f.endsWith(".gguf")) copyFileSync(join(good, f), join(dir, f));
  breakIt(dir);
  return dir;
}

const json = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Record<string, any>;
const putJson = (dir: string, f: string, v: unknown) => writeFileSync(join(dir, f), JSON.stringify(v));

/** Rewrites a shard's header through `edit` (data bytes kept after the new header). */
function editHeader(dir: string, file: string, edit: (h: Record<string, any>) => void): void {
  const b = readFileSync(join(dir, file));
  const len = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.toString("utf8", 8, 8 + len));
  edit(header);
  let text = JSON.stringify(header);
  while (text.length % 8 !== 0) text += " ";
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(text)), 0);
  writeFileSync(join(dir, file), Buffer.concat([head, Buffer.from(text), b.subarray(8 + len)]));
}

async function expectRefused(dir: string, code: string, mention: RegExp): Promise<TimelensError> {
  const outfile = join(dir, "out.gguf");
  const mmprojOutfile = join(dir, "out-mmproj.gguf");
  let err: unknown;
  try {
    await convertCheckpoint({ dir, outfile, mmprojOutfile });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TimelensError);
  const te = err as TimelensError;
  expect(te.code).toBe(code);
  expect(te.message).toMatch(mention);
  expect(readdirSync(dir).filter((f) => f.includes(".gguf"))).toEqual([]); // no output, no .partial
  return te;
}

const firstTensor = (h: Record<string, any>) => Object.keys(h).find((k) => k !== "__metadata__")!;

test("the good checkpoint converts (the cases below break one thing each)", async () => {
  const dir = broken(() => undefined);
  const r = await convertCheckpoint({ dir, outfile: join(dir, "a.gguf"), mmprojOutfile: join(dir, "b.gguf") });
  expect(existsSync(r.model!) && existsSync(r.mmproj!)).toBe(true);
});

test("data_offsets that do not match the dtype and shape", async () => {
  const dir = broken((d) =>
    editHeader(d, SMALL_SHARD, (h) => {
      h[firstTensor(h)].data_offsets[1] += 2;
    }),
  );
  const e = await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /data_offsets span/);
  expect(e.details.file).toBe(join(dir, SMALL_SHARD));
});

test("offsets past the end of the file", async () => {
  const dir = broken((d) =>
    editHeader(d, SMALL_SHARD, (h) => {
      const t = h[firstTensor(h)];
      t.data_offsets = [t.data_offsets[0] + 10_000_000, t.data_offsets[1] + 10_000_000];
    }),
  );
  await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /ends at byte \d+ but the file has \d+ \(truncated\?\)/);
});

test("overlapping tensors", async () => {
  const dir = broken((d) =>
    editHeader(d, SMALL_SHARD, (h) => {
      const size = (k: string) => h[k].data_offsets[1] - h[k].data_offsets[0];
      const names = Object.keys(h).filter((k) => k !== "__metadata__");
      const a = names.find((k) => names.some((o) => o !== k && size(o) === size(k)))!;
      const b = names.find((o) => o !== a && size(o) === size(a))!;
      h[b].data_offsets = [...h[a].data_offsets];
    }),
  );
  await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /overlap/);
});

test("a header length larger than the file", async () => {
  const dir = broken((d) => {
    const b = readFileSync(join(d, SMALL_SHARD));
    b.writeBigUInt64LE(BigInt(b.length), 0);
    writeFileSync(join(d, SMALL_SHARD), b);
  });
  await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /header length/);
});

test("a header that is not JSON", async () => {
  const dir = broken((d) => {
    const b = readFileSync(join(d, SMALL_SHARD));
    b.write("{{{{", 8);
    writeFileSync(join(d, SMALL_SHARD), b);
  });
  await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /not valid JSON/);
});

test("a truncated shard", async () => {
  const dir = broken((d) => {
    const p = join(d, "model-00001-of-00003.safetensors");
    truncateSync(p, readFileSync(p).length - 1000);
  });
  await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /model-00001-of-00003.safetensors.*truncated/);
});

test("a shard the index names is missing", async () => {
  const dir = broken((d) => rmSync(join(d, "model-00002-of-00003.safetensors")));
  await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /names shard "model-00002-of-00003.safetensors"/);
});

test("the index names a tensor no shard holds", async () => {
  const dir = broken((d) => {
    const ix = json(d, "model.safetensors.index.json");
    ix.weight_map["visual.blocks.9.attn.qkv.weight"] = SMALL_SHARD;
    putJson(d, "model.safetensors.index.json", ix);
  });
  await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /visual\.blocks\.9\.attn\.qkv\.weight/);
});

test("a dtype the converter does not read", async () => {
  const dir = broken((d) =>
    editHeader(d, SMALL_SHARD, (h) => {
      const t = h[firstTensor(h)];
      t.dtype = "I16";
    }),
  );
  await expectRefused(dir, "ERR_CHECKPOINT_UNSUPPORTED", /dtype I16/);
});

test("a shape other than config.json implies", async () => {
  const dir = broken((d) => {
    const c = json(d, "config.json");
    c.intermediate_size += 32;
    putJson(d, "config.json", c);
  });
  const e = await expectRefused(
    dir,
    "ERR_CHECKPOINT_INVALID",
    /mlp\.(down|gate|up)_proj\.weight.*config\.json implies/,
  );
  expect(e.details.tensor).toMatch(/mlp/);
});

test("a config.json missing a key", async () => {
  const dir = broken((d) => {
    const c = json(d, "config.json");
    delete c.hidden_size;
    putJson(d, "config.json", c);
  });
  await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /hidden_size/);
});

test("a config.json that is not JSON", async () => {
  const dir = broken((d) => writeFileSync(join(d, "config.json"), "{ not json"));
  await expectRefused(dir, "ERR_CHECKPOINT_INVALID", /config\.json is not a JSON object/);
});

test("an architecture the converter does not know", async () => {
  const dir = broken((d) => {
    const c = json(d, "config.json");
    c.architectures = ["LlamaForCausalLM"];
    putJson(d, "config.json", c);
  });
  await expectRefused(dir, "ERR_CHECKPOINT_UNSUPPORTED", /LlamaForCausalLM/);
});

test("a tokenizer.json of another kind", async () => {
  const dir = broken((d) => {
    const t = json(d, "tokenizer.json");
    t.model.type = "Unigram";
    putJson(d, "tokenizer.json", t);
  });
  await expectRefused(dir, "ERR_CHECKPOINT_UNSUPPORTED", /tokenizer\.json.*Unigram/);
});

test("a tokenizer with another pre-tokenizer", async () => {
  const dir = broken((d) => {
    const t = json(d, "tokenizer.json");
    t.pre_tokenizer = { type: "Whitespace" };
    putJson(d, "tokenizer.json", t);
  });
  await expectRefused(dir, "ERR_CHECKPOINT_UNSUPPORTED", /pre-tokenizer/);
});

test("a tensor the family does not have", async () => {
  const dir = broken((d) => {
    const ix = json(d, "model.safetensors.index.json");
    editHeader(d, SMALL_SHARD, (h) => {
      const k = firstTensor(h);
      const renamed = `${k.replace(/\.(weight|bias)$/, "")}.extra.weight`;
      h[renamed] = h[k];
      delete h[k];
      delete ix.weight_map[k];
      ix.weight_map[renamed] = SMALL_SHARD;
    });
    putJson(d, "model.safetensors.index.json", ix);
  });
  await expectRefused(dir, "ERR_CHECKPOINT_UNSUPPORTED", /is not one the converter knows/);
});

test("a missing directory and a file given as the directory", async () => {
  await expect(convertCheckpoint({ dir: join(checkpointRoot(), "nope") })).rejects.toMatchObject({
    code: "ERR_FILE_NOT_FOUND",
  });
  await expect(convertCheckpoint({ dir: join(good, "config.json") })).rejects.toMatchObject({
    code: "ERR_CHECKPOINT_INVALID",
  });
});

test("an unknown output type", async () => {
  await expect(convertCheckpoint({ dir: good, outtype: "q4_k" as never })).rejects.toMatchObject({
    code: "ERR_INVALID_ARGUMENT",
  });
});

test("abort while tensors are being written leaves nothing behind", async () => {
  const dir = broken(() => undefined);
  const ac = new AbortController();
  const seen: string[] = [];
  const run = convertCheckpoint({
    dir,
    outfile: join(dir, "a.gguf"),
    mmprojOutfile: join(dir, "b.gguf"),
    signal: ac.signal,
    onProgress: (p) => {
      if (p.tensor) seen.push(p.tensor);
      if (p.stage === "convert-mmproj" && p.tensor) ac.abort();
    },
  });
  await expect(run).rejects.toMatchObject({ code: "ERR_ABORTED", name: "AbortError" });
  expect(seen).toContain("output.weight"); // the text file was written completely, then removed
  expect(readdirSync(dir).filter((f) => f.includes(".gguf"))).toEqual([]);
});
