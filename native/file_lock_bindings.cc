// JS entry point of file_lock_ops.h, for callers that share on-disk state with other processes
// (the CNI host-local IPAM store, lib/cni/ipam): the lock is the kernel's, so it is released when
// the holder exits or is killed, and it interoperates with other programs that flock the same file.
// LOCK_EX blocks until the holder lets go, so it runs on a pool worker, never on the JS thread
// (docs/threading.md).

#include <utility>

#include "addon.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"
#include "fd.h"
#include "file_lock_ops.h"

namespace netns {

namespace {

// fileLock(fd, cb(err)): take an exclusive lock on the open file `fd`. The worker holds a dup of the
// fd (same open file description, so the lock belongs to the caller's fd), so JS closing its fd
// meanwhile cannot make the worker lock a recycled fd number. Unlocking is closing the fd.
Napi::Value FileLockFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  int fd = Int32Arg(info, 0, "fd", 0, INT32_MAX);
  Napi::Function cb = FunctionArg(info, 1, "cb");
  FdCopy copied = CopyFd(fd);
  state->pool->Submit(info.Env(), cb, Napi::Object(),
                      [copied = std::move(copied)]() mutable -> Deliver {
                        if (copied.error.Failed()) return DeliverError(std::move(copied.error));
                        SysError e = FileLockExclusive(copied.fd.Get());
                        if (e.Failed()) return DeliverError(std::move(e));
                        return [](Napi::Env env, Napi::Function cb, Napi::Object) { cb.Call({env.Null()}); };
                      });
  return info.Env().Undefined();
}

}  // namespace

void ExportFileLockFunctions(Napi::Env env, Napi::Object exports, AddonState* state) {
  exports.Set("fileLock", Napi::Function::New(env, FileLockFn, "fileLock", state));
}

}  // namespace netns
