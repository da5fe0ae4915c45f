/* The virtual clock: a fleet and the reference platform in one loop over the mem transport,
 * driven by sim_vdriver. Ten simulated minutes take a fraction of that in wall time, every
 * report is acknowledged, and two runs with the same seed store the same reports byte for byte
 * (frames, timestamps, boot ids), while another seed stores different ones. */
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
#include "sim/core/hash.h"
#include "sim/fleet/fleet.h"
#include "sim/loop/vdriver.h"

struct outcome {
  uint64_t reports, acked, joined, hash, rows;
  uint64_t ack_p99, ack_max;
  double wall_s;
  sim_time_t end;
};

static int mem_busy(void *arg) {
  return sim_transport_mem_busy(arg);
}

static void stopped_fleet(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}
static void stopped_plat(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

/* FNV-1a over every stored report, in key order. */
static void hash_store(const char *path, struct outcome *o) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT hub_id, boot_id, seq, eui64, cluster, zcl_frame, "
                                      "ts_ms, received_ms FROM reports ORDER BY hub_id, seq",
                                      -1, &s, NULL),
                   SQLITE_OK);
  uint64_t h = SIM_HASH_FNV64_INIT;
  while (sqlite3_step(s) == SQLITE_ROW) {
    o->rows++;
    for (int c = 0; c < 8; c++) {
      const unsigned char *p = sqlite3_column_blob(s, c);
      int n = sqlite3_column_bytes(s, c);
      h = sim_hash_fnv64(h, p, (size_t)n);
      h = sim_hash_fnv64(h, "\xFF", 1);
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  o->hash = h;
}

static void run(uint64_t seed, struct outcome *o) {
  memset(o, 0, sizeof *o);
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  char db[] = "/tmp/hubsim-virtual-XXXXXX";
  int fd = mkstemp(db);
  assert_true(fd >= 0);
  close(fd);
  uint64_t t0 = uv_hrtime();
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sim_transport_mem_new(&loop, &t), 0);
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = db,
                           .fleet_key = key,
                           .fleet_key_len = sizeof(key) - 1,
                           .virtual_clock = 1,
                           .seed = seed};
  assert_int_equal(plat_server_new(&loop, t, &pc, &srv), 0);
  assert_int_equal(plat_server_start(srv), 0);
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = 20;
  cfg.devices_per_hub = 5;
  snprintf(cfg.platform.host, sizeof(cfg.platform.host), "platform");
  cfg.platform.port = plat_server_port(srv);
  cfg.n_mix = 0;
  for (size_t i = 0; i < sim_model_count() && cfg.n_mix < SIM_FLEET_MAX_MIX; i++) {
    cfg.mix_model[cfg.n_mix] = (uint16_t)i;
    cfg.mix_weight[cfg.n_mix++] = 1;
  }
  cfg.seed = seed;
  cfg.ramp = 10;
  cfg.virtual_clock = 1;
  assert_int_equal(sim_fleet_new(&loop, t, &cfg, &f), 0);

  struct sim_vdriver d;
  sim_vdriver_init(&d, &loop, mem_busy, t);
  assert_int_equal(sim_vdriver_add(&d, sim_fleet_sched(f)), 0);
  assert_int_equal(sim_vdriver_add(&d, plat_server_sched(srv)), 0);
  assert_int_equal(sim_fleet_start(f), 0);
  assert_int_equal(sim_vdriver_run(&d, SIM_SEC(600), NULL, NULL), 0);
  sim_fleet_quiesce(f);
  assert_int_equal(sim_vdriver_run(&d, SIM_SEC(630), NULL, NULL), 0);

  static struct sim_fleet_stats st;
  sim_fleet_stats(f, &st);
  o->reports = st.kind[SIM_SEQ_REPORT].generated;
  o->acked = st.kind[SIM_SEQ_REPORT].acked;
  o->joined = st.kind[SIM_SEQ_JOINED].acked;
  o->ack_p99 = sim_hist_quantile(&st.ack_latency, 0.99);
  o->ack_max = st.ack_latency.max;
  o->end = d.now;
  assert_int_equal(st.in_flight, 0);
  assert_int_equal(st.queued, 0);
  assert_int_equal(st.hubs_by_state[SIM_HUB_OPEN], 20);

  int fs = 0, ps = 0;
  sim_fleet_stop(f, stopped_fleet, &fs);
  assert_int_equal(plat_server_stop(srv, stopped_plat, &ps), 0);
  for (int i = 0; i < 1000 && !(fs && ps); i++)
    assert_true(sim_vdriver_step(&d, d.now + SIM_MS(100)) >= 0);
  assert_true(fs && ps);
  sim_vdriver_remove(&d, sim_fleet_sched(f));
  sim_vdriver_remove(&d, plat_server_sched(srv));
  sim_fleet_free(f);
  plat_server_free(srv);
  uv_run(&loop, UV_RUN_NOWAIT);
  sim_transport_free(t);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&loop), 0);
  o->wall_s = (double)(uv_hrtime() - t0) / 1e9;
  hash_store(db, o);
  unlink(db);
  char side[64];
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
  printf("seed %llu: %llu reports, %llu acked, %llu joins, %llu rows stored, hash %016llx, "
         "ack p99 %.3f ms max %.3f ms; 630 simulated s in %.2f s of wall time\n",
         (unsigned long long)seed, (unsigned long long)o->reports, (unsigned long long)o->acked,
         (unsigned long long)o->joined, (unsigned long long)o->rows, (unsigned long long)o->hash,
         (double)o->ack_p99 / 1000.0, (double)o->ack_max / 1000.0, o->wall_s);
}

static void test_virtual_runs_repeat(void **state) {
  (void)state;
  struct outcome a, b, c;
  run(7, &a);
  run(7, &b);
  run(8, &c);
  assert_true(a.reports > 100);
  assert_int_equal(a.acked, a.reports);
  assert_int_equal(a.rows, a.reports);
  assert_int_equal(a.joined, 100);
  assert_int_equal(a.reports, b.reports);
  assert_int_equal(a.hash, b.hash);
  assert_int_equal(a.ack_p99, b.ack_p99);
  assert_int_equal(a.ack_max, b.ack_max);
  assert_true(a.hash != c.hash);
}

static int setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_virtual_runs_repeat)};
  return cmocka_run_group_tests(tests, setup, NULL);
}
