#include "common.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "ggml.h"
#include "llama.h"
#include "mtmd-helper.h"
#include "mtmd.h"

namespace timelens {

Napi::Error MakeError(Napi::Env env, const NativeError& err) {
  Napi::Error e = Napi::Error::New(env, err.message);
  e.Set("code", Napi::String::New(env, err.code.empty() ? "ERR_NATIVE" : err.code));
  if (err.needed >= 0) e.Set("needed", Napi::Number::New(env, err.needed));
  if (err.available >= 0) e.Set("available", Napi::Number::New(env, err.available));
  if (!err.stage.empty()) e.Set("stage", Napi::String::New(env, err.stage));
  return e;
}

void ThrowError(Napi::Env env, const std::string& code, const std::string& message) {
  throw MakeError(env, NativeError{code, message});
}

namespace {

std::atomic<int> g_level{4};
std::mutex g_recent_mutex;
std::string g_recent;
std::string g_line;  // log callbacks arrive in pieces; assemble lines

int LevelRank(ggml_log_level level) {
  switch (level) {
    case GGML_LOG_LEVEL_DEBUG:
      return 0;
    case GGML_LOG_LEVEL_INFO:
      return 1;
    case GGML_LOG_LEVEL_WARN:
      return 2;
    case GGML_LOG_LEVEL_ERROR:
      return 3;
    default:
      return -1;  // CONT / NONE: continuation of the previous line
  }
}

std::atomic<int> g_last_rank{1};

void OnLog(ggml_log_level level, const char* text, void*) {
  int rank = LevelRank(level);
  if (rank < 0) rank = g_last_rank.load();
  g_last_rank = rank;
  if (rank >= g_level.load()) fputs(text, stderr);
  if (rank >= 2) {
    std::lock_guard<std::mutex> lock(g_recent_mutex);
    g_recent += text;
    if (g_recent.size() > 4000) g_recent.erase(0, g_recent.size() - 4000);
  }
}

}  // namespace

void InstallLogHandler() {
  const char* env = std::getenv("TIMELENS_LOG");
  if (env) {
    if (!strcmp(env, "debug"))
      g_level = 0;
    else if (!strcmp(env, "info"))
      g_level = 1;
    else if (!strcmp(env, "warn"))
      g_level = 2;
    else if (!strcmp(env, "error"))
      g_level = 3;
  }
  llama_log_set(OnLog, nullptr);
  mtmd_helper_log_set(OnLog, nullptr);  // also sets mtmd's own logger
}

void SetLogLevel(int level) { g_level = level; }

std::string TakeRecentLog() {
  std::lock_guard<std::mutex> lock(g_recent_mutex);
  std::string out;
  out.swap(g_recent);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace timelens
