// Opening a netlink socket inside a namespace (the socket itself is a LoopSocket, loop_socket.h).
// Plain C++: no N-API here.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "errors.h"
#include "fd.h"
#include "loop_socket.h"

namespace netns {

struct NetlinkOpenRequest {
  int protocol = 0;
  UniqueFd nsFd;  // our own dup; invalid means the home namespace
  std::vector<uint32_t> groups;
  int rcvbuf = 0;
  size_t initialReadBuffer = 0;
};

struct NetlinkOpenResult {
  uint32_t portId = 0;
  bool strictCheck = false;
  bool extAck = false;
};

// Worker: socket() inside req.nsFd's namespace, then options, bind and multicast groups.
SysError OpenNetlinkSocket(NetlinkOpenRequest& req, std::shared_ptr<LoopSocket>* out,
                           NetlinkOpenResult* result);

// Worker: socket() in the namespace the calling thread is in now (a job that is inside one anyway,
// like a namespace's creation, saves the switch), close-on-exec and non-blocking.
SysError NetlinkSocketHere(int protocol, UniqueFd* out);
// Worker, from home: options, bind and groups of a socket made by NetlinkSocketHere.
SysError ConfigureNetlinkSocket(UniqueFd fd, const NetlinkOpenRequest& req,
                                std::shared_ptr<LoopSocket>* out, NetlinkOpenResult* result);

}  // namespace netns
