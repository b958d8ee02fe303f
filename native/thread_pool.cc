#include "thread_pool.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <ctime>
#include <new>

#include "fd.h"
#include "spin.h"
#include "threads.h"

namespace netns {

Deliver DeliverError(SysError e) {
  return [e = std::move(e)](Napi::Env env, Napi::Function cb, Napi::Object) {
    if (!cb.IsEmpty()) cb.Call({MakeError(env, e).Value()});
  };
}

Deliver DeliverDone() {
  return [](Napi::Env env, Napi::Function cb, Napi::Object) { cb.Call({env.Null()}); };
}

namespace {

// Workers burn CPU in the kernel (namespace setup and teardown, rtnetlink). With more busy threads
// than CPUs the JS thread would wait its turn behind them and the event loop would stall for tens
// of milliseconds; a lower weight lets it run first. NETNS_NATIVE_WORKER_NICE (0..19, default 10)
// tunes it. setpriority with a TID affects that thread alone.
int WorkerNice() { return static_cast<int>(EnvInt("NETNS_NATIVE_WORKER_NICE", 0, 19, 10)); }

void LowerPriority(int delta) {
  if (delta == 0) return;
  auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, tid);
  if (nice == -1 && errno != 0) return;
  setpriority(PRIO_PROCESS, tid, std::min(nice + delta, 19));
}

// A worker that just finished a job spins this long for the next one before it sleeps on the
// condition variable: an awaited request is typically followed, tens of microseconds later, by the
// next one, and waking a sleeping thread costs about as much as the kernel's work for a simple
// request (docs/performance.md, "Levers of the request path"). NETNS_NATIVE_SPIN_US (0 disables).
int64_t SpinNs() { return static_cast<int64_t>(EnvInt("NETNS_NATIVE_SPIN_US", 0, 10000, 100)) * 1000; }

SysError NoWorkerError() {
  SysError e = SysError::Of(ECANCELED, "setns");
  e.message = "ECANCELED: netns-native has no worker thread left in the home network namespace";
  return e;
}

}  // namespace

ThreadPool::ThreadPool(JsQueue& js, NsIdentity home, size_t workers)
    : js_(js), home_(home), workers_(workers), nice_(WorkerNice()), spinNs_(SpinNs()) {
  sem_init(&wake_, 0, 0);
}

ThreadPool::~ThreadPool() {
  // Stop() normally ran; a joinable std::thread must never be destroyed (std::terminate).
  bool detached = false;
  for (Slot& slot : slots_) {
    if (slot.thread.joinable()) {
      slot.thread.detach();
      detached = true;
    }
  }
  // A detached worker may still be inside sem_wait: the semaphore stays (leaked) for it.
  if (!detached) sem_destroy(&wake_);
}

bool ThreadPool::ClaimSleeperLocked() {
  if (sleepers_ <= wakes_) return false;
  ++wakes_;
  return true;
}

void ThreadPool::Post() {
  // sem_post never waits: an atomic increment, and a FUTEX_WAKE when a worker sleeps in sem_wait.
  sem_post(&wake_);
}

void ThreadPool::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  slots_.resize(workers_);
  for (size_t i = 0; i < workers_; ++i) {
    slots_[i].thread = SpawnQuietThread([this, i] { WorkerMain(i); });
    ++live_;
  }
}

void ThreadPool::Submit(Napi::Env env, Napi::Function cb, Napi::Object ctx, Work work) {
  uint64_t id = 0;
  if (!cb.IsEmpty() || !ctx.IsEmpty()) {
    id = nextId_++;
    Pending pending;
    if (!cb.IsEmpty()) pending.cb = Napi::Persistent(cb);
    if (!ctx.IsEmpty()) pending.ctx = Napi::Persistent(ctx);
    pending_.emplace(id, std::move(pending));
  }
  js_.Hold(env);
  Enqueue(id, std::move(work), true);
}

void ThreadPool::SubmitDeferred(Napi::Env env, Work work) {
  js_.Hold(env);
  Enqueue(0, std::move(work), false);
}

void ThreadPool::Enqueue(uint64_t id, Work work, bool wakeNow) {
  bool stranded = false;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || (live_ == 0 && respawning_ == 0)) {
      stranded = true;
    } else {
      queue_.push_back(Job{id, std::move(work)});
      queued_.store(queue_.size(), std::memory_order_release);
      outstanding_.fetch_add(1, std::memory_order_acq_rel);
      // A spinning worker takes the job without a futex wake-up; only jobs beyond the spinners
      // need a sleeper woken.
      wake = wakeNow && queue_.size() > spinners_ && ClaimSleeperLocked();
    }
  }
  if (stranded) {
    PostResult(id, DeliverError(NoWorkerError()));
    return;
  }
  if (wake) Post();
}

void ThreadPool::WakeWorker() {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake = queue_.size() > spinners_ && ClaimSleeperLocked();
  }
  if (wake) Post();
}

void ThreadPool::Stop() {
  std::vector<std::thread> threads;
  std::deque<Job> dropped;  // destroyed outside the lock: their fds close here
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
    for (Slot& slot : slots_) threads.push_back(std::move(slot.thread));
  }
  // One post per thread: each sleeper takes one and sees stopping_; spare ones are never taken.
  for (size_t i = 0; i < threads.size(); ++i) Post();
  for (std::thread& t : threads) {
    if (t.joinable()) t.join();
  }
  pending_.clear();
}

size_t ThreadPool::LiveThreads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

void ThreadPool::WorkerMain(size_t slot) {
  pthread_setname_np(pthread_self(), "netns-worker");
  LowerPriority(nice_);

  // The home fd is this thread's own namespace (rule 4: thread-self, not self), which must be the one
  // the JS thread had at load; a thread born elsewhere would restore into the wrong namespace.
  WorkerState state;
  state.stopping = &stopping_;
  UniqueFd home(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  NsIdentity identity;
  if (!home.Valid() || NsIdentityOf(home.Get(), &identity).Failed() || identity != home_) {
    Retire(slot, false);  // a replacement would be born in the same wrong place
    return;
  }
  state.homeFd = home.Get();
  state.home = identity;
  SetCurrentWorker(&state);

  bool justWorked = false;
  for (;;) {
    Job job;
    bool chain = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Spin only when nothing else of ours runs: then a CPU is free for it. With other jobs
      // running the CPUs are taken, and a spinner would slow the very threads it waits for.
      if (justWorked && queue_.empty() && spinners_ == 0 && spinNs_ > 0 && !stopping_ &&
          outstanding_.load(std::memory_order_acquire) == 0) {
        if (spinSkip_ > 0) {
          --spinSkip_;
        } else {
          ++spinners_;
          lock.unlock();
          spins.fetch_add(1, std::memory_order_relaxed);
          bool hit = SpinForJob();
          lock.lock();
          --spinners_;
          // Spins that keep finding nothing are pure cost (the JS thread is slower than the
          // spin, typically because it waits for a CPU itself): pass up more and more chances.
          if (hit) {
            spinHits.fetch_add(1, std::memory_order_relaxed);
            spinMisses_ = 0;
          } else if (++spinMisses_ >= 3) {
            spinSkip_ = 1u << std::min(spinMisses_ - 2, 3u);  // 2 .. 8 chances
          }
        }
      }
      while (!stopping_ && queue_.empty()) {
        ++sleepers_;
        lock.unlock();
        // A post made after the unlock is not lost: it raises the count, and sem_wait returns.
        while (sem_wait(&wake_) != 0 && errno == EINTR) {
        }
        lock.lock();
        --sleepers_;
        if (wakes_ > 0) --wakes_;
      }
      if (stopping_) break;
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_release);
      // Jobs submitted together were announced by one wake-up: pass it on.
      chain = !queue_.empty() && queue_.size() > spinners_ && ClaimSleeperLocked();
    }
    if (chain) Post();
    justWorked = true;

    Deliver deliver;
    try {
      deliver = job.work();
    } catch (const std::bad_alloc&) {
      deliver = DeliverError(SysError::Of(ENOMEM, "malloc"));
    } catch (const std::exception& ex) {
      deliver = DeliverError(SysError::Exception("netns-worker", ex.what()));
    } catch (...) {
      deliver = DeliverError(SysError::Exception("netns-worker", nullptr));
    }
    job.work = Work();
    // Before the post: the JS thread may run the result and submit the next job at once, and
    // poll() must then see that one alone.
    outstanding_.fetch_sub(1, std::memory_order_acq_rel);
    PostResult(job.id, std::move(deliver));

    if (state.poisoned) break;  // rule 3: report, then never run another job
  }

  SetCurrentWorker(nullptr);
  if (state.poisoned) {
    // The number may have been closed under us and reused by someone else: close it only if it
    // still is our home namespace.
    NsIdentity now;
    if (NsIdentityOf(home.Get(), &now).Failed() || now != identity) home.Release();
    Retire(slot, true);
  }
}

namespace {

// After a preempted spin nobody spins for this long.
constexpr int64_t kBusyPauseNs = 20 * 1000 * 1000;

}  // namespace

// Worker, holding no lock: true when a job arrived. Bounded by spinNs_, and gives up (and stops
// every worker from spinning for a while) as soon as it sees it was preempted.
bool ThreadPool::SpinForJob() {
  int64_t start = NowNs();
  if (start < spinPauseUntil_.load(std::memory_order_relaxed)) return false;
  int64_t last = start;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (queued_.load(std::memory_order_acquire) > 0) return true;
      CpuRelax();
    }
    if (stopping_.load(std::memory_order_relaxed)) return false;
    int64_t now = NowNs();
    if (now - last > kPreemptedNs) {
      spinPreempted.fetch_add(1, std::memory_order_relaxed);
      spinPauseUntil_.store(now + kBusyPauseNs, std::memory_order_relaxed);
      return false;
    }
    if (now - start > spinNs_) return false;
    last = now;
  }
}

void ThreadPool::Retire(size_t slot, bool replace) {
  std::deque<Job> stranded;
  bool respawn = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    slots_[slot].dead = true;
    --live_;
    if (replace && !stopping_) {
      ++respawning_;
      respawn = true;
    }
    stranded = TakeStrandedLocked();
  }
  if (respawn) js_.Post([this, slot](Napi::Env) { Respawn(slot); });
  FailStranded(std::move(stranded));
}

// JS thread: a thread spawned here starts in the home namespace.
void ThreadPool::Respawn(size_t slot) {
  std::thread old;
  std::deque<Job> stranded;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --respawning_;
    if (stopping_ || !slots_[slot].dead) return;
    old = std::move(slots_[slot].thread);
    try {
      slots_[slot].thread = SpawnQuietThread([this, slot] { WorkerMain(slot); });
      slots_[slot].dead = false;
      ++live_;
    } catch (...) {
      stranded = TakeStrandedLocked();
    }
  }
  if (old.joinable()) old.join();  // it has finished its last job and is returning
  FailStranded(std::move(stranded));
}

std::deque<ThreadPool::Job> ThreadPool::TakeStrandedLocked() {
  std::deque<Job> jobs;
  if (live_ == 0 && respawning_ == 0) {
    jobs.swap(queue_);
    queued_.store(0, std::memory_order_release);
    outstanding_.fetch_sub(jobs.size(), std::memory_order_acq_rel);
  }
  return jobs;
}

void ThreadPool::FailStranded(std::deque<Job> jobs) {
  for (Job& job : jobs) PostResult(job.id, DeliverError(NoWorkerError()));
}

void ThreadPool::PostResult(uint64_t id, Deliver deliver) {
  js_.Post([this, id, deliver = std::move(deliver)](Napi::Env env) mutable {
    Complete(env, id, std::move(deliver));
  });
}

void ThreadPool::Complete(Napi::Env env, uint64_t id, Deliver deliver) {
  if (id == 0) {
    js_.Unhold(env);  // first: the callback may throw
    if (deliver) deliver(env, Napi::Function(), Napi::Object());
    return;
  }
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending pending = std::move(it->second);
  pending_.erase(it);
  js_.Unhold(env);  // first: the callback may throw
  if (!deliver) return;
  Napi::Function cb = pending.cb.IsEmpty() ? Napi::Function() : pending.cb.Value();
  Napi::Object ctx = pending.ctx.IsEmpty() ? Napi::Object() : pending.ctx.Value();
  deliver(env, cb, ctx);
}

}  // namespace netns
