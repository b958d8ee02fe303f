#include "pids_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>

#include "fd.h"
#include "ns_guard.h"

namespace netns {

namespace {

// Kernel ABI (Linux 6.11); this libc's <linux/pidfd.h> predates it.
#ifndef PIDFD_GET_NET_NAMESPACE
#define PIDFD_GET_NET_NAMESPACE _IO(0xFF, 4)
#endif

// A /proc entry naming a process: all digits, within pid_t.
bool ParsePid(const char* name, int* pid) {
  if (*name < '1' || *name > '9') return false;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(name, &end, 10);
  if (*end != '\0' || errno != 0 || v <= 0 || v > INT_MAX) return false;
  *pid = static_cast<int>(v);
  return true;
}

enum class Probe { kIn, kOut, kUnknown };

// Whether the process behind `pidfd` (which was `pid` when the pidfd was opened) is in `target`.
// `ioctlWorks` is cleared once the kernel shows it lacks PIDFD_GET_NET_NAMESPACE.
Probe InNamespace(int pidfd, int pid, const NsIdentity& target, bool* ioctlWorks) {
  NsIdentity id;
  if (*ioctlWorks) {
    UniqueFd ns(ioctl(pidfd, PIDFD_GET_NET_NAMESPACE, 0));
    if (ns.Valid()) {
      if (NsIdentityOf(ns.Get(), &id).Failed()) return Probe::kUnknown;
      return id == target ? Probe::kIn : Probe::kOut;
    }
    if (errno != ENOTTY && errno != EINVAL) return Probe::kUnknown;  // gone, zombie, no access
    *ioctlWorks = false;
  }
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Probe::kUnknown;
  // The stat was of whatever process had the PID then; it was ours only if ours is still alive.
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) != 0) return Probe::kUnknown;
  id.dev = static_cast<uint64_t>(st.st_dev);
  id.ino = static_cast<uint64_t>(st.st_ino);
  return id == target ? Probe::kIn : Probe::kOut;
}

}  // namespace

SysError NsPids(int nsFd, std::vector<int>* out) {
  NsIdentity target;
  SysError e = NsIdentityOf(nsFd, &target);
  if (e.Failed()) return e;

  int dirFd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0) return SysError::FromErrno("open", "/proc");
  DIR* dir = fdopendir(dirFd);
  if (dir == nullptr) {
    SysError err = SysError::FromErrno("fdopendir", "/proc");
    close(dirFd);
    return err;
  }
  std::vector<int> pids;
  bool ioctlWorks = true;
  for (;;) {
    errno = 0;
    dirent* ent = readdir(dir);
    if (ent == nullptr) {
      if (errno != 0) {
        SysError err = SysError::FromErrno("readdir", "/proc");
        closedir(dir);
        return err;
      }
      break;
    }
    int pid = 0;
    if (!ParsePid(ent->d_name, &pid)) continue;
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));  // close-on-exec
    if (!pidfd.Valid()) continue;  // exited since readdir
    if (InNamespace(pidfd.Get(), pid, target, &ioctlWorks) == Probe::kIn) pids.push_back(pid);
    if (StopRequested()) break;
  }
  closedir(dir);
  std::sort(pids.begin(), pids.end());
  *out = std::move(pids);
  return {};
}

}  // namespace netns
