#include "errors.h"

#include <string.h>
#include <uv.h>  // header only: libuv's error map holds the wording Node prints

#include <cerrno>
#include <iterator>

namespace netns {

namespace {

struct ErrnoEntry {
  int value;
  const char* name;
};

// Kernel names. Aliases (EWOULDBLOCK, ENOTSUP, EDEADLOCK) share a value and are left out so each
// value maps to the name the kernel headers define first.
#define NETNS_ERRNO(X)                                                                        \
  X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(ENOEXEC) X(EBADF) X(ECHILD) \
  X(EAGAIN) X(ENOMEM) X(EACCES) X(EFAULT) X(ENOTBLK) X(EBUSY) X(EEXIST) X(EXDEV) X(ENODEV)    \
  X(ENOTDIR) X(EISDIR) X(EINVAL) X(ENFILE) X(EMFILE) X(ENOTTY) X(ETXTBSY) X(EFBIG) X(ENOSPC)  \
  X(ESPIPE) X(EROFS) X(EMLINK) X(EPIPE) X(EDOM) X(ERANGE) X(EDEADLK) X(ENAMETOOLONG)          \
  X(ENOLCK) X(ENOSYS) X(ENOTEMPTY) X(ELOOP) X(ENOMSG) X(EIDRM) X(ENOSTR) X(ENODATA) X(ETIME)  \
  X(ENOSR) X(ENOLINK) X(EPROTO) X(EBADMSG) X(EOVERFLOW) X(EILSEQ) X(ENOTSOCK)                 \
  X(EDESTADDRREQ) X(EMSGSIZE) X(EPROTOTYPE) X(ENOPROTOOPT) X(EPROTONOSUPPORT)                 \
  X(ESOCKTNOSUPPORT) X(EOPNOTSUPP) X(EPFNOSUPPORT) X(EAFNOSUPPORT) X(EADDRINUSE)              \
  X(EADDRNOTAVAIL) X(ENETDOWN) X(ENETUNREACH) X(ENETRESET) X(ECONNABORTED) X(ECONNRESET)      \
  X(ENOBUFS) X(EISCONN) X(ENOTCONN) X(ESHUTDOWN) X(ETIMEDOUT) X(ECONNREFUSED) X(EHOSTDOWN)    \
  X(EHOSTUNREACH) X(EALREADY) X(EINPROGRESS) X(ESTALE) X(EDQUOT) X(ECANCELED) X(EOWNERDEAD)   \
  X(ENOTRECOVERABLE) X(ERFKILL) X(EHWPOISON) X(ENOMEDIUM) X(EMEDIUMTYPE) X(ENOKEY)           \
  X(EKEYEXPIRED) X(EKEYREVOKED) X(EKEYREJECTED) X(EREMOTEIO) X(EBADFD) X(ENONET) X(ENOPKG)

#define NETNS_ERRNO_ENTRY(e) {e, #e},
const ErrnoEntry kErrnoNames[] = {NETNS_ERRNO(NETNS_ERRNO_ENTRY)};
#undef NETNS_ERRNO_ENTRY

struct UvEntry {
  int value;  // negative errno on Linux, libuv's private codes below -4000
  const char* message;
};

#define NETNS_UV_ENTRY(name, msg) {UV_##name, msg},
const UvEntry kUvMessages[] = {UV_ERRNO_MAP(NETNS_UV_ENTRY)};
#undef NETNS_UV_ENTRY

}  // namespace

SysError SysError::FromErrno(const char* syscall, std::string path) {
  return Of(errno, syscall, std::move(path));
}

SysError SysError::Of(int err, const char* syscall, std::string path) {
  SysError e;
  e.err = err > 0 ? err : EIO;  // a failure must never read as success
  e.syscall = syscall;
  e.path = std::move(path);
  return e;
}

SysError SysError::NotNetns(std::string path) {
  SysError e = Of(EINVAL, "ioctl", path);
  e.code = "ENOTNETNS";
  e.message = path + " is not a network namespace";
  return e;
}

std::string ErrnoName(int err) {
  for (const ErrnoEntry& entry : kErrnoNames) {
    if (entry.value == err) return entry.name;
  }
  return "E" + std::to_string(err);
}

std::string ErrnoDescription(int err) {
  for (const UvEntry& entry : kUvMessages) {
    if (entry.value == -err) return entry.message;
  }
  char buf[256];
  return strerror_r(err, buf, sizeof buf);  // GNU variant: returns the text
}

Napi::Error MakeError(Napi::Env env, const SysError& e) {
  std::string code = e.code.empty() ? ErrnoName(e.err) : e.code;
  std::string message = e.message;
  if (message.empty()) {
    message = code + ": " + ErrnoDescription(e.err) + ", " + e.syscall;
    if (!e.path.empty()) message += " '" + e.path + "'";
  }
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("code", code);
  obj.Set("errno", Napi::Number::New(env, e.err));
  obj.Set("syscall", e.syscall);
  if (!e.path.empty()) obj.Set("path", e.path);
  return error;
}

}  // namespace netns
