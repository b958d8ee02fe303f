// Why one job, and why the RTM_DELLINK is sent by another thread: docs/threading.md, "Link
// deletions: sender threads". The messages here are few and fixed (a kind-filtered link dump, link
// deletions by index, the RTM_DELLINK notification); the JS codec reads the kernel's refusals.
#include "veth_sweep.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include "fd.h"
#include "ns_ops.h"

namespace netns {

std::atomic<uint64_t> gSweepByEvent{0}, gSweepByAnswer{0};

namespace {

constexpr size_t kDumpBuffer = 64 * 1024;  // dump datagrams are at most 32 KiB
constexpr int kDumpAttempts = 10;  // as the connection's default dumpRetries + 1
constexpr int kWaitSliceMs = 100;  // how often a waiting job checks whether the pool stops
// A netlink request's default deadline (lib/netlink/connection.ts, docs/errors.md "Every call
// settles"): the deletions may wait behind another holder of RTNL, but the job does not wait forever.
constexpr int64_t kDeadlineMs = 120 * 1000;

// lib/errors.ts isNotFound(): what an idempotent delete may ignore.
bool Missing(int err) {
  return err == ENOENT || err == ENODEV || err == ESRCH || err == EADDRNOTAVAIL || err == ENXIO;
}

class MessageBuilder {
 public:
  void Begin(uint16_t type, uint16_t flags, uint32_t seq) {
    start_ = buf_.size();
    struct nlmsghdr h = {};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    Put(&h, sizeof h);
  }
  void Put(const void* p, size_t n) {
    size_t at = buf_.size();
    buf_.resize(at + NLMSG_ALIGN(n));
    std::memcpy(&buf_[at], p, n);
  }
  void Attr(uint16_t type, const void* p, size_t n) {
    struct nlattr a = {static_cast<uint16_t>(NLA_HDRLEN + n), type};
    Put(&a, sizeof a);
    Put(p, n);
  }
  size_t Nest(uint16_t type) {
    size_t at = buf_.size();
    struct nlattr a = {0, static_cast<uint16_t>(type | NLA_F_NESTED)};
    Put(&a, sizeof a);
    return at;
  }
  void EndNest(size_t at) { Set<struct nlattr>(at)->nla_len = static_cast<uint16_t>(buf_.size() - at); }
  void End() { Set<struct nlmsghdr>(start_)->nlmsg_len = static_cast<uint32_t>(buf_.size() - start_); }
  std::vector<uint8_t>& Bytes() { return buf_; }

 private:
  template <class T>
  T* Set(size_t at) {
    return reinterpret_cast<T*>(&buf_[at]);
  }
  std::vector<uint8_t> buf_;
  size_t start_ = 0;
};

// Calls f(hdr) for each message of a datagram until f returns false. False if it is malformed.
template <class F>
bool EachMessage(const uint8_t* p, size_t len, F f) {
  while (len >= NLMSG_HDRLEN) {
    auto* h = reinterpret_cast<const struct nlmsghdr*>(p);
    if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len) return false;
    if (!f(h)) return true;
    size_t step = NLMSG_ALIGN(h->nlmsg_len);
    if (step >= len) break;
    p += step;
    len -= step;
  }
  return true;
}

const struct nlattr* FindAttr(const uint8_t* p, size_t len, uint16_t type) {
  while (len >= NLA_HDRLEN) {
    auto* a = reinterpret_cast<const struct nlattr*>(p);
    if (a->nla_len < NLA_HDRLEN || a->nla_len > len) return nullptr;
    if ((a->nla_type & NLA_TYPE_MASK) == type) return a;
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= len) return nullptr;
    p += step;
    len -= step;
  }
  return nullptr;
}

const struct ifinfomsg* LinkHeader(const struct nlmsghdr* h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) return nullptr;
  return reinterpret_cast<const struct ifinfomsg*>(NLMSG_DATA(h));
}

// IFLA_LINKINFO / IFLA_INFO_KIND is "veth" (the kernel filters the dump by kind too, but an old
// kernel or a non-strict socket may not).
bool IsVeth(const struct nlmsghdr* h) {
  size_t off = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifinfomsg)));
  if (h->nlmsg_len < off) return false;
  const uint8_t* base = reinterpret_cast<const uint8_t*>(h);
  const struct nlattr* info = FindAttr(base + off, h->nlmsg_len - off, IFLA_LINKINFO);
  if (info == nullptr) return false;
  const struct nlattr* kind =
      FindAttr(reinterpret_cast<const uint8_t*>(info) + NLA_HDRLEN, info->nla_len - NLA_HDRLEN, IFLA_INFO_KIND);
  if (kind == nullptr) return false;
  size_t n = kind->nla_len - NLA_HDRLEN;
  const char* s = reinterpret_cast<const char*>(kind) + NLA_HDRLEN;
  return n >= 4 && std::memcmp(s, "veth", 4) == 0 && (n == 4 || s[4] == '\0');
}

int ErrorOf(const struct nlmsghdr* h) {  // NLMSG_ERROR and NLMSG_DONE both start with an int
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(int))) return -EBADMSG;
  int err;
  std::memcpy(&err, NLMSG_DATA(h), sizeof err);
  return err;
}

SysError Send(int fd, const std::vector<uint8_t>& buf) {
  struct sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<struct sockaddr*>(&kernel), sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return SysError::FromErrno("sendmsg");
  return {};
}

// One datagram; EMSGSIZE if it did not fit (never expected: see kDumpBuffer).
SysError Receive(int fd, std::vector<uint8_t>& buf, int flags, size_t* len) {
  ssize_t n;
  do {
    n = recv(fd, buf.data(), buf.size(), MSG_TRUNC | flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return SysError::FromErrno("recvmsg");
  if (static_cast<size_t>(n) > buf.size()) return SysError::Of(EMSGSIZE, "recvmsg");
  *len = static_cast<size_t>(n);
  return {};
}

SysError Bind(int fd) {
  struct sockaddr_nl local = {};
  local.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&local), sizeof local) != 0) return SysError::FromErrno("bind");
  return {};
}

// The worker's receive buffer for the dump, the notifications and the answers: allocated (and
// zeroed) once per worker thread, not per deletion.
std::vector<uint8_t>& ReadBuffer() {
  thread_local std::vector<uint8_t> buf(kDumpBuffer);
  return buf;
}

// `ip link show type veth`, filtered by the kernel (IFLA_LINKINFO/IFLA_INFO_KIND in the request),
// retried while NLM_F_DUMP_INTR says a concurrent change may have hidden a link. False when the
// result says why not.
bool ListVeths(int fd, SweepResult* r, std::vector<uint32_t>* out) {
  std::vector<uint8_t>& buf = ReadBuffer();
  for (int attempt = 1;; ++attempt) {
    uint32_t seq = static_cast<uint32_t>(attempt);
    MessageBuilder m;
    m.Begin(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq);
    struct ifinfomsg ifi = {};
    ifi.ifi_family = AF_UNSPEC;
    m.Put(&ifi, sizeof ifi);
    uint32_t mask = RTEXT_FILTER_SKIP_STATS;
    m.Attr(IFLA_EXT_MASK, &mask, sizeof mask);
    size_t info = m.Nest(IFLA_LINKINFO);
    m.Attr(IFLA_INFO_KIND, "veth", 5);
    m.EndNest(info);
    m.End();
    SysError e = Send(fd, m.Bytes());
    if (e.Failed()) {
      r->error = std::move(e);
      r->stage = "sweep";
      return false;
    }
    out->clear();
    bool interrupted = false, done = false;
    while (!done) {
      size_t len = 0;
      e = Receive(fd, buf, 0, &len);
      if (e.Failed()) {
        r->error = std::move(e);
        r->stage = "sweep";
        return false;
      }
      bool wellFormed = EachMessage(buf.data(), len, [&](const struct nlmsghdr* h) {
        if (h->nlmsg_seq != seq) return true;
        if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
          done = true;
          if (ErrorOf(h) != 0) {
            const uint8_t* p = reinterpret_cast<const uint8_t*>(h);
            r->refusal.assign(p, p + h->nlmsg_len);
            r->refused = "dump";
          }
          return false;
        }
        const struct ifinfomsg* ifi = LinkHeader(h);
        if (h->nlmsg_type == RTM_NEWLINK && ifi != nullptr && IsVeth(h)) out->push_back(static_cast<uint32_t>(ifi->ifi_index));
        return true;
      });
      if (!wellFormed) {
        r->error = SysError::Of(EBADMSG, "recvmsg");
        r->stage = "sweep";
        return false;
      }
    }
    if (r->refused != nullptr) return false;
    if (!interrupted) return true;
    if (attempt >= kDumpAttempts) {
      r->dumpAttempts = attempt;
      return false;
    }
  }
}

// What a sender thread and the waiting job share. The sender only sends: the answers, like the
// notifications, are read by the job on the same socket, and the sender drops its reference to it
// when sendmsg() returns. It signals `done` only if the sendmsg() failed.
struct Handoff {
  UniqueFd sock;  // the namespace's socket, joined to RTNLGRP_LINK: the RTM_DELLINKs go out on it
  UniqueFd done;  // eventfd
  std::vector<uint8_t> request;
  std::mutex mu;  // guards the outcome
  SysError error;
  bool failed = false;
};

// Sender thread (or the worker itself). Returns after the kernel's rcu_barrier(), long after the
// links were unlisted and the job reported; the answers are queued by then, for the job to read if
// it still waits.
void SendDeletes(Handoff& h) {
  SysError e = Send(h.sock.Get(), h.request);
  if (!e.Failed()) return;
  {
    std::lock_guard<std::mutex> lock(h.mu);
    h.error = std::move(e);
    h.failed = true;
  }
  uint64_t one = 1;
  ssize_t n;
  do {
    n = write(h.done.Get(), &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

// Reads what is queued on `sock`: crosses off the links whose RTM_DELLINK notification arrived (by
// ifindex, or by name for an entry 0 when `name` is given) and counts the answers to the
// deletions (sequence numbers from `firstSeq`), keeping the first refusal and its link.
struct Progress {
  std::vector<uint32_t> waiting;
  size_t answered = 0;
  std::vector<uint8_t> refusal;
  uint32_t index = 0;
};

void ReadQueued(int sock, std::vector<uint8_t>& buf, uint32_t firstSeq, const std::vector<uint32_t>& indexes,
                const std::string& name, bool ignoreMissing, Progress* p) {
  for (;;) {
    size_t len = 0;
    SysError e = Receive(sock, buf, MSG_DONTWAIT, &len);
    // ENOBUFS: some notifications were lost; the requests' answers settle the job instead.
    if (e.Failed()) {
      if (e.err == ENOBUFS) continue;
      return;
    }
    EachMessage(buf.data(), len, [&](const struct nlmsghdr* h) {
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_seq < firstSeq || h->nlmsg_seq >= firstSeq + indexes.size()) return true;
        ++p->answered;
        int err = -ErrorOf(h);
        // For the sweep, a link already gone (both ends of a pair inside the namespace: the first
        // deletion took the second) is not an error, as in links.delete({ ifExists }).
        if (err != 0 && !(ignoreMissing && Missing(err)) && p->refusal.empty()) {
          const uint8_t* b = reinterpret_cast<const uint8_t*>(h);
          p->refusal.assign(b, b + h->nlmsg_len);
          p->index = indexes[h->nlmsg_seq - firstSeq];
        }
        return true;
      }
      const struct ifinfomsg* ifi = LinkHeader(h);
      if (h->nlmsg_type != RTM_DELLINK || ifi == nullptr) return true;
      uint32_t index = static_cast<uint32_t>(ifi->ifi_index);
      if (!name.empty()) {
        size_t off = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifinfomsg)));
        const struct nlattr* a = h->nlmsg_len > off ? FindAttr(reinterpret_cast<const uint8_t*>(h) + off, h->nlmsg_len - off, IFLA_IFNAME) : nullptr;
        if (a != nullptr) {
          const char* s = reinterpret_cast<const char*>(a) + NLA_HDRLEN;
          if (std::string(s, strnlen(s, a->nla_len - NLA_HDRLEN)) == name) index = 0;
        }
      }
      auto it = std::find(p->waiting.begin(), p->waiting.end(), index);
      if (it != p->waiting.end()) p->waiting.erase(it);
      return true;
    });
  }
}

// One rtnetlink socket inside the namespace behind `nsFd` (< 0: home), blocking, bound, with
// extended acks and strict checking (both optional, as for every other socket in netlink_ops.cc:
// without them a refusal has no text, and the dump's kind filter is applied here). The dump, the
// deletions, their notifications and their answers all use it.
SysError OpenSocket(int nsFd, UniqueFd* sock) {
  SysError e;
  {
    NsGuard guard;
    if (nsFd >= 0) e = guard.Enter(nsFd);
    if (!e.Failed()) {
      sock->Reset(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
      if (!sock->Valid()) e = SysError::FromErrno("socket");
    }
  }
  if (e.Failed()) return e;
  int one = 1;
  setsockopt(sock->Get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(sock->Get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  return Bind(sock->Get());
}

struct DeleteOutcome {
  SysError error;
  bool sent = false;  // false: the error came before anything was sent (nothing changed)
  std::vector<uint8_t> refusal;
  uint32_t index = 0;
  bool byEvent = false;
};

// Joins `sock` to RTNLGRP_LINK, hands one RTM_DELLINK per entry of `indexes` (an ifindex, or 0
// for `name`) on it to a sender thread, then waits until the notification of every link has
// arrived or the answers have (threading.md, "Link deletions: sender threads").
DeleteOutcome DeleteAwaitingUnlisting(UniqueFd sock, uint32_t firstSeq, const std::vector<uint32_t>& indexes,
                                      const std::string& name, bool ignoreMissing, SlowSenders* senders) {
  DeleteOutcome out;
  // Subscribed before anything is deleted, so the notification cannot be missed.
  int group = RTNLGRP_LINK;
  auto h = std::make_shared<Handoff>();
  h->done.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (setsockopt(sock.Get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
    out.error = SysError::FromErrno("setsockopt");
    return out;
  }
  if (!h->done.Valid()) {
    out.error = SysError::FromErrno("eventfd");
    return out;
  }
  h->sock = std::move(sock);
  MessageBuilder m;
  for (size_t i = 0; i < indexes.size(); ++i) {
    m.Begin(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, firstSeq + static_cast<uint32_t>(i));
    struct ifinfomsg ifi = {};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = static_cast<int>(indexes[i]);
    m.Put(&ifi, sizeof ifi);
    if (indexes[i] == 0) m.Attr(IFLA_IFNAME, name.c_str(), name.size() + 1);
    m.End();
  }
  h->request = std::move(m.Bytes());
  out.sent = true;
  if (senders == nullptr || !senders->Run([h] { SendDeletes(*h); })) SendDeletes(*h);

  std::vector<uint8_t>& buf = ReadBuffer();
  Progress p;
  p.waiting = indexes;
  bool answered = false;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct pollfd fds[2] = {{h->sock.Get(), POLLIN, 0}, {h->done.Get(), POLLIN, 0}};
    int n = poll(fds, 2, kWaitSliceMs);
    if (n < 0 && errno != EINTR) {
      out.error = SysError::FromErrno("poll");
      break;
    }
    // The notifications are queued before the answers: the kernel multicasts them before it answers.
    if (n > 0 && fds[0].revents != 0) ReadQueued(h->sock.Get(), buf, firstSeq, indexes, name, ignoreMissing, &p);
    if (p.waiting.empty()) {
      out.byEvent = true;
      break;
    }
    if (p.answered >= indexes.size()) {
      answered = true;
      break;
    }
    if (n > 0 && fds[1].revents != 0) {  // the sendmsg() failed
      std::lock_guard<std::mutex> lock(h->mu);
      out.error = std::move(h->error);
      break;
    }
    if (StopRequested()) {
      out.error = SysError::Of(ECANCELED, "poll");
      break;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= kDeadlineMs) {
      out.error = SysError::Of(ETIMEDOUT, "poll");  // the deletions stay with the sender and may still happen
      break;
    }
  }
  if (answered && !p.refusal.empty()) {
    out.refusal = std::move(p.refusal);
    out.index = p.index;
  }
  (out.byEvent ? gSweepByEvent : gSweepByAnswer).fetch_add(1, std::memory_order_relaxed);
  return out;
}

}  // namespace

SweepResult SweepAndUnpin(const std::string& path, SlowSenders* senders) {
  SweepResult r;
  NsInfo ns;
  SysError e = NsOpenPath(path, &ns);
  if (e.Failed()) {
    if (Missing(e.err) && e.code.empty()) {  // nothing pinned there: the unpin reports it
      r.error = NsDelete(path);
      if (r.error.Failed()) r.stage = "unpin";
      return r;
    }
    r.error = std::move(e);
    r.stage = "open";
    return r;
  }
  r.identity = ns.identity;

  UniqueFd sock;
  e = OpenSocket(ns.fd.Get(), &sock);
  if (e.Failed()) {
    r.error = std::move(e);
    r.stage = "sweep";
    return r;
  }

  std::vector<uint32_t> veths;
  if (!ListVeths(sock.Get(), &r, &veths)) return r;
  r.veths = static_cast<uint32_t>(veths.size());
  if (veths.empty()) {
    r.error = NsDelete(path);
    if (r.error.Failed()) r.stage = "unpin";
    return r;
  }

  // The pin goes once the veths are unlisted (the fd held here keeps the namespace alive until
  // then). Unpinned while the kernel deleted them, as before, it slowed the deletion: both wait
  // for expedited RCU grace periods, one after the other (threading.md, "Link deletions: sender
  // threads").
  DeleteOutcome d = DeleteAwaitingUnlisting(std::move(sock), kDumpAttempts + 1, veths, std::string(), true, senders);
  if (!d.sent) {
    r.error = std::move(d.error);
    r.stage = "sweep";
    return r;
  }
  SysError unpin = NsDelete(path);
  r.byEvent = d.byEvent;
  if (!d.refusal.empty()) {
    r.refusal = std::move(d.refusal);
    r.refused = "delete";
    r.index = d.index;
  }
  if (unpin.Failed()) {  // the unpin's error first, as before (the deletions were sent anyway)
    r.error = std::move(unpin);
    r.stage = "unpin";
  } else if (d.error.Failed()) {
    r.error = std::move(d.error);
    r.stage = "delete";
  }
  return r;
}

LinkDeleteResult LinkDeleteUnlisted(int nsFd, uint32_t index, const std::string& name, SlowSenders* senders) {
  LinkDeleteResult r;
  UniqueFd sock;
  r.error = OpenSocket(nsFd, &sock);
  if (r.error.Failed()) return r;
  DeleteOutcome d = DeleteAwaitingUnlisting(std::move(sock), 1, {index}, index == 0 ? name : std::string(), false, senders);
  r.error = std::move(d.error);
  r.refusal = std::move(d.refusal);
  r.byEvent = d.byEvent;
  return r;
}

}  // namespace netns
