#include "js_queue.h"

#include <exception>
#include <string>

namespace netns {

JsQueue* JsQueue::Create(Napi::Env env) { return new JsQueue(env); }

JsQueue::JsQueue(Napi::Env env) {
  tsfn_ = Tsfn::New(env, "netns-native", 0 /* unbounded: producers never block */, 1, this,
                    [](Napi::Env, void*, JsQueue* self) { delete self; });
  UpdateRef(env);
}

void JsQueue::Post(JsTask task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  tasks_.push_back(std::move(task));
  if (scheduled_) return;
  // Called under the lock so Close() cannot release the TSFN between the check and the call.
  if (tsfn_.NonBlockingCall() == napi_ok) scheduled_ = true;
}

void JsQueue::Hold(Napi::Env env) {
  ++holds_;
  UpdateRef(env);
}

void JsQueue::Unhold(Napi::Env env) {
  if (holds_ > 0) --holds_;
  UpdateRef(env);
}

void JsQueue::UpdateRef(Napi::Env env) {
  bool want = holds_ > 0;
  if (want == referenced_) return;
  referenced_ = want;
  if (want) {
    tsfn_.Ref(env);
  } else {
    tsfn_.Unref(env);
  }
}

void JsQueue::Close() {
  std::deque<JsTask> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    dropped.swap(tasks_);
  }
  // Abort, not Release: a released TSFN would still dispatch queued calls to this object.
  tsfn_.Abort();
}

void JsQueue::CallJs(Napi::Env env, Napi::Function, JsQueue* self, void*) {
  // env is null when Node empties the queue of a closing TSFN; self must not be touched then.
  if (env == nullptr) return;
  self->Drain(env);
}

void JsQueue::Drain(Napi::Env env) {
  std::deque<JsTask> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    scheduled_ = false;
    batch.swap(tasks_);
  }
  while (!batch.empty()) {
    JsTask task = std::move(batch.front());
    batch.pop_front();
    Napi::HandleScope scope(env);  // one batch may hold thousands of tasks
    try {
      task(env);
    } catch (const Napi::Error&) {
      Requeue(batch);  // a JS callback threw: Node reports it as uncaught, like an fs callback
      throw;
    } catch (const std::exception& e) {
      Requeue(batch);
      throw Napi::Error::New(env, std::string("netns-native: ") + e.what());
    }
  }
}

// Tasks cannot run while an exception is pending, so the rest of a batch waits for the next wake-up.
void JsQueue::Requeue(std::deque<JsTask>& rest) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!rest.empty()) {
    tasks_.push_front(std::move(rest.back()));
    rest.pop_back();
  }
  if (!tasks_.empty() && !scheduled_ && !closed_ && tsfn_.NonBlockingCall() == napi_ok) {
    scheduled_ = true;
  }
}

}  // namespace netns
