// The JS class `Model`: validates arguments on the main thread, then hands work to the
// Engine on a Job thread. Exactly one Job per model at a time; the TS layer queues.
#include <napi.h>

#include <cmath>
#include <memory>

#include "common.h"
#include "engine.h"
#include "job.h"

namespace timelens {

namespace {

// Options arrive fully resolved from src/defaults.ts: every field is required and checked
// here, none has a fallback (docs/architecture.md "Defaults").
[[noreturn]] void Invalid(Napi::Env env, const std::string& what, const char* key, const std::string& expected) {
  ThrowError(env, "ERR_INVALID_ARGUMENT", what + ": options." + key + " must be " + expected);
}

double RequireNumber(Napi::Env env, const Napi::Object& o, const std::string& what, const char* key, double min,
                     double max, bool integer) {
  Napi::Value v = o.Get(key);
  const std::string range = std::string(integer ? "an integer " : "a number ") +
                            std::to_string(static_cast<long long>(min)) + ".." +
                            std::to_string(static_cast<long long>(max));
  if (!v.IsNumber()) Invalid(env, what, key, range + (v.IsUndefined() ? " (missing)" : ""));
  double d = v.As<Napi::Number>().DoubleValue();
  // Written so that NaN fails too.
  if (!(d >= min && d <= max) || (integer && d != std::floor(d)))
    Invalid(env, what, key, range + ", got " + std::to_string(d));
  return d;
}

int RequireInt(Napi::Env env, const Napi::Object& o, const std::string& what, const char* key, int min, int max) {
  return static_cast<int>(RequireNumber(env, o, what, key, min, max, true));
}

bool RequireBool(Napi::Env env, const Napi::Object& o, const std::string& what, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) Invalid(env, what, key, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string RequireString(Napi::Env env, const Napi::Object& o, const std::string& what, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) Invalid(env, what, key, "a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<std::string> RequireStrings(Napi::Env env, const Napi::Object& o, const std::string& what,
                                        const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) Invalid(env, what, key, "an array of strings");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    if (!arr.Get(i).IsString()) Invalid(env, what, key, "an array of strings");
    out.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  }
  return out;
}

Napi::Object RequireObject(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!v.IsObject()) ThrowError(env, "ERR_INVALID_ARGUMENT", what + " needs an options object");
  return v.As<Napi::Object>();
}

int GetFrameInt(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0;  // 0 fails the size check
}

Napi::Int32Array ToInt32Array(Napi::Env env, const std::vector<llama_token>& tokens) {
  Napi::Int32Array arr = Napi::Int32Array::New(env, tokens.size());
  for (size_t i = 0; i < tokens.size(); i++) arr[i] = tokens[i];
  return arr;
}

// Copies JS chunks ({ text, special } or { frames, mergeable }) into native input, validating
// every frame before libmtmd sees it.
std::vector<InputChunk> ParseChunks(Napi::Env env, Napi::Array arr) {
  std::vector<InputChunk> input;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    if (!arr.Get(i).IsObject())
      ThrowError(env, "ERR_INVALID_ARGUMENT", "chunk " + std::to_string(i) + " is not an object");
    Napi::Object c = arr.Get(i).As<Napi::Object>();
    InputChunk chunk;
    if (c.Get("text").IsString()) {
      chunk.is_text = true;
      chunk.text = c.Get("text").As<Napi::String>();
      chunk.special = c.Get("special").IsBoolean() && c.Get("special").As<Napi::Boolean>().Value();
    } else if (c.Get("frames").IsArray()) {
      chunk.is_text = false;
      Napi::Array frames = c.Get("frames").As<Napi::Array>();
      bool mergeable = c.Get("mergeable").IsBoolean() && c.Get("mergeable").As<Napi::Boolean>().Value();
      if (frames.Length() == 0)
        ThrowError(env, "ERR_INVALID_ARGUMENT", "chunk " + std::to_string(i) + " has no frames");
      if (mergeable && frames.Length() != 2)
        ThrowError(env, "ERR_INVALID_ARGUMENT", "a mergeable frame group must hold exactly 2 frames");
      uint32_t w0 = 0, h0 = 0;
      for (uint32_t k = 0; k < frames.Length(); k++) {
        if (!frames.Get(k).IsObject()) ThrowError(env, "ERR_INVALID_ARGUMENT", "frame is not an object");
        Napi::Object f = frames.Get(k).As<Napi::Object>();
        int w = GetFrameInt(f, "width"), h = GetFrameInt(f, "height");
        if (w < 2 || h < 2 || w > 16384 || h > 16384)
          ThrowError(env, "ERR_INVALID_ARGUMENT",
                     "frame size must be 2..16384 px per side, got " + std::to_string(w) + "x" + std::to_string(h));
        if (!f.Get("data").IsTypedArray())
          ThrowError(env, "ERR_INVALID_ARGUMENT", "frame.data must be a Uint8Array of RGB bytes");
        Napi::TypedArray ta = f.Get("data").As<Napi::TypedArray>();
        if (ta.TypedArrayType() != napi_uint8_array && ta.TypedArrayType() != napi_uint8_clamped_array)
          ThrowError(env, "ERR_INVALID_ARGUMENT", "frame.data must be a Uint8Array");
        Napi::Uint8Array data = ta.As<Napi::Uint8Array>();
        if (data.ByteLength() != static_cast<size_t>(w) * h * 3)
          ThrowError(env, "ERR_INVALID_ARGUMENT",
                     "frame.data has " + std::to_string(data.ByteLength()) +
                         " bytes, expected width*height*3 = " + std::to_string(static_cast<size_t>(w) * h * 3));
        if (k == 0) {
          w0 = w;
          h0 = h;
        } else if (mergeable && (static_cast<uint32_t>(w) != w0 || static_cast<uint32_t>(h) != h0))
          ThrowError(env, "ERR_INVALID_ARGUMENT", "the two frames of a pair must have the same size");
        mtmd_bitmap* bm = mtmd_bitmap_init(w, h, data.Data());
        mtmd_bitmap_set_mergeable(bm, mergeable);
        chunk.frames.emplace_back(bm, mtmd_bitmap_free);
      }
    } else {
      ThrowError(env, "ERR_INVALID_ARGUMENT", "chunk " + std::to_string(i) + " needs text or frames");
    }
    input.push_back(std::move(chunk));
  }

  return input;
}

GenerationOptions ParseGeneration(Napi::Env env, Napi::Value value) {
  const std::string what = "generate()";
  Napi::Object o = RequireObject(env, value, what);
  GenerationOptions opts;
  opts.max_tokens = RequireInt(env, o, what, "maxTokens", 1, 1 << 24);
  opts.temperature = static_cast<float>(RequireNumber(env, o, what, "temperature", 0, 1000, false));
  opts.top_k = RequireInt(env, o, what, "topK", 0, 1 << 24);
  opts.top_p = static_cast<float>(RequireNumber(env, o, what, "topP", 0, 1, false));
  opts.min_p = static_cast<float>(RequireNumber(env, o, what, "minP", 0, 1, false));
  // Checked before the cast: NaN, negative or fractional seeds are errors, not wrapped values.
  opts.seed = static_cast<uint32_t>(RequireNumber(env, o, what, "seed", 0, 4294967295.0, true));
  opts.stop = RequireStrings(env, o, what, "stop");
  opts.report_margins = RequireBool(env, o, what, "reportMargins");
  return opts;
}

LoadOptions ParseLoadOptions(Napi::Env env, Napi::Object o) {
  const std::string what = "load()";
  LoadOptions opts;
  opts.model_path = RequireString(env, o, what, "model");
  opts.mmproj_path = RequireString(env, o, what, "mmproj");
  opts.gpu_layers = RequireInt(env, o, what, "gpuLayers", -1, 1 << 20);
  opts.threads = RequireInt(env, o, what, "threads", 1, 1024);
  opts.context_size = RequireInt(env, o, what, "contextSize", 16, 1 << 24);
  opts.batch_size = RequireInt(env, o, what, "batchSize", 1, 1 << 24);
  opts.flash_attention = RequireInt(env, o, what, "flashAttention", -1, 1);
  opts.image_min_tokens = RequireInt(env, o, what, "imageMinTokens", -1, 1 << 24);
  opts.image_max_tokens = RequireInt(env, o, what, "imageMaxTokens", -1, 1 << 24);
  opts.warmup = RequireBool(env, o, what, "warmup");
  opts.parallel = RequireInt(env, o, what, "parallel", 1, 64);
  opts.layer_devices = RequireStrings(env, o, what, "layerDevices");
  opts.projector_device = RequireString(env, o, what, "projectorDevice");
  return opts;
}

Napi::Object GenerateReportToJs(Napi::Env env, const GenerateReport& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("tokens", ToInt32Array(env, r.tokens));
  out.Set("bytes", Napi::Buffer<char>::Copy(env, r.bytes.data(), r.bytes.size()));
  out.Set("stopReason", r.stop_reason);
  if (!r.margins.empty()) {
    Napi::Float32Array margins = Napi::Float32Array::New(env, r.margins.size());
    for (size_t i = 0; i < r.margins.size(); i++) margins[i] = r.margins[i];
    out.Set("margins", margins);
  }
  Napi::Object t = Napi::Object::New(env);
  t.Set("generateMs", r.generate_ms);
  t.Set("firstTokenMs", r.first_token_ms);
  t.Set("tokens", static_cast<double>(r.tokens.size()));
  out.Set("timings", t);
  return out;
}

}  // namespace

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model",
                       {
                           InstanceMethod<&Model::Load>("load"),
                           InstanceMethod<&Model::Info>("info"),
                           InstanceMethod<&Model::Tokenize>("tokenize"),
                           InstanceMethod<&Model::Detokenize>("detokenize"),
                           InstanceMethod<&Model::Evaluate>("evaluate"),
                           InstanceMethod<&Model::Generate>("generate"),
                           InstanceMethod<&Model::GenerateMany>("generateMany"),
                           InstanceMethod<&Model::SaveState>("saveState"),
                           InstanceMethod<&Model::LoadState>("loadState"),
                           InstanceMethod<&Model::State>("state"),
                           InstanceMethod<&Model::Rewind>("rewind"),
                           InstanceMethod<&Model::Reset>("reset"),
                           InstanceMethod<&Model::Cancel>("cancel"),
                           InstanceMethod<&Model::Dispose>("dispose"),
                           InstanceAccessor<&Model::Busy>("busy"),
                           InstanceAccessor<&Model::Disposed>("disposed"),
                       });
  }

  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info), engine_(std::make_shared<Engine>()) {}

 private:
  // Common entry checks: not disposed, loaded (unless loading), idle.
  Engine& Ready(Napi::Env env, bool need_loaded = true) {
    if (disposed_) ThrowError(env, "ERR_DISPOSED", "This model was disposed");
    if (busy_) ThrowError(env, "ERR_BUSY", "Another operation is running on this model; calls must be queued");
    if (need_loaded && !loaded_) ThrowError(env, "ERR_INVALID_ARGUMENT", "The model is not loaded");
    return *engine_;
  }

  Napi::Value Start(Napi::Env env, Napi::Value on_event, Job::Work work) {
    busy_ = true;
    engine_->cancel = false;
    Napi::ObjectReference* self = new Napi::ObjectReference(Napi::Persistent(Value()));
    std::shared_ptr<Engine> engine = engine_;
    return Job::Start(
        env, on_event, std::move(work), [engine]() { engine->cancel = true; },
        [this, self]() {
          busy_ = false;
          try {
            self->Reset();  // the wrapper may be collected again once the job is done
          } catch (...) {}
          delete self;
        });
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env, false);
    if (loaded_) ThrowError(env, "ERR_INVALID_ARGUMENT", "This model is already loaded");
    if (!info[0].IsObject()) ThrowError(env, "ERR_INVALID_ARGUMENT", "load(options) needs an options object");
    LoadOptions opts = ParseLoadOptions(env, info[0].As<Napi::Object>());

    auto engine = engine_;
    bool* loaded = &loaded_;
    return Start(env, info[1], [engine, opts, loaded](Job& job) {
      NativeError err;
      float last = -1;
      bool ok = engine->Load(
          opts,
          [&](float p) {
            if (p - last >= 0.01f || p >= 1.0f) {
              last = p;
              job.Emit({JobEvent::kProgress, p});
            }
            return !engine->cancel.load();
          },
          &err);
      if (!ok) {
        engine->Unload();  // free what loaded before the failure
        return job.Fail(err);
      }
      job.Succeed([loaded](Napi::Env env) {
        *loaded = true;
        return env.Undefined();
      });
    });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed_) ThrowError(env, "ERR_DISPOSED", "This model was disposed");
    if (!loaded_) ThrowError(env, "ERR_INVALID_ARGUMENT", "The model is not loaded");
    Engine& e = *engine_;
    Napi::Object out = Napi::Object::New(env);
    char buf[512];
    auto meta = [&](const char* key) -> Napi::Value {
      int n = llama_model_meta_val_str(e.model, key, buf, sizeof(buf));
      return n >= 0 ? Napi::String::New(env, buf) : env.Null();
    };
    out.Set("architecture", meta("general.architecture"));
    out.Set("name", meta("general.name"));
    llama_model_desc(e.model, buf, sizeof(buf));
    out.Set("description", Napi::String::New(env, buf));
    out.Set("parameters", Napi::Number::New(env, static_cast<double>(llama_model_n_params(e.model))));
    out.Set("sizeBytes", Napi::Number::New(env, static_cast<double>(llama_model_size(e.model))));
    out.Set("nCtxTrain", llama_model_n_ctx_train(e.model));
    out.Set("nEmbd", llama_model_n_embd(e.model));
    out.Set("nLayer", llama_model_n_layer(e.model));
    out.Set("vocabSize", llama_vocab_n_tokens(e.vocab));
    // What the context uses, read back from llama.cpp where it says (not the options echoed).
    out.Set("contextSize", llama_n_ctx(e.ctx));
    out.Set("batchSize", llama_n_batch(e.ctx));
    out.Set("ubatchSize", llama_n_ubatch(e.ctx));
    out.Set("parallel", llama_n_seq_max(e.ctx));
    out.Set("threads", llama_n_threads(e.ctx));
    // llama.cpp resolves "auto" inside the context and does not report it: this is the mode given.
    out.Set("flashAttention",
            llama_flash_attn_type_name(static_cast<llama_flash_attn_type>(e.options.flash_attention)));
    out.Set("kvType", ggml_type_name(e.kv_type));
    out.Set("kvUnified", true);
    out.Set("imageMinTokens", e.options.image_min_tokens);
    out.Set("imageMaxTokens", e.options.image_max_tokens);
    out.Set("warmup", e.options.warmup);
    const char* tmpl = llama_model_chat_template(e.model, nullptr);
    out.Set("chatTemplate", tmpl ? Napi::Value(Napi::String::New(env, tmpl)) : env.Null());
    out.Set("eosToken", llama_vocab_eos(e.vocab));
    out.Set("usesMrope", mtmd_decode_use_mrope(e.mtmd));
    out.Set("hasVision", mtmd_support_vision(e.mtmd));
    out.Set("systemInfo", llama_print_system_info());
    auto device = [&](ggml_backend_dev_t dev) -> Napi::Value {
      if (!dev) return env.Null();
      Napi::Object d = Napi::Object::New(env);
      d.Set("name", ggml_backend_dev_name(dev));
      d.Set("description", ggml_backend_dev_description(dev));
      d.Set("backend", ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev)));
      return d;
    };
    Napi::Object offload = Napi::Object::New(env);
    Napi::Array layer_devices = Napi::Array::New(env, e.layer_devices.size());
    for (size_t i = 0; i < e.layer_devices.size(); i++) layer_devices[i] = device(e.layer_devices[i]);
    offload.Set("layerDevices", layer_devices);
    offload.Set("offloadedLayers", e.offloaded_layers);
    offload.Set("totalLayers", e.total_layers);
    offload.Set("projectorDevice", device(e.projector_device));
    out.Set("offload", offload);
    return out;
  }

  Napi::Value Tokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed_) ThrowError(env, "ERR_DISPOSED", "This model was disposed");
    if (!loaded_) ThrowError(env, "ERR_INVALID_ARGUMENT", "The model is not loaded");
    if (!info[0].IsString()) ThrowError(env, "ERR_INVALID_ARGUMENT", "tokenize(text, special) needs a string");
    bool special = info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
    return ToInt32Array(env, engine_->Tokenize(info[0].As<Napi::String>(), special));
  }

  Napi::Value Detokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed_) ThrowError(env, "ERR_DISPOSED", "This model was disposed");
    if (!loaded_) ThrowError(env, "ERR_INVALID_ARGUMENT", "The model is not loaded");
    if (!info[0].IsTypedArray()) ThrowError(env, "ERR_INVALID_ARGUMENT", "detokenize(tokens) needs an Int32Array");
    Napi::Int32Array arr = info[0].As<Napi::Int32Array>();
    const int32_t n_vocab = llama_vocab_n_tokens(engine_->vocab);
    std::string bytes;
    for (size_t i = 0; i < arr.ElementLength(); i++) {
      if (arr[i] < 0 || arr[i] >= n_vocab)
        ThrowError(env, "ERR_INVALID_ARGUMENT", "token id out of range: " + std::to_string(arr[i]));
      bytes += engine_->Piece(arr[i], true);
    }
    return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
  }

  // evaluate(chunks, { reserve }, onEvent): chunks are { text, special } or
  // { frames: [{ width, height, data }], mergeable }.
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env);
    if (!info[0].IsArray()) ThrowError(env, "ERR_INVALID_ARGUMENT", "evaluate(chunks) needs an array");
    Napi::Array arr = info[0].As<Napi::Array>();
    int reserve = RequireInt(env, RequireObject(env, info[1], "evaluate()"), "evaluate()", "reserve", 0, 1 << 24);
    auto input = std::make_shared<std::vector<InputChunk>>(ParseChunks(env, arr));

    auto engine = engine_;
    return Start(env, info[2], [engine, input, reserve](Job& job) {
      auto report = std::make_shared<EvalReport>();
      NativeError err;
      EvalListener listener{[&](const char* stage, size_t i) {
                              JobEvent ev{JobEvent::kStage, static_cast<double>(i)};
                              ev.bytes = stage;
                              job.Emit(std::move(ev));
                            },
                            [&](size_t i) {
                              job.Emit({JobEvent::kChunk, static_cast<double>(i)});
                            }};
      if (!engine->Evaluate(*input, reserve, listener, report.get(), &err)) return job.Fail(err);
      llama_pos n_past = engine->n_past;
      int32_t n_cells = engine->n_cells;
      job.Succeed([report, n_past, n_cells](Napi::Env env) {
        Napi::Object out = Napi::Object::New(env);
        Napi::Array chunks = Napi::Array::New(env, report->chunks.size());
        for (size_t i = 0; i < report->chunks.size(); i++) {
          const ChunkReport& c = report->chunks[i];
          Napi::Object o = Napi::Object::New(env);
          o.Set("type", c.is_text ? "text" : "image");
          o.Set("nTokens", static_cast<double>(c.n_tokens));
          o.Set("nPos", static_cast<double>(c.n_pos));
          if (c.is_text) o.Set("tokens", ToInt32Array(env, c.tokens));
          chunks[i] = o;
        }
        out.Set("chunks", chunks);
        out.Set("nPast", n_past);
        out.Set("nCells", n_cells);
        Napi::Object t = Napi::Object::New(env);
        t.Set("tokenizeMs", report->tokenize_ms);
        t.Set("encodeMs", report->encode_ms);
        t.Set("prefillMs", report->prefill_ms);
        t.Set("textTokens", static_cast<double>(report->text_tokens));
        t.Set("imageTokens", static_cast<double>(report->image_tokens));
        t.Set("images", static_cast<double>(report->images));
        out.Set("timings", t);
        return out;
      });
    });
  }

  // generate({ maxTokens, temperature, topK, topP, minP, seed, stop }, onEvent)
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env);
    GenerationOptions opts = ParseGeneration(env, info[0]);
    if (!engine_->has_logits)
      ThrowError(env, "ERR_INVALID_ARGUMENT", "Nothing to generate from: evaluate a prompt that ends with text first");
    auto engine = engine_;
    return Start(env, info[1], [engine, opts](Job& job) {
      auto report = std::make_shared<GenerateReport>();
      NativeError err;
      bool ok = engine->Generate(
          opts,
          [&](llama_token id, const std::string& piece) {
            JobEvent ev{JobEvent::kToken};
            ev.token = id;
            ev.bytes = piece;
            job.Emit(std::move(ev));
          },
          report.get(), &err);
      if (!ok) return job.Fail(err);
      llama_pos n_past = engine->n_past;
      int32_t n_cells = engine->n_cells;
      job.Succeed([report, n_past, n_cells](Napi::Env env) {
        Napi::Object out = GenerateReportToJs(env, *report);
        out.Set("nPast", n_past);
        out.Set("nCells", n_cells);
        return out;
      });
    });
  }

  // generateMany([chunks...], sampling, onEvent): one sequence per suffix on top of the
  // current state, decoded together; token events carry `seq`.
  Napi::Value GenerateMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env);
    if (!info[0].IsArray())
      ThrowError(env, "ERR_INVALID_ARGUMENT", "generateMany(suffixes) needs an array of chunk arrays");
    Napi::Array list = info[0].As<Napi::Array>();
    auto suffixes = std::make_shared<std::vector<std::vector<InputChunk>>>();
    for (uint32_t i = 0; i < list.Length(); i++) {
      if (!list.Get(i).IsArray())
        ThrowError(env, "ERR_INVALID_ARGUMENT", "suffix " + std::to_string(i) + " is not an array of chunks");
      suffixes->push_back(ParseChunks(env, list.Get(i).As<Napi::Array>()));
      for (const auto& c : suffixes->back()) {
        if (!c.is_text) ThrowError(env, "ERR_INVALID_ARGUMENT", "generateMany suffixes hold text only");
      }
    }
    GenerationOptions opts = ParseGeneration(env, info[1]);
    auto engine = engine_;
    return Start(env, info[2], [engine, suffixes, opts](Job& job) {
      auto reports = std::make_shared<std::vector<GenerateReport>>();
      NativeError err;
      bool ok = engine->GenerateMany(
          *suffixes, opts,
          [&](size_t seq, llama_token id, const std::string& piece) {
            JobEvent ev{JobEvent::kToken};
            ev.value = static_cast<double>(seq);
            ev.token = id;
            ev.bytes = piece;
            job.Emit(std::move(ev));
          },
          reports.get(), &err);
      if (!ok) return job.Fail(err);
      job.Succeed([reports](Napi::Env env) {
        Napi::Array out = Napi::Array::New(env, reports->size());
        for (size_t i = 0; i < reports->size(); i++) out[i] = GenerateReportToJs(env, (*reports)[i]);
        return out;
      });
    });
  }

  // saveState(path): writes sequence 0's KV state (the video prefix) to a file.
  Napi::Value SaveState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env);
    if (!info[0].IsString()) ThrowError(env, "ERR_INVALID_ARGUMENT", "saveState(path) needs a path");
    std::string path = info[0].As<Napi::String>();
    auto engine = engine_;
    return Start(env, env.Undefined(), [engine, path](Job& job) {
      size_t bytes = 0;
      NativeError err;
      if (!engine->SaveState(path, &bytes, &err)) return job.Fail(err);
      job.Succeed([bytes](Napi::Env env) { return Napi::Number::New(env, static_cast<double>(bytes)); });
    });
  }

  // loadState(path, { nPast, nCells }): replaces the context with a saved prefix.
  Napi::Value LoadState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env);
    if (!info[0].IsString() || !info[1].IsObject())
      ThrowError(env, "ERR_INVALID_ARGUMENT", "loadState(path, state) needs a path and a state");
    std::string path = info[0].As<Napi::String>();
    Napi::Object st = info[1].As<Napi::Object>();
    const int n_ctx = static_cast<int>(llama_n_ctx(engine_->ctx));
    int pos = RequireInt(env, st, "loadState()", "nPast", 1, 1 << 30),
        cells = RequireInt(env, st, "loadState()", "nCells", 1, n_ctx);
    auto engine = engine_;
    return Start(env, env.Undefined(), [engine, path, pos, cells](Job& job) {
      NativeError err;
      if (!engine->LoadState(path, pos, cells, &err)) return job.Fail(err);
      job.Succeed([](Napi::Env env) { return env.Undefined(); });
    });
  }

  Napi::Value State(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Ready(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("nPast", engine_->n_past);
    o.Set("nCells", engine_->n_cells);
    o.Set("hasLogits", engine_->has_logits);
    return o;
  }

  // rewind({ nPast, nCells }): forget everything evaluated after that state.
  Napi::Value Rewind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = Ready(env);
    if (!info[0].IsObject()) ThrowError(env, "ERR_INVALID_ARGUMENT", "rewind(state) needs a state from state()");
    Napi::Object o = info[0].As<Napi::Object>();
    int pos = RequireInt(env, o, "rewind()", "nPast", 0, 1 << 30),
        cells = RequireInt(env, o, "rewind()", "nCells", 0, 1 << 30);
    NativeError err;
    if (!e.RewindTo(pos, cells, &err)) ThrowError(env, err.code, err.message);
    return env.Undefined();
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    Ready(info.Env()).Reset();
    return info.Env().Undefined();
  }

  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    if (!disposed_) engine_->cancel = true;
    return info.Env().Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed_) ThrowError(env, "ERR_DISPOSED", "This model was already disposed");
    if (busy_) ThrowError(env, "ERR_BUSY", "Cannot dispose while an operation runs; cancel it and wait first");
    disposed_ = true;
    engine_.reset();
    return env.Undefined();
  }

  Napi::Value Busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), busy_); }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

  std::shared_ptr<Engine> engine_;
  bool loaded_ = false;
  bool busy_ = false;
  bool disposed_ = false;
};

Napi::Function DefineModel(Napi::Env env) { return Model::Define(env); }

}  // namespace timelens
