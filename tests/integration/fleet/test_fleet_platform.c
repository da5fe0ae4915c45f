/* hubsim's fleet against the reference platform, each in its own process, over loopback TCP.
 *
 *  - 1,000 hubs x 10 devices for a bounded time: the counts add up on both sides and nothing
 *    is lost (what the hubs saw acknowledged is exactly what the platform stored);
 *  - the platform is killed (SIGKILL) mid-run and restarted on the same store: every hub
 *    reconnects with backoff and resends what was not acknowledged, the platform drops the
 *    duplicates, and the final counts show nothing lost. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Runs the loop until done() holds (checked every 20 ms) or timeout_s passes; done NULL runs
 * for exactly timeout_s. Returns whether done() held. */
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

static uint64_t total(const struct sim_fleet_stats *st, int what) {
  uint64_t n = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    n += what == 0 ? st->kind[k].sent : what == 1 ? st->kind[k].acked : st->kind[k].generated;
  return n;
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
  struct platproc p = {0};
  assert_int_equal(platproc_start(&p, db, 0, NULL), 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct sim_transport *t = NULL;
  assert_int_equal(sim_transport_tcp_new(&loop, &t), 0);
  struct sim_fleet *f = make_fleet(&loop, t, 1000, 10, p.port, "k-");
  struct waiter w = {.f = f, .want_online = 1000};
  assert_int_equal(sim_fleet_start(f), 0);
  assert_true(run_until(&loop, &w, all_online, 60));
  run_until(&loop, &w, NULL, 5); /* traffic for a while */
  sim_fleet_quiesce(f);
  assert_true(run_until(&loop, &w, drained, 30));
  print_stats("1000x10", &w.st);
  teardown(&loop, f, t, &p);

  const struct sim_fleet_stats *st = &w.st;
  /* Hub side: everything generated was sent (nothing dropped), acknowledged, nothing lost. */
  assert_int_equal(total(st, 0), total(st, 1));
  assert_int_equal(total(st, 2), total(st, 1));
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

/* Motion on every motion sensor of hubs [from, to): about a third of the devices, two frames
 * each (occupancy and illuminance). Other models have no such event. */
/* A physical event on every device of hubs [from, to) that has one: each sends at least one
 * frame at once. Returns how many devices reacted. */
static uint64_t wave(struct sim_fleet *f, uint32_t from, uint32_t to, uint32_t dph) {
  static const char *const events[] = {"motion", "open", "single", "vibration",    "leak",
                                       "smoke",  "gas",  "toggle", "unlock_finger"};
  uint64_t n = 0;
  for (uint32_t h = from; h < to; h++)
    for (uint32_t s = 0; s < dph; s++)
      for (size_t e = 0; e < sizeof events / sizeof events[0]; e++)
        if (sim_fleet_trigger(f, h, s, events[e]) == 0) {
          n++;
          break;
        }
  return n;
}

static void test_platform_killed_and_restarted(void **state) {
  (void)state;
  char db[256];
  make_db(db, sizeof(db), "kill");
  struct platproc p = {0};
  assert_int_equal(platproc_start(&p, db, 0, NULL), 0);
  uint16_t port = p.port;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct sim_transport *t = NULL;
  assert_int_equal(sim_transport_tcp_new(&loop, &t), 0);
  struct sim_fleet *f = make_fleet(&loop, t, 200, 10, port, "kill-");
  struct waiter w = {.f = f, .want_online = 200};
  assert_int_equal(sim_fleet_start(f), 0);
  assert_true(run_until(&loop, &w, all_online, 30));
  run_until(&loop, &w, NULL, 2);
  /* Freeze the platform so that frames pile up unacknowledged, then crash it: those frames
   * were never stored and must come again. */
  kill(p.pid, SIGSTOP);
  assert_true(wave(f, 0, 100, 10) > 100);
  run_until(&loop, &w, NULL, 1);
  uint64_t unacked_at_crash = w.st.in_flight;
  platproc_kill(&p);
  run_until(&loop, &w, NULL, 1.5); /* hubs notice, back off, retry against a closed port */
  struct sim_fleet_stats during = w.st;
  assert_int_equal(during.hubs_by_state[SIM_HUB_OPEN], 0);
  assert_true(during.disconnects >= 200);
  /* Restart on the same store, with a slow group commit: frames received but not yet
   * committed are what a hub resends after the next drop, which the platform must recognise
   * as duplicates. */
  const char *slow[] = {"--commit-ms", "1500", NULL};
  assert_int_equal(platproc_start(&p, db, port, slow), 0);
  assert_true(run_until(&loop, &w, all_reconnected, 60));
  uint64_t resent_after_restart = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    resent_after_restart += w.st.kind[k].resent;
  run_until(&loop, &w, NULL, 0.2);
  assert_true(wave(f, 100, 200, 10) > 100); /* received, not yet committed when hubs drop */
  run_until(&loop, &w, NULL, 0.2);
  uint64_t sessions = w.st.sessions;
  for (uint32_t i = 0; i < 200; i++)
    sim_fleet_drop_hub(f, i);
  w.want_online = 200;
  assert_true(run_until(&loop, &w, all_online, 30));
  assert_true(w.st.sessions >= sessions + 200);
  run_until(&loop, &w, NULL, 1);
  sim_fleet_quiesce(f);
  assert_true(run_until(&loop, &w, drained, 30));
  print_stats("kill+restart", &w.st);
  teardown(&loop, f, t, &p);

  const struct sim_fleet_stats *st = &w.st;
  uint64_t resent = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    resent += st->kind[k].resent;
  long long stored = platproc_query(db, "SELECT count(*) FROM reports");
  long long dups = platform_duplicates(&p);
  printf("unacked at crash %llu, resent after restart %llu, resent in all %llu, platform "
         "duplicates %lld, stored %lld\n",
         (unsigned long long)unacked_at_crash, (unsigned long long)resent_after_restart,
         (unsigned long long)resent, dups, stored);
  assert_true(unacked_at_crash > 0);
  assert_true(resent_after_restart >= unacked_at_crash);
  assert_true(dups > 0);
  assert_true(st->connects > 600);              /* failed attempts while the platform was down */
  assert_int_equal(total(st, 0), total(st, 1)); /* every message acknowledged in the end */
  assert_int_equal(total(st, 2), total(st, 1)); /* and nothing dropped */
  /* Exactly once in the store, whatever was resent. */
  assert_int_equal(stored, (long long)st->kind[SIM_SEQ_REPORT].acked);
  assert_int_equal(platproc_query(db, "SELECT count(*) FROM devices"), 2000);
  cleanup_db(db);
}

/* A platform that stops answering (frozen, its sockets still accepting bytes) is detected by
 * the heartbeat rule: nothing received for 3 heartbeat periods closes the session with
 * TIMEOUT. Once it answers again, every hub is back and nothing is lost. */
static void test_silent_platform(void **state) {
  (void)state;
  char db[256];
  make_db(db, sizeof(db), "silent");
  struct platproc p = {0};
  const char *hb[] = {"--heartbeat", "1", NULL};
  assert_int_equal(platproc_start(&p, db, 0, hb), 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct sim_transport *t = NULL;
  assert_int_equal(sim_transport_tcp_new(&loop, &t), 0);
  struct sim_fleet *f = make_fleet(&loop, t, 50, 4, p.port, "silent-");
  struct waiter w = {.f = f, .want_online = 50};
  assert_int_equal(sim_fleet_start(f), 0);
  assert_true(run_until(&loop, &w, all_online, 30));
  kill(p.pid, SIGSTOP);
  run_until(&loop, &w, NULL, 5.5);
  uint64_t timeouts = 0;
  for (size_t i = 0; i < w.st.n_errors; i++)
    if (strcmp(w.st.errors[i].name, "TIMEOUT") == 0)
      timeouts = w.st.errors[i].count;
  printf("silent platform: %llu sessions timed out, %u hubs online while it was frozen\n",
         (unsigned long long)timeouts, w.st.hubs_by_state[SIM_HUB_OPEN]);
  assert_true(timeouts >= 50);
  assert_int_equal(w.st.hubs_by_state[SIM_HUB_OPEN], 0);
  kill(p.pid, SIGCONT);
  assert_true(run_until(&loop, &w, all_reconnected, 60));
  sim_fleet_quiesce(f);
  assert_true(run_until(&loop, &w, drained, 30));
  teardown(&loop, f, t, &p);
  assert_int_equal(total(&w.st, 0), total(&w.st, 1));
  assert_int_equal(total(&w.st, 2), total(&w.st, 1));
  assert_int_equal(platproc_query(db, "SELECT count(*) FROM reports"),
                   (long long)w.st.kind[SIM_SEQ_REPORT].acked);
  cleanup_db(db);
}

static int setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thousand_hubs),
      cmocka_unit_test(test_platform_killed_and_restarted),
      cmocka_unit_test(test_silent_platform),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
