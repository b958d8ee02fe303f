// JS entry points of the netlink sockets: open on a worker, queue sends for workers, close.
#include <fcntl.h>

#include <climits>
#include <memory>
#include <vector>

#include "addon.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"
#include "netlink_ops.h"

namespace netns {

static void DescribeNetlinkSocket(Napi::Env env, Napi::Object obj, const NetlinkOpenResult& result) {
  obj.Set("portId", Napi::Number::New(env, result.portId));
  obj.Set("strictCheck", Napi::Boolean::New(env, result.strictCheck));
  obj.Set("extAck", Napi::Boolean::New(env, result.extAck));
}

NetlinkOpenRequest NetlinkRequestOf(Napi::Env env, Napi::Object opts) {
  NetlinkOpenRequest req;
  req.protocol = static_cast<int>(IntegerValue(env, opts.Get("protocol"), "protocol", 0, 31));
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
  return req;
}

Napi::Object NetlinkSocketObject(Napi::Env env, uint32_t id, const NetlinkOpenResult& result) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("id", Napi::Number::New(env, id));
  DescribeNetlinkSocket(env, obj, result);
  return obj;
}

namespace {

Napi::Value NetlinkOpenFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  if (!info[0].IsObject()) ThrowArgError(env, "opts must be an object");
  Napi::Object opts = info[0].As<Napi::Object>();
  Napi::Function cb = FunctionArg(info, 1, "cb");

  NetlinkOpenRequest req = NetlinkRequestOf(env, opts);
  // Snapshot the callbacks now, so later changes to `opts` do not matter.
  Napi::Object callbacks = SocketCallbacks(env, opts);
  NsFdCopy ns = CopyNsFd(env, opts.Get("nsFd"), -1);
  req.nsFd = std::move(ns.fd);
  SysError dupError = std::move(ns.error);

  state->pool->Submit(env, cb, callbacks, [state, req = std::move(req), dupError]() mutable -> Deliver {
    if (dupError.Failed()) return DeliverError(std::move(dupError));
    std::shared_ptr<LoopSocket> sock;
    NetlinkOpenResult result;
    SysError e = OpenNetlinkSocket(req, &sock, &result);
    if (e.Failed()) return DeliverError(std::move(e));
    return DeliverOpened(state, std::move(sock), [result](Napi::Env env, Napi::Object obj) {
      DescribeNetlinkSocket(env, obj, result);
    });
  });
  return env.Undefined();
}

Napi::Value NetlinkSendFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  std::shared_ptr<LoopSocket> sock = LiveSocketArg(env, state, info[0], "sendmsg");
  // Copied: the caller may reuse `buf` as soon as this returns.
  std::vector<uint8_t> bytes = BytesValue(env, info[1], "buf", SIZE_MAX);
  if (!info[2].IsNumber()) ThrowArgError(env, "token must be a number");
  double token = info[2].As<Napi::Number>().DoubleValue();
  bool defer = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  uint32_t ackSeq = 0;
  if (info.Length() > 4 && !info[4].IsUndefined()) {
    ackSeq = static_cast<uint32_t>(IntegerValue(env, info[4], "ackSeq", 0, UINT32_MAX));
  }
  // What netlinkFlush's poll may expect: a request of a kind that usually keeps rtnetlink busy
  // longer than the poll's bound is not waited for.
  uint16_t costKey = request_cost::KeyOf(sock->protocol, bytes.data(), bytes.size());
  if (!request_cost::Quick(costKey)) state->pollSlow = true;
  QueueSend(env, state, std::move(sock), std::move(bytes), {}, token, defer, ackSeq, costKey);
  return env.Undefined();
}

Napi::Value NetlinkStatsFn(const Napi::CallbackInfo& info) {
  Napi::Object obj = Napi::Object::New(info.Env());
  obj.Set("dumpRaceErrors", Napi::Number::New(info.Env(), static_cast<double>(DumpRaceErrors())));
  AddonState* state = StateOf(info);
  ThreadPool& pool = *state->pool;
  obj.Set("polls", Napi::Number::New(info.Env(), state->polls));
  obj.Set("pollHits", Napi::Number::New(info.Env(), state->pollHits));
  obj.Set("pollNotOne", Napi::Number::New(info.Env(), state->pollNotOne));
  obj.Set("pollSkipped", Napi::Number::New(info.Env(), state->pollSkipped));
  obj.Set("pollSlow", Napi::Number::New(info.Env(), state->pollSlowSkipped));
  obj.Set("spins", Napi::Number::New(info.Env(), static_cast<double>(pool.spins.load())));
  obj.Set("spinHits", Napi::Number::New(info.Env(), static_cast<double>(pool.spinHits.load())));
  obj.Set("spinPreempted", Napi::Number::New(info.Env(), static_cast<double>(pool.spinPreempted.load())));
  obj.Set("chainSpins", Napi::Number::New(info.Env(), static_cast<double>(pool.chainSpins.load())));
  obj.Set("chainCalls", Napi::Number::New(info.Env(), static_cast<double>(pool.chainCalls.load())));
  return obj;
}

// netlinkTune({ predict?, chainSpinUs?, chainCall? }): switches the request path's levers at run time, so that an
// A/B measurement can alternate them within one process (the environment variables set them at load).
Napi::Value NetlinkTuneFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState* state = StateOf(info);
  if (!info[0].IsObject()) ThrowArgError(env, "opts must be an object");
  Napi::Object opts = info[0].As<Napi::Object>();
  Napi::Value predict = opts.Get("predict");
  if (!predict.IsUndefined()) {
    if (!predict.IsBoolean()) ThrowArgError(env, "predict must be a boolean");
    request_cost::SetEnabled(predict.As<Napi::Boolean>().Value());
  }
  Napi::Value chain = opts.Get("chainSpinUs");
  if (!chain.IsUndefined()) {
    state->pool->SetChainSpinNs(static_cast<int64_t>(IntegerValue(env, chain, "chainSpinUs", 0, 10000)) * 1000);
  }
  Napi::Value call = opts.Get("chainCall");
  if (!call.IsUndefined()) {
    if (!call.IsBoolean()) ThrowArgError(env, "chainCall must be a boolean");
    state->pool->SetChainCall(call.As<Napi::Boolean>().Value());
  }
  return env.Undefined();
}

}  // namespace

void ExportNetlinkFunctions(Napi::Env env, Napi::Object exports, AddonState* state) {
  ExportAll(env, exports, state,
            {{"netlinkOpen", NetlinkOpenFn}, {"netlinkSend", NetlinkSendFn}, {"netlinkClose", SocketCloseFn},
             {"netlinkStats", NetlinkStatsFn}, {"netlinkTune", NetlinkTuneFn}});
}

}  // namespace netns
