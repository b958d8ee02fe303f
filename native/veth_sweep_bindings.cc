// JS entry point of Netns.delete's sweep (veth_sweep.cc), and its diagnostics.
#include <string>

#include "addon.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"
#include "veth_sweep.h"

namespace netns {

namespace {

// nsSweepDelete(path, cb): cb(err) for a failed system call, with err.stage ("open", "sweep",
// "unpin", "delete"); otherwise cb(null, { veths, byEvent, refused?, message?, index?,
// dumpAttempts? }) where `message` is the kernel's refusal (a whole netlink message) of the
// `refused` request ("dump" or "delete").
Napi::Value NsSweepDeleteFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  std::string path = PathArg(info, 0, "path");
  Napi::Function cb = FunctionArg(info, 1, "cb");
  state->pool->Submit(info.Env(), cb, Napi::Object(), [state, path]() -> Deliver {
    SweepResult r = SweepAndUnpin(path, state->senders.get());
    return [r = std::move(r)](Napi::Env env, Napi::Function cb, Napi::Object) mutable {
      if (r.error.Failed()) {
        Napi::Error err = MakeError(env, r.error);
        err.Value().Set("stage", Napi::String::New(env, r.stage));
        cb.Call({err.Value()});
        return;
      }
      Napi::Object obj = Napi::Object::New(env);
      obj.Set("veths", Napi::Number::New(env, r.veths));
      obj.Set("byEvent", Napi::Boolean::New(env, r.byEvent));
      if (r.refused != nullptr) {
        obj.Set("refused", Napi::String::New(env, r.refused));
        obj.Set("message", Napi::Buffer<uint8_t>::Copy(env, r.refusal.data(), r.refusal.size()));
        obj.Set("index", Napi::Number::New(env, r.index));
      }
      if (r.dumpAttempts > 0) obj.Set("dumpAttempts", Napi::Number::New(env, r.dumpAttempts));
      cb.Call({env.Null(), obj});
    };
  });
  return info.Env().Undefined();
}

// linkDeleteUnlisted(nsFd, index, name, cb): `ip link delete dev INDEX|NAME` in the namespace of
// nsFd (-1: home), settled when the link is unlisted: cb(err) for a failed system call (code
// ETIMEDOUT past the request deadline), else cb(null, { byEvent, message? }) where `message` is the
// kernel's refusal (a whole netlink message).
Napi::Value LinkDeleteUnlistedFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  NsFdCopy ns = CopyNsFd(info.Env(), info[0], -1);
  uint32_t index = static_cast<uint32_t>(Int32Arg(info, 1, "index", 0, INT32_MAX));
  std::string name = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : std::string();
  Napi::Function cb = FunctionArg(info, 3, "cb");
  if (index == 0 && (name.empty() || name.size() >= 16 || name.find('\0') != std::string::npos)) {
    ThrowArgError(info.Env(), "index or name required");
  }
  state->pool->Submit(info.Env(), cb, Napi::Object(), [state, ns = std::move(ns), index, name]() mutable -> Deliver {
    if (ns.error.Failed()) return DeliverError(std::move(ns.error));
    LinkDeleteResult r = LinkDeleteUnlisted(ns.fd.Valid() ? ns.fd.Get() : -1, index, name, state->senders.get());
    if (r.error.Failed()) return DeliverError(std::move(r.error));
    return [r = std::move(r)](Napi::Env env, Napi::Function cb, Napi::Object) mutable {
      Napi::Object obj = Napi::Object::New(env);
      obj.Set("byEvent", Napi::Boolean::New(env, r.byEvent));
      if (!r.refusal.empty()) obj.Set("message", Napi::Buffer<uint8_t>::Copy(env, r.refusal.data(), r.refusal.size()));
      cb.Call({env.Null(), obj});
    };
  });
  return info.Env().Undefined();
}

// sweepStats(): how deletions settled since load, and the sender threads now.
Napi::Value SweepStatsFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  Napi::Env env = info.Env();
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("byEvent", Napi::Number::New(env, static_cast<double>(gSweepByEvent.load())));
  obj.Set("byAnswer", Napi::Number::New(env, static_cast<double>(gSweepByAnswer.load())));
  obj.Set("sendersLive", Napi::Number::New(env, static_cast<double>(state->senders->Live())));
  obj.Set("sendersBusy", Napi::Number::New(env, static_cast<double>(state->senders->Busy())));
  obj.Set("sendersMax", Napi::Number::New(env, static_cast<double>(state->senders->Max())));
  return obj;
}

}  // namespace

void ExportSweepFunctions(Napi::Env env, Napi::Object exports, AddonState* state) {
  ExportAll(env, exports, state, {{"nsSweepDelete", NsSweepDeleteFn}, {"linkDeleteUnlisted", LinkDeleteUnlistedFn}, {"sweepStats", SweepStatsFn}});
}

}  // namespace netns
