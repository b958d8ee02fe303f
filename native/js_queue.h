// The one wake-up channel of an addon instance into its JS thread. Any thread posts tasks; the JS
// thread runs them in order, many per wake-up. It also owns process keep-alive: the uv_async_t is
// ref'd exactly while something holds it (a pending job or a JS ref()), so idle sockets never keep
// Node running.
//
// Not a ThreadSafeFunction: Node holds the TSFN's mutex while it signals the loop, and the JS thread
// takes that mutex first thing when it wakes, so a producer descheduled right after its signal
// stalled the event loop (docs/performance.md). Here producers hold our mutex only to push a task,
// and call uv_async_send (lock-free; coalesces) after releasing it. No lock of ours is ever held
// across a system call or a libuv call.
#pragma once

#include <napi.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>

#include "unique_function.h"

namespace netns {

// Runs on the JS thread. Captures plain C++ data only (never napi handles), because a task that is
// dropped at shutdown is destroyed on whichever thread drops it.
using JsTask = UniqueFunction<void(Napi::Env)>;

// JS thread: raises 'uncaughtException' for an error a JS callback threw, then delivery goes on.
void ReportUncaught(Napi::Env env, const Napi::Error& error);

class JsQueue {
 public:
  // JS thread. The object owns a uv_async_t on the environment's loop; after Close() it deletes
  // itself from the handle's close callback.
  static JsQueue* Create(Napi::Env env);
  JsQueue(const JsQueue&) = delete;
  JsQueue& operator=(const JsQueue&) = delete;

  // Any thread. Dropped silently once Close() ran.
  void Post(JsTask task);

  // JS thread: wait up to `maxNs` (spinning, no system call) for a task to be posted and run what
  // is queued then, as a wake-up would have, but without the wake-up. Gives up early when
  // `hopeless(arg)` says the awaited work cannot finish in time (checked after `patienceNs`).
  // Producers skip uv_async_send while the JS thread spins. Returns the number of tasks run.
  size_t Poll(int64_t maxNs, int64_t patienceNs, bool (*hopeless)(void*), void* arg);
  // Whether the last Poll stopped because its thread was preempted (the machine is busy).
  bool PollPreempted() const { return preempted_; }

  // JS thread only: uv_ref/uv_unref must not be called elsewhere.
  void Hold(Napi::Env env);
  void Unhold(Napi::Env env);

  // JS thread, after every producer thread has been joined. Drops undelivered tasks, closes the
  // handle (no callback runs afterwards) and calls `closed(arg)` once libuv has let go of it, right
  // before the object deletes itself.
  void Close(void (*closed)(void*) = nullptr, void* arg = nullptr);

 private:
  explicit JsQueue(Napi::Env env);
  ~JsQueue();
  static void OnAsync(uv_async_t* handle);
  static void OnClosed(uv_handle_t* handle);
  void Drain();
  size_t RunBatch(std::deque<JsTask>& batch);
  void Wake();

  napi_env env_;
  uv_async_t async_;
  napi_ref resource_ = nullptr;                  // async_hooks resource of the callback scope
  napi_async_context asyncContext_ = nullptr;
  std::mutex mu_;
  std::deque<JsTask> tasks_;
  bool scheduled_ = false;  // a wake-up is pending or Drain runs: later posts ride along with it
  bool closed_ = false;
  bool running_ = false;
  bool preempted_ = false;            // JS thread only: see PollPreempted              // JS thread only: Drain or Poll is running tasks
  bool polling_ = false;              // the JS thread spins in Poll: posts need no wake-up
  std::atomic<bool> posted_{false};   // a task was posted while polling_
  void (*onClosed_)(void*) = nullptr;
  void* onClosedArg_ = nullptr;
  size_t holds_ = 0;  // JS thread only
};

}  // namespace netns
