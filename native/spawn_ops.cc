#include "spawn_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>

namespace netns {

namespace {

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

constexpr const char* kEtcNetnsDir = "/etc/netns";
constexpr int kErrnoTexts = 134;  // errno values up to EHWPOISON get their strerror text

// The step of the child that failed, sent through the error pipe.
enum Stage : int32_t {
  kStageDup = 1,
  kStageSetns,
  kStageUnshare,
  kStageMakeSlave,
  kStageMountSys,
  kStageChdir,
  kStageExec,
};

struct ChildReport {
  int32_t stage = 0;
  int32_t err = 0;
};

struct Bind {
  std::string source;  // /etc/netns/NAME/x
  std::string target;  // /etc/x
  std::string prefix;  // the warning iproute2 prints when the bind fails, up to the errno text
};

// Everything the child reads, as plain pointers into memory prepared before fork: between fork and
// execve the child may only make async-signal-safe calls (no malloc, no locks, no C++ runtime).
struct ChildPlan {
  int nsFd = -1;
  int errFd = -1;
  int stdioFd[3] = {-1, -1, -1};  // dup2'ed onto 0..2; -1: keep the inherited fd
  const char* sysfsSource = nullptr;
  std::vector<const Bind*> binds;
  const std::vector<std::string>* errnoText = nullptr;
  std::vector<char*> argv;  // null-terminated
  std::vector<char*> envp;  // null-terminated
  std::vector<const char*> candidates;
  const char* cwd = nullptr;
  int nice = 0;
};

// ---- child side: async-signal-safe only ----------------------------------------------------------

void WriteAll(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    len -= static_cast<size_t>(n);
  }
}

[[noreturn]] void ChildFail(const ChildPlan& plan, Stage stage, int err) {
  ChildReport report;
  report.stage = stage;
  report.err = err;
  WriteAll(plan.errFd, &report, sizeof report);
  _exit(127);
}

// What `ip netns exec` prints for a bind it could not make; the command still runs.
void WarnBindFailed(const ChildPlan& plan, const Bind& bind, int err) {
  const char* text = "unknown error";
  if (plan.errnoText && err > 0 && err < static_cast<int>(plan.errnoText->size())) {
    text = (*plan.errnoText)[static_cast<size_t>(err)].c_str();
  }
  struct iovec iov[3] = {
      {const_cast<char*>(bind.prefix.data()), bind.prefix.size()},
      {const_cast<char*>(text), strlen(text)},
      {const_cast<char*>("\n"), 1},
  };
  ssize_t ignored = writev(STDERR_FILENO, iov, 3);
  (void)ignored;
}

// Marks every fd above 2 close-on-exec (the error pipe must stay open until execve succeeds).
void CloseOnExecAbove2(int errFd) {
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  // Kernels before 5.11: close them one by one.
  struct rlimit lim;
  rlim_t max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) max = lim.rlim_cur;
  for (rlim_t fd = 3; fd < max; ++fd) {
    if (static_cast<int>(fd) != errFd) close(static_cast<int>(fd));
  }
}

[[noreturn]] void ChildMain(const ChildPlan& plan) {
  // Every signal stays blocked (the worker's mask) until the dispositions are back to default: a
  // handler Node installed must never run in this copy of the process.

  // stdio first, so the warnings below reach the child's own stderr, as with ip netns exec. Every
  // source fd is >= 3, so no dup2 overwrites another's source.
  for (int i = 0; i < 3; ++i) {
    if (plan.stdioFd[i] >= 0) {
      if (dup2(plan.stdioFd[i], i) < 0) ChildFail(plan, kStageDup, errno);
    } else {
      int flags = fcntl(i, F_GETFD);
      if (flags > 0 && (flags & FD_CLOEXEC)) fcntl(i, F_SETFD, flags & ~FD_CLOEXEC);
    }
  }

  // The network namespace, then a mount namespace of our own in which nothing propagates back to
  // the host (iproute2's netns_switch).
  if (setns(plan.nsFd, CLONE_NEWNET) != 0) ChildFail(plan, kStageSetns, errno);
  if (unshare(CLONE_NEWNS) != 0) ChildFail(plan, kStageUnshare, errno);
  if (mount("", "/", "none", MS_SLAVE | MS_REC, nullptr) != 0) {
    ChildFail(plan, kStageMakeSlave, errno);
  }
  // A sysfs mounted now describes the namespace of the mounting process: /sys/class/net lists
  // the namespace's links.
  unsigned long sysFlags = 0;
  if (umount2("/sys", MNT_DETACH) != 0) {
    // Nothing to detach, or it cannot be: overlay it, read-only if what is there is read-only.
    struct statfs st;
    if (statfs("/sys", &st) == 0 && (st.f_flags & ST_RDONLY)) sysFlags = MS_RDONLY;
  }
  if (mount(plan.sysfsSource, "/sys", "sysfs", sysFlags, nullptr) != 0) {
    ChildFail(plan, kStageMountSys, errno);
  }
  for (const Bind* bind : plan.binds) {
    if (mount(bind->source.c_str(), bind->target.c_str(), "none", MS_BIND, nullptr) != 0) {
      WarnBindFailed(plan, *bind, errno);
    }
  }

  // Workers run at a lower priority and fork copies the thread's: give back the JS thread's.
  setpriority(PRIO_PROCESS, 0, plan.nice);
  if (plan.cwd != nullptr && chdir(plan.cwd) != 0) ChildFail(plan, kStageChdir, errno);
  CloseOnExecAbove2(plan.errFd);

  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);  // libc's own: EINVAL
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  // execvpe's rules: a candidate that is missing or not a directory moves on; EACCES is reported
  // only when no later candidate works; anything else stops the search.
  int err = ENOENT;
  bool sawEacces = false;
  for (const char* path : plan.candidates) {
    execve(path, plan.argv.data(), plan.envp.data());
    err = errno;
    if (err == EACCES) {
      sawEacces = true;
      continue;
    }
    if (err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT) {
      continue;
    }
    break;
  }
  if (sawEacces && (err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV ||
                    err == ETIMEDOUT)) {
    err = EACCES;
  }
  ChildFail(plan, kStageExec, err);
}

// ---- parent side (the worker) --------------------------------------------------------------------

// The files `ip netns exec` would bind: every entry of /etc/netns/NAME, in name order.
std::vector<Bind> ListBinds(const std::string& name) {
  std::vector<Bind> binds;
  if (name.empty()) return binds;
  std::string dir = std::string(kEtcNetnsDir) + "/" + name;
  DIR* d = opendir(dir.c_str());  // missing or unreadable: nothing to bind, as in iproute2
  if (d == nullptr) return binds;
  while (struct dirent* entry = readdir(d)) {
    std::string file = entry->d_name;
    if (file == "." || file == "..") continue;
    Bind bind;
    bind.source = dir + "/" + file;
    bind.target = "/etc/" + file;
    bind.prefix = "Bind " + bind.source + " -> " + bind.target + " failed: ";
    binds.push_back(std::move(bind));
  }
  closedir(d);
  std::sort(binds.begin(), binds.end(),
            [](const Bind& a, const Bind& b) { return a.target < b.target; });
  return binds;
}

std::vector<std::string> ErrnoTexts() {
  std::vector<std::string> texts(kErrnoTexts);
  char buf[256];
  for (int i = 1; i < kErrnoTexts; ++i) texts[static_cast<size_t>(i)] = strerror_r(i, buf, sizeof buf);
  return texts;
}

// The child's ends must not be 0..2, or a dup2 onto one of those could overwrite another's source.
SysError AboveStdio(UniqueFd* fd) {
  if (fd->Get() > 2) return {};
  UniqueFd moved(fcntl(fd->Get(), F_DUPFD_CLOEXEC, 3));
  if (!moved.Valid()) return SysError::FromErrno("fcntl");
  *fd = std::move(moved);
  return {};
}

SysError StdioFds(const SpawnRequest& req, UniqueFd ours[3], UniqueFd theirs[3]) {
  for (int i = 0; i < 3; ++i) {
    switch (req.stdio[i]) {
      case StdioMode::kPipe: {
        // A socket pair, as libuv gives child_process children: shutdown() half-closes stdin.
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
          return SysError::FromErrno("socketpair");
        }
        ours[i].Reset(sv[0]);
        theirs[i].Reset(sv[1]);
        break;
      }
      case StdioMode::kIgnore:
        theirs[i].Reset(open("/dev/null", O_RDWR | O_CLOEXEC));
        if (!theirs[i].Valid()) return SysError::FromErrno("open", "/dev/null");
        break;
      case StdioMode::kInherit:
        continue;
    }
    SysError e = AboveStdio(&theirs[i]);
    if (e.Failed()) return e;
  }
  return {};
}

SysError StageError(const SpawnRequest& req, const ChildReport& report) {
  switch (report.stage) {
    case kStageDup:
      return SysError::Of(report.err, "dup2");
    case kStageSetns:
      return SysError::Of(report.err, "setns");
    case kStageUnshare:
      return SysError::Of(report.err, "unshare");
    case kStageMakeSlave:
      return SysError::Of(report.err, "mount", "/");
    case kStageMountSys:
      return SysError::Of(report.err, "mount", "/sys");
    case kStageChdir:
      return SysError::Of(report.err, "chdir", req.cwd);
    case kStageExec:
      return SysError::Of(report.err, "execve", req.file);
    default:
      return SysError::Of(EIO, "spawn", req.file);
  }
}

// Reaps a child that has exited or is about to (it failed before exec, or was just killed).
void ReapBlocking(int pidfd) {
  siginfo_t info;
  while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED) != 0 &&
         errno == EINTR) {
  }
}

}  // namespace

SysError SpawnInNamespace(SpawnRequest& req, SpawnResult* out) {
  if (req.candidates.empty()) return SysError::Of(ENOENT, "execve", req.file);

  std::vector<Bind> binds = ListBinds(req.etcName);
  std::vector<std::string> errnoText;
  if (!binds.empty()) errnoText = ErrnoTexts();

  UniqueFd ours[3], theirs[3];
  SysError e = StdioFds(req, ours, theirs);
  if (e.Failed()) return e;
  int errPipe[2];
  if (pipe2(errPipe, O_CLOEXEC) != 0) return SysError::FromErrno("pipe2");
  UniqueFd errRead(errPipe[0]), errWrite(errPipe[1]);

  ChildPlan plan;
  plan.nsFd = req.nsFd.Get();
  plan.errFd = errWrite.Get();
  for (int i = 0; i < 3; ++i) plan.stdioFd[i] = theirs[i].Valid() ? theirs[i].Get() : -1;
  plan.sysfsSource = req.sysfsSource.c_str();
  for (const Bind& bind : binds) plan.binds.push_back(&bind);
  plan.errnoText = &errnoText;
  for (std::string& arg : req.argv) plan.argv.push_back(&arg[0]);
  plan.argv.push_back(nullptr);
  for (std::string& var : req.env) plan.envp.push_back(&var[0]);
  plan.envp.push_back(nullptr);
  for (const std::string& path : req.candidates) plan.candidates.push_back(path.c_str());
  plan.cwd = req.cwd.empty() ? nullptr : req.cwd.c_str();
  plan.nice = req.nice;

  pid_t pid = fork();
  if (pid < 0) return SysError::FromErrno("fork");
  if (pid == 0) ChildMain(plan);

  errWrite.Reset();
  for (UniqueFd& fd : theirs) fd.Reset();

  // Nobody else reaps our child (libuv waits for its own children by PID), so the PID cannot be
  // reused before this.
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.Valid()) {
    e = SysError::FromErrno("pidfd_open");
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return e;
  }

  // EOF: execve closed the pipe (close-on-exec). A report: the child failed and exits.
  ChildReport report;
  size_t got = 0;
  while (got < sizeof report) {
    ssize_t n = read(errRead.Get(), reinterpret_cast<char*>(&report) + got, sizeof report - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != 0) {
    ReapBlocking(pidfd.Get());
    if (got != sizeof report) return SysError::Of(EIO, "spawn", req.file);
    return StageError(req, report);
  }

  out->pid = pid;
  out->pidfd = std::move(pidfd);
  for (int i = 0; i < 3; ++i) out->stdio[i] = std::move(ours[i]);
  return {};
}

SysError ReapChild(int pidfd, bool block, ChildExit* status, bool* exited) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  *exited = false;
  for (;;) {
    if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
               WEXITED | (block ? 0 : WNOHANG)) == 0) {
      break;
    }
    if (errno != EINTR) return SysError::FromErrno("waitid");
  }
  if (info.si_pid == 0) return {};  // still running
  *exited = true;
  if (info.si_code == CLD_EXITED) {
    status->code = info.si_status;
    status->signal = 0;
  } else {
    status->code = -1;
    status->signal = info.si_status;
  }
  return {};
}

}  // namespace netns
