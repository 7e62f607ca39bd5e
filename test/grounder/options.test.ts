/**
 * Bad options are typed errors before any work: each option of the wrong type or out of range
 * rejects with ERR_INVALID_ARGUMENT naming it (no TypeError from deep inside, no odd answer),
 * on Grounder.ground, VideoSession.ground and groundMany alike; load() input shapes too.
 */
import { Grounder, type GroundManyOptions } from "../../src/session";
import type { GroundOptions } from "../../src/types";
import { fixturePair } from "../helpers/models";
import { makeClip } from "../helpers/clips";

const FAST: GroundOptions = { totalTokens: 256, minTokens: 4, maxNewTokens: 12 };
const QUERY = "a red box moves to the right";

let grounder: Grounder;
let clip: string;

beforeAll(async () => {
  clip = makeClip({ seconds: 6 });
  grounder = await Grounder.load({ ...fixturePair("tiny-qwen3vl"), contextSize: 2048, threads: 2 });
});
afterAll(() => grounder?.dispose());

const BAD: Array<[string, Record<string, unknown>]> = [
  ["maxNewTokens", { maxNewTokens: "12" }],
  ["maxNewTokens", { maxNewTokens: Number.POSITIVE_INFINITY }],
  ["maxNewTokens", { maxNewTokens: 2.5 }],
  ["maxNewTokens", { maxNewTokens: 0 }],
  ["temperature", { temperature: Number.NaN }],
  ["temperature", { temperature: -1 }],
  ["temperature", { temperature: Number.POSITIVE_INFINITY }],
  ["topK", { topK: -3 }],
  ["topP", { topP: Number.NaN }],
  ["topP", { topP: 2 }],
  ["seed", { seed: Number.NaN }],
  ["seed", { seed: -1 }],
  ["seed", { seed: 1.5 }],
  ["signal", { signal: { aborted: false } }],
  ["onToken", { onToken: 5 }],
  ["onProgress", { onProgress: "yes" }],
];

describe.each(BAD)("%s = %p", (name, bad) => {
  test("Grounder.ground, session.ground and groundMany reject it with ERR_INVALID_ARGUMENT", async () => {
    const expected = { code: "ERR_INVALID_ARGUMENT", details: { option: name } };
    await expect(grounder.ground(clip, QUERY, { ...FAST, ...bad } as GroundOptions)).rejects.toMatchObject(expected);
    const session = await grounder.openVideo(clip, FAST);
    try {
      await expect(session.ground(QUERY, { ...FAST, ...bad } as GroundOptions)).rejects.toMatchObject(expected);
      await expect(session.groundMany([QUERY], { ...FAST, ...bad } as GroundManyOptions)).rejects.toMatchObject(
        expected,
      );
    } finally {
      await session.close();
    }
  });
});

test("frame sampling options are checked: minFrames above maxFrames, a numeric timestampFormat", async () => {
  await expect(grounder.ground(clip, QUERY, { ...FAST, minFrames: 10, maxFrames: 2 })).rejects.toMatchObject({
    code: "ERR_INVALID_ARGUMENT",
  });
  const format = 3 as unknown as string;
  await expect(grounder.ground(clip, QUERY, { ...FAST, timestampFormat: format })).rejects.toMatchObject({
    code: "ERR_INVALID_ARGUMENT",
  });
});

test("good options still ground (the checks reject only what is wrong)", async () => {
  const r = await grounder.ground(clip, QUERY, {
    ...FAST,
    temperature: 0,
    topK: 40,
    topP: 0.95,
    seed: 7,
    onToken: () => {},
    onProgress: () => {},
  });
  expect(r.frames.count).toBe(12);
});

test("load() input of the wrong shape is ERR_INVALID_ARGUMENT, not a TypeError", async () => {
  const load = Grounder.load as (input: unknown) => Promise<Grounder>;
  await expect(load(undefined)).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
  await expect(load({ model: 42, mmproj: 7 })).rejects.toMatchObject({
    code: "ERR_INVALID_ARGUMENT",
    details: { option: "model" },
  });
  await expect(load({ ...fixturePair("tiny-qwen3vl"), ffmpegPath: 1 })).rejects.toMatchObject({
    code: "ERR_INVALID_ARGUMENT",
  });
});
