/**
 * A video made ready for questions: probed, planned, decoded, vision-encoded and prefilled
 * up to the query text once. Each query evaluates only the instruction and the answer on top
 * of that prefix, then rewinds the KV cache to it. With a PrefixCache the prefix also
 * survives the process.
 */
import { ContextOverflowError, TimelensError, throwIfAborted } from "../errors";
import { parseGroundingAnswer } from "../parse";
import type { ModelProfile } from "../prompt/profiles";
import { renderPrompt, type PromptSegment, type RenderedPrompt } from "../prompt/render";
import type { GenerateResult, ModelOps, VisionModel } from "../runtime/model";
import type { NativeChunk, NativeState } from "../native";
import type { FramePlan } from "../video/types";
import type { ProbedVideoDetails } from "../video/probe";
import { readFrames } from "../video/decode";
import { prefixCacheKey, type KvVideoInputs } from "../cache/inputs";
import type { PrefixCache } from "../cache/prefix-cache";
import type { Frame } from "../video/types";
import type { GroundingResult, QueryOptions } from "../types";
import { ProgressClock } from "./progress";
import { checkQueryOptions } from "./query-options";

/** Rough text overhead (template, labels, instruction) used only for the early size check. */
const TEXT_TOKENS_ESTIMATE = 160;

interface Prefix {
  state: NativeState;
  segments: PromptSegment[];
  imageTokens: number;
  timings: PrefixTimings;
}

interface PrefixTimings {
  probeMs: number;
  decodeMs: number;
  decodeWaitMs: number;
  encodeMs: number;
  prefillMs: number;
}

const noPrefixWork = (probeMs: number): PrefixTimings => ({
  probeMs,
  decodeMs: 0,
  decodeWaitMs: 0,
  encodeMs: 0,
  prefillMs: 0,
});

type PrefixSource = "built" | "live" | "disk";

/** Splits rendered segments at the instruction: what comes before it does not depend on the query. */
export function splitAtInstruction(prompt: RenderedPrompt): { prefix: PromptSegment[]; suffix: PromptSegment[] } {
  const at = prompt.segments.findIndex((s) => s.kind === "text" && !s.special && s.text === prompt.instruction);
  if (at < 0) throw new TimelensError("ERR_MODEL_INVALID", "The rendered prompt has no instruction segment");
  return { prefix: prompt.segments.slice(0, at), suffix: prompt.segments.slice(at) };
}

function suffixChunks(suffix: PromptSegment[]): NativeChunk[] {
  return suffix.map((s) => {
    if (s.kind !== "text")
      throw new TimelensError(
        "ERR_MODEL_INVALID",
        "The chat template places the video after the query; TimeLens prompts put it first",
      );
    return { text: s.text, special: s.special };
  });
}

/** The answer's generation options; unset fields take src/defaults.ts's (greedy, as the reference evaluates). */
function generationOf(options: QueryOptions | GroundManyOptions, maxNewTokens: number) {
  return {
    maxTokens: maxNewTokens,
    temperature: options.temperature,
    topK: options.topK,
    topP: options.topP,
    seed: options.seed,
  };
}

export interface SessionCache {
  cache: PrefixCache;
  /** Every key input the model and the video fix (src/cache/inputs.ts); the session adds profile and layout. */
  identity: () => Promise<KvVideoInputs>;
}

export interface SessionInit {
  model: VisionModel;
  profile: ModelProfile;
  path: string;
  /** The probe's result; its stream layout goes to readFrames, so decoding probes nothing again. */
  video: ProbedVideoDetails;
  plan: FramePlan;
  probeMs: number;
  ffmpegPath?: string;
  ffprobePath?: string;
  cache?: SessionCache;
  /** Fires when the owner (the Grounder) is disposed: running queries stop with ERR_DISPOSED. */
  lifetime?: AbortSignal;
  /** Called once the session is closed and no query runs any more (to remove a temp file, say). */
  onClose?: () => Promise<void> | void;
}

export interface GroundManyOptions extends Omit<QueryOptions, "onToken"> {
  /** Answer text as it is generated, with the index of the query it belongs to. */
  onToken?: (index: number, text: string, token: number) => void;
}

/** Two frames for one native call. */
type PairFrames = Array<Pick<Frame, "width" | "height" | "data">>;

export class VideoSession {
  readonly video: ProbedVideoDetails;
  readonly plan: FramePlan;
  readonly profile: ModelProfile;
  private readonly model: VisionModel;
  private readonly init: SessionInit;
  private prefix: Prefix | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  /** Fires on close(): stops this session's running and queued queries. */
  private readonly stop = new AbortController();
  /** Queries started and not yet settled; close() waits for them before onClose. */
  private readonly running = new Set<Promise<unknown>>();

  constructor(init: SessionInit) {
    this.init = init;
    this.model = init.model;
    this.video = init.video;
    this.plan = init.plan;
    this.profile = init.profile;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private render(query: string): RenderedPrompt {
    const template = this.model.info.chatTemplate;
    if (!template)
      throw new TimelensError(
        "ERR_MODEL_INVALID",
        "The model has no chat template (tokenizer.chat_template); it cannot be prompted",
      );
    return renderPrompt({
      chatTemplate: template,
      profile: this.profile,
      pairs: this.plan.pairs,
      query,
      tokensPerPair: this.plan.tokensPerPair,
    });
  }

  /** Fails fast, before any decoding, when the video cannot fit the context. */
  checkFits(maxNewTokens: number, queries = 1): void {
    const videoTokens = this.plan.pairs.length * (this.plan.tokensPerPair + 2);
    const needed = videoTokens + queries * (TEXT_TOKENS_ESTIMATE + maxNewTokens);
    const available = this.model.info.contextSize;
    if (needed > available) {
      throw new ContextOverflowError(
        needed,
        available,
        `The video needs about ${this.plan.pairs.length * this.plan.tokensPerPair} tokens for ` +
          `${this.plan.pairs.length} frame pairs. Lower totalTokens, fps or maxFrames, or load the model with ` +
          `a larger contextSize.`,
      );
    }
  }

  private checkQuery(query: unknown): string {
    if (this.closed) throw new TimelensError("ERR_DISPOSED", "This video session was closed");
    if (typeof query !== "string" || query.trim() === "")
      throw new TimelensError("ERR_INVALID_ARGUMENT", "The query must be a non-empty string");
    return query.trim();
  }

  /**
   * Decodes, encodes and prefills the shared prefix into the model's KV cache. Pair k+1 is
   * decoded and resized (ffmpeg, resize worker) while pair k is encoded and prefilled on the
   * native thread: at most two pairs of frames are held at a time.
   */
  private async buildPrefix(
    ops: ModelOps,
    segments: PromptSegment[],
    clock: ProgressClock,
    signal?: AbortSignal,
  ): Promise<Prefix> {
    ops.reset();
    const plan = this.plan;
    const timings = noPrefixWork(this.init.probeMs);
    // Stops ffmpeg when the build fails for another reason than the signal (a native error).
    const decodeStop = new AbortController();
    const decodeSignal = signal ? AbortSignal.any([signal, decodeStop.signal]) : decodeStop.signal;
    const frames = readFrames(this.init.path, plan, {
      signal: decodeSignal,
      ffmpegPath: this.init.ffmpegPath,
      ffprobePath: this.init.ffprobePath,
      stream: this.init.video,
    })[Symbol.asyncIterator]();
    let decoded = 0;
    let encodedPairs = 0;
    let imageTokens = 0;
    let pending: NativeChunk[] = [];
    const readPair = async (): Promise<PairFrames> => {
      const t = performance.now();
      const pair: PairFrames = [];
      for (let k = 0; k < 2; k++) {
        const next = await frames.next();
        if (next.done)
          throw new TimelensError(
            "ERR_VIDEO_UNREADABLE",
            `The decoder stopped after ${decoded} of ${plan.indices.length} planned frames`,
            {
              decoded,
              planned: plan.indices.length,
            },
          );
        decoded++;
        pair.push({ width: next.value.width, height: next.value.height, data: next.value.data });
      }
      timings.decodeMs += performance.now() - t;
      clock.emit("decode", decoded, plan.indices.length);
      return pair;
    };
    let pairsLeft = segments.filter((s) => s.kind !== "text").length;
    let upcoming: Promise<PairFrames> | null = null;
    const prefetch = () => {
      upcoming = pairsLeft-- > 0 ? readPair() : null;
      upcoming?.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
    };
    const flush = async () => {
      if (pending.length === 0) return;
      const r = await ops.evaluate(pending, { signal });
      timings.encodeMs += r.timings.encodeMs;
      timings.prefillMs += r.timings.prefillMs;
      imageTokens += r.timings.imageTokens;
      pending = [];
    };
    let finished = false;
    try {
      prefetch();
      for (const seg of segments) {
        if (seg.kind === "text") {
          pending.push({ text: seg.text, special: seg.special });
          continue;
        }
        const t = performance.now();
        const pairFrames = await (upcoming as Promise<PairFrames> | null);
        timings.decodeWaitMs += performance.now() - t;
        if (!pairFrames)
          throw new TimelensError("ERR_MODEL_INVALID", "The rendered prompt has more frame pairs than the plan");
        prefetch(); // decode the next pair while this one is encoded
        pending.push({ frames: pairFrames, mergeable: true });
        await flush(); // one pair per native call keeps frame memory bounded
        encodedPairs++;
        clock.emit("encode", encodedPairs, plan.pairs.length);
      }
      await flush();
      finished = true;
    } finally {
      if (!finished) decodeStop.abort();
      await (upcoming as Promise<PairFrames> | null)?.catch(() => {});
      await frames.return?.();
    }
    throwIfAborted(signal, "prefill");
    return { state: ops.state(), segments, imageTokens, timings };
  }

  private async cacheKey(segments: PromptSegment[]): Promise<string | null> {
    if (!this.init.cache) return null;
    const p = this.plan;
    const layout = { indices: p.indices, width: p.width, height: p.height, segments };
    return prefixCacheKey(await this.init.cache.identity(), this.profile.id, layout);
  }

  /** Puts this video's prefix into the KV cache: still there, from disk, or built now. */
  private async ensurePrefix(
    ops: ModelOps,
    segments: PromptSegment[],
    clock: ProgressClock,
    signal?: AbortSignal,
  ): Promise<PrefixSource> {
    if (
      this.prefix &&
      this.model.kvHolder === this &&
      JSON.stringify(this.prefix.segments) === JSON.stringify(segments)
    ) {
      ops.rewind(this.prefix.state);
      return "live";
    }
    this.model.kvHolder = undefined;
    this.prefix = null;
    const key = await this.cacheKey(segments);
    const cache = this.init.cache?.cache;
    if (key && cache) {
      const hit = await cache.lookup(key);
      if (hit) {
        try {
          const state = { nPast: hit.meta.nPast, nCells: hit.meta.nCells };
          await ops.loadState(hit.statePath, state);
          this.prefix = {
            state,
            segments,
            imageTokens: hit.meta.imageTokens,
            timings: noPrefixWork(this.init.probeMs),
          };
          this.model.kvHolder = this;
          return "disk";
        } catch (e) {
          if ((e as TimelensError).code === "ERR_ABORTED") throw e;
          await cache.remove(key); // not loadable by this build: recompute below
        }
      }
    }
    this.prefix = await this.buildPrefix(ops, segments, clock, signal);
    this.model.kvHolder = this;
    if (key && cache) {
      const t = this.prefix.timings;
      const { nPast, nCells } = this.prefix.state;
      await cache.store(
        key,
        { nPast, nCells, imageTokens: this.prefix.imageTokens, savedMs: t.decodeMs + t.encodeMs + t.prefillMs },
        (tmp) => ops.saveState(tmp).then(() => undefined),
      );
    }
    return "built";
  }

  /** Runs `fn` with this video's prefix in the KV cache, and rewinds to it afterwards. */
  private withPrefix<T>(
    segments: PromptSegment[],
    clock: ProgressClock,
    signal: AbortSignal | undefined,
    fn: (ops: ModelOps, source: PrefixSource) => Promise<T>,
  ): Promise<T> {
    return this.model.exclusive(async (ops) => {
      const source = await this.ensurePrefix(ops, segments, clock, signal);
      try {
        return await fn(ops, source);
      } finally {
        // Back to the prefix, so the next query (or an abort) finds the video ready.
        if (this.prefix && this.model.kvHolder === this) {
          try {
            ops.rewind(this.prefix.state);
          } catch {
            this.prefix = null;
            this.model.kvHolder = undefined;
          }
        }
      }
    }, signal);
  }

  private result(
    query: string,
    gen: GenerateResult,
    source: PrefixSource,
    promptTokens: number,
    extraPrefillMs: number,
    clock: ProgressClock,
  ): GroundingResult {
    const answer = parseGroundingAnswer(gen.text, this.video.duration);
    const built = source === "built";
    const t = this.prefix!.timings;
    return {
      start: answer.start,
      end: answer.end,
      spans: answer.spans,
      parsed: answer.parsed,
      text: gen.text,
      query,
      profile: this.profile.id,
      stopReason: gen.stopReason,
      video: {
        duration: this.video.duration,
        fps: this.video.fps,
        totalFrames: this.video.totalFrames,
        width: this.video.width,
        height: this.video.height,
      },
      frames: {
        count: this.plan.indices.length,
        width: this.plan.width,
        height: this.plan.height,
        pairs: this.plan.pairs.length,
        tokensPerPair: this.plan.tokensPerPair,
        indices: [...this.plan.indices],
        times: [...this.plan.frameTimes],
        labels: this.plan.pairs.map((p) => p.label),
      },
      timings: {
        probeMs: built ? t.probeMs : 0,
        decodeMs: built ? t.decodeMs : 0,
        decodeWaitMs: built ? t.decodeWaitMs : 0,
        encodeMs: built ? t.encodeMs : 0,
        prefillMs: (built ? t.prefillMs : 0) + extraPrefillMs,
        generateMs: gen.timings.generateMs,
        totalMs: clock.elapsedMs(),
        tokensPerSecond: gen.timings.tokensPerSecond,
        reusedPrefix: !built,
        prefixSource: source,
        devices: this.devices(),
      },
      usage: {
        promptTokens,
        imageTokens: this.prefix!.imageTokens,
        generatedTokens: gen.tokens.length,
        contextSize: this.model.info.contextSize,
      },
    };
  }

  private devices(): { encode: string; llm: string } {
    const gpu = this.model.info.gpu;
    const layers =
      gpu.offloadedLayers > 0 && gpu.layerDevices.length > 0
        ? `${gpu.layerDevices.map((d) => d.name).join("+")} (${gpu.offloadedLayers}/${gpu.totalLayers} layers)`
        : "CPU";
    return { encode: gpu.projectorDevice?.name ?? "CPU", llm: layers };
  }

  /**
   * Runs one query of this session: its signal also fires when the session is closed or the
   * Grounder disposed (the query then rejects with ERR_DISPOSED), and close() waits for it.
   */
  private track<T>(signal: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const stops = [this.stop.signal, ...(this.init.lifetime ? [this.init.lifetime] : [])];
    const combined = AbortSignal.any(signal ? [signal, ...stops] : stops);
    const p = run(combined).catch((e: unknown) => {
      const stopped = stops.some((s) => s.aborted) && !signal?.aborted;
      if (stopped && (e as TimelensError).code === "ERR_ABORTED") {
        const what = this.init.lifetime?.aborted ? "The Grounder was disposed" : "This video session was closed";
        throw new TimelensError("ERR_DISPOSED", `${what} while the query ran`, {}, { cause: e });
      }
      throw e;
    });
    const settled = p.then(
      () => {},
      () => {},
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
    return p;
  }

  /** Grounds one query on this video. Runs exclusively on the model (queued behind other calls). */
  async ground(query: string, options: QueryOptions = {}): Promise<GroundingResult> {
    checkQueryOptions(options);
    return this.groundWith(query, options, new ProgressClock(options.onProgress));
  }

  /** ground() on a clock the caller started (Grounder.ground starts it before the probe). */
  async groundWith(query: string, options: QueryOptions, clock: ProgressClock): Promise<GroundingResult> {
    query = this.checkQuery(query);
    checkQueryOptions(options);
    const maxNewTokens = options.maxNewTokens ?? this.profile.answer.maxNewTokens;
    this.checkFits(maxNewTokens);
    return this.track(options.signal, (signal) => this.runQuery(query, { ...options, signal }, maxNewTokens, clock));
  }

  private runQuery(
    query: string,
    options: QueryOptions,
    maxNewTokens: number,
    clock: ProgressClock,
  ): Promise<GroundingResult> {
    const { signal } = options;
    const { prefix, suffix } = splitAtInstruction(this.render(query));
    return this.withPrefix(prefix, clock, signal, async (ops, source) => {
      clock.emit("prefill", 0, 1);
      const ev = await ops.evaluate(suffixChunks(suffix), { signal, reserve: maxNewTokens });
      clock.emit("prefill", 1, 1);
      let generated = 0;
      const gen = await ops.generate({
        ...generationOf(options, maxNewTokens),
        signal,
        onToken: (text, token) => {
          generated++;
          clock.emit("generate", generated, maxNewTokens);
          options.onToken?.(text, token);
        },
      });
      return this.result(query, gen, source, ev.nCells, ev.timings.prefillMs, clock);
    });
  }

  /**
   * Grounds several queries at once: each gets its own sequence on top of the shared video
   * prefix (no copy of the video's KV), and their answers are decoded together in one batch
   * per step, `model.parallel` queries at a time. Results are in query order.
   */
  async groundMany(queries: readonly string[], options: GroundManyOptions = {}): Promise<GroundingResult[]> {
    if (!Array.isArray(queries) || queries.length === 0)
      throw new TimelensError("ERR_INVALID_ARGUMENT", "groundMany needs a non-empty array of queries");
    const clean = queries.map((q) => this.checkQuery(q));
    checkQueryOptions(options);
    const maxNewTokens = options.maxNewTokens ?? this.profile.answer.maxNewTokens;
    const clock = new ProgressClock(options.onProgress);
    const width = Math.max(1, this.model.info.parallel);
    this.checkFits(maxNewTokens, Math.min(width, clean.length));
    const split = clean.map((q) => splitAtInstruction(this.render(q)));
    return this.track(options.signal, (signal) =>
      this.withPrefix(split[0].prefix, clock, signal, async (ops, source) => {
        const results: GroundingResult[] = [];
        let generated = 0;
        for (let at = 0; at < clean.length; at += width) {
          const batch = split.slice(at, at + width);
          const gens = await ops.generateMany(
            batch.map((s) => suffixChunks(s.suffix)),
            {
              ...generationOf(options, maxNewTokens),
              signal,
              onToken: (i, text, token) => {
                generated++;
                options.onToken?.(at + i, text, token);
                clock.emit("generate", generated, maxNewTokens * clean.length);
              },
            },
          );
          gens.forEach((gen, i) => {
            results.push(
              this.result(
                clean[at + i],
                gen,
                at === 0 && i === 0 ? source : "live",
                this.prefix!.state.nCells,
                0,
                clock,
              ),
            );
          });
        }
        return results;
      }),
    );
  }

  /**
   * Closes the session: a running or queued query stops (it rejects with ERR_DISPOSED), and
   * once none runs any more the prefix is dropped and onClose runs (a Buffer input's temp file
   * is removed only then, so ffmpeg never loses its file mid-read). A second call waits for
   * the first.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.stop.abort();
    while (this.running.size > 0) await Promise.all([...this.running]);
    if (this.model.kvHolder === this) this.model.kvHolder = undefined;
    this.prefix = null;
    await this.init.onClose?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
