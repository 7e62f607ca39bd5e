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

struct LoadOptions {
  std::string model_path;
  std::string mmproj_path;
  int gpu_layers = -1;
  bool mmproj_gpu = true;
  int threads = 0;
  int context_size = 4096;
  int batch_size = 512;
  int flash_attention = -1;  // -1 auto, 0 off, 1 on
  int image_min_tokens = -1;
  int image_max_tokens = -1;
  bool warmup = true;
  int parallel = 8;         // sequences for GenerateMany; they share the prefix cells (unified KV)
  std::string gpu_backend;  // only devices of this ggml backend ("Vulkan", "CUDA", "Metal"); empty: any
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

struct SamplingOptions {
  int max_tokens = 512;
  float temperature = 0;  // <= 0: greedy
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  uint32_t seed = 0;
  std::vector<std::string> stop;  // stop sequences (raw bytes)
  bool report_margins = false;    // record top1 - top2 logit at each step (parity debugging)
};

struct GenerateReport {
  std::vector<llama_token> tokens;
  std::string bytes;
  std::string stop_reason;     // "eog" | "maxTokens" | "stop" | "context"
  std::vector<float> margins;  // with report_margins: top1 - top2 logit before each sampled token
  double generate_ms = 0, first_token_ms = 0;
};

class Engine {
 public:
  ~Engine();

  bool Load(const LoadOptions& opts, const std::function<bool(float)>& on_progress, NativeError* err);
  bool Evaluate(std::vector<InputChunk>& input, int reserve, const std::function<void(size_t)>& on_chunk, EvalReport* report, NativeError* err);
  bool Generate(const SamplingOptions& opts, const std::function<void(llama_token, const std::string&)>& on_token, GenerateReport* report, NativeError* err);

  // Answers several suffixes on top of the current state (sequence 0), one sequence each,
  // decoded together in one batch per step; the state is restored afterwards.
  bool GenerateMany(std::vector<std::vector<InputChunk>>& suffixes, const SamplingOptions& opts,
                    const std::function<void(size_t, llama_token, const std::string&)>& on_token, std::vector<GenerateReport>* reports, NativeError* err);
  bool SaveState(const std::string& path, size_t* bytes, NativeError* err);
  bool LoadState(const std::string& path, llama_pos n_past, int32_t n_cells, NativeError* err);
  void Unload();
  void Rewind(llama_pos n_past, int32_t n_cells);
  void Reset();
  std::vector<llama_token> Tokenize(const std::string& text, bool special) const;
  std::string Piece(llama_token token, bool special) const;

  std::atomic<bool> cancel{false};
  llama_model* model = nullptr;
  llama_context* ctx = nullptr;
  mtmd_context* mtmd = nullptr;
  const llama_vocab* vocab = nullptr;
  LoadOptions options;
  // Where the work runs, chosen explicitly at load so it can be reported truthfully:
  // the devices holding the offloaded text layers (empty: CPU), how many of the model's
  // layers (n_layer + the output layer) went there, and the projector's device (null: CPU).
  std::vector<ggml_backend_dev_t> layer_devices;
  int offloaded_layers = 0;
  int total_layers = 0;
  ggml_backend_dev_t projector_device = nullptr;
  llama_pos n_past = 0;  // next position to decode at
  int32_t n_cells = 0;   // KV cells in use on sequence 0
  bool has_logits = false;

 private:
  bool Aborted(llama_pos start_pos, int32_t start_cells, NativeError* err, const char* stage);
  llama_sampler* MakeSampler(const SamplingOptions& opts) const;
  bool Tokenize(std::vector<InputChunk>& input, mtmd_input_chunks* out, NativeError* err);
  void DropSequences(int from, int to);
};

}  // namespace timelens
