/* fleetflame stand-in validator: a small model of a Frankendancer host, after Firedancer's own
 * source (firedancer-io/firedancer; file names below are relative to its src/).
 *
 * Layouts
 *   processes (default; production): as app/shared/commands/run/run.c, the main process
 *     ("fdctl") starts every non-Agave tile as a process of its own (pid == tid), named KIND:IDX
 *     with PR_SET_NAME (disco/topo/fd_topo_run.c), and each tile enters a sandbox modelled on
 *     util/sandbox/fd_sandbox.c: user namespaces where the machine allows them, private mount,
 *     IPC, UTS and cgroup namespaces, pivot_root into an empty tmpfs with the old root
 *     unmounted, not dumpable, no capabilities, no_new_privs.  After that a tile can open no
 *     file; it only burns CPU.  --no-sandbox keeps the processes but skips the sandbox (fddev
 *     --no-sandbox).  Where the sandbox cannot be made (no CAP_SYS_ADMIN ...) the stand-in says
 *     so on stderr and runs the tiles unsandboxed.
 *   threads (development; fddev --no-clone): every non-Agave tile is a thread of the main
 *     process, unsandboxed.
 *   In both, the Agave-side tiles (resolh, bank, pohh, store; with --legacy-names resolv and
 *   poh) are threads of one "agave" process, which also runs threads of its own (solRpcSvc,
 *   solGossip, solRepairSvc, solReplayStg) and is never sandboxed (app/fdctl/topology.c marks
 *   those tiles is_agave; app/fdctl/commands/run_agave.c only switches uid/gid).
 *
 * Each tile burns --load percent of every --period ms (CPU time) in functions named after its
 * kind: verify_tile_run -> fd_stem_run -> verify_sigverify_batch -> verify_sha512_block; the
 * Agave threads in sol_rpc_service -> sol_thread_loop -> sol_rpc_handle_request -> ...
 * --extra-path KIND: that kind's tiles also spend about a third of their time in
 * fd_slow_path_retry (called from fd_stem_run), as a host whose tile took a slow path would.
 * --extra-path-window MOD:LO:HI (with --extra-path): only while the wall-clock second
 *   (CLOCK_REALTIME, the clock of perf record -k realtime) modulo MOD is in LO..HI, both
 *   included: 10:3:4 takes the slow path from second 3.000 to 4.999 of every ten, and never
 *   outside (checked before each batch, so the edges are sharp to a few microseconds).
 * --busy KIND:PCT: that kind's tiles burn PCT percent instead of --load (a validator's verify
 * tiles are its busiest).
 *
 * The main process answers GET /metrics (HTTP/1.1, Content-Length, Connection: close) with a
 * page in the format of disco/metrics/fd_prometheus.c: # HELP / # TYPE once per metric, a blank
 * line between metrics, the per-tile metrics of generated/fd_metrics_all.h (tile_pid, tile_tid,
 * tile_status "0=booting, 1=running, 2=shutdown", context switches, regimes ...) for every tile,
 * then link metrics, then per-kind metrics (counters with _total, enum labels, histograms).
 * With --legacy-names the page uses the names from before Firedancer's "metrics: normalize
 * naming scheme" (no _total suffix, tile_context_switch_involuntary_count ...), as older hosts.
 *
 * Failure modelling: --dead-tile KIND:IDX is advertised (pid, tid, status 1) and then gone;
 * --exit-tile KIND:IDX runs about a second, then shuts down (status 2, stale pid/tid kept), as a
 * snapshot tile does; --booting-tile KIND:IDX is advertised with status 0, pid 0, tid 0 and never
 * starts.  Tile processes die with the main process (PR_SET_PDEATHSIG); SIGTERM / SIGINT to the
 * main process kills them all and exits 0.
 *
 * Build: gcc -std=c11 -O1 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer
 *            -fno-optimize-sibling-calls -fno-ipa-icf -pthread -o standin standin.c -lm
 * Usage: standin [--layout processes|threads] [--no-sandbox] [--tiles KIND:COUNT,...]
 *                [--legacy-names] [--load PCT] [--period MS] [--metrics ADDR:PORT | --no-metrics]
 *                [--dead-tile KIND:IDX]... [--exit-tile KIND:IDX]... [--booting-tile KIND:IDX]...
 *                [--pidfile PATH] [--duration SECONDS] [--extra-path KIND]
 *                [--extra-path-window MOD:LO:HI] [--busy KIND:PCT]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define INLINE static inline __attribute__((always_inline))
/* GCC 12 ignores -mno-omit-leaf-frame-pointer; asking for the frame address forces the
 * frame pointer in leaf functions, so their callers show up in fp call graphs. */
#define KEEP_FRAME() __asm__ volatile("" ::"r"(__builtin_frame_address(0)))
#define MAX_TILES 256
#define MAX_CHILDREN (MAX_TILES + 2)
#define HIST_BUCKETS 16      /* FD_HISTF_BUCKET_CNT (util/hist/fd_histf.h) */
#define EXIT_AFTER_S 1.0     /* --exit-tile: how long the tile runs before it shuts down */

/* tile_status values (disco/metrics/generated/fd_metrics_all.h) */
enum { STATUS_BOOTING = 0, STATUS_RUNNING = 1, STATUS_SHUTDOWN = 2 };

typedef struct {
  char kind[16];
  int idx;
  int dead;             /* --dead-tile: advertised, then exits */
  int exits;            /* --exit-tile: runs EXIT_AFTER_S, then shuts down */
  int booting;          /* --booting-tile: never starts */
  int in_agave;         /* a thread of the agave process */
  /* The tile's metrics, in memory shared by every process (disco/metrics/fd_metrics.h: each
   * tile writes its own, the metric tile reads them all).  pid and tid are written before the
   * status, which is stored with release semantics. */
  volatile int pid, tid, status;
  volatile uint64_t batches, busy_ns, idle_ns, heartbeat_ns, last_cpu;
  volatile uint64_t nvcsw, nivcsw, minflt, majflt, utime_ns, stime_ns;
  volatile uint64_t hist[HIST_BUCKETS], hist_sum_ns;
} tile_t;

typedef struct {
  tile_t tiles[MAX_TILES];
  char probe_error[256];  /* why the sandbox probe failed, from the probe process */
  int probe_userns;       /* the probe got a user namespace */
} shared_t;

typedef void (*tile_fn)(tile_t *);

/* ---- configuration (set in main before any fork / thread) ---- */
static double g_load = 10.0;     /* percent of each period spent burning */
static double g_period_ms = 20.0;
static shared_t *g_shared;       /* shared mapping, visible to every process */
static tile_t *g_tiles;
static int g_ntiles;
static int g_sandbox = 1;          /* processes layout: sandbox the tile processes */
static int g_legacy;               /* --legacy-names: older tile and metric names */
static volatile uint64_t g_sink;   /* keeps the work observable */
static volatile int g_running = 1; /* never cleared: keeps fd_stem_run from being noreturn */
static char g_extra_kind[16];      /* --extra-path KIND, "" for none */
static char g_busy_kind[16];       /* --busy KIND:PCT: that kind's tiles burn PCT, not --load */
static double g_busy_load;
static uint64_t g_boot_ns;         /* wallclock at start, metric_boot_timestamp_nanos */
static double g_edge_ns[HIST_BUCKETS + 1]; /* histogram left edges, as fd_histf_new */
static long g_window_mod;          /* --extra-path-window MOD:LO:HI, 0 for always */
static long g_window_lo, g_window_hi;
static __thread int t_extra_path;  /* this thread is a tile of that kind */
static __thread tile_t *t_tile;    /* this thread's tile (NULL for agave's own threads) */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t wallclock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_until(double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

/* --extra-path-window: the wall-clock second modulo MOD is in LO..HI (always without it). */
INLINE int extra_path_now(void) {
  if (!g_window_mod) return 1;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long second = (long)(ts.tv_sec % g_window_mod);
  return second >= g_window_lo && second <= g_window_hi;
}

/* ---- work ---- */

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

/* A tile's metrics, once per period: what disco/stem/fd_stem.c does in housekeeping
 * (getrusage for context switches and faults, the heartbeat, the regimes). */
INLINE void stem_metrics_write(tile_t *t, uint64_t n, double burst_s, double period_s) {
  struct rusage ru;
  t->batches += n;
  t->busy_ns += (uint64_t)(burst_s * 1e9);
  t->idle_ns += burst_s < period_s ? (uint64_t)((period_s - burst_s) * 1e9) : 0;
  if (n) {
    double mean_ns = burst_s * 1e9 / (double)n;
    int k = HIST_BUCKETS - 1;
    while (k > 0 && mean_ns < g_edge_ns[k]) k--;
    t->hist[k] += 1;
    t->hist_sum_ns += (uint64_t)mean_ns;
  }
  t->heartbeat_ns = wallclock_ns();
  int cpu = sched_getcpu();
  t->last_cpu = cpu < 0 ? 0 : (uint64_t)cpu;
  if (!getrusage(RUSAGE_THREAD, &ru)) {
    t->nvcsw = (uint64_t)ru.ru_nvcsw;
    t->nivcsw = (uint64_t)ru.ru_nivcsw;
    t->minflt = (uint64_t)ru.ru_minflt;
    t->majflt = (uint64_t)ru.ru_majflt;
    t->utime_ns = (uint64_t)ru.ru_utime.tv_sec * 1000000000ULL + (uint64_t)ru.ru_utime.tv_usec * 1000ULL;
    t->stime_ns = (uint64_t)ru.ru_stime.tv_sec * 1000000000ULL + (uint64_t)ru.ru_stime.tv_usec * 1000ULL;
  }
}

/* Duty-cycle loop: every period, run as many batches of `work` as load% of the period takes
 * in CPU time (counted, not timed: a busy machine stretches the burst instead of shrinking
 * it), then sleep.  Each thread starts at its own phase so tiles do not all wake at once.
 * Inlined into fd_stem_run (tiles) and sol_thread_loop (Agave's threads). */
INLINE void duty_cycle(uint64_t (*work)(uint64_t), tile_t *t, double stop_at) {
  double period = g_period_ms / 1000.0;
  double load = t && g_busy_kind[0] && !strcmp(t->kind, g_busy_kind) ? g_busy_load : g_load;
  double per_period = period * load / 100.0 / g_batch_s, credit = 0;
  double phase = (double)((uint64_t)gettid() * 2654435761ULL % 1000) / 1000.0;
  double next = now_s() + phase * period;
  uint64_t acc = 0;
  sleep_until(next);
  while (g_running) {
    double burst = now_s();
    uint64_t n = 0;
    credit += per_period;
    for (; credit >= 1; credit -= 1, n++) {
      acc += fd_stem_poll(acc);
      acc += work(acc);
      if (t_extra_path && extra_path_now()) acc += fd_slow_path_retry(acc);
    }
    g_sink = acc;
    double now = now_s();
    if (t) stem_metrics_write(t, n, now - burst, period);
    if (stop_at > 0 && now >= stop_at) return;
    next += period;
    if (next < now) next = now; /* fell behind: do not catch up */
    else sleep_until(next);
  }
}

/* disco/stem/fd_stem.c: the run loop of every tile; it marks the tile running. */
NOINLINE void fd_stem_run(uint64_t (*work)(uint64_t)) {
  tile_t *t = t_tile;
  double stop_at = 0;
  if (t) {
    if (t->exits) stop_at = now_s() + EXIT_AFTER_S;
    __atomic_store_n(&t->status, STATUS_RUNNING, __ATOMIC_RELEASE); /* FD_MGAUGE_SET( TILE, STATUS, 1UL ) */
  }
  duty_cycle(work, t, stop_at);
  __asm__ volatile("" ::: "memory");
}

/* An Agave thread's loop (a Rust service thread: no stem). */
NOINLINE void sol_thread_loop(uint64_t (*work)(uint64_t)) {
  duty_cycle(work, NULL, 0);
  __asm__ volatile("" ::: "memory");
}

/* Per-kind functions: KIND_tile_run -> LOOP -> KIND_MID -> KIND_LEAF. */
#define DEFINE_WORK(k, mid, leaf, salt, run, loop)                                       \
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
    loop(k##_##mid);                                                                     \
    __asm__ volatile("" ::: "memory");                                                   \
  }
#define DEFINE_KIND(k, mid, leaf, salt) DEFINE_WORK(k, mid, leaf, salt, tile_run, fd_stem_run)

DEFINE_KIND(net, xdp_rx_burst, xsk_ring_poll, 0x9E3779B97F4A7C15ULL)
DEFINE_KIND(quic, handle_packets, aes_gcm_decrypt, 0xBF58476D1CE4E5B9ULL)
DEFINE_KIND(verify, sigverify_batch, sha512_block, 0x94D049BB133111EBULL)
DEFINE_KIND(dedup, check_tcache, hash_signature, 0xD6E8FEB86659FD93ULL)
DEFINE_KIND(pack, schedule_microblock, insert_txn, 0xA0761D6478BD642FULL)
DEFINE_KIND(bank, execute_txns, load_accounts, 0xE7037ED1A0B428DBULL)
DEFINE_KIND(pohh, mixin_hashes, sha256_append, 0x8EBC6AF09C88C6E3ULL)
DEFINE_KIND(poh, mixin_hashes, sha256_append, 0x3C6EF372FE94F82BULL)
DEFINE_KIND(shred, fec_encode, reedsol_encode, 0x589965CC75374CC3ULL)
DEFINE_KIND(store, insert_shreds, blockstore_write, 0x1D8E4E27C47D124FULL)
DEFINE_KIND(sign, sign_request, ed25519_sign, 0x2545F4914F6CDD1DULL)
DEFINE_KIND(metric, scrape_links, prometheus_render, 0x5851F42D4C957F2DULL)
DEFINE_KIND(netlnk, route_update, neigh_probe, 0x14057B7EF767814FULL)
DEFINE_KIND(sock, recvmmsg_batch, udp_rx_copy, 0x9FB21C651E98DF25ULL)
DEFINE_KIND(resolh, resolve_lut, lookup_table_scan, 0xC2B2AE3D27D4EB4FULL)
DEFINE_KIND(resolv, resolve_lut, lookup_table_scan, 0xA54FF53A5F1D36F1ULL)
DEFINE_KIND(guih, render_state, json_serialize, 0x165667B19E3779F9ULL)
DEFINE_KIND(gui, render_state, json_serialize, 0x510E527FADE682D1ULL)
DEFINE_KIND(plugin, publish_event, encode_message, 0x27D4EB2F165667C5ULL)
DEFINE_KIND(bundle, grpc_poll, decode_bundle, 0xFF51AFD7ED558CCDULL)
DEFINE_KIND(diag, sample_switches, read_proc_stat, 0x9B05688C2B3E6C1FULL)
DEFINE_KIND(cswtch, sample_switches, read_proc_stat, 0xC4CEB9FE1A85EC53ULL)
/* Full Firedancer's snapshot loaders (app/firedancer/topology.c: allow_shutdown = 1): they
 * may exit once the snapshot is in, as --exit-tile models. */
DEFINE_KIND(snapld, read_chunk, zstd_decompress_block, 0x6A09E667F3BCC908ULL)
DEFINE_KIND(snapct, select_peer, http_fetch, 0xBB67AE8584CAA73BULL)
DEFINE_KIND(snapin, insert_accounts, hash_account, 0x3C6EF372FE94F82AULL)
/* Agave's own (non-tile) threads. */
DEFINE_WORK(sol_rpc, handle_request, serialize_account, 0x62A9D9ED799705F5ULL, service, sol_thread_loop)
DEFINE_WORK(sol_gossip, push_messages, crds_filter, 0xCB24D0A5C88C35B3ULL, service, sol_thread_loop)
DEFINE_WORK(sol_repair, request_shreds, serve_orphan, 0x1F83D9ABFB41BD6BULL, service, sol_thread_loop)
DEFINE_WORK(sol_replay, replay_slot, execute_batch, 0x5BE0CD19137E2179ULL, stage, sol_thread_loop)

/* Tile kinds; agave: a thread of the Agave process (is_agave in app/fdctl/topology.c). */
static const struct { const char *kind; tile_fn run; int agave; } KINDS[] = {
  {"netlnk", netlnk_tile_run, 0}, {"net", net_tile_run, 0},       {"sock", sock_tile_run, 0},
  {"quic", quic_tile_run, 0},     {"bundle", bundle_tile_run, 0}, {"verify", verify_tile_run, 0},
  {"dedup", dedup_tile_run, 0},   {"resolh", resolh_tile_run, 1}, {"resolv", resolv_tile_run, 1},
  {"pack", pack_tile_run, 0},     {"bank", bank_tile_run, 1},     {"pohh", pohh_tile_run, 1},
  {"poh", poh_tile_run, 1},       {"shred", shred_tile_run, 0},   {"store", store_tile_run, 1},
  {"sign", sign_tile_run, 0},     {"metric", metric_tile_run, 0}, {"diag", diag_tile_run, 0},
  {"cswtch", cswtch_tile_run, 0}, {"plugin", plugin_tile_run, 0}, {"guih", guih_tile_run, 0},
  {"gui", gui_tile_run, 0},       {"snapld", snapld_tile_run, 0}, {"snapct", snapct_tile_run, 0},
  {"snapin", snapin_tile_run, 0},
};
#define NKINDS ((int)(sizeof(KINDS) / sizeof(KINDS[0])))

/* --legacy-names: the names before Firedancer's 2026-01 renames (resolv -> resolh, poh -> pohh,
 * gui -> guih); the old resolv and poh were Agave-side too. */
static const char *const RENAMES[][2] = {{"resolh", "resolv"}, {"pohh", "poh"}, {"guih", "gui"}};

/* Today's Frankendancer topology (app/fdctl/topology.c), in its order; verify:3 and bank:2
 * are a choice (the counts come from the config). */
static const char *DEFAULT_TILES =
    "netlnk:1,net:1,quic:1,verify:3,dedup:1,resolh:1,pack:1,bank:2,pohh:1,shred:1,store:1,"
    "sign:1,metric:1,diag:1,plugin:1,guih:1";

static int kind_index(const char *kind) {
  for (int i = 0; i < NKINDS; i++)
    if (!strcmp(KINDS[i].kind, kind)) return i;
  return -1;
}

static const char *legacy_kind(const char *kind) {
  for (size_t i = 0; i < sizeof RENAMES / sizeof RENAMES[0]; i++)
    if (!strcmp(kind, RENAMES[i][0])) return RENAMES[i][1];
  return kind;
}

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

/* Bucket edges as fd_histf_new (util/hist/fd_histf.h) makes them for a seconds histogram with
 * min 1e-8 s and max 0.1 s (the range of e.g. pack_schedule_microblock_duration_seconds), in
 * nanoseconds rather than ticks: [0, min), then exponentially up to max, then [max, inf). */
static void histogram_edges(void) {
  double min = 10.0, max = 1e8;
  g_edge_ns[0] = 0;
  g_edge_ns[1] = min;
  for (int i = 2; i < HIST_BUCKETS - 1; i++) {
    double le = floor(0.5 + g_edge_ns[i - 1] * pow(max / g_edge_ns[i - 1], 1.0 / (double)(HIST_BUCKETS - i)));
    g_edge_ns[i] = le > g_edge_ns[i - 1] + 1 ? le : g_edge_ns[i - 1] + 1;
  }
  g_edge_ns[HIST_BUCKETS - 1] = max;
  g_edge_ns[HIST_BUCKETS] = INFINITY;
}

static void die(const char *msg) {
  fprintf(stderr, "standin: %s\n", msg);
  exit(2);
}

/* ---- the sandbox (util/sandbox/fd_sandbox.c) ---- */

static int write_proc(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* fd_sandbox_private_write_userns_uid_gid_maps: inside id `inside` is `outside` of the parent
 * namespace.  A failure is not fatal here: the creator of a user namespace has every
 * capability in it whether or not its ids are mapped, which is all the rest needs. */
static void write_id_maps(unsigned inside, unsigned uid, unsigned gid) {
  char line[64];
  write_proc("/proc/self/setgroups", "deny");
  snprintf(line, sizeof line, "%u %u 1\n", inside, uid);
  write_proc("/proc/self/uid_map", line);
  snprintf(line, sizeof line, "%u %u 1\n", inside, gid);
  write_proc("/proc/self/gid_map", line);
}

/* fd_sandbox_private_deny_namespaces: limits of the user namespace just made (per namespace
 * sysctls), so that the tile cannot make more namespaces than the sandbox itself will.  Best
 * effort: /proc/sys may be read-only in a container. */
static void deny_namespaces(void) {
  static const char *const SYSCTLS[][2] = {
    {"/proc/sys/user/max_user_namespaces", "1"}, {"/proc/sys/user/max_mnt_namespaces", "2"},
    {"/proc/sys/user/max_cgroup_namespaces", "0"}, {"/proc/sys/user/max_ipc_namespaces", "0"},
    {"/proc/sys/user/max_net_namespaces", "0"}, {"/proc/sys/user/max_pid_namespaces", "0"},
    {"/proc/sys/user/max_uts_namespaces", "0"},
  };
  for (size_t i = 0; i < sizeof SYSCTLS / sizeof SYSCTLS[0]; i++) write_proc(SYSCTLS[i][0], SYSCTLS[i][1]);
}

static unsigned long read_cap_last_cap(void) {
  char buf[16] = {0};
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CAP_LAST_CAP;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  unsigned long last = n > 0 ? strtoul(buf, NULL, 10) : 0;
  return last && last < 64 ? last : CAP_LAST_CAP;
}

#define SANDBOX_FAIL(what) do { snprintf(err, errsz, "%s: %s", what, strerror(errno)); return -1; } while (0)

/* fd_sandbox_private_pivot_root, except that the new root is a fresh tmpfs mounted over /tmp
 * (in this mount namespace only) rather than a /tmp/fd_sandbox_RANDOM folder that Firedancer
 * leaves in the host's /tmp; and mounts are made private (Firedancer: MS_SLAVE), which also
 * keeps the host's later mounts out. */
static int sandbox_pivot_root(char *err, size_t errsz) {
  static const char *const MOUNT_POINTS[] = {"/tmp", "/mnt", "/run", "/var/tmp", "/dev"};
  if (unshare(CLONE_NEWNS)) SANDBOX_FAIL("unshare(CLONE_NEWNS)");
  if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL)) SANDBOX_FAIL("mount(/, MS_PRIVATE|MS_REC)");
  const char *dir = NULL;
  for (size_t i = 0; i < sizeof MOUNT_POINTS / sizeof MOUNT_POINTS[0] && !dir; i++) {
    struct stat st;
    if (!stat(MOUNT_POINTS[i], &st) && S_ISDIR(st.st_mode) &&
        !mount("fd_sandbox", MOUNT_POINTS[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
               "size=4k,nr_inodes=1,mode=0700"))
      dir = MOUNT_POINTS[i];
  }
  if (!dir) SANDBOX_FAIL("mount(tmpfs) for the new root");
  if (chdir(dir)) SANDBOX_FAIL("chdir(new root)");
  if (syscall(SYS_pivot_root, ".", ".")) SANDBOX_FAIL("pivot_root(., .)");
  if (umount2(".", MNT_DETACH)) SANDBOX_FAIL("umount2(., MNT_DETACH)");
  if (chdir("/")) SANDBOX_FAIL("chdir(/)");
  return 0;
}

/* fd_sandbox_private_drop_caps: lock the securebits, empty the bounding, ambient, permitted,
 * effective and inheritable sets. */
static int sandbox_drop_caps(unsigned long cap_last_cap, char *err, size_t errsz) {
  if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_SETUID_FIXUP |
                               SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
                               SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED))
    SANDBOX_FAIL("prctl(PR_SET_SECUREBITS)");
  for (unsigned long cap = 0; cap <= cap_last_cap; cap++)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) SANDBOX_FAIL("prctl(PR_CAPBSET_DROP)");
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capset, &hdr, data)) SANDBOX_FAIL("capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) SANDBOX_FAIL("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  return 0;
}

/* fd_sandbox_private_enter_no_seccomp, in its order: a user namespace first (its creator has
 * CAP_SYS_ADMIN over the mount namespace made next; a mount namespace made before it would
 * belong to the parent user namespace, where a root process that moved to a child namespace
 * no longer has the privilege pivot_root needs), then the other namespaces, a nested user
 * namespace so that the sandbox cannot undo the limits, not dumpable, pivot_root, no
 * capabilities, no_new_privs.  Where user namespaces are not allowed (EPERM, EINVAL, ENOSPC,
 * EACCES: sysctl, chroot, container policy) the rest runs without them, on the caller's own
 * CAP_SYS_ADMIN.  Left out: clearing the environment, the file descriptor check, the session
 * keyring, setsid (tiles stay in the main's process group), landlock, rlimits and the seccomp
 * filter: none changes what a profiler sees of a tile.  The tile keeps the host's network
 * namespace (keep_host_networking).  Returns 0, or -1 with `err` set. */
static int sandbox_enter(int *userns, char *err, size_t errsz) {
  unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();
  unsigned long cap_last_cap = read_cap_last_cap(); /* before pivot_root hides /proc */
  *userns = 0;
  if (!unshare(CLONE_NEWUSER)) {
    *userns = 1;
    write_id_maps(1, uid, gid);
  } else if (errno != EPERM && errno != EINVAL && errno != ENOSPC && errno != EACCES && errno != ENOSYS) {
    SANDBOX_FAIL("unshare(CLONE_NEWUSER)");
  }
  if (unshare(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWUTS))
    SANDBOX_FAIL("unshare(CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWIPC|CLONE_NEWUTS)");
  if (*userns) {
    deny_namespaces();
    if (unshare(CLONE_NEWUSER)) SANDBOX_FAIL("unshare(CLONE_NEWUSER), nested");
    write_id_maps(1, 1, 1);
  }
  if (prctl(PR_SET_KEEPCAPS, 0)) SANDBOX_FAIL("prctl(PR_SET_KEEPCAPS, 0)");
  if (prctl(PR_SET_DUMPABLE, 0)) SANDBOX_FAIL("prctl(PR_SET_DUMPABLE, 0)");
  if (sandbox_pivot_root(err, errsz)) return -1;
  if (sandbox_drop_caps(cap_last_cap, err, errsz)) return -1;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) SANDBOX_FAIL("prctl(PR_SET_NO_NEW_PRIVS, 1)");
  return 0;
}

/* ---- tiles ---- */

/* disco/topo/fd_topo_run.c, fd_topo_run_tile: name the thread, sandbox, publish pid and tid,
 * run; a run loop that returns (allow_shutdown) leaves status 2. */
NOINLINE static void tile_main(tile_t *t, int sandbox) {
  char name[32]; /* the kernel keeps 15 characters */
  snprintf(name, sizeof name, "%s:%d", t->kind, t->idx);
  prctl(PR_SET_NAME, name, 0, 0, 0);
  if (sandbox) {
    char err[256];
    int userns;
    pid_t parent = getppid();
    if (sandbox_enter(&userns, err, sizeof err)) {
      fprintf(stderr, "standin: tile %s: sandbox: %s\n", name, err);
      _exit(1);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent) _exit(0);
  }
  /* Firedancer reads /proc/self (fd_sandbox_getpid): its tiles are in a PID namespace of their
   * own; these are not, so getpid() and gettid() are the ids /proc shows. */
  t->pid = getpid();
  t->tid = gettid();
  if (t->dead) { /* advertised as running, then gone */
    __atomic_store_n(&t->status, STATUS_RUNNING, __ATOMIC_RELEASE);
    return;
  }
  t_tile = t;
  t_extra_path = g_extra_kind[0] && !strcmp(t->kind, g_extra_kind);
  KINDS[kind_index(t->kind)].run(t);
  __atomic_store_n(&t->status, STATUS_SHUTDOWN, __ATOMIC_RELEASE); /* FD_MGAUGE_SET( TILE, STATUS, 2UL ) */
}

static void *tile_thread(void *arg) {
  tile_main((tile_t *)arg, 0);
  return NULL;
}

typedef struct { const char *name; tile_fn run; } agave_thread_t;

static void *agave_thread(void *arg) {
  agave_thread_t *a = arg;
  prctl(PR_SET_NAME, a->name, 0, 0, 0);
  a->run(NULL);
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

/* app/fdctl/commands/run_agave.c: the Agave process, not sandboxed; its tiles are threads
 * (fd_topo_run_single_process with agave=1) beside Agave's own service threads. */
static void agave_main(void) {
  static agave_thread_t threads[] = {
    {"solRpcSvc", sol_rpc_service},
    {"solGossip", sol_gossip_service},
    {"solRepairSvc", sol_repair_service},
    {"solReplayStg", sol_replay_stage},
  };
  prctl(PR_SET_NAME, "agave", 0, 0, 0);
  for (int i = 0; i < g_ntiles; i++)
    if (g_tiles[i].in_agave && !g_tiles[i].booting) start_thread(tile_thread, &g_tiles[i]);
  for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) start_thread(agave_thread, &threads[i]);
  for (;;) pause();
}

/* ---- metrics (disco/metrics/fd_prometheus.c) ---- */

typedef enum { GAUGE, COUNTER, HISTOGRAM } mtype_t;

typedef struct {
  int id;
  const char *name;      /* generated/fd_metrics_*.h at the time of writing */
  const char *legacy;    /* before "metrics: normalize naming scheme": NULL same name, "" none */
  mtype_t type;
  const char *desc;
  const char *enum_name; /* an enum metric: its label, and its variants, comma-separated */
  const char *variants;
  const char *kind;      /* a per-kind metric: the tile kind; NULL: every tile */
} metric_t;

enum {
  M_PID, M_TID, M_LAST_CPU, M_CS_INVOL, M_CS_VOL, M_PF_MAJ, M_PF_MIN, M_STATUS, M_HEARTBEAT,
  M_IN_BP, M_BP, M_REGIME, M_CPU, M_IRQ, M_TLB, M_TICK,
  L_CONSUMED, L_CONSUMED_BYTES, L_FILTERED, L_FILTERED_BYTES, L_ZERO,
  K_PKT, K_BYTES, K_RESULT, K_ONE_IN, K_HIST, K_BOOT, K_CONN, K_WRITTEN, K_READ, K_ZERO,
};

/* FD_METRICS_ALL (generated/fd_metrics_all.c), in its order. */
static const metric_t TILE_METRICS[] = {
  {M_PID, "tile_pid", NULL, GAUGE, "Process ID of the tile", NULL, NULL, NULL},
  {M_TID, "tile_tid", NULL, GAUGE, "Thread ID of the tile. Same as Pid in production, but might differ in development", NULL, NULL, NULL},
  {M_LAST_CPU, "tile_last_cpu", NULL, GAUGE, "Index of the CPU last executed on", NULL, NULL, NULL},
  {M_CS_INVOL, "tile_context_switch_involuntary", "tile_context_switch_involuntary_count", COUNTER, "Involuntary context switches", NULL, NULL, NULL},
  {M_CS_VOL, "tile_context_switch_voluntary", "tile_context_switch_voluntary_count", COUNTER, "Voluntary context switches", NULL, NULL, NULL},
  {M_PF_MAJ, "tile_page_fault_major", "tile_page_fault_major_count", COUNTER, "Major page faults", NULL, NULL, NULL},
  {M_PF_MIN, "tile_page_fault_minor", "tile_page_fault_minor_count", COUNTER, "Minor page faults", NULL, NULL, NULL},
  {M_STATUS, "tile_status", NULL, GAUGE, "0=booting, 1=running, 2=shutdown", NULL, NULL, NULL},
  {M_HEARTBEAT, "tile_heartbeat_timestamp_nanos", "tile_heartbeat", GAUGE, "Last UNIX timestamp the tile heartbeated, in nanoseconds", NULL, NULL, NULL},
  {M_IN_BP, "tile_in_backpressure", NULL, GAUGE, "Whether the tile is currently backpressured, 1 or 0", NULL, NULL, NULL},
  {M_BP, "tile_backpressure", "tile_backpressure_count", COUNTER, "Times the tile waited for one or more consumers to catch up to resume publishing", NULL, NULL, NULL},
  {M_REGIME, "tile_regime_duration_nanos", NULL, COUNTER, "Mutually exclusive and exhaustive duration the tile spent in each regime, in nanoseconds", "tile_regime",
   "caught_up_housekeeping,processing_housekeeping,backpressure_housekeeping,caught_up_prefrag,processing_prefrag,backpressure_prefrag,caught_up_postfrag,processing_postfrag", NULL},
  {M_CPU, "tile_cpu_duration_nanos", NULL, COUNTER, "CPU time spent in each CPU regime, in nanoseconds", "cpu_regime", "wait,idle,user,system,interrupt", NULL},
  {M_IRQ, "tile_irq_preempted", "tile_irq_count", COUNTER, "Times the tile was interrupted by an IRQ (fixed tiles only)", NULL, NULL, NULL},
  {M_TLB, "tile_tlb_shootdown", "", COUNTER, "TLB shootdowns observed on the tile CPU (fixed tiles only)", NULL, NULL, NULL},
  {M_TICK, "tile_timer_tick", "", COUNTER, "Local timer interrupts (LOC) observed on the tile CPU (fixed tiles only)", NULL, NULL, NULL},
};

/* FD_METRICS_ALL_LINK_IN, rendered for every polled in-link of every tile (render_links_in). */
static const metric_t LINK_METRICS[] = {
  {L_CONSUMED, "link_frag_consumed", "link_consumed_count", COUNTER, "Fragments consumed by the link reader", NULL, NULL, NULL},
  {L_CONSUMED_BYTES, "link_frag_consumed_bytes", "link_consumed_size_bytes", COUNTER, "Bytes read by the link consumer", NULL, NULL, NULL},
  {L_FILTERED, "link_frag_filtered", "link_filtered_count", COUNTER, "Fragments filtered and not consumed", NULL, NULL, NULL},
  {L_FILTERED_BYTES, "link_frag_filtered_bytes", "link_filtered_size_bytes", COUNTER, "Bytes read by the link consumer that were filtered", NULL, NULL, NULL},
  {L_ZERO, "link_link_polling_overrun", "link_overrun_polling_count", COUNTER, "Times the link was overrun while polling", NULL, NULL, NULL},
  {L_ZERO, "link_frag_polling_overrun", "link_overrun_polling_frag_count", COUNTER, "Fragments not processed because the link was overrun while polling", NULL, NULL, NULL},
  {L_ZERO, "link_link_reading_overrun", "link_overrun_reading_count", COUNTER, "Times the link was overrun while reading metadata", NULL, NULL, NULL},
  {L_ZERO, "link_frag_reading_overrun", "link_overrun_reading_frag_count", COUNTER, "Fragments not processed because the link was overrun while reading", NULL, NULL, NULL},
  {L_ZERO, "link_slow", "link_slow_count", COUNTER, "Times the consumer was detected as slow, rate limiting the producer", NULL, NULL, NULL},
};

/* The polled in-links of each kind (app/fdctl/topology.c), with today's names. */
static const struct { const char *kind; const char *links; } IN_LINKS[] = {
  {"net", "quic_net,shred_net"}, {"quic", "net_quic"}, {"verify", "quic_verify"},
  {"dedup", "gossip_dedup,verify_dedup,executed_txn"}, {"resolh", "dedup_resolh,replay_resol"},
  {"pack", "resolh_pack,pohh_pack,executed_txn"}, {"bank", "pack_bank"},
  {"pohh", "bank_pohh,stake_out,pack_pohh"}, {"shred", "net_shred,pohh_shred,stake_out,crds_shred"},
  {"store", "shred_store"}, {"sign", "shred_sign"}, {"plugin", "replay_plugi,gossip_plugi,stake_out"},
  {"guih", "plugin_out,pohh_pack,pack_bank"},
};

/* Per-kind metrics (FD_METRICS_TILE_KIND_METRICS), in the order of FD_METRICS_TILE_KIND_NAMES;
 * a few of each kind, not all. */
static const metric_t KIND_METRICS[] = {
  {K_ONE_IN, "netlnk_link_full_sync", "netlnk_link_full_syncs", COUNTER, "Full link table syncs done", NULL, NULL, "netlnk"},
  {K_ONE_IN, "netlnk_route_full_sync", "netlnk_route_full_syncs", COUNTER, "Full route table syncs done", NULL, NULL, "netlnk"},
  {K_PKT, "net_pkt_rx", "net_rx_pkt_cnt", COUNTER, "Packets received", NULL, NULL, "net"},
  {K_BYTES, "net_pkt_rx_bytes", "net_rx_bytes_total", COUNTER, "Bytes received (including Ethernet header)", NULL, NULL, "net"},
  {K_ZERO, "quic_txn_reassembly_active", "quic_txn_reasms_active", GAUGE, "Fragmented txn receive ops currently active", NULL, NULL, "quic"},
  {K_HIST, "quic_service_duration_seconds", NULL, HISTOGRAM, "Duration spent in service", NULL, NULL, "quic"},
  {K_RESULT, "verify_txn_result", "verify_transaction_result", COUNTER, "Transaction results through verify tile", "verify_tile_result",
   "success,bundle_peer_failure,parse_failure,dedup_failure,verify_failure", "verify"},
  {K_ONE_IN, "verify_vote_gossip_rx", "verify_gossiped_votes_received", COUNTER, "Simple vote transactions received over gossip instead of via the normal TPU path", NULL, NULL, "verify"},
  {K_PKT, "dedup_vote_gossip_rx", "dedup_gossiped_votes_received", COUNTER, "Simple vote transactions received over gossip instead of via the normal TPU path", NULL, NULL, "dedup"},
  {K_ONE_IN, "resolv_lut_resolved", NULL, COUNTER, "Address lookup tables resolved", NULL, NULL, "resolv"},
  {K_HIST, "pack_schedule_microblock_duration_seconds", NULL, HISTOGRAM, "Duration of scheduling one microblock", NULL, NULL, "pack"},
  {K_ONE_IN, "pack_microblock_per_block_limit_reached", "pack_microblock_per_block_limit", COUNTER, "Times pack did not pack a microblock because the microblocks-per-block limit had been reached", NULL, NULL, "pack"},
  {K_HIST, "poh_begin_leader_delay_seconds", NULL, HISTOGRAM, "Delay between when we become leader in a slot and when we receive the bank.", NULL, NULL, "poh"},
  {K_HIST, "sign_sign_duration_seconds", NULL, HISTOGRAM, "Duration of signing a message", NULL, NULL, "sign"},
  {K_ZERO, "shred_microblock_abandoned", "shred_microblocks_abandoned", COUNTER, "Microblocks abandoned because we switched slots without finishing the current slot", NULL, NULL, "shred"},
  {K_ZERO, "diag_vote_status", "", GAUGE, "Precise status of the vote subsystem: 0=disabled (non-voting or no tower tile), 1=not started (tower tile not running or no votes cast yet), 2=delinquent (vote distance exceeds threshold or vote stalled), 3=voting (voting normally)", NULL, NULL, "diag"},
  {K_ZERO, "gui_connection_count", NULL, GAUGE, "The number of active http connections to the GUI service, excluding connections that have been upgraded to a WebSocket connection", NULL, NULL, "gui"},
  {K_BOOT, "metric_boot_timestamp_nanos", NULL, GAUGE, "Timestamp when validator was started, in nanoseconds since epoch", NULL, NULL, "metric"},
  {K_CONN, "metric_conn_active", "metric_connection_count", GAUGE, "Active HTTP connections to the Prometheus endpoint", NULL, NULL, "metric"},
  {K_WRITTEN, "metric_bytes_written", NULL, COUNTER, "Bytes written to all responses on the Prometheus endpoint", NULL, NULL, "metric"},
  {K_READ, "metric_bytes_read", NULL, COUNTER, "Bytes read from all requests to the Prometheus endpoint", NULL, NULL, "metric"},
  {K_ONE_IN, "resolh_lut_resolved", NULL, COUNTER, "Address lookup tables resolved", NULL, NULL, "resolh"},
  {K_ZERO, "bank_txn_sanitize_failed", "bank_transaction_sanitize_failure", COUNTER, "Transactions that failed to sanitize", NULL, NULL, "bank"},
  {K_HIST, "pohh_begin_leader_delay_seconds", NULL, HISTOGRAM, "Delay between when we become leader in a slot and when we receive the bank", NULL, NULL, "pohh"},
  {K_PKT, "store_txn_inserted", "store_transactions_inserted", COUNTER, "Transactions produced while we were leader in the shreds that have been inserted so far", NULL, NULL, "store"},
  {K_ZERO, "guih_conn_active", NULL, GAUGE, "Active HTTP connections to the GUI service, excluding connections that have been upgraded to a WebSocket connection", NULL, NULL, "guih"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Counters of the metrics server itself (the metric tile's metrics_write). */
static uint64_t g_bytes_written, g_bytes_read;

typedef struct {
  char *buf;
  size_t cap, n;
  char last[160];       /* fd_prom_render_t.last_name_hash: the last metric with a header */
} render_t;

__attribute__((format(printf, 2, 3))) static void out(render_t *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(r->buf + r->n, r->n < r->cap ? r->cap - r->n : 0, fmt, ap);
  va_end(ap);
  if (w > 0) r->n += (size_t)w;
}

/* The name a metric has in the schema in use; NULL if it has none there. */
static const char *metric_name(const metric_t *m) {
  if (!g_legacy || !m->legacy) return m->name;
  return m->legacy[0] ? m->legacy : NULL;
}

/* metric_export_name: counters get "_total" (not in the legacy schema). */
static const char *export_name(const metric_t *m, char *buf, size_t size) {
  const char *name = metric_name(m);
  if (m->type != COUNTER || g_legacy) return name;
  snprintf(buf, size, "%s_total", name);
  return buf;
}

/* render_header: # HELP and # TYPE once per metric name, a blank line between metrics. */
static void render_header(render_t *r, const metric_t *m) {
  char buf[160];
  const char *name = export_name(m, buf, sizeof buf);
  if (!strcmp(r->last, name)) return;
  if (r->last[0]) out(r, "\n");
  static const char *const TYPES[] = {"gauge", "counter", "histogram"};
  out(r, "# HELP %s %s\n# TYPE %s %s\n", name, m->desc, name, TYPES[m->type]);
  snprintf(r->last, sizeof r->last, "%s", name);
}

static uint64_t metric_value(const metric_t *m, const tile_t *t, int variant) {
  uint64_t b = t->batches;
  switch (m->id) {
  case M_PID: return (uint64_t)t->pid;
  case M_TID: return (uint64_t)t->tid;
  case M_LAST_CPU: return t->last_cpu;
  case M_CS_INVOL: return t->nivcsw;
  case M_CS_VOL: return t->nvcsw;
  case M_PF_MAJ: return t->majflt;
  case M_PF_MIN: return t->minflt;
  case M_STATUS: return (uint64_t)t->status;
  case M_HEARTBEAT: return t->heartbeat_ns;
  case M_REGIME: { /* busy time as processing, the rest as caught up */
    static const unsigned BUSY[8] = {0, 2, 0, 0, 8, 0, 0, 90}, IDLE[8] = {5, 0, 0, 95, 0, 0, 0, 0};
    return t->busy_ns / 100 * BUSY[variant] + t->idle_ns / 100 * IDLE[variant];
  }
  case M_CPU: return variant == 1 ? t->idle_ns : variant == 2 ? t->utime_ns : variant == 3 ? t->stime_ns : 0;
  case L_CONSUMED: return b * 16;
  case L_CONSUMED_BYTES: return b * 16 * 1232;
  case L_FILTERED: return b / 13;
  case L_FILTERED_BYTES: return b / 13 * 1232;
  case K_PKT: return b * 16;
  case K_BYTES: return b * 16 * 1274;
  case K_RESULT: return variant == 0 ? b * 16 : variant == 2 ? b / 97 : variant == 4 ? b / 211 : 0;
  case K_ONE_IN: return b / 50;
  case K_BOOT: return g_boot_ns;
  case K_CONN: return 1;
  case K_WRITTEN: return g_bytes_written;
  case K_READ: return g_bytes_read;
  default: return 0;
  }
}

/* render_counter (gauges too): name{kind="verify",kind_id="0"[,enum="variant"]} value */
static void render_counter(render_t *r, const metric_t *m, const tile_t *t, const char *variant, int v) {
  char buf[160];
  render_header(r, m);
  out(r, "%s{kind=\"%s\",kind_id=\"%d\"", export_name(m, buf, sizeof buf), t->kind, t->idx);
  if (variant) out(r, ",%s=\"%s\"", m->enum_name, variant);
  out(r, "} %llu\n", (unsigned long long)metric_value(m, t, v));
}

/* render_histogram: cumulative _bucket{...,le=} (le: the bucket's right edge less one tick, in
 * seconds, %.17g), then _sum and _count. */
static void render_histogram(render_t *r, const metric_t *m, const tile_t *t) {
  const char *name = metric_name(m);
  uint64_t total = 0;
  render_header(r, m);
  for (int k = 0; k < HIST_BUCKETS; k++) {
    char le[64];
    total += t->hist[k];
    if (k == HIST_BUCKETS - 1) snprintf(le, sizeof le, "+Inf");
    else snprintf(le, sizeof le, "%.17g", (g_edge_ns[k + 1] - 1) * 1e-9);
    out(r, "%s_bucket{kind=\"%s\",kind_id=\"%d\",le=\"%s\"} %llu\n", name, t->kind, t->idx, le,
        (unsigned long long)total);
  }
  out(r, "%s_sum{kind=\"%s\",kind_id=\"%d\"} %.17g\n", name, t->kind, t->idx, (double)t->hist_sum_ns * 1e-9);
  out(r, "%s_count{kind=\"%s\",kind_id=\"%d\"} %llu\n", name, t->kind, t->idx, (unsigned long long)total);
}

/* render_tile_metric, every variant of an enum metric being a metric of its own. */
static void render_metric(render_t *r, const metric_t *m, const char *kind) {
  if (!metric_name(m)) return;
  char variants[512];
  snprintf(variants, sizeof variants, "%s", m->variants ? m->variants : "");
  char *save = NULL, *variant = m->variants ? strtok_r(variants, ",", &save) : NULL;
  int v = 0;
  do {
    if (g_legacy && m->id == M_CPU && variant && !strcmp(variant, "interrupt")) break;
    for (int i = 0; i < g_ntiles; i++) {
      const tile_t *t = &g_tiles[i];
      if (kind && strcmp(t->kind, kind)) continue;
      if (m->type == HISTOGRAM) render_histogram(r, m, t);
      else render_counter(r, m, t, variant, v);
    }
    v++;
  } while (variant && (variant = strtok_r(NULL, ",", &save)));
}

static void render_links(render_t *r) {
  char buf[160];
  for (size_t mi = 0; mi < NELEM(LINK_METRICS); mi++) {
    const metric_t *m = &LINK_METRICS[mi];
    for (int i = 0; i < g_ntiles; i++) {
      const tile_t *t = &g_tiles[i];
      const char *links = NULL;
      for (size_t k = 0; k < NELEM(IN_LINKS) && !links; k++)
        if (!strcmp(IN_LINKS[k].kind, t->kind) || (g_legacy && !strcmp(legacy_kind(IN_LINKS[k].kind), t->kind)))
          links = IN_LINKS[k].links;
      if (!links) continue;
      char copy[256], *save = NULL;
      snprintf(copy, sizeof copy, "%s", links);
      for (char *link = strtok_r(copy, ",", &save); link; link = strtok_r(NULL, ",", &save)) {
        char name[32];
        snprintf(name, sizeof name, "%s", link);
        if (g_legacy) { /* resolh_pack -> resolv_pack, bank_pohh -> bank_poh */
          char *at;
          if ((at = strstr(name, "resolh"))) memcpy(at, "resolv", 6);
          if ((at = strstr(name, "pohh"))) memmove(at + 3, at + 4, strlen(at + 4) + 1);
        }
        render_header(r, m);
        out(r, "%s{kind=\"%s\",kind_id=\"%d\",link_kind=\"%s\",link_kind_id=\"0\"} %llu\n",
            export_name(m, buf, sizeof buf), t->kind, t->idx, name,
            (unsigned long long)metric_value(m, t, 0));
      }
    }
  }
}

/* fd_prometheus_render_all: tile metrics, link metrics, then each kind's own.  Returns the
 * length, or -1 if the page does not fit. */
static long render_metrics(char *buf, size_t cap) {
  render_t r = {buf, cap, 0, ""};
  for (size_t i = 0; i < NELEM(TILE_METRICS); i++) render_metric(&r, &TILE_METRICS[i], NULL);
  render_links(&r);
  for (size_t i = 0; i < NELEM(KIND_METRICS); i++) render_metric(&r, &KIND_METRICS[i], KIND_METRICS[i].kind);
  return r.n < cap ? (long)r.n : -1;
}

static void send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    g_bytes_written += (uint64_t)w;
    p += w;
    n -= (size_t)w;
  }
}

/* metrics_http_request (disco/metrics/fd_metric_tile.c) and the response head of
 * waltz/http/fd_http_server.c: GET /metrics only (the path as sent, query included), 400 for
 * another method, 404 for another path.  This server closes every connection, and says so. */
static void serve_client(int fd) {
  static char req[8192], body[4 << 20], head[256];
  size_t n = 0;
  req[0] = 0;
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (n < sizeof req - 1 && !strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) {
    ssize_t got = recv(fd, req + n, sizeof req - 1 - n, 0);
    if (got <= 0) break;
    n += (size_t)got;
    g_bytes_read += (uint64_t)got;
    req[n] = 0;
  }
  req[n] = 0;
  char method[16] = "", path[1024] = "";
  sscanf(req, "%15s %1023s", method, path);
  long blen = 0;
  int hlen;
  if (strcmp(method, "GET")) {
    hlen = snprintf(head, sizeof head, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  } else if (strcmp(path, "/metrics")) {
    hlen = snprintf(head, sizeof head, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  } else if ((blen = render_metrics(body, sizeof body)) < 0) {
    fprintf(stderr, "standin: metrics response too long\n");
    blen = 0;
    hlen = snprintf(head, sizeof head, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  } else {
    hlen = snprintf(head, sizeof head,
                    "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nConnection: close\r\n"
                    "Content-Type: text/plain; version=0.0.4\r\n\r\n", blen);
  }
  send_all(fd, head, (size_t)hlen);
  send_all(fd, body, (size_t)blen);
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
static int g_child_tile[MAX_CHILDREN];  /* the tile a child process runs, -1 for agave */
static int g_nchildren;

static void kill_children(void) {
  for (int i = 0; i < g_nchildren; i++) kill(g_children[i], SIGKILL);
  for (int i = 0; i < g_nchildren; i++) waitpid(g_children[i], NULL, 0);
  g_nchildren = 0;
}

static pid_t spawn(pid_t self, int lfd, int tile) {
  pid_t p = fork();
  if (p < 0) die("fork failed");
  if (p == 0) {
    child_setup(self, lfd);
  } else {
    g_children[g_nchildren] = p;
    g_child_tile[g_nchildren++] = tile;
  }
  return p;
}

static void describe_exit(char *buf, size_t size, int wstatus) {
  if (WIFSIGNALED(wstatus)) snprintf(buf, size, "signal %d (%s)", WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
  else snprintf(buf, size, "code %d", WEXITSTATUS(wstatus));
}

/* Reaps exited children (forgotten, so a recycled pid is never signalled) and says what ended,
 * as run.c's pidns loop does.  While booting, a tile that ends before it advertised itself is
 * fatal ("exited while booting"). */
static void reap(int booting) {
  pid_t p;
  int wstatus;
  while ((p = waitpid(-1, &wstatus, WNOHANG)) > 0) {
    int tile = -2;
    for (int i = 0; i < g_nchildren; i++)
      if (g_children[i] == p) {
        tile = g_child_tile[i];
        g_children[i] = g_children[--g_nchildren];
        g_child_tile[i] = g_child_tile[g_nchildren];
        break;
      }
    if (tile == -2) continue;
    char how[64];
    describe_exit(how, sizeof how, wstatus);
    if (tile == -1) {
      fprintf(stderr, "standin: agave exited with %s\n", how);
      continue;
    }
    tile_t *t = &g_tiles[tile];
    int clean = WIFEXITED(wstatus) && !WEXITSTATUS(wstatus);
    if (booting && __atomic_load_n(&t->status, __ATOMIC_ACQUIRE) == STATUS_BOOTING) {
      fprintf(stderr, "standin: tile %s:%d exited while booting with %s\n", t->kind, t->idx, how);
      kill_children();
      exit(1);
    }
    if (t->dead) continue;
    if (t->exits && clean) fprintf(stderr, "standin: tile %s:%d exited gracefully with code 0\n", t->kind, t->idx);
    else fprintf(stderr, "standin: tile %s:%d exited with %s\n", t->kind, t->idx, how);
  }
}

static int task_exists(int pid, int tid) {
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/%d/task/%d", pid, tid);
  return stat(path, &st) == 0;
}

/* Tries the sandbox in a throwaway child (as fd_sandbox_requires_cap_sys_admin tries a user
 * namespace), so that the tiles either all get it or, with one line saying why, all run
 * without it. */
static int probe_sandbox(pid_t self, int lfd) {
  pid_t p = fork();
  if (p < 0) die("fork failed");
  if (p == 0) {
    char err[256] = "";
    int userns = 0;
    child_setup(self, lfd);
    int rc = sandbox_enter(&userns, err, sizeof err);
    g_shared->probe_userns = userns;
    snprintf(g_shared->probe_error, sizeof g_shared->probe_error, "%s", err);
    _exit(rc ? 1 : 0);
  }
  int wstatus;
  while (waitpid(p, &wstatus, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(wstatus) && !WEXITSTATUS(wstatus)) {
    fprintf(stderr, "standin: sandbox: full sandbox is being enabled (user namespaces: %s)\n",
            g_shared->probe_userns ? "yes" : "no");
    return 1;
  }
  fprintf(stderr, "standin: sandbox: cannot sandbox the tiles (%s): running them unsandboxed\n",
          g_shared->probe_error[0] ? g_shared->probe_error : "the probe process died");
  return 0;
}

static void parse_tiles(const char *spec) {
  char *copy = strdup(spec), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char kind[16];
    int count;
    if (sscanf(tok, "%15[a-z]:%d", kind, &count) != 2 || count < 0) die("--tiles wants KIND:COUNT,...");
    const char *name = g_legacy ? legacy_kind(kind) : kind;
    int k = kind_index(name);
    if (k < 0) {
      fprintf(stderr, "standin: unknown tile kind '%s'\n", kind);
      exit(2);
    }
    for (int i = 0; i < count; i++) {
      if (g_ntiles >= MAX_TILES) die("too many tiles");
      tile_t *t = &g_tiles[g_ntiles++];
      snprintf(t->kind, sizeof t->kind, "%s", name);
      t->idx = i;
      t->in_agave = KINDS[k].agave;
    }
  }
  free(copy);
}

/* A whole decimal number in [lo, hi], nothing else (no sign, no spaces, no trailing text). */
static int parse_count(const char *text, size_t len, long lo, long hi, long *out) {
  if (!len || len > 9) return 0;
  long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9') return 0;
    v = v * 10 + (text[i] - '0');
  }
  if (v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

/* --extra-path-window MOD:LO:HI: 1 <= MOD <= 86400 seconds, 0 <= LO <= HI < MOD. */
#define WINDOW_MAX_MOD 86400
static void parse_window(const char *spec) {
  const char *a = strchr(spec, ':'), *b = a ? strchr(a + 1, ':') : NULL;
  long mod, lo, hi;
  if (!b || !parse_count(spec, (size_t)(a - spec), 1, WINDOW_MAX_MOD, &mod) ||
      !parse_count(a + 1, (size_t)(b - a - 1), 0, mod - 1, &lo) ||
      !parse_count(b + 1, strlen(b + 1), lo, mod - 1, &hi)) {
    fprintf(stderr, "standin: --extra-path-window %s: want MOD:LO:HI, whole seconds with "
            "1 <= MOD <= %d and 0 <= LO <= HI < MOD (10:3:4: seconds 3 and 4 of every ten)\n",
            spec, WINDOW_MAX_MOD);
    exit(2);
  }
  g_window_mod = mod;
  g_window_lo = lo;
  g_window_hi = hi;
}

/* --dead-tile / --exit-tile / --booting-tile KIND:IDX */
static void mark_tile(const char *option, const char *spec, int which) {
  char want[40];
  snprintf(want, sizeof want, "%s", spec);
  if (g_legacy) { /* --legacy-names --exit-tile pohh:0 means poh:0 */
    char kind[16];
    int idx;
    if (sscanf(spec, "%15[a-z]:%d", kind, &idx) == 2) snprintf(want, sizeof want, "%s:%d", legacy_kind(kind), idx);
  }
  for (int i = 0; i < g_ntiles; i++) {
    tile_t *t = &g_tiles[i];
    char name[40];
    snprintf(name, sizeof name, "%s:%d", t->kind, t->idx);
    if (strcmp(name, want)) continue;
    if (t->dead || t->exits || t->booting) {
      fprintf(stderr, "standin: %s %s: the tile is already dead, exiting or booting\n", option, spec);
      exit(2);
    }
    if (which == 0) t->dead = 1;
    else if (which == 1) t->exits = 1;
    else t->booting = 1;
    return;
  }
  fprintf(stderr, "standin: %s %s: no such tile\n", option, spec);
  exit(2);
}

static void usage(void) {
  fprintf(stderr,
          "usage: standin [--layout processes|threads] [--no-sandbox] [--tiles KIND:COUNT,...]\n"
          "               [--legacy-names] [--load PCT] [--period MS]\n"
          "               [--metrics ADDR:PORT | --no-metrics] [--dead-tile KIND:IDX]...\n"
          "               [--exit-tile KIND:IDX]... [--booting-tile KIND:IDX]...\n"
          "               [--pidfile PATH] [--duration SECONDS] [--extra-path KIND]\n"
          "               [--extra-path-window MOD:LO:HI] [--busy KIND:PCT]\n"
          "--extra-path KIND: that kind's tiles also run fd_slow_path_retry (a third of their time)\n"
          "--extra-path-window MOD:LO:HI: only while the wall-clock second %% MOD is in LO..HI\n"
          "               (CLOCK_REALTIME; 10:3:4 = seconds 3 and 4 of every ten)\n"
          "--busy KIND:PCT: that kind's tiles burn PCT percent instead of --load\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *layout = "processes", *tiles = DEFAULT_TILES, *metrics = "127.0.0.1:7999";
  const char *pidfile = NULL, *marks[3][MAX_TILES];
  static const char *const MARK_OPTIONS[3] = {"--dead-tile", "--exit-tile", "--booting-tile"};
  int nmarks[3] = {0, 0, 0}, no_metrics = 0;
  double duration = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc, mark = -1;
    for (int m = 0; m < 3; m++)
      if (!strcmp(a, MARK_OPTIONS[m])) mark = m;
    if (!strcmp(a, "--no-metrics")) no_metrics = 1;
    else if (!strcmp(a, "--no-sandbox")) g_sandbox = 0;
    else if (!strcmp(a, "--legacy-names")) g_legacy = 1;
    else if (!has) usage();
    else if (mark >= 0) {
      if (nmarks[mark] >= MAX_TILES) usage();
      marks[mark][nmarks[mark]++] = argv[++i];
    }
    else if (!strcmp(a, "--layout")) layout = argv[++i];
    else if (!strcmp(a, "--tiles")) tiles = argv[++i];
    else if (!strcmp(a, "--load")) g_load = atof(argv[++i]);
    else if (!strcmp(a, "--period")) g_period_ms = atof(argv[++i]);
    else if (!strcmp(a, "--metrics")) metrics = argv[++i];
    else if (!strcmp(a, "--pidfile")) pidfile = argv[++i];
    else if (!strcmp(a, "--duration")) duration = atof(argv[++i]);
    else if (!strcmp(a, "--extra-path")) {
      const char *kind = argv[++i];
      if (kind_index(kind) < 0 || strlen(kind) >= sizeof g_extra_kind) {
        fprintf(stderr, "standin: --extra-path %s: no such tile kind\n", kind);
        exit(2);
      }
      snprintf(g_extra_kind, sizeof g_extra_kind, "%s", kind);
    }
    else if (!strcmp(a, "--extra-path-window")) parse_window(argv[++i]);
    else if (!strcmp(a, "--busy")) {
      char kind[16];
      if (sscanf(argv[++i], "%15[a-z]:%lf", kind, &g_busy_load) != 2 || kind_index(kind) < 0 ||
          g_busy_load < 0 || g_busy_load > 100) {
        fprintf(stderr, "standin: --busy %s: want KIND:PCT, a tile kind and 0..100\n", argv[i]);
        exit(2);
      }
      snprintf(g_busy_kind, sizeof g_busy_kind, "%s", kind);
    }
    else usage();
  }
  int processes = !strcmp(layout, "processes");
  if (!processes && strcmp(layout, "threads")) die("--layout is processes or threads");
  if (g_load < 0 || g_load > 100 || g_period_ms <= 0) die("--load is 0..100, --period > 0");
  if (g_window_mod && !g_extra_kind[0]) die("--extra-path-window needs --extra-path KIND");
  if (g_legacy && g_extra_kind[0]) snprintf(g_extra_kind, sizeof g_extra_kind, "%s", legacy_kind(g_extra_kind));

  g_shared = mmap(NULL, sizeof(shared_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_shared == MAP_FAILED) die("mmap failed");
  g_tiles = g_shared->tiles;
  parse_tiles(tiles);
  for (int m = 0; m < 3; m++)
    for (int i = 0; i < nmarks[m]; i++) mark_tile(MARK_OPTIONS[m], marks[m][i], m);

  prctl(PR_SET_NAME, "fdctl", 0, 0, 0);
  g_boot_ns = wallclock_ns();
  histogram_edges();
  calibrate();
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* handled by sigtimedwait below; threads inherit */

  int lfd = no_metrics ? -1 : metrics_listen(metrics);
  pid_t self = getpid();

  int sandbox = processes && g_sandbox;
  if (sandbox) sandbox = probe_sandbox(self, lfd);
  else if (processes) fprintf(stderr, "standin: sandbox: sandbox disabled\n");

  if (spawn(self, lfd, -1) == 0) agave_main();
  for (int i = 0; i < g_ntiles; i++) {
    if (g_tiles[i].in_agave || g_tiles[i].booting) continue;
    if (!processes) start_thread(tile_thread, &g_tiles[i]);
    else if (spawn(self, lfd, i) == 0) {
      tile_main(&g_tiles[i], sandbox);
      _exit(0);
    }
  }

  /* Wait until every tile advertised itself and every dead tile is really gone. */
  double start = now_s();
  for (;;) {
    reap(1);
    int pending = 0;
    for (int i = 0; i < g_ntiles; i++) {
      tile_t *t = &g_tiles[i];
      if (t->booting) continue;
      if (__atomic_load_n(&t->status, __ATOMIC_ACQUIRE) == STATUS_BOOTING) pending++;
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
    reap(0);
    if (end > 0 && now_s() >= end) break;
  }
  kill_children();
  if (pidfile) unlink(pidfile);
  return 0;
}
