#include "dgram_ops.h"

#include <linux/filter.h>
#include <sys/socket.h>

#include <cstring>

#include <algorithm>
#include <cerrno>
#include <string>

#include "ns_guard.h"

namespace netns {

namespace {

SysError LocalAddress(int fd, std::vector<uint8_t>* local) {
  struct sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0) {
    return SysError::FromErrno("getsockname");
  }
  auto* p = reinterpret_cast<const uint8_t*>(&ss);
  local->assign(p, p + std::min<size_t>(len, sizeof ss));
  return {};
}

// Which option failed goes in the error's path slot ("level 1 name 26"), as inet_ops.cc does.
SysError OptionError(const char* syscall, int level, int name) {
  SysError e = SysError::FromErrno(syscall);
  e.path = "level " + std::to_string(level) + " name " + std::to_string(name);
  return e;
}

}  // namespace

SysError OpenDgramSocket(DgramOpenRequest& req, std::shared_ptr<LoopSocket>* out, std::vector<uint8_t>* local) {
  UniqueFd fd;
  {
    NsGuard guard;
    if (req.nsFd.Valid()) {
      SysError e = guard.Enter(req.nsFd.Get());
      if (e.Failed()) return e;
    }
    fd.Reset(socket(req.domain, req.type | SOCK_CLOEXEC | SOCK_NONBLOCK, req.protocol));
    if (!fd.Valid()) return SysError::FromErrno("socket");
  }
  req.nsFd.Reset();

  int one = 1;
  if (setsockopt(fd.Get(), SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0) {
    return OptionError("setsockopt", SOL_SOCKET, SO_TIMESTAMPNS);
  }
  if (req.rcvbuf > 0) {
    // SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN.
    if (setsockopt(fd.Get(), SOL_SOCKET, SO_RCVBUFFORCE, &req.rcvbuf, sizeof req.rcvbuf) != 0 &&
        setsockopt(fd.Get(), SOL_SOCKET, SO_RCVBUF, &req.rcvbuf, sizeof req.rcvbuf) != 0) {
      return OptionError("setsockopt", SOL_SOCKET, SO_RCVBUF);
    }
  }
  for (const SockOpt& opt : req.options) {
    SysError e = DgramSetOption(fd.Get(), opt);
    if (e.Failed()) return e;
  }
  if (!req.bind.empty()) {
    SysError e = DgramBind(fd.Get(), req.bind, local);
    if (e.Failed()) return e;
  } else {
    SysError e = LocalAddress(fd.Get(), local);
    if (e.Failed()) return e;
  }
  *out = std::make_shared<LoopSocket>(LoopSocket::Kind::kDatagram, req.domain, std::move(fd), req.initialReadBuffer);
  return {};
}

SysError DgramBind(int fd, const std::vector<uint8_t>& addr, std::vector<uint8_t>* local) {
  if (bind(fd, reinterpret_cast<const struct sockaddr*>(addr.data()), static_cast<socklen_t>(addr.size())) != 0) {
    return SysError::FromErrno("bind");
  }
  return LocalAddress(fd, local);
}

SysError DgramSetOption(int fd, const SockOpt& opt) {
  if (opt.level == SOL_SOCKET && (opt.name == SO_ATTACH_FILTER || opt.name == SO_ATTACH_REUSEPORT_CBPF)) {
    // struct sock_fprog holds a pointer to the program, which JS cannot give: JS passes the
    // sock_filter instructions themselves and the pointer is made here.
    if (opt.value.empty() || opt.value.size() % sizeof(struct sock_filter) != 0 ||
        opt.value.size() / sizeof(struct sock_filter) > BPF_MAXINSNS) {
      return SysError::Of(EINVAL, "setsockopt", "SO_ATTACH_FILTER: a whole number of 8-byte sock_filter, at most 4096");
    }
    std::vector<struct sock_filter> program(opt.value.size() / sizeof(struct sock_filter));
    std::memcpy(program.data(), opt.value.data(), opt.value.size());
    struct sock_fprog fprog = {};
    fprog.len = static_cast<unsigned short>(program.size());
    fprog.filter = program.data();
    if (setsockopt(fd, opt.level, opt.name, &fprog, sizeof fprog) != 0) return OptionError("setsockopt", opt.level, opt.name);
    return {};
  }
  if (setsockopt(fd, opt.level, opt.name, opt.value.data(), static_cast<socklen_t>(opt.value.size())) != 0) {
    return OptionError("setsockopt", opt.level, opt.name);
  }
  return {};
}

SysError DgramGetOption(int fd, int level, int name, size_t maxLength, std::vector<uint8_t>* out) {
  out->assign(maxLength, 0);
  auto len = static_cast<socklen_t>(maxLength);
  if (getsockopt(fd, level, name, out->data(), &len) != 0) return OptionError("getsockopt", level, name);
  out->resize(std::min<size_t>(len, maxLength));
  return {};
}

}  // namespace netns
