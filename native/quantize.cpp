// quantize(options, onEvent): llama.cpp's llama_model_quantize on a job thread.
//
// llama_model_quantize has no progress or cancel hook. It logs one INFO line as it starts each
// tensor ("[   3/  35] blk.0.attn_q.weight ..."), on the thread that called it, while no worker
// threads run. We watch that line: it gives progress, and on a cancel request we throw from
// there, which llama_model_quantize catches and reports as a failure (docs/quantize.md). The
// output path is written as llama.cpp pleases; the TypeScript layer hands us a temporary path
// and renames or removes it.
#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include "common.h"
#include "job.h"
#include "llama.h"

namespace timelens {

namespace {

// Names as llama-quantize spells them; TypeScript decides which of them it offers.
struct QuantType {
  const char* name;
  llama_ftype ftype;
};
const QuantType kQuantTypes[] = {
    {"Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},     {"Q4_1", LLAMA_FTYPE_MOSTLY_Q4_1},     {"Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0},
    {"Q5_1", LLAMA_FTYPE_MOSTLY_Q5_1},     {"Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},     {"Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K},
    {"Q3_K_S", LLAMA_FTYPE_MOSTLY_Q3_K_S}, {"Q3_K_M", LLAMA_FTYPE_MOSTLY_Q3_K_M}, {"Q3_K_L", LLAMA_FTYPE_MOSTLY_Q3_K_L},
    {"Q4_K_S", LLAMA_FTYPE_MOSTLY_Q4_K_S}, {"Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M}, {"Q5_K_S", LLAMA_FTYPE_MOSTLY_Q5_K_S},
    {"Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M}, {"Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K},     {"IQ4_NL", LLAMA_FTYPE_MOSTLY_IQ4_NL},
    {"IQ4_XS", LLAMA_FTYPE_MOSTLY_IQ4_XS}, {"F16", LLAMA_FTYPE_MOSTLY_F16},       {"BF16", LLAMA_FTYPE_MOSTLY_BF16},
    {"F32", LLAMA_FTYPE_ALL_F32},
};

// One running quantization, seen by the log hook on the thread that runs it.
struct QuantizeRun {
  Job* job;
  std::shared_ptr<std::atomic<bool>> cancel;
  bool aborted = false;
  std::string errors;  // ERROR lines llama.cpp logged during this run
};
thread_local QuantizeRun* t_run = nullptr;

struct Aborted : std::runtime_error {
  Aborted() : std::runtime_error("aborted") {}
};

ggml_log_callback g_next_log = nullptr;
void* g_next_log_data = nullptr;

// Forwards every line to the addon's log handler, then looks at lines from a quantize thread.
void QuantizeLogHook(ggml_log_level level, const char* text, void* user_data) {
  (void)user_data;
  if (g_next_log) g_next_log(level, text, g_next_log_data);
  QuantizeRun* run = t_run;
  if (run == nullptr || text == nullptr) return;
  if (level == GGML_LOG_LEVEL_ERROR) run->errors += text;
  int index = 0, count = 0;
  if (level != GGML_LOG_LEVEL_INFO || std::sscanf(text, "[%d/%d]", &index, &count) != 2 || count <= 0) return;
  if (run->cancel->load()) {
    run->aborted = true;
    // Unwinds llama.cpp's C++ frames to llama_model_quantize's catch. (A line over 128 bytes
    // would leak llama's heap copy of it; the tensor lines are about 100.)
    throw Aborted();
  }
  run->job->Emit({JobEvent::kProgress, static_cast<double>(index - 1) / count});
}

std::string RequireString(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString())
    ThrowError(env, "ERR_INVALID_ARGUMENT", std::string("quantize: options.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool RequireBool(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean())
    ThrowError(env, "ERR_INVALID_ARGUMENT", std::string("quantize: options.") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

double RequireNumber(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber())
    ThrowError(env, "ERR_INVALID_ARGUMENT", std::string("quantize: options.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// quantize({ input, output, type, threads, allowRequantize, quantizeOutputTensor, pure,
//            maxBufferBytes }, onEvent) -> { promise, cancel() }
Napi::Value QuantizeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject())
    ThrowError(env, "ERR_INVALID_ARGUMENT", "quantize(options, onEvent) needs an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string input = RequireString(env, o, "input");
  std::string output = RequireString(env, o, "output");
  std::string type = RequireString(env, o, "type");
  double threads = RequireNumber(env, o, "threads");
  double max_buffer = RequireNumber(env, o, "maxBufferBytes");
  // Written so that NaN fails too.
  if (!(threads >= 1 && threads <= 1024) || threads != std::floor(threads))
    ThrowError(env, "ERR_INVALID_ARGUMENT", "quantize: options.threads must be an integer 1..1024");
  if (!(max_buffer >= 0 && max_buffer <= 9007199254740991.0) || max_buffer != std::floor(max_buffer))
    ThrowError(env, "ERR_INVALID_ARGUMENT", "quantize: options.maxBufferBytes must be a whole number >= 0");

  const QuantType* found = nullptr;
  for (const auto& t : kQuantTypes)
    if (type == t.name) found = &t;
  if (!found) ThrowError(env, "ERR_INVALID_ARGUMENT", "quantize: unknown type " + type);

  llama_model_quantize_params params = llama_model_quantize_default_params();
  params.nthread = static_cast<int32_t>(threads);
  params.ftype = found->ftype;
  params.allow_requantize = RequireBool(env, o, "allowRequantize");
  params.quantize_output_tensor = RequireBool(env, o, "quantizeOutputTensor");
  params.pure = RequireBool(env, o, "pure");
  params.max_buf_size = static_cast<size_t>(max_buffer);  // 0: llama.cpp's own cap
  // Not offered: per-tensor overrides, importance matrices, splits, pruning, dry runs.
  params.output_tensor_type = GGML_TYPE_COUNT;
  params.token_embedding_type = GGML_TYPE_COUNT;
  params.only_copy = false;
  params.keep_split = false;
  params.dry_run = false;
  params.imatrix = nullptr;
  params.kv_overrides = nullptr;
  params.tt_overrides = nullptr;
  params.prune_layers = nullptr;

  auto cancel = std::make_shared<std::atomic<bool>>(false);
  Napi::Promise promise = Job::Start(
      env, info[1],
      [input, output, params, cancel](Job& job) {
        QuantizeRun run{&job, cancel};
        t_run = &run;
        uint32_t rc = llama_model_quantize(input.c_str(), output.c_str(), &params);
        t_run = nullptr;
        if (run.aborted) return job.Fail({"ERR_ABORTED", "quantization aborted"});
        if (rc != 0) {
          while (!run.errors.empty() && (run.errors.back() == '\n' || run.errors.back() == ' ')) run.errors.pop_back();
          return job.Fail({"ERR_NATIVE", "llama_model_quantize failed: " +
                                             (run.errors.empty() ? std::string("no reason logged") : run.errors)});
        }
        job.Emit({JobEvent::kProgress, 1.0});
      },
      [cancel]() { cancel->store(true); }, nullptr);
  Napi::Object out = Napi::Object::New(env);
  out.Set("promise", promise);
  out.Set("cancel", Napi::Function::New(
                        env,
                        [cancel](const Napi::CallbackInfo& i) {
                          cancel->store(true);
                          return i.Env().Undefined();
                        },
                        "cancel"));
  return out;
}

Napi::Value QuantizeTypesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& t : kQuantTypes) out[i++] = Napi::String::New(env, t.name);
  return out;
}

}  // namespace

// Called once, after the addon's log handler is installed: chains our hook in front of it.
void InstallQuantizeLogHook() {
  llama_log_get(&g_next_log, &g_next_log_data);
  llama_log_set(QuantizeLogHook, nullptr);
}

void DefineQuantize(Napi::Env env, Napi::Object exports) {
  exports.Set("quantize", Napi::Function::New(env, QuantizeJs, "quantize"));
  exports.Set("quantizeTypes", Napi::Function::New(env, QuantizeTypesJs, "quantizeTypes"));
}

}  // namespace timelens
