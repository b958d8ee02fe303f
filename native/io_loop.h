// The one I/O thread: epoll over every open loop socket (netlink, and the generic datagram sockets of
// dgram_ops.h), reading whole datagrams and handing them to JS in batches. It also keeps the socket registry: epoll data carries a numeric id, never a
// pointer, so an event for a socket closed a moment ago finds nothing instead of freed memory.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "errors.h"
#include "fd.h"
#include "js_queue.h"
#include "loop_socket.h"
#include "unique_function.h"

namespace netns {

class IoLoop {
 public:
  explicit IoLoop(JsQueue& js);
  ~IoLoop();
  IoLoop(const IoLoop&) = delete;
  IoLoop& operator=(const IoLoop&) = delete;

  // JS thread.
  SysError Start();
  // JS thread, at env teardown: joins the thread and closes every socket.
  void Stop();
  bool Alive() const { return alive_.load(std::memory_order_relaxed); }

  // JS thread: publish a socket with its JS callbacks (onData, onError, onSendError on `callbacks`).
  // A direct socket (loop_socket.h) is registered but never watched: its sender reads it.
  SysError Register(std::shared_ptr<LoopSocket> sock, Napi::Object callbacks, uint32_t* id);
  // JS thread. Idempotent; nothing is called back for the socket afterwards.
  void Close(uint32_t id);
  // Any thread.
  std::shared_ptr<LoopSocket> Find(uint32_t id);

  // JS thread: hands what was read from `sock` to its onData/onError. True when reading of a direct
  // socket was paused for flow control and may resume now (the caller schedules a read).
  bool Deliver(Napi::Env env, const std::shared_ptr<LoopSocket>& sock, std::vector<Chunk>& chunks,
               size_t bytes);

  // JS thread: calls onSendError for each failure, unless the socket was closed since.
  void ReportSendFailures(Napi::Env env, uint32_t id, std::vector<SendFailure>& failures);

  // Any thread: call `ready` once, on the I/O thread, when `fd` becomes readable (for a pidfd: the
  // process exited). The caller keeps `fd` open until then, typically through what `ready`
  // captures. At Stop() callbacks not yet called are destroyed uncalled. Fails with ECANCELED when
  // the I/O thread is gone.
  SysError WatchOnce(int fd, UniqueFunction<void()> ready);

 private:
  struct JsSocket {
    Napi::FunctionReference onData;
    Napi::FunctionReference onError;
    Napi::FunctionReference onSendError;
  };

  void Run();
  void ReadSocket(const std::shared_ptr<LoopSocket>& sock);
  bool Watch(LoopSocket& sock);
  void Unwatch(LoopSocket& sock);
  void FireWatch(uint64_t tag);

  JsQueue& js_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: Stop() interrupts epoll_wait through it
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> alive_{false};

  std::mutex mu_;
  std::unordered_map<uint32_t, std::shared_ptr<LoopSocket>> sockets_;
  struct FdWatch {
    int fd;
    UniqueFunction<void()> ready;
  };
  std::unordered_map<uint64_t, FdWatch> watches_;  // by epoll tag
  uint64_t nextWatch_ = 1;

  // JS thread only.
  std::unordered_map<uint32_t, JsSocket> js_sockets_;
  uint32_t nextId_ = 1;  // 0 is the eventfd's epoll tag; ids are never reused
};

}  // namespace netns
