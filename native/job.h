// Runs one long native operation on its own thread and settles a JS promise.
//
// Events (tokens, progress) and the final result travel through the same thread-safe
// function queue, and the promise is settled in that function's finalizer, which Node runs
// only after every queued event was delivered: so each streamed event reaches JS before the
// promise resolves. A dedicated thread (not libuv's pool) keeps minutes-long work from
// starving fs and dns.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common.h"

namespace timelens {

struct JobEvent {
  enum Kind { kProgress, kToken, kChunk } kind;
  double value = 0;  // progress 0..1, or chunk index
  int32_t token = -1;
  std::string bytes;  // token piece (raw UTF-8 bytes, maybe partial)
};

class Job;
using JobTsfnContext = Job;
void JobCallJs(Napi::Env env, Napi::Function, Job* job, JobEvent* event);
using JobTsfn = Napi::TypedThreadSafeFunction<Job, JobEvent, JobCallJs>;

class Job {
 public:
  using Work = std::function<void(Job&)>;
  using Settle = std::function<Napi::Value(Napi::Env)>;

  // Starts `work` on a new thread; returns the promise. `on_event` may be empty.
  static Napi::Promise Start(Napi::Env env, Napi::Value on_event, Work work, std::function<void()> on_settled);

  // Worker-thread API.
  void Emit(JobEvent event);
  void Fail(NativeError error) {
    error_ = std::move(error);
    failed_ = true;
  }
  void Succeed(Settle make_result) { make_result_ = std::move(make_result); }

 private:
  friend void JobCallJs(Napi::Env, Napi::Function, Job*, JobEvent*);
  explicit Job(Napi::Env env) : deferred_(Napi::Promise::Deferred::New(env)) {}
  static void Finalize(Napi::Env env, void*, Job* job);

  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_event_;
  JobTsfn tsfn_;
  Settle make_result_;
  NativeError error_;
  bool failed_ = false;
  std::function<void()> on_settled_;
};

}  // namespace timelens
