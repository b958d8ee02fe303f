#include "netlink_ops.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>

#include "ns_guard.h"

namespace netns {

namespace {

constexpr int kMinBuf = 1 << 20;  // 1 MiB: a full dump reply batch never overruns

SysError SetIntOption(int fd, int level, int name, int value) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) return SysError::FromErrno("setsockopt");
  return {};
}

}  // namespace

SysError NetlinkSocketHere(int protocol, UniqueFd* out) {
  out->Reset(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol));
  if (!out->Valid()) return SysError::FromErrno("socket");
  return {};
}

SysError OpenNetlinkSocket(NetlinkOpenRequest& req, std::shared_ptr<LoopSocket>* out,
                           NetlinkOpenResult* result) {
  UniqueFd fd;
  {
    // A netlink socket belongs to the namespace it was created in, so only socket() needs the
    // switch; everything after works from home.
    NsGuard guard;
    if (req.nsFd.Valid()) {
      SysError e = guard.Enter(req.nsFd.Get());
      if (e.Failed()) return e;
    }
    SysError e = NetlinkSocketHere(req.protocol, &fd);
    if (e.Failed()) return e;
  }
  req.nsFd.Reset();
  return ConfigureNetlinkSocket(std::move(fd), req, out, result);
}

SysError ConfigureNetlinkSocket(UniqueFd fd, const NetlinkOpenRequest& req,
                                std::shared_ptr<LoopSocket>* out, NetlinkOpenResult* result) {
  int one = 1;
  result->extAck = setsockopt(fd.Get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one) == 0;
  // Older kernels answer ENOPROTOOPT: dumps are then filtered in JS instead.
  result->strictCheck =
      setsockopt(fd.Get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one) == 0;

  SysError e = SetIntOption(fd.Get(), SOL_SOCKET, SO_SNDBUF, kMinBuf);
  if (e.Failed()) return e;
  // Request sockets need room for a whole dump batch; a subscription (groups joined) gets the size
  // asked for, so a caller (or a test) can choose how soon the kernel reports ENOBUFS.
  int rcvbuf = req.groups.empty() ? std::max(req.rcvbuf, kMinBuf) : std::max(req.rcvbuf, 1);
  // SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN.
  if (setsockopt(fd.Get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
    e = SetIntOption(fd.Get(), SOL_SOCKET, SO_RCVBUF, rcvbuf);
    if (e.Failed()) return e;
  }

  struct sockaddr_nl local = {};
  local.nl_family = AF_NETLINK;  // nl_pid 0: the kernel assigns a unique port id
  if (bind(fd.Get(), reinterpret_cast<struct sockaddr*>(&local), sizeof local) != 0) {
    return SysError::FromErrno("bind");
  }
  for (uint32_t group : req.groups) {
    e = SetIntOption(fd.Get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, static_cast<int>(group));
    if (e.Failed()) return e;
  }

  struct sockaddr_nl bound = {};
  socklen_t len = sizeof bound;
  if (getsockname(fd.Get(), reinterpret_cast<struct sockaddr*>(&bound), &len) != 0) {
    return SysError::FromErrno("getsockname");
  }
  result->portId = bound.nl_pid;
  // A request socket (no groups) hears only answers to what it sent, so its sender reads it.
  // NETNS_NATIVE_DIRECT=0 leaves it to the I/O thread (for A/B measurements).
  static const bool direct = [] {
    const char* env = std::getenv("NETNS_NATIVE_DIRECT");
    return env == nullptr || std::string(env) != "0";
  }();
  *out = std::make_shared<LoopSocket>(LoopSocket::Kind::kNetlink, AF_NETLINK, std::move(fd),
                                      req.initialReadBuffer, direct && req.groups.empty());
  (*out)->protocol = req.protocol;
  return {};
}

}  // namespace netns
