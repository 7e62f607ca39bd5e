// The loaded objects of one model (text model, context, projector) and the work done on
// them. Runs on worker threads; the JS wrapper (model.cpp) guarantees one call at a time.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "llama.h"
#include "mtmd.h"

namespace timelens {

// Every field is required from JS (native/model.cpp ParseLoadOptions); the defaults live in
// src/defaults.ts (docs/architecture.md "Defaults"). No field has a fallback here.
struct LoadOptions {
  std::string model_path;
  std::string mmproj_path;
  int gpu_layers;
  int threads;  // >= 1
  int context_size;
  int batch_size;       // also the micro-batch size
  int flash_attention;  // -1 auto, 0 off, 1 on
  int image_min_tokens;
  int image_max_tokens;
  bool warmup;
  int parallel;  // sequences for GenerateMany; they share the prefix cells (unified KV)
  // The GPUs chosen by src/native/loader.ts for the text layers (by ggml device name; empty:
  // the CPU), and the projector's device (empty: the CPU).
  std::vector<std::string> layer_devices;
  std::string projector_device;
};

// One piece of input: text (tokenized with or without special-token parsing) or a group
// of frames (two mergeable frames become one temporal patch).
struct InputChunk {
  bool is_text = true;
  std::string text;
  bool special = false;
  std::vector<std::unique_ptr<mtmd_bitmap, void (*)(mtmd_bitmap*)>> frames;
};

struct ChunkReport {
  bool is_text;
  std::vector<llama_token> tokens;  // text chunks
  size_t n_tokens;                  // KV cells used
  llama_pos n_pos;                  // positions advanced (M-RoPE: max(h, w) for images)
};

struct EvalReport {
  std::vector<ChunkReport> chunks;
  double tokenize_ms = 0, encode_ms = 0, prefill_ms = 0;
  size_t text_tokens = 0, image_tokens = 0, images = 0;
};

// Token generation options; every field is required (src/defaults.ts resolveGeneration).
struct GenerationOptions {
  int max_tokens;
  float temperature;  // <= 0: greedy
  int top_k;
  float top_p;
  float min_p;
  uint32_t seed;
  std::vector<std::string> stop;  // stop sequences (raw bytes)
  bool report_margins;            // record top1 - top2 logit at each step (parity debugging)
};

struct GenerateReport {
  std::vector<llama_token> tokens;
  std::string bytes;
  std::string stop_reason;     // "eog" | "maxTokens" | "stop" | "context"
  std::vector<float> margins;  // with report_margins: top1 - top2 logit before each sampled token
  double generate_ms = 0, first_token_ms = 0;
};

// Listeners for Evaluate, called on the worker thread. `on_stage` marks work starting
// inside the native call ("encode", "encode-step" once a running encode reached its first
// cancellation point, "prefill"), so callers can act while the call runs.
struct EvalListener {
  std::function<void(const char* stage, size_t chunk)> on_stage;
  std::function<void(size_t chunk)> on_chunk;
};

class Engine;

// Restores sequence 0 to where a call started, and drops the sequences it forked, unless the
// call commits (docs/cancellation.md "State after a failure"). Every abort and failure path
// goes through here, including C++ exceptions.
class StateGuard {
 public:
  explicit StateGuard(Engine& engine, int forked_sequences = 0);
  ~StateGuard();
  StateGuard(const StateGuard&) = delete;
  StateGuard& operator=(const StateGuard&) = delete;
  void Commit() { committed_ = true; }
  // Restores now and describes the abort.
  bool Abort(NativeError* err, const char* stage);
  bool Fail(NativeError* err, NativeError what);

 private:
  void Restore();
  Engine& engine_;
  llama_pos pos_;
  int32_t cells_;
  int forked_;
  bool committed_ = false;
  bool restored_ = false;
};

class Engine {
 public:
  ~Engine();

  bool Load(const LoadOptions& opts, const std::function<bool(float)>& on_progress, NativeError* err);
  bool Evaluate(std::vector<InputChunk>& input, int reserve, const EvalListener& listener, EvalReport* report,
                NativeError* err);
  bool Generate(const GenerationOptions& opts, const std::function<void(llama_token, const std::string&)>& on_token,
                GenerateReport* report, NativeError* err);

  // Answers several suffixes on top of the current state (sequence 0), one sequence each,
  // decoded together in one batch per step; the state is restored afterwards.
  bool GenerateMany(std::vector<std::vector<InputChunk>>& suffixes, const GenerationOptions& opts,
                    const std::function<void(size_t, llama_token, const std::string&)>& on_token,
                    std::vector<GenerateReport>* reports, NativeError* err);
  bool SaveState(const std::string& path, size_t* bytes, NativeError* err);
  bool LoadState(const std::string& path, llama_pos n_past, int32_t n_cells, NativeError* err);
  void Unload();
  // Goes back to a state this context was in since the last reset or loadState; refuses any
  // other pair (a mismatched nPast/nCells would desynchronise positions and cells).
  bool RewindTo(llama_pos pos, int32_t cells, NativeError* err);
  void Reset();
  std::vector<llama_token> Tokenize(const std::string& text, bool special) const;
  std::string Piece(llama_token token, bool special) const;

  std::atomic<bool> cancel{false};
  llama_model* model = nullptr;
  llama_context* ctx = nullptr;
  mtmd_context* mtmd = nullptr;
  const llama_vocab* vocab = nullptr;
  LoadOptions options;
  // Where the work runs, as given at load: the devices holding the offloaded text layers
  // (empty: CPU), how many of the model's layers (n_layer + the output layer) went there,
  // and the projector's device (null: CPU).
  std::vector<ggml_backend_dev_t> layer_devices;
  int offloaded_layers = 0;
  int total_layers = 0;
  ggml_backend_dev_t projector_device = nullptr;
  ggml_type kv_type = GGML_TYPE_F16;
  llama_pos n_past = 0;  // next position to decode at
  int32_t n_cells = 0;   // KV cells in use on sequence 0
  bool has_logits = false;

 private:
  friend class StateGuard;
  friend bool EncodeEval(ggml_tensor*, bool, void*);
  struct Sequence;
  void Rewind(llama_pos pos, int32_t cells);
  void Checkpoint() { checkpoints_.push_back({n_past, n_cells}); }
  bool ResolveDevices(const LoadOptions& opts, NativeError* err);
  bool EvaluateChunk(const mtmd_input_chunk* chunk, size_t index, bool last, const EvalListener& listener,
                     EvalReport* report, ChunkReport* cr, llama_pos* new_n_past);
  llama_sampler* MakeSampler(const GenerationOptions& opts) const;
  bool Tokenize(std::vector<InputChunk>& input, mtmd_input_chunks* out, NativeError* err);
  bool TokenizeSuffixes(std::vector<std::vector<InputChunk>>& suffixes, const GenerationOptions& opts,
                        std::vector<mtmd::input_chunks_ptr>* out, NativeError* err);
  bool PrefillSuffix(int seq, const mtmd_input_chunks* chunks, Sequence* sequence);
  bool SampleInto(Sequence* sequence, int logits_index, const GenerationOptions& opts, double t0,
                  const std::function<void(size_t, llama_token, const std::string&)>& on_token);
  void DropSequences(int from, int to);

  std::vector<std::pair<llama_pos, int32_t>> checkpoints_{{0, 0}};
  // Encode cancellation (EncodeEval): graph nodes seen, and who hears the first checkpoint.
  size_t encode_nodes_ = 0;
  bool encode_step_reported_ = true;
  std::function<void()> on_encode_step_;
};

}  // namespace timelens
