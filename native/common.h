// Shared helpers for the addon: typed errors and llama.cpp log capture.
#pragma once

#include <napi.h>

#include <string>

namespace timelens {

// An error raised on a worker thread, turned into a JS Error with `code` on the main thread.
struct NativeError {
  std::string code;  // "ERR_..." (see src/errors.ts)
  std::string message;
  double needed = -1;  // ERR_CONTEXT_OVERFLOW only
  double available = -1;
  std::string stage;  // ERR_ABORTED: "encode" | "prefill" | "generate" (where the call stopped)
};

Napi::Error MakeError(Napi::Env env, const NativeError& err);
void ThrowError(Napi::Env env, const std::string& code, const std::string& message);

// llama.cpp and mtmd log through here. Lines at or above the chosen level go to stderr;
// the most recent warnings/errors are kept so failures can say what llama.cpp said.
void InstallLogHandler();
void SetLogLevel(int level);  // 0 debug, 1 info, 2 warn, 3 error, 4 none
std::string TakeRecentLog();  // returns and clears the captured warnings/errors

}  // namespace timelens
