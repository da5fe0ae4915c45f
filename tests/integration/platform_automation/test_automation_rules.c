/* Rules of the reference platform ("when device A reports X, command device B") against a real
 * fleet over the mem transport: a motion sensor's occupancy report makes the platform toggle a
 * plug behind another hub, on the virtual clock (exact counts over several detections) and on
 * the real one; a rule whose value does not match never fires; a rule whose target hub is
 * offline counts the match without sending. Also the admin lines and the API's argument checks. */
#include <jansson.h>
#include <math.h>

#include "world.h"

static struct world W;

#define MOTION "lumi.sensor_motion.aq2"
#define PLUG "lumi.plug.maeu01"

static uint64_t want_ok, want_fleet_ok;
static int cmds_ok(struct world *w) {
  return w->pc.commands_ok >= want_ok && w->st.commands_ok >= want_fleet_ok && w_drained(w);
}

/* Finds a motion sensor and a plug, on different hubs when the mix allows. */
static void pick_devices(struct world *w) {
  assert_int_equal(w_find(w, MOTION, 0, &w->m_hub, &w->m_slot), 0);
  assert_int_equal(w_find(w, PLUG, w->m_hub + 1, &w->p_hub, &w->p_slot), 0);
  w->m_eui = sim_fleet_device_eui64(w->f, w->m_hub, w->m_slot);
  w->p_eui = sim_fleet_device_eui64(w->f, w->p_hub, w->p_slot);
  sim_fleet_hub_id(w->f, w->m_hub, w->m_hub_id, sizeof(w->m_hub_id));
  sim_fleet_hub_id(w->f, w->p_hub, w->p_hub_id, sizeof(w->p_hub_id));
}

/* Motion on A (occupancy = 1) -> Toggle on B. */
static void rule_motion_toggle(struct world *w, enum plat_rule_op op, double value, const char *hub,
                               uint64_t *id) {
  struct plat_rule r = {
      .when_eui64 = w->m_eui,
      .cluster = 0x0406,
      .attr = 0x0000,
      .op = op,
      .value = value,
      .then = {
          .hub_id = hub, .eui64 = w->p_eui, .endpoint = 1, .cluster = 0x0006, .command = 0x02}};
  assert_int_equal(plat_server_rule_add(w->srv, &r, id), 0);
}

static void test_rule_fires_virtual(void **state) {
  (void)state;
  struct world *w = &W;
  const char *models[] = {PLUG, MOTION};
  w_platform(w, 1, 21);
  w_start(w, 2, 4, models, 2, 21);
  assert_true(w_wait(w, w_drained, 60));
  pick_devices(w);
  printf("motion %s/%u %016llx -> plug %s/%u %016llx\n", w->m_hub_id, w->m_slot,
         (unsigned long long)w->m_eui, w->p_hub_id, w->p_slot, (unsigned long long)w->p_eui);

  uint64_t id_eq1, id_eq0, id_off, id_gt;
  rule_motion_toggle(w, PLAT_RULE_EQ, 1, w->p_hub_id, &id_eq1);   /* fires */
  rule_motion_toggle(w, PLAT_RULE_EQ, 0, w->p_hub_id, &id_eq0);   /* never: occupancy is 1 */
  rule_motion_toggle(w, PLAT_RULE_ANY, 0, "hub-999999", &id_off); /* fires, target offline */
  rule_motion_toggle(w, PLAT_RULE_GT, 1, w->p_hub_id, &id_gt);    /* never: 1 > 1 is false */
  assert_int_equal(id_eq1, 1);
  assert_int_equal(id_gt, 4);

  w_refresh(w);
  struct plat_counters c0 = w->pc;
  uint64_t m0 = w->motion_reports, p0 = w->plug_cmds, fleet_ok0 = w->st.commands_ok;
  /* Three detections, 61 s apart (the sensor is blind for 60 s after one). */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(sim_fleet_trigger(w->f, w->m_hub, w->m_slot, "motion"), 0);
    want_ok = c0.commands_ok + (uint64_t)i + 1;
    want_fleet_ok = fleet_ok0 + (uint64_t)i + 1;
    assert_true(w_wait(w, cmds_ok, 10));
    w_run_to(w, w->d.now + SIM_SEC(61));
  }
  assert_true(w_wait(w, w_drained, 10));
  uint64_t n = w->motion_reports - m0; /* every occupancy report, spontaneous ones included */
  assert_true(n >= 3);
  assert_int_equal(w->pc.rules_fired - c0.rules_fired, 2 * n);
  assert_int_equal(w->pc.rule_commands - c0.rule_commands, n);
  assert_int_equal(w->pc.rule_target_offline - c0.rule_target_offline, n);
  assert_int_equal(w->pc.commands_sent - c0.commands_sent, n);
  assert_int_equal(w->pc.commands_ok - c0.commands_ok, n);
  assert_int_equal(w->pc.commands_failed - c0.commands_failed, 0);
  assert_int_equal(w->plug_cmds - p0, n);
  for (uint64_t i = p0; i < w->plug_cmds && i < W_MAX_SEEN; i++)
    assert_int_equal(w->plug_cmd[i], 0x02);
  /* End to end: from the detection's intended time to the plug receiving its Toggle. */
  for (uint64_t i = 0; i < n && m0 + i < W_MAX_SEEN && p0 + i < W_MAX_SEEN; i++) {
    sim_time_t lat = w->plug_at[p0 + i] - w->motion_at[m0 + i];
    printf("detection %llu: plug toggled %.3f ms after the intended time\n", (unsigned long long)i,
           (double)lat / 1000.0);
    assert_true(w->plug_at[p0 + i] >= w->motion_at[m0 + i]);
    assert_true(lat < SIM_SEC(1));
  }

  /* The listing shows what each rule did. */
  char *js = plat_server_rules_json(w->srv);
  assert_non_null(js);
  json_error_t jerr;
  json_t *o = json_loads(js, 0, &jerr);
  assert_non_null(o);
  json_t *rules = json_object_get(o, "rules");
  assert_int_equal(json_array_size(rules), 4);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 0), "fired")), n);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 0), "sent")), n);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 1), "fired")), 0);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 2), "offline")), n);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 3), "fired")), 0);
  json_decref(o);
  printf("%s\n", js);
  free(js);

  /* A removed rule no longer fires. */
  assert_int_equal(plat_server_rule_remove(w->srv, id_eq1), 0);
  assert_int_equal(plat_server_rule_remove(w->srv, id_eq1), SIM_ENOTFOUND);
  assert_int_equal(plat_server_rule_remove(w->srv, id_eq0), 0);
  assert_int_equal(plat_server_rule_remove(w->srv, id_gt), 0);
  w_refresh(w);
  struct plat_counters c1 = w->pc;
  uint64_t m1 = w->motion_reports;
  assert_int_equal(sim_fleet_trigger(w->f, w->m_hub, w->m_slot, "motion"), 0);
  w_run_to(w, w->d.now + SIM_SEC(5));
  assert_true(w_wait(w, w_drained, 10));
  uint64_t n1 = w->motion_reports - m1;
  assert_true(n1 >= 1);
  assert_int_equal(w->pc.rules_fired - c1.rules_fired, n1); /* only the offline one */
  assert_int_equal(w->pc.rule_commands - c1.rule_commands, 0);
  assert_int_equal(w->pc.rule_target_offline - c1.rule_target_offline, n1);
  printf("rules_fired %llu rule_commands %llu rule_target_offline %llu commands_ok %llu\n",
         (unsigned long long)w->pc.rules_fired, (unsigned long long)w->pc.rule_commands,
         (unsigned long long)w->pc.rule_target_offline, (unsigned long long)w->pc.commands_ok);
  w_finish(w);
}

/* The same on the real clock: one detection, one toggle. */
static void test_rule_fires_real(void **state) {
  (void)state;
  struct world *w = &W;
  const char *models[] = {PLUG, MOTION};
  w_platform(w, 0, 0);
  w_start(w, 2, 4, models, 2, 21);
  assert_true(w_wait(w, w_drained, 10));
  pick_devices(w);
  rule_motion_toggle(w, PLAT_RULE_EQ, 1, w->p_hub_id, NULL);
  w_refresh(w);
  struct plat_counters c0 = w->pc;
  uint64_t m0 = w->motion_reports;
  assert_int_equal(sim_fleet_trigger(w->f, w->m_hub, w->m_slot, "motion"), 0);
  want_ok = c0.commands_ok + 1;
  want_fleet_ok = w->st.commands_ok + 1;
  assert_true(w_wait(w, cmds_ok, 10));
  uint64_t n = w->motion_reports - m0;
  assert_true(n >= 1);
  assert_int_equal(w->pc.rules_fired - c0.rules_fired, n);
  assert_int_equal(w->pc.rule_commands - c0.rule_commands, n);
  assert_int_equal(w->pc.rule_target_offline, 0);

  /* A timer on the real clock: its next occurrence is within the next 24 h, on its minute. */
  struct plat_timer t = {.hour = 7, .then = {.hub_id = w->p_hub_id, .eui64 = w->p_eui}};
  assert_int_equal(plat_server_timer_add(w->srv, &t, NULL), 0);
  uv_timeval64_t tv;
  assert_int_equal(uv_gettimeofday(&tv), 0);
  int64_t now_ms = tv.tv_sec * 1000 + tv.tv_usec / 1000;
  char *js = plat_server_timers_json(w->srv);
  json_error_t jerr;
  json_t *o = json_loads(js, 0, &jerr);
  assert_non_null(o);
  json_int_t next = json_integer_value(
      json_object_get(json_array_get(json_object_get(o, "timers"), 0), "next_ms"));
  assert_true(next > now_ms && next <= now_ms + 86400000);
  assert_int_equal(next % 86400000, 7 * 3600000);
  json_decref(o);
  free(js);
  w_finish(w);
}

/* ---------------------------------------------------------------- admin lines */

static char *admin(struct plat_server *srv, const char *line) {
  char *r = plat_server_admin(srv, line);
  assert_non_null(r);
  printf("> %s\n< %s\n", line, r);
  return r;
}

static void expect_reply(struct plat_server *srv, const char *line, const char *want) {
  char *r = admin(srv, line);
  assert_string_equal(r, want);
  free(r);
}

static void expect_error(struct plat_server *srv, const char *line, const char *needle) {
  char *r = admin(srv, line);
  assert_non_null(strstr(r, "{\"error\":\""));
  assert_non_null(strstr(r, needle));
  free(r);
}

static void test_admin_lines(void **state) {
  (void)state;
  struct world *w = &W;
  w_platform(w, 0, 0);
  struct plat_server *s = w->srv;
  expect_reply(s, "rule add 00158d0001a2b3c4 0406 0000 =1 hub-000001 54ef440000000001 1 0006 02",
               "{\"rule_id\":1}");
  expect_reply(s, "rule add 00158d0001a2b3c4 0406 0000 hub-000001 54ef440000000001 1 0006 02",
               "{\"rule_id\":2}");
  expect_reply(s, "rule add 0x00158d0001a2b3c4 0402 0000 * hub-000001 54ef440000000001 1 0006 00",
               "{\"rule_id\":3}");
  expect_reply(s,
               "rule add 00158d0001a2b3c4 0402 0000 >25.5 hub-1 54ef440000000001 1 0008 04 "
               "fe0a00",
               "{\"rule_id\":4}");
  expect_reply(s, "rule add 00158d0001a2b3c4 0500 0002 =true hub-1 54ef440000000001 1 0006 01",
               "{\"rule_id\":5}");
  expect_reply(s, "timer add 07:00 hub-000001 54ef440000000001 1 0006 01", "{\"timer_id\":1}");
  expect_reply(s, "timer add 7:05 hub-000001 54ef440000000001 1 0008 04 fe0a00",
               "{\"timer_id\":2}");

  /* Listings. */
  char *r = admin(s, "rules");
  json_error_t jerr;
  json_t *o = json_loads(r, 0, &jerr);
  assert_non_null(o);
  json_t *rules = json_object_get(o, "rules");
  assert_int_equal(json_array_size(rules), 5);
  json_t *r4 = json_array_get(rules, 3);
  assert_int_equal(json_integer_value(json_object_get(r4, "id")), 4);
  json_t *when = json_object_get(r4, "when");
  assert_string_equal(json_string_value(json_object_get(when, "eui64")), "00158d0001a2b3c4");
  assert_int_equal(json_integer_value(json_object_get(when, "cluster")), 0x0402);
  assert_string_equal(json_string_value(json_object_get(when, "op")), ">");
  assert_true(json_real_value(json_object_get(when, "value")) == 25.5);
  json_t *then = json_object_get(r4, "then");
  assert_string_equal(json_string_value(json_object_get(then, "hub_id")), "hub-1");
  assert_int_equal(json_integer_value(json_object_get(then, "cluster")), 8);
  assert_int_equal(json_integer_value(json_object_get(then, "command")), 4);
  assert_string_equal(json_string_value(json_object_get(then, "payload")), "fe0a00");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(json_array_get(rules, 1), "when"), "op")),
      "*");
  assert_true(json_real_value(json_object_get(json_object_get(json_array_get(rules, 4), "when"),
                                              "value")) == 1.0);
  json_decref(o);
  free(r);
  r = admin(s, "timers");
  o = json_loads(r, 0, &jerr);
  assert_non_null(o);
  json_t *timers = json_object_get(o, "timers");
  assert_int_equal(json_array_size(timers), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(timers, 0), "at")), "07:00");
  assert_string_equal(json_string_value(json_object_get(json_array_get(timers, 1), "at")), "07:05");
  json_decref(o);
  free(r);

  /* Errors name the problem. */
  const char *tail = " hub-000001 54ef440000000001 1 0006 02";
  char line[256];
  snprintf(line, sizeof line, "rule add zz 0406 0000 =1%s", tail);
  expect_error(s, line, "bad WHEN_EUI64HEX 'zz'");
  snprintf(line, sizeof line, "rule add 00158d0001a2b3c4 10000 0000 =1%s", tail);
  expect_error(s, line, "bad CLUSTERHEX '10000'");
  snprintf(line, sizeof line, "rule add 00158d0001a2b3c4 0406 xyz =1%s", tail);
  expect_error(s, line, "bad ATTRHEX 'xyz'");
  snprintf(line, sizeof line, "rule add 00158d0001a2b3c4 0406 0000 =abc%s", tail);
  expect_error(s, line, "bad VALUE '=abc'");
  snprintf(line, sizeof line, "rule add 00158d0001a2b3c4 0406 0000 =%s", tail);
  expect_error(s, line, "bad VALUE '='");
  snprintf(line, sizeof line, "rule add 00158d0001a2b3c4 0406 0000 =nan%s", tail);
  expect_error(s, line, "bad VALUE '=nan'");
  expect_error(s, "rule add 00158d0001a2b3c4 0406 0000 =1 hub/1 54ef440000000001 1 0006 02",
               "bad THEN_HUB 'hub/1'");
  expect_error(s, "rule add 00158d0001a2b3c4 0406 0000 =1 hub-1 54ef44g000000001 1 0006 02",
               "bad THEN_EUI64HEX '54ef44g000000001'");
  expect_error(s, "rule add 00158d0001a2b3c4 0406 0000 =1 hub-1 54ef440000000001 256 0006 02",
               "bad ENDPOINT '256'");
  expect_error(s, "rule add 00158d0001a2b3c4 0406 0000 =1 hub-1 54ef440000000001 1 0006 100",
               "bad COMMANDHEX '100'");
  expect_error(s, "rule add 00158d0001a2b3c4 0406 0000 =1 hub-1 54ef440000000001 1 0006 02 abc",
               "bad PAYLOADHEX 'abc'");
  expect_error(s, "rule add 00158d0001a2b3c4 0406 0000 =1 hub-1", "usage: rule add");
  expect_error(s, "rule add 00158d0001a2b3c4 0406 0000 =1 hub-1 1 1 6 2 00 extra",
               "usage: rule add");
  expect_error(s, "rule", "usage: rule add");
  expect_error(s, "rule list", "usage: rule add");
  expect_error(s, "timer add 24:00 hub-1 54ef440000000001 1 0006 01", "bad time '24:00'");
  expect_error(s, "timer add 07:60 hub-1 54ef440000000001 1 0006 01", "bad time '07:60'");
  expect_error(s, "timer add 7:5 hub-1 54ef440000000001 1 0006 01", "bad time '7:5'");
  expect_error(s, "timer add 0700 hub-1 54ef440000000001 1 0006 01", "bad time '0700'");
  expect_error(s, "timer add 07:00 hub-1 54ef440000000001 1 0006", "usage: timer add");
  expect_error(s, "timer add 07:00 hub-1 54ef440000000001 x 0006 01", "bad ENDPOINT 'x'");
  expect_error(s, "rules now", "unknown request 'rules'");
  expect_error(s, "frobnicate", "unknown request 'frobnicate'");

  /* Removal. */
  expect_reply(s, "rule del 2", "{\"removed\":2}");
  expect_error(s, "rule del 2", "no rule 2");
  expect_error(s, "rule del x", "usage: rule add");
  expect_reply(s, "timer del 1", "{\"removed\":1}");
  expect_error(s, "timer del 1", "no timer 1");
  r = admin(s, "rules");
  o = json_loads(r, 0, &jerr);
  assert_int_equal(json_array_size(json_object_get(o, "rules")), 4);
  json_decref(o);
  free(r);
  expect_reply(s, "rule add 00158d0001a2b3c4 0406 0000 <0 hub-000001 54ef440000000001 1 0006 02",
               "{\"rule_id\":6}"); /* ids are never reused */

  /* The counters carry the automation keys. */
  r = admin(s, "stats");
  o = json_loads(r, 0, &jerr);
  assert_non_null(o);
  const char *keys[] = {"rules_fired",  "rule_commands",  "rule_target_offline",
                        "timers_fired", "timer_commands", "timer_target_offline"};
  for (size_t i = 0; i < 6; i++)
    assert_non_null(json_object_get(o, keys[i]));
  json_decref(o);
  free(r);

  /* The API checks its arguments. */
  struct plat_rule bad = {.cluster = 0x10000, .then = {.hub_id = "hub-1"}};
  assert_int_equal(plat_server_rule_add(s, &bad, NULL), SIM_EINVAL);
  bad.cluster = 6;
  bad.op = PLAT_RULE_EQ;
  bad.value = NAN;
  assert_int_equal(plat_server_rule_add(s, &bad, NULL), SIM_EINVAL);
  bad.value = 1;
  bad.then.hub_id = NULL;
  assert_int_equal(plat_server_rule_add(s, &bad, NULL), SIM_EINVAL);
  bad.then.hub_id = "hub-1";
  bad.then.len = 2;
  assert_int_equal(plat_server_rule_add(s, &bad, NULL), SIM_EINVAL); /* len without payload */
  struct plat_timer bt = {.hour = 24, .then = {.hub_id = "hub-1"}};
  assert_int_equal(plat_server_timer_add(s, &bt, NULL), SIM_EINVAL);
  bt.hour = 23;
  bt.minute = 60;
  assert_int_equal(plat_server_timer_add(s, &bt, NULL), SIM_EINVAL);
  bt.minute = 59;
  bt.then.endpoint = 256;
  assert_int_equal(plat_server_timer_add(s, &bt, NULL), SIM_EINVAL);

  plat_server_free(s);
  uv_run(&w->loop, UV_RUN_NOWAIT);
  sim_transport_free(w->t);
  uv_run(&w->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&w->loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_admin_lines),
                                     cmocka_unit_test(test_rule_fires_virtual),
                                     cmocka_unit_test(test_rule_fires_real)};
  return cmocka_run_group_tests(tests, w_setup, NULL);
}
