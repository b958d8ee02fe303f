// Namespace system-call sequences. Plain C++ with no napi: each runs whole on a pool worker (the
// ones that switch namespace need one; the rest may block on mounts and locks).
#pragma once

#include <functional>
#include <string>

#include "errors.h"
#include "fd.h"
#include "ns_guard.h"

namespace netns {

struct NsInfo {
  UniqueFd fd;  // close-on-exec
  NsIdentity identity;
};

// Opens the calling thread's network namespace (/proc/thread-self/ns/net, threading rule 4).
SysError OpenThreadNs(NsInfo* out);

// iproute2's netns_add: prepare `dir`, create `dir/name` exclusively, pin a new namespace there.
// `inside`, when given, runs while the thread is in the new namespace (after the pin succeeded); it
// must not fail the creation.
// `claimedSpare`: NsClaimSpare(dir) was called for this create, which then names a spare
// placeholder instead of creating the file when there is one (or one is being made).
SysError NsCreate(const std::string& dir, const std::string& name, NsInfo* out,
                  const std::function<void()>& inside = nullptr, bool claimedSpare = false);
// Spare placeholders (ns_ops.cc): a create that will want one claims it when it is submitted (any
// thread; a short lock, no system call), and a refill job submitted once it is done makes one for
// the next create (a worker: one open(O_TMPFILE), nothing when enough are ready or under way).
// NsClaimSpare returns false when spares are switched off (NETNS_NATIVE_SPARE_PIN=0).
bool NsClaimSpare(const std::string& dir);
void NsRefillSpare(const std::string& dir);
// iproute2's netns_delete, retrying EBUSY a bounded number of times.
SysError NsDelete(const std::string& path);
// A new namespace held only by the returned fd.
SysError NsAnonymous(NsInfo* out);
// Fails with code ENOTNETNS unless `path` is a network namespace.
SysError NsOpenPath(const std::string& path, NsInfo* out);
// Through a pidfd, so a recycled PID never yields another process's namespace.
SysError NsOpenPid(int pid, NsInfo* out);
// `ip netns attach`: bind-mount the namespace behind `fd` onto `dir/name`.
SysError NsPin(int fd, const std::string& dir, const std::string& name);

}  // namespace netns
