// JS entry points of the netlink sockets: open on a worker, queue sends for workers, close.
#include <fcntl.h>

#include <climits>
#include <memory>
#include <vector>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "netlink_socket.h"

namespace netns {

namespace {

constexpr size_t kSendBudget = 64;  // buffers per drain job before yielding the worker

void ScheduleDrain(Napi::Env env, AddonState* state, std::shared_ptr<NetlinkSocket> sock) {
  // No callback: the job's own hold keeps the process alive until the queue is flushed.
  state->pool->Submit(env, Napi::Function(), Napi::Object(), [state, sock]() -> Deliver {
    bool more = false;
    std::vector<SendFailure> failures = sock->DrainSends(kSendBudget, &more);
    if (!more && failures.empty()) return Deliver();
    return [state, sock, more, failures = std::move(failures)](Napi::Env env, Napi::Function,
                                                                Napi::Object) mutable {
      if (more) ScheduleDrain(env, state, sock);  // first: a failure callback may throw
      state->io->ReportSendFailures(env, sock->id, failures);
    };
  });
}

Napi::Value NetlinkOpenFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  if (!info[0].IsObject()) ThrowArgError(env, "opts must be an object");
  Napi::Object opts = info[0].As<Napi::Object>();
  Napi::Function cb = FunctionArg(info, 1, "cb");

  NetlinkOpenRequest req;
  req.protocol = static_cast<int>(IntegerValue(env, opts.Get("protocol"), "protocol", 0, 31));
  int nsFd = static_cast<int>(IntegerValue(env, opts.Get("nsFd"), "nsFd", -1, INT32_MAX));
  Napi::Value groups = opts.Get("groups");
  if (!groups.IsArray()) ThrowArgError(env, "groups must be an array");
  Napi::Array list = groups.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    req.groups.push_back(static_cast<uint32_t>(IntegerValue(env, list.Get(i), "group", 1, 1023)));
  }
  // The kernel doubles the value it is given; keep that inside an int.
  double rcvbuf = IntegerValue(env, opts.Get("rcvbuf"), "rcvbuf", 0, 9e15);
  req.rcvbuf = rcvbuf > INT_MAX / 2 ? INT_MAX / 2 : static_cast<int>(rcvbuf);
  req.initialReadBuffer = static_cast<size_t>(
      IntegerValue(env, opts.Get("initialReadBuffer"), "initialReadBuffer", 1, 64 << 20));

  // Snapshot the callbacks now, so later changes to `opts` do not matter.
  Napi::Object callbacks = Napi::Object::New(env);
  callbacks.Set("onData", FunctionValue(env, opts.Get("onData"), "onData"));
  callbacks.Set("onError", FunctionValue(env, opts.Get("onError"), "onError"));
  callbacks.Set("onSendError", FunctionValue(env, opts.Get("onSendError"), "onSendError"));

  SysError dupError;
  if (nsFd >= 0) {
    req.nsFd.Reset(fcntl(nsFd, F_DUPFD_CLOEXEC, 3));  // the job owns its copy
    if (!req.nsFd.Valid()) dupError = SysError::FromErrno("fcntl");
  }

  state->pool->Submit(env, cb, callbacks, [state, req = std::move(req), dupError]() mutable -> Deliver {
    if (dupError.Failed()) return DeliverError(std::move(dupError));
    std::shared_ptr<NetlinkSocket> sock;
    NetlinkOpenResult result;
    SysError e = OpenNetlinkSocket(req, &sock, &result);
    if (e.Failed()) return DeliverError(std::move(e));
    // Published on the JS thread: a datagram can only reach JS once the callbacks are known.
    return [state, sock, result](Napi::Env env, Napi::Function cb, Napi::Object callbacks) {
      uint32_t id = 0;
      SysError e = state->io->Register(sock, callbacks, &id);
      if (e.Failed()) {
        cb.Call({MakeError(env, e).Value()});
        return;
      }
      Napi::Object obj = Napi::Object::New(env);
      obj.Set("id", Napi::Number::New(env, id));
      obj.Set("portId", Napi::Number::New(env, result.portId));
      obj.Set("strictCheck", Napi::Boolean::New(env, result.strictCheck));
      obj.Set("extAck", Napi::Boolean::New(env, result.extAck));
      cb.Call({env.Null(), obj});
    };
  });
  return env.Undefined();
}

Napi::Value NetlinkSendFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  auto id = static_cast<uint32_t>(IntegerValue(env, info[0], "id", 1, UINT32_MAX));
  if (!info[1].IsBuffer()) ThrowArgError(env, "buf must be a Buffer");
  Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
  if (!info[2].IsNumber()) ThrowArgError(env, "token must be a number");
  double token = info[2].As<Napi::Number>().DoubleValue();

  std::shared_ptr<NetlinkSocket> sock = state->io->Find(id);
  if (!sock || sock->Closed()) throw MakeError(env, SysError::Of(EBADF, "sendmsg"));
  // Copied: the caller may reuse `buf` as soon as this returns.
  std::vector<uint8_t> bytes(buf.Data(), buf.Data() + buf.Length());
  if (sock->Enqueue(std::move(bytes), token)) ScheduleDrain(env, state, std::move(sock));
  return env.Undefined();
}

Napi::Value NetlinkCloseFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  if (!info[0].IsNumber()) ThrowArgError(info.Env(), "id must be a number");
  double id = info[0].As<Napi::Number>().DoubleValue();
  if (id >= 1 && id <= UINT32_MAX && id == static_cast<uint32_t>(id)) {
    state->io->Close(static_cast<uint32_t>(id));
  }
  return info.Env().Undefined();
}

}  // namespace

void ExportNetlinkFunctions(Napi::Env env, Napi::Object exports, AddonState* state) {
  auto add = [&](const char* name, Napi::Function::Callback fn) {
    exports.Set(name, Napi::Function::New(env, fn, name, state));
  };
  add("netlinkOpen", NetlinkOpenFn);
  add("netlinkSend", NetlinkSendFn);
  add("netlinkClose", NetlinkCloseFn);
}

}  // namespace netns
