// Per-environment state of the addon (the main thread and every worker_thread that loads it get
// their own threads and queue), and the export tables of each binding file.
#pragma once

#include <napi.h>

#include <memory>
#include <unordered_set>

#include "fd.h"
#include "io_loop.h"
#include "js_queue.h"
#include "ns_guard.h"
#include "ns_ops.h"
#include "slow_senders.h"
#include "thread_pool.h"

namespace netns {

class SpawnRegistry;  // spawn_bindings.cc

struct AddonState {
  UniqueFd homeFd;  // the JS thread's namespace at load: where every worker belongs
  NsIdentity home;
  JsQueue* js = nullptr;  // deletes itself once closed (see JsQueue::Close)
  std::unique_ptr<IoLoop> io;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<SlowSenders> senders;  // link deletions (veth_sweep.cc); stopped after the pool
  // JS thread only.
  std::unordered_set<int> jsFds;  // fds handed to JS: the only ones closeFd will close
  size_t userRefs = 0;
  // poll(): consecutive polls that waited in vain, and polls still to skip because of them.
  unsigned pollMisses = 0;
  unsigned pollSkip = 0;
  double polls = 0, pollHits = 0, pollNotOne = 0, pollSkipped = 0;  // for netlinkStats()
  // A buffer queued since the last netlinkFlush is of a kind that usually outlasts a poll
  // (request_cost); such flushes are not polled (counted in pollSlowSkipped).
  bool pollSlow = false;
  double pollSlowSkipped = 0;
  std::shared_ptr<SpawnRegistry> spawns;  // children not yet reported exited (spawn_bindings.cc)
};

inline AddonState* StateOf(const Napi::CallbackInfo& info) {
  return static_cast<AddonState*>(info.Data());
}

// JS thread: hands the fd over to JS as { fd, dev, ino }.
Napi::Object NsInfoObject(Napi::Env env, AddonState* state, NsInfo& info);

Napi::Object Init(Napi::Env env, Napi::Object exports);
void ExportNsFunctions(Napi::Env env, Napi::Object exports, AddonState* state);
void ExportNetlinkFunctions(Napi::Env env, Napi::Object exports, AddonState* state);
void ExportSpawnFunctions(Napi::Env env, Napi::Object exports, AddonState* state);
void ExportNsMiscFunctions(Napi::Env env, Napi::Object exports, AddonState* state);
void ExportFileLockFunctions(Napi::Env env, Napi::Object exports, AddonState* state);
void ExportDgramFunctions(Napi::Env env, Napi::Object exports, AddonState* state);
void ExportSweepFunctions(Napi::Env env, Napi::Object exports, AddonState* state);
void ExportCniAgentFunctions(Napi::Env env, Napi::Object exports, AddonState* state);

}  // namespace netns
