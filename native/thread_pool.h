// A fixed set of addon-owned worker threads for every blocking system call (threading rule 5).
//
// Not libuv's pool: jobs here may switch namespaces (rule 2). Results come back through the
// instance's JsQueue. A worker that fails to return to its home namespace reports its job, retires
// and is replaced by a thread spawned from the JS thread, which is always at home, so the number of
// threads never grows.
#pragma once

#include <napi.h>

#include <semaphore.h>

#include <atomic>
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
  // JS thread. A job whose Deliver needs no JS callback or context (it is called with empty ones),
  // and that wakes no worker yet: WakeWorker() does, once for all jobs submitted so. Held like Submit.
  void SubmitDeferred(Napi::Env env, Work work);
  // JS thread: wake one sleeping worker when jobs are waiting that no spinning worker will take. A
  // worker that takes a job while more wait wakes the next one itself, so the JS thread makes at
  // most one wake-up per batch of jobs.
  void WakeWorker();
  // JS thread, at env teardown: drops queued jobs, waits for running ones, joins every thread.
  void Stop();

  size_t LiveThreads() const;
  // netlinkTune (A/B measurements in one process): NETNS_NATIVE_CHAIN_SPIN_US, in ns.
  void SetChainSpinNs(int64_t ns) { chainSpinNs_.store(ns, std::memory_order_relaxed); }
  void SetChainCall(bool on) { chainCall_.store(on, std::memory_order_relaxed); }
  size_t Workers() const { return workers_; }

  // Any thread: jobs submitted and not finished by a worker yet (queued or running).
  size_t Outstanding() const { return outstanding_.load(std::memory_order_acquire); }
  // Any thread: jobs waiting for a worker to take them.
  size_t Queued() const { return queued_.load(std::memory_order_acquire); }

 private:
  struct Job {
    uint64_t id = 0;  // 0: no JS callback or context (nothing in pending_)
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
  bool SpinForJob();
  void NoteIdleComplete();
  void Retire(size_t slot, bool replace);
  void Respawn(size_t slot);
  void Enqueue(uint64_t id, Work work, bool wake);
  void PostResult(uint64_t id, Deliver deliver);
  void Complete(Napi::Env env, uint64_t id, Deliver deliver);
  std::deque<Job> TakeStrandedLocked();
  // Under mu_: whether a sleeper is left that no post is on its way to; if so, counts the post the
  // caller then makes with Post() after releasing mu_.
  bool ClaimSleeperLocked();
  void Post();
  void FailStranded(std::deque<Job> jobs);

  JsQueue& js_;
  const NsIdentity home_;
  const size_t workers_;
  const int nice_;  // added to each worker's nice value

  mutable std::mutex mu_;
  // Sleeping workers wait here; a wake-up is a sem_post. Not a condition variable: glibc's
  // pthread_cond_signal can block the signalling thread until a waiter it woke earlier has run
  // (docs/threading.md, "Waking a worker never blocks"), and the signaller is the JS thread.
  sem_t wake_;
  size_t wakes_ = 0;  // posts not yet taken by a sleeper (under mu_)
  std::deque<Job> queue_;
  std::vector<Slot> slots_;
  size_t live_ = 0;        // started and not retired
  size_t respawning_ = 0;  // retired workers whose replacement is on its way
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> queued_{0};       // queue_.size(), readable without the lock
  std::atomic<size_t> outstanding_{0};  // queued + running
  size_t spinners_ = 0;                 // workers spinning for the next job (under mu_)
  size_t sleepers_ = 0;                 // workers waiting on wake_ (under mu_)
  const int64_t spinNs_;                // how long a worker that just finished spins (0: never)
  std::atomic<int64_t> spinPauseUntil_{0};  // the machine looked busy: nobody spins until then
  unsigned spinMisses_ = 0;  // consecutive spins that found no job (under mu_)
  unsigned spinSkip_ = 0;    // chances to spin still to pass up because of them (under mu_)
  // The next job is expected soon after the JS thread received a result (NoteIdleComplete): a
  // spinning worker goes on until then, and a sleeping one may be called to spin (spinCall_).
  std::atomic<int64_t> chainSpinNs_;    // how long after such a result (0: never)
  std::atomic<bool> chainCall_;         // whether a sleeper is woken to spin when none does
  std::atomic<int64_t> spinUntil_{0};
  bool spinCall_ = false;               // under mu_: a sleeper was woken to spin, not for a job
  std::atomic<unsigned> posting_{0};    // workers between a job's end and their next spin or sleep
  // JS thread: when the last result came with nothing else outstanding (0: a job came since), and
  // a saturating score 0..3 of whether the JS thread submitted its next job within chainSpinNs_.
  int64_t idleCompleteAt_ = 0;
  unsigned chainScore_ = 2;

 public:
  // Counters for netlinkStats(): spins begun, spins that found a job, spins cut short as preempted.
  std::atomic<uint64_t> spins{0}, spinHits{0}, spinPreempted{0};
  // Results after which a worker was asked to spin on (spinUntil_ set), and sleepers woken for it.
  std::atomic<uint64_t> chainSpins{0}, chainCalls{0};

  // JS thread only.
  std::unordered_map<uint64_t, Pending> pending_;
  uint64_t nextId_ = 1;
};

}  // namespace netns
