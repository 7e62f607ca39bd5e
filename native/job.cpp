#include "job.h"

namespace timelens {

void JobCallJs(Napi::Env env, Napi::Function, Job* job, JobEvent* event) {
  std::unique_ptr<JobEvent> owned(event);
  if (env == nullptr || job == nullptr || job->on_event_.IsEmpty()) return;
  Napi::Object payload = Napi::Object::New(env);
  switch (event->kind) {
    case JobEvent::kProgress:
      payload.Set("type", "progress");
      payload.Set("progress", event->value);
      break;
    case JobEvent::kToken:
      payload.Set("type", "token");
      payload.Set("token", event->token);
      payload.Set("seq", event->value);
      payload.Set("bytes", Napi::Buffer<char>::Copy(env, event->bytes.data(), event->bytes.size()));
      break;
    case JobEvent::kChunk:
      payload.Set("type", "chunk");
      payload.Set("index", event->value);
      break;
  }
  try {
    job->on_event_.Call({payload});
  } catch (const Napi::Error& e) {
    // A throwing listener must not take the process down; report it on stderr.
    fprintf(stderr, "timelens-native: event listener threw: %s\n", e.Message().c_str());
  }
}

Napi::Promise Job::Start(Napi::Env env, Napi::Value on_event, Work work, std::function<void()> on_settled) {
  Job* job = new Job(env);
  if (on_event.IsFunction()) job->on_event_ = Napi::Persistent(on_event.As<Napi::Function>());
  job->on_settled_ = std::move(on_settled);
  Napi::Promise promise = job->deferred_.Promise();
  job->tsfn_ = JobTsfn::New(env, "timelens-job", 0, 1, job, Finalize, static_cast<void*>(nullptr));
  std::thread([job, work = std::move(work)]() {
    try {
      work(*job);
    } catch (const std::exception& e) { job->Fail({"ERR_NATIVE", std::string("native error: ") + e.what()}); } catch (...) {
      job->Fail({"ERR_NATIVE", "unknown native error"});
    }
    job->tsfn_.Release();  // the finalizer settles the promise after queued events
  }).detach();
  return promise;
}

void Job::Emit(JobEvent event) {
  if (on_event_.IsEmpty()) return;
  tsfn_.NonBlockingCall(new JobEvent(std::move(event)));
}

void Job::Finalize(Napi::Env env, void*, Job* job) {
  std::unique_ptr<Job> owned(job);
  Napi::HandleScope scope(env);
  if (job->on_settled_) job->on_settled_();
  if (job->failed_) {
    job->deferred_.Reject(MakeError(env, job->error_).Value());
    return;
  }
  try {
    job->deferred_.Resolve(job->make_result_ ? job->make_result_(env) : env.Undefined());
  } catch (const Napi::Error& e) { job->deferred_.Reject(e.Value()); }
}

}  // namespace timelens
