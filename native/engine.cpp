#include "engine.h"

#include <cctype>
#include <cmath>
#include <chrono>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cstring>
#include <thread>

#include "mtmd-helper.h"

namespace timelens {

namespace {

double NowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

std::string WithLog(const std::string& message) {
  std::string log = TakeRecentLog();
  return log.empty() ? message : message + " (llama.cpp said: " + log + ")";
}

// How far the best logit is ahead of the second best: near 0, greedy decoding is decided by
// rounding, and two backends may legitimately pick different tokens.
float TopMargin(const float* logits, int32_t n) {
  if (!logits || n < 2) return 0;
  float a = -INFINITY, b = -INFINITY;
  for (int32_t i = 0; i < n; i++) {
    float v = logits[i];
    if (v > a) {
      b = a;
      a = v;
    } else if (v > b) {
      b = v;
    }
  }
  return a - b;
}

bool AbortRequested(void* data) { return static_cast<Engine*>(data)->cancel.load(); }

struct SamplerDeleter {
  void operator()(llama_sampler* s) const { llama_sampler_free(s); }
};
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

struct BatchDeleter {
  void operator()(llama_batch* b) const {
    llama_batch_free(*b);
    delete b;
  }
};
using BatchPtr = std::unique_ptr<llama_batch, BatchDeleter>;

BatchPtr MakeBatch(int n_tokens) { return BatchPtr(new llama_batch(llama_batch_init(n_tokens, 0, 1))); }

void SetSingle(llama_batch* batch, int k, llama_token token, llama_pos pos, llama_seq_id seq) {
  batch->token[k] = token;
  batch->pos[k] = pos;
  batch->n_seq_id[k] = 1;
  batch->seq_id[k][0] = seq;
  batch->logits[k] = 1;
}

bool EndsWithStop(const std::string& bytes, const std::vector<std::string>& stops) {
  for (const auto& s : stops) {
    if (!s.empty() && bytes.size() >= s.size() && bytes.compare(bytes.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

// Graph nodes between two cancellation points inside a vision encode: each point splits the
// graph compute (and synchronises a GPU), so a few per layer at most (docs/cancellation.md).
constexpr size_t kEncodeCheckEvery = 4;

}  // namespace

Engine::~Engine() { Unload(); }

void Engine::Unload() {
  if (mtmd) mtmd_free(mtmd);
  if (ctx) llama_free(ctx);
  if (model) llama_model_free(model);
  mtmd = nullptr;
  ctx = nullptr;
  model = nullptr;
  vocab = nullptr;
#if defined(__GLIBC__)
  // glibc keeps freed multi-MB buffers (weights, KV, compute) in its arenas once its dynamic
  // mmap threshold has risen; give them back so a disposed model stops counting in RSS.
  malloc_trim(0);
#endif
}

// The encoder's graph-compute hook (mtmd_context_params.cb_eval): asks to observe every
// kEncodeCheckEvery-th node, and at each observed node stops the compute when a cancel was
// requested. This is libmtmd's only hook inside an encode (docs/cancellation.md "Encode").
bool EncodeEval(ggml_tensor*, bool ask, void* data) {
  Engine* e = static_cast<Engine*>(data);
  if (ask) return e->cancel.load() || (++e->encode_nodes_ % kEncodeCheckEvery) == 0;
  if (!e->encode_step_reported_) {
    e->encode_step_reported_ = true;
    if (e->on_encode_step_) e->on_encode_step_();
  }
  return !e->cancel.load();
}

StateGuard::StateGuard(Engine& engine, int forked_sequences)
    : engine_(engine), pos_(engine.n_past), cells_(engine.n_cells), forked_(forked_sequences) {}

StateGuard::~StateGuard() {
  if (!committed_) Restore();
}

void StateGuard::Restore() {
  if (restored_ || !engine_.ctx) return;
  restored_ = true;
  engine_.DropSequences(1, forked_);
  engine_.Rewind(pos_, cells_);
}

bool StateGuard::Abort(NativeError* err, const char* stage) {
  Restore();
  *err = {"ERR_ABORTED", std::string("Aborted during ") + stage};
  err->stage = stage;
  return false;
}

bool StateGuard::Fail(NativeError* err, NativeError what) {
  Restore();
  *err = std::move(what);
  return false;
}

bool Engine::ResolveDevices(const LoadOptions& opts, NativeError* err) {
  layer_devices.clear();
  projector_device = nullptr;
  for (const auto& name : opts.layer_devices) {
    ggml_backend_dev_t dev = ggml_backend_dev_by_name(name.c_str());
    if (!dev) {
      *err = {"ERR_INVALID_ARGUMENT", "load(): no ggml device named " + name};
      return false;
    }
    layer_devices.push_back(dev);
  }
  if (!opts.projector_device.empty()) {
    projector_device = ggml_backend_dev_by_name(opts.projector_device.c_str());
    if (!projector_device) {
      *err = {"ERR_INVALID_ARGUMENT", "load(): no ggml device named " + opts.projector_device};
      return false;
    }
  }
  return true;
}

bool Engine::Load(const LoadOptions& opts, const std::function<bool(float)>& on_progress, NativeError* err) {
  options = opts;
  TakeRecentLog();
  if (!ResolveDevices(opts, err)) return false;
  std::vector<ggml_backend_dev_t> dev_list = layer_devices;
  dev_list.push_back(nullptr);

  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = layer_devices.empty() ? 0 : opts.gpu_layers;
  mp.devices = dev_list.data();  // an empty list keeps every layer on the CPU
  struct ProgressCtx {
    const std::function<bool(float)>* fn;
    Engine* self;
  } pctx{&on_progress, this};
  mp.progress_callback = [](float p, void* data) -> bool {
    auto* c = static_cast<ProgressCtx*>(data);
    if (c->self->cancel.load()) return false;
    return (*c->fn)(p * 0.8f);  // the text model is most of the load; mmproj is the rest
  };
  mp.progress_callback_user_data = &pctx;

  model = llama_model_load_from_file(opts.model_path.c_str(), mp);
  if (!model) {
    if (cancel.load())
      *err = {"ERR_ABORTED", "Model loading was aborted"};
    else
      *err = {"ERR_MODEL_INVALID", WithLog("llama.cpp could not load the model " + opts.model_path)};
    return false;
  }
  vocab = llama_model_get_vocab(model);
  total_layers = llama_model_n_layer(model) + 1;  // + the output layer, as llama.cpp counts
  offloaded_layers =
      layer_devices.empty() ? 0 : (opts.gpu_layers < 0 ? total_layers : std::min(opts.gpu_layers, total_layers));

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(opts.context_size);
  cp.n_batch = static_cast<uint32_t>(opts.batch_size);
  cp.n_ubatch = static_cast<uint32_t>(opts.batch_size);
  cp.n_seq_max = static_cast<uint32_t>(opts.parallel);
  cp.kv_unified = true;  // sequences forked from one prefix share its cells
  cp.n_threads = opts.threads;
  cp.n_threads_batch = opts.threads;
  cp.flash_attn_type = static_cast<llama_flash_attn_type>(opts.flash_attention);
  cp.type_k = kv_type;
  cp.type_v = kv_type;
  cp.abort_callback = AbortRequested;
  cp.abort_callback_data = this;
  cp.no_perf = true;
  ctx = llama_init_from_model(model, cp);
  if (!ctx) {
    *err = {"ERR_NATIVE",
            WithLog("llama.cpp could not create a context of " + std::to_string(opts.context_size) + " tokens")};
    return false;
  }

  if (!on_progress(0.85f)) {
    *err = {"ERR_ABORTED", "Model loading was aborted"};
    return false;
  }

  mtmd_context_params mcp = mtmd_context_params_default();
  mcp.use_gpu = projector_device != nullptr;
  mcp.device = projector_device;
  mcp.n_threads = opts.threads;
  mcp.print_timings = false;
  mcp.warmup = opts.warmup;
  mcp.flash_attn_type = cp.flash_attn_type;
  mcp.image_min_tokens = opts.image_min_tokens;
  mcp.image_max_tokens = opts.image_max_tokens;
  mcp.cb_eval = EncodeEval;
  mcp.cb_eval_user_data = this;
  mtmd = mtmd_init_from_file(opts.mmproj_path.c_str(), model, mcp);
  if (!mtmd) {
    std::string log = TakeRecentLog();
    if (cancel.load()) {
      *err = {"ERR_ABORTED", "Model loading was aborted"};
    } else if (log.find("mismatch") != std::string::npos || log.find("n_embd") != std::string::npos) {
      *err = {"ERR_MMPROJ_MISMATCH", "The mmproj does not fit the text model (llama.cpp said: " + log + ")"};
    } else {
      *err = {"ERR_MODEL_INVALID", "llama.cpp could not load the mmproj " + opts.mmproj_path +
                                       (log.empty() ? "" : " (llama.cpp said: " + log + ")")};
    }
    return false;
  }
  if (!mtmd_support_vision(mtmd)) {
    *err = {"ERR_NO_VISION", "The mmproj " + opts.mmproj_path + " has no vision encoder"};
    return false;
  }
  if (cancel.load()) {  // a cancel during the warm-up encode stops it early (EncodeEval)
    *err = {"ERR_ABORTED", "Model loading was aborted"};
    return false;
  }
  Reset();
  on_progress(1.0f);
  return true;
}

bool Engine::Tokenize(std::vector<InputChunk>& input, mtmd_input_chunks* out, NativeError* err) {
  std::vector<mtmd_input_text> texts(input.size());
  std::vector<mtmd_input_part> parts;
  for (size_t i = 0; i < input.size(); i++) {
    if (input[i].is_text) {
      texts[i] = {input[i].text.c_str(), input[i].text.size(), false, input[i].special};
      parts.push_back({&texts[i], nullptr});
    } else {
      for (auto& bm : input[i].frames) parts.push_back({nullptr, bm.get()});
    }
  }
  std::vector<const mtmd_input_part*> part_ptrs;
  for (auto& p : parts) part_ptrs.push_back(&p);
  int32_t rc = mtmd_tokenize_from_parts(mtmd, out, part_ptrs.data(), part_ptrs.size(), false);
  if (rc != 0) {
    *err = {"ERR_NATIVE", WithLog("libmtmd could not tokenize the input (code " + std::to_string(rc) + ")")};
    return false;
  }
  return true;
}

llama_sampler* Engine::MakeSampler(const GenerationOptions& opts) const {
  llama_sampler_chain_params sp = llama_sampler_chain_default_params();
  sp.no_perf = true;
  llama_sampler* smpl = llama_sampler_chain_init(sp);
  if (opts.temperature <= 0) {
    llama_sampler_chain_add(smpl, llama_sampler_init_greedy());
  } else {
    if (opts.top_k > 0) llama_sampler_chain_add(smpl, llama_sampler_init_top_k(opts.top_k));
    if (opts.top_p < 1) llama_sampler_chain_add(smpl, llama_sampler_init_top_p(opts.top_p, 1));
    if (opts.min_p > 0) llama_sampler_chain_add(smpl, llama_sampler_init_min_p(opts.min_p, 1));
    llama_sampler_chain_add(smpl, llama_sampler_init_temp(opts.temperature));
    llama_sampler_chain_add(smpl, llama_sampler_init_dist(opts.seed));
  }
  return smpl;
}

// One libmtmd chunk into the KV cache: text is decoded; an image is encoded, then its
// embeddings decoded. Returns false on failure; the caller restores the state.
bool Engine::EvaluateChunk(const mtmd_input_chunk* chunk, size_t index, bool last, const EvalListener& listener,
                           EvalReport* report, ChunkReport* cr, llama_pos* new_n_past) {
  const int n_batch = static_cast<int>(llama_n_batch(ctx));
  if (cr->is_text) {
    size_t n = 0;
    const llama_token* toks = mtmd_input_chunk_get_tokens_text(chunk, &n);
    cr->tokens.assign(toks, toks + n);
    listener.on_stage("prefill", index);
    double t = NowMs();
    int32_t rc = mtmd_helper_eval_chunk_single(mtmd, ctx, chunk, n_past, 0, n_batch, last, new_n_past);
    report->prefill_ms += NowMs() - t;
    report->text_tokens += n;
    return rc == 0;
  }
  listener.on_stage("encode", index);
  encode_nodes_ = 0;
  encode_step_reported_ = false;
  on_encode_step_ = [&listener, index]() { listener.on_stage("encode-step", index); };
  double t = NowMs();
  int32_t rc = mtmd_encode_chunk(mtmd, chunk);
  report->encode_ms += NowMs() - t;
  on_encode_step_ = nullptr;
  encode_step_reported_ = true;
  report->image_tokens += cr->n_tokens;
  report->images += 1;
  if (rc != 0 || cancel.load()) return false;  // a cancelled encode leaves partial embeddings
  listener.on_stage("prefill", index);
  t = NowMs();
  rc = mtmd_helper_decode_image_chunk(mtmd, ctx, chunk, mtmd_get_output_embd(mtmd), n_past, 0, n_batch, new_n_past,
                                      nullptr, nullptr);
  report->prefill_ms += NowMs() - t;
  return rc == 0;
}

bool Engine::Evaluate(std::vector<InputChunk>& input, int reserve, const EvalListener& listener, EvalReport* report,
                      NativeError* err) {
  TakeRecentLog();
  double t0 = NowMs();
  mtmd::input_chunks_ptr chunks(mtmd_input_chunks_init());
  if (!Tokenize(input, chunks.get(), err)) return false;
  report->tokenize_ms = NowMs() - t0;

  const size_t n_chunks = mtmd_input_chunks_size(chunks.get());
  const size_t needed = mtmd_helper_get_n_tokens(chunks.get());
  const uint32_t n_ctx = llama_n_ctx(ctx);
  if (static_cast<size_t>(n_cells) + needed + static_cast<size_t>(std::max(0, reserve)) > n_ctx) {
    *err = {"ERR_CONTEXT_OVERFLOW", "context overflow"};
    err->needed = static_cast<double>(n_cells + needed + std::max(0, reserve));
    err->available = n_ctx;
    return false;
  }

  StateGuard guard(*this);
  for (size_t i = 0; i < n_chunks; i++) {
    const mtmd_input_chunk* chunk = mtmd_input_chunks_get(chunks.get(), i);
    const auto type = mtmd_input_chunk_get_type(chunk);
    if (type != MTMD_INPUT_CHUNK_TYPE_TEXT && type != MTMD_INPUT_CHUNK_TYPE_IMAGE)
      return guard.Fail(err, {"ERR_NATIVE", "unexpected audio chunk"});
    const char* stage = type == MTMD_INPUT_CHUNK_TYPE_TEXT ? "prefill" : "encode";
    if (cancel.load()) return guard.Abort(err, stage);
    ChunkReport cr;
    cr.is_text = type == MTMD_INPUT_CHUNK_TYPE_TEXT;
    cr.n_tokens = mtmd_input_chunk_get_n_tokens(chunk);
    cr.n_pos = mtmd_input_chunk_get_n_pos(chunk);
    llama_pos new_n_past = n_past;
    const bool last = i + 1 == n_chunks;
    if (!EvaluateChunk(chunk, i, last, listener, report, &cr, &new_n_past)) {
      if (cancel.load()) return guard.Abort(err, stage);
      return guard.Fail(err, {"ERR_NATIVE", WithLog(std::string("llama.cpp failed to evaluate a ") +
                                                    (cr.is_text ? "text" : "frame") + " chunk")});
    }
    n_past = new_n_past;
    n_cells += static_cast<int32_t>(cr.n_tokens);
    has_logits = last && cr.is_text;
    Checkpoint();
    report->chunks.push_back(std::move(cr));
    listener.on_chunk(i);
  }
  guard.Commit();
  return true;
}

bool Engine::Generate(const GenerationOptions& opts,
                      const std::function<void(llama_token, const std::string&)>& on_token, GenerateReport* report,
                      NativeError* err) {
  if (!has_logits) {
    *err = {"ERR_INVALID_ARGUMENT", "Nothing to generate from: evaluate a prompt that ends with text first"};
    return false;
  }
  StateGuard guard(*this);
  SamplerPtr smpl(MakeSampler(opts));
  BatchPtr batch = MakeBatch(1);
  const uint32_t n_ctx = llama_n_ctx(ctx);
  double t0 = NowMs();
  report->stop_reason = "maxTokens";
  for (int i = 0; i < opts.max_tokens; i++) {
    if (cancel.load()) return guard.Abort(err, "generate");
    if (opts.report_margins)
      report->margins.push_back(TopMargin(llama_get_logits_ith(ctx, -1), llama_vocab_n_tokens(vocab)));
    llama_token id = llama_sampler_sample(smpl.get(), ctx, -1);
    llama_sampler_accept(smpl.get(), id);
    if (i == 0) report->first_token_ms = NowMs() - t0;
    if (llama_vocab_is_eog(vocab, id)) {
      report->stop_reason = "eog";
      break;
    }
    std::string piece = Piece(id, true);
    report->tokens.push_back(id);
    report->bytes += piece;
    on_token(id, piece);
    if (EndsWithStop(report->bytes, opts.stop)) {
      report->stop_reason = "stop";
      break;
    }
    if (i + 1 == opts.max_tokens) break;  // the last token need not be decoded
    if (static_cast<uint32_t>(n_cells) + 1 > n_ctx) {
      report->stop_reason = "context";
      break;
    }
    batch->n_tokens = 1;
    SetSingle(batch.get(), 0, id, n_past, 0);
    int rc = llama_decode(ctx, *batch);
    if (rc != 0) {
      if (cancel.load()) return guard.Abort(err, "generate");
      return guard.Fail(
          err, {"ERR_NATIVE", WithLog("llama_decode failed during generation (code " + std::to_string(rc) + ")")});
    }
    n_past += 1;
    n_cells += 1;
    Checkpoint();
  }
  guard.Commit();
  has_logits = false;  // the last sampled token was not decoded
  report->generate_ms = NowMs() - t0;
  return true;
}

void Engine::DropSequences(int from, int to) {
  for (int s = from; s < to; s++) llama_memory_seq_rm(llama_get_memory(ctx), s, -1, -1);
}

// One suffix's sequence in GenerateMany.
struct Engine::Sequence {
  SamplerPtr sampler;
  GenerateReport* report;
  llama_pos pos;
  int index;
  llama_token last = -1;
  bool active = true;
};

// Tokenizes every suffix first: each must hold at least one token (its last token's logits
// are what the first answer token is sampled from), and the context must hold the prefix
// once plus each sequence's own suffix and answer.
bool Engine::TokenizeSuffixes(std::vector<std::vector<InputChunk>>& suffixes, const GenerationOptions& opts,
                              std::vector<mtmd::input_chunks_ptr>* out, NativeError* err) {
  const int n = static_cast<int>(suffixes.size());
  const int n_seq_max = static_cast<int>(llama_n_seq_max(ctx));
  if (n < 1 || n > n_seq_max) {
    *err = {"ERR_INVALID_ARGUMENT",
            "generateMany takes 1.." + std::to_string(n_seq_max) + " suffixes (load with a larger `parallel`)"};
    return false;
  }
  size_t needed = static_cast<size_t>(n_cells);
  for (int s = 0; s < n; s++) {
    out->emplace_back(mtmd_input_chunks_init());
    mtmd_input_chunks* chunks = out->back().get();
    if (!Tokenize(suffixes[s], chunks, err)) return false;
    const size_t n_chunks = mtmd_input_chunks_size(chunks);
    const size_t n_tokens = mtmd_helper_get_n_tokens(chunks);
    const mtmd_input_chunk* tail = n_chunks ? mtmd_input_chunks_get(chunks, n_chunks - 1) : nullptr;
    if (n_tokens == 0 || !tail || mtmd_input_chunk_get_type(tail) != MTMD_INPUT_CHUNK_TYPE_TEXT ||
        mtmd_input_chunk_get_n_tokens(tail) == 0) {
      *err = {"ERR_INVALID_ARGUMENT", "generateMany: suffix " + std::to_string(s) +
                                          " is empty; each suffix must end with at least one text token"};
      return false;
    }
    needed += n_tokens + static_cast<size_t>(opts.max_tokens);
  }
  if (needed > llama_n_ctx(ctx)) {
    *err = {"ERR_CONTEXT_OVERFLOW", "context overflow"};
    err->needed = static_cast<double>(needed);
    err->available = llama_n_ctx(ctx);
    return false;
  }
  return true;
}

// Decodes suffix `seq` on its own sequence; the last chunk leaves logits for sampling.
bool Engine::PrefillSuffix(int seq, const mtmd_input_chunks* chunks, Sequence* sequence) {
  const int n_batch = static_cast<int>(llama_n_batch(ctx));
  const size_t n_chunks = mtmd_input_chunks_size(chunks);
  for (size_t i = 0; i < n_chunks; i++) {
    if (cancel.load()) return false;
    llama_pos next = sequence->pos;
    if (mtmd_helper_eval_chunk_single(mtmd, ctx, mtmd_input_chunks_get(chunks, i), sequence->pos, seq, n_batch,
                                      i + 1 == n_chunks, &next) != 0)
      return false;
    sequence->pos = next;
  }
  return true;
}

// Samples one token for a sequence from the logits at batch index `logits_index`; returns
// whether the sequence goes on.
bool Engine::SampleInto(Sequence* sequence, int logits_index, const GenerationOptions& opts, double t0,
                        const std::function<void(size_t, llama_token, const std::string&)>& on_token) {
  GenerateReport& r = *sequence->report;
  llama_token id = llama_sampler_sample(sequence->sampler.get(), ctx, logits_index);
  llama_sampler_accept(sequence->sampler.get(), id);
  if (r.tokens.empty()) r.first_token_ms = NowMs() - t0;
  if (llama_vocab_is_eog(vocab, id)) {
    r.stop_reason = "eog";
    return false;
  }
  std::string piece = Piece(id, true);
  r.tokens.push_back(id);
  r.bytes += piece;
  on_token(static_cast<size_t>(sequence->index), id, piece);
  if (EndsWithStop(r.bytes, opts.stop)) {
    r.stop_reason = "stop";
    return false;
  }
  if (static_cast<int>(r.tokens.size()) >= opts.max_tokens) {
    r.stop_reason = "maxTokens";
    return false;
  }
  sequence->last = id;
  return true;
}

bool Engine::GenerateMany(std::vector<std::vector<InputChunk>>& suffixes, const GenerationOptions& opts,
                          const std::function<void(size_t, llama_token, const std::string&)>& on_token,
                          std::vector<GenerateReport>* reports, NativeError* err) {
  TakeRecentLog();
  std::vector<mtmd::input_chunks_ptr> tokenized;
  if (!TokenizeSuffixes(suffixes, opts, &tokenized, err)) return false;
  const int n = static_cast<int>(suffixes.size());

  StateGuard guard(*this, n);  // always restores: the prefix state is what callers keep
  for (int s = 1; s < n; s++) llama_memory_seq_cp(llama_get_memory(ctx), 0, s, -1, -1);
  reports->assign(n, GenerateReport{});
  std::vector<Sequence> seqs;
  for (int s = 0; s < n; s++) seqs.push_back({SamplerPtr(MakeSampler(opts)), &(*reports)[s], n_past, s});
  const double t0 = NowMs();

  for (int s = 0; s < n; s++) {
    if (!PrefillSuffix(s, tokenized[s].get(), &seqs[s])) {
      if (cancel.load()) return guard.Abort(err, "prefill");
      return guard.Fail(err, {"ERR_NATIVE", WithLog("llama.cpp failed to evaluate suffix " + std::to_string(s))});
    }
    seqs[s].report->stop_reason = "maxTokens";
    seqs[s].active = SampleInto(&seqs[s], -1, opts, t0, on_token);
  }

  BatchPtr batch = MakeBatch(n);
  std::vector<int> seq_of(n);
  while (true) {
    if (cancel.load()) return guard.Abort(err, "generate");
    batch->n_tokens = 0;
    for (int s = 0; s < n; s++) {
      if (!seqs[s].active) continue;
      seq_of[batch->n_tokens] = s;
      SetSingle(batch.get(), batch->n_tokens++, seqs[s].last, seqs[s].pos++, s);
    }
    if (batch->n_tokens == 0) break;
    int rc = llama_decode(ctx, *batch);
    if (rc != 0) {
      if (cancel.load()) return guard.Abort(err, "generate");
      return guard.Fail(
          err, {"ERR_NATIVE", WithLog("llama_decode failed during generation (code " + std::to_string(rc) + ")")});
    }
    for (int k = 0; k < batch->n_tokens; k++)
      seqs[seq_of[k]].active = SampleInto(&seqs[seq_of[k]], k, opts, t0, on_token);
  }
  double total = NowMs() - t0;
  for (auto& r : *reports) r.generate_ms = total;
  return true;  // the guard restores the prefix state
}

bool Engine::SaveState(const std::string& path, size_t* bytes, NativeError* err) {
  *bytes = llama_state_seq_save_file(ctx, path.c_str(), 0, nullptr, 0);
  if (*bytes == 0) {
    *err = {"ERR_NATIVE", WithLog("could not save the context state to " + path)};
    return false;
  }
  return true;
}

bool Engine::LoadState(const std::string& path, llama_pos pos, int32_t cells, NativeError* err) {
  Reset();
  size_t n_tokens = 0;
  llama_token unused[1];
  size_t read = llama_state_seq_load_file(ctx, path.c_str(), 0, unused, 1, &n_tokens);
  // The sequence must end exactly where the saved prefix ended, or the file is not ours.
  llama_pos max_pos = llama_memory_seq_pos_max(llama_get_memory(ctx), 0);
  if (read == 0 || max_pos + 1 != pos) {
    Reset();
    *err = {"ERR_STATE_INVALID", WithLog("the saved state " + path + " does not match (read " + std::to_string(read) +
                                         " bytes, last position " + std::to_string(max_pos) + ", expected " +
                                         std::to_string(pos - 1) + ")")};
    return false;
  }
  n_past = pos;
  n_cells = cells;
  has_logits = false;
  checkpoints_.assign(1, {pos, cells});
  return true;
}

void Engine::Rewind(llama_pos pos, int32_t cells) {
  llama_memory_seq_rm(llama_get_memory(ctx), 0, pos, -1);
  n_past = pos;
  n_cells = cells;
  has_logits = false;
  while (!checkpoints_.empty() && (checkpoints_.back().first > pos || checkpoints_.back().second > cells))
    checkpoints_.pop_back();
}

bool Engine::RewindTo(llama_pos pos, int32_t cells, NativeError* err) {
  for (const auto& c : checkpoints_) {
    if (c.first == pos && c.second == cells) {
      Rewind(pos, cells);
      return true;
    }
  }
  *err = {"ERR_INVALID_ARGUMENT",
          "rewind(): nPast " + std::to_string(pos) + " / nCells " + std::to_string(cells) +
              " is not a state this context was in since its last reset (take it from state())"};
  return false;
}

void Engine::Reset() {
  llama_memory_clear(llama_get_memory(ctx), true);
  n_past = 0;
  n_cells = 0;
  has_logits = false;
  checkpoints_.assign(1, {0, 0});
}

std::vector<llama_token> Engine::Tokenize(const std::string& text, bool special) const {
  int32_t n = -llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), nullptr, 0, false, special);
  std::vector<llama_token> out(std::max(0, n));
  if (n > 0) llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), out.data(), n, false, special);
  return out;
}

std::string Engine::Piece(llama_token token, bool special) const {
  char buf[256];
  int32_t n = llama_token_to_piece(vocab, token, buf, sizeof(buf), 0, special);
  if (n >= 0) return std::string(buf, n);
  std::string big(-n, '\0');
  n = llama_token_to_piece(vocab, token, big.data(), static_cast<int32_t>(big.size()), 0, special);
  return big.substr(0, std::max(0, n));
}

}  // namespace timelens
