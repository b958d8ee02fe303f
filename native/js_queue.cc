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

void JsQueue::Post(JsTask task, Wake wake) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    tasks_.push_back(std::move(task));
    if (scheduled_) return;  // a call is pending, or Drain is running and will see this task
    scheduled_ = true;
  }
  // Outside our lock for the same reason as the relay: the call wakes the JS thread, which then
  // takes mu_ in Drain. Close() runs only after every poster thread was joined, so the TSFN cannot
  // go away in between.
  if (wake == Wake::kRelay && relay_) {
    kickOwed_.store(true, std::memory_order_release);
    if (relay_()) return;
    if (!kickOwed_.exchange(false, std::memory_order_acq_rel)) return;  // the relay took it anyway
  }
  tsfn_.NonBlockingCall();
}

void JsQueue::Kick() {
  if (kickOwed_.exchange(false, std::memory_order_acq_rel)) tsfn_.NonBlockingCall();
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
  try {
    self->Drain(env);
  } catch (...) {
    // Nothing may escape into Node's C frames; in a terminating worker_thread even creating an
    // error fails, and there is no one left to tell.
  }
}

void JsQueue::Drain(Napi::Env env) {
  // Tasks posted while a batch runs join the next round of this same call instead of making a new
  // TSFN call: producers then stay off the TSFN's mutex while the JS thread is busy. After a few
  // rounds the event loop gets its turn (timers, I/O) and the rest waits for the next call.
  constexpr int kMaxRounds = 8;
  for (int round = 1;; ++round) {
    std::deque<JsTask> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      if (tasks_.empty()) {
        scheduled_ = false;
        return;
      }
      batch.swap(tasks_);
    }
    for (JsTask& task : batch) {
      Napi::HandleScope scope(env);  // one batch may hold thousands of tasks
      try {
        task(env);
      } catch (const Napi::Error& e) {
        ReportUncaught(env, e);
      } catch (const std::exception& e) {
        ReportUncaught(env, Napi::Error::New(env, std::string("netns-native: ") + e.what()));
      }
    }
    if (round == kMaxRounds) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) return;
        if (tasks_.empty()) {
          scheduled_ = false;
          return;
        }
      }
      tsfn_.NonBlockingCall();  // scheduled_ stays set: this call is the pending one
      return;
    }
  }
}

void ReportUncaught(Napi::Env env, const Napi::Error& error) {
  // A callback that throws is like one that throws in an fs callback: 'uncaughtException'. Node
  // would only print a DEP0168 warning for an exception left to escape a TSFN call, and the rest
  // of the batch still has to be delivered, so it is raised here and delivery goes on.
  napi_fatal_exception(env, error.Value());
}

}  // namespace netns
