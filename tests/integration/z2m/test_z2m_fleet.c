/* 1,000 hubs of the zigbee2mqtt profile on one mosquitto, state messages at QoS 1: each hub's
 * state messages reach a subscriber and every one is acknowledged (0 unacked, 0 lost, PASS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>

#include "z2mtest.h"

#define HUBS 1000

/* Every hub's device has published a state message (topic <base>/<name>: two levels). */
static int every_hub_reported(struct zt *z, void *arg) {
  static unsigned char seen[HUBS];
  static size_t done_to, n_seen;
  (void)arg;
  for (; done_to < z->n; done_to++) {
    unsigned h;
    char name[32];
    if (sscanf(z->msg[done_to].topic, "zigbee2mqtt-hub-%6u/%31s", &h, name) == 2 && h < HUBS &&
        !strchr(name, '/') && !seen[h]) {
      seen[h] = 1;
      n_seen++;
    }
  }
  return n_seen == HUBS;
}

static void test_thousand_hubs(void **state) {
  (void)state;
  static struct zt z;
  zt_init(&z, "+/+");
  const char *args[] = {
      "--hubs",     "1000", "--devices-per-hub", "1",   "--mix",          "lumi.plug.maeu01",
      "--duration", "6s",   "--drain",           "30s", "--no-discovery", "--state-qos",
      "1",          NULL};
  zt_spawn(&z, args);
  assert_true(zt_until(&z, every_hub_reported, NULL, 60000));
  int code = zt_wait_child(&z, 90000);
  json_error_t err;
  json_t *s = json_load_file(z.summary, 0, &err);
  if (!s)
    fail_msg("summary %s: %s (exit %d)", z.summary, err.text, code);
  json_t *counts = json_object_get(s, "counts"), *rep = json_object_get(counts, "reports");
  const char *verdict = json_string_value(json_object_get(json_object_get(s, "verdict"), "text"));
  json_int_t sent = json_integer_value(json_object_get(rep, "sent"));
  json_int_t acked = json_integer_value(json_object_get(rep, "acked"));
  fprintf(stderr, "1000 hubs: state messages sent %lld, acked %lld; verdict %s\n", (long long)sent,
          (long long)acked, verdict);
  assert_int_equal(code, 0);
  assert_true(sent >= HUBS);
  assert_int_equal(sent, acked);
  assert_int_equal(json_integer_value(json_object_get(counts, "unacknowledged")), 0);
  assert_int_equal(json_integer_value(json_object_get(counts, "lost")), 0);
  assert_int_equal(json_integer_value(json_object_get(rep, "dropped")), 0);
  assert_memory_equal(verdict, "PASS", 4);
  /* Every state message timed twice: sent (its send lag) and acknowledged (its ack latency,
   * from the PUBACK that answered it). */
  json_t *lat = json_object_get(s, "latency");
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(lat, "report_send_lag"), "count")), sent);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(lat, "report_ack"), "count")),
                   acked);
  json_decref(s);
  zt_fini(&z);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_thousand_hubs)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
