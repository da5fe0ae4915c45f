/* hubrpcs:// fleets as processes against `hubsim platform`.
 *
 * `hubsim run --workers 2`: each worker reports its TLS counts and handshake histograms to the
 * control process, whose summary merges them. The merged figures must equal what the platform
 * saw: one handshake per session it accepted, and the same number in its own TLS count.
 *
 * A reconnect storm (bench/tls/storm.lua with 200 hubs): every hub drops at once and comes
 * back, and the reconnects resume their TLS sessions. Counts only, never speed: every run has
 * --allow-lag, so a late generator on a busy machine does not fail it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devspawn.h"
#include "support/platproc.h"
#include "tlscerts.h"

#define RUN_DEADLINE_S 90

static struct platproc plat;
static char url[64];

static int kill_leftovers(void **state) {
  (void)state;
  platproc_kill(&plat);
  memset(&plat, 0, sizeof plat);
  return 0;
}

/* The TLS platform with the test CA's server certificate, its store DB in the certificate
 * folder; url becomes its hubrpcs:// address. */
static void platform_start(const char *db) {
  char cert[300], key[300], dbp[300];
  snprintf(cert, sizeof cert, "%s", tlscerts_path(&tlscerts_group, "server.pem"));
  snprintf(key, sizeof key, "%s", tlscerts_path(&tlscerts_group, "server.key"));
  snprintf(dbp, sizeof dbp, "%s", tlscerts_path(&tlscerts_group, db));
  const char *extra[] = {"--cert", cert, "--key", key, NULL};
  if (platproc_start_scheme(&plat, "hubrpcs", dbp, 0, extra))
    fail_msg("the TLS platform did not start; its log: %s", plat.log);
  snprintf(url, sizeof url, "hubrpcs://127.0.0.1:%u", (unsigned)plat.port);
}

/* `hubsim run --platform URL [--ca CA] args... --ui none -q --allow-lag --summary FILE`, then
 * the platform stopped (it prints its counters). The parsed summary (NULL if none); r gets the
 * run's output. */
static json_t *run_against(int with_ca, const char *const *args, struct devspawn_out *r) {
  char ca[300], sum[300];
  snprintf(ca, sizeof ca, "%s", tlscerts_path(&tlscerts_group, "ca.pem"));
  snprintf(sum, sizeof sum, "%s", tlscerts_path(&tlscerts_group, "summary.json"));
  remove(sum);
  const char *argv[40];
  int n = 0;
  argv[n++] = "run";
  argv[n++] = "--platform";
  argv[n++] = url;
  if (with_ca) {
    argv[n++] = "--ca";
    argv[n++] = ca;
  }
  for (int i = 0; args[i] && n < 30; i++)
    argv[n++] = args[i];
  const char *tail[] = {"--ui", "none", "-q", "--allow-lag", "--summary", sum, NULL};
  for (int i = 0; tail[i]; i++)
    argv[n++] = tail[i];
  argv[n] = NULL;
  devspawn_run(argv, RUN_DEADLINE_S, r);
  assert_int_equal(platproc_stop(&plat), 0);
  json_error_t je;
  return json_load_file(sum, 0, &je);
}

static json_int_t jint(json_t *root, const char *a, const char *b, const char *c) {
  json_t *v = json_object_get(json_object_get(root, a), b);
  if (c)
    v = json_object_get(v, c);
  if (!json_is_integer(v))
    fail_msg("summary: %s.%s%s%s is not an integer", a, b, c ? "." : "", c ? c : "");
  return json_integer_value(v);
}

/* The figure right after the first "key" in the platform's log (its stderr: the exit lines
 * carry its counters), or -1 when no line has it. */
static long long log_figure(const char *key) {
  FILE *f = fopen(plat.log, "r");
  long long v = -1;
  char line[4096];
  while (f && v < 0 && fgets(line, sizeof line, f)) {
    const char *p = strstr(line, key);
    if (p)
      v = strtoll(p + strlen(key), NULL, 10);
  }
  if (f)
    fclose(f);
  return v;
}

static const char *const reasons[] = {"verify", "protocol", "timeout", "not_tls"};

/* 40 hubs in 2 workers: the merged counts equal the platform's. */
static void test_workers_merge_tls(void **state) {
  (void)state;
  platform_start("plat-w.db");
  static const char *const args[] = {
      "--hubs",     "40", "--devices-per-hub", "2",  "--workers", "2",
      "--duration", "2s", "--drain",           "2s", NULL};
  struct devspawn_out r;
  json_t *s = run_against(1, args, &r);
  if (r.status != 0 || !s)
    fail_msg("exit %d\n%s\n%s", r.status, r.out, r.err);
  long long accepted = log_figure("\"sessions_accepted\":");
  assert_int_equal(accepted, 40);
  assert_int_equal(log_figure("platform: tls handshakes "), accepted);
  /* Both workers' counts, merged: as many handshakes as the platform accepted sessions. */
  assert_int_equal(jint(s, "tls", "handshakes", NULL), accepted);
  assert_int_equal(jint(s, "tls", "handshakes_resumed", NULL), 0);
  assert_int_equal(jint(s, "tls", "handshake_full", "count"), accepted);
  for (int i = 0; i < 4; i++)
    assert_int_equal(jint(s, "tls", "handshake_failures", reasons[i]), 0);
  assert_non_null(strstr(r.out, "verification of the platform certificate and name on"));
  json_decref(s);
  devspawn_free(&r);
}

/* Workers that cannot verify the platform (no --ca: the system's trust store does not know
 * the test CA) count their failures; the control process's summary has them, by reason. */
static void test_workers_merge_failures(void **state) {
  (void)state;
  platform_start("plat-f.db");
  static const char *const args[] = {"--hubs", "4", "--workers", "2", "--duration", "1s", NULL};
  struct devspawn_out r;
  json_t *s = run_against(0, args, &r);
  assert_int_not_equal(r.status, 0);
  if (!s)
    fail_msg("no summary; exit %d\n%s", r.status, r.err);
  assert_int_equal(jint(s, "tls", "handshakes", NULL), 0);
  /* Each of the 4 hubs (2 in each worker) tried at least once. */
  assert_true(jint(s, "tls", "handshake_failures", "verify") >= 4);
  assert_non_null(strstr(r.out, "tls verify"));
  json_decref(s);
  devspawn_free(&r);
}

/* 200 hubs drop at once once all are online (bench/tls/storm.lua) and reconnect: every hub
 * back, one new session each, and more than 90 % of the new handshakes resumed, counted alike
 * by the hubs and by the platform. */
static void test_storm_resumes(void **state) {
  (void)state;
  platform_start("plat-s.db");
  const char *src = getenv("HUBSIM_SOURCE_DIR");
  assert_non_null(src);
  char lua[600];
  snprintf(lua, sizeof lua, "%s/bench/tls/storm.lua", src);
  const char *const args[] = {lua, "--hubs", "200", "--duration", "12s", NULL};
  struct devspawn_out r;
  json_t *s = run_against(1, args, &r);
  if (r.status != 0 || !s)
    fail_msg("exit %d\n%s\n%s", r.status, r.out, r.err);
  json_int_t dropped = jint(s, "errors", "fault:drop", NULL);
  assert_int_equal(dropped, 200);
  assert_int_equal(jint(s, "sessions", "not_online_at_end", NULL), 0);
  json_int_t hs = jint(s, "tls", "handshakes", NULL);
  json_int_t resumed = jint(s, "tls", "handshakes_resumed", NULL);
  assert_int_equal(hs, 400);
  if (resumed * 10 <= dropped * 9)
    fail_msg("%lld of %lld reconnects resumed", (long long)resumed, (long long)dropped);
  assert_int_equal(log_figure("\"sessions_accepted\":"), 400);
  assert_int_equal(log_figure("platform: tls handshakes "), 400);
  assert_int_equal(log_figure("platform: tls handshakes 400 ("), resumed);
  json_decref(s);
  devspawn_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_workers_merge_tls, kill_leftovers),
      cmocka_unit_test_teardown(test_workers_merge_failures, kill_leftovers),
      cmocka_unit_test_teardown(test_storm_resumes, kill_leftovers),
  };
  return cmocka_run_group_tests(tests, tlscerts_group_setup, tlscerts_group_teardown);
}
