/* Daily timers of the reference platform on the virtual clock: "every day at 07:00 (and 19:30),
 * command the plug". Over three simulated days each timer fires exactly once a day, at its
 * virtual time to the millisecond, and the plug receives every command; a timer whose target
 * hub is offline counts the occurrence without sending. Two runs give the same times. */
#include <jansson.h>

#include "world.h"

static struct world W;

#define PLUG "lumi.plug.maeu01"
#define DAY SIM_SEC(86400)
#define AT(h, m) SIM_SEC((uint64_t)(h)*3600u + (uint64_t)(m)*60u)

static uint64_t want_ok;
static int cmds_ok(struct world *w) {
  return w->pc.commands_ok >= want_ok && w_drained(w);
}

struct run_out {
  sim_time_t plug_at[8];
  uint64_t plug_cmds;
};

static void add_timer(struct world *w, uint32_t h, uint32_t m, const char *hub, uint32_t cmd,
                      uint64_t *id) {
  struct plat_timer t = {
      .hour = h,
      .minute = m,
      .then = {.hub_id = hub, .eui64 = w->p_eui, .endpoint = 1, .cluster = 0x0006, .command = cmd}};
  assert_int_equal(plat_server_timer_add(w->srv, &t, id), 0);
}

static void run(uint64_t seed, struct run_out *out) {
  struct world *w = &W;
  const char *models[] = {PLUG};
  w_platform(w, 1, seed);
  /* Added before the start (armed by it), with a target hub that never connects. */
  uint64_t id_off;
  struct plat_timer t_off = {
      .hour = 12, .then = {.hub_id = "hub-999999", .endpoint = 1, .cluster = 6, .command = 2}};
  assert_int_equal(plat_server_timer_add(w->srv, &t_off, &id_off), 0);
  w_start(w, 1, 2, models, 1, seed);
  assert_int_equal(w_find(w, PLUG, 0, &w->p_hub, &w->p_slot), 0);
  w->p_eui = sim_fleet_device_eui64(w->f, w->p_hub, w->p_slot);
  sim_fleet_hub_id(w->f, w->p_hub, w->p_hub_id, sizeof(w->p_hub_id));
  uint64_t id7, id19;
  add_timer(w, 7, 0, w->p_hub_id, 0x01, &id7);    /* On at 07:00 */
  add_timer(w, 19, 30, w->p_hub_id, 0x00, &id19); /* Off at 19:30 */
  assert_int_equal(id_off, 1);
  assert_int_equal(id7, 2);
  assert_true(w_wait(w, w_drained, 60));

  char *js = plat_server_timers_json(w->srv);
  assert_non_null(js);
  printf("%s\n", js);
  json_error_t jerr;
  json_t *o = json_loads(js, 0, &jerr);
  assert_non_null(o);
  /* 2026-01-01T07:00:00Z: the driver's wall clock starts at midnight. */
  assert_int_equal(json_integer_value(
                       json_object_get(json_array_get(json_object_get(o, "timers"), 1), "next_ms")),
                   1767250800000ll);
  json_decref(o);
  free(js);

  uint64_t base_cmds = w->plug_cmds;
  for (uint64_t day = 0; day < 3; day++) {
    sim_time_t d0 = day * DAY;
    w_run_to(w, d0 + AT(7, 0) - SIM_MS(1));
    assert_int_equal(w->pc.timers_fired, 3 * day);
    assert_int_equal(w->pc.timer_commands, 2 * day);
    w_run_to(w, d0 + AT(7, 0));
    assert_int_equal(w->pc.timers_fired, 3 * day + 1);
    assert_int_equal(w->pc.timer_commands, 2 * day + 1);
    want_ok = 2 * day + 1;
    assert_true(w_wait(w, cmds_ok, 10));
    w_run_to(w, d0 + AT(12, 0) - SIM_MS(1));
    assert_int_equal(w->pc.timer_target_offline, day);
    w_run_to(w, d0 + AT(12, 0));
    assert_int_equal(w->pc.timer_target_offline, day + 1);
    assert_int_equal(w->pc.timers_fired, 3 * day + 2);
    w_run_to(w, d0 + AT(19, 30) - SIM_MS(1));
    assert_int_equal(w->pc.timers_fired, 3 * day + 2);
    w_run_to(w, d0 + AT(19, 30));
    assert_int_equal(w->pc.timers_fired, 3 * day + 3);
    assert_int_equal(w->pc.timer_commands, 2 * day + 2);
    want_ok = 2 * day + 2;
    assert_true(w_wait(w, cmds_ok, 10));
  }
  w_run_to(w, 3 * DAY + AT(6, 59));
  assert_true(w_wait(w, w_drained, 10));
  assert_int_equal(w->pc.timers_fired, 9);
  assert_int_equal(w->pc.timer_commands, 6);
  assert_int_equal(w->pc.timer_target_offline, 3);
  assert_int_equal(w->pc.commands_sent, 6);
  assert_int_equal(w->pc.commands_ok, 6);
  assert_int_equal(w->pc.rules_fired, 0);
  assert_int_equal(w->plug_cmds - base_cmds, 6);
  /* Each command reached the plug shortly after its time: On at 07:00, Off at 19:30. */
  for (uint64_t i = 0; i < 6; i++) {
    uint64_t k = base_cmds + i;
    sim_time_t due = (i / 2) * DAY + (i % 2 ? AT(19, 30) : AT(7, 0));
    printf("timer command %llu: due %.3f s, at the plug %.3f s (+%.3f ms), command %u\n",
           (unsigned long long)i, (double)due / 1e6, (double)w->plug_at[k] / 1e6,
           (double)(w->plug_at[k] - due) / 1000.0, w->plug_cmd[k]);
    assert_true(w->plug_at[k] >= due && w->plug_at[k] < due + SIM_SEC(1));
    assert_int_equal(w->plug_cmd[k], i % 2 ? 0x00 : 0x01);
    if (i < 8)
      out->plug_at[i] = w->plug_at[k];
  }
  out->plug_cmds = w->plug_cmds - base_cmds;

  /* A removed timer fires no more. */
  assert_int_equal(plat_server_timer_remove(w->srv, id7), 0);
  assert_int_equal(plat_server_timer_remove(w->srv, id7), SIM_ENOTFOUND);
  w_run_to(w, 3 * DAY + AT(7, 1));
  assert_int_equal(w->pc.timers_fired, 9);
  w_finish(w);
}

static void test_timers_daily_virtual(void **state) {
  (void)state;
  static struct run_out a, b;
  uint64_t t0 = uv_hrtime();
  run(5, &a);
  printf("3 simulated days in %.2f s of wall time\n", (double)(uv_hrtime() - t0) / 1e9);
  run(5, &b);
  assert_int_equal(a.plug_cmds, b.plug_cmds);
  assert_memory_equal(a.plug_at, b.plug_at, sizeof(a.plug_at));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_timers_daily_virtual)};
  return cmocka_run_group_tests(tests, w_setup, NULL);
}
