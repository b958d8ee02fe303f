// One netlink socket: created inside a namespace by a worker, then shared by the I/O thread (reads),
// workers (sendmsg) and the JS thread (queueing, close). The fd closes when the last holder of the
// shared_ptr lets go, so no thread ever uses a closed (or reused) fd number.
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

struct SendFailure {
  double token = 0;
  SysError err;
};

class NetlinkSocket {
 public:
  NetlinkSocket(UniqueFd fd, size_t initialReadBuffer);
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  int Fd() const { return fd_.Get(); }

  // Set once on the JS thread before the socket is published to other threads.
  uint32_t id = 0;

  // ---- sending: buffers of one socket go out in order, one worker at a time ----
  // Any thread. True when the caller now owns the drain and must schedule DrainSends on a worker.
  bool Enqueue(std::vector<uint8_t> bytes, double token);
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
  // the socket, so a slow consumer makes the kernel report ENOBUFS instead of our memory growing.
  std::mutex flowMu;
  size_t queuedBytes = 0;
  bool paused = false;

 private:
  struct Outgoing {
    std::vector<uint8_t> bytes;
    double token;
  };

  UniqueFd fd_;
  std::atomic<bool> closed_{false};
  std::mutex sendMu_;
  std::deque<Outgoing> sendq_;
  bool draining_ = false;
  std::vector<uint8_t> readBuf_;
};

// Worker: socket() inside req.nsFd's namespace, then options, bind and multicast groups.
SysError OpenNetlinkSocket(NetlinkOpenRequest& req, std::shared_ptr<NetlinkSocket>* out,
                           NetlinkOpenResult* result);

}  // namespace netns
