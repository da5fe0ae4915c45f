/* rec_verdict_compute(): PASS means every generated message acknowledged (or excluded by a
 * documented rule: a power cut, a hub the run took offline), every hub that should be online
 * online at the end, nothing dropped, nothing lost. Otherwise the verdict names the first
 * reason with its count, lists every reason, and the JSON summary and the JUnit file carry them
 * (docs/summary.md section 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recorders/junit.h"
#include "recorders/summary.h"

static struct sim_fleet_stats st;
static struct rec_run_info run;
static struct rec_verdict v;

/* A healthy run of n hubs: everything generated was sent and acknowledged, all online. */
static void healthy(uint32_t n) {
  memset(&st, 0, sizeof st);
  st.hubs = n;
  st.devices = n * 4;
  st.hubs_by_state[SIM_HUB_OPEN] = n;
  st.sessions = st.connects = n;
  st.hubs_ever_online = n;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    st.kind[k].generated = st.kind[k].sent = st.kind[k].acked = 100;
  sim_hist_init(&st.ack_latency);
  sim_hist_init(&st.send_lag);
  sim_hist_init(&st.tick_lag);
  sim_hist_init(&st.handshake);
  memset(&run, 0, sizeof run);
  run.platform_url = "hubrpc://127.0.0.1:7800";
  run.max_lag_ms = 50;
  run.duration_s = 20;
  run.elapsed_s = 20.5;
  run.started_at = "2026-01-01T00:00:00Z";
  run.mix = "all";
}

static void expect(int code, const char *text) {
  rec_verdict_compute(&run, &st, NULL, &v);
  if (v.exit_code != code || strcmp(v.text, text) != 0)
    fail_msg("want %d \"%s\", got %d \"%s\"", code, text, v.exit_code, v.text);
}

static void test_pass(void **state) {
  (void)state;
  healthy(10);
  expect(0, "PASS: every report accounted for");
  assert_int_equal(v.n_reasons, 0);
  assert_true(rec_settled(&st));
}

/* A platform that never acknowledges: what was sent is still in flight, the rest queued. */
static void test_unacknowledged(void **state) {
  (void)state;
  healthy(10);
  st.kind[SIM_SEQ_REPORT].generated += 312;
  st.kind[SIM_SEQ_REPORT].sent += 212;
  st.in_flight = 212;
  st.queued = 100;
  expect(1, "FAIL: 312 messages were never acknowledged (in flight 212, queued 100 at the end)");
  assert_int_equal(v.unacknowledged, 312);
  assert_string_equal(v.reasons[0].check, "unacknowledged");
  assert_int_equal(v.reasons[0].count, 312);
  assert_false(rec_settled(&st));
}

/* Hubs held out (a platform out of file descriptors): most never online at the end. */
static void test_hubs_not_online(void **state) {
  (void)state;
  healthy(10000);
  st.hubs_by_state[SIM_HUB_OPEN] = 400;
  st.hubs_by_state[SIM_HUB_BACKOFF] = 9600;
  expect(1, "FAIL: 9,600 of 10,000 hubs were not online at the end");
  assert_int_equal(v.hubs_not_online, 9600);
  assert_false(rec_settled(&st));
}

static void test_dropped(void **state) {
  (void)state;
  healthy(10);
  st.kind[SIM_SEQ_RESULT].generated += 79575;
  st.kind[SIM_SEQ_RESULT].dropped = 79575;
  expect(1, "FAIL: 79,575 command results were dropped (hub queue full)");
  st.kind[SIM_SEQ_REPORT].generated += 5;
  st.kind[SIM_SEQ_REPORT].dropped = 5;
  expect(1, "FAIL: 79,580 messages were dropped (hub queue full): 5 reports, 79,575 command "
            "results");
  /* Dropped messages are never pending: the drain has nothing to wait for. */
  assert_true(rec_settled(&st));
}

/* A platform killed mid-run: hubs offline and messages queued; every reason is listed, the
 * first decides, in the documented order. */
static void test_order(void **state) {
  (void)state;
  healthy(10);
  st.hubs_by_state[SIM_HUB_OPEN] = 0;
  st.hubs_by_state[SIM_HUB_BACKOFF] = 10;
  st.kind[SIM_SEQ_REPORT].generated += 300;
  st.queued = 300;
  st.kind[SIM_SEQ_REPORT].dropped = 7;
  st.kind[SIM_SEQ_REPORT].generated += 7;
  sim_hist_record(&st.tick_lag, 900000); /* a late generator too */
  expect(1, "FAIL: 10 of 10 hubs were not online at the end");
  assert_int_equal(v.n_reasons, 4);
  assert_string_equal(v.reasons[0].check, "hubs_not_online");
  assert_string_equal(v.reasons[1].check, "unacknowledged");
  assert_string_equal(v.reasons[2].check, "dropped");
  assert_string_equal(v.reasons[3].check, "generator_late");
  assert_int_equal(v.reasons[3].exit_code, 4);
  /* The human summary shows the others under the verdict. */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  rec_summary_print(f, &run, &st, NULL, &v);
  fclose(f);
  assert_non_null(strstr(text, "  verdict                FAIL: 10 of 10 hubs were not online at "
                               "the end\n  also                   300 messages were never "
                               "acknowledged (in flight 0, queued 300 at the end)\n"));
  assert_non_null(strstr(text, ", 10 not online\n"));
  free(text);
}

/* What the run did on purpose is not the platform's failure: hubs whose power it cut (their
 * messages lost with it, sent or not) and hubs it disconnected (and what they hold), and hubs
 * the ramp had not started. */
static void test_exclusions(void **state) {
  (void)state;
  healthy(10);
  /* Two hubs cut: 8 messages gone with them, 5 of them had been sent. */
  st.kind[SIM_SEQ_REPORT].generated += 8;
  st.kind[SIM_SEQ_REPORT].sent += 5;
  st.lost_power = 8;
  st.lost_power_sent = 5;
  /* One hub disconnected by the scenario, holding 4 queued messages. */
  st.kind[SIM_SEQ_REPORT].generated += 4;
  st.queued = 4;
  st.held_by_off_hubs = 4;
  st.hubs_off_by_run = 3;
  /* One not started yet. */
  st.hubs_by_state[SIM_HUB_IDLE] = 1;
  st.hubs_by_state[SIM_HUB_STOPPED] = 3;
  st.hubs_by_state[SIM_HUB_OPEN] = 6;
  expect(0, "PASS: every report accounted for");
  assert_int_equal(v.lost, 0);
  assert_int_equal(v.unacknowledged, 0);
  assert_int_equal(v.hubs_expected_online, 6);
  assert_true(rec_settled(&st));
  /* Without lost_power_sent those 5 sent messages would be lost. */
  st.lost_power_sent = 0;
  expect(1, "FAIL: 5 messages were lost (sent, then neither acknowledged nor held by their hub)");
  st.lost_power_sent = 5;
  /* An expected hub offline still fails, and the message says what was left out. */
  st.hubs_by_state[SIM_HUB_OPEN] = 5;
  st.hubs_by_state[SIM_HUB_BACKOFF] = 1;
  expect(1, "FAIL: 1 of 6 hubs that should be online were not online at the end (3 held off by "
            "the run and 1 not started are not counted)");
}

static void test_never_online(void **state) {
  (void)state;
  healthy(3);
  st.sessions = 0;
  st.hubs_by_state[SIM_HUB_OPEN] = 0;
  st.hubs_by_state[SIM_HUB_BACKOFF] = 3;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    st.kind[k].sent = st.kind[k].acked = 0;
  st.queued = 400;
  st.n_errors = 2;
  snprintf(st.errors[0].name, sizeof st.errors[0].name, "closed by peer");
  st.errors[0].count = 2;
  snprintf(st.errors[1].name, sizeof st.errors[1].name, "ECONNREFUSED");
  st.errors[1].count = 42;
  expect(3, "FAIL: no hub ever opened a session with the platform (3 hubs tried; most frequent "
            "error ECONNREFUSED, 42 times)");
  /* The unacknowledged messages are listed too, but "not online" adds nothing here. */
  assert_int_equal(v.n_reasons, 2);
  assert_string_equal(v.reasons[1].check, "unacknowledged");
}

static void test_interrupted_and_warnings(void **state) {
  (void)state;
  healthy(4);
  run.interrupted = "SIGINT";
  run.elapsed_s = 3.2;
  expect(0, "PASS: every report accounted for [interrupted by SIGINT after 3.2 s of 20.0 s]");
  st.in_flight = 3;
  st.kind[0].generated += 3;
  st.kind[0].sent += 3;
  expect(1, "FAIL: 3 messages were never acknowledged (in flight 3, queued 0 at the end) "
            "[interrupted by SIGINT after 3.2 s of 20.0 s]");
  healthy(4);
  sim_hist_record(&st.tick_lag, 900000);
  run.allow_lag = 1;
  expect(0, "PASS with a warning: the generator fell behind its schedule (--allow-lag)");
  assert_int_equal(v.reasons[0].exit_code, 0);
  /* A failure found outside the figures decides when asked to. */
  rec_verdict_add(&v, "worker_failed", 3, 1, "a worker process ended without its final figures", 1,
                  &run);
  assert_int_equal(v.exit_code, 3);
  assert_string_equal(v.text, "FAIL: a worker process ended without its final figures");
  assert_string_equal(v.reasons[1].check, "generator_late");
}

/* The JSON summary carries every reason; the JUnit "run" test case fails with all of them. */
static void test_outputs(void **state) {
  (void)state;
  healthy(10);
  st.hubs_by_state[SIM_HUB_OPEN] = 2;
  st.hubs_by_state[SIM_HUB_BACKOFF] = 8;
  st.kind[SIM_SEQ_REPORT].generated += 50;
  st.queued = 50;
  rec_verdict_compute(&run, &st, NULL, &v);
  char path[] = "/tmp/hubsim-verdict-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(rec_summary_write(path, &run, &st, NULL, &v), 0);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  assert_non_null(root);
  json_t *jv = json_object_get(root, "verdict");
  assert_int_equal(json_integer_value(json_object_get(jv, "exit_code")), 1);
  json_t *rs = json_object_get(jv, "reasons");
  assert_int_equal(json_array_size(rs), 2);
  json_t *r0 = json_array_get(rs, 0);
  assert_string_equal(json_string_value(json_object_get(r0, "check")), "hubs_not_online");
  assert_int_equal(json_integer_value(json_object_get(r0, "count")), 8);
  assert_int_equal(json_integer_value(json_object_get(r0, "exit_code")), 1);
  assert_string_equal(json_string_value(json_object_get(r0, "text")),
                      "8 of 10 hubs were not online at the end");
  assert_true(json_is_null(json_object_get(jv, "interrupted")));
  json_t *c = json_object_get(root, "counts");
  assert_int_equal(json_integer_value(json_object_get(c, "unacknowledged")), 50);
  json_t *s = json_object_get(root, "sessions");
  assert_int_equal(json_integer_value(json_object_get(s, "not_online_at_end")), 8);
  assert_int_equal(json_integer_value(json_object_get(s, "expected_online_at_end")), 10);
  json_decref(root);

  struct rec_junit_suite js;
  rec_junit_suite_from_run(&js, &run, &v);
  assert_int_equal(js.run_status, REC_JUNIT_RUN_FAILURE);
  assert_string_equal(js.run_type, "accounting");
  assert_string_equal(js.run_message, "FAIL: 8 of 10 hubs were not online at the end");
  assert_int_equal(rec_junit_write(path, &js), 0);
  FILE *f = fopen(path, "r");
  static char xml[16384];
  size_t n = fread(xml, 1, sizeof xml - 1, f);
  fclose(f);
  xml[n] = '\0';
  assert_non_null(strstr(xml, "<failure message=\"FAIL: 8 of 10 hubs were not online at the "
                              "end\" type=\"accounting\">hubs_not_online: 8 of 10 hubs were not "
                              "online at the end\nunacknowledged: 50 messages were never "
                              "acknowledged (in flight 0, queued 50 at the end)\n</failure>"));
  remove(path);
}

/* The summary writer once wrote through a link planted at FILE.tmp, overwriting whatever it
 * pointed at. */
static void test_summary_link_not_followed(void **state) {
  (void)state;
  healthy(2);
  rec_verdict_compute(&run, &st, NULL, &v);
  char dir[] = "/tmp/hubsim-verdict-dir-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128], tmp[160], victim[128];
  snprintf(path, sizeof path, "%s/summary.json", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  snprintf(victim, sizeof victim, "%s/victim", dir);
  FILE *f = fopen(victim, "w");
  fputs("precious", f);
  fclose(f);
  assert_int_equal(symlink(victim, tmp), 0);
  assert_int_equal(rec_summary_write(path, &run, &st, NULL, &v), 0);
  char buf[64] = "";
  f = fopen(victim, "r");
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  struct stat sb;
  assert_int_equal(lstat(path, &sb), 0);
  if (strcmp(buf, "precious") != 0 || !S_ISREG(sb.st_mode))
    fail_msg("the link at %s was followed: victim now holds \"%.20s...\"", tmp, buf);
  unlink(path);
  unlink(tmp);
  unlink(victim);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pass),
      cmocka_unit_test(test_unacknowledged),
      cmocka_unit_test(test_hubs_not_online),
      cmocka_unit_test(test_dropped),
      cmocka_unit_test(test_order),
      cmocka_unit_test(test_exclusions),
      cmocka_unit_test(test_never_online),
      cmocka_unit_test(test_interrupted_and_warnings),
      cmocka_unit_test(test_outputs),
      cmocka_unit_test(test_summary_link_not_followed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
