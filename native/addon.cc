// Module entry: builds the per-environment state, starts the threads, tears everything down with
// the environment, and exports the small synchronous functions.
#include <dlfcn.h>
#include <malloc.h>
#include <fcntl.h>
#include <napi.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "addon.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"

namespace netns {

namespace {

constexpr size_t kDefaultWorkers = 4;
constexpr size_t kMaxWorkers = 64;
// Sender threads for link deletions (slow_senders.h): enough for the deletions one barrier of the
// kernel holds back when namespaces are deleted all at once; each exits after this idle spell.
constexpr size_t kMaxSenders = 64;
constexpr int kSenderIdleMs = 250;

// NETNS_NATIVE_WORKERS overrides the pool size; the bound is still fixed for the process's life.
size_t WorkerCount() {
  const char* env = std::getenv("NETNS_NATIVE_WORKERS");
  if (env == nullptr || *env == '\0') return kDefaultWorkers;
  char* end = nullptr;
  unsigned long n = std::strtoul(env, &end, 10);
  if (*end != '\0' || n == 0 || n > kMaxWorkers) return kDefaultWorkers;
  return n;
}

// Runs at environment teardown (normal exit, worker_thread end). Asynchronous, because the queue's
// uv_async_t must be closed on the JS thread and Node has to run the loop until libuv let go of it
// (a worker_thread's loop must hold no open handle when it is closed): the hook is finished from
// the handle's close callback. Threads stop before the queue closes.
void FinishCleanup(void* arg) {
  napi_remove_async_cleanup_hook(static_cast<napi_async_cleanup_hook_handle>(arg));
}

// Node dlcloses an addon with the last environment that loaded it (a worker_thread's), which would
// unmap the code of threads still running. RTLD_NOLOAD|RTLD_NODELETE marks the loaded library as
// never to be unloaded.
bool KeepLoaded() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&KeepLoaded), &info) == 0 || info.dli_fname == nullptr) return false;
  return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
}

void Cleanup(napi_async_cleanup_hook_handle hook, void* arg) {
  auto* state = static_cast<AddonState*>(arg);
  state->io->Stop();
  state->pool->Stop();  // first: a running sweep job may wait for a sender
  // Senders still in the kernel's RCU barrier (their links are unlisted already) are not waited for
  // when the addon's code can stay mapped for them: they finish on their own with the object, which
  // is left to them (slow_senders.h, Stop). Otherwise they are joined.
  if (state->senders->Busy() > 0 && KeepLoaded() && !state->senders->Stop(false)) state->senders.release();
  else state->senders->Stop();
  state->js->Close(FinishCleanup, hook);
  for (int fd : state->jsFds) close(fd);
  delete state;
}

Napi::Value Ref(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  ++state->userRefs;
  state->js->Hold(info.Env());
  return info.Env().Undefined();
}

Napi::Value Unref(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  if (state->userRefs > 0) {  // an unmatched unref must not release a pending job's hold
    --state->userRefs;
    state->js->Unhold(info.Env());
  }
  return info.Env().Undefined();
}

// The JS-side wait of an awaited request (docs/threading.md, "The path of one request").
// poll(maxUs): when exactly one job is outstanding (the request just handed to a worker) and the
// requests queued since the last poll are of kinds that rtnetlink usually answers within the bound
// (request_cost, learned from the workers' sendmsg times), spin up to maxUs for its completion and
// deliver it now, without the wake-up of the loop. A kind that usually takes longer (a veth
// creation) is not polled at all: spinning would be vain, and its vain polls would make the back-off
// below skip the short requests that follow it. Gives up early when no worker has taken the job
// after the patience below (the workers are asleep or the CPUs busy), skips the next polls after a
// poll that was preempted or a run of vain ones, so a busy machine falls back to sleeping. Returns
// the number of tasks run.
constexpr int64_t kPollPatienceNs = 80 * 1000;
// What a poll must leave for the hand-offs around the kernel's work (a sleeping worker's wake-up,
// the read of the answer, the post): a request counts as quick when its sendmsg took at most the
// poll's bound less this.
constexpr int64_t kPollHandoffNs = 20 * 1000;

bool NoWorkerRunning(void* arg) { return static_cast<ThreadPool*>(arg)->Queued() > 0; }

Napi::Value Poll(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  state->pool->WakeWorker();  // for the sends queued with netlinkSend(..., defer)
  bool slow = state->pollSlow;
  state->pollSlow = false;
  double maxUs = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (!(maxUs > 0) || maxUs > 1000) return Napi::Number::New(info.Env(), 0);
  int64_t maxNs = static_cast<int64_t>(maxUs * 1000);
  request_cost::SetQuickNs(std::max<int64_t>(maxNs - kPollHandoffNs, maxNs / 2));
  if (state->pool->Outstanding() > 1) {
    ++state->pollNotOne;
    return Napi::Number::New(info.Env(), 0);
  }
  if (slow) {
    ++state->pollSlowSkipped;
    return Napi::Number::New(info.Env(), 0);
  }
  if (state->pollSkip > 0) {
    ++state->pollSkipped;
    --state->pollSkip;
    return Napi::Number::New(info.Env(), 0);
  }
  ++state->polls;
  size_t n = state->js->Poll(maxNs, kPollPatienceNs, NoWorkerRunning, state->pool.get());
  if (state->js->PollPreempted()) {
    state->pollSkip = 32;  // busy machine: sleep through the next polls
  } else if (n > 0) {
    ++state->pollHits;
    state->pollMisses = 0;
  } else if (++state->pollMisses >= 3) {
    // Quick kinds that still keep missing (workers slow to wake on a busy machine): skip 2 .. 8.
    state->pollSkip = 1u << std::min(state->pollMisses - 2, 3u);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

Napi::Value ThreadCount(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  size_t n = state->pool->LiveThreads() + (state->io->Alive() ? 1 : 0) + state->senders->Live();
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// Bytes the C allocator has handed out and not had back (mallinfo2: arenas + mmapped chunks), and
// malloc_trim(0). Diagnostics for the endurance tests: RSS alone cannot tell memory still held from
// free pages glibc keeps after a burst (docs/performance.md, "Endurance"). -1 / false without glibc.
Napi::Value MallocInUse(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  struct mallinfo2 mi = mallinfo2();
  return Napi::Number::New(info.Env(), static_cast<double>(mi.uordblks + mi.hblkhd));
#else
  return Napi::Number::New(info.Env(), -1);
#endif
}

Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Value MaxThreads(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  return Napi::Number::New(info.Env(), static_cast<double>(state->pool->Workers() + 1 + state->senders->Max()));
}

Napi::Value HomeNs(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  NsInfo home;
  home.fd.Reset(fcntl(state->homeFd.Get(), F_DUPFD_CLOEXEC, 3));
  if (!home.fd.Valid()) throw MakeError(info.Env(), SysError::FromErrno("fcntl"));
  home.identity = state->home;
  return NsInfoObject(info.Env(), state, home);
}

// setErrnoNames({ [errno]: name }): lib/errors.ts's table, once at load.
Napi::Value SetErrnoNamesFn(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) ThrowArgError(info.Env(), "names must be an object");
  Napi::Object obj = info[0].As<Napi::Object>();
  Napi::Array keys = obj.GetPropertyNames();
  std::unordered_map<int, std::string> names;
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    Napi::Value key = keys.Get(i);
    int err = std::atoi(key.ToString().Utf8Value().c_str());
    if (err <= 0) continue;
    names[err] = StringValue(info.Env(), obj.Get(key), "name");
  }
  SetErrnoNames(std::move(names));
  return info.Env().Undefined();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  int fd = Int32Arg(info, 0, "fd", 0, INT32_MAX);
  // Closing an fd the addon did not hand out (its epoll fd, a socket) would corrupt it.
  if (state->jsFds.erase(fd) == 0) throw MakeError(info.Env(), SysError::Of(EBADF, "close"));
  if (close(fd) != 0 && errno != EINTR) throw MakeError(info.Env(), SysError::FromErrno("close"));
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* state = new AddonState();
  // Opening (never switching) the JS thread's own namespace here is what rule 4 asks for.
  NsInfo home;
  SysError e = OpenThreadNs(&home);
  if (e.Failed()) {
    delete state;
    throw MakeError(env, e);
  }
  state->homeFd = std::move(home.fd);
  state->home = home.identity;

  try {
    state->js = JsQueue::Create(env);
  } catch (...) {
    delete state;
    throw;
  }
  state->io = std::make_unique<IoLoop>(*state->js);
  state->pool = std::make_unique<ThreadPool>(*state->js, state->home, WorkerCount());
  state->senders = std::make_unique<SlowSenders>(kMaxSenders, kSenderIdleMs);
  e = state->io->Start();
  if (e.Failed()) {
    state->io->Stop();
    state->js->Close();
    delete state;
    throw MakeError(env, e);
  }
  try {
    state->pool->Start();
  } catch (const std::exception&) {
    state->io->Stop();
    state->pool->Stop();
    state->js->Close();
    delete state;
    throw MakeError(env, SysError::Of(EAGAIN, "pthread_create"));
  }
  if (napi_add_async_cleanup_hook(env, Cleanup, state, nullptr) != napi_ok) {
    state->io->Stop();
    state->pool->Stop();
    state->js->Close();
    delete state;
    throw Napi::Error::New(env);
  }

  ExportAll(env, exports, state,
            {{"ref", Ref},
             {"unref", Unref},
             {"threadCount", ThreadCount},
             {"netlinkFlush", Poll},
             {"maxThreads", MaxThreads},
             {"mallocInUse", MallocInUse},
             {"mallocTrim", MallocTrim},
             {"homeNs", HomeNs},
             {"closeFd", CloseFd},
             {"setErrnoNames", SetErrnoNamesFn}});
  ExportNsFunctions(env, exports, state);
  ExportNetlinkFunctions(env, exports, state);
  ExportSpawnFunctions(env, exports, state);
  ExportNsMiscFunctions(env, exports, state);
  ExportFileLockFunctions(env, exports, state);
  ExportDgramFunctions(env, exports, state);
  ExportSweepFunctions(env, exports, state);
  ExportCniAgentFunctions(env, exports, state);
  return exports;
}

Napi::Object NsInfoObject(Napi::Env env, AddonState* state, NsInfo& info) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("dev", Napi::Number::New(env, static_cast<double>(info.identity.dev)));
  obj.Set("ino", Napi::Number::New(env, static_cast<double>(info.identity.ino)));
  int fd = info.fd.Release();
  state->jsFds.insert(fd);
  obj.Set("fd", Napi::Number::New(env, fd));
  return obj;
}

}  // namespace netns

// NODE_API_MODULE pastes the name into an identifier: it cannot be qualified.
static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return netns::Init(env, exports);
}

NODE_API_MODULE(netns_native, InitModule)
