#include "inet_ops.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "ns_guard.h"

namespace netns {

namespace {

SysError SetFlag(int fd, int level, int name, bool on, const char* what) {
  int v = on ? 1 : 0;
  if (setsockopt(fd, level, name, &v, sizeof v) != 0) {
    SysError e = SysError::FromErrno("setsockopt");
    e.path = what;  // which option, in the error's path slot ("SO_REUSEADDR")
    return e;
  }
  return {};
}

SysError Bind(int fd, const InetSocketRequest& req) {
  sockaddr_storage ss;
  std::memset(&ss, 0, sizeof ss);
  socklen_t len = 0;
  if (req.family == AF_INET) {
    if (req.address.size() != 4) return SysError::Of(EINVAL, "bind");
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(req.port);
    std::memcpy(&sin->sin_addr, req.address.data(), 4);
    len = sizeof *sin;
  } else {
    if (req.address.size() != 16) return SysError::Of(EINVAL, "bind");
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(req.port);
    std::memcpy(&sin6->sin6_addr, req.address.data(), 16);
    len = sizeof *sin6;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return SysError::FromErrno("bind");
  return {};
}

}  // namespace

SysError InetSocketCreate(int nsFd, const InetSocketRequest& req, UniqueFd* out) {
  if ((req.family != AF_INET && req.family != AF_INET6) ||
      (req.type != SOCK_STREAM && req.type != SOCK_DGRAM)) {
    return SysError::Of(EINVAL, "socket");
  }
  UniqueFd fd;
  {
    NsGuard guard;
    SysError e = guard.Enter(nsFd);
    if (e.Failed()) return e;
    fd.Reset(socket(req.family, req.type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.Valid()) return SysError::FromErrno("socket");
  }  // home again (a failed return poisons the worker; the socket is still the namespace's)
  if (!req.bind) {  // a client: Node's connect() does the rest
    *out = std::move(fd);
    return {};
  }
  if (req.family == AF_INET6) {
    SysError e = SetFlag(fd.Get(), IPPROTO_IPV6, IPV6_V6ONLY, req.ipv6Only, "IPV6_V6ONLY");
    if (e.Failed()) return e;
  }
  if (req.reuseAddr) {
    SysError e = SetFlag(fd.Get(), SOL_SOCKET, SO_REUSEADDR, true, "SO_REUSEADDR");
    if (e.Failed()) return e;
  }
  if (req.reusePort) {
    SysError e = SetFlag(fd.Get(), SOL_SOCKET, SO_REUSEPORT, true, "SO_REUSEPORT");
    if (e.Failed()) return e;
  }
  SysError e = Bind(fd.Get(), req);
  if (e.Failed()) return e;
  *out = std::move(fd);
  return {};
}

}  // namespace netns
