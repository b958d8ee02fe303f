// JS entry points of the operations that need a thread inside a namespace besides netlink: sysctls
// (sysctl_ops.cc), TCP/UDP sockets for Node to wrap (inet_ops.cc), and the PID scan (pids_ops.cc).
// Arguments are checked on the JS thread; the system calls run on a pool worker.
#include <fcntl.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "addon.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"
#include "inet_ops.h"
#include "pids_ops.h"
#include "sysctl_ops.h"

namespace netns {

namespace {

std::string SysctlPathArg(const Napi::CallbackInfo& info, size_t i) {
  std::string path = PathArg(info, i, "path");
  if (!IsNetSysctlPath(path)) ThrowArgError(info.Env(), "path must be a sysctl path under /proc/sys/net/");
  return path;
}

bool BoolValue(Napi::Value v) { return v.IsBoolean() && v.As<Napi::Boolean>().Value(); }

Napi::Value SysctlReadFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  NsFdCopy ns = CopyNsFd(info.Env(), info[0]);
  std::string path = SysctlPathArg(info, 1);
  Napi::Function cb = FunctionArg(info, 2, "cb");
  state->pool->Submit(info.Env(), cb, Napi::Object(), [ns = std::move(ns), path]() mutable -> Deliver {
    if (ns.error.Failed()) return DeliverError(std::move(ns.error));
    std::string value;
    SysError e = SysctlRead(ns.fd.Get(), path, &value);
    if (e.Failed()) return DeliverError(std::move(e));
    return [value = std::move(value)](Napi::Env env, Napi::Function cb, Napi::Object) {
      cb.Call({env.Null(), Napi::String::New(env, value)});
    };
  });
  return info.Env().Undefined();
}

Napi::Value SysctlWriteFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  NsFdCopy ns = CopyNsFd(info.Env(), info[0]);
  std::string path = SysctlPathArg(info, 1);
  if (!info[2].IsString()) ThrowArgError(info.Env(), "value must be a string");
  std::string value = info[2].As<Napi::String>().Utf8Value();
  if (value.find('\0') != std::string::npos) ThrowArgError(info.Env(), "value must not contain NUL");
  Napi::Function cb = FunctionArg(info, 3, "cb");
  state->pool->Submit(info.Env(), cb, Napi::Object(),
                      [ns = std::move(ns), path, value]() mutable -> Deliver {
                        if (ns.error.Failed()) return DeliverError(std::move(ns.error));
                        SysError e = SysctlWrite(ns.fd.Get(), path, value);
                        if (e.Failed()) return DeliverError(std::move(e));
                        return DeliverDone();
                      });
  return info.Env().Undefined();
}

// inetSocket(nsFd, { family: 4|6, type: 'stream'|'dgram', address?: Buffer, port?, reuseAddr?,
// reusePort?, ipv6Only? }, cb(err, fd)). With `address` the socket is bound to address:port.
Napi::Value InetSocketFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  NsFdCopy ns = CopyNsFd(info.Env(), info[0]);
  if (!info[1].IsObject()) ThrowArgError(env, "opts must be an object");
  Napi::Object opts = info[1].As<Napi::Object>();
  Napi::Function cb = FunctionArg(info, 2, "cb");

  InetSocketRequest req;
  int family = static_cast<int>(IntegerValue(env, opts.Get("family"), "family", 4, 6));
  if (family == 5) ThrowArgError(env, "family must be 4 or 6");
  req.family = family == 4 ? AF_INET : AF_INET6;
  std::string type = StringValue(env, opts.Get("type"), "type");
  if (type == "stream") {
    req.type = SOCK_STREAM;
  } else if (type == "dgram") {
    req.type = SOCK_DGRAM;
  } else {
    ThrowArgError(env, "type must be 'stream' or 'dgram'");
  }
  Napi::Value address = opts.Get("address");
  if (!address.IsUndefined()) {
    if (!address.IsBuffer()) ThrowArgError(env, "address must be a Buffer");
    auto buf = address.As<Napi::Buffer<uint8_t>>();
    if (buf.Length() != (family == 4 ? 4u : 16u)) ThrowArgError(env, "address length does not match family");
    req.bind = true;
    req.address.assign(buf.Data(), buf.Data() + buf.Length());
    Napi::Value port = opts.Get("port");
    req.port = port.IsUndefined() ? 0 : static_cast<uint16_t>(IntegerValue(env, port, "port", 0, 65535));
  }
  req.reuseAddr = BoolValue(opts.Get("reuseAddr"));
  req.reusePort = BoolValue(opts.Get("reusePort"));
  req.ipv6Only = BoolValue(opts.Get("ipv6Only"));

  state->pool->Submit(env, cb, Napi::Object(), [ns = std::move(ns), req = std::move(req)]() mutable -> Deliver {
    if (ns.error.Failed()) return DeliverError(std::move(ns.error));
    UniqueFd fd;
    SysError e = InetSocketCreate(ns.fd.Get(), req, &fd);
    if (e.Failed()) return DeliverError(std::move(e));
    // Not in jsFds: Node's handle takes the fd over and closes it; closeFd must never touch it.
    return [fd = std::move(fd)](Napi::Env env, Napi::Function cb, Napi::Object) mutable {
      cb.Call({env.Null(), Napi::Number::New(env, fd.Release())});
    };
  });
  return env.Undefined();
}

Napi::Value NsPidsFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  NsFdCopy ns = CopyNsFd(info.Env(), info[0]);
  Napi::Function cb = FunctionArg(info, 1, "cb");
  state->pool->Submit(info.Env(), cb, Napi::Object(), [ns = std::move(ns)]() mutable -> Deliver {
    if (ns.error.Failed()) return DeliverError(std::move(ns.error));
    std::vector<int> pids;
    SysError e = NsPids(ns.fd.Get(), &pids);
    if (e.Failed()) return DeliverError(std::move(e));
    return [pids = std::move(pids)](Napi::Env env, Napi::Function cb, Napi::Object) {
      Napi::Array arr = Napi::Array::New(env, pids.size());
      for (uint32_t i = 0; i < pids.size(); ++i) arr.Set(i, Napi::Number::New(env, pids[i]));
      cb.Call({env.Null(), arr});
    };
  });
  return info.Env().Undefined();
}

}  // namespace

void ExportNsMiscFunctions(Napi::Env env, Napi::Object exports, AddonState* state) {
  ExportAll(env, exports, state,
            {{"sysctlRead", SysctlReadFn},
             {"sysctlWrite", SysctlWriteFn},
             {"inetSocket", InetSocketFn},
             {"nsPids", NsPidsFn}});
}

}  // namespace netns
