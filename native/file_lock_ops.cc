#include "file_lock_ops.h"

#include <errno.h>
#include <sys/file.h>

namespace netns {

SysError FileLockExclusive(int fd) {
  int rc;
  do rc = flock(fd, LOCK_EX);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return SysError::FromErrno("flock");
  return {};
}

}  // namespace netns
