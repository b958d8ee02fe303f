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
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <unordered_map>
#include <vector>

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

// Spare placeholders. Allocating the placeholder's inode is a create's most expensive step after
// unshare() on a busy ext4 directory: without a journal, ext4 passes over every recently freed inode
// of the group, reading each one's inode-table block, and pins are freed by the thousand
// (docs/performance.md, "Namespace create (nsc, 17:53 UTC session)"). So each create is followed
// by a refill job that makes an unnamed inode (O_TMPFILE) in the directory for the next create,
// which names it (linkat) instead. Spares are held by fds of this process: a process that
// dies takes them with it, and they never appear under the directory.
struct SpareSlot {
  std::vector<int> fds;  // ready spares (at most kSpareTarget)
  int making = 0;        // refills under way
  int claims = 0;        // creates submitted that have not taken theirs yet
};
std::mutex gSpareMu;
std::condition_variable gSpareCv;
std::unordered_map<std::string, SpareSlot> gSpares;  // by directory; references stay valid

// Ready spares a refill aims at beyond the creates that claimed one. Two, so that a create that
// follows another at once (the JS between them is shorter than a refill) finds one ready while the
// refill after the previous create is still walking the inode table.
constexpr int kSpareTarget = 2;
// A spare being made is waited for this long at most: its allocation is the one the create would
// do itself, started earlier.
constexpr auto kSpareWait = std::chrono::milliseconds(20);

// NETNS_NATIVE_SPARE_PIN=0: every create allocates its placeholder itself (A/B switch).
bool SparePins() {
  static const bool on = [] {
    const char* env = std::getenv("NETNS_NATIVE_SPARE_PIN");
    return env == nullptr || std::string(env) != "0";
  }();
  return on;
}

// The claimed spare: a ready one, else the one being made. Releases the claim.
UniqueFd TakeSpare(const std::string& dir) {
  std::unique_lock<std::mutex> lock(gSpareMu);
  SpareSlot& slot = gSpares[dir];
  if (slot.claims > 0) --slot.claims;
  gSpareCv.wait_for(lock, kSpareWait, [&] { return !slot.fds.empty() || slot.making == 0 || StopRequested(); });
  if (slot.fds.empty()) return UniqueFd();
  UniqueFd fd(slot.fds.back());
  slot.fds.pop_back();
  return fd;
}

// A spare still unnamed (the name was taken, the directory failed) serves the next create.
void ReturnSpare(const std::string& dir, UniqueFd fd) {
  std::lock_guard<std::mutex> lock(gSpareMu);
  SpareSlot& slot = gSpares[dir];
  if (static_cast<int>(slot.fds.size()) < kSpareTarget) slot.fds.push_back(fd.Release());
}

// Names the spare `path`. False when it cannot: the caller then creates the placeholder itself, so
// that any error it reports is that open()'s, as without spares.
bool NameSpare(const std::string& dir, const std::string& path, UniqueFd spare) {
  // Through /proc, not AT_EMPTY_PATH: that one needs CAP_DAC_READ_SEARCH.
  std::string source = "/proc/self/fd/" + std::to_string(spare.Get());
  if (linkat(AT_FDCWD, source.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) return true;
  // EXDEV: the directory was mounted anew after the spare was made there; of no use any more.
  if (errno != EXDEV) ReturnSpare(dir, std::move(spare));
  return false;
}

// Prepares the directory and creates the empty placeholder file a namespace is mounted onto, naming
// `spare` when there is one. A spare that could be named needs no PrepareDir check: it was made in
// the directory's prepared mount, and linkat fails with EXDEV unless `path` is in that same mount.
SysError CreatePlaceholder(const std::string& dir, const std::string& path, PinRollback* rollback,
                           UniqueFd spare = UniqueFd()) {
  if (spare.Valid() && NameSpare(dir, path, std::move(spare))) {
    rollback->Created();
    return {};
  }
  SysError e = PrepareDir(dir);
  if (e.Failed()) return e;
  UniqueFd placeholder(open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
  if (!placeholder.Valid()) return SysError::FromErrno("open", path);  // EEXIST: left untouched
  rollback->Created();
  return {};
}

// Whether `dir` is the mount PrepareDir made shared: a spare made in any other would not serve.
bool Prepared(const std::string& dir) {
  uint64_t id = UniqueMountId(dir);
  if (id == 0) return false;
  std::lock_guard<std::mutex> lock(gPreparedMu);
  auto it = gPrepared.find(dir);
  return it != gPrepared.end() && it->second == id;
}

}  // namespace

SysError OpenThreadNs(NsInfo* out) {
  const char* self = "/proc/thread-self/ns/net";
  UniqueFd fd(open(self, O_RDONLY | O_CLOEXEC));
  if (!fd.Valid()) return SysError::FromErrno("open", self);
  return Describe(std::move(fd), out);
}

bool NsClaimSpare(const std::string& dir) {
  if (!SparePins()) return false;
  std::lock_guard<std::mutex> lock(gSpareMu);
  ++gSpares[dir].claims;
  return true;
}

void NsRefillSpare(const std::string& dir) {
  if (!Prepared(dir)) return;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(gSpareMu);
      SpareSlot& slot = gSpares[dir];
      if (static_cast<int>(slot.fds.size()) + slot.making >= slot.claims + kSpareTarget) return;
      ++slot.making;
    }
    // Mode 0, as open() makes the placeholder. A failure (no O_TMPFILE on this file system, no
    // write access) leaves no spare: the create allocates its own.
    int fd = open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0);
    {
      std::lock_guard<std::mutex> lock(gSpareMu);
      SpareSlot& slot = gSpares[dir];
      --slot.making;
      if (fd >= 0) slot.fds.push_back(fd);
    }
    gSpareCv.notify_all();
    if (fd < 0 || StopRequested()) return;
  }
}

SysError NsCreate(const std::string& dir, const std::string& name, NsInfo* out,
                  const std::function<void()>& inside, bool claimedSpare) {
  std::string path = JoinPath(dir, name);
  PinRollback rollback(path);
  SysError e = CreatePlaceholder(dir, path, &rollback, claimedSpare ? TakeSpare(dir) : UniqueFd());
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
