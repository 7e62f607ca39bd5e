// Runs one long native operation on its own thread and settles a JS promise.
//
// Events (tokens, progress) and the final result travel through the same thread-safe
// function queue, and the promise is settled in that function's finalizer, which Node runs
// only after every queued event was delivered: so each streamed event reaches JS before the
// promise resolves. A dedicated thread (not libuv's pool) keeps minutes-long work from
// starving fs and dns.
//
// Teardown (docs/cancellation.md "Worker and window teardown"): every job registers an
// environment cleanup hook. When a worker_threads Worker or an Electron window goes away
// mid-job, the hook cancels the work and joins its thread before Node frees anything the
// thread uses; from then on no callback touches JS. Every function Node calls (the event
// callback, the finalizer, the hook) catches everything: an exception escaping into Node
// aborts the process.
#pragma once

#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common.h"

namespace timelens {

struct JobEvent {
  enum Kind { kProgress, kToken, kChunk, kStage } kind;
  double value = 0;  // progress 0..1, chunk index, or the token's sequence
  int32_t token = -1;
  std::string bytes;  // token piece (raw UTF-8 bytes, maybe partial); stage name for kStage
};

class Job;
void JobCallJs(Napi::Env env, Napi::Function, Job* job, JobEvent* event);
using JobTsfn = Napi::TypedThreadSafeFunction<Job, JobEvent, JobCallJs>;

class Job {
 public:
  using Work = std::function<void(Job&)>;
  using Settle = std::function<Napi::Value(Napi::Env)>;
  using Cancel = std::function<void()>;

  // Starts `work` on a new thread; returns the promise. `on_event` may be undefined.
  // `cancel` must make `work` return soon (from any thread); it runs when the environment
  // is torn down mid-job and when an event listener throws.
  static Napi::Promise Start(Napi::Env env, Napi::Value on_event, Work work, Cancel cancel,
                             std::function<void()> on_settled);

  // Worker-thread API.
  void Emit(JobEvent event);
  void Fail(NativeError error) {
    error_ = std::move(error);
    failed_ = true;
  }
  void Succeed(Settle make_result) { make_result_ = std::move(make_result); }

 private:
  friend void JobCallJs(Napi::Env, Napi::Function, Job*, JobEvent*);
  explicit Job(Napi::Env env) : env_(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  static void Finalize(Napi::Env env, void*, Job* job);
  static void OnEnvCleanup(void* data);
  void SettlePromise(Napi::Env env);
  void DeliverEvent(Napi::Env env, const JobEvent& event);

  napi_env env_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_event_;
  Napi::Reference<Napi::Value> listener_error_;  // what a throwing listener threw
  std::string listener_failure_;                 // JS thread only: when that could not be kept
  JobTsfn tsfn_;
  std::thread thread_;
  Cancel cancel_;
  Settle make_result_;
  NativeError error_;
  bool failed_ = false;
  bool hook_registered_ = false;
  std::atomic<bool> env_gone_{false};
  std::function<void()> on_settled_;
};

}  // namespace timelens
