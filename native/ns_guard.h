// Namespace identity and the one sanctioned way to switch a thread's network namespace.
//
// Only pool workers may switch (ARCHITECTURE.md threading rules 1-3): NsGuard refuses on any other
// thread, and a worker whose switch back fails is marked poisoned so the pool retires it.
#pragma once

#include <atomic>
#include <cstdint>

#include "errors.h"

namespace netns {

struct NsIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const NsIdentity& o) const { return dev == o.dev && ino == o.ino; }
  bool operator!=(const NsIdentity& o) const { return !(*this == o); }
};

// fstat of an nsfs fd: (st_dev, st_ino) is what identifies a namespace.
SysError NsIdentityOf(int fd, NsIdentity* out);

// State of the calling pool worker; set by the pool for the worker's lifetime.
struct WorkerState {
  int homeFd = -1;                              // this thread's own namespace, opened at start
  NsIdentity home;                              // what homeFd must still refer to
  bool poisoned = false;                        // switching back failed: never run another job
  const std::atomic<bool>* stopping = nullptr;  // the pool is shutting down
};

WorkerState* CurrentWorker();  // nullptr on threads that are not pool workers
void SetCurrentWorker(WorkerState* state);

// True on a worker once the pool began stopping: bounded waits (flock, EBUSY retries) give up.
bool StopRequested();

// Switches the calling worker into another network namespace for one scope and back.
class NsGuard {
 public:
  NsGuard() = default;
  ~NsGuard() { Restore(); }
  NsGuard(const NsGuard&) = delete;
  NsGuard& operator=(const NsGuard&) = delete;

  // setns(nsFd, CLONE_NEWNET). Nothing changes on failure.
  SysError Enter(int nsFd);
  // unshare(CLONE_NEWNET): the thread moves into a brand-new namespace.
  SysError Unshare();
  // setns(home) and check homeFd still is home. False when either failed: the worker is poisoned
  // and exits after its job.
  bool Restore();

 private:
  SysError CheckThread(const char* syscall) const;
  bool switched_ = false;
};

}  // namespace netns
