// flock(2) for on-disk state shared with other processes (the CNI host-local store, lib/cni/ipam).
// Plain C++ with no napi: runs whole on a pool worker, since LOCK_EX blocks until the holder lets go.
#pragma once

#include "errors.h"

namespace netns {

// flock(fd, LOCK_EX), retried on EINTR. The lock belongs to fd's open file description and goes
// away when the last fd of it is closed, or when the holder dies.
SysError FileLockExclusive(int fd);

}  // namespace netns
