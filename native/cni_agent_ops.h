// The CNI agent's side of the shim protocol (docs/cni.md "The agent and its shim"): one request read
// from an accepted unix stream socket, with the peer's credentials and the network namespace fd the
// shim passed with SCM_RIGHTS. Plain C++ with no napi: runs whole on a pool worker.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "errors.h"
#include "fd.h"

namespace netns {

// The request header, in the machine's byte order (both ends run on the same host): magic,
// version, then the lengths of the two parts that follow (environment, stdin).
constexpr uint32_t kCniShimMagic = 0x41434e4e;  // "NNCA"
constexpr uint32_t kCniShimVersion = 1;
constexpr size_t kCniShimHeader = 16;
// Larger requests are refused (the shim then runs the Node.js plugin, which reads any size).
constexpr size_t kCniShimMaxPayload = 64u << 20;

struct CniShimRequest {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  UniqueFd ns;  // the first fd passed with SCM_RIGHTS (close-on-exec), if any
  uint32_t envLen = 0;
  std::vector<uint8_t> payload;  // environment then stdin
};

// Reads one whole request from `fd` (a connected AF_UNIX stream socket, blocking or not) within
// `timeoutMs`; fails with ETIMEDOUT, EPROTO (bad header), EMSGSIZE (too large) or ECONNRESET (the
// peer closed before the end).
SysError CniShimReceive(int fd, int timeoutMs, CniShimRequest* out);

}  // namespace netns
