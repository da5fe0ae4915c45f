/* The fleet's control surface against the reference platform, on the virtual clock (so every
 * timing below is exact and the test is fast): power cut and restore, disconnect and connect,
 * stalled reads, delayed writes, a malformed frame, a skewed clock, per-hub device counts, and
 * the observers. Every message stays accounted for. */
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

#include "devices/cat_global.h"
#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "sim/loop/vdriver.h"

#define HUBS 6u
#define DPH 8u

static struct {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  struct sim_vdriver d;
  struct sim_fleet_stats st;
  struct plat_counters pc;
  char db[64];
  uint64_t obs_reports, obs_commands;
} T;

static int mem_busy(void *arg) {
  return sim_transport_mem_busy(arg);
}

static uint32_t devices_of_hub(void *arg, uint32_t g) {
  (void)arg;
  return 2 + g % 5; /* 2..6 of the 8 slots */
}

static void on_report(void *arg, uint32_t hub, uint32_t slot, uint8_t ep, uint16_t cluster,
                      const uint8_t *zcl, size_t len, sim_time_t intended) {
  (void)arg, (void)hub, (void)slot, (void)ep, (void)cluster, (void)zcl, (void)len, (void)intended;
  T.obs_reports++;
}
static void on_command(void *arg, uint32_t hub, uint32_t slot, const struct sim_dev_cmd *cmd,
                       sim_time_t now) {
  (void)arg, (void)hub, (void)slot, (void)cmd, (void)now;
  T.obs_commands++;
}

static void advance(double seconds) {
  assert_int_equal(sim_vdriver_run(&T.d, T.d.now + (sim_time_t)(seconds * 1e6), NULL, NULL), 0);
  sim_fleet_stats(T.f, &T.st);
  plat_server_counters(T.srv, &T.pc);
}

static void stopped_fleet(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}
static void stopped_plat(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

static int setup_fleet(void **state) {
  (void)state;
  memset(&T, 0, sizeof T);
  if (dev_catalog_register_all() < 0)
    return 1;
  snprintf(T.db, sizeof T.db, "/tmp/hubsim-control-XXXXXX");
  int fd = mkstemp(T.db);
  if (fd < 0)
    return 1;
  close(fd);
  uv_loop_init(&T.loop);
  sim_transport_mem_new(&T.loop, &T.t);
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = T.db,
                           .fleet_key = key,
                           .fleet_key_len = sizeof(key) - 1,
                           .virtual_clock = 1,
                           .seed = 3};
  if (plat_server_new(&T.loop, T.t, &pc, &T.srv) || plat_server_start(T.srv))
    return 1;
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = HUBS;
  cfg.devices_per_hub = DPH;
  snprintf(cfg.platform.host, sizeof(cfg.platform.host), "platform");
  cfg.platform.port = plat_server_port(T.srv);
  cfg.n_mix = 2;
  cfg.mix_model[0] = (uint16_t)sim_model_find("lumi.sensor_motion.aq2");
  cfg.mix_model[1] = (uint16_t)sim_model_find("lumi.plug.maeu01");
  cfg.mix_weight[0] = cfg.mix_weight[1] = 1;
  cfg.seed = 9;
  cfg.speedup = 10;
  cfg.virtual_clock = 1;
  cfg.devices_of_hub = devices_of_hub;
  if (sim_fleet_new(&T.loop, T.t, &cfg, &T.f))
    return 1;
  sim_fleet_observe(T.f, on_report, on_command, NULL);
  sim_vdriver_init(&T.d, &T.loop, mem_busy, T.t);
  sim_vdriver_add(&T.d, sim_fleet_sched(T.f));
  sim_vdriver_add(&T.d, plat_server_sched(T.srv));
  return sim_fleet_start(T.f) != 0;
}

static int teardown_fleet(void **state) {
  (void)state;
  int fs = 0, ps = 0;
  sim_fleet_stop(T.f, stopped_fleet, &fs);
  plat_server_stop(T.srv, stopped_plat, &ps);
  for (int i = 0; i < 1000 && !(fs && ps); i++)
    sim_vdriver_step(&T.d, T.d.now + SIM_MS(100));
  sim_fleet_free(T.f);
  plat_server_free(T.srv);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  sim_transport_free(T.t);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  uv_loop_close(&T.loop);
  unlink(T.db);
  char side[80];
  snprintf(side, sizeof side, "%s-wal", T.db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", T.db);
  unlink(side);
  return !(fs && ps);
}

static uint32_t expected_devices(void) {
  uint32_t n = 0;
  for (uint32_t g = 0; g < HUBS; g++)
    n += devices_of_hub(NULL, g);
  return n;
}

static void test_control_surface(void **state) {
  (void)state;
  advance(5);
  assert_int_equal(T.st.hubs_by_state[SIM_HUB_OPEN], HUBS);
  /* Per-hub device counts: empty slots never join. */
  assert_int_equal(T.st.devices, expected_devices());
  assert_int_equal(T.pc.joined, expected_devices());
  struct sim_device_info di;
  assert_int_equal(sim_fleet_device_info(T.f, 0, 7, &di), 0);
  assert_null(di.model); /* hub 0 has 2 devices */
  assert_int_equal(sim_fleet_device_info(T.f, 0, 1, &di), 0);
  assert_non_null(di.model);
  assert_true(di.joined);
  assert_int_equal(sim_fleet_device_info(T.f, HUBS, 0, &di), SIM_ENOTFOUND);

  /* Stalled reads: acknowledgements wait 20 s, so the ack latency shows it. */
  advance(1);
  uint64_t max0 = T.st.ack_latency.max;
  assert_int_equal(sim_fleet_hub_stall_reads(T.f, 3, SIM_SEC(20)), 0);
  for (uint32_t s = 0; s < devices_of_hub(NULL, 3); s++)
    sim_fleet_trigger(T.f, 3, s, "motion");
  advance(25);
  assert_true(T.st.ack_latency.max >= SIM_SEC(19));
  assert_true(T.st.ack_latency.max > max0);

  /* Delayed writes: for 10 s every write of hub 4 leaves 300 ms late. */
  uint64_t lag_max0 = T.st.send_lag.max;
  assert_int_equal(sim_fleet_hub_delay_writes(T.f, 4, SIM_MS(300), SIM_SEC(10)), 0);
  for (uint32_t s = 0; s < devices_of_hub(NULL, 4); s++)
    sim_fleet_trigger(T.f, 4, s, "motion");
  advance(12);
  assert_true(T.st.send_lag.max >= SIM_MS(299));
  assert_true(T.st.send_lag.max > lag_max0);

  /* Disconnect: the hub stays off until connected; its devices keep queueing. */
  assert_int_equal(sim_fleet_hub_disconnect(T.f, 1), 0);
  assert_int_equal(sim_fleet_hub_disconnect(T.f, 1), SIM_EINVAL);
  advance(60);
  assert_int_equal(sim_fleet_hub_state(T.f, 1), SIM_HUB_STOPPED);
  assert_int_equal(sim_fleet_hub_connect(T.f, 1), 0);
  advance(2);
  assert_int_equal(sim_fleet_hub_state(T.f, 1), SIM_HUB_OPEN);

  /* Power cut: what hub 2 held is lost and counted; on restore its devices rejoin. */
  uint64_t joined0 = T.pc.joined;
  assert_int_equal(sim_fleet_hub_disconnect(T.f, 2), 0); /* let something pile up first */
  for (uint32_t s = 0; s < devices_of_hub(NULL, 2); s++)
    sim_fleet_trigger(T.f, 2, s, "motion");
  advance(1);
  uint64_t held = T.st.queued + T.st.in_flight;
  assert_true(held > 0);
  assert_int_equal(sim_fleet_hub_power(T.f, 2, 0), 0);
  assert_int_equal(sim_fleet_hub_power(T.f, 2, 0), SIM_EINVAL);
  sim_fleet_stats(T.f, &T.st);
  assert_int_equal(T.st.lost_power, held);
  assert_int_equal(T.st.power_cuts, 1);
  assert_int_equal(sim_fleet_hub_connect(T.f, 2), SIM_EINVAL); /* no power */
  assert_int_equal(sim_fleet_hub_power(T.f, 2, 1), 0);
  advance(5);
  assert_int_equal(sim_fleet_hub_state(T.f, 2), SIM_HUB_STOPPED); /* still disconnected */
  assert_int_equal(sim_fleet_hub_connect(T.f, 2), 0);
  advance(5);
  assert_int_equal(sim_fleet_hub_state(T.f, 2), SIM_HUB_OPEN);
  assert_int_equal(T.pc.joined, joined0 + devices_of_hub(NULL, 2)); /* rejoined, announced */

  /* A malformed frame: the platform refuses it and closes; the hub comes back. */
  uint64_t sessions0 = T.st.sessions;
  assert_int_equal(sim_fleet_hub_send_malformed(T.f, 5), 0);
  advance(5);
  assert_true(T.st.sessions > sessions0);
  assert_int_equal(sim_fleet_hub_state(T.f, 5), SIM_HUB_OPEN);

  /* A skewed clock moves the timestamps hub 0 stamps by an hour. */
  assert_int_equal(sim_fleet_hub_skew_clock(T.f, 0, 3600 * 1000), 0);
  for (uint32_t s = 0; s < devices_of_hub(NULL, 0); s++)
    sim_fleet_trigger(T.f, 0, s, "motion");
  advance(3);

  /* Pause: device time stands still (no device wakes up), sessions go on; resume continues. */
  advance(1);
  assert_int_equal(sim_fleet_pause(T.f, 1), 0);
  assert_int_equal(sim_fleet_pause(T.f, 1), SIM_EINVAL);
  uint64_t gen0 = T.st.kind[SIM_SEQ_REPORT].generated, hb0 = T.st.heartbeats_sent;
  advance(600);
  assert_int_equal(T.st.kind[SIM_SEQ_REPORT].generated, gen0);
  assert_true(T.st.heartbeats_sent > hb0); /* the hubs keep their sessions */
  assert_int_equal(sim_fleet_paused(T.f), 1);
  assert_int_equal(sim_fleet_pause(T.f, 0), 0);
  advance(600);
  assert_true(T.st.kind[SIM_SEQ_REPORT].generated > gen0);

  /* Everything settles and adds up. */
  for (uint32_t h = 0; h < HUBS; h++)
    assert_int_equal(sim_fleet_hub_state(T.f, h), SIM_HUB_OPEN);
  sim_fleet_quiesce(T.f);
  advance(10);
  assert_int_equal(T.st.in_flight, 0);
  assert_int_equal(T.st.queued, 0);
  const struct sim_seq_counts *r = &T.st.kind[SIM_SEQ_REPORT];
  printf("reports generated %llu acked %llu dropped %llu; lost to the power cut %llu (all kinds); "
         "faults %llu; observed %llu reports, %llu commands; platform stored %llu\n",
         (unsigned long long)r->generated, (unsigned long long)r->acked,
         (unsigned long long)r->dropped, (unsigned long long)T.st.lost_power,
         (unsigned long long)T.st.faults, (unsigned long long)T.obs_reports,
         (unsigned long long)T.obs_commands, (unsigned long long)T.pc.reports_new);
  assert_int_equal(T.obs_reports, r->generated);
  /* Every sequenced message is acked, dropped, or lost with a hub's memory. */
  uint64_t gen = 0, acked = 0, dropped = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    gen += T.st.kind[k].generated;
    acked += T.st.kind[k].acked;
    dropped += T.st.kind[k].dropped;
  }
  assert_int_equal(gen, acked + dropped + T.st.lost_power);
  assert_int_equal(T.st.faults, 6); /* 2 disconnects, stall, delay, malformed, skew */

  /* The skew shows in what the platform stored: hub 0's reports are an hour ahead. */
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(T.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT MAX(ts_ms - received_ms) FROM reports WHERE "
                                      "hub_id = 'hub-000000'",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  long long ahead = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
  printf("hub-000000 stamps up to %lld ms ahead of the platform's clock\n", ahead);
  assert_true(ahead >= 3600 * 1000 - 1000 && ahead <= 3600 * 1000 + 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_control_surface, setup_fleet, teardown_fleet)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
