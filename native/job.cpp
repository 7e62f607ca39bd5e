#include "job.h"

namespace timelens {

void Job::DeliverEvent(Napi::Env env, const JobEvent& event) {
  Napi::HandleScope scope(env);
  Napi::Object payload = Napi::Object::New(env);
  switch (event.kind) {
    case JobEvent::kProgress:
      payload.Set("type", "progress");
      payload.Set("progress", event.value);
      break;
    case JobEvent::kToken:
      payload.Set("type", "token");
      payload.Set("token", event.token);
      payload.Set("seq", event.value);
      payload.Set("bytes", Napi::Buffer<char>::Copy(env, event.bytes.data(), event.bytes.size()));
      break;
    case JobEvent::kChunk:
      payload.Set("type", "chunk");
      payload.Set("index", event.value);
      break;
    case JobEvent::kStage:
      payload.Set("type", "stage");
      payload.Set("stage", event.bytes);
      payload.Set("index", event.value);
      break;
  }
  on_event_.Call({payload});
}

void JobCallJs(Napi::Env env, Napi::Function, Job* job, JobEvent* event) {
  std::unique_ptr<JobEvent> owned(event);
  // A null env: the queue is being drained at teardown; only the event's memory matters.
  if (env == nullptr || job == nullptr || event == nullptr || job->env_gone_.load()) return;
  if (job->on_event_.IsEmpty() || !job->listener_error_.IsEmpty() || !job->listener_failure_.empty()) return;
  try {
    job->DeliverEvent(env, *event);
  } catch (const Napi::Error& e) {
    // The listener threw: the call rejects with that error, after the native work stopped
    // (docs/cancellation.md "Listener errors").
    try {
      job->listener_error_ = Napi::Reference<Napi::Value>::New(static_cast<Napi::Value>(e.Value()), 1);
    } catch (...) { job->listener_failure_ = std::string("an event listener threw: ") + e.what(); }
    if (job->cancel_) job->cancel_();
  } catch (...) {
    // Never let an exception escape into Node (it would abort the process).
  }
}

Napi::Promise Job::Start(Napi::Env env, Napi::Value on_event, Work work, Cancel cancel,
                         std::function<void()> on_settled) {
  Job* job = new Job(env);
  if (on_event.IsFunction()) job->on_event_ = Napi::Persistent(on_event.As<Napi::Function>());
  job->on_settled_ = std::move(on_settled);
  job->cancel_ = std::move(cancel);
  Napi::Promise promise = job->deferred_.Promise();
  job->tsfn_ = JobTsfn::New(env, "timelens-job", 0, 1, job, Finalize, static_cast<void*>(nullptr));
  // Added after the thread-safe function: hooks run last-added first, so this one cancels
  // and joins before Node closes the function.
  job->hook_registered_ = napi_add_env_cleanup_hook(env, OnEnvCleanup, job) == napi_ok;
  try {
    job->thread_ = std::thread([job, work = std::move(work)]() {
      try {
        work(*job);
      } catch (const std::exception& e) {
        job->Fail({"ERR_NATIVE", std::string("native error: ") + e.what()});
      } catch (...) { job->Fail({"ERR_NATIVE", "unknown native error"}); }
      job->tsfn_.Release();  // the finalizer settles the promise after queued events
    });
  } catch (const std::exception& e) {
    job->Fail({"ERR_NATIVE", std::string("could not start a native thread: ") + e.what()});
    job->tsfn_.Release();
  }
  return promise;
}

void Job::Emit(JobEvent event) {
  if (on_event_.IsEmpty()) return;
  JobEvent* queued = new JobEvent(std::move(event));
  if (tsfn_.NonBlockingCall(queued) != napi_ok) delete queued;  // closing: nobody will read it
}

void Job::OnEnvCleanup(void* data) {
  Job* job = static_cast<Job*>(data);
  job->env_gone_ = true;
  try {
    if (job->cancel_) job->cancel_();
    if (job->thread_.joinable()) job->thread_.join();
  } catch (...) {}
}

void Job::SettlePromise(Napi::Env env) {
  Napi::HandleScope scope(env);
  if (on_settled_) on_settled_();
  if (!listener_error_.IsEmpty()) {
    deferred_.Reject(listener_error_.Value());
    return;
  }
  if (!listener_failure_.empty()) {
    deferred_.Reject(MakeError(env, {"ERR_NATIVE", listener_failure_}).Value());
    return;
  }
  if (failed_) {
    deferred_.Reject(MakeError(env, error_).Value());
    return;
  }
  try {
    deferred_.Resolve(make_result_ ? make_result_(env) : env.Undefined());
  } catch (const Napi::Error& e) { deferred_.Reject(e.Value()); }
}

void Job::Finalize(Napi::Env env, void*, Job* job) {
  std::unique_ptr<Job> owned(job);
  try {
    if (job->thread_.joinable()) job->thread_.join();  // it has released: this returns at once
  } catch (...) {}
  if (job->env_gone_.load() || env == nullptr) {
    // The environment is being torn down: its objects (the model wrapper included) may be
    // gone already, so touch nothing of JS, not even to drop references.
    job->on_event_.SuppressDestruct();
    job->listener_error_.SuppressDestruct();
    return;
  }
  if (job->hook_registered_) napi_remove_env_cleanup_hook(job->env_, OnEnvCleanup, job);
  try {
    job->SettlePromise(env);
  } catch (...) {}
}

}  // namespace timelens
