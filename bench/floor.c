/*
 * The floor of `npm run bench`: the same pod workload as bench/workloads.ts, done with raw system
 * calls by one single-threaded process, one netlink request at a time (send, then block for its
 * ACK). Nothing here can be removed without changing what the kernel is asked to do, so a library
 * figure divided by this one is what the library costs above the kernel (docs/performance.md,
 * "The C floor").
 *
 * It does no lookups: it picks the ifindex of every link it creates (ifinfomsg.ifi_index, which
 * RTM_NEWLINK honours when the number is free), so later requests name links by index directly.
 * A library that takes names has to resolve them; that difference is part of what is measured.
 *
 *   floor setup PREFIX TAG N fast|move   build host PREFIXTAG-h and pods PREFIXTAG-pI
 *   floor setup PREFIX TAG N pipe        the fast variant pipelined: every pod namespace first, then
 *                                        the host's veth creations 64 per sendmsg, then each pod's
 *                                        four requests in one sendmsg, every ACK read afterwards
 *   floor teardown PREFIX TAG N          delete them again (pods first, then the host)
 *   floor ops PREFIX TAG K               single operations, K of each, one at a time
 *
 * The pipelined setup is what issue 10 compares the library's all-pods-at-once run with (the
 * "C pipeline" of ../shared/peers): the requests of many pods in flight at once, as an agent handling
 * a burst has them, and still nothing a library could leave out.
 *
 * Every command prints one JSON line of milliseconds. Built on demand by bench/run.ts with the
 * machine's `cc`; root only. Namespaces are pinned the way iproute2 and the library pin them: an
 * empty file under /run/netns with the namespace bind-mounted on it, /run/netns a shared mount.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NETNS_DIR "/run/netns"
#define GATEWAY "10.200.0.1"
#define BRIDGE_INDEX 2      /* lo is 1 in a new namespace */
#define HOST_VETH_BASE 1000 /* host end of pod i's veth: 1000 + i */
#define POD_ETH0_INDEX 2    /* created in the pod: lo is 1 */
#define MOVED_BASE 200000   /* move variant: the peer keeps this index when it changes namespace */

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "floor: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ---- building messages: one request per buffer --------------------------------------------- */

struct msg {
  union {
    struct nlmsghdr h;
    unsigned char bytes[4096];
  } u;
};

static uint32_t next_seq = 1;

static void *msg_begin(struct msg *m, uint16_t type, uint16_t flags, size_t family_len) {
  memset(&m->u.h, 0, NLMSG_SPACE(family_len));
  m->u.h.nlmsg_len = NLMSG_LENGTH(family_len);
  m->u.h.nlmsg_type = type;
  m->u.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  m->u.h.nlmsg_seq = next_seq++;
  return NLMSG_DATA(&m->u.h);
}

static struct rtattr *attr(struct msg *m, uint16_t type, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(m->u.h.nlmsg_len);
  if (off + RTA_SPACE(len) > sizeof m->u.bytes) fail("message too large");
  struct rtattr *a = (struct rtattr *)(m->u.bytes + off);
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  m->u.h.nlmsg_len = off + RTA_SPACE(len);
  return a;
}

static void attr_str(struct msg *m, uint16_t type, const char *s) { attr(m, type, s, strlen(s) + 1); }
static void attr_u32(struct msg *m, uint16_t type, uint32_t v) { attr(m, type, &v, sizeof v); }
static struct rtattr *nest(struct msg *m, uint16_t type) { return attr(m, type, NULL, 0); }
static void nest_end(struct msg *m, struct rtattr *a) {
  a->rta_len = (unsigned char *)&m->u.h + m->u.h.nlmsg_len - (unsigned char *)a;
}
/* Raw bytes inside a nest that are not an attribute (the peer's ifinfomsg of a veth). */
static void raw(struct msg *m, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(m->u.h.nlmsg_len);
  memcpy(m->u.bytes + off, data, len);
  m->u.h.nlmsg_len = off + NLMSG_ALIGN(len);
}

/* Pipelined setup: while `queue` is set, requests are appended to it instead of sent. */
struct batch {
  unsigned char bytes[256 * 1024];
  size_t len;
  int count;
};
static struct batch *queue;

/* Read `count` ACKs on `sock`; any error fails the run. */
static void read_acks(int sock, int count, const char *what) {
  unsigned char buf[8192];
  int acks = 0;
  while (acks < count) {
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("%s: recv: %s", what, strerror(errno));
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (err != 0) fail("%s: %s", what, strerror(-err));
      acks++;
    }
  }
}

/* Send what `b` holds in one sendmsg and empty it; returns how many requests went out. */
static int batch_send(int sock, struct batch *b, const char *what) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(sock, b->bytes, b->len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    fail("%s: sendto: %s", what, strerror(errno));
  }
  int count = b->count;
  b->len = 0;
  b->count = 0;
  return count;
}

/* Send one request and block until its ACK: the one-request-at-a-time floor. */
static int transact(int sock, struct msg *m) {
  if (queue != NULL) {
    size_t len = NLMSG_ALIGN(m->u.h.nlmsg_len);
    if (queue->len + len > sizeof queue->bytes) fail("pipelined batch too large");
    memcpy(queue->bytes + queue->len, &m->u.h, len);
    queue->len += len;
    queue->count++;
    return 0;
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(sock, &m->u.h, m->u.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    fail("sendto: %s", strerror(errno));
  }
  unsigned char buf[8192];
  for (;;) {
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("recv: %s", strerror(errno));
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != m->u.h.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR) continue;
      return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
  }
}

static void must(int sock, struct msg *m, const char *what) {
  int err = transact(sock, m);
  if (err != 0) fail("%s: %s", what, strerror(-err));
}

static int rtnl_socket(void) {
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) fail("socket: %s", strerror(errno));
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(s, (struct sockaddr *)&local, sizeof local) != 0) fail("bind: %s", strerror(errno));
  return s;
}

/* ---- requests ----------------------------------------------------------------------------- */

static struct ifinfomsg *link_msg(struct msg *m, uint16_t type, uint16_t flags, int index) {
  struct ifinfomsg *ifi = msg_begin(m, type, flags, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  return ifi;
}

static void set_up(int sock, int index) {
  struct msg m;
  struct ifinfomsg *ifi = link_msg(&m, RTM_NEWLINK, 0, index);
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  must(sock, &m, "link set up");
}

static void bridge_add(int sock, const char *name, int index) {
  struct msg m;
  struct ifinfomsg *ifi = link_msg(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, index);
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  attr_str(&m, IFLA_IFNAME, name);
  struct rtattr *info = nest(&m, IFLA_LINKINFO);
  attr_str(&m, IFLA_INFO_KIND, "bridge");
  nest_end(&m, info);
  must(sock, &m, "link add bridge");
}

/* One veth: host end `name`/`index`, optionally enslaved and up; peer `peer`/`peer_index`, in
 * `peer_ns` when >= 0. The peer cannot be brought up by this request (the kernel answers ENOTCONN
 * to IFF_UP in the peer's ifinfomsg), so that is a request of its own, as in the library. */
static int veth_add(int sock, const char *name, int index, int master, int up, const char *peer, int peer_index,
                    int peer_ns) {
  struct msg m;
  struct ifinfomsg *ifi = link_msg(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, index);
  if (up) ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  attr_str(&m, IFLA_IFNAME, name);
  if (master) attr_u32(&m, IFLA_MASTER, master);
  struct rtattr *info = nest(&m, IFLA_LINKINFO);
  attr_str(&m, IFLA_INFO_KIND, "veth");
  struct rtattr *data = nest(&m, IFLA_INFO_DATA);
  struct rtattr *p = nest(&m, VETH_INFO_PEER);
  struct ifinfomsg pifi = {.ifi_family = AF_UNSPEC, .ifi_index = peer_index};
  raw(&m, &pifi, sizeof pifi);
  attr_str(&m, IFLA_IFNAME, peer);
  if (peer_ns >= 0) attr_u32(&m, IFLA_NET_NS_FD, peer_ns);
  nest_end(&m, p);
  nest_end(&m, data);
  nest_end(&m, info);
  return transact(sock, &m);
}

static void move_rename(int sock, int index, int ns, const char *name) {
  struct msg m;
  link_msg(&m, RTM_NEWLINK, 0, index);
  attr_u32(&m, IFLA_NET_NS_FD, ns);
  attr_str(&m, IFLA_IFNAME, name);
  must(sock, &m, "link set netns");
}

static int addr4_add(int sock, int index, const char *ip, int plen) {
  struct msg m;
  struct ifaddrmsg *ifa = msg_begin(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = plen;
  ifa->ifa_index = index;
  struct in_addr a;
  if (inet_pton(AF_INET, ip, &a) != 1) fail("bad address %s", ip);
  attr(&m, IFA_LOCAL, &a, sizeof a);
  attr(&m, IFA_ADDRESS, &a, sizeof a);
  return transact(sock, &m);
}

static void default_route(int sock, const char *gw) {
  struct msg m;
  struct rtmsg *rt = msg_begin(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rt);
  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  struct in_addr a;
  inet_pton(AF_INET, gw, &a);
  attr(&m, RTA_GATEWAY, &a, sizeof a);
  must(sock, &m, "route add default");
}

/* ---- named namespaces ------------------------------------------------------------------------ */

static int home_ns = -1;

/* /run/netns must be a shared mount, so a pin removed here disappears from every mount namespace
 * it propagated to (what iproute2 and the library do). */
static void netns_dir(void) {
  if (mkdir(NETNS_DIR, 0755) != 0 && errno != EEXIST) fail("mkdir %s: %s", NETNS_DIR, strerror(errno));
  if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) == 0) return;
  if (errno != EINVAL) fail("mount %s: %s", NETNS_DIR, strerror(errno));
  if (mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) != 0 ||
      mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) != 0) {
    fail("mount %s: %s", NETNS_DIR, strerror(errno));
  }
}

/* Create and pin namespace `name`; returns its fd and, when `sock` is given, an rtnetlink socket
 * inside it (a socket belongs to the namespace its creator was in). */
static int netns_create(const char *name, int *sock) {
  char path[256];
  snprintf(path, sizeof path, NETNS_DIR "/%s", name);
  int placeholder = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (placeholder < 0) fail("create %s: %s", path, strerror(errno));
  close(placeholder);
  if (unshare(CLONE_NEWNET) != 0) fail("unshare: %s", strerror(errno));
  if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) != 0) fail("mount %s: %s", path, strerror(errno));
  int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open ns: %s", strerror(errno));
  if (sock) *sock = rtnl_socket();
  if (setns(home_ns, CLONE_NEWNET) != 0) fail("setns home: %s", strerror(errno));
  return fd;
}

static void netns_delete(const char *name) {
  char path[256];
  snprintf(path, sizeof path, NETNS_DIR "/%s", name);
  if (umount2(path, MNT_DETACH) != 0 && errno != EINVAL) fail("umount %s: %s", path, strerror(errno));
  if (unlink(path) != 0) fail("unlink %s: %s", path, strerror(errno));
}

/* ---- the pod workload (bench/workloads.ts) ------------------------------------------------- */

static void pod_address(char *out, size_t len, int i) {
  int k = i + 2; /* 10.200.0.2 ...: the bridge is 10.200.0.1 */
  snprintf(out, len, "10.200.%d.%d", k >> 8, k & 255);
}

/* The host namespace with its bridge and the bridge's address; returns a socket inside it. */
static int host_setup(const char *prefix, const char *tag) {
  char name[256];
  snprintf(name, sizeof name, "%s%s-h", prefix, tag);
  int host;
  close(netns_create(name, &host));
  bridge_add(host, "br0", BRIDGE_INDEX);
  int err = addr4_add(host, BRIDGE_INDEX, GATEWAY, 16);
  if (err) fail("addr add %s: %s", GATEWAY, strerror(-err));
  return host;
}

static void setup(const char *prefix, const char *tag, int n, int move) {
  char name[256], ifname[IFNAMSIZ], peer[IFNAMSIZ], ip[32];
  int host = host_setup(prefix, tag);
  int err;
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof name, "%s%s-p%d", prefix, tag, i);
    int pod;
    int podfd = netns_create(name, &pod);
    snprintf(ifname, sizeof ifname, "veth%d", i);
    int eth0;
    if (!move) {
      err = veth_add(host, ifname, HOST_VETH_BASE + i, BRIDGE_INDEX, 1, "eth0", POD_ETH0_INDEX, podfd);
      if (err) fail("veth add %s: %s", ifname, strerror(-err));
      eth0 = POD_ETH0_INDEX;
      set_up(pod, eth0);
    } else {
      snprintf(peer, sizeof peer, "tmp%d", i);
      eth0 = MOVED_BASE + i;
      err = veth_add(host, ifname, HOST_VETH_BASE + i, BRIDGE_INDEX, 1, peer, eth0, -1);
      if (err) fail("veth add %s: %s", ifname, strerror(-err));
      move_rename(host, eth0, podfd, "eth0");
      set_up(pod, eth0);
    }
    close(podfd);
    set_up(pod, 1);
    pod_address(ip, sizeof ip, i);
    err = addr4_add(pod, eth0, ip, 16);
    if (err) fail("addr add %s: %s", ip, strerror(-err));
    default_route(pod, GATEWAY);
    close(pod);
  }
  close(host);
}

#define PIPE_CHUNK 64 /* veth creations per sendmsg */

static void setup_pipelined(const char *prefix, const char *tag, int n) {
  static struct batch b;
  char name[256], ifname[IFNAMSIZ], ip[32];
  int host = host_setup(prefix, tag);
  int *pods = calloc(n, sizeof *pods), *podfds = calloc(n, sizeof *podfds), *sent = calloc(n, sizeof *sent);
  if (pods == NULL || podfds == NULL || sent == NULL) fail("out of memory");
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof name, "%s%s-p%d", prefix, tag, i);
    podfds[i] = netns_create(name, &pods[i]);
  }
  queue = &b;
  for (int i = 0; i < n; i++) {
    snprintf(ifname, sizeof ifname, "veth%d", i);
    veth_add(host, ifname, HOST_VETH_BASE + i, BRIDGE_INDEX, 1, "eth0", POD_ETH0_INDEX, podfds[i]);
    if (b.count == PIPE_CHUNK || i == n - 1) read_acks(host, batch_send(host, &b, "veth add"), "veth add (pipelined)");
  }
  /* Every pod's four requests are sent before any of their ACKs is read. */
  for (int i = 0; i < n; i++) {
    close(podfds[i]);
    set_up(pods[i], POD_ETH0_INDEX);
    set_up(pods[i], 1);
    pod_address(ip, sizeof ip, i);
    addr4_add(pods[i], POD_ETH0_INDEX, ip, 16);
    default_route(pods[i], GATEWAY);
    sent[i] = batch_send(pods[i], &b, "pod requests");
  }
  queue = NULL;
  for (int i = 0; i < n; i++) {
    read_acks(pods[i], sent[i], "pod requests (pipelined)");
    close(pods[i]);
  }
  free(pods);
  free(podfds);
  free(sent);
  close(host);
}

static void teardown(const char *prefix, const char *tag, int n) {
  char name[256];
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof name, "%s%s-p%d", prefix, tag, i);
    netns_delete(name);
  }
  snprintf(name, sizeof name, "%s%s-h", prefix, tag);
  netns_delete(name);
}

/* ---- single operations (bench/single_ops.ts) ---------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void ops(const char *prefix, const char *tag, int k) {
  double *t = calloc(k, sizeof *t);
  char name[256], a[IFNAMSIZ], b[IFNAMSIZ], ip[32];
  double create, del, veth, addr;

  for (int i = 0; i < k; i++) {
    snprintf(name, sizeof name, "%s%s-c%d", prefix, tag, i);
    double t0 = now_ms();
    close(netns_create(name, NULL));
    t[i] = now_ms() - t0;
  }
  create = median(t, k);
  for (int i = 0; i < k; i++) {
    snprintf(name, sizeof name, "%s%s-c%d", prefix, tag, i);
    double t0 = now_ms();
    netns_delete(name);
    t[i] = now_ms() - t0;
  }
  del = median(t, k);

  int sock;
  snprintf(name, sizeof name, "%s%s-s", prefix, tag);
  close(netns_create(name, &sock));
  for (int i = 0; i < k; i++) {
    snprintf(a, sizeof a, "a%d", i);
    snprintf(b, sizeof b, "b%d", i);
    double t0 = now_ms();
    int err = veth_add(sock, a, 0, 0, 0, b, 0, -1);
    t[i] = now_ms() - t0;
    if (err) fail("veth add %s: %s", a, strerror(-err));
  }
  veth = median(t, k);
  bridge_add(sock, "d0", 50000); /* this kernel has no dummy module */
  for (int i = 0; i < k; i++) {
    snprintf(ip, sizeof ip, "10.50.%d.%d", i >> 8, i & 255);
    double t0 = now_ms();
    int err = addr4_add(sock, 50000, ip, 32);
    t[i] = now_ms() - t0;
    if (err) fail("addr add %s: %s", ip, strerror(-err));
  }
  addr = median(t, k);
  close(sock);
  netns_delete(name);
  printf("{\"k\":%d,\"netnsCreateMs\":%.4f,\"netnsDeleteMs\":%.4f,\"vethCreateMs\":%.4f,\"addrAddMs\":%.4f}\n", k, create,
         del, veth, addr);
  free(t);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: floor setup PREFIX TAG N fast|move|pipe | teardown PREFIX TAG N | ops PREFIX TAG K\n");
    return 2;
  }
  home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_ns < 0) fail("open home namespace: %s", strerror(errno));
  netns_dir();
  const char *cmd = argv[1], *prefix = argv[2], *tag = argv[3];
  int n = atoi(argv[4]);
  if (n < 1 || n > 10000) fail("N must be 1..10000");
  double t0 = now_ms();
  if (strcmp(cmd, "setup") == 0 && argc == 6 && strcmp(argv[5], "pipe") == 0) {
    setup_pipelined(prefix, tag, n);
    printf("{\"ms\":%.3f}\n", now_ms() - t0);
  } else if (strcmp(cmd, "setup") == 0 && argc == 6) {
    setup(prefix, tag, n, strcmp(argv[5], "move") == 0);
    printf("{\"ms\":%.3f}\n", now_ms() - t0);
  } else if (strcmp(cmd, "teardown") == 0) {
    teardown(prefix, tag, n);
    printf("{\"ms\":%.3f}\n", now_ms() - t0);
  } else if (strcmp(cmd, "ops") == 0) {
    ops(prefix, tag, n);
  } else {
    fail("unknown command %s", cmd);
  }
  return 0;
}
