#include "loop_socket.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace netns {

LoopSocket::LoopSocket(Kind kind, int family, UniqueFd fd, size_t initialReadBuffer)
    : kind_(kind), family_(family), fd_(std::move(fd)), readBuf_(std::max<size_t>(initialReadBuffer, 1)) {}

bool LoopSocket::Enqueue(std::vector<uint8_t> bytes, std::vector<uint8_t> to, double token) {
  std::lock_guard<std::mutex> lock(sendMu_);
  if (Closed()) return false;
  sendq_.push_back(Outgoing{std::move(bytes), std::move(to), token});
  if (draining_) return false;
  draining_ = true;
  return true;
}

std::vector<SendFailure> LoopSocket::DrainSends(size_t budget, bool* more) {
  std::vector<SendFailure> failures;
  struct sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;  // nl_pid 0: the kernel

  for (;;) {
    Outgoing out;
    {
      std::lock_guard<std::mutex> lock(sendMu_);
      if (Closed() || sendq_.empty()) {
        sendq_.clear();
        draining_ = false;
        *more = false;
        return failures;
      }
      if (budget == 0) {
        *more = true;  // draining_ stays set: the caller reschedules
        return failures;
      }
      --budget;
      out = std::move(sendq_.front());
      sendq_.pop_front();
    }

    struct iovec iov = {out.bytes.data(), out.bytes.size()};
    struct msghdr msg = {};
    if (!out.to.empty()) {
      msg.msg_name = out.to.data();
      msg.msg_namelen = static_cast<socklen_t>(out.to.size());
    } else if (kind_ == Kind::kNetlink) {
      msg.msg_name = &kernel;
      msg.msg_namelen = sizeof kernel;
    }
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // rtnetlink handles the whole request inside sendmsg, which is why this runs on a worker.
    ssize_t n;
    do {
      n = sendmsg(fd_.Get(), &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) failures.push_back(SendFailure{out.token, SysError::FromErrno("sendmsg")});
  }
}

void LoopSocket::MarkClosed() {
  std::lock_guard<std::mutex> lock(sendMu_);
  closed_.store(true, std::memory_order_release);
  sendq_.clear();
}

}  // namespace netns
