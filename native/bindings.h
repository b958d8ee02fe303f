// Helpers shared by every X_bindings.cc file: the export table, the namespace fd a job owns, and the
// send path of sockets owned by the I/O loop. JS thread only.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <utility>

#include "addon.h"
#include "errors.h"
#include "fd.h"
#include "loop_socket.h"
#include "netlink_ops.h"

namespace netns {

struct Export {
  const char* name;
  Napi::Function::Callback fn;
};

// exports[name] = fn, each bound to the environment's AddonState.
void ExportAll(Napi::Env env, Napi::Object exports, AddonState* state, std::initializer_list<Export> fns);

// A job owns a copy of a caller's fd (a namespace, a socket, a file to lock), so JS closing its own
// meanwhile cannot make the worker use a closed or recycled fd number. A failed dup is reported by
// the job.
struct FdCopy {
  UniqueFd fd;
  SysError error;
};
FdCopy CopyFd(int fd);
using NsFdCopy = FdCopy;
// `fd` < 0 (when allowed by `min`) leaves the copy invalid: the home namespace.
NsFdCopy CopyNsFd(Napi::Env env, Napi::Value value, double min = 0);

// The socket behind a loop socket id, or throws EBADF (`syscall` names the call) when it is closed.
std::shared_ptr<LoopSocket> LiveSocketArg(Napi::Env env, AddonState* state, Napi::Value id, const char* syscall);

// Queues one buffer on a loop socket and makes sure a worker drains the queue; sendmsg failures come
// back through the socket's onSendError(token, err). `defer`: the drain job wakes no worker; the
// caller promises a ThreadPool::WakeWorker (netlinkFlush) before it yields to the event loop.
// `ackSeq`, `costKey`: see LoopSocket::Enqueue.
void QueueSend(Napi::Env env, AddonState* state, std::shared_ptr<LoopSocket> sock, std::vector<uint8_t> bytes,
               std::vector<uint8_t> to, double token, bool defer = false, uint32_t ackSeq = 0,
               uint16_t costKey = request_cost::kNoKey);

// The loop socket's callbacks ({ onData, onError, onSendError }), snapshotted from `opts`.
Napi::Object SocketCallbacks(Napi::Env env, Napi::Object opts);

// The JS-thread half of a job that opened a loop socket: registers it with the I/O loop (a datagram
// can only reach JS once its callbacks, the job's context object, are known), then calls
// cb(null, { id, ... }) with the fields `describe(env, obj)` adds, or cb(err).
template <class F>
Deliver DeliverOpened(AddonState* state, std::shared_ptr<LoopSocket> sock, F describe) {
  return [state, sock = std::move(sock), describe = std::move(describe)](Napi::Env env, Napi::Function cb,
                                                                          Napi::Object callbacks) {
    uint32_t id = 0;
    SysError e = state->io->Register(sock, callbacks, &id);
    if (e.Failed()) {
      cb.Call({MakeError(env, e).Value()});
      return;
    }
    Napi::Object obj = Napi::Object::New(env);
    obj.Set("id", Napi::Number::New(env, id));
    describe(env, obj);
    cb.Call({env.Null(), obj});
  };
}

// netlinkClose(id) / dgramClose(id): closes a loop socket; idempotent, nothing is called back after.
Napi::Value SocketCloseFn(const Napi::CallbackInfo& info);

// netlinkOpen's options (protocol, groups, rcvbuf, initialReadBuffer; not nsFd), checked.
NetlinkOpenRequest NetlinkRequestOf(Napi::Env env, Napi::Object opts);
// { id, portId, strictCheck, extAck } of a registered netlink socket.
Napi::Object NetlinkSocketObject(Napi::Env env, uint32_t id, const NetlinkOpenResult& result);

// Bytes of a Buffer argument (copied).
std::vector<uint8_t> BytesValue(Napi::Env env, Napi::Value value, const char* name, size_t maxLength);

}  // namespace netns
