import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readGguf, readGgufSync } from "../../src/gguf/reader";
import { writeGguf, gguf } from "../../src/gguf/writer";
import type { TimelensError } from "../../src/errors";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-err-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Hand-built GGUF bytes, so each test can say exactly which field is wrong. */
class Bytes {
  private parts: Buffer[] = [];
  raw(b: Buffer | string): this {
    this.parts.push(typeof b === "string" ? Buffer.from(b, "utf8") : b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return this.raw(b);
  }
  u64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return this.raw(b);
  }
  str(s: string): this {
    return this.u64(Buffer.byteLength(s)).raw(s);
  }
  header(nTensors: number | bigint, nKv: number | bigint, version = 3): this {
    return this.raw("GGUF").u32(version).u64(nTensors).u64(nKv);
  }
  kvU32(key: string, v: number): this {
    return this.str(key).u32(4).u32(v);
  }
  tensor(name: string, dims: number[], type: number, offset: number | bigint): this {
    this.str(name).u32(dims.length);
    for (const d of dims) this.u64(d);
    return this.u32(type).u64(offset);
  }
  pad(to: number): this {
    const len = this.length;
    return len % to ? this.raw(Buffer.alloc(to - (len % to))) : this;
  }
  get length(): number {
    return this.parts.reduce((a, b) => a + b.length, 0);
  }
  write(name: string): string {
    const p = join(dir, name);
    writeFileSync(p, Buffer.concat(this.parts));
    return p;
  }
}

async function failure(path: string): Promise<TimelensError> {
  const t = Date.now();
  const e = await readGguf(path).then(
    () => undefined,
    (x: TimelensError) => x,
  );
  expect(Date.now() - t).toBeLessThan(2000); // never a hang
  expect(e).toBeDefined();
  // the sync reader fails the same way
  let se: TimelensError | undefined;
  try {
    readGgufSync(path);
  } catch (x) {
    se = x as TimelensError;
  }
  expect(se?.code).toBe(e!.code);
  return e!;
}

describe("files that are not there or not GGUF", () => {
  it("missing file -> ERR_FILE_NOT_FOUND", async () => {
    const e = await failure(join(dir, "nope.gguf"));
    expect(e.code).toBe("ERR_FILE_NOT_FOUND");
    expect(e.details.path).toBe(join(dir, "nope.gguf"));
  });

  it("a directory -> ERR_FILE_NOT_FOUND", async () => {
    mkdirSync(join(dir, "adir.gguf"));
    expect((await failure(join(dir, "adir.gguf"))).code).toBe("ERR_FILE_NOT_FOUND");
  });

  it.each([
    ["text file", Buffer.from("hello, this is not a model\n")],
    ["empty file", Buffer.alloc(0)],
    ["two bytes", Buffer.from("GG")],
    ["other magic", Buffer.from("GGML\x03\0\0\0")],
  ])("%s -> ERR_MODEL_INVALID not a GGUF file", async (_n, bytes) => {
    const p = new Bytes().raw(bytes).write(`notgguf-${_n}.bin`);
    const e = await failure(p);
    expect(e.code).toBe("ERR_MODEL_INVALID");
    expect(e.message).toMatch(/not a GGUF file/);
  });

  it.each([
    [1, /version 1 is no longer supported/],
    [4, /unsupported GGUF version 4/],
    [0x03000000, /byte-swapped/],
  ])("version %d -> ERR_MODEL_UNSUPPORTED", async (version, re) => {
    const e = await failure(new Bytes().header(0, 0, version).write(`v${version}.gguf`));
    expect(e.code).toBe("ERR_MODEL_UNSUPPORTED");
    expect(e.message).toMatch(re);
  });

  it("version 2 is read", async () => {
    const g = await readGguf(new Bytes().header(0, 1, 2).kvU32("a", 1).write("v2.gguf"));
    expect(g.version).toBe(2);
    expect(g.metadata.a).toBe(1);
  });
});

describe("truncated files", () => {
  let full: Buffer;
  beforeAll(async () => {
    const p = join(dir, "full.gguf");
    await writeGguf(p, {
      metadata: {
        "general.architecture": "x",
        tokens: gguf.arr(
          "string",
          Array.from({ length: 300 }, (_, i) => `t${i}`),
        ),
        n: gguf.u32(3),
      },
      tensors: [{ name: "w", dims: [32, 4], type: "F32", data: new Float32Array(128).fill(1) }],
    });
    full = readFileSync(p);
  });

  it.each([5, 12, 20, 30, 60, 200, 1500])("header cut at %d bytes -> ERR_MODEL_INVALID truncated", async (cut) => {
    const p = new Bytes().raw(full.subarray(0, cut)).write(`cut${cut}.gguf`);
    const e = await failure(p);
    expect(e.code).toBe("ERR_MODEL_INVALID");
    expect(e.message).toMatch(/truncated/);
  });

  it("tensor data extending past the end of the file -> truncated", async () => {
    const p = new Bytes().raw(full.subarray(0, full.length - 10)).write("cutdata.gguf");
    const e = await failure(p);
    expect(e.code).toBe("ERR_MODEL_INVALID");
    expect(e.message).toMatch(/truncated.*tensor "w"/);
  });

  it("the intact file reads", async () => {
    const g = await readGguf(new Bytes().raw(full).write("intact.gguf"));
    expect(g.tensors[0].name).toBe("w");
  });
});

describe("corrupt headers are rejected without huge allocations", () => {
  const corrupt = async (name: string, b: Bytes, re: RegExp = /corrupt/) => {
    const e = await failure(b.write(name));
    expect(e.code).toBe("ERR_MODEL_INVALID");
    expect(e.message).toMatch(re);
    expect(e.message).toMatch(/corrupt/);
    expect(e.message).not.toMatch(/truncated/);
    return e;
  };

  it("absurd tensor count", () => corrupt("ntensors.gguf", new Bytes().header(2n ** 60n, 0)));
  it("absurd metadata count", () => corrupt("nkv.gguf", new Bytes().header(0, 2n ** 40n)));
  it("absurd key length", () =>
    corrupt(
      "keylen.gguf",
      new Bytes()
        .header(0, 1)
        .u64(2n ** 62n)
        .raw("abc")
        .raw(Buffer.alloc(16)),
    ));
  it("absurd string value length", () =>
    corrupt(
      "strlen.gguf",
      new Bytes()
        .header(0, 1)
        .str("k")
        .u32(8)
        .u64(2n ** 50n)
        .raw("abc"),
    ));
  it("string length beyond the limit", () =>
    corrupt(
      "strlen2.gguf",
      new Bytes()
        .header(0, 1)
        .str("k")
        .u32(8)
        .u64(2n ** 31n)
        .raw("abc"),
    ));
  it("absurd array length", () =>
    corrupt(
      "arrlen.gguf",
      new Bytes()
        .header(0, 1)
        .str("k")
        .u32(9)
        .u32(8)
        .u64(2n ** 50n)
        .raw("abcd"),
    ));
  it("absurd numeric array length", () =>
    corrupt("arrlen2.gguf", new Bytes().header(0, 1).str("k").u32(9).u32(4).u64(1e12).raw("abcd")));
  it("unknown value type", () =>
    corrupt("vtype.gguf", new Bytes().header(0, 1).str("k").u32(13).u32(0), /unknown value type 13/));
  it("nested array", () =>
    corrupt(
      "nested.gguf",
      new Bytes().header(0, 1).str("k").u32(9).u32(9).u64(1).u32(4).u64(1).u32(1),
      /nested array/,
    ));
  it("empty key", () => corrupt("emptykey.gguf", new Bytes().header(0, 1).str("").u32(4).u32(1), /empty metadata key/));
  it("duplicate key", () =>
    corrupt("dupkey.gguf", new Bytes().header(0, 2).kvU32("a", 1).kvU32("a", 2), /duplicate metadata key "a"/));
  it("alignment not a power of two", () =>
    corrupt("align3.gguf", new Bytes().header(0, 1).kvU32("general.alignment", 3), /alignment/));
  it("alignment of the wrong type", () =>
    corrupt("align64.gguf", new Bytes().header(0, 1).str("general.alignment").u32(10).u64(32), /alignment/));
  it("more than 4 dims", () =>
    corrupt("dims.gguf", new Bytes().header(1, 0).tensor("t", [1, 1, 1, 1, 1], 0, 0), /5 dimensions/));
  it("absurd dimension", () =>
    corrupt("dim.gguf", new Bytes().header(1, 0).tensor("t", [2 ** 40, 2 ** 20], 0, 0), /absurd shape/));
  it("invalid ggml type id", () =>
    corrupt("type.gguf", new Bytes().header(1, 0).tensor("t", [4], 100000, 0), /invalid ggml type/));
  it("row not a multiple of the block size", () =>
    corrupt("block.gguf", new Bytes().header(1, 0).tensor("t", [48], 8, 0), /block size/));
  it("tensor offsets out of order", () =>
    corrupt(
      "offset.gguf",
      new Bytes().header(2, 0).tensor("a", [8], 0, 0).tensor("b", [8], 0, 64).pad(32).raw(Buffer.alloc(128)),
      /offset 64, expected 32/,
    ));
  it("duplicate tensor name", () =>
    corrupt(
      "duptensor.gguf",
      new Bytes().header(2, 0).tensor("a", [8], 0, 0).tensor("a", [8], 0, 32).pad(32).raw(Buffer.alloc(64)),
      /duplicate tensor/,
    ));
  it("tensor name of 64 bytes", () =>
    corrupt(
      "longname.gguf",
      new Bytes().header(1, 0).tensor("n".repeat(64), [8], 0, 0).pad(32).raw(Buffer.alloc(32)),
      /tensor name/,
    ));

  it.each([
    [4, /removed ggml type Q4_2/],
    [33, /removed ggml type Q4_0_8_8/],
    [200, /unknown ggml type id 200/],
  ])("tensor type %d -> ERR_MODEL_UNSUPPORTED", async (type, re) => {
    const e = await failure(
      new Bytes().header(1, 0).tensor("t", [32], type, 0).pad(32).raw(Buffer.alloc(64)).write(`t${type}.gguf`),
    );
    expect(e.code).toBe("ERR_MODEL_UNSUPPORTED");
    expect(e.message).toMatch(re);
  });

  it("a well-formed hand-built file reads, with sizes computed per type", async () => {
    const b = new Bytes()
      .header(3, 1)
      .kvU32("general.alignment", 32)
      .tensor("f16", [4, 2], 1, 0)
      .tensor("q4k", [512], 12, 32)
      .tensor("iq4xs", [256], 23, 320)
      .pad(32);
    b.raw(Buffer.alloc(32 + 288 + 160));
    const g = await readGguf(b.write("good.gguf"));
    expect(g.tensors.map((t) => [t.type.name, t.byteSize])).toEqual([
      ["F16", 16],
      ["Q4_K", 288],
      ["IQ4_XS", 136],
    ]);
  });
});
