/* The recorders over time, without a run: rows of the interval series from two snapshots (the
 * interval's samples only, null where there is none) and the Prometheus page (the documented
 * bucket rule, cumulative buckets, _sum and _count exact, HELP and TYPE of every family). */
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

#include "recorders/metrics.h"
#include "recorders/prom.h"
#include "sim/core/hist.h"

static struct sim_fleet_stats prev, cur;

static void reset(void) {
  memset(&prev, 0, sizeof prev);
  memset(&cur, 0, sizeof cur);
  sim_hist_init(&prev.ack_latency);
  sim_hist_init(&cur.ack_latency);
}

/* Percentiles are of the interval: the fast samples before it do not show in it. */
static void test_row_interval_only(void **state) {
  (void)state;
  reset();
  prev.now = 1000000;
  cur.now = 3000000;
  for (int i = 0; i < 100; i++)
    sim_hist_record(&prev.ack_latency, 1); /* 1 µs, before the interval */
  cur.ack_latency = prev.ack_latency;
  for (int i = 0; i < 100; i++)
    sim_hist_record(&cur.ack_latency, 2000); /* 2 ms, in it */
  prev.kind[SIM_SEQ_REPORT].acked = 10;
  cur.kind[SIM_SEQ_REPORT].acked = 110;
  cur.hubs = 3;
  cur.hubs_by_state[SIM_HUB_OPEN] = 2;
  struct rec_metrics_row row;
  memset(&row, 0, sizeof row);
  rec_metrics_row_fill(&row, &prev, &cur, 50);
  assert_true(row.interval_s == 2.0);
  assert_true(row.rate[REC_MC_ACKED] == 50.0);
  assert_int_equal(row.ack.count, 100);
  assert_true(row.ack.p50_ms < 2.1 && row.ack.p50_ms >= 2.0);
  assert_true(row.ack.p99_ms < 2.1 && row.ack.p99_ms >= 2.0);
  assert_int_equal(row.send_lag.count, 0);
  assert_int_equal(row.late, -1); /* no device tick: unknown, not "on time" */
  char line[4096];
  assert_true(rec_metrics_line(&row, line, sizeof line) > 0);
  json_t *o = json_loads(line, 0, NULL);
  assert_non_null(o);
  json_t *lat = json_object_get(o, "latency");
  assert_true(json_is_object(json_object_get(lat, "report_ack")));
  assert_true(json_is_null(json_object_get(lat, "report_send_lag")));
  assert_true(json_is_null(json_object_get(o, "generator_late")));
  assert_true(json_is_null(json_object_get(o, "expectations")));
  assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "hubs"), "online")), 2);
  json_decref(o);
}

/* An interval of length 0 (the final row right after the last one) has no rates. */
static void test_row_empty_interval(void **state) {
  (void)state;
  reset();
  prev.now = cur.now = 5000000;
  struct rec_metrics_row row;
  memset(&row, 0, sizeof row);
  rec_metrics_row_fill(&row, &prev, &cur, 50);
  char line[4096];
  assert_true(rec_metrics_line(&row, line, sizeof line) > 0);
  json_t *o = json_loads(line, 0, NULL);
  assert_true(json_is_null(json_object_get(json_object_get(o, "rates"), "acked")));
  json_decref(o);
}

/* The value of one sample line of the page ("name{labels} value"). */
static unsigned long long sample(const char *page, const char *key) {
  char pat[160];
  snprintf(pat, sizeof pat, "\n%s ", key);
  const char *at = strstr(page, pat);
  if (!at)
    fail_msg("no sample %s on the page", key);
  return strtoull(at + strlen(pat), NULL, 10);
}

static void test_prom_histogram(void **state) {
  (void)state;
  reset();
  sim_hist_init(&cur.send_lag);
  sim_hist_init(&cur.tick_lag);
  sim_hist_init(&cur.handshake);
  sim_hist_record(&cur.ack_latency, 50);      /* 50 µs */
  sim_hist_record(&cur.ack_latency, 999);     /* a bucket top: counts at le=0.001 */
  sim_hist_record(&cur.ack_latency, 1000);    /* straddles 0.001: counts above it */
  sim_hist_record(&cur.ack_latency, 2000000); /* 2 s */
  cur.kind[SIM_SEQ_REPORT].acked = 7;
  struct sim_buf b;
  sim_buf_init(&b);
  struct rec_prom_extra x = {.ended = 1};
  assert_int_equal(rec_prom_render(&b, &cur, &x), 0);
  assert_int_equal(sim_buf_append(&b, "", 1), 0);
  const char *page = (const char *)b.data;
  const char *h = "hubsim_report_ack_latency_seconds";
  static const struct {
    const char *suffix;
    unsigned long long want;
  } want[] = {{"_bucket{le=\"0.0001\"}", 1},
              {"_bucket{le=\"0.001\"}", 2},
              {"_bucket{le=\"0.0025\"}", 3},
              {"_bucket{le=\"1\"}", 3},
              {"_bucket{le=\"2.5\"}", 4},
              {"_bucket{le=\"+Inf\"}", 4},
              {"_count", 4}};
  char k[160];
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    snprintf(k, sizeof k, "%s%s", h, want[i].suffix);
    if (sample(page, k) != want[i].want)
      fail_msg("%s: %llu, expected %llu", k, sample(page, k), want[i].want);
  }
  snprintf(k, sizeof k, "\n%s_sum 2.0020", h);
  assert_non_null(strstr(page, k)); /* 2.002049 s, exactly */
  assert_int_equal(sample(page, "hubsim_messages_acked_total{kind=\"report\"}"), 7);
  assert_int_equal(sample(page, "hubsim_run_ended"), 1);
  assert_null(strstr(page, "hubsim_expectations")); /* no scenario: no such gauge */
  /* Every family has its HELP and TYPE. */
  assert_non_null(strstr(page, "# TYPE hubsim_report_ack_latency_seconds histogram\n"));
  assert_non_null(strstr(page, "# TYPE hubsim_messages_acked_total counter\n"));
  assert_non_null(strstr(page, "# TYPE hubsim_hubs gauge\n"));
  sim_buf_fini(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_row_interval_only),
                                     cmocka_unit_test(test_row_empty_interval),
                                     cmocka_unit_test(test_prom_histogram)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
