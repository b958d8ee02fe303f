// netns-native-bridge, the native executable (docs/cni.md "The agent and its shim"). A runtime runs
// it as any CNI plugin: CNI_* in the environment, the configuration on stdin, the result on stdout,
// the exit status. It hands the invocation to the resident agent (netns-native-cni-agent) over a
// unix socket: the CNI_* variables, the stdin bytes, and this process's network namespace as an fd
// (SCM_RIGHTS), because the runtime runs plugins in the host's namespace and that is where the
// agent must do the host side; then it writes back the agent's stdout, stderr and exit status.
// No Node.js start-up per invocation: that start-up alone costs more than the reference plugin's
// whole ADD+DEL (docs/cni.md "Speed").
//
// When no agent answers (no socket, refused, a peer that is not our user, the agent gone before
// its reply, or an answer "run yourself" for what the agent does not do in-process), it execs the
// Node.js plugin with the same environment and the same stdin: always correct, only slower.
// Where that plugin is: $NETNS_NATIVE_CNI_NODE_PLUGIN, else netns-native-bridge-node beside this
// executable, else dist/bin/netns-native-bridge.cjs of the package this executable lives in (its
// real path is PACKAGE/build/Release/ or PACKAGE/prebuilds/linux-x64/).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAGIC 0x41434e4eu /* "NNCA", as native/cni_agent_ops.h */
#define VERSION 1u
#define STATUS_FALLBACK (-1)
#define DEFAULT_SOCKET "/run/netns-native/cni.sock"
#define DEFAULT_TIMEOUT_S 300
#define NODE_PLUGIN "dist/bin/netns-native-bridge.cjs"

extern char** environ;

struct buf {
  char* data;
  size_t len, cap;
};

static int grow(struct buf* b, size_t need) {
  if (b->len + need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + need) cap *= 2;
  char* d = realloc(b->data, cap);
  if (!d) return -1;
  b->data = d;
  b->cap = cap;
  return 0;
}

static int append(struct buf* b, const void* p, size_t n) {
  if (grow(b, n) != 0) return -1;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

// All of p to fd; to a socket with MSG_NOSIGNAL (an agent gone away is EPIPE, not SIGPIPE).
static int write_all(int fd, const char* p, size_t n, int sock) {
  while (n > 0) {
    ssize_t w = sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// The configuration's cniVersion, for the error object this executable prints itself.
static void config_version(const struct buf* in, char* out, size_t size) {
  snprintf(out, size, "1.0.0");
  if (!in->data) return;
  const char* end = in->data + in->len;
  const char* k = memmem(in->data, in->len, "\"cniVersion\"", 12);
  if (!k) return;
  const char* p = k + 12;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ':')) p++;
  if (p >= end || *p != '"') return;
  p++;
  size_t n = 0;
  while (p + n < end && n + 1 < size && ((p[n] >= '0' && p[n] <= '9') || p[n] == '.')) n++;
  if (n == 0 || p + n >= end || p[n] != '"') return;
  memcpy(out, p, n);
  out[n] = '\0';
}

// A CNI error object on stdout, 4-space indented as the plugins print it, and exit status 1.
static int fail(const struct buf* in, int code, const char* msg) {
  char version[16];
  config_version(in, version, sizeof(version));
  printf("{\n    \"cniVersion\": \"%s\",\n    \"code\": %d,\n    \"msg\": \"%s\"\n}", version, code, msg);
  fflush(stdout);
  return 1;
}

static int exists(const char* path) { return access(path, X_OK) == 0; }

static const char* node_plugin(char* path, size_t size) {
  const char* env = getenv("NETNS_NATIVE_CNI_NODE_PLUGIN");
  if (env && *env) return exists(env) ? env : NULL;
  char self[PATH_MAX];
  // argv[0] may be a symlink in /opt/cni/bin: beside the link first (a copy install puts the Node
  // plugin's link there), then the package the real file belongs to.
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return NULL;
  self[n] = '\0';
  char* slash = strrchr(self, '/');
  if (!slash) return NULL;
  *slash = '\0';
  snprintf(path, size, "%s/netns-native-bridge-node", self);
  if (exists(path)) return path;
  snprintf(path, size, "%s/../../" NODE_PLUGIN, self);
  if (exists(path)) return path;
  return NULL;
}

// Exec the Node.js plugin. `in` holds the stdin bytes already read (NULL when stdin is untouched):
// they go to the plugin through a memfd on fd 0, which reads like the runtime's pipe.
static int fallback(const struct buf* in, char** argv) {
  char path[PATH_MAX + 64];
  const char* plugin = node_plugin(path, sizeof(path));
  if (!plugin) return fail(in, 999, "netns-native agent not reachable and the Node.js plugin not found (set NETNS_NATIVE_CNI_NODE_PLUGIN)");
  if (in) {
    int mfd = memfd_create("cni-stdin", MFD_CLOEXEC);
    if (mfd < 0 || write_all(mfd, in->data ? in->data : "", in->len, 0) != 0 || lseek(mfd, 0, SEEK_SET) != 0 || dup2(mfd, 0) < 0)
      return fail(in, 5, "netns-native shim: cannot pass stdin to the Node.js plugin");
    close(mfd);
  }
  argv[0] = (char*)plugin;
  execv(plugin, argv);
  return fail(in, 999, "netns-native shim: cannot execute the Node.js plugin");
}

static int read_stdin(struct buf* in) {
  for (;;) {
    if (grow(in, 65536) != 0) return -1;
    ssize_t r = read(0, in->data + in->len, in->cap - in->len);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) return 0;
    in->len += (size_t)r;
  }
}

// 0: filled; -1: the agent went away or failed; -2: timed out.
static int recv_all(int s, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(s, p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
    }
    if (r == 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

int main(int argc, char** argv) {
  (void)argc;
  const char* sock_path = getenv("NETNS_NATIVE_CNI_SOCKET");
  if (!sock_path || !*sock_path) sock_path = DEFAULT_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  struct stat st;
  // A terminal on stdin (someone trying VERSION by hand) is not read: the Node.js plugin knows.
  if (strlen(sock_path) >= sizeof(addr.sun_path) || (fstat(0, &st) == 0 && S_ISCHR(st.st_mode))) return fallback(NULL, argv);
  strcpy(addr.sun_path, sock_path);
  // The whole stdin first: the agent's time limit for a request starts when it accepts.
  struct buf in = {0}, env = {0};
  if (read_stdin(&in) != 0) return fail(&in, 5, "error reading from stdin");
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr*)&addr, sizeof(addr)) != 0) return fallback(&in, argv);
  // Only an agent of our own user (root on a node) is trusted with the host namespace.
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != geteuid()) return fallback(&in, argv);

  for (char** e = environ; *e; e++)
    if (strncmp(*e, "CNI_", 4) == 0 && append(&env, *e, strlen(*e) + 1) != 0) return fail(&in, 5, "out of memory");
  int ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    close(s);
    return fallback(&in, argv);
  }

  uint32_t header[4] = {MAGIC, VERSION, (uint32_t)env.len, (uint32_t)in.len};
  struct iovec iov = {.iov_base = header, .iov_len = sizeof(header)};
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof(control));
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof(control.space)};
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &ns, sizeof(int));
  ssize_t sent;
  do sent = sendmsg(s, &msg, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent != (ssize_t)sizeof(header) || write_all(s, env.data, env.len, 1) != 0 || write_all(s, in.data, in.len, 1) != 0) {
    close(s);
    return fallback(&in, argv);
  }
  close(ns);

  const char* t = getenv("NETNS_NATIVE_CNI_TIMEOUT");
  long timeout = t && *t ? strtol(t, NULL, 10) : DEFAULT_TIMEOUT_S;
  if (timeout <= 0) timeout = DEFAULT_TIMEOUT_S;
  struct timeval tv = {.tv_sec = timeout};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  uint32_t reply[4];
  int r = recv_all(s, (char*)reply, sizeof(reply));
  // Timed out: the agent may still be doing this very invocation; running the plugin alongside it
  // could race it, so the runtime is told to try again (code 11).
  if (r == -2) return fail(&in, 11, "netns-native agent did not answer in time");
  if (r != 0 || reply[0] != MAGIC || (int32_t)reply[1] == STATUS_FALLBACK) {
    close(s);
    return fallback(&in, argv);
  }
  size_t out_len = reply[2], err_len = reply[3];
  char* out = malloc(out_len + err_len + 1);
  if (!out) return fail(&in, 5, "out of memory");
  r = recv_all(s, out, out_len + err_len);
  if (r == -2) return fail(&in, 11, "netns-native agent did not answer in time");
  if (r != 0) {
    close(s);
    return fallback(&in, argv);
  }
  write_all(1, out, out_len, 0);
  write_all(2, out + out_len, err_len, 0);
  return (int32_t)reply[1];
}
