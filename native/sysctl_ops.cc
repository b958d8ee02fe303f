#include "sysctl_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "fd.h"
#include "ns_guard.h"

namespace netns {

namespace {

constexpr const char kPrefix[] = "/proc/sys/net/";
constexpr size_t kMaxValue = 1 << 20;

SysError BadPath(const std::string& path) {
  SysError e = SysError::Of(EINVAL, "open", path);
  e.message = "EINVAL: not a sysctl path under /proc/sys/net, open '" + path + "'";
  return e;
}

// Opens `path`; the calling worker is inside the target namespace.
SysError OpenValue(const std::string& path, int flags, UniqueFd* out) {
  // O_NOFOLLOW: /proc/sys has no symbolic links; anything else is not a sysctl.
  UniqueFd fd(open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!fd.Valid()) return SysError::FromErrno("open", path);
  // A directory ("net.ipv4") opens read-only but is not a value.
  struct stat st;
  if (fstat(fd.Get(), &st) != 0) return SysError::FromErrno("fstat", path);
  if (S_ISDIR(st.st_mode)) return SysError::Of(EISDIR, "open", path);
  if (!S_ISREG(st.st_mode)) return SysError::Of(EINVAL, "open", path);
  *out = std::move(fd);
  return {};
}

SysError ReadAll(int fd, const std::string& path, std::string* out) {
  std::string value;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError::FromErrno("read", path);
    }
    if (n == 0) break;
    value.append(buf, static_cast<size_t>(n));
    if (value.size() > kMaxValue) return SysError::Of(EFBIG, "read", path);
  }
  *out = std::move(value);
  return {};
}

// One write: the kernel parses a sysctl value from a single buffer at offset 0 (a short or split
// write would set a partial value).
SysError WriteAll(int fd, const std::string& path, const std::string& value) {
  ssize_t n;
  do {
    n = write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return SysError::FromErrno("write", path);
  if (static_cast<size_t>(n) != value.size()) return SysError::Of(EIO, "write", path);
  return {};
}

}  // namespace

bool IsNetSysctlPath(const std::string& path) {
  const size_t prefixLen = sizeof(kPrefix) - 1;
  if (path.compare(0, prefixLen, kPrefix) != 0 || path.size() == prefixLen) return false;
  if (path.find('\0') != std::string::npos) return false;
  size_t start = prefixLen;
  for (;;) {
    size_t end = path.find('/', start);
    std::string part = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == std::string::npos) return true;
    start = end + 1;
  }
}

namespace {

// Inside the namespace for the whole open + read/write, exactly as `ip netns exec NS sysctl` would be.
// The open is what needs it (the fd keeps the namespace), but staying in for the I/O as well means
// no sysctl handler can ever consult the thread's namespace and see another one.
template <class Use>
SysError WithValueFile(int nsFd, const std::string& path, int flags, Use use) {
  if (!IsNetSysctlPath(path)) return BadPath(path);
  NsGuard guard;
  SysError e = guard.Enter(nsFd);
  if (e.Failed()) return e;
  UniqueFd fd;
  e = OpenValue(path, flags, &fd);
  if (e.Failed()) return e;
  return use(fd.Get());
}  // the guard brings the thread home (or poisons it) after the fd is closed

}  // namespace

SysError SysctlRead(int nsFd, const std::string& path, std::string* out) {
  return WithValueFile(nsFd, path, O_RDONLY, [&](int fd) { return ReadAll(fd, path, out); });
}

SysError SysctlWrite(int nsFd, const std::string& path, const std::string& value) {
  return WithValueFile(nsFd, path, O_WRONLY, [&](int fd) { return WriteAll(fd, path, value); });
}

}  // namespace netns
