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

bool BackendIs(ggml_backend_dev_t dev, const std::string& backend) {
  if (backend.empty()) return true;
  const char* name = ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev));
  if (!name || strlen(name) != backend.size()) return false;
  for (size_t i = 0; i < backend.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(name[i])) != std::tolower(static_cast<unsigned char>(backend[i]))) return false;
  }
  return true;
}

// The GPUs to offload to, by llama.cpp's own default rule (every discrete GPU, else the
// integrated GPUs of one backend), optionally limited to one backend. Chosen here and passed
// explicitly, so that what runs where is known rather than guessed.
std::vector<ggml_backend_dev_t> PickGpuDevices(const std::string& backend) {
  std::vector<ggml_backend_dev_t> gpus, igpus;
  for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    if (!BackendIs(dev, backend)) continue;
    const char* reg = ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev));
    if (reg && !strcmp(reg, "RPC")) continue;
    switch (ggml_backend_dev_type(dev)) {
      case GGML_BACKEND_DEVICE_TYPE_GPU:
        gpus.push_back(dev);
        break;
      case GGML_BACKEND_DEVICE_TYPE_IGPU:
        if (igpus.empty() || ggml_backend_dev_backend_reg(dev) == ggml_backend_dev_backend_reg(igpus.back())) igpus.push_back(dev);
        break;
      default:
        break;
    }
  }
  return gpus.empty() ? igpus : gpus;
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

bool Engine::Load(const LoadOptions& opts, const std::function<bool(float)>& on_progress, NativeError* err) {
  options = opts;
  TakeRecentLog();

  std::vector<ggml_backend_dev_t> gpus = PickGpuDevices(opts.gpu_backend);
  layer_devices = opts.gpu_layers != 0 ? gpus : std::vector<ggml_backend_dev_t>{};
  projector_device = opts.mmproj_gpu && !gpus.empty() ? gpus.front() : nullptr;
  std::vector<ggml_backend_dev_t> dev_list = layer_devices;
  dev_list.push_back(nullptr);

  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = opts.gpu_layers;
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
  offloaded_layers = layer_devices.empty() ? 0 : (opts.gpu_layers < 0 ? total_layers : std::min(opts.gpu_layers, total_layers));

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(opts.context_size);
  cp.n_batch = static_cast<uint32_t>(opts.batch_size);
  cp.n_ubatch = static_cast<uint32_t>(opts.batch_size);
  cp.n_seq_max = static_cast<uint32_t>(std::max(1, opts.parallel));
  cp.kv_unified = true;  // sequences forked from one prefix share its cells
  int threads = opts.threads > 0 ? opts.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  cp.flash_attn_type = static_cast<llama_flash_attn_type>(opts.flash_attention);
  cp.abort_callback = AbortRequested;
  cp.abort_callback_data = this;
  cp.no_perf = true;
  ctx = llama_init_from_model(model, cp);
  if (!ctx) {
    *err = {"ERR_NATIVE", WithLog("llama.cpp could not create a context of " + std::to_string(opts.context_size) + " tokens")};
    return false;
  }

  if (!on_progress(0.85f)) {
    *err = {"ERR_ABORTED", "Model loading was aborted"};
    return false;
  }

  mtmd_context_params mcp = mtmd_context_params_default();
  mcp.use_gpu = projector_device != nullptr;
  mcp.device = projector_device;
  mcp.n_threads = threads;
  mcp.print_timings = false;
  mcp.warmup = opts.warmup;
  mcp.flash_attn_type = cp.flash_attn_type;
  mcp.image_min_tokens = opts.image_min_tokens;
  mcp.image_max_tokens = opts.image_max_tokens;
  mtmd = mtmd_init_from_file(opts.mmproj_path.c_str(), model, mcp);
  if (!mtmd) {
    std::string log = TakeRecentLog();
    if (log.find("mismatch") != std::string::npos || log.find("n_embd") != std::string::npos) {
      *err = {"ERR_MMPROJ_MISMATCH", "The mmproj does not fit the text model (llama.cpp said: " + log + ")"};
    } else {
      *err = {"ERR_MODEL_INVALID", "llama.cpp could not load the mmproj " + opts.mmproj_path + (log.empty() ? "" : " (llama.cpp said: " + log + ")")};
    }
    return false;
  }
  if (!mtmd_support_vision(mtmd)) {
    *err = {"ERR_NO_VISION", "The mmproj " + opts.mmproj_path + " has no vision encoder"};
    return false;
  }
  on_progress(1.0f);
  return true;
}

bool Engine::Aborted(llama_pos start_pos, int32_t start_cells, NativeError* err, const char* stage) {
  // Leave the context exactly as it was before the call.
  llama_memory_seq_rm(llama_get_memory(ctx), 0, start_pos, -1);
  n_past = start_pos;
  n_cells = start_cells;
  has_logits = false;
  *err = {"ERR_ABORTED", std::string("Aborted during ") + stage};
  return false;
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

llama_sampler* Engine::MakeSampler(const SamplingOptions& opts) const {
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

bool Engine::Evaluate(std::vector<InputChunk>& input, int reserve, const std::function<void(size_t)>& on_chunk, EvalReport* report, NativeError* err) {
  const llama_pos start_pos = n_past;
  const int32_t start_cells = n_cells;
  TakeRecentLog();

  double t0 = NowMs();
  mtmd::input_chunks_ptr chunks(mtmd_input_chunks_init());
  if (!Tokenize(input, chunks.get(), err)) return false;
  int32_t rc = 0;
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

  const int n_batch = static_cast<int>(llama_n_batch(ctx));
  for (size_t i = 0; i < n_chunks; i++) {
    if (cancel.load()) return Aborted(start_pos, start_cells, err, "prefill");
    const mtmd_input_chunk* chunk = mtmd_input_chunks_get(chunks.get(), i);
    const bool last = i + 1 == n_chunks;
    ChunkReport cr;
    cr.is_text = mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_TEXT;
    cr.n_tokens = mtmd_input_chunk_get_n_tokens(chunk);
    cr.n_pos = mtmd_input_chunk_get_n_pos(chunk);
    llama_pos new_n_past = n_past;
    if (cr.is_text) {
      size_t n = 0;
      const llama_token* toks = mtmd_input_chunk_get_tokens_text(chunk, &n);
      cr.tokens.assign(toks, toks + n);
      double t = NowMs();
      rc = mtmd_helper_eval_chunk_single(mtmd, ctx, chunk, n_past, 0, n_batch, last, &new_n_past);
      report->prefill_ms += NowMs() - t;
      report->text_tokens += n;
    } else if (mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_IMAGE) {
      double t = NowMs();
      rc = mtmd_encode_chunk(mtmd, chunk);
      report->encode_ms += NowMs() - t;
      if (rc == 0) {
        if (cancel.load()) return Aborted(start_pos, start_cells, err, "encode");
        float* embd = mtmd_get_output_embd(mtmd);
        t = NowMs();
        rc = mtmd_helper_decode_image_chunk(mtmd, ctx, chunk, embd, n_past, 0, n_batch, &new_n_past, nullptr, nullptr);
        report->prefill_ms += NowMs() - t;
      }
      report->image_tokens += cr.n_tokens;
      report->images += 1;
    } else {
      *err = {"ERR_NATIVE", "unexpected audio chunk"};
      return false;
    }
    if (rc != 0) {
      if (cancel.load()) return Aborted(start_pos, start_cells, err, cr.is_text ? "prefill" : "encode");
      std::string what = WithLog(std::string("llama.cpp failed to evaluate a ") + (cr.is_text ? "text" : "frame") + " chunk (code " + std::to_string(rc) + ")");
      llama_memory_seq_rm(llama_get_memory(ctx), 0, start_pos, -1);
      n_past = start_pos;
      n_cells = start_cells;
      has_logits = false;
      *err = {"ERR_NATIVE", what};
      return false;
    }
    n_past = new_n_past;
    n_cells += static_cast<int32_t>(cr.n_tokens);
    has_logits = last && cr.is_text;
    report->chunks.push_back(std::move(cr));
    on_chunk(i);
  }
  return true;
}

bool Engine::Generate(const SamplingOptions& opts, const std::function<void(llama_token, const std::string&)>& on_token, GenerateReport* report,
                      NativeError* err) {
  if (!has_logits) {
    *err = {"ERR_INVALID_ARGUMENT", "Nothing to generate from: evaluate a prompt that ends with text first"};
    return false;
  }
  const llama_pos start_pos = n_past;
  const int32_t start_cells = n_cells;

  std::unique_ptr<llama_sampler, SamplerDeleter> smpl(MakeSampler(opts));

  llama_batch batch = llama_batch_init(1, 0, 1);
  const uint32_t n_ctx = llama_n_ctx(ctx);
  double t0 = NowMs();
  report->stop_reason = "maxTokens";
  for (int i = 0; i < opts.max_tokens; i++) {
    if (cancel.load()) {
      llama_batch_free(batch);
      return Aborted(start_pos, start_cells, err, "generation");
    }
    if (opts.report_margins) report->margins.push_back(TopMargin(llama_get_logits_ith(ctx, -1), llama_vocab_n_tokens(vocab)));
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
    bool stop = false;
    for (const auto& s : opts.stop) {
      if (!s.empty() && report->bytes.size() >= s.size() && report->bytes.compare(report->bytes.size() - s.size(), s.size(), s) == 0) stop = true;
    }
    if (stop) {
      report->stop_reason = "stop";
      break;
    }
    if (i + 1 == opts.max_tokens) break;  // the last token need not be decoded
    if (static_cast<uint32_t>(n_cells) + 1 > n_ctx) {
      report->stop_reason = "context";
      break;
    }
    batch.n_tokens = 1;
    batch.token[0] = id;
    batch.pos[0] = n_past;
    batch.n_seq_id[0] = 1;
    batch.seq_id[0][0] = 0;
    batch.logits[0] = 1;
    int rc = llama_decode(ctx, batch);
    if (rc != 0) {
      llama_batch_free(batch);
      if (cancel.load()) return Aborted(start_pos, start_cells, err, "generation");
      *err = {"ERR_NATIVE", WithLog("llama_decode failed during generation (code " + std::to_string(rc) + ")")};
      return false;
    }
    n_past += 1;
    n_cells += 1;
  }
  llama_batch_free(batch);
  has_logits = false;  // the last sampled token was not decoded
  report->generate_ms = NowMs() - t0;
  return true;
}

void Engine::DropSequences(int from, int to) {
  for (int s = from; s < to; s++) llama_memory_seq_rm(llama_get_memory(ctx), s, -1, -1);
}

bool Engine::GenerateMany(std::vector<std::vector<InputChunk>>& suffixes, const SamplingOptions& opts,
                          const std::function<void(size_t, llama_token, const std::string&)>& on_token, std::vector<GenerateReport>* reports,
                          NativeError* err) {
  const int n = static_cast<int>(suffixes.size());
  const int n_seq_max = static_cast<int>(llama_n_seq_max(ctx));
  if (n < 1 || n > n_seq_max) {
    *err = {"ERR_INVALID_ARGUMENT", "generateMany takes 1.." + std::to_string(n_seq_max) + " suffixes (load with a larger `parallel`)"};
    return false;
  }
  const llama_pos start_pos = n_past;
  const int32_t start_cells = n_cells;
  TakeRecentLog();

  // Tokenize every suffix first: the context must hold the prefix once plus each
  // sequence's own suffix and answer.
  std::vector<mtmd::input_chunks_ptr> tokenized;
  size_t needed = static_cast<size_t>(start_cells);
  for (auto& suffix : suffixes) {
    tokenized.emplace_back(mtmd_input_chunks_init());
    if (!Tokenize(suffix, tokenized.back().get(), err)) return false;
    needed += mtmd_helper_get_n_tokens(tokenized.back().get()) + static_cast<size_t>(opts.max_tokens);
  }
  if (needed > llama_n_ctx(ctx)) {
    *err = {"ERR_CONTEXT_OVERFLOW", "context overflow"};
    err->needed = static_cast<double>(needed);
    err->available = llama_n_ctx(ctx);
    return false;
  }

  auto restore = [&]() {
    DropSequences(1, n);
    llama_memory_seq_rm(llama_get_memory(ctx), 0, start_pos, -1);
    n_past = start_pos;
    n_cells = start_cells;
    has_logits = false;
  };
  for (int s = 1; s < n; s++) llama_memory_seq_cp(llama_get_memory(ctx), 0, s, -1, -1);

  reports->assign(n, GenerateReport{});
  std::vector<std::unique_ptr<llama_sampler, SamplerDeleter>> samplers;
  std::vector<llama_pos> pos(n, start_pos);
  std::vector<llama_token> last(n, -1);
  std::vector<bool> active(n, true);
  const int n_batch = static_cast<int>(llama_n_batch(ctx));
  double t0 = NowMs();

  // Sample one token for sequence s from the logits at batch index `idx`; returns whether
  // the sequence goes on.
  auto take = [&](int s, int idx) -> bool {
    GenerateReport& r = (*reports)[s];
    llama_token id = llama_sampler_sample(samplers[s].get(), ctx, idx);
    llama_sampler_accept(samplers[s].get(), id);
    if (r.tokens.empty()) r.first_token_ms = NowMs() - t0;
    if (llama_vocab_is_eog(vocab, id)) {
      r.stop_reason = "eog";
      return false;
    }
    std::string piece = Piece(id, true);
    r.tokens.push_back(id);
    r.bytes += piece;
    on_token(static_cast<size_t>(s), id, piece);
    for (const auto& stop : opts.stop) {
      if (!stop.empty() && r.bytes.size() >= stop.size() && r.bytes.compare(r.bytes.size() - stop.size(), stop.size(), stop) == 0) {
        r.stop_reason = "stop";
        return false;
      }
    }
    if (static_cast<int>(r.tokens.size()) >= opts.max_tokens) {
      r.stop_reason = "maxTokens";
      return false;
    }
    last[s] = id;
    return true;
  };

  for (int s = 0; s < n; s++) {
    samplers.emplace_back(MakeSampler(opts));
    const size_t n_chunks = mtmd_input_chunks_size(tokenized[s].get());
    for (size_t i = 0; i < n_chunks; i++) {
      if (cancel.load()) {
        restore();
        *err = {"ERR_ABORTED", "Aborted during prefill"};
        return false;
      }
      const mtmd_input_chunk* chunk = mtmd_input_chunks_get(tokenized[s].get(), i);
      llama_pos next = pos[s];
      int32_t rc = mtmd_helper_eval_chunk_single(mtmd, ctx, chunk, pos[s], s, n_batch, i + 1 == n_chunks, &next);
      if (rc != 0) {
        bool aborted = cancel.load();
        restore();
        *err = aborted ? NativeError{"ERR_ABORTED", "Aborted during prefill"}
                       : NativeError{"ERR_NATIVE", WithLog("llama.cpp failed to evaluate a suffix (code " + std::to_string(rc) + ")")};
        return false;
      }
      pos[s] = next;
    }
    (*reports)[s].stop_reason = "maxTokens";
    active[s] = take(s, -1);
  }

  llama_batch batch = llama_batch_init(n, 0, 1);
  std::vector<int> seq_of(n);
  while (true) {
    if (cancel.load()) {
      llama_batch_free(batch);
      restore();
      *err = {"ERR_ABORTED", "Aborted during generation"};
      return false;
    }
    batch.n_tokens = 0;
    for (int s = 0; s < n; s++) {
      if (!active[s]) continue;
      int k = batch.n_tokens++;
      batch.token[k] = last[s];
      batch.pos[k] = pos[s]++;
      batch.n_seq_id[k] = 1;
      batch.seq_id[k][0] = s;
      batch.logits[k] = 1;
      seq_of[k] = s;
    }
    if (batch.n_tokens == 0) break;
    int rc = llama_decode(ctx, batch);
    if (rc != 0) {
      bool aborted = cancel.load();
      llama_batch_free(batch);
      restore();
      *err = aborted ? NativeError{"ERR_ABORTED", "Aborted during generation"}
                     : NativeError{"ERR_NATIVE", WithLog("llama_decode failed during generation (code " + std::to_string(rc) + ")")};
      return false;
    }
    const int n_tokens = batch.n_tokens;
    for (int k = 0; k < n_tokens; k++) active[seq_of[k]] = take(seq_of[k], k);
  }
  llama_batch_free(batch);
  double total = NowMs() - t0;
  for (auto& r : *reports) r.generate_ms = total;
  restore();
  return true;
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
    *err = {"ERR_STATE_INVALID", WithLog("the saved state " + path + " does not match (read " + std::to_string(read) + " bytes, last position " +
                                         std::to_string(max_pos) + ", expected " + std::to_string(pos - 1) + ")")};
    return false;
  }
  n_past = pos;
  n_cells = cells;
  has_logits = false;
  return true;
}

void Engine::Rewind(llama_pos pos, int32_t cells) {
  llama_memory_seq_rm(llama_get_memory(ctx), 0, pos, -1);
  n_past = pos;
  n_cells = cells;
  has_logits = false;
}

void Engine::Reset() {
  llama_memory_clear(llama_get_memory(ctx), true);
  n_past = 0;
  n_cells = 0;
  has_logits = false;
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
