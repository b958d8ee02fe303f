#include "ns_guard.h"

#include <sched.h>
#include <sys/stat.h>

#include <cerrno>

namespace netns {

namespace {
thread_local WorkerState* tls_worker = nullptr;
}  // namespace

SysError NsIdentityOf(int fd, NsIdentity* out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return SysError::FromErrno("fstat");
  out->dev = static_cast<uint64_t>(st.st_dev);
  out->ino = static_cast<uint64_t>(st.st_ino);
  return {};
}

WorkerState* CurrentWorker() { return tls_worker; }

void SetCurrentWorker(WorkerState* state) { tls_worker = state; }

bool StopRequested() {
  return tls_worker != nullptr && tls_worker->stopping != nullptr &&
         tls_worker->stopping->load(std::memory_order_relaxed);
}

SysError NsGuard::CheckThread(const char* syscall) const {
  SysError e;
  if (tls_worker == nullptr || tls_worker->homeFd < 0) {
    // Rules 1 and 2: the JS thread and libuv's pool must never change namespace.
    e = SysError::Of(EPERM, syscall);
    e.message = std::string("netns-native: refusing ") + syscall + " outside an addon worker thread";
  } else if (tls_worker->poisoned || switched_) {
    e = SysError::Of(EBUSY, syscall);
    e.message = std::string("netns-native: refusing ") + syscall + " on a thread that is not at home";
  }
  return e;
}

SysError NsGuard::Enter(int nsFd) {
  SysError e = CheckThread("setns");
  if (e.Failed()) return e;
  // Already there: setns needs CAP_SYS_ADMIN even into the caller's own namespace, and an
  // unprivileged process must still read its own links, routes and sysctls (docs/threading.md,
  // "Entering the namespace a worker is already in").
  NsIdentity target;
  if (!NsIdentityOf(nsFd, &target).Failed() && target == tls_worker->home) return {};
  if (setns(nsFd, CLONE_NEWNET) != 0) return SysError::FromErrno("setns");
  switched_ = true;
  return {};
}

SysError NsGuard::Unshare() {
  SysError e = CheckThread("unshare");
  if (e.Failed()) return e;
  if (unshare(CLONE_NEWNET) != 0) return SysError::FromErrno("unshare");
  switched_ = true;
  return {};
}

bool NsGuard::Restore() {
  if (!switched_) return true;
  switched_ = false;
  int saved = errno;
  bool ok = setns(tls_worker->homeFd, CLONE_NEWNET) == 0;
  if (ok) {
    // If someone closed our fd and the number was reused for another namespace, setns "worked".
    NsIdentity now;
    ok = !NsIdentityOf(tls_worker->homeFd, &now).Failed() && now == tls_worker->home;
  }
  errno = saved;
  if (!ok) tls_worker->poisoned = true;  // rule 3: this thread is never reused
  return ok;
}

}  // namespace netns
