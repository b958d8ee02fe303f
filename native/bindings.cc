#include "bindings.h"

#include <fcntl.h>

#include <climits>
#include <vector>

#include "args.h"
#include "thread_pool.h"

namespace netns {

namespace {

constexpr size_t kSendBudget = 64;   // buffers per drain job before yielding the worker
constexpr size_t kReadBudget = 256;  // datagrams per drain job of a direct socket, likewise

Work DrainJob(AddonState* state, std::shared_ptr<LoopSocket> sock);

// `wake` false: the job waits for the next ThreadPool::WakeWorker (netlinkFlush), so that every
// request of a JS turn costs one wake-up between them.
void ScheduleDrain(Napi::Env env, AddonState* state, std::shared_ptr<LoopSocket> sock, bool wake = true) {
  // No callback: the job's own hold keeps the process alive until the queue is flushed and, for a
  // direct socket, its answers are delivered.
  if (wake) {
    state->pool->Submit(env, Napi::Function(), Napi::Object(), DrainJob(state, std::move(sock)));
  } else {
    state->pool->SubmitDeferred(env, DrainJob(state, std::move(sock)));
  }
}

Work DrainJob(AddonState* state, std::shared_ptr<LoopSocket> sock) {
  return [state, sock]() -> Deliver {
    LoopSocket::DrainResult r = sock->Drain(kSendBudget, kReadBudget);
    if (!r.more && r.failures.empty() && r.read.chunks.empty()) return Deliver();
    return [state, sock, r = std::move(r)](Napi::Env env, Napi::Function, Napi::Object) mutable {
      if (r.more) ScheduleDrain(env, state, sock);  // first: a callback may throw
      bool resume = false;
      if (!r.read.chunks.empty()) resume = state->io->Deliver(env, sock, r.read.chunks, r.read.bytes);
      if (resume && sock->RequestRead()) ScheduleDrain(env, state, sock);
      state->io->ReportSendFailures(env, sock->id, r.failures);
    };
  };
}

}  // namespace

void ExportAll(Napi::Env env, Napi::Object exports, AddonState* state, std::initializer_list<Export> fns) {
  for (const Export& e : fns) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name, state));
}

FdCopy CopyFd(int fd) {
  FdCopy copy;
  copy.fd.Reset(fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!copy.fd.Valid()) copy.error = SysError::FromErrno("fcntl");
  return copy;
}

NsFdCopy CopyNsFd(Napi::Env env, Napi::Value value, double min) {
  int fd = static_cast<int>(IntegerValue(env, value, "nsFd", min, INT32_MAX));
  if (fd < 0) return NsFdCopy();
  return CopyFd(fd);
}

std::shared_ptr<LoopSocket> LiveSocketArg(Napi::Env env, AddonState* state, Napi::Value id, const char* syscall) {
  auto n = static_cast<uint32_t>(IntegerValue(env, id, "id", 1, UINT32_MAX));
  std::shared_ptr<LoopSocket> sock = state->io->Find(n);
  if (!sock || sock->Closed()) throw MakeError(env, SysError::Of(EBADF, syscall));
  return sock;
}

void QueueSend(Napi::Env env, AddonState* state, std::shared_ptr<LoopSocket> sock, std::vector<uint8_t> bytes,
               std::vector<uint8_t> to, double token, bool defer, uint32_t ackSeq, uint16_t costKey) {
  if (sock->Enqueue(std::move(bytes), std::move(to), token, ackSeq, costKey)) {
    ScheduleDrain(env, state, std::move(sock), !defer);
  }
}

Napi::Value SocketCloseFn(const Napi::CallbackInfo& info) {
  AddonState* state = StateOf(info);
  if (!info[0].IsNumber()) ThrowArgError(info.Env(), "id must be a number");
  double id = info[0].As<Napi::Number>().DoubleValue();
  if (id >= 1 && id <= UINT32_MAX && id == static_cast<uint32_t>(id)) {
    state->io->Close(static_cast<uint32_t>(id));
  }
  return info.Env().Undefined();
}

Napi::Object SocketCallbacks(Napi::Env env, Napi::Object opts) {
  Napi::Object callbacks = Napi::Object::New(env);
  callbacks.Set("onData", FunctionValue(env, opts.Get("onData"), "onData"));
  callbacks.Set("onError", FunctionValue(env, opts.Get("onError"), "onError"));
  callbacks.Set("onSendError", FunctionValue(env, opts.Get("onSendError"), "onSendError"));
  return callbacks;
}

std::vector<uint8_t> BytesValue(Napi::Env env, Napi::Value value, const char* name, size_t maxLength) {
  if (!value.IsBuffer()) ThrowArgError(env, std::string(name) + " must be a Buffer");
  auto buf = value.As<Napi::Buffer<uint8_t>>();
  if (buf.Length() > maxLength) ThrowArgError(env, std::string(name) + " is too long");
  return std::vector<uint8_t>(buf.Data(), buf.Data() + buf.Length());
}

}  // namespace netns
