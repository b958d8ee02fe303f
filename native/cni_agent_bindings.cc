// JS entry point of cni_agent_ops.h, for the resident CNI agent (lib/cni/agent.ts). Node's net
// module reads neither peer credentials nor SCM_RIGHTS, so the agent accepts connections paused and
// this reads the request from the connection's fd on a pool worker (docs/threading.md).

#include <cstring>

#include <utility>

#include "addon.h"
#include "args.h"
#include "bindings.h"
#include "cni_agent_ops.h"
#include "errors.h"
#include "fd.h"

namespace netns {

namespace {

// cniShimReceive(fd, timeoutMs, cb(err, { pid, uid, gid, nsFd, env: Buffer, stdin: Buffer })).
// The worker reads a dup of `fd` (the same socket), so JS closing its socket meanwhile cannot make
// it read a recycled fd number. `nsFd` (-1 when none came) is not one closeFd accepts: the caller
// closes it with fs.closeSync.
Napi::Value CniShimReceiveFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  int fd = Int32Arg(info, 0, "fd", 0, INT32_MAX);
  int timeoutMs = Int32Arg(info, 1, "timeoutMs", 1, INT32_MAX);
  Napi::Function cb = FunctionArg(info, 2, "cb");
  FdCopy copied = CopyFd(fd);
  state->pool->Submit(info.Env(), cb, Napi::Object(),
                      [copied = std::move(copied), timeoutMs]() mutable -> Deliver {
                        if (copied.error.Failed()) return DeliverError(std::move(copied.error));
                        CniShimRequest req;
                        SysError e = CniShimReceive(copied.fd.Get(), timeoutMs, &req);
                        if (e.Failed()) return DeliverError(std::move(e));
                        return [req = std::move(req)](Napi::Env env, Napi::Function cb, Napi::Object) mutable {
                          Napi::Object obj = Napi::Object::New(env);
                          obj.Set("pid", Napi::Number::New(env, req.pid));
                          obj.Set("uid", Napi::Number::New(env, req.uid));
                          obj.Set("gid", Napi::Number::New(env, req.gid));
                          obj.Set("nsFd", Napi::Number::New(env, req.ns.Valid() ? req.ns.Release() : -1));
                          const uint8_t* data = req.payload.data();
                          obj.Set("env", Napi::Buffer<uint8_t>::Copy(env, data, req.envLen));
                          obj.Set("stdin", Napi::Buffer<uint8_t>::Copy(env, data + req.envLen, req.payload.size() - req.envLen));
                          cb.Call({env.Null(), obj});
                        };
                      });
  return info.Env().Undefined();
}

}  // namespace

void ExportCniAgentFunctions(Napi::Env env, Napi::Object exports, AddonState* state) {
  exports.Set("cniShimReceive", Napi::Function::New(env, CniShimReceiveFn, "cniShimReceive", state));
}

}  // namespace netns
