// Netns.delete(name) as one job: the namespace's veths deleted, the pin removed, and the names of
// the veths' other ends free when it reports (docs/errors.md, "Names after delete"). Plain C++: no
// N-API here (veth_sweep_bindings.cc hands the result to JS).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.h"
#include "ns_guard.h"
#include "slow_senders.h"

namespace netns {

struct SweepResult {
  // A system call failed. `stage` says which part: "open" (the pin; nothing changed), "sweep" (the
  // namespace's sockets or the veth listing; nothing changed), "unpin", "delete" (sending the
  // RTM_DELLINKs or reading their answers; the pin is gone).
  SysError error;
  const char* stage = nullptr;
  // The kernel refused a request: its NLMSG_ERROR (or NLMSG_DONE) message, whole, for the JS
  // codec to read the errno and the extended ack. `refused` is "dump" (nothing changed) or
  // "delete" (the RTM_DELLINK of link `index`; the pin is gone, as before this job existed).
  std::vector<uint8_t> refusal;
  const char* refused = nullptr;
  uint32_t index = 0;
  int dumpAttempts = 0;  // > 0: the veth dump stayed NLM_F_DUMP_INTR that many times (nothing changed)
  NsIdentity identity;   // of the namespace, once opened
  uint32_t veths = 0;
  bool byEvent = false;  // the RTM_DELLINK notifications came before the requests' answers
};

// Pool worker (it enters the namespace). `senders` send the RTM_DELLINKs; with none (or when they
// are stopping) the worker sends them itself, then finds the notifications and answers queued.
SweepResult SweepAndUnpin(const std::string& path, SlowSenders* senders);

struct LinkDeleteResult {
  SysError error;                 // a system call failed (or ETIMEDOUT: the request's deadline passed)
  std::vector<uint8_t> refusal;   // the kernel's NLMSG_ERROR, whole
  bool byEvent = false;
};

// Pool worker (it enters the namespace). `ip link delete dev NAME|INDEX` (`index` 0: by `name`),
// reported when the kernel's RTM_DELLINK notification says the link is unlisted, or when the
// answer comes first (a refusal). `nsFd` < 0: the home namespace.
LinkDeleteResult LinkDeleteUnlisted(int nsFd, uint32_t index, const std::string& name, SlowSenders* senders);

// How deletions were settled since load (for tests and netlinkStats-like diagnostics).
extern std::atomic<uint64_t> gSweepByEvent, gSweepByAnswer;

}  // namespace netns
