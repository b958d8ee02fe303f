// JS entry points of spawn: arguments are checked on the JS thread, the fork runs on a worker
// (spawn_ops.cc), and the exit is watched through the child's pidfd on the I/O thread's epoll, so a
// long-running child occupies no worker.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "addon.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"
#include "spawn_ops.h"

namespace netns {

namespace {

// A running child. The pidfd closes when the last holder (the registry, a pending exit watch) lets
// go, so a kill() from JS never signals a closed or reused fd number.
struct Child {
  pid_t pid = 0;
  UniqueFd pidfd;
};

}  // namespace

// Children whose exit JS has not been told yet. JS thread only.
class SpawnRegistry {
 public:
  struct Entry {
    std::shared_ptr<Child> child;
    Napi::FunctionReference onExit;
  };
  std::unordered_map<uint32_t, Entry> entries;
  uint32_t nextId = 1;
};

namespace {

SpawnRegistry& Registry(AddonState* state) { return *state->spawns; }

// argv entries may be empty; none may hold a NUL (C would cut it short).
std::vector<std::string> StringList(Napi::Env env, Napi::Value value, const char* name,
                                    bool nonEmpty) {
  if (!value.IsArray()) ThrowArgError(env, std::string(name) + " must be an array of strings");
  Napi::Array list = value.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsString()) ThrowArgError(env, std::string(name) + " must be an array of strings");
    std::string s = item.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos || (nonEmpty && s.empty())) {
      ThrowArgError(env, std::string(name) + " entries must be strings without NUL bytes");
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string OptionalString(Napi::Env env, Napi::Value value, const char* name) {
  if (value.IsNull() || value.IsUndefined()) return {};
  return StringValue(env, value, name);
}

// The JS thread's nice value: the child gets it back (workers run at a lower priority).
int JsThreadNice() {
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, 0);  // 0: the calling thread on Linux
  return (nice == -1 && errno != 0) ? 0 : nice;
}

void DeliverExit(Napi::Env env, AddonState* state, uint32_t id, ChildExit status, SysError error) {
  SpawnRegistry& registry = Registry(state);
  auto it = registry.entries.find(id);
  if (it == registry.entries.end()) return;
  SpawnRegistry::Entry entry = std::move(it->second);
  registry.entries.erase(it);
  Napi::Function onExit = entry.onExit.Value();
  if (error.Failed()) {
    onExit.Call({MakeError(env, error).Value(), env.Null(), env.Null()});
    return;
  }
  Napi::Value code = status.signal == 0 ? Napi::Number::New(env, status.code) : env.Null();
  Napi::Value sig = status.signal != 0 ? Napi::Number::New(env, status.signal) : env.Null();
  onExit.Call({env.Null(), code, sig});
}

// I/O thread: the pidfd became readable, so the child exited. Reap it and tell JS.
void OnChildReadable(AddonState* state, uint32_t id, std::shared_ptr<Child> child) {
  ChildExit status;
  bool exited = false;
  SysError e = ReapChild(child->pidfd.Get(), false, &status, &exited);
  if (!e.Failed() && !exited) {
    e = state->io->WatchOnce(child->pidfd.Get(),
                             [state, id, child] { OnChildReadable(state, id, child); });
    if (!e.Failed()) return;
  }
  state->js->Post([state, id, status, e = std::move(e)](Napi::Env env) mutable {
    DeliverExit(env, state, id, status, std::move(e));
  });
}

Napi::Value SpawnFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  if (!info[0].IsObject()) ThrowArgError(env, "opts must be an object");
  Napi::Object opts = info[0].As<Napi::Object>();
  Napi::Function cb = FunctionArg(info, 1, "cb");

  SpawnRequest req;
  NsFdCopy ns = CopyNsFd(env, opts.Get("nsFd"));
  req.etcName = OptionalString(env, opts.Get("etcName"), "etcName");
  if (req.etcName == "." || req.etcName == ".." || req.etcName.find('/') != std::string::npos) {
    ThrowArgError(env, "etcName must be a single path component");
  }
  req.sysfsSource = StringValue(env, opts.Get("sysfsSource"), "sysfsSource");
  req.file = StringValue(env, opts.Get("file"), "file");
  req.candidates = StringList(env, opts.Get("candidates"), "candidates", true);
  req.argv = StringList(env, opts.Get("argv"), "argv", false);
  if (req.argv.empty()) ThrowArgError(env, "argv must hold at least argv[0]");
  req.env = StringList(env, opts.Get("env"), "env", true);
  req.cwd = OptionalString(env, opts.Get("cwd"), "cwd");
  Napi::Value stdio = opts.Get("stdio");
  if (!stdio.IsArray() || stdio.As<Napi::Array>().Length() != 3) {
    ThrowArgError(env, "stdio must be an array of 3 modes");
  }
  for (uint32_t i = 0; i < 3; ++i) {
    double mode = IntegerValue(env, stdio.As<Napi::Array>().Get(i), "stdio mode", 0, 2);
    req.stdio[i] = static_cast<StdioMode>(static_cast<int>(mode));
  }
  Napi::Object ctx = Napi::Object::New(env);
  ctx.Set("onExit", FunctionValue(env, opts.Get("onExit"), "onExit"));
  req.nice = JsThreadNice();

  req.nsFd = std::move(ns.fd);
  SysError dupError = std::move(ns.error);

  state->pool->Submit(env, cb, ctx, [state, req = std::move(req), dupError]() mutable -> Deliver {
    if (dupError.Failed()) return DeliverError(std::move(dupError));
    SpawnResult result;
    SysError e = SpawnInNamespace(req, &result);
    req.nsFd.Reset();
    if (e.Failed()) return DeliverError(std::move(e));
    // Registered on the JS thread, so the exit can never be reported before the spawn itself.
    return [state, result = std::move(result)](Napi::Env env, Napi::Function cb,
                                                Napi::Object ctx) mutable {
      auto child = std::make_shared<Child>();
      child->pid = result.pid;
      child->pidfd = std::move(result.pidfd);
      SpawnRegistry& registry = Registry(state);
      uint32_t id = registry.nextId++;
      SysError e = state->io->WatchOnce(child->pidfd.Get(),
                                        [state, id, child] { OnChildReadable(state, id, child); });
      if (e.Failed()) {
        // Nobody would ever learn of its exit: kill it and reap it on a worker.
        syscall(SYS_pidfd_send_signal, child->pidfd.Get(), SIGKILL, nullptr, 0);
        state->pool->Submit(env, Napi::Function(), Napi::Object(), [child]() -> Deliver {
          ChildExit status;
          bool exited = false;
          ReapChild(child->pidfd.Get(), true, &status, &exited);
          return Deliver();
        });
        cb.Call({MakeError(env, e).Value()});
        return;
      }
      SpawnRegistry::Entry entry;
      entry.child = child;
      entry.onExit = Napi::Persistent(ctx.Get("onExit").As<Napi::Function>());
      registry.entries.emplace(id, std::move(entry));

      Napi::Object obj = Napi::Object::New(env);
      obj.Set("id", Napi::Number::New(env, id));
      obj.Set("pid", Napi::Number::New(env, child->pid));
      // The stdio fds now belong to JS (it wraps them in streams that close them): they are not
      // added to jsFds, so closeFd and teardown never close a number Node may have reused.
      const char* names[3] = {"stdin", "stdout", "stderr"};
      for (int i = 0; i < 3; ++i) {
        int fd = result.stdio[i].Valid() ? result.stdio[i].Release() : -1;
        obj.Set(names[i], Napi::Number::New(env, fd));
      }
      cb.Call({env.Null(), obj});
    };
  });
  return env.Undefined();
}

// Through the pidfd: once the child is reaped its PID may belong to someone else, its pidfd never.
Napi::Value SpawnKillFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  auto id = static_cast<uint32_t>(IntegerValue(env, info[0], "id", 1, UINT32_MAX));
  int sig = Int32Arg(info, 1, "signal", 0, 64);
  SpawnRegistry& registry = Registry(state);
  auto it = registry.entries.find(id);
  if (it == registry.entries.end()) return Napi::Boolean::New(env, false);
  if (syscall(SYS_pidfd_send_signal, it->second.child->pidfd.Get(), sig, nullptr, 0) != 0) {
    if (errno == ESRCH) return Napi::Boolean::New(env, false);
    throw MakeError(env, SysError::FromErrno("pidfd_send_signal"));
  }
  return Napi::Boolean::New(env, true);
}

}  // namespace

void ExportSpawnFunctions(Napi::Env env, Napi::Object exports, AddonState* state) {
  state->spawns = std::make_shared<SpawnRegistry>();
  ExportAll(env, exports, state,
            {{"spawn", SpawnFn},
             {"spawnKill", SpawnKillFn}});
}

}  // namespace netns
