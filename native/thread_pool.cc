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

// A worker that just finished a job spins this long for the next one before it sleeps (on the
// pool's semaphore): an awaited request is typically followed, tens of microseconds later, by the
// next one, and waking a sleeping thread costs about as much as the kernel's work for a simple
// request (docs/performance.md, "Levers of the request path"). NETNS_NATIVE_SPIN_US (0 disables).
int64_t SpinNs() { return static_cast<int64_t>(EnvInt("NETNS_NATIVE_SPIN_US", 0, 10000, 100)) * 1000; }

// After the JS thread received a result with nothing else of ours outstanding, a worker may spin this
// long for the next job (when the JS thread has been following its results with a new job that
// soon): it would cover what the spin after the job cannot when the job was long, the JS thread's
// own wake-up for the result and the verb's code before its next request. Off by default: on this
// 2-vCPU machine under load it made small requests slower, and it was not measured idle
// (docs/performance.md, "Small requests (rq, 17:53 UTC session)"). NETNS_NATIVE_CHAIN_SPIN_US turns it
// on; NETNS_NATIVE_CHAIN_CALL=0 then only extends a spin already running instead of also waking a
// sleeping worker to spin.
int64_t ChainSpinNs() { return static_cast<int64_t>(EnvInt("NETNS_NATIVE_CHAIN_SPIN_US", 0, 10000, 0)) * 1000; }
bool ChainCall() { return EnvInt("NETNS_NATIVE_CHAIN_CALL", 0, 1, 1) != 0; }

SysError NoWorkerError() {
  SysError e = SysError::Of(ECANCELED, "setns");
  e.message = "ECANCELED: netns-native has no worker thread left in the home network namespace";
  return e;
}

}  // namespace

ThreadPool::ThreadPool(JsQueue& js, NsIdentity home, size_t workers)
    : js_(js),
      home_(home),
      workers_(workers),
      nice_(WorkerNice()),
      spinNs_(SpinNs()),
      chainSpinNs_(ChainSpinNs()),
      chainCall_(ChainCall()) {
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
  if (idleCompleteAt_ != 0) {
    // Did the JS thread follow its last result with this job soon enough for a spinner to catch it?
    bool soon = NowNs() - idleCompleteAt_ <= chainSpinNs_.load(std::memory_order_relaxed);
    if (soon) chainScore_ = std::min(chainScore_ + 1, 3u);
    else if (chainScore_ > 0) --chainScore_;
    idleCompleteAt_ = 0;
  }
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
      wake = wakeNow && queue_.size() > spinners_ + (spinCall_ ? 1u : 0u) && ClaimSleeperLocked();
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
    wake = queue_.size() > spinners_ + (spinCall_ ? 1u : 0u) && ClaimSleeperLocked();
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
      if (justWorked) posting_.fetch_sub(1, std::memory_order_acq_rel);
      bool maySpin = justWorked;
      for (;;) {
        if (stopping_ || !queue_.empty()) break;
        // Spin only when nothing else of ours runs: then a CPU is free for it. With other jobs
        // running the CPUs are taken, and a spinner would slow the very threads it waits for.
        if (maySpin && spinners_ == 0 && outstanding_.load(std::memory_order_acquire) == 0) {
          maySpin = false;
          // Asked for by the JS thread (NoteIdleComplete): the next job is expected.
          bool called = spinUntil_.load(std::memory_order_relaxed) > NowNs();
          if (!called && (spinNs_ == 0 || spinSkip_ > 0)) {
            if (spinSkip_ > 0) --spinSkip_;
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
            } else if (!called && ++spinMisses_ >= 3) {
              spinSkip_ = 1u << std::min(spinMisses_ - 2, 3u);  // 2 .. 8 chances
            }
            continue;
          }
        }
        maySpin = false;
        ++sleepers_;
        lock.unlock();
        // A post made after the unlock is not lost: it raises the count, and sem_wait returns.
        while (sem_wait(&wake_) != 0 && errno == EINTR) {
        }
        lock.lock();
        --sleepers_;
        if (wakes_ > 0) --wakes_;
        if (spinCall_) {
          spinCall_ = false;
          maySpin = true;
        }
      }
      if (stopping_) break;
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_release);
      // Jobs submitted together were announced by one wake-up: pass it on.
      chain = !queue_.empty() && queue_.size() > spinners_ + (spinCall_ ? 1u : 0u) && ClaimSleeperLocked();
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
    // poll() must then see that one alone. Until this worker decides to spin or sleep, the JS
    // thread wakes nobody else to spin (NoteIdleComplete).
    posting_.fetch_add(1, std::memory_order_acq_rel);
    outstanding_.fetch_sub(1, std::memory_order_acq_rel);
    PostResult(job.id, std::move(deliver));

    if (state.poisoned) {  // rule 3: report, then never run another job
      posting_.fetch_sub(1, std::memory_order_acq_rel);
      break;
    }
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
    if (now - start > spinNs_ && now > spinUntil_.load(std::memory_order_relaxed)) return false;
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

// JS thread: a result arrives with nothing else of ours outstanding. If the JS thread has been
// following such results with its next job within chainSpinNs_, a worker spins for it until then:
// the one still spinning after the job goes on longer, or, when none spins (its spin ran out while
// the JS thread was waking up), a sleeping one is woken for it now, so its wake-up overlaps the JS
// code that produces the job instead of following it.
void ThreadPool::NoteIdleComplete() {
  int64_t chainNs = chainSpinNs_.load(std::memory_order_relaxed);
  if (chainNs == 0) return;
  int64_t now = NowNs();
  idleCompleteAt_ = now;
  if (chainScore_ < 2 || now < spinPauseUntil_.load(std::memory_order_relaxed)) return;
  spinUntil_.store(now + chainNs, std::memory_order_relaxed);
  chainSpins.fetch_add(1, std::memory_order_relaxed);
  if (!chainCall_.load(std::memory_order_relaxed)) return;
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake = !stopping_ && !spinCall_ && spinners_ == 0 && queue_.empty() &&
           posting_.load(std::memory_order_acquire) == 0 && ClaimSleeperLocked();
    if (wake) spinCall_ = true;
  }
  if (wake) {
    chainCalls.fetch_add(1, std::memory_order_relaxed);
    Post();
  }
}

void ThreadPool::Complete(Napi::Env env, uint64_t id, Deliver deliver) {
  if (outstanding_.load(std::memory_order_acquire) == 0) NoteIdleComplete();
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
