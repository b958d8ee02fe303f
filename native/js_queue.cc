#include "js_queue.h"

#include "spin.h"

#include <ctime>
#include <exception>
#include <string>

namespace netns {

namespace {

void Check(napi_env env, napi_status status) {
  if (status != napi_ok) throw Napi::Error::New(env);
}

}  // namespace

JsQueue* JsQueue::Create(Napi::Env env) { return new JsQueue(env); }

JsQueue::JsQueue(Napi::Env env) : env_(env) {
  uv_loop_t* loop = nullptr;
  Check(env, napi_get_uv_event_loop(env, &loop));
  // The resource and async context stand in for the TSFN's own: every wake-up runs its tasks in a
  // callback scope, so async_hooks see one resource and process.nextTick callbacks and microtasks
  // (promise continuations) run when the batch is done, as after any libuv callback.
  napi_value resource;
  Check(env, napi_create_object(env, &resource));
  Check(env, napi_create_reference(env, resource, 1, &resource_));
  napi_value name = Napi::String::New(env, "netns-native");
  Check(env, napi_async_init(env, resource, name, &asyncContext_));
  if (uv_async_init(loop, &async_, OnAsync) != 0) {
    napi_async_destroy(env, asyncContext_);
    napi_delete_reference(env, resource_);
    throw Napi::Error::New(env, "netns-native: uv_async_init failed");
  }
  async_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));  // nothing holds the process yet
}

JsQueue::~JsQueue() = default;

void JsQueue::Post(JsTask task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;  // `task` is destroyed after the lock is released
    tasks_.push_back(std::move(task));
    if (polling_) {
      // The JS thread is spinning for exactly this: it runs the task itself.
      posted_.store(true, std::memory_order_release);
      return;
    }
    if (scheduled_) return;  // a wake-up is pending, or Drain is running and will see this task
    scheduled_ = true;
  }
  // Outside the lock: the send wakes the JS thread, which takes mu_ first thing in Drain. Close()
  // runs only after every poster thread was joined, so the handle cannot be closed in between.
  Wake();
}

void JsQueue::Wake() {
  // Thread-safe and lock-free: an atomic flag on the handle (a send while one is pending costs
  // nothing more) and one write to the loop's eventfd.
  uv_async_send(&async_);
}

void JsQueue::Hold(Napi::Env env) {
  ++holds_;
  if (holds_ == 1 && !closed_) uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
}

void JsQueue::Unhold(Napi::Env env) {
  if (holds_ == 0) return;
  --holds_;
  if (holds_ == 0 && !closed_) uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
}

void JsQueue::Close(void (*closed)(void*), void* arg) {
  std::deque<JsTask> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    dropped.swap(tasks_);
  }
  dropped.clear();
  onClosed_ = closed;
  onClosedArg_ = arg;
  napi_async_destroy(env_, asyncContext_);
  asyncContext_ = nullptr;
  napi_delete_reference(env_, resource_);
  resource_ = nullptr;
  // libuv calls OnAsync no more once the handle is closing.
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), OnClosed);
}

void JsQueue::OnClosed(uv_handle_t* handle) {
  auto* self = static_cast<JsQueue*>(handle->data);
  void (*closed)(void*) = self->onClosed_;
  void* arg = self->onClosedArg_;
  delete self;
  if (closed != nullptr) closed(arg);
}

void JsQueue::OnAsync(uv_async_t* handle) {
  auto* self = static_cast<JsQueue*>(handle->data);
  napi_env env = self->env_;
  napi_handle_scope handles = nullptr;
  if (napi_open_handle_scope(env, &handles) != napi_ok) return;
  napi_callback_scope scope = nullptr;
  napi_value resource = nullptr;
  if (napi_get_reference_value(env, self->resource_, &resource) != napi_ok || resource == nullptr ||
      napi_open_callback_scope(env, resource, self->asyncContext_, &scope) != napi_ok) {
    scope = nullptr;
  }
  try {
    self->Drain();
  } catch (...) {
    // Nothing may escape into libuv's C frames; in a terminating worker_thread even creating an
    // error fails, and there is no one left to tell.
  }
  // Closing the outermost callback scope runs process.nextTick callbacks and microtasks.
  if (scope != nullptr) napi_close_callback_scope(env, scope);
  napi_close_handle_scope(env, handles);
}

size_t JsQueue::Poll(int64_t maxNs, int64_t patienceNs, bool (*hopeless)(void*), void* arg) {
  if (running_) return 0;  // called from inside a task: the running batch goes first
  preempted_ = false;
  bool spin = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return 0;
    if (tasks_.empty()) {
      polling_ = true;
      posted_.store(false, std::memory_order_relaxed);
      spin = true;
    }
  }
  if (spin) {
    int64_t start = NowNs();
    int64_t last = start;
    for (;;) {
      bool got = false;
      for (int i = 0; i < 64; ++i) {
        if (posted_.load(std::memory_order_acquire)) {
          got = true;
          break;
        }
        CpuRelax();
      }
      if (got) break;
      int64_t now = NowNs();
      if (now - last > kPreemptedNs) {
        preempted_ = true;  // the CPUs are wanted elsewhere: the caller backs off
        break;
      }
      last = now;
      int64_t waited = now - start;
      if (waited > maxNs) break;
      if (waited > patienceNs && hopeless(arg)) break;
    }
  }
  std::deque<JsTask> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    polling_ = false;
    if (closed_) return 0;
    batch.swap(tasks_);
  }
  size_t n = RunBatch(batch);
  // What was posted while the batch ran was not woken for: hand it to the normal path.
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && !tasks_.empty() && !scheduled_) {
      scheduled_ = true;
      wake = true;
    }
  }
  if (wake) Wake();
  return n;
}

size_t JsQueue::RunBatch(std::deque<JsTask>& batch) {
  Napi::Env env(env_);
  running_ = true;
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
  running_ = false;
  return batch.size();
}

void JsQueue::Drain() {
  // Tasks posted while a batch runs join the next round of this same wake-up instead of making a
  // new one. After a few rounds the event loop gets its turn (timers, I/O) and the rest waits for
  // the next wake-up.
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
    RunBatch(batch);
    if (round == kMaxRounds) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) return;
        if (tasks_.empty()) {
          scheduled_ = false;
          return;
        }
      }
      Wake();  // scheduled_ stays set: this wake-up is the pending one
      return;
    }
  }
}

void ReportUncaught(Napi::Env env, const Napi::Error& error) {
  // A callback that throws is like one that throws in an fs callback: 'uncaughtException', and the
  // rest of the batch still has to be delivered, so it is raised here and delivery goes on.
  napi_fatal_exception(env, error.Value());
}

}  // namespace netns
