// Datagram sockets other than netlink, owned by the I/O loop: AF_PACKET capture, ICMP "ping"
// sockets, UDP. Plain C++ with no N-API; every function here runs on a pool worker.
//
// As with netlink (docs/threading.md, "TCP and UDP sockets"), only socket(2) needs the namespace:
// the socket belongs to it for life, so options and bind are made from home.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "errors.h"
#include "fd.h"
#include "loop_socket.h"

namespace netns {

struct SockOpt {
  int level = 0;
  int name = 0;
  // The optval bytes, as setsockopt(2) takes them; for SO_ATTACH_FILTER and
  // SO_ATTACH_REUSEPORT_CBPF the sock_filter instructions (the sock_fprog is built here).
  std::vector<uint8_t> value;
};

struct DgramOpenRequest {
  int domain = 0;    // AF_INET, AF_INET6, AF_PACKET
  int type = 0;      // SOCK_DGRAM or SOCK_RAW
  int protocol = 0;  // as socket(2) takes it (network order for AF_PACKET: htons(ETH_P_ALL))
  UniqueFd nsFd;     // our own dup; invalid means the home namespace
  std::vector<SockOpt> options;  // applied in order, before bind (a filter attached before any packet)
  std::vector<uint8_t> bind;     // sockaddr bytes; empty: not bound
  int rcvbuf = 0;                // SO_RCVBUF(FORCE) when > 0
  size_t initialReadBuffer = 0;
};

// socket() inside req.nsFd's namespace, SO_TIMESTAMPNS (every datagram gets its receive time), the
// buffer size, req.options, bind. `local` is getsockname() afterwards.
SysError OpenDgramSocket(DgramOpenRequest& req, std::shared_ptr<LoopSocket>* out, std::vector<uint8_t>* local);

SysError DgramBind(int fd, const std::vector<uint8_t>& addr, std::vector<uint8_t>* local);
SysError DgramSetOption(int fd, const SockOpt& opt);
// getsockopt with a buffer of `maxLength` bytes; `out` is trimmed to the length the kernel wrote.
SysError DgramGetOption(int fd, int level, int name, size_t maxLength, std::vector<uint8_t>* out);

}  // namespace netns
