#include "loop_socket.h"

#include <linux/netlink.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "spin.h"

namespace netns {

namespace {

std::atomic<uint64_t> gDumpRaceErrors{0};

constexpr size_t kInitialThreadBuffer = 64 << 10;

// A worker reads its request socket's answers straight into this much memory per thread, without
// peeking at each datagram's size first (one recvmsg per datagram instead of two; a system call
// costs 1.2-2 us on this VM: docs/performance.md, "Request path (path)"). rtnetlink builds no
// datagram near this size (a dump's are at most 32 KiB; one link's message carries attributes of at
// most 64 KiB each); one that is larger is reported as EMSGSIZE, as a truncated one always was.
// Reserved address space: only the pages a datagram touches become resident.
constexpr size_t kDirectBufferBytes = 1u << 20;

struct DirectBuffer {
  uint8_t* data = nullptr;
  DirectBuffer() {
    void* p = mmap(nullptr, kDirectBufferBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) data = static_cast<uint8_t*>(p);
  }
  ~DirectBuffer() {
    if (data != nullptr) munmap(data, kDirectBufferBytes);
  }
  DirectBuffer(const DirectBuffer&) = delete;
  DirectBuffer& operator=(const DirectBuffer&) = delete;
};

// Null when the mapping failed (the peeking path is used then).
uint8_t* ThreadDirectBuffer() {
  thread_local DirectBuffer buf;
  return buf.data;
}

// NETNS_NATIVE_FASTREAD=0: peek every datagram's size and read to EAGAIN, as before (A/B switch).
bool FastRead() {
  static const bool on = EnvInt("NETNS_NATIVE_FASTREAD", 0, 1, 1) != 0;
  return on;
}

// NETNS_NATIVE_ACK_NUMBER=0: plain ACKs reach JS as Buffers too (A/B switch).
bool AckNumbers() {
  static const bool on = EnvInt("NETNS_NATIVE_ACK_NUMBER", 0, 1, 1) != 0;
  return on;
}

// The sequence number a datagram answers when it is exactly one plain ACK: NLMSG_ERROR, error 0, no
// extended-ack attributes (a success can carry a warning text, NLM_F_ACK_TLVS), no other flag than
// NLM_F_CAPPED. Such an answer says nothing but "done", so JS gets the number alone.
bool PlainAck(const uint8_t* d, size_t len, uint32_t* seq) {
  if (len < NLMSG_HDRLEN + sizeof(int32_t)) return false;
  struct nlmsghdr h;
  std::memcpy(&h, d, sizeof h);
  if (h.nlmsg_type != NLMSG_ERROR || h.nlmsg_len != len || (h.nlmsg_flags & ~NLM_F_CAPPED) != 0) return false;
  int32_t error;
  std::memcpy(&error, d + NLMSG_HDRLEN, sizeof error);
  if (error != 0) return false;
  *seq = h.nlmsg_seq;
  return true;
}

// Whether `d` holds the NLMSG_ERROR (ACK or error) answering sequence number `seq`.
bool HoldsAck(const std::vector<uint8_t>& d, uint32_t seq) {
  size_t off = 0;
  while (off + sizeof(struct nlmsghdr) <= d.size()) {
    struct nlmsghdr h;
    std::memcpy(&h, d.data() + off, sizeof h);
    if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > d.size()) return false;
    if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_seq == seq) return true;
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return false;
}

// request_cost: a saturating score per kind, 0 (answered within the quick bound) .. 3 (slow). Two
// slow sendmsgs in a row make a kind slow, two quick ones make it quick again, so one request that
// waited behind someone else's RTNL hold changes nothing.
constexpr size_t kCostSlots = 1024;
std::atomic<uint8_t> gCostScore[kCostSlots];
std::atomic<int64_t> gQuickNs{70 * 1000};

}  // namespace

namespace request_cost {

uint16_t KeyOf(int protocol, const uint8_t* data, size_t len) {
  if (len < sizeof(struct nlmsghdr)) return kNoKey;
  struct nlmsghdr h;
  std::memcpy(&h, data, sizeof h);
  unsigned cls = ((h.nlmsg_flags & NLM_F_CREATE) ? 1u : 0u) | ((h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP ? 2u : 0u) |
                 (NLMSG_ALIGN(h.nlmsg_len) < len ? 4u : 0u);
  unsigned k = (static_cast<unsigned>(protocol & 31) * 2654435761u) ^ (static_cast<unsigned>(h.nlmsg_type) * 8u + cls);
  return static_cast<uint16_t>(k % kCostSlots);
}

void Record(uint16_t key, int64_t ns) {
  if (key >= kCostSlots) return;
  std::atomic<uint8_t>& s = gCostScore[key];
  uint8_t v = s.load(std::memory_order_relaxed);
  if (ns <= gQuickNs.load(std::memory_order_relaxed)) {
    if (v > 0) s.store(v - 1, std::memory_order_relaxed);
  } else if (v < 3) {
    s.store(v + 1, std::memory_order_relaxed);
  }
}

bool Quick(uint16_t key) {
  return key >= kCostSlots || !Enabled() || gCostScore[key].load(std::memory_order_relaxed) < 2;
}

void SetQuickNs(int64_t ns) { gQuickNs.store(ns, std::memory_order_relaxed); }

namespace {
std::atomic<bool> gPredict{EnvInt("NETNS_NATIVE_PREDICT", 0, 1, 1) != 0};
}  // namespace

bool Enabled() { return gPredict.load(std::memory_order_relaxed); }

void SetEnabled(bool on) { gPredict.store(on, std::memory_order_relaxed); }

}  // namespace request_cost

uint64_t DumpRaceErrors() { return gDumpRaceErrors.load(std::memory_order_relaxed); }

std::vector<uint8_t>& ThreadReadBuffer() {
  thread_local std::vector<uint8_t> buf(kInitialThreadBuffer);
  return buf;
}

LoopSocket::LoopSocket(Kind kind, int family, UniqueFd fd, size_t initialReadBuffer, bool direct)
    : kind_(kind),
      family_(family),
      direct_(direct),
      fd_(std::move(fd)),
      readSize_(std::max<size_t>(initialReadBuffer, 1)) {}

bool LoopSocket::Enqueue(std::vector<uint8_t> bytes, std::vector<uint8_t> to, double token, uint32_t ackSeq,
                         uint16_t costKey) {
  std::lock_guard<std::mutex> lock(sendMu_);
  if (Closed()) return false;
  sendq_.push_back(Outgoing{std::move(bytes), std::move(to), token, FastRead() ? ackSeq : 0, costKey});
  if (draining_) return false;
  draining_ = true;
  return true;
}

bool LoopSocket::RequestRead() {
  std::lock_guard<std::mutex> lock(sendMu_);
  if (Closed()) return false;
  readWanted_ = true;
  if (draining_) return false;
  draining_ = true;
  return true;
}

LoopSocket::DrainResult LoopSocket::Drain(size_t budget, size_t readBudget) {
  DrainResult result;
  struct sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;  // nl_pid 0: the kernel
  bool readOwed = false;
  uint32_t stopSeq = 0;  // the ACK that ends the read pass owed for the last buffer sent (Enqueue)

  // One read pass: false when the drain has to stop here (budget spent; flow control paused it
  // or the socket broke, and JS will ask again or never).
  auto readPass = [&]() -> bool {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(flowMu);
        if (paused) return true;  // RequestRead resumes it
      }
      if (readBudget == 0) {
        result.more = true;
        return false;
      }
      size_t bytesBefore = result.read.bytes;
      result.read.drained = false;
      size_t n = Read(std::min<size_t>(readBudget, 64), &result.read, stopSeq);
      readBudget -= std::min(readBudget, std::max<size_t>(n, 1));
      size_t got = result.read.bytes - bytesBefore;
      if (got > 0) {
        std::lock_guard<std::mutex> lock(flowMu);
        queuedBytes += got;
        if (queuedBytes > kReadHighWater) paused = true;
      }
      if (result.read.broken || result.read.drained) return true;
    }
  };

  for (;;) {
    Outgoing out;
    {
      std::lock_guard<std::mutex> lock(sendMu_);
      if (Closed()) {
        sendq_.clear();
        draining_ = false;
        readWanted_ = false;
        result.more = false;
        return result;
      }
      if (readWanted_) {
        readWanted_ = false;
        readOwed = true;
      }
    }
    if (readOwed && direct_ && !result.read.broken) {
      readOwed = false;
      bool done = readPass();
      stopSeq = 0;
      if (!done) {
        std::lock_guard<std::mutex> lock(sendMu_);
        readWanted_ = true;  // draining_ stays set: the caller reschedules
        return result;
      }
    }
    {
      std::lock_guard<std::mutex> lock(sendMu_);
      if (readWanted_) continue;  // RequestRead meanwhile
      if (Closed() || sendq_.empty()) {
        sendq_.clear();
        draining_ = false;
        result.more = false;
        return result;
      }
      if (budget == 0) {
        result.more = true;  // draining_ stays set: the caller reschedules
        return result;
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
    int64_t sendStart = out.costKey != request_cost::kNoKey ? NowNs() : 0;
    do {
      n = sendmsg(fd_.Get(), &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (sendStart != 0) request_cost::Record(out.costKey, NowNs() - sendStart);
    if (n < 0) result.failures.push_back(SendFailure{out.token, SysError::FromErrno("sendmsg")});
    readOwed = true;
    stopSeq = n < 0 ? 0 : out.ackSeq;
  }
}

size_t LoopSocket::Read(size_t maxDatagrams, ReadBatch* out, uint32_t stopSeq) {
  const bool netlink = kind_ == Kind::kNetlink;
  // A worker reading its request socket reads each datagram whole into its big buffer (no peek);
  // everyone else peeks at the size and reads into memory of that size.
  uint8_t* whole = netlink && direct_ && FastRead() ? ThreadDirectBuffer() : nullptr;
  std::vector<uint8_t>& buf = ThreadReadBuffer();
  std::vector<Chunk>& chunks = out->chunks;

  auto addError = [&chunks](SysError e) {
    chunks.emplace_back();
    chunks.back().error = std::move(e);
  };
  // A failed recvmsg (errno set): true to go on reading, false to stop this pass.
  auto onError = [&]() -> bool {
    if (errno == EINTR) return true;
    if (!netlink) {
      // A pending socket error (an ICMP error on a ping or UDP socket): recvmsg reports it once
      // and clears it, so the socket goes on.
      addError(SysError::FromErrno("recvmsg"));
      return false;
    }
    if (errno == EINVAL) {
      // Not a broken socket: a dump continuation that lost a race with the dump's own start (see
      // docs/errors.md, "Concurrent dumps and EINVAL"). The kernel reports it once and clears it;
      // no datagram is lost.
      gDumpRaceErrors.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    bool overrun = errno == ENOBUFS;  // answers were dropped; the socket itself is fine
    addError(SysError::FromErrno("recvmsg"));
    if (overrun && !direct_) {
      // A subscription: the kernel reports the drop before the datagrams it still holds, and those
      // are older than the dropped one. JS answers the overrun with a fresh dump taken after this
      // pass; replayed after that dump, an older event whose successor was the dropped one (an
      // address added, then removed by the lost message) would come back for good. So what is
      // queued now is discarded: every event delivered after the error is newer than the drop,
      // and the dump covers everything older (docs/errors.md, the `ENOBUFS` row).
      char sink[1];
      for (int n = 0; n < (1 << 20); ++n) {
        if (recv(fd_.Get(), sink, sizeof sink, MSG_DONTWAIT | MSG_TRUNC) >= 0) continue;
        if (errno == EINTR || errno == ENOBUFS) continue;
        break;  // EAGAIN: nothing older is left
      }
    }
    if (overrun) return true;
    // An unexpected netlink error would repeat forever: JS fails what is pending and reopens.
    chunks.back().error.fatal = true;
    out->broken = true;
    return false;
  };

  size_t count = 0;
  for (size_t round = 0; round < maxDatagrams; ++round) {
    if (whole != nullptr) {
      struct sockaddr_nl from = {};
      struct iovec iov = {whole, kDirectBufferBytes};
      struct msghdr msg = {};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      // MSG_TRUNC: the datagram's full length even if it did not fit.
      ssize_t got = recvmsg(fd_.Get(), &msg, MSG_TRUNC | MSG_DONTWAIT);
      if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          out->drained = true;
          return count;
        }
        if (onError()) continue;
        return count;
      }
      if (from.nl_pid != 0) continue;  // only the kernel may talk to a netlink socket of ours
      if ((msg.msg_flags & MSG_TRUNC) || static_cast<size_t>(got) > kDirectBufferBytes) {
        addError(SysError::Of(EMSGSIZE, "recvmsg"));
        continue;
      }
      Received r;
      bool last;
      if (AckNumbers() && PlainAck(whole, static_cast<size_t>(got), &r.ackSeq)) {
        r.ack = true;
        last = stopSeq != 0 && r.ackSeq == stopSeq;
      } else {
        r.bytes.assign(whole, whole + got);
        last = stopSeq != 0 && HoldsAck(r.bytes, stopSeq);
      }
      if (chunks.empty() || chunks.back().error.Failed()) chunks.emplace_back();
      out->bytes += static_cast<size_t>(got);
      chunks.back().datagrams.push_back(std::move(r));
      ++count;
      if (last) {
        out->drained = true;  // the kernel answered the buffer's last message: nothing more comes
        return count;
      }
      continue;
    }
    if (buf.size() < readSize_) buf.resize(readSize_);
    struct sockaddr_storage from = {};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = {buf.data(), readSize_};
    struct msghdr msg = {};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;

    // MSG_TRUNC makes the peek return the datagram's full length, so the datagram can be read
    // whole into memory of its own size: nothing is ever truncated, nothing copied twice.
    ssize_t len = recvmsg(fd_.Get(), &msg, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (len < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        out->drained = true;
        return count;
      }
      if (onError()) continue;
      return count;
    }
    if (static_cast<size_t>(len) > readSize_) readSize_ = (static_cast<size_t>(len) + 4095) & ~static_cast<size_t>(4095);

    Received r;
    r.bytes.resize(static_cast<size_t>(len));
    iov = {r.bytes.data(), r.bytes.size()};
    msg = {};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!netlink) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
    }
    ssize_t got = recvmsg(fd_.Get(), &msg, MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) continue;  // the peek will say
      if (onError()) continue;
      return count;
    }
    // Only the kernel may talk to a netlink socket of ours.
    if (netlink && reinterpret_cast<const struct sockaddr_nl*>(&from)->nl_pid != 0) continue;
    if (msg.msg_flags & MSG_TRUNC) {
      addError(SysError::Of(EMSGSIZE, "recvmsg"));
      continue;
    }
    r.bytes.resize(static_cast<size_t>(got));
    if (chunks.empty() || chunks.back().error.Failed()) chunks.emplace_back();
    if (!netlink) {
      auto* p = reinterpret_cast<const uint8_t*>(&from);
      r.from.assign(p, p + std::min<size_t>(msg.msg_namelen, sizeof from));
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          struct timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          r.sec = ts.tv_sec;
          r.nsec = ts.tv_nsec;
        }
      }
    }
    out->bytes += static_cast<size_t>(got);
    chunks.back().datagrams.push_back(std::move(r));
    ++count;
  }
  return count;
}

void LoopSocket::MarkClosed() {
  std::lock_guard<std::mutex> lock(sendMu_);
  closed_.store(true, std::memory_order_release);
  sendq_.clear();
}

}  // namespace netns
