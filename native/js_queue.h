// The one ThreadSafeFunction of an addon instance. Any thread posts tasks; the JS thread runs them
// in order, many per wake-up. It also owns process keep-alive: the TSFN is ref'd exactly while
// something holds it (a pending job or a JS ref()), so idle sockets never keep Node running.
#pragma once

#include <napi.h>

#include <atomic>
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
  // The TSFN owns the queue: it is deleted by the TSFN's finalizer, because Node may still hand the
  // context pointer to CallJs (with a null env) after our cleanup hook ran.
  static JsQueue* Create(Napi::Env env);
  JsQueue(const JsQueue&) = delete;
  JsQueue& operator=(const JsQueue&) = delete;

  // Who makes the TSFN call that wakes the JS thread. Node holds the TSFN's mutex while it wakes
  // the JS thread, and the JS thread takes that mutex first thing; a low-priority worker preempted
  // inside it would stall the event loop behind every other runnable thread. Workers therefore
  // hand the call to the relay (the I/O thread: normal priority, mostly asleep).
  enum class Wake { kDirect, kRelay };

  // Any thread. Dropped silently once Close() ran.
  void Post(JsTask task, Wake wake = Wake::kDirect);

  // The relay: `wake` must make the relay thread call Kick() soon and return true, or return false
  // when it cannot (then the poster calls the TSFN itself). Set once, before threads start.
  void SetRelay(UniqueFunction<bool()> wake) { relay_ = std::move(wake); }
  // Relay thread: makes the TSFN call a poster left to it.
  void Kick();

  // JS thread only: napi_ref/unref_threadsafe_function must not be called elsewhere.
  void Hold(Napi::Env env);
  void Unhold(Napi::Env env);

  // JS thread, after every producer thread has been joined. Drops undelivered tasks; the object
  // is deleted later by the TSFN finalizer.
  void Close();

 private:
  explicit JsQueue(Napi::Env env);
  ~JsQueue() = default;
  static void CallJs(Napi::Env env, Napi::Function, JsQueue* self, void*);
  void Drain(Napi::Env env);
  void UpdateRef(Napi::Env env);

  using Tsfn = Napi::TypedThreadSafeFunction<JsQueue, void, CallJs>;
  Tsfn tsfn_;
  std::mutex mu_;
  std::deque<JsTask> tasks_;
  bool scheduled_ = false;  // a TSFN call is pending or draining: later posts ride along with it
  bool closed_ = false;
  UniqueFunction<bool()> relay_;
  std::atomic<bool> kickOwed_{false};
  size_t holds_ = 0;        // JS thread only
  bool referenced_ = true;  // state of the TSFN handle; JS thread only
};

}  // namespace netns
