// TCP/UDP sockets created inside a network namespace, for Node to wrap (net.Server#listen({ fd }),
// new net.Socket({ fd }), dgram.Socket#bind({ fd })). Plain C++ with no napi; runs on a pool worker.
//
// A socket belongs for life to the namespace its creating thread was in at socket(2): only that call
// needs the namespace. Options, bind, listen, connect and all I/O work from any thread afterwards,
// so the worker switches in for socket() alone and Node's own threads never switch.
#pragma once

#include <cstdint>
#include <vector>

#include "errors.h"
#include "fd.h"

namespace netns {

struct InetSocketRequest {
  int family = 0;               // AF_INET or AF_INET6
  int type = 0;                 // SOCK_STREAM or SOCK_DGRAM
  bool bind = false;            // bind to address:port before handing the fd over
  std::vector<uint8_t> address;  // 4 or 16 bytes, network order (when bind)
  uint16_t port = 0;            // host order; 0 lets the kernel choose (when bind)
  bool reuseAddr = false;       // SO_REUSEADDR before bind
  bool reusePort = false;       // SO_REUSEPORT before bind
  bool ipv6Only = false;        // IPV6_V6ONLY (always set explicitly on AF_INET6, as libuv does)
};

// socket(family, type|SOCK_CLOEXEC|SOCK_NONBLOCK) inside the namespace behind nsFd, then, back at
// home, the options and bind. The fd is non-blocking and close-on-exec.
SysError InetSocketCreate(int nsFd, const InetSocketRequest& req, UniqueFd* out);

}  // namespace netns
