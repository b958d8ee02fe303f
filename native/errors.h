// System errors captured on addon threads as plain data, turned into JS errors shaped like Node's
// fs errors (code, errno, syscall, path) on the JS thread.
#pragma once

#include <napi.h>

#include <string>

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
};

// 'EEXIST' for EEXIST; 'E<number>' for values outside the table.
std::string ErrnoName(int err);

// Node's own wording ("file already exists"), so messages read like fs errors.
std::string ErrnoDescription(int err);

// Error object with message "<code>: <description>, <syscall> '<path>'". JS thread only.
Napi::Error MakeError(Napi::Env env, const SysError& e);

}  // namespace netns
