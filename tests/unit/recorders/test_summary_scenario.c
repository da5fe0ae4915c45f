/* recorders/summary.c with a scenario: the verdict (script error 2, a failed or data-less
 * expectation 1, --allow-lag), the "scenario" object of the JSON and the expectation lines of
 * the human summary. (Which keys exist is docs/summary.md's test: tests/integration/summary_doc.)
 */
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
#include <jansson.h>

#include "recorders/summary.h"

static struct sim_fleet_stats st;
static struct sim_hist autom;

static struct rec_expectation exps[] = {
    {.metric = "report.rtt.p99",
     .op = "<",
     .threshold = 250,
     .threshold_text = "250ms",
     .unit = "ms",
     .value = 12.3,
     .at_s = 60,
     .verdict = REC_EXP_PASS,
     .file = "scenarios/smoke.lua",
     .line = 10},
    {.metric = "reports.lost",
     .op = "==",
     .threshold = 0,
     .threshold_text = "0",
     .unit = "",
     .value = 3,
     .at_s = 42.5,
     .verdict = REC_EXP_FAIL,
     .file = "scenarios/smoke.lua",
     .line = 11},
    {.metric = "automation.latency.p99",
     .op = "<",
     .threshold = 300,
     .threshold_text = "300ms",
     .unit = "ms",
     .verdict = REC_EXP_NO_DATA,
     .file = "scenarios/smoke.lua",
     .line = 12},
};

static struct rec_scenario sc = {.name = "smoke", .phase = "steady", .steps_run = 9, .exp = exps};

static struct rec_run_info run = {.platform_url = "embedded",
                                  .seed = 1,
                                  .duration_s = 60,
                                  .elapsed_s = 61,
                                  .mix = "all",
                                  .devices_per_hub = 2,
                                  .max_lag_ms = 50,
                                  .started_at = "2026-01-01T00:00:00Z",
                                  .scenario = &sc};

static int setup(void **state) {
  (void)state;
  memset(&st, 0, sizeof(st));
  st.hubs = 2;
  st.devices = 4;
  st.sessions = st.connects = 2;
  st.hubs_by_state[SIM_HUB_OPEN] = 2; /* every hub online at the end */
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    st.kind[k].generated = st.kind[k].sent = st.kind[k].acked = 5;
  sim_hist_init(&st.ack_latency);
  sim_hist_init(&st.send_lag);
  sim_hist_init(&st.tick_lag);
  sim_hist_init(&st.handshake);
  sim_hist_init(&autom);
  sim_hist_record(&autom, 120000); /* 120 ms */
  sim_hist_record(&autom, 180000);
  sc.automation = &autom;
  sc.n_exp = 3;
  sc.error = NULL;
  run.allow_lag = 0;
  return 0;
}

static void test_verdict(void **state) {
  (void)state;
  struct rec_verdict v;
  /* Everything held. */
  sc.n_exp = 1;
  rec_verdict_compute(&run, &st, NULL, &v);
  assert_int_equal(v.exit_code, 0);
  assert_int_equal(v.exp_failed, 0);
  /* A failed and a data-less expectation: exit 1, from the expectations alone. */
  sc.n_exp = 3;
  rec_verdict_compute(&run, &st, NULL, &v);
  assert_int_equal(v.exit_code, 1);
  assert_int_equal(v.exp_failed, 2);
  assert_true(v.by_expectations);
  /* Only the data-less one: still a failure, never a silent pass. */
  struct rec_scenario nd = sc;
  nd.exp = &exps[2];
  nd.n_exp = 1;
  run.scenario = &nd;
  rec_verdict_compute(&run, &st, NULL, &v);
  assert_int_equal(v.exit_code, 1);
  run.scenario = &sc;
  /* Lost messages come first: not by expectations. */
  st.kind[0].acked = 4;
  rec_verdict_compute(&run, &st, NULL, &v);
  assert_int_equal(v.exit_code, 1);
  assert_false(v.by_expectations);
  st.kind[0].acked = 5;
  /* A late generator: 4; with --allow-lag the expectations decide. */
  sim_hist_record(&st.tick_lag, 900000);
  rec_verdict_compute(&run, &st, NULL, &v);
  assert_int_equal(v.exit_code, 4);
  run.allow_lag = 1;
  rec_verdict_compute(&run, &st, NULL, &v);
  assert_int_equal(v.exit_code, 1);
  sc.n_exp = 1;
  rec_verdict_compute(&run, &st, NULL, &v);
  assert_int_equal(v.exit_code, 0);
  assert_non_null(strstr(v.text, "--allow-lag"));
  sim_hist_init(&st.tick_lag);
  /* A script error: 2, whatever else. */
  sc.error = "boom";
  rec_verdict_compute(&run, &st, NULL, &v);
  assert_int_equal(v.exit_code, 2);
  assert_true(v.script_error);
}

static void test_json(void **state) {
  (void)state;
  sc.error = "attempt to index a nil value";
  sc.error_file = "scenarios/smoke.lua";
  sc.error_line = 30;
  struct rec_verdict v;
  rec_verdict_compute(&run, &st, NULL, &v);
  char path[] = "/tmp/hubsim-summary-scn-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(rec_summary_write(path, &run, &st, NULL, &v), 0);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  remove(path);
  assert_non_null(root);
  json_t *s = json_object_get(root, "scenario");
  assert_non_null(s);
  assert_string_equal(json_string_value(json_object_get(s, "name")), "smoke");
  assert_string_equal(json_string_value(json_object_get(s, "phase")), "steady");
  assert_int_equal(json_integer_value(json_object_get(s, "steps_run")), 9);
  assert_int_equal(json_integer_value(json_object_get(s, "passed")), 1);
  assert_int_equal(json_integer_value(json_object_get(s, "failed")), 2);
  assert_int_equal(json_integer_value(json_object_get(s, "no_data")), 1);
  json_t *a = json_object_get(s, "automation_latency");
  assert_int_equal(json_integer_value(json_object_get(a, "count")), 2);
  assert_true(json_real_value(json_object_get(a, "max_ms")) == 180.0);
  json_t *arr = json_object_get(s, "expectations");
  assert_int_equal(json_array_size(arr), 3);
  json_t *e0 = json_array_get(arr, 0), *e2 = json_array_get(arr, 2);
  assert_string_equal(json_string_value(json_object_get(e0, "metric")), "report.rtt.p99");
  assert_string_equal(json_string_value(json_object_get(e0, "threshold_text")), "250ms");
  assert_string_equal(json_string_value(json_object_get(e0, "verdict")), "pass");
  assert_true(json_real_value(json_object_get(e0, "value")) == 12.3);
  assert_int_equal(json_integer_value(json_object_get(e0, "line")), 10);
  assert_string_equal(json_string_value(json_object_get(e2, "verdict")), "no_data");
  assert_true(json_is_null(json_object_get(e2, "value")));
  json_t *er = json_object_get(s, "error");
  assert_string_equal(json_string_value(json_object_get(er, "message")),
                      "attempt to index a nil value");
  assert_int_equal(json_integer_value(json_object_get(er, "line")), 30);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(root, "verdict"), "exit_code")), 2);
  json_decref(root);

  /* Without a scenario: no "scenario" key at all. */
  run.scenario = NULL;
  rec_verdict_compute(&run, &st, NULL, &v);
  assert_int_equal(rec_summary_write(path, &run, &st, NULL, &v), 0);
  root = json_load_file(path, 0, &err);
  remove(path);
  assert_non_null(root);
  assert_null(json_object_get(root, "scenario"));
  json_decref(root);
  run.scenario = &sc;
}

static void test_invalid_utf8_kept_as_text(void **state) {
  (void)state;
  struct rec_expectation e = exps[0];
  e.metric = "bad\xffname";
  struct rec_scenario one = {.name = "n\xc3", .exp = &e, .n_exp = 1};
  run.scenario = &one;
  struct rec_verdict v;
  rec_verdict_compute(&run, &st, NULL, &v);
  char path[] = "/tmp/hubsim-summary-scn-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(rec_summary_write(path, &run, &st, NULL, &v), 0);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  remove(path);
  assert_non_null(root);
  json_t *s = json_object_get(root, "scenario");
  assert_string_equal(json_string_value(json_object_get(s, "name")), "n?");
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(s, "expectations"), 0), "metric")),
                      "bad?name");
  json_decref(root);
  run.scenario = &sc;
}

/* The virtual clock: the machine's figures stay out of the file (same seed, same bytes), the
 * human summary keeps them, and run.clock says which clock ran. */
static void test_virtual_clock(void **state) {
  (void)state;
  struct rec_run_info r = run;
  r.virtual_clock = 1;
  r.wall_s = 0.75;
  r.cpu_user_s = 0.5;
  r.max_rss_bytes = 123456789;
  st.kind[0].sent = 5;
  struct rec_verdict v;
  rec_verdict_compute(&r, &st, NULL, &v);
  char path[] = "/tmp/hubsim-summary-scn-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(rec_summary_write(path, &r, &st, NULL, &v), 0);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  remove(path);
  assert_non_null(root);
  json_t *gen = json_object_get(root, "generator");
  /* null, not 0: nothing was measured for the file (0 would read as a measurement). */
  assert_true(json_is_null(json_object_get(gen, "cpu_user_s")));
  assert_true(json_is_null(json_object_get(gen, "cpu_sys_s")));
  assert_true(json_is_null(json_object_get(gen, "max_rss_bytes")));
  assert_true(json_is_null(json_object_get(gen, "cpu_us_per_message")));
  assert_string_equal(json_string_value(json_object_get(json_object_get(root, "run"), "clock")),
                      "virtual");
  json_decref(root);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  rec_summary_print(f, &r, &st, NULL, &v);
  fclose(f);
  assert_non_null(strstr(text, "61.0 s elapsed on the virtual clock in 0.75 s of wall time"));
  assert_non_null(strstr(text, "cpu 0.50 s user"));
  free(text);
}

static void test_human_lines(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  struct rec_verdict v;
  rec_verdict_compute(&run, &st, NULL, &v);
  rec_summary_print(f, &run, &st, NULL, &v);
  fclose(f);
  assert_non_null(strstr(text, "  scenario               smoke: 9 steps run, last phase steady; "
                               "1 of 3 expectations held\n"));
  assert_non_null(strstr(text, "  automation latency     p50 "));
  assert_non_null(
      strstr(text, "  expectation            report.rtt.p99 < 250ms: PASS (measured 12.3 ms)\n"));
  assert_non_null(strstr(text, "  expectation            reports.lost == 0: FAIL (measured 3 at "
                               "42.5 s) [scenarios/smoke.lua:11]\n"));
  assert_non_null(strstr(text, "  expectation            automation.latency.p99 < 300ms: NO DATA "
                               "(the metric had no samples) [scenarios/smoke.lua:12]\n"));
  assert_non_null(strstr(text, "  verdict                FAIL: 2 of 3 expectations of the "
                               "scenario did not hold\n"));
  free(text);
}

static void test_format_number(void **state) {
  (void)state;
  char b[48];
  rec_format_number(b, sizeof(b), 12.3);
  assert_string_equal(b, "12.3");
  rec_format_number(b, sizeof(b), 1500);
  assert_string_equal(b, "1500");
  rec_format_number(b, sizeof(b), 0.99);
  assert_string_equal(b, "0.99");
  rec_format_number(b, sizeof(b), 0.98765);
  assert_string_equal(b, "0.988");
  rec_format_number(b, sizeof(b), 0.0001234);
  assert_string_equal(b, "0.000123");
  rec_format_number(b, sizeof(b), -2.5);
  assert_string_equal(b, "-2.5");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_verdict, setup),
      cmocka_unit_test_setup(test_json, setup),
      cmocka_unit_test_setup(test_invalid_utf8_kept_as_text, setup),
      cmocka_unit_test_setup(test_virtual_clock, setup),
      cmocka_unit_test_setup(test_human_lines, setup),
      cmocka_unit_test(test_format_number),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
