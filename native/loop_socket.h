// One socket owned by the I/O loop: a netlink socket or any other datagram socket (AF_PACKET,
// ICMP "ping" sockets, UDP). Created inside a namespace by a worker, then shared by the reading
// thread, workers (sendmsg) and the JS thread (queueing, close). The fd closes when the last holder
// of the shared_ptr lets go, so no thread ever uses a closed (or reused) fd number.
//
// Who reads: a *direct* socket (a netlink request socket: no multicast groups) is read by the worker
// that sends on it, right after each sendmsg — the kernel answers a netlink request inside sendmsg
// and continues a dump inside recvmsg, so everything the socket will ever receive is queued by the
// time that worker reads to EAGAIN (docs/threading.md, "The path of one request"). Such a socket is
// never in the I/O thread's epoll. Every other socket (subscriptions, datagram sockets) receives
// whenever the outside world sends, and is read by the I/O thread.
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

// One datagram read from a socket.
struct Received {
  std::vector<uint8_t> bytes;
  // A plain ACK (one NLMSG_ERROR with error 0, nothing appended) read by a request socket's
  // worker: `bytes` stay empty and JS gets the sequence number it answers instead of a Buffer.
  bool ack = false;
  uint32_t ackSeq = 0;
  std::vector<uint8_t> from;  // the source sockaddr (datagram sockets only)
  int64_t sec = 0;            // SO_TIMESTAMPNS receive time (datagram sockets only)
  int64_t nsec = 0;
};

// What one read pass got: runs of datagrams, interleaved with errors in order.
struct Chunk {
  std::vector<Received> datagrams;
  SysError error;  // set when this chunk is an error
};

struct ReadBatch {
  std::vector<Chunk> chunks;
  size_t bytes = 0;
  bool broken = false;  // an unexpected error: the socket must not be read again
  bool drained = false;  // the pass ended on EAGAIN: nothing more is queued right now
};

// How many times recvmsg on a netlink socket reported the EINVAL of a dump continuation that lost
// the race with the dump's start (process-wide; tests read it through netlinkStats()).
uint64_t DumpRaceErrors();

// How long rtnetlink keeps requests of one kind inside sendmsg, learned as they run (process-wide):
// the JS thread's poll (netlinkFlush) waits only for a request that usually finishes inside the
// poll's bound, so a long one (a veth creation, a deletion) is never polled in vain and a short one
// after it is not left to sleep by a back-off (docs/threading.md, "The path of one request").
namespace request_cost {
constexpr uint16_t kNoKey = 0xFFFF;
// The kind of a netlink buffer: the socket's protocol, its first message's type, whether that one
// creates or dumps, and whether more messages follow it. Any thread.
uint16_t KeyOf(int protocol, const uint8_t* data, size_t len);
// Worker: one sendmsg of a buffer of this kind took `ns`.
void Record(uint16_t key, int64_t ns);
// Any thread: whether buffers of this kind were mostly answered within the quick bound.
bool Quick(uint16_t key);
// JS thread (netlinkFlush): a sendmsg this short counts as quick; what a poll of `pollNs` can wait for.
void SetQuickNs(int64_t ns);
// NETNS_NATIVE_PREDICT=0: every request counts as quick (the old global back-off; A/B switch).
bool Enabled();
// netlinkTune (A/B measurements in one process).
void SetEnabled(bool on);
}  // namespace request_cost

// The calling thread's read buffer: one per thread that reads (the I/O thread, each worker), not one
// per socket, so an idle socket holds no buffer at all. It grows to the largest datagram seen.
std::vector<uint8_t>& ThreadReadBuffer();

class LoopSocket {
 public:
  // kNetlink: datagrams from the kernel only (nl_pid 0), delivered as bare Buffers.
  // kDatagram: every datagram, delivered with its source address and receive timestamp.
  enum class Kind { kNetlink, kDatagram };

  LoopSocket(Kind kind, int family, UniqueFd fd, size_t initialReadBuffer, bool direct = false);
  LoopSocket(const LoopSocket&) = delete;
  LoopSocket& operator=(const LoopSocket&) = delete;

  int Fd() const { return fd_.Get(); }
  Kind kind() const { return kind_; }
  int family() const { return family_; }
  // Read by the sending worker, never by the I/O thread (see the file comment).
  bool direct() const { return direct_; }

  // Set once on the JS thread before the socket is published to other threads.
  uint32_t id = 0;
  // Netlink: the socket's protocol (NETLINK_ROUTE ...), set by whoever configured it, before it is
  // published.
  int protocol = -1;

  // ---- sending: buffers of one socket go out in order, one worker at a time ----
  // Any thread. `to` is the destination sockaddr (empty: the connected peer, or the kernel for
  // netlink). True when the caller now owns the drain and must schedule Drain on a worker.
  // `ackSeq` (netlink, 0: none): the buffer holds no dump, every message asks for an ACK, and the
  // last one has this sequence number, so the read pass after it ends with that ACK (nothing more
  // can be queued for the buffer once the kernel acknowledged its last message) instead of another
  // recvmsg that finds EAGAIN.
  // `costKey` (netlink): the buffer's request_cost kind, whose sendmsg time the worker records.
  bool Enqueue(std::vector<uint8_t> bytes, std::vector<uint8_t> to, double token, uint32_t ackSeq = 0,
               uint16_t costKey = request_cost::kNoKey);
  // JS thread, direct sockets: ask for a read pass (reading was paused for flow control). True when
  // the caller now owns the drain and must schedule Drain on a worker.
  bool RequestRead();

  struct DrainResult {
    std::vector<SendFailure> failures;
    ReadBatch read;      // direct sockets: what was read after the sends
    bool more = false;   // buffers or reading remain: the caller still owns the drain and must
                         // schedule another one (budgets keep one busy socket from holding a worker)
  };
  // Worker. Sends up to `budget` buffers; a direct socket is then read to EAGAIN (or until
  // `readBudget` datagrams, or flow control pauses it).
  DrainResult Drain(size_t budget, size_t readBudget);

  // JS thread. Queued sends are dropped; no further callbacks are made for the socket.
  void MarkClosed();
  bool Closed() const { return closed_.load(std::memory_order_acquire); }

  // ---- receiving: the I/O thread, or the draining worker of a direct socket ----
  // Reads up to `maxDatagrams` whole datagrams into `out` (appending), peeking at each one's size
  // first so nothing is ever truncated. Returns how many datagrams it added.
  // `stopSeq` (direct netlink sockets, 0: none): stop after the datagram that holds the NLMSG_ERROR
  // answering that sequence number, and count the pass as drained.
  size_t Read(size_t maxDatagrams, ReadBatch* out, uint32_t stopSeq = 0);

  // ---- flow control between the reading thread and JS ----
  // Bytes handed to JS and not yet delivered. Above a high-water mark reading stops (the I/O thread
  // unwatches the socket; a direct socket's worker stops reading), so a slow consumer makes the
  // kernel drop (netlink: ENOBUFS) instead of our memory growing.
  std::mutex flowMu;
  size_t queuedBytes = 0;
  bool paused = false;

 private:
  struct Outgoing {
    std::vector<uint8_t> bytes;
    std::vector<uint8_t> to;
    double token;
    uint32_t ackSeq;
    uint16_t costKey;
  };

  const Kind kind_;
  const int family_;
  const bool direct_;
  UniqueFd fd_;
  std::atomic<bool> closed_{false};
  std::mutex sendMu_;
  std::deque<Outgoing> sendq_;
  bool draining_ = false;
  bool readWanted_ = false;  // direct: a read pass is owed (flow control resumed, or budget ran out)
  // The receive size passed to recvmsg (the kernel sizes dump datagrams after the largest one
  // asked for); grows to the largest datagram seen. Only the current reader touches it.
  size_t readSize_;
};

// Flow-control marks (bytes queued for JS).
constexpr size_t kReadHighWater = 8u << 20;
constexpr size_t kReadLowWater = 2u << 20;

}  // namespace netns
