/* hubsim's fleet against the reference platform, each in its own process, over loopback TCP.
 *
 *  - 1,000 hubs x 10 devices until more than 10,000 reports are acknowledged: the counts add
 *    up on both sides and nothing is lost (what the hubs saw acknowledged is exactly what the
 *    platform stored);
 *  - the platform is killed (SIGKILL) mid-run and restarted on the same store: every hub
 *    reconnects with backoff and resends what was not acknowledged, the platform drops the
 *    duplicates, and the final counts show nothing lost.
 *
 * Every step waits for a condition (the fleet's figures, the platform process's state, the
 * platform's own counters on its admin port), each bounded in time and failing with what it
 * waited for; no count depends on how long a fixed window of wall time lasted. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <uv.h>

#include "devices/cat_global.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "support/platproc.h"

struct waiter {
  struct sim_fleet *f;
  int (*done)(struct waiter *w);
  uint64_t deadline_ns;
  int met;
  struct sim_fleet_stats st;
  uint32_t want_online;
  uint64_t want;  /* the figure a condition waits for (see each condition) */
  uint64_t base;  /* and where it started from */
  uint16_t admin; /* the platform's admin port, for the conditions that read its counters */
};

static void on_tick(uv_timer_t *t) {
  struct waiter *w = t->data;
  sim_fleet_stats(w->f, &w->st);
  if (w->done && w->done(w)) {
    w->met = 1;
    uv_stop(t->loop);
  } else if (uv_hrtime() >= w->deadline_ns) {
    uv_stop(t->loop);
  }
}

/* Runs the loop until done() holds (checked every 20 ms) or timeout_s passes. Returns whether
 * done() held. */
static int run_until(uv_loop_t *loop, struct waiter *w, int (*done)(struct waiter *),
                     double timeout_s) {
  static uv_timer_t t;
  w->done = done;
  w->met = 0;
  w->deadline_ns = uv_hrtime() + (uint64_t)(timeout_s * 1e9);
  uv_timer_init(loop, &t);
  t.data = w;
  uv_timer_start(&t, on_tick, 20, 20);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_timer_stop(&t);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  sim_fleet_stats(w->f, &w->st);
  return w->met;
}

static int all_online(struct waiter *w) {
  return w->st.hubs_by_state[SIM_HUB_OPEN] == w->want_online;
}
static int drained(struct waiter *w) {
  return w->st.in_flight == 0 && w->st.queued == 0;
}
static int all_reconnected(struct waiter *w) {
  return w->st.hubs_by_state[SIM_HUB_OPEN] == w->want_online &&
         w->st.sessions >= 2 * w->want_online;
}

enum { SENT, ACKED, GENERATED, RESENT };

/* A count summed over the kinds of sequenced messages. */
static uint64_t total(const struct sim_fleet_stats *st, int what) {
  uint64_t n = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    const struct sim_seq_counts *c = &st->kind[k];
    n += what == SENT        ? c->sent
         : what == ACKED     ? c->acked
         : what == GENERATED ? c->generated
                             : c->resent;
  }
  return n;
}
/* More than w->want reports acknowledged. */
static int reports_acked(struct waiter *w) {
  return w->st.kind[SIM_SEQ_REPORT].acked > w->want;
}
/* Everything generated has been sent, and at least w->want messages went out for the first
 * time since the count stood at w->base. */
static int sent_since(struct waiter *w) {
  return w->st.queued == 0 && total(&w->st, SENT) >= w->base + w->want;
}
/* No session open, every hub has noticed (a disconnect each). */
static int all_down(struct waiter *w) {
  return w->st.hubs_by_state[SIM_HUB_OPEN] == 0 && w->st.disconnects >= w->want_online;
}
/* At least w->want connection attempts since the count stood at w->base. */
static int connects_since(struct waiter *w) {
  return w->st.connects >= w->base + w->want;
}
/* Every hub back, and at least w->want messages resent in all. */
static int reconnected_and_resent(struct waiter *w) {
  return all_reconnected(w) && total(&w->st, RESENT) >= w->want;
}
/* Every hub online, with at least w->want sessions opened in all. */
static int online_again(struct waiter *w) {
  return w->st.hubs_by_state[SIM_HUB_OPEN] == w->want_online && w->st.sessions >= w->want;
}

static void fleet_stopped(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}

static void make_db(char *out, size_t cap, const char *name) {
  const char *tmp = getenv("TMPDIR");
  snprintf(out, cap, "%s/hubsim-test-%s-%d.db", tmp && *tmp ? tmp : "/tmp", name, (int)getpid());
  char p[300];
  unlink(out);
  snprintf(p, sizeof(p), "%s-wal", out);
  unlink(p);
  snprintf(p, sizeof(p), "%s-shm", out);
  unlink(p);
}

static void cleanup_db(const char *db) {
  char p[300];
  unlink(db);
  const char *sfx[] = {"-wal", "-shm", ".ready", ".log"};
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
    unlink(p);
  }
}

/* The platform process of the test under way, for kill_leftover(). */
static struct platproc *live;

/* ---- the platform's own counters, from its admin port ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The admin port, from the platform's start line ("admin on port N") in its log; 0 when it is
 * not there within 10 s. */
static uint16_t admin_port_of(const struct platproc *p) {
  double deadline = now_s() + 10;
  do {
    FILE *f = fopen(p->log, "r");
    char line[4096];
    unsigned port = 0;
    while (f && fgets(line, sizeof line, f)) {
      const char *a = strstr(line, "admin on port ");
      if (a && sscanf(a, "admin on port %u", &port) == 1 && port > 0 && port < 65536)
        break;
      port = 0;
    }
    if (f)
      fclose(f);
    if (port)
      return (uint16_t)port;
    usleep(10000);
  } while (now_s() < deadline);
  return 0;
}

/* One counter of the platform's `stats` reply (a JSON line), or -1 when it cannot be read
 * within 5 s. The exchange blocks the fleet's loop for a moment: over loopback, a millisecond. */
static long long plat_stat(uint16_t port, const char *name) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  long long v = -1;
  char buf[16384];
  size_t len = 0;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) || send(fd, "stats\n", 6, MSG_NOSIGNAL) != 6)
    goto done;
  double deadline = now_s() + 5;
  while (len < sizeof buf - 1 && !memchr(buf, '\n', len) && now_s() < deadline) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0)
      continue;
    ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
    if (n <= 0 && !(n < 0 && errno == EINTR))
      break;
    if (n > 0)
      len += (size_t)n;
  }
  buf[len] = 0;
  char key[64];
  snprintf(key, sizeof key, "\"%s\":", name);
  const char *at = memchr(buf, '\n', len) ? strstr(buf, key) : NULL;
  if (at)
    v = strtoll(at + strlen(key), NULL, 10);
done:
  close(fd);
  return v;
}

/* The platform has read at least w->want more reports than it has committed: reports it
 * holds in its open group, received and not yet stored. */
static int uncommitted_reports(struct waiter *w) {
  long long got = plat_stat(w->admin, "reports_new");
  long long stored = plat_stat(w->admin, "reports_committed");
  return got >= 0 && stored >= 0 && (uint64_t)(got - stored) >= w->want;
}
/* The platform has committed a group since its count of commits stood at w->base. */
static int committed_since(struct waiter *w) {
  long long c = plat_stat(w->admin, "commits");
  return c >= 0 && (uint64_t)c > w->base;
}
/* The platform has recognised at least w->want resent messages since its count stood at
 * w->base. */
static int duplicates_since(struct waiter *w) {
  long long d = plat_stat(w->admin, "seq_duplicate");
  return d >= 0 && (uint64_t)d >= w->base + w->want;
}

/* Waits (bounded) until process pid is stopped by a signal: a SIGSTOP is queued at once but
 * takes effect when the process next enters the kernel, and what the test sends next must not
 * be read before it does. */
static int wait_stopped(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  double deadline = now_s() + 10;
  do {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
      fclose(f);
    buf[n] = 0;
    const char *st = strrchr(buf, ')'); /* "pid (comm) S ...": comm may hold spaces */
    if (st && st[1] == ' ' && st[2] == 'T')
      return 1;
    usleep(1000);
  } while (now_s() < deadline);
  return 0;
}

static struct sim_fleet *make_fleet(uv_loop_t *loop, struct sim_transport *t, uint32_t hubs,
                                    uint32_t dph, uint16_t port, const char *prefix) {
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = hubs;
  cfg.devices_per_hub = dph;
  cfg.seed = 7;
  cfg.platform.port = port;
  snprintf(cfg.hub_prefix, sizeof(cfg.hub_prefix), "%s", prefix);
  cfg.n_mix = 0;
  for (size_t i = 0; i < sim_model_count(); i++) {
    cfg.mix_model[cfg.n_mix] = (uint16_t)i;
    cfg.mix_weight[cfg.n_mix++] = 1;
  }
  struct sim_fleet *f = NULL;
  assert_int_equal(sim_fleet_new(loop, t, &cfg, &f), 0);
  return f;
}

static void stop_fleet(uv_loop_t *loop, struct sim_fleet *f) {
  int stopped = 0;
  sim_fleet_stop(f, fleet_stopped, &stopped);
  for (int i = 0; i < 100 && !stopped; i++)
    uv_run(loop, UV_RUN_ONCE);
  assert_true(stopped);
  sim_fleet_free(f);
}

/* Stops the fleet, frees its transport and loop, and stops the platform (its final commit). */
static void teardown(uv_loop_t *loop, struct sim_fleet *f, struct sim_transport *t,
                     struct platproc *p) {
  stop_fleet(loop, f);
  sim_transport_free(t);
  uv_run(loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(loop), 0);
  assert_int_equal(platproc_stop(p), 0);
}

static void print_stats(const char *name, const struct sim_fleet_stats *st) {
  const struct sim_seq_counts *r = &st->kind[SIM_SEQ_REPORT];
  printf("%s: hubs %u online %u sessions %llu | reports generated %llu sent %llu resent %llu acked "
         "%llu dropped %llu | joined acked %llu | in flight %llu queued %llu\n",
         name, st->hubs, st->hubs_by_state[SIM_HUB_OPEN], (unsigned long long)st->sessions,
         (unsigned long long)r->generated, (unsigned long long)r->sent,
         (unsigned long long)r->resent, (unsigned long long)r->acked,
         (unsigned long long)r->dropped, (unsigned long long)st->kind[SIM_SEQ_JOINED].acked,
         (unsigned long long)st->in_flight, (unsigned long long)st->queued);
  for (size_t i = 0; i < st->n_errors; i++)
    printf("  error %s = %llu\n", st->errors[i].name, (unsigned long long)st->errors[i].count);
}

static void test_thousand_hubs(void **state) {
  (void)state;
  char db[256];
  make_db(db, sizeof(db), "1k");
  static struct platproc p; /* static: kill_leftover() reads it after a failure */
  memset(&p, 0, sizeof p);
  assert_int_equal(platproc_start(&p, db, 0, NULL), 0);
  live = &p;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct sim_transport *t = NULL;
  assert_int_equal(sim_transport_tcp_new(&loop, &t), 0);
  struct sim_fleet *f = make_fleet(&loop, t, 1000, 10, p.port, "k-");
  struct waiter w = {.f = f, .want_online = 1000};
  assert_int_equal(sim_fleet_start(f), 0);
  if (!run_until(&loop, &w, all_online, 60))
    fail_msg("%u of 1000 hubs online after 60 s", w.st.hubs_by_state[SIM_HUB_OPEN]);
  /* Traffic until more reports are acknowledged than there are devices. */
  w.want = 10000;
  if (!run_until(&loop, &w, reports_acked, 120))
    fail_msg("%llu reports acknowledged after 120 s, want more than 10,000",
             (unsigned long long)w.st.kind[SIM_SEQ_REPORT].acked);
  sim_fleet_quiesce(f);
  if (!run_until(&loop, &w, drained, 30))
    fail_msg("not drained after 30 s: %llu in flight, %llu queued",
             (unsigned long long)w.st.in_flight, (unsigned long long)w.st.queued);
  print_stats("1000x10", &w.st);
  teardown(&loop, f, t, &p);

  const struct sim_fleet_stats *st = &w.st;
  /* Hub side: everything generated was sent (nothing dropped), acknowledged, nothing lost. */
  assert_int_equal(total(st, SENT), total(st, ACKED));
  assert_int_equal(total(st, GENERATED), total(st, ACKED));
  assert_int_equal(st->kind[SIM_SEQ_JOINED].acked, 10000);
  assert_true(st->kind[SIM_SEQ_REPORT].acked > 10000);
  assert_int_equal(st->kind[SIM_SEQ_REPORT].resent, 0);
  /* Platform side: what was acknowledged is what is stored, once. */
  long long stored = platproc_query(db, "SELECT count(*) FROM reports");
  long long devices = platproc_query(db, "SELECT count(*) FROM devices");
  long long hubs = platproc_query(db, "SELECT count(*) FROM hubs");
  printf("platform: %lld reports stored, %lld devices, %lld hubs\n", stored, devices, hubs);
  assert_int_equal(devices, 10000);
  assert_int_equal(hubs, 1000);
  assert_int_equal(stored, (long long)st->kind[SIM_SEQ_REPORT].acked);
  cleanup_db(db);
}

/* The platform's own count of duplicates, from the counters it prints when it exits. */
static long long platform_duplicates(const struct platproc *p) {
  FILE *f = fopen(p->log, "r");
  if (!f)
    return -1;
  char line[8192];
  long long v = -1;
  while (fgets(line, sizeof(line), f)) {
    const char *k = strstr(line, "\"seq_duplicate\":");
    if (k)
      v = atoll(k + strlen("\"seq_duplicate\":"));
  }
  fclose(f);
  return v;
}

/* A physical event on every device of hubs [from, to) that has one. Returns how many reports
 * the events made: counted, not assumed (a device may say nothing, e.g. a motion sensor still
 * blind from its last detection). Without a radio, a device's frame reaches its hub at once. */
static uint64_t wave(struct sim_fleet *f, uint32_t from, uint32_t to, uint32_t dph) {
  static const char *const events[] = {"motion", "open", "single", "vibration",    "leak",
                                       "smoke",  "gas",  "toggle", "unlock_finger"};
  struct sim_fleet_stats st;
  sim_fleet_stats(f, &st);
  uint64_t before = st.kind[SIM_SEQ_REPORT].generated;
  for (uint32_t h = from; h < to; h++)
    for (uint32_t s = 0; s < dph; s++)
      for (size_t e = 0; e < sizeof events / sizeof events[0]; e++)
        if (sim_fleet_trigger(f, h, s, events[e]) == 0)
          break;
  sim_fleet_stats(f, &st);
  return st.kind[SIM_SEQ_REPORT].generated - before;
}

/* One attempt to leave reports received and not yet committed on the platform when the hubs
 * come back: right after a group commit (the next is --commit-ms 10 s away, or 2,000 rows), a
 * wave of events on hubs [from, to); once the platform holds at least the wave's worth of
 * uncommitted reports, every hub's connection is dropped. The hubs reconnect and resend from
 * what the Welcome says is stored, so each of those reports comes again: a duplicate. Returns
 * the reports held uncommitted at the drop when no commit came between (the hubs were back
 * first), 0 when one did (the attempt proves nothing). */
static uint64_t drop_while_uncommitted(uv_loop_t *loop, struct waiter *w, uint32_t from,
                                       uint32_t to) {
  struct sim_fleet *f = w->f;
  w->base = (uint64_t)plat_stat(w->admin, "commits");
  if (!run_until(loop, w, committed_since, 30))
    fail_msg("the platform committed nothing for 30 s");
  long long c0 = plat_stat(w->admin, "commits");
  uint64_t n = wave(f, from, to, 10);
  if (n == 0)
    fail_msg("no device of hubs %u to %u reported an event", from, to - 1);
  w->want = n;
  if (!run_until(loop, w, uncommitted_reports, 30))
    fail_msg("the platform did not receive the wave of %llu reports within 30 s",
             (unsigned long long)n);
  long long held = plat_stat(w->admin, "reports_new") - plat_stat(w->admin, "reports_committed");
  long long dup0 = plat_stat(w->admin, "seq_duplicate");
  uint64_t sessions = w->st.sessions;
  for (uint32_t i = 0; i < w->want_online; i++)
    sim_fleet_drop_hub(f, i);
  w->want = sessions + w->want_online;
  if (!run_until(loop, w, online_again, 30))
    fail_msg("%u of %u hubs back online 30 s after the drop", w->st.hubs_by_state[SIM_HUB_OPEN],
             w->want_online);
  long long c1 = plat_stat(w->admin, "commits");
  printf("dropped every hub with %lld reports received and not committed; commits %lld -> %lld\n",
         held, c0, c1);
  if (c1 != c0 || held <= 0)
    return 0;
  /* Every one of them is resent and recognised. */
  w->base = (uint64_t)dup0;
  w->want = (uint64_t)held;
  if (!run_until(loop, w, duplicates_since, 30))
    fail_msg("the platform recognised %lld of the %lld uncommitted reports as duplicates",
             plat_stat(w->admin, "seq_duplicate") - dup0, held);
  return (uint64_t)held;
}

static void test_platform_killed_and_restarted(void **state) {
  (void)state;
  char db[256];
  make_db(db, sizeof(db), "kill");
  static struct platproc p; /* static: kill_leftover() reads it after a failure */
  memset(&p, 0, sizeof p);
  assert_int_equal(platproc_start(&p, db, 0, NULL), 0);
  live = &p;
  uint16_t port = p.port;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct sim_transport *t = NULL;
  assert_int_equal(sim_transport_tcp_new(&loop, &t), 0);
  struct sim_fleet *f = make_fleet(&loop, t, 200, 10, port, "kill-");
  struct waiter w = {.f = f, .want_online = 200};
  assert_int_equal(sim_fleet_start(f), 0);
  if (!run_until(&loop, &w, all_online, 30))
    fail_msg("%u of 200 hubs online after 30 s", w.st.hubs_by_state[SIM_HUB_OPEN]);
  w.want = 200; /* reports flowing: some acknowledged on every side */
  if (!run_until(&loop, &w, reports_acked, 30))
    fail_msg("%llu reports acknowledged after 30 s, want more than 200",
             (unsigned long long)w.st.kind[SIM_SEQ_REPORT].acked);
  /* Freeze the platform, then make frames that it can never have read: they are not stored
   * when it crashes, and must come again. */
  kill(p.pid, SIGSTOP);
  assert_true(wait_stopped(p.pid));
  sim_fleet_stats(f, &w.st);
  w.base = total(&w.st, SENT);
  uint64_t n_wave = wave(f, 0, 100, 10);
  if (n_wave <= 100)
    fail_msg("%llu reports from the events on 1,000 devices, want more than 100",
             (unsigned long long)n_wave);
  w.want = n_wave;
  if (!run_until(&loop, &w, sent_since, 30))
    fail_msg("%llu messages sent to the frozen platform within 30 s, want %llu",
             (unsigned long long)(total(&w.st, SENT) - w.base), (unsigned long long)n_wave);
  uint64_t unacked_at_crash = total(&w.st, SENT) - w.base;
  platproc_kill(&p);
  uint64_t connects_at_kill = w.st.connects;
  if (!run_until(&loop, &w, all_down, 30))
    fail_msg("30 s after the crash: %u hubs still online, %llu disconnects",
             w.st.hubs_by_state[SIM_HUB_OPEN], (unsigned long long)w.st.disconnects);
  /* Hubs back off and retry against the closed port: two attempts each on average. */
  w.base = connects_at_kill;
  w.want = 400;
  if (!run_until(&loop, &w, connects_since, 60))
    fail_msg("%llu connection attempts in 60 s against the closed port, want 400",
             (unsigned long long)(w.st.connects - connects_at_kill));
  uint64_t failed_attempts = w.st.connects - connects_at_kill;
  /* Restart on the same store, with a slow group commit and the admin port, so that the test
   * can see what the platform holds uncommitted. */
  const char *slow[] = {"--commit-ms", "10000", "--admin", "127.0.0.1:0", NULL};
  assert_int_equal(platproc_start(&p, db, port, slow), 0);
  w.admin = admin_port_of(&p);
  assert_true(w.admin > 0);
  w.want = unacked_at_crash; /* what the crash left unstored: resent, at least */
  if (!run_until(&loop, &w, reconnected_and_resent, 60))
    fail_msg("60 s after the restart: %u of 200 hubs online, %llu sessions, %llu messages "
             "resent (want %llu)",
             w.st.hubs_by_state[SIM_HUB_OPEN], (unsigned long long)w.st.sessions,
             (unsigned long long)total(&w.st, RESENT), (unsigned long long)unacked_at_crash);
  uint64_t resent_after_restart = total(&w.st, RESENT);
  /* Drops while the platform holds received, uncommitted reports: duplicates. A group commit
   * that lands in between makes an attempt useless; three in a row would mean the platform
   * commits far more often than --commit-ms says, or the hubs take longer than that to come
   * back after a drop. Each attempt's events are on hubs no earlier event touched. */
  static const uint32_t from[] = {100, 134, 167, 200};
  uint64_t dup_held = 0;
  for (int attempt = 0; attempt < 3 && !dup_held; attempt++)
    dup_held = drop_while_uncommitted(&loop, &w, from[attempt], from[attempt + 1]);
  if (!dup_held)
    fail_msg("three attempts in a row met a group commit between the wave and the reconnects");
  sim_fleet_quiesce(f);
  if (!run_until(&loop, &w, drained, 60))
    fail_msg("not drained after 60 s: %llu in flight, %llu queued",
             (unsigned long long)w.st.in_flight, (unsigned long long)w.st.queued);
  print_stats("kill+restart", &w.st);
  teardown(&loop, f, t, &p);

  const struct sim_fleet_stats *st = &w.st;
  uint64_t resent = total(st, RESENT);
  long long stored = platproc_query(db, "SELECT count(*) FROM reports");
  long long dups = platform_duplicates(&p);
  printf("unacked at crash %llu, failed connection attempts %llu, resent after restart %llu, "
         "resent in all %llu, uncommitted at the drop %llu, platform duplicates %lld, stored "
         "%lld\n",
         (unsigned long long)unacked_at_crash, (unsigned long long)failed_attempts,
         (unsigned long long)resent_after_restart, (unsigned long long)resent,
         (unsigned long long)dup_held, dups, stored);
  assert_true(resent_after_restart >= unacked_at_crash);
  assert_true(dups >= (long long)dup_held);
  assert_int_equal(total(st, SENT), total(st, ACKED)); /* every message acknowledged in the end */
  assert_int_equal(total(st, GENERATED), total(st, ACKED)); /* and nothing dropped */
  /* Exactly once in the store, whatever was resent. */
  assert_int_equal(stored, (long long)st->kind[SIM_SEQ_REPORT].acked);
  assert_int_equal(platproc_query(db, "SELECT count(*) FROM devices"), 2000);
  cleanup_db(db);
}

static uint64_t timeouts_of(const struct sim_fleet_stats *st) {
  for (size_t i = 0; i < st->n_errors; i++)
    if (strcmp(st->errors[i].name, "TIMEOUT") == 0)
      return st->errors[i].count;
  return 0;
}
/* At least w->want sessions ended with TIMEOUT, and none is open. */
static int sessions_timed_out(struct waiter *w) {
  return timeouts_of(&w->st) >= w->want && w->st.hubs_by_state[SIM_HUB_OPEN] == 0;
}

/* A platform that stops answering (frozen, its sockets still accepting bytes) is detected by
 * the heartbeat rule: nothing received for 3 heartbeat periods closes the session with
 * TIMEOUT. Once it answers again, every hub is back and nothing is lost. */
static void test_silent_platform(void **state) {
  (void)state;
  char db[256];
  make_db(db, sizeof(db), "silent");
  static struct platproc p; /* static: kill_leftover() reads it after a failure */
  memset(&p, 0, sizeof p);
  const char *hb[] = {"--heartbeat", "1", NULL};
  assert_int_equal(platproc_start(&p, db, 0, hb), 0);
  live = &p;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct sim_transport *t = NULL;
  assert_int_equal(sim_transport_tcp_new(&loop, &t), 0);
  struct sim_fleet *f = make_fleet(&loop, t, 50, 4, p.port, "silent-");
  struct waiter w = {.f = f, .want_online = 50};
  assert_int_equal(sim_fleet_start(f), 0);
  if (!run_until(&loop, &w, all_online, 30))
    fail_msg("%u of 50 hubs online after 30 s", w.st.hubs_by_state[SIM_HUB_OPEN]);
  kill(p.pid, SIGSTOP);
  assert_true(wait_stopped(p.pid));
  /* Every session ends with TIMEOUT (3 heartbeats of 1 s after the last frame received). */
  w.want = 50;
  int all_timed_out = run_until(&loop, &w, sessions_timed_out, 30);
  printf("silent platform: %llu sessions timed out, %u hubs online while it was frozen\n",
         (unsigned long long)timeouts_of(&w.st), w.st.hubs_by_state[SIM_HUB_OPEN]);
  if (!all_timed_out)
    fail_msg("30 s after the platform froze: %llu sessions timed out (want 50), %u hubs online",
             (unsigned long long)timeouts_of(&w.st), w.st.hubs_by_state[SIM_HUB_OPEN]);
  kill(p.pid, SIGCONT);
  if (!run_until(&loop, &w, all_reconnected, 60))
    fail_msg("%u of 50 hubs back 60 s after the platform woke", w.st.hubs_by_state[SIM_HUB_OPEN]);
  sim_fleet_quiesce(f);
  if (!run_until(&loop, &w, drained, 30))
    fail_msg("not drained after 30 s: %llu in flight, %llu queued",
             (unsigned long long)w.st.in_flight, (unsigned long long)w.st.queued);
  teardown(&loop, f, t, &p);
  assert_int_equal(total(&w.st, SENT), total(&w.st, ACKED));
  assert_int_equal(total(&w.st, GENERATED), total(&w.st, ACKED));
  assert_int_equal(platproc_query(db, "SELECT count(*) FROM reports"),
                   (long long)w.st.kind[SIM_SEQ_REPORT].acked);
  cleanup_db(db);
}

static int setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

/* A test that failed half-way leaves its platform running (or stopped): kill it, so that it
 * does not outlive the test and hold the test's output open. */
static int kill_leftover(void **state) {
  (void)state;
  if (live) {
    platproc_kill(live);
    live = NULL;
  }
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_thousand_hubs, kill_leftover),
      cmocka_unit_test_teardown(test_platform_killed_and_restarted, kill_leftover),
      cmocka_unit_test_teardown(test_silent_platform, kill_leftover),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
