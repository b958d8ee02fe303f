// A fixed set of addon-owned worker threads for every blocking system call (threading rule 5).
//
// Not libuv's pool: jobs here may switch namespaces (rule 2). Results come back through the
// instance's JsQueue. A worker that fails to return to its home namespace reports its job, retires
// and is replaced by a thread spawned from the JS thread, which is always at home, so the number of
// threads never grows.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "errors.h"
#include "js_queue.h"
#include "ns_guard.h"
#include "unique_function.h"

namespace netns {

// A job's result, run on the JS thread with the callback and context object given to Submit (either
// may be empty). Like JsTask, it captures plain C++ data only.
using Deliver = UniqueFunction<void(Napi::Env, Napi::Function cb, Napi::Object ctx)>;
// The blocking part of a job, run on a worker.
using Work = UniqueFunction<Deliver()>;

// Calls cb(error).
Deliver DeliverError(SysError e);
// Calls cb(null).
Deliver DeliverDone();

class ThreadPool {
 public:
  ThreadPool(JsQueue& js, NsIdentity home, size_t workers);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // JS thread. Workers inherit the JS thread's namespace, which is home.
  void Start();
  // JS thread. The job holds the process alive until its result is delivered.
  void Submit(Napi::Env env, Napi::Function cb, Napi::Object ctx, Work work);
  // JS thread, at env teardown: drops queued jobs, waits for running ones, joins every thread.
  void Stop();

  size_t LiveThreads() const;
  size_t Workers() const { return workers_; }

 private:
  struct Job {
    uint64_t id = 0;
    Work work;
  };
  struct Slot {
    std::thread thread;
    bool dead = false;
  };
  struct Pending {
    Napi::FunctionReference cb;
    Napi::ObjectReference ctx;
  };

  void WorkerMain(size_t slot);
  void Retire(size_t slot, bool replace);
  void Respawn(size_t slot);
  void PostResult(uint64_t id, Deliver deliver);
  void Complete(Napi::Env env, uint64_t id, Deliver deliver);
  std::deque<Job> TakeStrandedLocked();
  void FailStranded(std::deque<Job> jobs);

  JsQueue& js_;
  const NsIdentity home_;
  const size_t workers_;
  const int nice_;  // added to each worker's nice value

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<Slot> slots_;
  size_t live_ = 0;        // started and not retired
  size_t respawning_ = 0;  // retired workers whose replacement is on its way
  std::atomic<bool> stopping_{false};

  // JS thread only.
  std::unordered_map<uint64_t, Pending> pending_;
  uint64_t nextId_ = 1;
};

}  // namespace netns
