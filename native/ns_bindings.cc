// JS entry points of the namespace operations: check arguments on the JS thread, run the system
// calls on a worker (ns_ops.cc), hand the result back through the callback.
#include <fcntl.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"
#include "netlink_ops.h"
#include "ns_ops.h"

namespace netns {

namespace {

Deliver DeliverNsInfo(AddonState* state, NsInfo info) {
  return [state, info = std::move(info)](Napi::Env env, Napi::Function cb, Napi::Object) mutable {
    Napi::Object obj = NsInfoObject(env, state, info);
    cb.Call({env.Null(), obj});
  };
}

// nsCreate(dir, name, cb, netlink?): with `netlink` (netlinkOpen's options without nsFd), the new
// namespace's netlink socket is made by the same job while it is inside the namespace (one job and
// one namespace switch fewer for a handle's first request: docs/performance.md, "Levers of the
// request path") and comes back registered as `netlink` ({ id, portId, strictCheck, extAck }). If
// only the socket fails, the namespace is still made and `netlink` is absent.
Napi::Value NsCreateFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  std::string dir = PathArg(info, 0, "dir");
  std::string name = NameArg(info, 1, "name");
  Napi::Function cb = FunctionArg(info, 2, "cb");
  bool withSocket = info.Length() > 3 && info[3].IsObject();
  NetlinkOpenRequest req;
  Napi::Object callbacks;
  if (withSocket) {
    Napi::Object opts = info[3].As<Napi::Object>();
    req = NetlinkRequestOf(env, opts);
    callbacks = SocketCallbacks(env, opts);
  }
  bool spare = NsClaimSpare(dir);
  state->pool->Submit(env, cb, callbacks, [state, dir, name, withSocket, spare, req = std::move(req)]() mutable -> Deliver {
    NsInfo ns;
    UniqueFd fd;
    SysError e = NsCreate(
        dir, name, &ns, [&] {
          if (withSocket) NetlinkSocketHere(req.protocol, &fd);
        },
        spare);
    if (e.Failed()) return DeliverError(std::move(e));
    std::shared_ptr<LoopSocket> sock;
    NetlinkOpenResult result;
    if (fd.Valid() && ConfigureNetlinkSocket(std::move(fd), req, &sock, &result).Failed()) sock.reset();
    return [state, dir, spare, ns = std::move(ns), sock = std::move(sock), result](
               Napi::Env env, Napi::Function cb, Napi::Object callbacks) mutable {
      // The spare for the next create, made after this one rather than beside it: a job submitted
      // with the create woke a second worker and kept the first from spinning for the caller's
      // next request (docs/performance.md, "Namespace create (nsc, 17:53 UTC session)"). The
      // worker that just finished, spinning, takes it without a wake-up; else one is woken.
      if (spare) {
        state->pool->SubmitDeferred(env, [dir]() -> Deliver {
          NsRefillSpare(dir);
          return Deliver();
        });
        state->pool->WakeWorker();
      }
      Napi::Object obj = NsInfoObject(env, state, ns);
      uint32_t id = 0;
      if (sock && state->io->Register(sock, callbacks, &id).Failed()) id = 0;
      if (id != 0) obj.Set("netlink", NetlinkSocketObject(env, id, result));
      cb.Call({env.Null(), obj});
    };
  });
  return env.Undefined();
}

Napi::Value NsDeleteFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  std::string path = PathArg(info, 0, "path");
  Napi::Function cb = FunctionArg(info, 1, "cb");
  state->pool->Submit(info.Env(), cb, Napi::Object(), [path]() -> Deliver {
    SysError e = NsDelete(path);
    if (e.Failed()) return DeliverError(std::move(e));
    return DeliverDone();
  });
  return info.Env().Undefined();
}

Napi::Value NsAnonymousFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  Napi::Function cb = FunctionArg(info, 0, "cb");
  state->pool->Submit(info.Env(), cb, Napi::Object(), [state]() -> Deliver {
    NsInfo ns;
    SysError e = NsAnonymous(&ns);
    if (e.Failed()) return DeliverError(std::move(e));
    return DeliverNsInfo(state, std::move(ns));
  });
  return info.Env().Undefined();
}

Napi::Value NsOpenPathFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  std::string path = PathArg(info, 0, "path");
  Napi::Function cb = FunctionArg(info, 1, "cb");
  state->pool->Submit(info.Env(), cb, Napi::Object(), [state, path]() -> Deliver {
    NsInfo ns;
    SysError e = NsOpenPath(path, &ns);
    if (e.Failed()) return DeliverError(std::move(e));
    return DeliverNsInfo(state, std::move(ns));
  });
  return info.Env().Undefined();
}

Napi::Value NsOpenPidFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  int pid = Int32Arg(info, 0, "pid", 1, INT32_MAX);
  Napi::Function cb = FunctionArg(info, 1, "cb");
  state->pool->Submit(info.Env(), cb, Napi::Object(), [state, pid]() -> Deliver {
    NsInfo ns;
    SysError e = NsOpenPid(pid, &ns);
    if (e.Failed()) return DeliverError(std::move(e));
    return DeliverNsInfo(state, std::move(ns));
  });
  return info.Env().Undefined();
}

Napi::Value NsPinFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  NsFdCopy own = CopyNsFd(info.Env(), info[0]);
  std::string dir = PathArg(info, 1, "dir");
  std::string name = NameArg(info, 2, "name");
  Napi::Function cb = FunctionArg(info, 3, "cb");
  state->pool->Submit(info.Env(), cb, Napi::Object(),
                      [own = std::move(own), dir, name]() mutable -> Deliver {
                        if (own.error.Failed()) return DeliverError(std::move(own.error));
                        SysError e = NsPin(own.fd.Get(), dir, name);
                        if (e.Failed()) return DeliverError(std::move(e));
                        return DeliverDone();
                      });
  return info.Env().Undefined();
}

}  // namespace

void ExportNsFunctions(Napi::Env env, Napi::Object exports, AddonState* state) {
  ExportAll(env, exports, state,
            {{"nsCreate", NsCreateFn},
             {"nsDelete", NsDeleteFn},
             {"nsAnonymous", NsAnonymousFn},
             {"nsOpenPath", NsOpenPathFn},
             {"nsOpenPid", NsOpenPidFn},
             {"nsPin", NsPinFn}});
}

}  // namespace netns
