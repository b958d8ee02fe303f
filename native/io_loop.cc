#include "io_loop.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>

#include "threads.h"

namespace netns {

namespace {

constexpr uint64_t kWakeTag = 0;
constexpr uint64_t kFdWatchBit = 1ull << 32;  // tags of WatchOnce fds; socket ids are 32-bit
constexpr size_t kMaxDatagramsPerWake = 256;  // then the next ready socket gets its turn

Napi::Value DatagramBuffer(Napi::Env env, std::vector<uint8_t>& datagram) {
  // Copied into memory V8 owns, not handed over as an external Buffer: an external Buffer holds a
  // weak V8 global handle until a GC collects it, and V8 never gives back the blocks those handles
  // live in, so a burst of datagrams (an overrun flood) would keep the C allocator's in-use at its
  // peak for good (docs/performance.md, "Endurance"). The copy costs about what the handle and its
  // finalizer did.
  if (datagram.empty()) return Napi::Buffer<uint8_t>::New(env, 0);
  return Napi::Buffer<uint8_t>::Copy(env, datagram.data(), datagram.size());
}

// { data, address, sec, nsec } and, from an AF_PACKET socket, the sockaddr_ll fields a capture
// needs: ifindex, pkttype (PACKET_HOST, PACKET_OUTGOING, ...) and protocol (host order ETH_P_*).
Napi::Value DatagramObject(Napi::Env env, Napi::Value data, const Received& r) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("data", data);
  obj.Set("address", Napi::Buffer<uint8_t>::Copy(env, r.from.data(), r.from.size()));
  obj.Set("sec", Napi::Number::New(env, static_cast<double>(r.sec)));
  obj.Set("nsec", Napi::Number::New(env, static_cast<double>(r.nsec)));
  if (r.from.size() >= offsetof(struct sockaddr_ll, sll_addr)) {
    struct sockaddr_ll ll;
    std::memcpy(&ll, r.from.data(), std::min(r.from.size(), sizeof ll));
    if (ll.sll_family == AF_PACKET) {
      obj.Set("ifindex", Napi::Number::New(env, ll.sll_ifindex));
      obj.Set("pkttype", Napi::Number::New(env, ll.sll_pkttype));
      obj.Set("protocol", Napi::Number::New(env, ntohs(ll.sll_protocol)));
    }
  }
  return obj;
}

// A throwing JS callback must not stop delivery to the others: report it and go on.
template <class F>
void CallReporting(Napi::Env env, F&& fn) {
  try {
    fn();
  } catch (const Napi::Error& e) {
    ReportUncaught(env, e);
  }
}

}  // namespace

IoLoop::IoLoop(JsQueue& js) : js_(js) {}

IoLoop::~IoLoop() {
  if (thread_.joinable()) thread_.detach();  // Stop() normally joined it
}

SysError IoLoop::Start() {
  epoll_.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.Valid()) return SysError::FromErrno("epoll_create1");
  wake_.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.Valid()) return SysError::FromErrno("eventfd");
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, wake_.Get(), &ev) != 0) {
    return SysError::FromErrno("epoll_ctl");
  }
  alive_ = true;
  try {
    thread_ = SpawnQuietThread([this] { Run(); });
  } catch (...) {
    alive_ = false;
    return SysError::Of(EAGAIN, "pthread_create");
  }
  return {};
}

void IoLoop::Stop() {
  stop_ = true;
  if (wake_.Valid()) {
    uint64_t one = 1;
    ssize_t ignored = write(wake_.Get(), &one, sizeof one);
    (void)ignored;
  }
  if (thread_.joinable()) thread_.join();

  std::unordered_map<uint32_t, std::shared_ptr<LoopSocket>> sockets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sockets.swap(sockets_);
  }
  for (auto& entry : sockets) entry.second->MarkClosed();
  js_sockets_.clear();
  std::unordered_map<uint64_t, FdWatch> watches;
  {
    std::lock_guard<std::mutex> lock(mu_);
    watches.swap(watches_);
  }
}

SysError IoLoop::Register(std::shared_ptr<LoopSocket> sock, Napi::Object callbacks,
                          uint32_t* id) {
  sock->id = nextId_++;
  JsSocket js;
  js.onData = Napi::Persistent(callbacks.Get("onData").As<Napi::Function>());
  js.onError = Napi::Persistent(callbacks.Get("onError").As<Napi::Function>());
  js.onSendError = Napi::Persistent(callbacks.Get("onSendError").As<Napi::Function>());
  {
    std::lock_guard<std::mutex> lock(mu_);
    sockets_[sock->id] = sock;
  }
  if (!sock->direct() && !Watch(*sock)) {
    SysError e = SysError::FromErrno("epoll_ctl");
    std::lock_guard<std::mutex> lock(mu_);
    sockets_.erase(sock->id);
    sock->MarkClosed();
    return e;
  }
  js_sockets_.emplace(sock->id, std::move(js));
  *id = sock->id;
  return {};
}

void IoLoop::Close(uint32_t id) {
  js_sockets_.erase(id);
  std::shared_ptr<LoopSocket> sock;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sockets_.find(id);
    if (it == sockets_.end()) return;
    sock = std::move(it->second);
    sockets_.erase(it);
  }
  sock->MarkClosed();
  // A direct socket (a request socket, read by the worker that sends) is never in the epoll set:
  // removing it would be a system call on the JS thread that answers ENOENT.
  if (!sock->direct()) Unwatch(*sock);
  // The fd closes when the I/O thread or a sending worker, if any holds it, lets go.
}

std::shared_ptr<LoopSocket> IoLoop::Find(uint32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second;
}

bool IoLoop::Watch(LoopSocket& sock) {
  struct epoll_event ev = {};
  ev.events = EPOLLIN;  // level-triggered: a socket left unread comes back next round
  ev.data.u64 = sock.id;
  return epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, sock.Fd(), &ev) == 0;
}

void IoLoop::Unwatch(LoopSocket& sock) {
  // ENOENT when the socket was paused or already removed: nothing to undo.
  epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, sock.Fd(), nullptr);
}

void IoLoop::Run() {
  pthread_setname_np(pthread_self(), "netns-io");
  struct epoll_event events[64];
  while (!stop_) {
    int n = epoll_wait(epoll_.Get(), events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // cannot happen with valid arguments; threadCount() shows the loss
    }
    for (int i = 0; i < n && !stop_; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t value;
        ssize_t ignored = read(wake_.Get(), &value, sizeof value);
        (void)ignored;
        continue;
      }
      if (tag & kFdWatchBit) {
        FireWatch(tag);
        continue;
      }
      std::shared_ptr<LoopSocket> sock = Find(static_cast<uint32_t>(tag));
      if (sock && !sock->Closed()) ReadSocket(sock);
    }
  }
  alive_ = false;
}

SysError IoLoop::WatchOnce(int fd, UniqueFunction<void()> ready) {
  if (!alive_.load(std::memory_order_acquire)) return SysError::Of(ECANCELED, "epoll_ctl");
  uint64_t tag;
  {
    // Published before epoll_ctl: the event may fire at once.
    std::lock_guard<std::mutex> lock(mu_);
    tag = kFdWatchBit | nextWatch_++;
    watches_.emplace(tag, FdWatch{fd, std::move(ready)});
  }
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = tag;
  if (epoll_ctl(epoll_.Get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    SysError e = SysError::FromErrno("epoll_ctl");
    FdWatch dropped{-1, {}};
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = watches_.find(tag);
      dropped = std::move(it->second);
      watches_.erase(it);
    }
    return e;  // `dropped` is destroyed outside the lock
  }
  return {};
}

void IoLoop::FireWatch(uint64_t tag) {
  FdWatch watch{-1, {}};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watches_.find(tag);
    if (it == watches_.end()) return;
    watch = std::move(it->second);
    watches_.erase(it);
  }
  epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, watch.fd, nullptr);  // before `ready` may close it
  watch.ready();
}

void IoLoop::ReadSocket(const std::shared_ptr<LoopSocket>& sock) {
  ReadBatch batch;
  sock->Read(kMaxDatagramsPerWake, &batch);
  if (batch.broken) Unwatch(*sock);  // an unexpected error would repeat forever; onError said why
  if (batch.chunks.empty()) return;

  size_t bytes = batch.bytes;
  {
    std::lock_guard<std::mutex> lock(sock->flowMu);
    sock->queuedBytes += bytes;
    if (!sock->paused && sock->queuedBytes > kReadHighWater) {
      sock->paused = true;
      Unwatch(*sock);
    }
  }
  js_.Post([this, sock, chunks = std::move(batch.chunks), bytes](Napi::Env env) mutable {
    Deliver(env, sock, chunks, bytes);
  });
}

bool IoLoop::Deliver(Napi::Env env, const std::shared_ptr<LoopSocket>& sock,
                     std::vector<Chunk>& chunks, size_t bytes) {
  bool resume = false;
  {
    std::lock_guard<std::mutex> lock(sock->flowMu);
    sock->queuedBytes -= bytes;
    // Close() runs on this thread too, so a closed socket is never watched again.
    if (sock->paused && sock->queuedBytes <= kReadLowWater) {
      sock->paused = false;
      if (sock->direct()) {
        resume = !sock->Closed();
      } else if (!sock->Closed()) {
        Watch(*sock);
      }
    }
  }

  for (Chunk& chunk : chunks) {
    // Looked up each time: a callback may close the socket, and then nothing more is delivered.
    auto it = js_sockets_.find(sock->id);
    if (it == js_sockets_.end()) break;
    Napi::HandleScope scope(env);
    if (chunk.error.Failed()) {
      Napi::Function onError = it->second.onError.Value();
      CallReporting(env, [&] { onError.Call({MakeError(env, chunk.error).Value()}); });
      continue;
    }
    Napi::Array list = Napi::Array::New(env, chunk.datagrams.size());
    for (size_t i = 0; i < chunk.datagrams.size(); ++i) {
      Received& r = chunk.datagrams[i];
      Napi::Value value = r.ack ? Napi::Number::New(env, r.ackSeq) : DatagramBuffer(env, r.bytes);
      if (sock->kind() == LoopSocket::Kind::kDatagram) value = DatagramObject(env, value, r);
      list.Set(static_cast<uint32_t>(i), value);
    }
    Napi::Function onData = it->second.onData.Value();
    CallReporting(env, [&] { onData.Call({list}); });
  }
  return resume;
}

void IoLoop::ReportSendFailures(Napi::Env env, uint32_t id, std::vector<SendFailure>& failures) {
  for (SendFailure& failure : failures) {
    auto it = js_sockets_.find(id);
    if (it == js_sockets_.end()) break;
    Napi::HandleScope scope(env);
    Napi::Function onSendError = it->second.onSendError.Value();
    CallReporting(env, [&] {
      onSendError.Call({Napi::Number::New(env, failure.token), MakeError(env, failure.err).Value()});
    });
  }
}

}  // namespace netns
