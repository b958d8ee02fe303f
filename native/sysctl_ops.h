// Per-namespace sysctls under /proc/sys/net. Plain C++ with no napi: each runs whole on a pool
// worker, which enters the namespace (NsGuard) to open the file.
//
// Why the thread must be inside: /proc/sys/net resolves a path against the *opening thread's*
// network namespace (current->nsproxy->net_ns), not the process's or the mount's. An fd opened there
// stays bound to that namespace's value, wherever it is read or written afterwards.
#pragma once

#include <string>

#include "errors.h"

namespace netns {

// True when `path` is "/proc/sys/net/" followed by non-empty components that are not "." or "..".
// The layer above validates keys; this is the addon's own guard before any syscall.
bool IsNetSysctlPath(const std::string& path);

// Opens and reads the whole file (values are small; capped at 1 MiB) inside the namespace behind
// nsFd, then comes home. EISDIR for a directory, the open's errno (ENOENT) for a missing key.
SysError SysctlRead(int nsFd, const std::string& path, std::string* out);
// Opens and writes `value` in one write(2), as sysctl(8) does, inside the namespace behind nsFd.
SysError SysctlWrite(int nsFd, const std::string& path, const std::string& value);

}  // namespace netns
