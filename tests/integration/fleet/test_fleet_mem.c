/* The whole path in one loop over the mem transport: a fleet and the reference platform (its
 * store in memory). Commands as an app sends them, device leave and rejoin, a triggered event,
 * and the two sides' counts agreeing at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <uv.h>

#include "devices/cat_global.h"
#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"

static struct {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  struct sim_fleet_stats st;
  struct plat_counters pc;
} T;

typedef int (*pred_fn)(void);

static pred_fn P;
static void on_tick(uv_timer_t *t) {
  sim_fleet_stats(T.f, &T.st);
  plat_server_counters(T.srv, &T.pc);
  if (P() || uv_hrtime() > *(uint64_t *)t->data)
    uv_stop(&T.loop);
}

static int wait_for(pred_fn p, double timeout_s) {
  uv_timer_t tick;
  uint64_t deadline = uv_hrtime() + (uint64_t)(timeout_s * 1e9);
  P = p;
  uv_timer_init(&T.loop, &tick);
  tick.data = &deadline;
  uv_timer_start(&tick, on_tick, 5, 5);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  return p();
}

static int online(void) {
  return T.st.hubs_by_state[SIM_HUB_OPEN] == 3;
}
static int drained(void) {
  return online() && T.st.in_flight == 0 && T.st.queued == 0;
}
static uint64_t ok0, failed0, left0, joined0;
static int cmd_ok(void) {
  return T.pc.commands_ok == ok0 + 1 && drained();
}
static int cmd_failed(void) {
  return T.pc.commands_failed == failed0 + 1 && drained();
}
static int left(void) {
  return T.pc.left == left0 + 1 && drained();
}
static int rejoined(void) {
  return T.pc.joined == joined0 + 1 && drained();
}

static void stopped_fleet(struct sim_fleet *f, void *arg) {
  *(int *)arg = 1;
}
static void stopped_plat(struct plat_server *s, void *arg) {
  *(int *)arg = 1;
}

static void test_commands_leave_rejoin(void **state) {
  (void)state;
  assert_int_equal(uv_loop_init(&T.loop), 0);
  assert_int_equal(sim_transport_mem_new(&T.loop, &T.t), 0);
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = ":memory:",
                           .fleet_key = key,
                           .fleet_key_len = sizeof(key) - 1};
  assert_int_equal(plat_server_new(&T.loop, T.t, &pc, &T.srv), 0);
  assert_int_equal(plat_server_start(T.srv), 0);
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = 3;
  cfg.devices_per_hub = 6;
  snprintf(cfg.platform.host, sizeof(cfg.platform.host), "platform");
  cfg.platform.port = plat_server_port(T.srv);
  cfg.n_mix = 2;
  cfg.mix_model[0] = (uint16_t)sim_model_find("lumi.plug.maeu01");
  cfg.mix_model[1] = (uint16_t)sim_model_find("lumi.sensor_motion.aq2");
  cfg.mix_weight[0] = cfg.mix_weight[1] = 1;
  cfg.seed = 11;
  assert_int_equal(sim_fleet_new(&T.loop, T.t, &cfg, &T.f), 0);
  assert_int_equal(sim_fleet_start(T.f), 0);
  assert_true(wait_for(drained, 10));

  /* A command as an app sends it: toggle a plug. */
  uint32_t plug = 0, motion = 0;
  for (uint32_t s = 0; s < 6; s++) {
    if (sim_fleet_trigger(T.f, 0, s, "motion") == 0)
      motion = s + 100;
    else
      plug = s + 100;
  }
  assert_true(plug && motion);
  plug -= 100;
  motion -= 100;
  uint64_t eui = sim_fleet_device_eui64(T.f, 0, plug);
  ok0 = T.pc.commands_ok;
  uint64_t id;
  assert_int_equal(
      plat_server_command(T.srv, "hub-000000", eui, 1, 0x0006, 0x02, NULL, 0, 0, 0, &id), 0);
  assert_true(wait_for(cmd_ok, 10));

  /* The plug leaves: the platform learns it, and a command to it fails as unknown. */
  left0 = T.pc.left;
  assert_int_equal(sim_fleet_device_leave(T.f, 0, plug), 0);
  assert_int_equal(sim_fleet_device_leave(T.f, 0, plug), SIM_EINVAL);
  assert_true(wait_for(left, 10));
  failed0 = T.pc.commands_failed;
  assert_int_equal(
      plat_server_command(T.srv, "hub-000000", eui, 1, 0x0006, 0x01, NULL, 0, 0, 0, &id), 0);
  assert_true(wait_for(cmd_failed, 10));
  assert_int_equal(T.st.commands_failed, 1);

  /* It rejoins, announced as a rejoin, and accepts commands again. */
  joined0 = T.pc.joined;
  assert_int_equal(sim_fleet_device_join(T.f, 0, plug), 0);
  assert_int_equal(sim_fleet_device_join(T.f, 0, plug), SIM_EEXISTS);
  assert_true(wait_for(rejoined, 10));
  ok0 = T.pc.commands_ok;
  assert_int_equal(
      plat_server_command(T.srv, "hub-000000", eui, 1, 0x0006, 0x01, NULL, 0, 0, 0, &id), 0);
  assert_true(wait_for(cmd_ok, 10));

  /* Both sides agree on every report. */
  assert_true(wait_for(drained, 10));
  assert_int_equal(T.st.kind[SIM_SEQ_REPORT].acked, T.pc.reports_new);
  assert_int_equal(T.st.kind[SIM_SEQ_REPORT].sent, T.st.kind[SIM_SEQ_REPORT].acked);
  assert_int_equal(T.st.kind[SIM_SEQ_LEFT].acked, 1);
  assert_int_equal(T.st.kind[SIM_SEQ_JOINED].acked, 18 + 1);
  printf("reports %llu acked, platform stored %llu; commands ok %llu failed %llu\n",
         (unsigned long long)T.st.kind[SIM_SEQ_REPORT].acked, (unsigned long long)T.pc.reports_new,
         (unsigned long long)T.pc.commands_ok, (unsigned long long)T.pc.commands_failed);

  int fs = 0, ps = 0;
  sim_fleet_stop(T.f, stopped_fleet, &fs);
  assert_int_equal(plat_server_stop(T.srv, stopped_plat, &ps), 0);
  for (int i = 0; i < 100 && !(fs && ps); i++)
    uv_run(&T.loop, UV_RUN_ONCE);
  assert_true(fs && ps);
  sim_fleet_free(T.f);
  plat_server_free(T.srv);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  sim_transport_free(T.t);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&T.loop), 0);
}

static int setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_commands_leave_rejoin)};
  return cmocka_run_group_tests(tests, setup, NULL);
}
