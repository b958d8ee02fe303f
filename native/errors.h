// System errors captured on addon threads as plain data, turned into JS errors shaped like Node's
// fs errors (code, errno, syscall, path) on the JS thread.
#pragma once

#include <napi.h>

#include <string>
#include <unordered_map>

namespace netns {

struct SysError {
  int err = 0;          // positive errno; 0 means success
  std::string syscall;  // 'open', 'mount', ...
  std::string path;     // empty when no path is involved
  std::string code;     // overrides the errno name (e.g. 'ENOTNETNS')
  std::string message;  // overrides the generated message

  bool Failed() const { return err != 0; }

  // Captures errno right away: callers build it straight after the failing call.
  static SysError FromErrno(const char* syscall, std::string path = {});
  static SysError Of(int err, const char* syscall, std::string path = {});
  // The file is not a network namespace (errno EINVAL, syscall ioctl).
  static SysError NotNetns(std::string path);
  // A C++ exception escaped an addon job: a bug of the addon, not a system error. `what` is the
  // exception's text (empty for a non-std exception). Reported with code ERR_NATIVE_EXCEPTION and no
  // errno, never as an errno the kernel could have returned.
  static SysError Exception(const char* where, const char* what);
  bool internal = false;  // set by Exception(): MakeError leaves errno out
  bool fatal = false;     // a socket error after which the socket is no longer read (error.fatal = true)
};

// 'EEXIST' for EEXIST, from the table given to SetErrnoNames; 'E<number>' before that or for
// values outside it.
std::string ErrnoName(int err);
void SetErrnoNames(std::unordered_map<int, std::string> names);

// Node's own wording ("file already exists"), so messages read like fs errors.
std::string ErrnoDescription(int err);

// Error object with message "<code>: <description>, <syscall> '<path>'". JS thread only.
Napi::Error MakeError(Napi::Env env, const SysError& e);

}  // namespace netns
