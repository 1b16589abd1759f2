/* fleetflame stand-in validator: a tiny model of a Firedancer / Frankendancer host.
 *
 * Tiles are named KIND:IDX (thread or process comm), each burns a configurable share of
 * CPU (--load percent of every --period ms, in CPU time) in functions whose names start with its kind (verify_tile_run -> fd_stem_run ->
 * verify_sigverify_batch -> verify_sha512_block), and an HTTP server answers GET /metrics
 * with tile_pid / tile_tid gauges in Prometheus text format.  As in Frankendancer, the
 * bank tiles live in a separate "agave" process with extra non-tile threads.
 *
 * Build: gcc -std=c11 -O1 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
 *            -fno-optimize-sibling-calls -pthread -o standin standin.c
 * Usage: standin [--layout threads|processes] [--tiles net:1,verify:3,...] [--load PCT]
 *                [--period MS] [--metrics ADDR:PORT | --no-metrics] [--dead-tile KIND:IDX]...
 *                [--pidfile PATH] [--duration SECONDS] [--extra-path KIND]
 *
 * --extra-path KIND: that kind's tiles also spend about a third of their time in
 * fd_slow_path_retry (called from fd_stem_run), as a host whose tile took a slow path would;
 * tests give it to one host to check that `fleetflame skew` finds it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
/* GCC 12 ignores -mno-omit-leaf-frame-pointer; asking for the frame address forces the
 * frame pointer in leaf functions, so their callers show up in fp call graphs. */
#define KEEP_FRAME() __asm__ volatile("" ::"r"(__builtin_frame_address(0)))
#define MAX_TILES 256
#define MAX_CHILDREN (MAX_TILES + 1)

typedef struct {
  char kind[16];
  int idx;
  int dead;             /* --dead-tile: advertised, then exits */
  int in_agave;         /* bank tiles live in the agave process */
  volatile int pid;     /* as seen in our PID namespace; written by the tile itself */
  volatile int tid;
  volatile int ready;
} tile_t;

typedef void (*tile_fn)(tile_t *);

/* ---- configuration (set in main before any fork / thread) ---- */
static double g_load = 10.0;     /* percent of each period spent burning */
static double g_period_ms = 20.0;
static tile_t *g_tiles;          /* shared mapping, visible to every process */
static int g_ntiles;
static volatile uint64_t g_sink; /* keeps the work observable */
static volatile int g_running = 1; /* never cleared: keeps fd_stem_run from being noreturn */
static char g_extra_kind[16];      /* --extra-path KIND, "" for none */
static __thread int t_extra_path;  /* this thread is a tile of that kind */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_until(double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

/* Shared helper every tile calls, like Firedancer's stem. */
NOINLINE uint64_t fd_stem_poll(uint64_t seq) {
  KEEP_FRAME();
  uint64_t x = seq;
  for (int i = 0; i < 16; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

/* The --extra-path code: half the work of a batch, so a third of such a tile's samples. */
NOINLINE uint64_t fd_slow_path_retry(uint64_t x) {
  KEEP_FRAME();
  for (int i = 0; i < 1600; i++) x = (x ^ (x >> 31)) * 0xA24BAED4963EE407ULL + (uint64_t)i;
  return x;
}

static double g_batch_s = 5e-6;   /* CPU seconds of one batch, measured by calibrate() */

/* Duty-cycle loop: every period, run as many batches of `work` as load% of the period
 * takes in CPU time (counted, not timed: a busy machine stretches the burst instead of
 * shrinking it), then sleep.  Each thread starts at its own phase so tiles do not all
 * wake at once. */
NOINLINE void fd_stem_run(uint64_t (*work)(uint64_t)) {
  double period = g_period_ms / 1000.0;
  double per_period = period * g_load / 100.0 / g_batch_s, credit = 0;
  double phase = (double)((uint64_t)gettid() * 2654435761ULL % 1000) / 1000.0;
  double next = now_s() + phase * period;
  uint64_t acc = 0;
  sleep_until(next);
  while (g_running) {
    credit += per_period;
    for (; credit >= 1; credit -= 1) {
      acc += fd_stem_poll(acc);
      acc += work(acc);
      if (t_extra_path) acc += fd_slow_path_retry(acc);
    }
    g_sink = acc;
    next += period;
    double now = now_s();
    if (next < now) next = now; /* fell behind: do not catch up */
    else sleep_until(next);
  }
}

/* Per-kind functions: KIND_tile_run -> fd_stem_run -> KIND_MID -> KIND_LEAF. */
#define DEFINE_WORK(k, mid, leaf, salt, run)                                             \
  NOINLINE uint64_t k##_##leaf(uint64_t x) {                                             \
    KEEP_FRAME();                                                                        \
    for (int i = 0; i < 200; i++) x = (x ^ (x >> 29)) * (salt) + (uint64_t)i;            \
    return x;                                                                            \
  }                                                                                      \
  NOINLINE uint64_t k##_##mid(uint64_t x) {                                              \
    uint64_t acc = 0;                                                                    \
    for (int i = 0; i < 16; i++) acc += k##_##leaf(x + (uint64_t)i);                     \
    __asm__ volatile("" ::: "memory");                                                   \
    return acc;                                                                          \
  }                                                                                      \
  NOINLINE void k##_##run(tile_t *t) {                                                   \
    (void)t;                                                                             \
    fd_stem_run(k##_##mid);                                                              \
    __asm__ volatile("" ::: "memory");                                                   \
  }
#define DEFINE_KIND(k, mid, leaf, salt) DEFINE_WORK(k, mid, leaf, salt, tile_run)

DEFINE_KIND(net, xdp_rx_burst, xsk_ring_poll, 0x9E3779B97F4A7C15ULL)
DEFINE_KIND(quic, handle_packets, aes_gcm_decrypt, 0xBF58476D1CE4E5B9ULL)
DEFINE_KIND(verify, sigverify_batch, sha512_block, 0x94D049BB133111EBULL)
DEFINE_KIND(dedup, check_tcache, hash_signature, 0xD6E8FEB86659FD93ULL)
DEFINE_KIND(pack, schedule_microblock, insert_txn, 0xA0761D6478BD642FULL)
DEFINE_KIND(bank, execute_txns, load_accounts, 0xE7037ED1A0B428DBULL)
DEFINE_KIND(poh, mixin_hashes, sha256_append, 0x8EBC6AF09C88C6E3ULL)
DEFINE_KIND(shred, fec_encode, reedsol_encode, 0x589965CC75374CC3ULL)
DEFINE_KIND(store, insert_shreds, blockstore_write, 0x1D8E4E27C47D124FULL)
DEFINE_KIND(sign, sign_request, ed25519_sign, 0x2545F4914F6CDD1DULL)
DEFINE_KIND(metric, scrape_links, prometheus_render, 0x5851F42D4C957F2DULL)
DEFINE_KIND(netlnk, route_update, neigh_probe, 0x14057B7EF767814FULL)
DEFINE_KIND(sock, recvmmsg_batch, udp_rx_copy, 0x9FB21C651E98DF25ULL)
DEFINE_KIND(resolv, resolve_lut, lookup_table_scan, 0xC2B2AE3D27D4EB4FULL)
DEFINE_KIND(gui, render_state, json_serialize, 0x165667B19E3779F9ULL)
DEFINE_KIND(plugin, publish_event, encode_message, 0x27D4EB2F165667C5ULL)
DEFINE_KIND(bundle, grpc_poll, decode_bundle, 0xFF51AFD7ED558CCDULL)
DEFINE_KIND(cswtch, sample_switches, read_proc_stat, 0xC4CEB9FE1A85EC53ULL)
/* Agave's own (non-tile) threads. */
DEFINE_WORK(agave_rpc, handle_request, serialize_account, 0x62A9D9ED799705F5ULL, service_run)
DEFINE_WORK(agave_gossip, push_messages, crds_filter, 0xCB24D0A5C88C35B3ULL, service_run)

static const struct { const char *kind; tile_fn run; } KINDS[] = {
  {"net", net_tile_run},       {"quic", quic_tile_run},     {"verify", verify_tile_run},
  {"dedup", dedup_tile_run},   {"pack", pack_tile_run},     {"bank", bank_tile_run},
  {"poh", poh_tile_run},       {"shred", shred_tile_run},   {"store", store_tile_run},
  {"sign", sign_tile_run},     {"metric", metric_tile_run}, {"netlnk", netlnk_tile_run},
  {"sock", sock_tile_run},     {"resolv", resolv_tile_run}, {"gui", gui_tile_run},
  {"plugin", plugin_tile_run}, {"bundle", bundle_tile_run}, {"cswtch", cswtch_tile_run},
};
#define NKINDS ((int)(sizeof(KINDS) / sizeof(KINDS[0])))

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Measure the CPU cost of one batch (about 10 ms of CPU, once, before any tile starts). */
NOINLINE static void calibrate(void) {
  uint64_t acc = 0, n = 0;
  double start = thread_cpu_s(), spent;
  do {
    for (int i = 0; i < 64; i++, n++) {
      acc += fd_stem_poll(acc);
      acc += verify_sigverify_batch(acc);
    }
  } while ((spent = thread_cpu_s() - start) < 0.01);
  g_sink = acc;
  g_batch_s = spent / (double)n;
}

static const char *DEFAULT_TILES =
    "net:1,quic:1,verify:3,dedup:1,pack:1,bank:2,poh:1,shred:1,store:1,sign:1,metric:1";

static tile_fn kind_fn(const char *kind) {
  for (int i = 0; i < NKINDS; i++)
    if (!strcmp(KINDS[i].kind, kind)) return KINDS[i].run;
  return NULL;
}

static void die(const char *msg) {
  fprintf(stderr, "standin: %s\n", msg);
  exit(2);
}

/* ---- tiles ---- */

NOINLINE static void tile_main(tile_t *t) {
  char name[32]; /* the kernel keeps 15 characters */
  snprintf(name, sizeof name, "%s:%d", t->kind, t->idx);
  prctl(PR_SET_NAME, name, 0, 0, 0);
  t->pid = getpid();
  t->tid = gettid();
  __atomic_store_n(&t->ready, 1, __ATOMIC_RELEASE);
  if (t->dead) return; /* advertised, then gone */
  t_extra_path = g_extra_kind[0] && !strcmp(t->kind, g_extra_kind);
  kind_fn(t->kind)(t);
}

static void *tile_thread(void *arg) {
  tile_main((tile_t *)arg);
  return NULL;
}

typedef struct { const char *name; tile_fn run; } extra_thread_t;

static void *extra_thread(void *arg) {
  extra_thread_t *e = arg;
  prctl(PR_SET_NAME, e->name, 0, 0, 0);
  e->run(NULL);
  return NULL;
}

static void start_thread(void *(*fn)(void *), void *arg) {
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&th, &attr, fn, arg)) die("pthread_create failed");
  pthread_attr_destroy(&attr);
}

/* In a forked child: die with the parent, default signal dispositions, no inherited fds. */
static void child_setup(pid_t parent, int listen_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != parent) _exit(0);
  sigset_t all;
  sigfillset(&all);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  pthread_sigmask(SIG_UNBLOCK, &all, NULL);
  if (listen_fd >= 0) close(listen_fd);
}

static void agave_main(void) {
  static extra_thread_t extras[] = {
    {"solRpcSvc", agave_rpc_service_run},
    {"solGossip", agave_gossip_service_run},
  };
  prctl(PR_SET_NAME, "agave", 0, 0, 0);
  for (int i = 0; i < g_ntiles; i++)
    if (g_tiles[i].in_agave) start_thread(tile_thread, &g_tiles[i]);
  for (int i = 0; i < 2; i++) start_thread(extra_thread, &extras[i]);
  for (;;) pause();
}

/* ---- metrics ---- */

static int render_metrics(char *buf, size_t cap) {
  size_t n = 0;
#define OUT(...) do { int w = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__); \
                      if (w > 0) n += (size_t)w; } while (0)
  OUT("# HELP fd_build_info Build information of the validator.\n"
      "# TYPE fd_build_info gauge\n"
      "fd_build_info{version=\"0.0.0-standin\",commit=\"fleetflame\"} 1\n");
  const char *names[2] = {"tile_pid", "tile_tid"};
  const char *help[2] = {"The process ID of the tile.", "The thread ID of the tile."};
  for (int m = 0; m < 2; m++) {
    OUT("# HELP %s %s\n# TYPE %s gauge\n", names[m], help[m], names[m]);
    for (int i = 0; i < g_ntiles; i++)
      OUT("%s{kind=\"%s\",kind_id=\"%d\"} %d\n", names[m], g_tiles[i].kind, g_tiles[i].idx,
          m == 0 ? g_tiles[i].pid : g_tiles[i].tid);
  }
  OUT("# HELP tile_context_switch_involuntary_count Involuntary context switches.\n"
      "# TYPE tile_context_switch_involuntary_count counter\n");
  for (int i = 0; i < g_ntiles; i++)
    OUT("tile_context_switch_involuntary_count{kind=\"%s\",kind_id=\"%d\"} %d\n",
        g_tiles[i].kind, g_tiles[i].idx, 17 * i + 3);
  OUT("# HELP tile_regime_duration_nanos Time spent in each regime.\n"
      "# TYPE tile_regime_duration_nanos counter\n");
  for (int i = 0; i < g_ntiles; i++)
    OUT("tile_regime_duration_nanos{kind=\"%s\",kind_id=\"%d\",tile_regime=\"processing\"} %d\n",
        g_tiles[i].kind, g_tiles[i].idx, 1000 * i + 7);
  OUT("# HELP link_consumed_count Fragments consumed.\n# TYPE link_consumed_count counter\n"
      "link_consumed_count{kind=\"verify\",kind_id=\"0\",link_kind=\"quic_verify\","
      "link_kind_id=\"0\"} 4242\n");
  OUT("# HELP verify_transaction_verify_duration_seconds Sigverify time.\n"
      "# TYPE verify_transaction_verify_duration_seconds histogram\n"
      "verify_transaction_verify_duration_seconds_bucket{kind=\"verify\",kind_id=\"0\",le=\"1e-06\"} 3\n"
      "verify_transaction_verify_duration_seconds_bucket{kind=\"verify\",kind_id=\"0\",le=\"+Inf\"} 9\n"
      "verify_transaction_verify_duration_seconds_sum{kind=\"verify\",kind_id=\"0\"} 2.5e-05\n"
      "verify_transaction_verify_duration_seconds_count{kind=\"verify\",kind_id=\"0\"} 9\n");
#undef OUT
  return (int)(n < cap ? n : cap);
}

static void send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

static void serve_client(int fd) {
  static char req[4096], body[1 << 18], head[256];
  size_t n = 0;
  req[0] = 0;
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (n < sizeof req - 1 && !strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) {
    ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
    if (r <= 0) break;
    n += (size_t)r;
    req[n] = 0;
  }
  req[n] = 0;
  char method[16] = "", path[1024] = "";
  sscanf(req, "%15s %1023s", method, path);
  char *q = strchr(path, '?');
  if (q) *q = 0;
  int status = 200, blen;
  const char *reason = "OK";
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    status = 405, reason = "Method Not Allowed";
    blen = snprintf(body, sizeof body, "method not allowed\n");
  } else if (strcmp(path, "/metrics")) {
    status = 404, reason = "Not Found";
    blen = snprintf(body, sizeof body, "not found\n");
  } else {
    blen = render_metrics(body, sizeof body);
  }
  int hlen = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n",
                      status, reason, blen);
  send_all(fd, head, (size_t)hlen);
  if (strcmp(method, "HEAD")) send_all(fd, body, (size_t)blen);
  shutdown(fd, SHUT_WR);
  close(fd);
}

static void *metrics_thread(void *arg) {
  int lfd = (int)(intptr_t)arg;
  prctl(PR_SET_NAME, "fdmetrics", 0, 0, 0);
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serve_client(fd);
  }
  return NULL;
}

static int metrics_listen(const char *spec) {
  char host[64];
  const char *colon = strrchr(spec, ':');
  if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof host) die("--metrics wants ADDR:PORT");
  memcpy(host, spec, (size_t)(colon - spec));
  host[colon - spec] = 0;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) die("--metrics: bad IPv4 address");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 64)) {
    fprintf(stderr, "standin: cannot listen on %s: %s\n", spec, strerror(errno));
    exit(1);
  }
  return fd;
}

/* ---- main process ---- */

static pid_t g_children[MAX_CHILDREN];
static int g_nchildren;

/* Children already reaped are forgotten, so a recycled pid is never signalled. */
static void forget_child(pid_t p) {
  for (int i = 0; i < g_nchildren; i++)
    if (g_children[i] == p) { g_children[i] = g_children[--g_nchildren]; return; }
}

static void kill_children(void) {
  for (int i = 0; i < g_nchildren; i++) kill(g_children[i], SIGKILL);
  for (int i = 0; i < g_nchildren; i++) waitpid(g_children[i], NULL, 0);
  g_nchildren = 0;
}

static pid_t spawn(pid_t self, int lfd) {
  pid_t p = fork();
  if (p < 0) die("fork failed");
  if (p == 0) child_setup(self, lfd);
  else g_children[g_nchildren++] = p;
  return p;
}

static void reap(void) {
  pid_t p;
  while ((p = waitpid(-1, NULL, WNOHANG)) > 0) forget_child(p);
}

static int task_exists(int pid, int tid) {
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/%d/task/%d", pid, tid);
  return stat(path, &st) == 0;
}

static void parse_tiles(const char *spec) {
  char *copy = strdup(spec), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char kind[16];
    int count;
    if (sscanf(tok, "%15[a-z]:%d", kind, &count) != 2 || count < 0) die("--tiles wants KIND:COUNT,...");
    if (!kind_fn(kind)) {
      fprintf(stderr, "standin: unknown tile kind '%s'\n", kind);
      exit(2);
    }
    for (int i = 0; i < count; i++) {
      if (g_ntiles >= MAX_TILES) die("too many tiles");
      tile_t *t = &g_tiles[g_ntiles++];
      snprintf(t->kind, sizeof t->kind, "%s", kind);
      t->idx = i;
      t->in_agave = !strcmp(kind, "bank");
    }
  }
  free(copy);
}

static void mark_dead(const char *spec) {
  for (int i = 0; i < g_ntiles; i++) {
    char name[32];
    snprintf(name, sizeof name, "%s:%d", g_tiles[i].kind, g_tiles[i].idx);
    if (!strcmp(name, spec)) { g_tiles[i].dead = 1; return; }
  }
  fprintf(stderr, "standin: --dead-tile %s: no such tile\n", spec);
  exit(2);
}

static void usage(void) {
  fprintf(stderr,
          "usage: standin [--layout threads|processes] [--tiles KIND:COUNT,...] [--load PCT]\n"
          "               [--period MS] [--metrics ADDR:PORT | --no-metrics]\n"
          "               [--dead-tile KIND:IDX]... [--pidfile PATH] [--duration SECONDS]\n"
          "               [--extra-path KIND]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *layout = "threads", *tiles = DEFAULT_TILES, *metrics = "127.0.0.1:7999";
  const char *pidfile = NULL, *dead[MAX_TILES];
  int ndead = 0, no_metrics = 0;
  double duration = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    if (!strcmp(a, "--no-metrics")) no_metrics = 1;
    else if (!has) usage();
    else if (!strcmp(a, "--layout")) layout = argv[++i];
    else if (!strcmp(a, "--tiles")) tiles = argv[++i];
    else if (!strcmp(a, "--load")) g_load = atof(argv[++i]);
    else if (!strcmp(a, "--period")) g_period_ms = atof(argv[++i]);
    else if (!strcmp(a, "--metrics")) metrics = argv[++i];
    else if (!strcmp(a, "--dead-tile") && ndead < MAX_TILES) dead[ndead++] = argv[++i];
    else if (!strcmp(a, "--pidfile")) pidfile = argv[++i];
    else if (!strcmp(a, "--duration")) duration = atof(argv[++i]);
    else if (!strcmp(a, "--extra-path")) {
      const char *kind = argv[++i];
      if (!kind_fn(kind) || strlen(kind) >= sizeof g_extra_kind) {
        fprintf(stderr, "standin: --extra-path %s: no such tile kind\n", kind);
        exit(2);
      }
      snprintf(g_extra_kind, sizeof g_extra_kind, "%s", kind);
    }
    else usage();
  }
  int processes = !strcmp(layout, "processes");
  if (!processes && strcmp(layout, "threads")) die("--layout is threads or processes");
  if (g_load < 0 || g_load > 100 || g_period_ms <= 0) die("--load is 0..100, --period > 0");

  g_tiles = mmap(NULL, sizeof(tile_t) * MAX_TILES, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_tiles == MAP_FAILED) die("mmap failed");
  parse_tiles(tiles);
  for (int i = 0; i < ndead; i++) mark_dead(dead[i]);

  prctl(PR_SET_NAME, "fdctl", 0, 0, 0);
  calibrate();
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* handled by sigtimedwait below; threads inherit */

  int lfd = no_metrics ? -1 : metrics_listen(metrics);
  pid_t self = getpid();

  if (spawn(self, lfd) == 0) agave_main();
  for (int i = 0; i < g_ntiles; i++) {
    if (g_tiles[i].in_agave) continue;
    if (!processes) start_thread(tile_thread, &g_tiles[i]);
    else if (spawn(self, lfd) == 0) {
      tile_main(&g_tiles[i]);
      _exit(0);
    }
  }

  /* Wait until every tile advertised itself and every dead tile is really gone. */
  double start = now_s();
  for (;;) {
    reap();
    int pending = 0;
    for (int i = 0; i < g_ntiles; i++) {
      tile_t *t = &g_tiles[i];
      if (!__atomic_load_n(&t->ready, __ATOMIC_ACQUIRE)) pending++;
      else if (t->dead && task_exists(t->pid, t->tid)) pending++;
    }
    if (!pending) break;
    if (now_s() - start > 10) { kill_children(); die("tiles did not start within 10 s"); }
    usleep(1000);
  }

  if (lfd >= 0) start_thread(metrics_thread, (void *)(intptr_t)lfd);
  if (pidfile) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", pidfile, (int)self);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", (int)self) < 0 || fclose(f) || rename(tmp, pidfile)) {
      kill_children();
      die("cannot write --pidfile");
    }
  }

  double end = duration > 0 ? now_s() + duration : 0;
  for (;;) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    int sig = sigtimedwait(&sigs, NULL, &ts);
    if (sig == SIGTERM || sig == SIGINT) break;
    reap();
    if (end > 0 && now_s() >= end) break;
  }
  kill_children();
  if (pidfile) unlink(pidfile);
  return 0;
}
