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
#include <functional>
#include <memory>
#include <mutex>

#include "fd.h"
#include "ns_ops.h"

namespace netns {

std::atomic<uint64_t> gSweepByEvent{0}, gSweepByAnswer{0};

namespace {

constexpr size_t kDumpBuffer = 64 * 1024;  // dump datagrams are at most 32 KiB
constexpr size_t kAckBuffer = 16 * 1024;
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

// `ip link show type veth`, filtered by the kernel (IFLA_LINKINFO/IFLA_INFO_KIND in the request),
// retried while NLM_F_DUMP_INTR says a concurrent change may have hidden a link. False when the
// result says why not.
bool ListVeths(int fd, SweepResult* r, std::vector<uint32_t>* out) {
  std::vector<uint8_t> buf(kDumpBuffer);
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

// What a sender thread and the waiting job share. The sender fills the outcome, then writes `done`.
struct Handoff {
  UniqueFd sock;  // the namespace's request socket: the RTM_DELLINKs go out and their answers come back here
  UniqueFd done;  // eventfd
  std::vector<uint8_t> request;
  uint32_t firstSeq = 0;
  size_t count = 0;
  std::vector<uint32_t> indexes;
  bool ignoreMissing = false;  // a link already gone is no refusal (the sweep's pairs)
  std::mutex mu;  // guards the outcome
  SysError error;
  std::vector<uint8_t> refusal;
  uint32_t index = 0;
};

// Sender thread (or the worker itself). The kernel answers every message inside sendmsg(), so the
// answers are all queued when it returns: read without waiting.
void SendDeletes(Handoff& h) {
  SysError e = Send(h.sock.Get(), h.request);
  std::vector<uint8_t> refusal;
  uint32_t index = 0;
  if (!e.Failed()) {
    std::vector<uint8_t> buf(kAckBuffer);
    size_t answered = 0;
    while (answered < h.count && !e.Failed()) {
      size_t len = 0;
      e = Receive(h.sock.Get(), buf, MSG_DONTWAIT, &len);
      if (e.Failed()) break;
      EachMessage(buf.data(), len, [&](const struct nlmsghdr* m) {
        if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_seq < h.firstSeq || m->nlmsg_seq >= h.firstSeq + h.count) return true;
        ++answered;
        int err = -ErrorOf(m);
        // For the sweep, a link already gone (both ends of a pair inside the namespace: the first
        // deletion took the second) is not an error, as in links.delete({ ifExists }).
        if (err != 0 && !(h.ignoreMissing && Missing(err)) && refusal.empty()) {
          const uint8_t* p = reinterpret_cast<const uint8_t*>(m);
          refusal.assign(p, p + m->nlmsg_len);
          index = h.indexes[m->nlmsg_seq - h.firstSeq];
        }
        return true;
      });
    }
  }
  {
    std::lock_guard<std::mutex> lock(h.mu);
    h.error = std::move(e);
    h.refusal = std::move(refusal);
    h.index = index;
  }
  uint64_t one = 1;
  ssize_t n;
  do {
    n = write(h.done.Get(), &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

// Reads the notifications queued on `mon`, crossing off the links whose RTM_DELLINK arrived (by
// ifindex, or by name for an entry 0 when `name` is given).
void ReadNotifications(int mon, std::vector<uint8_t>& buf, const std::string& name, std::vector<uint32_t>* waiting) {
  for (;;) {
    size_t len = 0;
    SysError e = Receive(mon, buf, MSG_DONTWAIT, &len);
    // ENOBUFS: some notifications were lost; the requests' answers settle the job instead.
    if (e.Failed()) {
      if (e.err == ENOBUFS) continue;
      return;
    }
    EachMessage(buf.data(), len, [&](const struct nlmsghdr* h) {
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
      auto it = std::find(waiting->begin(), waiting->end(), index);
      if (it != waiting->end()) waiting->erase(it);
      return true;
    });
  }
}

// Both sockets inside the namespace behind `nsFd`: `req` blocking, with extended acks and strict
// checking (both optional, as for every other socket in netlink_ops.cc: without them a refusal has
// no text, and the dump's kind filter is applied here), `mon` non-blocking; both bound.
SysError OpenSockets(int nsFd, UniqueFd* req, UniqueFd* mon) {
  SysError e;
  {
    NsGuard guard;
    if (nsFd >= 0) e = guard.Enter(nsFd);
    if (!e.Failed()) {
      req->Reset(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
      if (!req->Valid()) e = SysError::FromErrno("socket");
    }
    if (!e.Failed()) {
      mon->Reset(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
      if (!mon->Valid()) e = SysError::FromErrno("socket");
    }
  }
  if (e.Failed()) return e;
  int one = 1;
  setsockopt(req->Get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(req->Get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  e = Bind(req->Get());
  if (!e.Failed()) e = Bind(mon->Get());
  return e;
}

struct DeleteOutcome {
  SysError error;
  bool sent = false;  // false: the error came before anything was sent (nothing changed)
  std::vector<uint8_t> refusal;
  uint32_t index = 0;
  bool byEvent = false;
};

// Joins `mon` to RTNLGRP_LINK, hands one RTM_DELLINK per entry of `indexes` (an ifindex, or 0 for
// `name`) on `req` to a sender thread, runs `meanwhile`, then waits until the notification of
// every link has arrived or the answers have (threading.md, "Link deletions: sender threads").
DeleteOutcome DeleteAwaitingUnlisting(UniqueFd req, int mon, uint32_t firstSeq, const std::vector<uint32_t>& indexes,
                                      const std::string& name, bool ignoreMissing, SlowSenders* senders,
                                      const std::function<void()>& meanwhile) {
  DeleteOutcome out;
  // Subscribed before anything is deleted, so the notification cannot be missed.
  int group = RTNLGRP_LINK;
  auto h = std::make_shared<Handoff>();
  h->done.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (setsockopt(mon, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
    out.error = SysError::FromErrno("setsockopt");
    return out;
  }
  if (!h->done.Valid()) {
    out.error = SysError::FromErrno("eventfd");
    return out;
  }
  h->sock = std::move(req);
  h->firstSeq = firstSeq;
  h->count = indexes.size();
  h->indexes = indexes;
  h->ignoreMissing = ignoreMissing;
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

  if (meanwhile) meanwhile();

  std::vector<uint8_t> buf(kAckBuffer);
  std::vector<uint32_t> waiting = indexes;
  bool answered = false;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct pollfd fds[2] = {{mon, POLLIN, 0}, {h->done.Get(), POLLIN, 0}};
    int n = poll(fds, 2, kWaitSliceMs);
    if (n < 0 && errno != EINTR) {
      out.error = SysError::FromErrno("poll");
      break;
    }
    // Notifications first: the kernel multicasts them before it answers the request.
    if (n > 0 && fds[0].revents != 0) ReadNotifications(mon, buf, name, &waiting);
    if (waiting.empty()) {
      out.byEvent = true;
      break;
    }
    if (n > 0 && fds[1].revents != 0) {
      answered = true;
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
  if (answered) {
    std::lock_guard<std::mutex> lock(h->mu);
    if (h->error.Failed()) {
      out.error = std::move(h->error);
    } else if (!h->refusal.empty()) {
      out.refusal = std::move(h->refusal);
      out.index = h->index;
    }
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

  UniqueFd req, mon;
  e = OpenSockets(ns.fd.Get(), &req, &mon);
  if (e.Failed()) {
    r.error = std::move(e);
    r.stage = "sweep";
    return r;
  }

  std::vector<uint32_t> veths;
  if (!ListVeths(req.Get(), &r, &veths)) return r;
  r.veths = static_cast<uint32_t>(veths.size());
  if (veths.empty()) {
    r.error = NsDelete(path);
    if (r.error.Failed()) r.stage = "unpin";
    return r;
  }

  // The kernel works on the deletions while the pin goes; the fd held here keeps the namespace alive.
  SysError unpin;
  DeleteOutcome d = DeleteAwaitingUnlisting(std::move(req), mon.Get(), kDumpAttempts + 1, veths, std::string(), true, senders,
                                            [&] { unpin = NsDelete(path); });
  if (!d.sent) {
    r.error = std::move(d.error);
    r.stage = "sweep";
    return r;
  }
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
  UniqueFd req, mon;
  r.error = OpenSockets(nsFd, &req, &mon);
  if (r.error.Failed()) return r;
  DeleteOutcome d = DeleteAwaitingUnlisting(std::move(req), mon.Get(), 1, {index}, index == 0 ? name : std::string(),
                                            false, senders, nullptr);
  r.error = std::move(d.error);
  r.refusal = std::move(d.refusal);
  r.byEvent = d.byEvent;
  return r;
}

}  // namespace netns
