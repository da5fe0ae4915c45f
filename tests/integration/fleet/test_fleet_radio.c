/* The air between devices and their hub, against the reference platform over the mem
 * transport: commands to sleepy end devices wait for the device's poll (and the wait shows in
 * the command result the platform stores), commands to a device that never polls expire, and
 * radio loss and delay are accounted for frame by frame.
 *
 * The devices are small models defined here, so that the poll grid and every frame they emit
 * are known exactly; the catalogue models use the same engine paths. Everything runs on the
 * virtual clock (sim_vdriver): a command reaches the hub at the moment it is sent, so the wait
 * for a poll is exact, and every wait is for a condition, bounded in simulated time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "sim/loop/vdriver.h"

#define POLL_MS 2000u
#define SPEEDUP 10.0
#define LATENCY_US 30000u

/* ---- the test models ---- */

static struct {
  sim_time_t delivered[16]; /* device time at which each command reached the device */
  int n_delivered;
  uint64_t emitted; /* frames the ticking model emitted */
} M;

static void quiet_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                       int rejoin) {
  (void)m, (void)d, (void)rejoin;
  env->next = 0; /* never wakes on its own: it only polls */
}
static void no_tick(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env) {
  (void)m, (void)d;
  env->next = 0;
}
static int record_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                          const struct sim_dev_cmd *cmd, uint32_t *latency_us) {
  (void)m, (void)d, (void)cmd;
  if (M.n_delivered < 16)
    M.delivered[M.n_delivered++] = env->now;
  *latency_us = LATENCY_US;
  return 0;
}

/* Emits one 5-byte report every second (device time). */
static void ticking_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                         int rejoin) {
  (void)m, (void)d, (void)rejoin;
  env->next = env->now + 1000000;
}
static void ticking_tick(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env) {
  (void)m;
  uint8_t zcl[] = {0x18, d->tsn++, 0x0A, 0x00, 0x00, 0x10, 0x01};
  M.emitted++;
  env->emit(env, 1, 0x0006, zcl, sizeof zcl);
  env->next = env->due + 1000000;
}

static const uint16_t in_clusters[] = {0x0000, 0x0006};
static const struct sim_model_endpoint eps[] = {{1, 0x0104, 0x0302, in_clusters, 2, NULL, 0}};
static const struct sim_model_ops polling_ops = {quiet_join, no_tick, record_command, NULL};
static const struct sim_model_ops ticking_ops = {ticking_join, ticking_tick, record_command, NULL};

static const struct sim_model polling = {
    .model_id = "test.sleepy.poll2s",
    .manufacturer = "TEST",
    .power_source = SIM_POWER_BATTERY,
    .logical_type = SIM_LOGICAL_END_DEVICE,
    .sleepy = 1,
    .poll_ms = POLL_MS,
    .endpoints = eps,
    .n_endpoints = 1,
    .ops = &polling_ops,
};
static const struct sim_model deaf = {
    .model_id = "test.sleepy.never",
    .manufacturer = "TEST",
    .power_source = SIM_POWER_BATTERY,
    .logical_type = SIM_LOGICAL_END_DEVICE,
    .sleepy = 1,
    .poll_ms = 0, /* polls only after transmitting, and it never transmits */
    .endpoints = eps,
    .n_endpoints = 1,
    .ops = &polling_ops,
};
static const struct sim_model ticking = {
    .model_id = "test.router.ticking",
    .manufacturer = "TEST",
    .power_source = SIM_POWER_MAINS,
    .logical_type = SIM_LOGICAL_ROUTER,
    .endpoints = eps,
    .n_endpoints = 1,
    .ops = &ticking_ops,
};

/* ---- harness ---- */

static struct {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  struct sim_vdriver d;
  struct sim_fleet_stats st;
  struct plat_counters pc;
  char db[64];
} T;

typedef int (*pred_fn)(void);
static pred_fn P;
static void refresh(void) {
  sim_fleet_stats(T.f, &T.st);
  plat_server_counters(T.srv, &T.pc);
}
static int stop_when(void *arg) {
  (void)arg;
  refresh();
  return P();
}
/* Runs simulated time until p() holds (looked at after every event) or timeout_s of simulated
 * time has passed. Returns p(). */
static int wait_for(pred_fn p, double timeout_s) {
  P = p;
  assert_int_equal(sim_vdriver_run(&T.d, T.d.now + (sim_time_t)(timeout_s * 1e6), stop_when, NULL),
                   0);
  refresh();
  return p();
}
static int mem_busy(void *arg) {
  return sim_transport_mem_busy(arg);
}
static int online(void) {
  return T.st.hubs_by_state[SIM_HUB_OPEN] == 1 && T.st.queued == 0 && T.st.in_flight == 0;
}
static uint64_t want_done;
static int results_done(void) {
  return T.pc.commands_ok + T.pc.commands_failed >= want_done && T.st.in_flight == 0 &&
         T.st.queued == 0;
}
static uint64_t want_reports;
static int reports_done(void) {
  return T.st.kind[SIM_SEQ_REPORT].acked >= want_reports && T.st.in_flight == 0;
}

static void stopped_fleet(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}
static void stopped_plat(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

static void start(uint16_t model, uint32_t devices, double loss, sim_time_t hop_delay) {
  memset(&M, 0, sizeof M);
  assert_int_equal(uv_loop_init(&T.loop), 0);
  assert_int_equal(sim_transport_mem_new(&T.loop, &T.t), 0);
  snprintf(T.db, sizeof T.db, "/tmp/hubsim-radio-XXXXXX");
  int fd = mkstemp(T.db);
  assert_true(fd >= 0);
  close(fd);
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = T.db,
                           .fleet_key = key,
                           .fleet_key_len = sizeof(key) - 1,
                           .virtual_clock = 1,
                           .seed = 5};
  assert_int_equal(plat_server_new(&T.loop, T.t, &pc, &T.srv), 0);
  assert_int_equal(plat_server_start(T.srv), 0);
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = 1;
  cfg.devices_per_hub = devices;
  snprintf(cfg.platform.host, sizeof(cfg.platform.host), "platform");
  cfg.platform.port = plat_server_port(T.srv);
  cfg.n_mix = 1;
  cfg.mix_model[0] = model;
  cfg.mix_weight[0] = 1;
  cfg.seed = 5;
  cfg.speedup = SPEEDUP;
  cfg.sleepy_hold = 3 * 1000000; /* device time: 0.3 s of engine time */
  cfg.radio_hops = 2;
  cfg.radio_loss = loss;
  cfg.radio_hop_delay = hop_delay;
  cfg.virtual_clock = 1;
  assert_int_equal(sim_fleet_new(&T.loop, T.t, &cfg, &T.f), 0);
  sim_vdriver_init(&T.d, &T.loop, mem_busy, T.t);
  assert_int_equal(sim_vdriver_add(&T.d, sim_fleet_sched(T.f)), 0);
  assert_int_equal(sim_vdriver_add(&T.d, plat_server_sched(T.srv)), 0);
  assert_int_equal(sim_fleet_start(T.f), 0);
  assert_true(wait_for(online, 10));
}

static void finish(void) {
  int fs = 0, ps = 0;
  sim_fleet_stop(T.f, stopped_fleet, &fs);
  assert_int_equal(plat_server_stop(T.srv, stopped_plat, &ps), 0);
  for (int i = 0; i < 1000 && !(fs && ps); i++)
    assert_true(sim_vdriver_step(&T.d, T.d.now + SIM_MS(100)) >= 0);
  assert_true(fs && ps);
  sim_vdriver_remove(&T.d, sim_fleet_sched(T.f));
  sim_vdriver_remove(&T.d, plat_server_sched(T.srv));
  sim_fleet_free(T.f);
  plat_server_free(T.srv);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  sim_transport_free(T.t);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&T.loop), 0);
}

/* The device latency and status the platform stored for cmd_id. */
static void stored_result(uint64_t cmd_id, int64_t *status, int64_t *latency_ms) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(T.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT result_status, device_latency_ms FROM commands "
                                      "WHERE cmd_id = ?1",
                                      -1, &s, NULL),
                   SQLITE_OK);
  sqlite3_bind_int64(s, 1, (sqlite3_int64)cmd_id);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  *status = sqlite3_column_int64(s, 0);
  *latency_ms = sqlite3_column_int64(s, 1);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

/* Lets simulated time pass. */
static int never(void) {
  return 0;
}

static void test_sleepy_command_waits_for_poll(void **state) {
  (void)state;
  start((uint16_t)sim_model_find(polling.model_id), 1, 0, 0);
  uint64_t eui = sim_fleet_device_eui64(T.f, 0, 0);
  uint64_t ids[3];
  sim_time_t sent_dev[3];
  for (int i = 0; i < 3; i++) {
    /* Commands at uneven moments: each waits for the device's next poll. */
    wait_for(never, 0.037 * (i + 1));
    sent_dev[i] = (sim_time_t)((double)sim_fleet_now(T.f) * SPEEDUP);
    assert_int_equal(
        plat_server_command(T.srv, "hub-000000", eui, 1, 0x0006, 0x02, NULL, 0, 0, 0, &ids[i]), 0);
  }
  want_done = 3;
  if (!wait_for(results_done, 10))
    fail_msg("%llu of 3 command results after 10 s",
             (unsigned long long)(T.pc.commands_ok + T.pc.commands_failed));
  assert_int_equal(M.n_delivered, 3);
  assert_int_equal(T.st.cmds_held, 3);
  const sim_time_t period = (sim_time_t)POLL_MS * 1000;
  for (int i = 0; i < 3; i++) {
    int64_t status, latency_ms;
    stored_result(ids[i], &status, &latency_ms);
    sim_time_t waited = M.delivered[i] - sent_dev[i];
    printf("command %d: sent at %.3f s, delivered at the poll at %.3f s (device time), result "
           "latency %lld ms\n",
           i, (double)sent_dev[i] / 1e6, (double)M.delivered[i] / 1e6, (long long)latency_ms);
    assert_int_equal(status, 0);
    /* Never before it was sent, never later than one poll period after (the command reaches
     * the hub when it is sent: no time passes on the way on the virtual clock; 1 ms of device
     * time covers the engine's 64 us ticks at the speedup of 10). */
    assert_true(M.delivered[i] >= sent_dev[i]);
    assert_true(waited <= period + 1000);
    /* The result carries the wait plus the device's own latency (ms, rounded up; the engine's
     * 64 µs ticks and the speedup blur it by a few ms). */
    int64_t expect_ms = (int64_t)((waited + LATENCY_US) / 1000);
    assert_true(latency_ms >= expect_ms - 25 && latency_ms <= expect_ms + 25);
    /* Deliveries fall on one poll grid. */
    sim_time_t off = (M.delivered[i] - M.delivered[0]) % period;
    assert_true(off < 20000 || period - off < 20000);
  }
  finish();
}

static void test_sleepy_command_expires(void **state) {
  (void)state;
  start((uint16_t)sim_model_find(deaf.model_id), 1, 0, 0);
  uint64_t eui = sim_fleet_device_eui64(T.f, 0, 0);
  uint64_t id;
  assert_int_equal(
      plat_server_command(T.srv, "hub-000000", eui, 1, 0x0006, 0x01, NULL, 0, 0, 0, &id), 0);
  want_done = 1;
  assert_true(wait_for(results_done, 10));
  int64_t status, latency_ms;
  stored_result(id, &status, &latency_ms);
  printf("command to a device that never polls: status %lld after %lld ms\n", (long long)status,
         (long long)latency_ms);
  assert_int_equal(status, 3); /* COMMAND_TIMEOUT */
  assert_int_equal(M.n_delivered, 0);
  assert_int_equal(T.st.cmds_expired, 1);
  finish();
}

/* At least 200 frames emitted and 3 of them lost after every retry. */
static int lost_some(void) {
  return M.emitted >= 200 && T.st.radio_lost >= 3;
}
/* Every frame emitted has reached the hub or been lost: nothing left in the air. */
static int air_empty(void) {
  return T.st.kind[SIM_SEQ_REPORT].generated + T.st.radio_lost == M.emitted;
}

static void test_radio_loss_and_delay_accounted(void **state) {
  (void)state;
  /* Two hops of 20 ms, and a third of the attempts fail: some frames are lost after four
   * tries on a hop, the rest arrive late. */
  start((uint16_t)sim_model_find(ticking.model_id), 20, 0.33, 20000);
  /* Until some frames were lost on the radio and many were sent. */
  if (!wait_for(lost_some, 60))
    fail_msg("after 60 s: %llu frames emitted, %llu lost on the radio (want 200 and 3)",
             (unsigned long long)M.emitted, (unsigned long long)T.st.radio_lost);
  uint64_t lag_min = T.st.send_lag.min; /* before the end delivers what is in the air at once */
  sim_fleet_quiesce(T.f);
  if (!wait_for(air_empty, 5))
    fail_msg("5 s after the end: %llu frames emitted, %llu reached the hub, %llu lost",
             (unsigned long long)M.emitted, (unsigned long long)T.st.kind[SIM_SEQ_REPORT].generated,
             (unsigned long long)T.st.radio_lost);
  uint64_t gen = T.st.kind[SIM_SEQ_REPORT].generated;
  printf("emitted %llu frames: %llu reached the hub, %llu lost on the radio, %llu retries; "
         "send lag min %.1f ms\n",
         (unsigned long long)M.emitted, (unsigned long long)gen,
         (unsigned long long)T.st.radio_lost, (unsigned long long)T.st.radio_retries,
         (double)lag_min / 1000.0);
  /* Each lost frame failed four tries on a hop: more retries than losses. */
  assert_true(T.st.radio_retries > T.st.radio_lost);
  /* Every frame crossed at least one hop of 20 ms before the hub could send it. */
  assert_true(lag_min >= 20000);
  want_reports = gen;
  if (!wait_for(reports_done, 10))
    fail_msg("%llu of %llu reports acknowledged after 10 s",
             (unsigned long long)T.st.kind[SIM_SEQ_REPORT].acked, (unsigned long long)gen);
  assert_int_equal(T.st.kind[SIM_SEQ_REPORT].acked, gen);
  finish();
}

static int setup(void **state) {
  (void)state;
  return sim_model_register(&polling) < 0 || sim_model_register(&deaf) < 0 ||
         sim_model_register(&ticking) < 0;
}

static int teardown_db(void **state) {
  (void)state;
  if (T.db[0])
    unlink(T.db);
  T.db[0] = 0;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_sleepy_command_waits_for_poll, teardown_db),
      cmocka_unit_test_teardown(test_sleepy_command_expires, teardown_db),
      cmocka_unit_test_teardown(test_radio_loss_and_delay_accounted, teardown_db),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
