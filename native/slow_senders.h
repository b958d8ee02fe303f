// Threads for requests whose sender the kernel holds long after the part that matters is done.
//
// Deleting a link returns from sendmsg() only after netdev_run_todo()'s rcu_barrier(), tens of
// milliseconds after the devices were unlisted (their names free) and RTM_DELLINK was multicast
// (docs/threading.md, "Link deletions: sender threads"). A pool worker sending it would be tied up
// for that long, and the fixed pool has 4. These threads only send on sockets made elsewhere and
// read nothing (the worker reads the answers): they never switch namespace (NsGuard refuses them)
// and touch no N-API.
// Started on demand up to a bound, they exit after an idle spell, so an idle process has none.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

#include "unique_function.h"

namespace netns {

class SlowSenders {
 public:
  // `max` threads at most (NETNS_NATIVE_SENDERS overrides it: 1..256); each exits after `idleMs`
  // without work.
  SlowSenders(size_t max, int idleMs);
  ~SlowSenders();
  SlowSenders(const SlowSenders&) = delete;
  SlowSenders& operator=(const SlowSenders&) = delete;

  // Any thread at home (a new thread inherits its creator's namespace). Runs `task` on an idle
  // sender, a new one while fewer than Max() live, or else the first one to finish. Returns false
  // once Stop() ran (the task is dropped).
  bool Run(UniqueFunction<void()> task);
  // JS thread, at env teardown: drops tasks not yet started and stops the threads. With `waitRunning`
  // it waits for running tasks and joins every thread. Without, when a task is still running (a
  // deletion whose sender sits in the kernel's RCU barrier, its link already unlisted) it returns
  // false at once: the threads finish on their own, and the caller must then leak this object,
  // which they still use. A process that exits right after a deletion so does not wait for the
  // barrier (the kernel completes the deletion whether the thread lives or not).
  bool Stop(bool waitRunning = true);

  size_t Max() const { return max_; }
  size_t Live() const;  // threads alive (busy or idle)
  size_t Busy() const;  // tasks running or queued

 private:
  struct Slot {
    std::thread thread;
    bool done = false;
  };
  void Main(Slot* slot);

  const size_t max_;
  const int idleMs_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<UniqueFunction<void()>> queue_;
  std::list<Slot> slots_;  // under mu_; finished ones are joined by the next Run() or Stop()
  size_t live_ = 0;
  size_t idle_ = 0;
  size_t running_ = 0;
  bool stopping_ = false;
};

}  // namespace netns
