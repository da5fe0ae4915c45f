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

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/platproc.h"
#include "tlscerts.h"

#define CHILD_DEADLINE_S 90

static struct platproc plat;

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv with stdout and stderr into out and err, under a deadline. The exit status,
 * 128+signal, or -1. */
static int run_child(const char *const *argv, const char *out, const char *err) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0)
      _exit(126);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  double deadline = mono_s() + CHILD_DEADLINE_S;
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (mono_s() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      fail_msg("hubsim run: still running after %d s", CHILD_DEADLINE_S);
    }
    usleep(10000);
  }
}

/* The whole of a small file, NUL-terminated, in static storage ("" when unreadable). */
static const char *slurp(const char *path) {
  static char buf[65536];
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f)
    return buf;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static char *cdup(const char *name) {
  char *p = strdup(tlscerts_path2(&tlscerts_group, name));
  assert_non_null(p);
  return p;
}

static json_int_t jint(json_t *root, const char *a, const char *b) {
  json_t *v = json_object_get(json_object_get(root, a), b);
  if (!json_is_integer(v))
    fail_msg("summary: %s.%s is not an integer", a, b);
  return json_integer_value(v);
}

/* The figure after "key" in the platform's log, or -1. */
static long long log_figure(const char *log, const char *key) {
  const char *p = strstr(log, key);
  return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static int kill_leftovers(void **state) {
  (void)state;
  platproc_kill(&plat);
  memset(&plat, 0, sizeof plat);
  return 0;
}

static void test_workers_merge_tls(void **state) {
  (void)state;
  char *cert = cdup("server.pem"), *key = cdup("server.key"), *db = cdup("plat-w.db");
  char *ca = cdup("ca.pem"), *sum = cdup("w.json"), *out = cdup("w.out"), *err = cdup("w.err");
  const char *extra[] = {"--cert", cert, "--key", key, NULL};
  if (platproc_start_scheme(&plat, "hubrpcs", db, 0, extra))
    fail_msg("the TLS platform did not start: %s", slurp(plat.log));
  char url[64];
  snprintf(url, sizeof url, "hubrpcs://127.0.0.1:%u", (unsigned)plat.port);
  const char *argv[] = {getenv("HUBSIM_BIN"),
                        "run",
                        "--platform",
                        url,
                        "--ca",
                        ca,
                        "--hubs",
                        "40",
                        "--devices-per-hub",
                        "2",
                        "--workers",
                        "2",
                        "--duration",
                        "2s",
                        "--drain",
                        "2s",
                        "-q",
                        "--allow-lag",
                        "--summary",
                        sum,
                        NULL};
  assert_non_null(argv[0]);
  int rc = run_child(argv, out, err);
  assert_int_equal(platproc_stop(&plat), 0);
  if (rc != 0)
    fail_msg("exit %d\n%s\n%s", rc, slurp(out), slurp(err));
  json_error_t je;
  json_t *s = json_load_file(sum, 0, &je);
  assert_non_null(s);
  const char *log = slurp(plat.log);
  long long accepted = log_figure(log, "\"sessions_accepted\":");
  long long plat_tls = log_figure(log, "platform: tls handshakes ");
  assert_int_equal(accepted, 40);
  assert_int_equal(plat_tls, accepted);
  /* Both workers' counts, merged: as many handshakes as the platform accepted sessions. */
  assert_int_equal(jint(s, "tls", "handshakes"), accepted);
  assert_int_equal(jint(s, "tls", "handshakes_resumed"), 0);
  json_t *tls = json_object_get(s, "tls");
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(tls, "handshake_full"), "count")),
      accepted);
  static const char *const reasons[] = {"verify", "protocol", "timeout", "not_tls"};
  for (int i = 0; i < 4; i++)
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(tls, "handshake_failures"), reasons[i])),
        0);
  assert_non_null(strstr(slurp(out), "verification of the platform certificate and name on"));
  json_decref(s);
  free(cert);
  free(key);
  free(db);
  free(ca);
  free(sum);
  free(out);
  free(err);
}

/* A worker that cannot verify the platform (no --ca: the system's trust store does not know
 * the test CA) counts its failures; the control process's summary has them, by reason. */
static void test_workers_merge_failures(void **state) {
  (void)state;
  char *cert = cdup("server.pem"), *key = cdup("server.key"), *db = cdup("plat-f.db");
  char *sum = cdup("f.json"), *out = cdup("f.out"), *err = cdup("f.err");
  const char *extra[] = {"--cert", cert, "--key", key, NULL};
  if (platproc_start_scheme(&plat, "hubrpcs", db, 0, extra))
    fail_msg("the TLS platform did not start: %s", slurp(plat.log));
  char url[64];
  snprintf(url, sizeof url, "hubrpcs://127.0.0.1:%u", (unsigned)plat.port);
  const char *argv[] = {getenv("HUBSIM_BIN"), "run", "--platform", url,  "--hubs", "4",
                        "--workers",          "2",   "--duration", "1s", "-q",     "--allow-lag",
                        "--summary",          sum,   NULL};
  int rc = run_child(argv, out, err);
  assert_int_equal(platproc_stop(&plat), 0);
  assert_int_not_equal(rc, 0);
  json_error_t je;
  json_t *s = json_load_file(sum, 0, &je);
  if (!s)
    fail_msg("no summary; exit %d\n%s", rc, slurp(err));
  json_t *tls = json_object_get(s, "tls");
  assert_int_equal(json_integer_value(json_object_get(tls, "handshakes")), 0);
  json_int_t verify =
      json_integer_value(json_object_get(json_object_get(tls, "handshake_failures"), "verify"));
  /* At least one failure from each of the 2 workers' hubs: 4 hubs each tried once at least. */
  assert_true(verify >= 4);
  assert_non_null(strstr(slurp(out), "tls verify"));
  json_decref(s);
  free(cert);
  free(key);
  free(db);
  free(sum);
  free(out);
  free(err);
}

/* 200 hubs drop at once once all are online (bench/tls/storm.lua) and reconnect: every hub
 * back, one new session each, and more than 90 % of the new handshakes resumed, counted alike
 * by the hubs and by the platform. */
static void test_storm_resumes(void **state) {
  (void)state;
  char *cert = cdup("server.pem"), *key = cdup("server.key"), *db = cdup("plat-s.db");
  char *ca = cdup("ca.pem"), *sum = cdup("s.json"), *out = cdup("s.out"), *err = cdup("s.err");
  const char *extra[] = {"--cert", cert, "--key", key, NULL};
  if (platproc_start_scheme(&plat, "hubrpcs", db, 0, extra))
    fail_msg("the TLS platform did not start: %s", slurp(plat.log));
  char url[64], lua[600];
  snprintf(url, sizeof url, "hubrpcs://127.0.0.1:%u", (unsigned)plat.port);
  const char *src = getenv("HUBSIM_SOURCE_DIR");
  assert_non_null(src);
  snprintf(lua, sizeof lua, "%s/bench/tls/storm.lua", src);
  const char *argv[] = {getenv("HUBSIM_BIN"),
                        "run",
                        lua,
                        "--platform",
                        url,
                        "--ca",
                        ca,
                        "--hubs",
                        "200",
                        "--duration",
                        "12s",
                        "--ui",
                        "none",
                        "-q",
                        "--allow-lag",
                        "--summary",
                        sum,
                        NULL};
  int rc = run_child(argv, out, err);
  assert_int_equal(platproc_stop(&plat), 0);
  if (rc != 0)
    fail_msg("exit %d\n%s\n%s", rc, slurp(out), slurp(err));
  json_error_t je;
  json_t *s = json_load_file(sum, 0, &je);
  assert_non_null(s);
  json_int_t dropped = jint(s, "errors", "fault:drop");
  assert_int_equal(dropped, 200);
  assert_int_equal(jint(s, "sessions", "not_online_at_end"), 0);
  json_int_t hs = jint(s, "tls", "handshakes"), resumed = jint(s, "tls", "handshakes_resumed");
  assert_int_equal(hs, 400);
  if (resumed * 10 <= dropped * 9)
    fail_msg("%lld of %lld reconnects resumed", (long long)resumed, (long long)dropped);
  const char *log = slurp(plat.log);
  assert_int_equal(log_figure(log, "\"sessions_accepted\":"), 400);
  assert_int_equal(log_figure(log, "platform: tls handshakes "), 400);
  assert_int_equal(log_figure(log, "platform: tls handshakes 400 ("), resumed);
  json_decref(s);
  free(cert);
  free(key);
  free(db);
  free(ca);
  free(sum);
  free(out);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_workers_merge_tls, kill_leftovers),
      cmocka_unit_test_teardown(test_workers_merge_failures, kill_leftovers),
      cmocka_unit_test_teardown(test_storm_resumes, kill_leftovers),
  };
  return cmocka_run_group_tests(tests, tlscerts_group_setup, tlscerts_group_teardown);
}
