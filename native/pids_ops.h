// Which processes are in a network namespace (what `ip netns pids NAME` lists), without trusting a
// PID that may have been reused. Plain C++ with no napi; runs on a pool worker.
#pragma once

#include <vector>

#include "errors.h"

namespace netns {

// Scans /proc. For each PID it opens a pidfd first and asks about *that* process: through the pidfd
// (PIDFD_GET_NET_NAMESPACE, Linux >= 6.11), or else by stat of /proc/PID/ns/net followed by a pidfd
// liveness check, so a PID freed and reused during the scan is never reported for the new process's
// namespace. Processes that exit during the scan, zombies, and processes the caller may not inspect
// (EPERM/EACCES) are left out, as iproute2 leaves them out. Sorted ascending.
SysError NsPids(int nsFd, std::vector<int>* out);

}  // namespace netns
