// JS entry points of the generic datagram sockets (dgram_ops.cc): argument checks on the JS thread,
// system calls on a pool worker, datagrams read by the I/O thread (io_loop.cc).
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <climits>
#include <memory>
#include <vector>

#include "addon.h"
#include "args.h"
#include "bindings.h"
#include "dgram_ops.h"
#include "errors.h"

namespace netns {

namespace {

constexpr size_t kMaxSockaddr = sizeof(struct sockaddr_storage);
constexpr size_t kMaxOption = 64 << 10;  // a classic BPF program of 4096 instructions is 32 KiB

Napi::Buffer<uint8_t> BufferOf(Napi::Env env, const std::vector<uint8_t>& bytes) {
  return Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size());
}

std::vector<uint8_t> SockaddrValue(Napi::Env env, Napi::Value value, const char* name) {
  std::vector<uint8_t> addr = BytesValue(env, value, name, kMaxSockaddr);
  if (addr.size() < sizeof(sa_family_t)) ThrowArgError(env, std::string(name) + " is too short for a sockaddr");
  return addr;
}

int DomainValue(Napi::Env env, Napi::Value value) {
  int domain = static_cast<int>(IntegerValue(env, value, "domain", 0, INT_MAX));
  if (domain != AF_INET && domain != AF_INET6 && domain != AF_PACKET) {
    ThrowArgError(env, "domain must be AF_INET, AF_INET6 or AF_PACKET");
  }
  return domain;
}

int TypeValue(Napi::Env env, Napi::Value value) {
  int type = static_cast<int>(IntegerValue(env, value, "type", 0, INT_MAX));
  if (type != SOCK_DGRAM && type != SOCK_RAW) ThrowArgError(env, "type must be SOCK_DGRAM or SOCK_RAW");
  return type;
}

SockOpt SockOptValue(Napi::Env env, Napi::Value level, Napi::Value name, Napi::Value value) {
  SockOpt opt;
  opt.level = static_cast<int>(IntegerValue(env, level, "level", 0, INT_MAX));
  opt.name = static_cast<int>(IntegerValue(env, name, "name", 0, INT_MAX));
  opt.value = BytesValue(env, value, "value", kMaxOption);
  return opt;
}

// dgramOpen({ nsFd, domain, type, protocol, options?, bind?, rcvbuf?, initialReadBuffer?, onData,
// onError, onSendError }, cb(err, { id, local }))
Napi::Value DgramOpenFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  if (!info[0].IsObject()) ThrowArgError(env, "opts must be an object");
  Napi::Object opts = info[0].As<Napi::Object>();
  Napi::Function cb = FunctionArg(info, 1, "cb");

  DgramOpenRequest req;
  req.domain = DomainValue(env, opts.Get("domain"));
  req.type = TypeValue(env, opts.Get("type"));
  req.protocol = static_cast<int>(IntegerValue(env, opts.Get("protocol"), "protocol", 0, 65535));
  Napi::Value options = opts.Get("options");
  if (!options.IsUndefined()) {
    if (!options.IsArray()) ThrowArgError(env, "options must be an array");
    Napi::Array list = options.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value item = list.Get(i);
      if (!item.IsObject()) ThrowArgError(env, "each option must be an object");
      Napi::Object o = item.As<Napi::Object>();
      req.options.push_back(SockOptValue(env, o.Get("level"), o.Get("name"), o.Get("value")));
    }
  }
  Napi::Value bindTo = opts.Get("bind");
  if (!bindTo.IsUndefined()) req.bind = SockaddrValue(env, bindTo, "bind");
  Napi::Value rcvbuf = opts.Get("rcvbuf");
  if (!rcvbuf.IsUndefined()) req.rcvbuf = static_cast<int>(IntegerValue(env, rcvbuf, "rcvbuf", 0, INT_MAX / 2));
  Napi::Value initial = opts.Get("initialReadBuffer");
  req.initialReadBuffer =
      initial.IsUndefined() ? 65536 : static_cast<size_t>(IntegerValue(env, initial, "initialReadBuffer", 1, 64 << 20));
  Napi::Object callbacks = SocketCallbacks(env, opts);
  NsFdCopy ns = CopyNsFd(env, opts.Get("nsFd"), -1);
  req.nsFd = std::move(ns.fd);

  state->pool->Submit(env, cb, callbacks, [state, req = std::move(req), dupError = std::move(ns.error)]() mutable -> Deliver {
    if (dupError.Failed()) return DeliverError(std::move(dupError));
    std::shared_ptr<LoopSocket> sock;
    std::vector<uint8_t> local;
    SysError e = OpenDgramSocket(req, &sock, &local);
    if (e.Failed()) return DeliverError(std::move(e));
    return DeliverOpened(state, std::move(sock), [local = std::move(local)](Napi::Env env, Napi::Object obj) {
      obj.Set("local", BufferOf(env, local));
    });
  });
  return env.Undefined();
}

// dgramSend(id, buf, to: Buffer | null, token)
Napi::Value DgramSendFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  std::shared_ptr<LoopSocket> sock = LiveSocketArg(env, state, info[0], "sendmsg");
  if (sock->kind() != LoopSocket::Kind::kDatagram) ThrowArgError(env, "id is not a datagram socket");
  std::vector<uint8_t> bytes = BytesValue(env, info[1], "buf", SIZE_MAX);
  std::vector<uint8_t> to;
  if (!info[2].IsNull() && !info[2].IsUndefined()) to = SockaddrValue(env, info[2], "to");
  if (!info[3].IsNumber()) ThrowArgError(env, "token must be a number");
  QueueSend(env, state, std::move(sock), std::move(bytes), std::move(to), info[3].As<Napi::Number>().DoubleValue());
  return env.Undefined();
}

// The socket for a worker job: closed meanwhile is EBADF, and the shared_ptr keeps the fd number
// from being reused while the job runs.
template <class F>
void SubmitOnSocket(const Napi::CallbackInfo& info, std::shared_ptr<LoopSocket> sock, Napi::Function cb, F fn) {
  AddonState* state = StateOf(info);
  state->pool->Submit(info.Env(), cb, Napi::Object(), [sock = std::move(sock), fn = std::move(fn)]() mutable -> Deliver {
    if (sock->Closed()) return DeliverError(SysError::Of(EBADF, "fcntl"));
    return fn(sock->Fd());
  });
}

// dgramBind(id, addr, cb(err, local))
Napi::Value DgramBindFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<LoopSocket> sock = LiveSocketArg(env, StateOf(info), info[0], "bind");
  std::vector<uint8_t> addr = SockaddrValue(env, info[1], "addr");
  Napi::Function cb = FunctionArg(info, 2, "cb");
  SubmitOnSocket(info, std::move(sock), cb, [addr = std::move(addr)](int fd) -> Deliver {
    std::vector<uint8_t> local;
    SysError e = DgramBind(fd, addr, &local);
    if (e.Failed()) return DeliverError(std::move(e));
    return [local = std::move(local)](Napi::Env env, Napi::Function cb, Napi::Object) {
      cb.Call({env.Null(), BufferOf(env, local)});
    };
  });
  return env.Undefined();
}

// dgramSetOption(id, level, name, value, cb(err))
Napi::Value DgramSetOptionFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<LoopSocket> sock = LiveSocketArg(env, StateOf(info), info[0], "setsockopt");
  SockOpt opt = SockOptValue(env, info[1], info[2], info[3]);
  Napi::Function cb = FunctionArg(info, 4, "cb");
  SubmitOnSocket(info, std::move(sock), cb, [opt = std::move(opt)](int fd) -> Deliver {
    SysError e = DgramSetOption(fd, opt);
    if (e.Failed()) return DeliverError(std::move(e));
    return DeliverDone();
  });
  return env.Undefined();
}

// dgramGetOption(id, level, name, maxLength, cb(err, Buffer))
Napi::Value DgramGetOptionFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<LoopSocket> sock = LiveSocketArg(env, StateOf(info), info[0], "getsockopt");
  int level = static_cast<int>(IntegerValue(env, info[1], "level", 0, INT_MAX));
  int name = static_cast<int>(IntegerValue(env, info[2], "name", 0, INT_MAX));
  auto maxLength = static_cast<size_t>(IntegerValue(env, info[3], "maxLength", 1, kMaxOption));
  Napi::Function cb = FunctionArg(info, 4, "cb");
  SubmitOnSocket(info, std::move(sock), cb, [level, name, maxLength](int fd) -> Deliver {
    std::vector<uint8_t> value;
    SysError e = DgramGetOption(fd, level, name, maxLength, &value);
    if (e.Failed()) return DeliverError(std::move(e));
    return [value = std::move(value)](Napi::Env env, Napi::Function cb, Napi::Object) {
      cb.Call({env.Null(), BufferOf(env, value)});
    };
  });
  return env.Undefined();
}

}  // namespace

void ExportDgramFunctions(Napi::Env env, Napi::Object exports, AddonState* state) {
  ExportAll(env, exports, state,
            {{"dgramOpen", DgramOpenFn},
             {"dgramSend", DgramSendFn},
             {"dgramBind", DgramBindFn},
             {"dgramSetOption", DgramSetOptionFn},
             {"dgramGetOption", DgramGetOptionFn},
             {"dgramClose", SocketCloseFn}});
}

}  // namespace netns
