#include "cni_agent_ops.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstring>

namespace netns {

namespace {

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Keeps the first fd of every SCM_RIGHTS message in `keep` (when empty) and closes the others, so
// a peer cannot make the agent hold descriptors it never uses.
void TakeFds(msghdr* msg, UniqueFd* keep) {
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (!keep->Valid()) {
        keep->Reset(fd);
      } else {
        close(fd);
      }
    }
  }
}

}  // namespace

SysError CniShimReceive(int fd, int timeoutMs, CniShimRequest* out) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return SysError::FromErrno("getsockopt");
  out->pid = cred.pid;
  out->uid = cred.uid;
  out->gid = cred.gid;

  const int64_t deadline = NowMs() + timeoutMs;
  uint8_t header[kCniShimHeader];
  size_t got = 0;
  size_t total = kCniShimHeader;  // known once the header is in
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  while (got < total) {
    int64_t left = deadline - NowMs();
    if (left <= 0) return SysError::Of(ETIMEDOUT, "recvmsg");
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return SysError::FromErrno("poll");
    }
    if (rc == 0) return SysError::Of(ETIMEDOUT, "recvmsg");
    iovec iov;
    if (got < kCniShimHeader) {
      iov = {header + got, kCniShimHeader - got};
    } else {
      iov = {out->payload.data() + (got - kCniShimHeader), total - got};
    }
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return SysError::FromErrno("recvmsg");
    }
    TakeFds(&msg, &out->ns);
    if (n == 0) return SysError::Of(ECONNRESET, "recvmsg");
    got += static_cast<size_t>(n);
    if (got == kCniShimHeader && total == kCniShimHeader) {
      uint32_t f[4];
      memcpy(f, header, sizeof(f));
      if (f[0] != kCniShimMagic || f[1] != kCniShimVersion) return SysError::Of(EPROTO, "recvmsg");
      size_t payload = static_cast<size_t>(f[2]) + f[3];
      if (payload > kCniShimMaxPayload) return SysError::Of(EMSGSIZE, "recvmsg");
      out->envLen = f[2];
      out->payload.resize(payload);
      total = kCniShimHeader + payload;
    }
  }
  return {};
}

}  // namespace netns
