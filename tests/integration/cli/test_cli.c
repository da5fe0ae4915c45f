/* The hubsim command line: help texts describe every flag, a bad flag or value exits 2 with a
 * message naming it, and a short run against the embedded platform ends with exit 0, a
 * summary in which nothing is lost, and a JSON file that parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>

#include "support/platproc.h"

/* Runs HUBSIM_BIN with args (a shell-free argv), captures stdout+stderr into out. Returns the
 * exit code, or -1. */
static int nofile_cap; /* when > 0, the child runs with this open-file limit (soft and hard) */

static int run(const char *const *args, char *out, size_t cap) {
  const char *bin = getenv("HUBSIM_BIN");
  assert_non_null(bin);
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(pfd[1], 1);
    dup2(pfd[1], 2);
    close(pfd[0]);
    if (nofile_cap > 0) {
      struct rlimit rl = {(rlim_t)nofile_cap, (rlim_t)nofile_cap};
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 63; i++)
      argv[n++] = args[i];
    argv[n] = NULL;
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(pfd[1]);
  size_t used = 0;
  ssize_t r;
  while ((r = read(pfd[0], out + used, cap - 1 - used)) > 0 && used < cap - 1)
    used += (size_t)r;
  out[used] = 0;
  close(pfd[0]);
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char buf[1 << 16];

static void test_help(void **state) {
  (void)state;
  const char *a1[] = {"--help", NULL};
  assert_int_equal(run(a1, buf, sizeof(buf)), 0);
  assert_non_null(strstr(buf, "run"));
  assert_non_null(strstr(buf, "platform"));
  const char *a2[] = {"run", "--help", NULL};
  assert_int_equal(run(a2, buf, sizeof(buf)), 0);
  static const char *flags[] = {
      "--hubs",    "--warmup",       "--allow-lag", "--ui",      "--devices-per-hub",
      "--mix",     "--duration",     "--seed",      "--ramp",    "--fleet-key",
      "--bind",    "--platform",     "--summary",   "--speedup", "--drain",
      "--max-lag", "--command-rate", "--db",        "--quiet",   NULL};
  for (int i = 0; flags[i]; i++)
    assert_non_null(strstr(buf, flags[i]));
  const char *a3[] = {"platform", "--help", NULL};
  assert_int_equal(run(a3, buf, sizeof(buf)), 0);
  assert_non_null(strstr(buf, "--listen"));
  assert_non_null(strstr(buf, "--db"));
}

static void expect_usage_error(const char *const *args, const char *named) {
  int rc = run(args, buf, sizeof(buf));
  if (rc != 2 || !strstr(buf, named))
    fail_msg("exit %d for '%s', output: %s", rc, named, buf);
}

static void test_bad_flags(void **state) {
  (void)state;
  const char *a[][6] = {
      {"frobnicate", NULL},
      {"run", "--hubs", "0", NULL},
      {"run", "--hubs", "ten", NULL},
      {"run", "--devices-per-hub", "70000", NULL},
      {"run", "--duration", "5 minutes", NULL},
      {"run", "--duration", "-3s", NULL},
      {"run", "--mix", "lumi.no_such_model", NULL},
      {"run", "--mix", "lumi.plug.maeu01:-1", NULL},
      {"run", "--seed", "x", NULL},
      {"run", "--ramp", "fast", NULL},
      {"run", "--bind", "300.0.0.1", NULL},
      {"run", "--platform", "hubrpc://127.0.0.1", NULL},
      {"run", "--speedup", "0", NULL},
      {"run", "--ui", "holo", NULL},
      {"run", "--no-such-flag", NULL},
      {"run", "--hubs", NULL},
      {"run", "scenario.lua", NULL},
      {"platform", "--window", "0", NULL},
  };
  const char *named[] = {"frobnicate",
                         "--hubs",
                         "--hubs",
                         "--devices-per-hub",
                         "--duration",
                         "--duration",
                         "lumi.no_such_model",
                         "--mix",
                         "--seed",
                         "--ramp",
                         "--bind",
                         "--platform",
                         "--speedup",
                         "--ui",
                         "--no-such-flag",
                         "--hubs",
                         "scenario.lua",
                         "--window"};
  for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
    expect_usage_error(a[i], named[i]);
}

static void test_short_run(void **state) {
  (void)state;
  char path[256];
  snprintf(path, sizeof(path), "/tmp/hubsim-cli-%d.json", (int)getpid());
  const char *a[] = {
      "run", "--hubs", "30", "--devices-per-hub", "4",  "--duration", "2s", "--speedup",
      "50",  "--seed", "3",  "--summary",         path, "-q",         NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 0)
    fail_msg("exit %d: %s", rc, buf);
  assert_non_null(strstr(buf, "lost 0"));
  assert_non_null(strstr(buf, "PASS"));
  json_error_t err;
  json_t *j = json_load_file(path, 0, &err);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "schema")), "hubsim.summary/1");
  json_t *counts = json_object_get(j, "counts");
  json_t *rep = json_object_get(counts, "reports");
  json_int_t sent = json_integer_value(json_object_get(rep, "sent"));
  json_int_t acked = json_integer_value(json_object_get(rep, "acked"));
  assert_true(sent > 0);
  assert_int_equal(sent, acked);
  assert_int_equal(json_integer_value(json_object_get(counts, "lost")), 0);
  json_int_t stored =
      json_integer_value(json_object_get(json_object_get(j, "platform_counts"), "reports_stored"));
  assert_int_equal(stored, acked);
  json_decref(j);
  unlink(path);
  /* Nothing half-written: a summary path in a missing folder fails cleanly with exit 3. */
  const char *b[] = {
      "run", "--hubs", "2", "--duration", "1s", "--summary", "/nonexistent-dir/s.json", "-q", NULL};
  rc = run(b, buf, sizeof(buf));
  assert_int_equal(rc, 3);
  assert_non_null(strstr(buf, "/nonexistent-dir/s.json"));
}

static void test_platform_unreachable(void **state) {
  (void)state;
  /* Port 1 on loopback: nothing listens there. Hubs back off and retry; the run ends with
   * exit 3 and says why. */
  const char *a[] = {"run",    "--platform", "hubrpc://127.0.0.1:1",
                     "--hubs", "3",          "--duration",
                     "1s",     "--drain",    "0s",
                     "-q",     NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 3)
    fail_msg("exit %d: %s", rc, buf);
  assert_non_null(strstr(buf, "ECONNREFUSED"));
}

static void test_generator_late(void **state) {
  (void)state;
  /* --max-lag 0: any measured tick lag is too much, so the generator is late: exit 4, and the
   * verdict says why. --allow-lag turns it into a warning with exit 0. */
  const char *a[] = {"run", "--hubs",    "5", "--duration", "1s", "--speedup",
                     "100", "--max-lag", "0", "-q",         NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 4 || !strstr(buf, "could not keep its schedule"))
    fail_msg("exit %d: %s", rc, buf);
  const char *b[] = {"run", "--hubs",    "5", "--duration",  "1s", "--speedup",
                     "100", "--max-lag", "0", "--allow-lag", "-q", NULL};
  rc = run(b, buf, sizeof(buf));
  if (rc != 0 || !strstr(buf, "fell behind its schedule"))
    fail_msg("exit %d: %s", rc, buf);
}

static void test_open_file_limit(void **state) {
  (void)state;
  /* A fleet that cannot fit in the process's open files is refused up front, naming --hubs. */
  nofile_cap = 256;
  const char *a[] = {"run", "--hubs", "300", "--duration", "1s", NULL};
  int rc = run(a, buf, sizeof(buf));
  nofile_cap = 0;
  if (rc != 3 || !strstr(buf, "--hubs 300") || !strstr(buf, "256"))
    fail_msg("exit %d: %s", rc, buf);
}

/* --workers N: the fleet runs in N processes and its figures are merged exactly; and the fleet
 * is the same whatever N: the same hubs, the same devices of the same models for a seed. */
static void test_workers(void **state) {
  (void)state;
  char db1[128], db3[128], js[128];
  snprintf(db1, sizeof(db1), "/tmp/hubsim-cli-w1-%d.db", (int)getpid());
  snprintf(db3, sizeof(db3), "/tmp/hubsim-cli-w3-%d.db", (int)getpid());
  snprintf(js, sizeof(js), "/tmp/hubsim-cli-w3-%d.json", (int)getpid());
  const char *a[] = {"run", "--workers",  "3",  "--hubs",    "61", "--devices-per-hub",
                     "5",   "--duration", "2s", "--speedup", "50", "--seed",
                     "9",   "--db",       db3,  "--summary", js,   "-q",
                     NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 0)
    fail_msg("exit %d: %s", rc, buf);
  json_error_t err;
  json_t *j = json_load_file(js, 0, &err);
  assert_non_null(j);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "generator"), "workers")),
                   3);
  json_t *rep = json_object_get(json_object_get(j, "counts"), "reports");
  json_int_t acked = json_integer_value(json_object_get(rep, "acked"));
  assert_true(acked > 0);
  assert_int_equal(json_integer_value(json_object_get(rep, "sent")), acked);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(j, "platform_counts"), "reports_stored")),
      acked);
  json_decref(j);
  const char *b[] = {
      "run", "--hubs", "61", "--devices-per-hub", "5", "--duration", "1s", "--seed", "9", "--db",
      db1,   "-q",     NULL};
  rc = run(b, buf, sizeof(buf));
  if (rc != 0)
    fail_msg("exit %d: %s", rc, buf);
  /* The same 61 hubs and 305 devices, with the same model for every IEEE address. */
  static const char *q[] = {"SELECT count(*) FROM hubs", "SELECT count(*) FROM devices",
                            "SELECT sum((eui64 % 1000003) * length(model)) FROM devices",
                            "SELECT sum(length(hub_id) * (eui64 % 7919)) FROM devices"};
  for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
    long long v1 = platproc_query(db1, q[i]), v3 = platproc_query(db3, q[i]);
    if (v1 != v3 || v1 <= 0)
      fail_msg("%s: %lld with 1 process, %lld with 3 workers", q[i], v1, v3);
  }
  assert_int_equal(platproc_query(db3, "SELECT count(*) FROM hubs"), 61);
  const char *sfx[] = {"", "-wal", "-shm"};
  char p[160];
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s%s", db1, sfx[i]);
    unlink(p);
    snprintf(p, sizeof(p), "%s%s", db3, sfx[i]);
    unlink(p);
  }
  unlink(js);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help),
      cmocka_unit_test(test_bad_flags),
      cmocka_unit_test(test_short_run),
      cmocka_unit_test(test_platform_unreachable),
      cmocka_unit_test(test_open_file_limit),
      cmocka_unit_test(test_generator_late),
      cmocka_unit_test(test_workers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
