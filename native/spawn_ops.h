// Processes started inside a network namespace with `ip netns exec` semantics, and no helper
// program: a pool worker forks, and the child enters the namespace itself before exec.
//
// The worker never switches namespace: only the forked child does (setns, unshare(CLONE_NEWNS),
// mounts), and the child is a separate single-threaded process that only makes raw system calls
// until it exec's. Everything it needs (argv, envp, candidate paths, the /etc/netns bind list,
// error texts) is prepared before fork. See docs/threading.md.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "errors.h"
#include "fd.h"

namespace netns {

enum class StdioMode { kPipe = 0, kInherit = 1, kIgnore = 2 };

struct SpawnRequest {
  UniqueFd nsFd;                        // the job's own dup of the namespace fd
  std::string etcName;                  // bind /etc/netns/<etcName>/* over /etc/*; empty: no binds
  std::string sysfsSource;              // source of the namespace's /sys mount (iproute2: the name)
  std::string file;                     // the command as the caller gave it, for errors
  std::vector<std::string> candidates;  // execve is tried on each in order (the PATH search)
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::string cwd;               // empty: the process's own
  StdioMode stdio[3] = {StdioMode::kPipe, StdioMode::kPipe, StdioMode::kPipe};
  int nice = 0;  // the JS thread's nice value: workers run lower and a fork inherits the thread's
};

struct SpawnResult {
  pid_t pid = 0;
  UniqueFd pidfd;     // close-on-exec
  UniqueFd stdio[3];  // our ends of the stdio socket pairs (close-on-exec); invalid unless kPipe
};

// Worker: fork; the child enters the namespace and exec's. Returns once the child has exec'd. When
// any step in the child fails, the child has been reaped and the error names the step (syscall
// 'setns', 'unshare', 'mount' with path '/sys', 'chdir' with the cwd, 'execve' with the command).
SysError SpawnInNamespace(SpawnRequest& req, SpawnResult* out);

struct ChildExit {
  int code = -1;   // exit status, or -1 when killed by a signal
  int signal = 0;  // the signal that killed it, or 0
};

// Reaps the child behind `pidfd`: at once if it has exited (*exited says whether it had), or, with
// `block` (workers only), waiting for it. Only this process's own child can be reaped, and only
// through its pidfd: children of libuv (child_process) are never touched.
SysError ReapChild(int pidfd, bool block, ChildExit* status, bool* exited);

}  // namespace netns
