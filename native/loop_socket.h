// One socket owned by the I/O loop: a netlink socket or any other datagram socket (AF_PACKET,
// ICMP "ping" sockets, UDP). Created inside a namespace by a worker, then shared by the I/O thread
// (reads), workers (sendmsg) and the JS thread (queueing, close). The fd closes when the last holder
// of the shared_ptr lets go, so no thread ever uses a closed (or reused) fd number.
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

namespace netns {

struct SendFailure {
  double token = 0;
  SysError err;
};

class LoopSocket {
 public:
  // kNetlink: datagrams from the kernel only (nl_pid 0), delivered as bare Buffers.
  // kDatagram: every datagram, delivered with its source address and receive timestamp.
  enum class Kind { kNetlink, kDatagram };

  LoopSocket(Kind kind, int family, UniqueFd fd, size_t initialReadBuffer);
  LoopSocket(const LoopSocket&) = delete;
  LoopSocket& operator=(const LoopSocket&) = delete;

  int Fd() const { return fd_.Get(); }
  Kind kind() const { return kind_; }
  int family() const { return family_; }

  // Set once on the JS thread before the socket is published to other threads.
  uint32_t id = 0;

  // ---- sending: buffers of one socket go out in order, one worker at a time ----
  // Any thread. `to` is the destination sockaddr (empty: the connected peer, or the kernel for
  // netlink). True when the caller now owns the drain and must schedule DrainSends on a worker.
  bool Enqueue(std::vector<uint8_t> bytes, std::vector<uint8_t> to, double token);
  // Worker. Sends up to `budget` buffers. `*more` is true when buffers remain: the caller still owns
  // the drain and must schedule another one (budgets keep one busy socket from holding a worker).
  std::vector<SendFailure> DrainSends(size_t budget, bool* more);

  // JS thread. Queued sends are dropped; no further callbacks are made for the socket.
  void MarkClosed();
  bool Closed() const { return closed_.load(std::memory_order_acquire); }

  // ---- receiving: I/O thread only ----
  std::vector<uint8_t>& ReadBuffer() { return readBuf_; }

  // ---- flow control between the I/O thread and JS ----
  // Bytes handed to JS and not yet delivered. Above a high-water mark the I/O thread stops polling
  // the socket, so a slow consumer makes the kernel drop (netlink: ENOBUFS) instead of our memory
  // growing.
  std::mutex flowMu;
  size_t queuedBytes = 0;
  bool paused = false;

 private:
  struct Outgoing {
    std::vector<uint8_t> bytes;
    std::vector<uint8_t> to;
    double token;
  };

  const Kind kind_;
  const int family_;
  UniqueFd fd_;
  std::atomic<bool> closed_{false};
  std::mutex sendMu_;
  std::deque<Outgoing> sendq_;
  bool draining_ = false;
  std::vector<uint8_t> readBuf_;
};

}  // namespace netns
