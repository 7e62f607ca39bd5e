// Module entry: backend setup, logging, and the exported functions and class.
#include <napi.h>

#include <cctype>
#include <string>
#include <vector>

#include "common.h"
#include "ggml-backend.h"
#include "llama.h"

#ifdef GGML_BACKEND_DL
#include <filesystem>
#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <dlfcn.h>
#endif
#endif

namespace timelens {
Napi::Function DefineModel(Napi::Env env);
void InstallQuantizeLogHook();                             // quantize.cpp
void DefineQuantize(Napi::Env env, Napi::Object exports);  // quantize.cpp
}  // namespace timelens

using namespace timelens;

namespace {

// How the backends got here: built in (static build), or loaded as modules from the addon's
// own folder (GGML_BACKEND_DL: prebuilt binaries), with the reason each GPU module that is
// present did not load (a missing driver or runtime library, typically).
struct BackendModule {
  std::string file;
  std::string error;  // empty when it loaded
};
bool g_dynamic = false;
std::string g_backend_dir;
std::vector<BackendModule> g_modules;

#ifdef GGML_BACKEND_DL
// The folder holding this .node file (UTF-8).
std::string AddonDir() {
#ifdef _WIN32
  HMODULE self = nullptr;
  if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                          reinterpret_cast<LPCWSTR>(&AddonDir), &self))
    return "";
  std::wstring path(32768, L'\0');
  DWORD n = GetModuleFileNameW(self, path.data(), static_cast<DWORD>(path.size()));
  if (n == 0 || n >= path.size()) return "";
  path.resize(n);
  std::filesystem::path p(path);
  return p.parent_path().u8string();
#else
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&AddonDir), &info) || !info.dli_fname) return "";
  return std::filesystem::path(info.dli_fname).parent_path().string();
#endif
}

// dlopen's own words for why a module does not load (ggml loads them silently).
std::string WhyNotLoadable(const std::filesystem::path& file) {
#ifdef _WIN32
  HMODULE h = LoadLibraryExW(file.wstring().c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  if (h) {
    FreeLibrary(h);
    return "it loads, but its backend found no usable device or driver";
  }
  DWORD code = GetLastError();
  char buf[512] = {0};
  FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0, buf, sizeof(buf),
                 nullptr);
  std::string msg(buf);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r' || msg.back() == ' ')) msg.pop_back();
  return "LoadLibrary error " + std::to_string(code) + ": " + msg;
#else
  void* h = dlopen(file.string().c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h) {
    dlclose(h);
    return "it loads, but its backend found no usable device or driver";
  }
  const char* err = dlerror();
  return err ? err : "dlopen failed";
#endif
}

// Loads every backend module next to the addon (the best CPU variant for this CPU, and the
// GPU backend where its runtime is present), then notes why a GPU module present did not load.
void LoadBackendsFromAddonDir() {
  g_dynamic = true;
  g_backend_dir = AddonDir();
  ggml_backend_load_all_from_path(g_backend_dir.empty() ? nullptr : g_backend_dir.c_str());
  if (g_backend_dir.empty()) return;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::u8path(g_backend_dir), ec)) {
    std::string name = entry.path().filename().string();
    std::string stem = name;
    if (stem.rfind("lib", 0) == 0) stem = stem.substr(3);
    if (stem.rfind("ggml-", 0) != 0) continue;
    std::string ext = entry.path().extension().string();
    if (ext != ".so" && ext != ".dll" && ext != ".dylib") continue;
    std::string backend = stem.substr(5, stem.size() - 5 - ext.size());  // "cpu-haswell", "vulkan", "cuda"
    if (backend.rfind("cpu", 0) == 0) continue;
    std::string base = backend.substr(0, backend.find('-'));
    if (base == "metal") base = "mtl";  // registry names: MTL, ROCm, CUDA, Vulkan ...
    if (base == "hip") base = "rocm";
    bool registered = false;
    for (size_t i = 0; i < ggml_backend_reg_count(); i++) {
      std::string reg = ggml_backend_reg_name(ggml_backend_reg_get(i));
      for (auto& c : reg) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (reg == base) registered = true;
    }
    g_modules.push_back({name, registered ? "" : WhyNotLoadable(entry.path())});
  }
}
#endif

Napi::Value BackendsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("dynamic", g_dynamic);
  out.Set("dir", g_dynamic ? Napi::Value(Napi::String::New(env, g_backend_dir)) : env.Null());
  Napi::Array regs = Napi::Array::New(env, ggml_backend_reg_count());
  for (size_t i = 0; i < ggml_backend_reg_count(); i++)
    regs[i] = Napi::String::New(env, ggml_backend_reg_name(ggml_backend_reg_get(i)));
  out.Set("registered", regs);
  Napi::Array mods = Napi::Array::New(env, g_modules.size());
  for (size_t i = 0; i < g_modules.size(); i++) {
    Napi::Object m = Napi::Object::New(env);
    m.Set("file", g_modules[i].file);
    m.Set("loaded", g_modules[i].error.empty());
    m.Set("error", g_modules[i].error.empty() ? env.Null() : Napi::Value(Napi::String::New(env, g_modules[i].error)));
    mods[i] = m;
  }
  out.Set("gpuModules", mods);
  return out;
}

Napi::Value SetLogLevelJs(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) ThrowError(info.Env(), "ERR_INVALID_ARGUMENT", "setLogLevel(level) needs a number 0..4");
  SetLogLevel(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value SystemInfo(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), llama_print_system_info());
}

// Backends and devices llama.cpp can use in this build, with memory where known.
Napi::Value Devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t n = ggml_backend_dev_count();
  Napi::Array out = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    size_t free = 0, total = 0;
    ggml_backend_dev_memory(dev, &free, &total);
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", ggml_backend_dev_name(dev));
    d.Set("description", ggml_backend_dev_description(dev));
    d.Set("backend", ggml_backend_reg_name(ggml_backend_dev_backend_reg(dev)));
    const char* type = "cpu";
    switch (ggml_backend_dev_type(dev)) {
      case GGML_BACKEND_DEVICE_TYPE_GPU:
        type = "gpu";
        break;
      case GGML_BACKEND_DEVICE_TYPE_IGPU:
        type = "igpu";
        break;
      case GGML_BACKEND_DEVICE_TYPE_ACCEL:
        type = "accel";
        break;
      default:
        break;
    }
    d.Set("type", type);
    d.Set("memoryFree", static_cast<double>(free));
    d.Set("memoryTotal", static_cast<double>(total));
    out[i] = d;
  }
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static bool initialized = false;  // once per process, even with several Node environments
  if (!initialized) {
    InstallLogHandler();
    InstallQuantizeLogHook();  // after the handler: it forwards to it
#ifdef GGML_BACKEND_DL
    LoadBackendsFromAddonDir();
#endif
    llama_backend_init();
    initialized = true;
  }
  exports.Set("Model", DefineModel(env));
  exports.Set("setLogLevel", Napi::Function::New(env, SetLogLevelJs));
  exports.Set("systemInfo", Napi::Function::New(env, SystemInfo));
  exports.Set("devices", Napi::Function::New(env, Devices));
  exports.Set("backends", Napi::Function::New(env, BackendsJs));
  DefineQuantize(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(timelens, Init)
