#include "ns_ops.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <unordered_map>

namespace netns {

namespace {

// <linux/pidfd.h> of this libc predates it (kernel 6.11); the value is the kernel ABI.
#ifndef PIDFD_GET_NET_NAMESPACE
#define PIDFD_GET_NET_NAMESPACE _IO(0xFF, 4)
#endif

constexpr int kDeleteAttempts = 20;

void SleepMs(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// NS_GET_NSTYPE answers ENOTTY (or EINVAL) for anything that is not an nsfs file.
SysError CheckNetns(int fd, const std::string& path) {
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type < 0) {
    if (errno == ENOTTY || errno == EINVAL) return SysError::NotNetns(path);
    return SysError::FromErrno("ioctl", path);
  }
  if (type != CLONE_NEWNET) return SysError::NotNetns(path);
  return {};
}

SysError Describe(UniqueFd fd, NsInfo* out) {
  NsInfo info;
  info.fd = std::move(fd);
  SysError e = NsIdentityOf(info.fd.Get(), &info.identity);
  if (e.Failed()) return e;
  *out = std::move(info);
  return {};
}

// flock without blocking forever: at shutdown the pool must be able to join this thread.
SysError LockDir(int fd, const std::string& dir) {
  long waitMs = 1;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return SysError::FromErrno("flock", dir);
    if (StopRequested()) return SysError::Of(ECANCELED, "flock", dir);
    SleepMs(waitMs);
    if (waitMs < 4) waitMs *= 2;
  }
  return {};
}

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U  // linux/stat.h, Linux 6.8
#endif

// The 64-bit mount id (never reused, unlike STATX_MNT_ID's) of the mount `dir` resolves to, or 0
// when the kernel cannot tell.
uint64_t UniqueMountId(const std::string& dir) {
  struct statx sx;
  if (statx(AT_FDCWD, dir.c_str(), AT_NO_AUTOMOUNT, STATX_MNT_ID_UNIQUE, &sx) != 0) return 0;
  return (sx.stx_mask & STATX_MNT_ID_UNIQUE) != 0 ? sx.stx_mnt_id : 0;
}

// Directories this process made (or found) a shared mount point, by the unique id of that mount.
std::mutex gPreparedMu;
std::unordered_map<std::string, uint64_t> gPrepared;

// NETNS_NATIVE_RUNDIR_CACHE=0: prepare the directory before every pin, as ip does (A/B switch).
bool RunDirCache() {
  static const bool on = [] {
    const char* env = std::getenv("NETNS_NATIVE_RUNDIR_CACHE");
    return env == nullptr || std::string(env) != "0";
  }();
  return on;
}

SysError PrepareDirNow(const std::string& dir);

// The directory must be a shared mount so that unmounting a pin in one mount namespace unmounts it
// everywhere and the namespace can be freed. Making it one (mkdir, lock, mount MS_SHARED|MS_REC,
// which walks every pin below it) is done once per process and directory, as the C floor does, not
// before every pin as `ip netns add` must: while the directory still resolves to the very mount that
// was made shared (same unique mount id), there is nothing to do (docs/performance.md, "Request path
// (path)"). Someone unmounting it is seen (another id); someone changing the propagation of that
// same mount with `mount --make-private` is not.
SysError PrepareDir(const std::string& dir) {
  if (!RunDirCache()) return PrepareDirNow(dir);
  uint64_t id = UniqueMountId(dir);
  if (id != 0) {
    std::lock_guard<std::mutex> lock(gPreparedMu);
    auto it = gPrepared.find(dir);
    if (it != gPrepared.end() && it->second == id) return {};
  }
  SysError e = PrepareDirNow(dir);
  if (e.Failed()) return e;
  id = UniqueMountId(dir);
  if (id != 0) {
    std::lock_guard<std::mutex> lock(gPreparedMu);
    gPrepared[dir] = id;
  }
  return {};
}

// The lock stops parallel callers (other processes too) from stacking self bind mounts (Debian bug
// 949235).
SysError PrepareDirNow(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return SysError::FromErrno("mkdir", dir);
  UniqueFd lock(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock.Valid()) return SysError::FromErrno("open", dir);
  SysError e = LockDir(lock.Get(), dir);
  if (e.Failed()) return e;

  bool madeMountPoint = false;
  while (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    // EINVAL: not a mount point yet. Bind it onto itself once, then retry.
    if (errno != EINVAL || madeMountPoint) return SysError::FromErrno("mount", dir);
    if (mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) {
      return SysError::FromErrno("mount", dir);
    }
    // A bind of a shared /run joins /run's peer group, so every pin made under it would propagate
    // back to /run and be mounted twice. Private first, then shared again on the next turn: a peer
    // group of its own (iproute2 7.0 does the same; docs/errors.md, "Pins are mounted once").
    if (mount("", dir.c_str(), "none", MS_PRIVATE | MS_REC, nullptr) != 0) {
      return SysError::FromErrno("mount", dir);
    }
    madeMountPoint = true;
  }
  return {};  // closing `lock` releases the flock
}

// Undoes a half-made pin unless dismissed. Never touches a file it did not create.
class PinRollback {
 public:
  explicit PinRollback(std::string path) : path_(std::move(path)) {}
  ~PinRollback() {
    int saved = errno;
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
    if (created_) unlink(path_.c_str());
    errno = saved;
  }
  void Created() { created_ = true; }
  void Mounted() { mounted_ = true; }
  void Dismiss() { created_ = mounted_ = false; }

 private:
  std::string path_;
  bool created_ = false;
  bool mounted_ = false;
};

// Prepares the directory and creates the empty placeholder file a namespace is mounted onto.
SysError CreatePlaceholder(const std::string& dir, const std::string& path, PinRollback* rollback) {
  SysError e = PrepareDir(dir);
  if (e.Failed()) return e;
  UniqueFd placeholder(open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
  if (!placeholder.Valid()) return SysError::FromErrno("open", path);  // EEXIST: left untouched
  rollback->Created();
  return {};
}

}  // namespace

SysError OpenThreadNs(NsInfo* out) {
  const char* self = "/proc/thread-self/ns/net";
  UniqueFd fd(open(self, O_RDONLY | O_CLOEXEC));
  if (!fd.Valid()) return SysError::FromErrno("open", self);
  return Describe(std::move(fd), out);
}

SysError NsCreate(const std::string& dir, const std::string& name, NsInfo* out,
                  const std::function<void()>& inside) {
  std::string path = JoinPath(dir, name);
  PinRollback rollback(path);
  SysError e = CreatePlaceholder(dir, path, &rollback);
  if (e.Failed()) return e;

  NsInfo info;
  {
    // unshare() moves only this thread; the guard brings it home (or retires it) at scope end.
    NsGuard guard;
    e = guard.Unshare();
    if (e.Failed()) return e;
    if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      return SysError::FromErrno("mount", path);
    }
    rollback.Mounted();
    e = OpenThreadNs(&info);
    if (e.Failed()) return e;
    if (inside) inside();
  }
  rollback.Dismiss();
  *out = std::move(info);
  return {};
}

SysError NsDelete(const std::string& path) {
  for (int attempt = 1;; ++attempt) {
    // EINVAL: not mounted (a placeholder left by a crash); ENOENT: unlink reports it.
    if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      return SysError::FromErrno("umount2", path);
    }
    if (unlink(path.c_str()) == 0) return {};
    // EBUSY: the detach has not reached every mount namespace the pin propagated to yet.
    if (errno != EBUSY || attempt >= kDeleteAttempts || StopRequested()) {
      return SysError::FromErrno("unlink", path);
    }
    SleepMs(attempt < 5 ? 1 : 10);
  }
}

SysError NsAnonymous(NsInfo* out) {
  NsInfo info;
  {
    NsGuard guard;
    SysError e = guard.Unshare();
    if (e.Failed()) return e;
    e = OpenThreadNs(&info);
    if (e.Failed()) return e;
  }
  *out = std::move(info);
  return {};
}

SysError NsOpenPath(const std::string& path, NsInfo* out) {
  // O_NONBLOCK: a FIFO at `path` must fail the type check, not hang a worker in open().
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.Valid()) return SysError::FromErrno("open", path);
  SysError e = CheckNetns(fd.Get(), path);
  if (e.Failed()) return e;
  return Describe(std::move(fd), out);
}

SysError NsOpenPid(int pid, NsInfo* out) {
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));  // pidfds are close-on-exec
  if (!pidfd.Valid()) return SysError::FromErrno("pidfd_open");

  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd ns(ioctl(pidfd.Get(), PIDFD_GET_NET_NAMESPACE, 0));
  if (ns.Valid()) {
    int flags = fcntl(ns.Get(), F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(ns.Get(), F_SETFD, flags | FD_CLOEXEC);
  } else {
    if (errno != ENOTTY && errno != EINVAL) return SysError::FromErrno("ioctl", path);
    // Kernel < 6.11: go through /proc, then prove through the pidfd that the PID still names the
    // same process, so /proc/<pid> was not a recycled PID's.
    ns.Reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    int openErr = errno;
    if (syscall(SYS_pidfd_send_signal, pidfd.Get(), 0, nullptr, 0) != 0) {
      return SysError::FromErrno("pidfd_send_signal");
    }
    // ENOENT here means a zombie: alive for kill(0) but without namespaces, as ESRCH says.
    if (!ns.Valid()) return SysError::Of(openErr == ENOENT ? ESRCH : openErr, "open", path);
  }
  SysError e = CheckNetns(ns.Get(), path);
  if (e.Failed()) return e;
  return Describe(std::move(ns), out);
}

SysError NsPin(int fd, const std::string& dir, const std::string& name) {
  std::string source = "/proc/self/fd/" + std::to_string(fd);
  SysError e = CheckNetns(fd, source);  // before anything is created
  if (e.Failed()) return e;

  std::string path = JoinPath(dir, name);
  PinRollback rollback(path);
  e = CreatePlaceholder(dir, path, &rollback);
  if (e.Failed()) return e;
  if (mount(source.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) {
    return SysError::FromErrno("mount", path);
  }
  rollback.Dismiss();
  return {};
}

}  // namespace netns
