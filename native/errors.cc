#include "errors.h"

#include <string.h>
#include <uv.h>  // header only: libuv's error map holds the wording Node prints

#include <cerrno>
#include <iterator>
#include <mutex>
#include <unordered_map>

namespace netns {

namespace {

// The wording comes from libuv's table, the one Node prints.
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

SysError SysError::Exception(const char* where, const char* what) {
  SysError e = Of(EIO, where);
  e.internal = true;
  e.code = "ERR_NATIVE_EXCEPTION";
  e.message = std::string("ERR_NATIVE_EXCEPTION: ") +
              (what != nullptr && *what != '\0' ? std::string("C++ exception: ") + what : "unknown C++ exception") +
              " in " + where;
  return e;
}

// Errno names are lib/errors.ts's table (built from Node's os.constants.errno), handed over once by
// lib/native.ts through setErrnoNames: the addon keeps no list of its own. Shared by every
// environment (the table is the same in each); read on JS threads only.
std::mutex gNamesMu;
std::unordered_map<int, std::string> gNames;

void SetErrnoNames(std::unordered_map<int, std::string> names) {
  std::lock_guard<std::mutex> lock(gNamesMu);
  gNames = std::move(names);
}

std::string ErrnoName(int err) {
  {
    std::lock_guard<std::mutex> lock(gNamesMu);
    auto it = gNames.find(err);
    if (it != gNames.end()) return it->second;
  }
  return "E" + std::to_string(err);
}

std::string ErrnoDescription(int err) {
  // libuv words 95 after ENOTSUP's socket meaning; the library's EOPNOTSUPP is about links, qdiscs,
  // rules (lib/errors.ts WORDING holds the same correction).
  if (err == EOPNOTSUPP) return "operation not supported";
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
  if (!e.internal) obj.Set("errno", Napi::Number::New(env, e.err));
  obj.Set("syscall", e.syscall);
  if (!e.path.empty()) obj.Set("path", e.path);
  if (e.fatal) obj.Set("fatal", Napi::Boolean::New(env, true));
  return error;
}

}  // namespace netns
