/* The scenario library, end to end through the real binary ($HUBSIM_BIN):
 * - every library scenario runs on the virtual clock with a fixed seed, exits 0 (its
 *   expectations hold) and writes a summary equal byte for byte to golden/NAME.json;
 * - the same scenario and seed twice give the same summary; another seed a different one;
 * - the scenarios meant for the real clock (demo, the default of `hubsim run`, and smoke) run
 *   on it once, bounded in time, and exit 0;
 * - the JUnit file of smoke is accepted by a real JUnit consumer (Debian's python3-junitparser,
 *   `/usr/bin/python3 -m junitparser verify`), and that of a scenario with a failing
 *   expectation gives exit 1 and is read as failed;
 * - an unknown metric stops hubsim at load with exit 2 and the script's file:line.
 * The command line of the golden runs is the one of regen.sh: keep them in step. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "scnrun.h"

/* The seed of the golden runs (regen.sh uses the same). */
#define GOLDEN_SEED "1"
/* Generous limits: ASan builds are several times slower. */
#define VIRTUAL_TIMEOUT_S 240.0
#define REAL_TIMEOUT_S 120.0

/* The library as the issue names it; every scenarios/NAME.lua must be among them (or have a
 * golden: test_every_file_has_a_golden). */
static const char *const LIBRARY[] = {"demo",        "smoke",           "morning-rush",
                                      "power-cut",   "reconnect-storm", "automation-latency",
                                      "battery-day", "command-fanout"};
#define N_LIBRARY (sizeof LIBRARY / sizeof LIBRARY[0])

static const char *bin(void) {
  const char *b = getenv("HUBSIM_BIN");
  return b && *b ? b : "./hubsim";
}

static const char *src(void) {
  const char *s = getenv("HUBSIM_SOURCE_DIR");
  return s && *s ? s : ".";
}

static char tmpdir[4096];

static int group_setup(void **state) {
  (void)state;
  const char *t = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/hubsim-scn-XXXXXX", t && *t ? t : "/tmp");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  DIR *d = opendir(tmpdir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char p[8192];
      snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(tmpdir);
  return 0;
}

static void tmp_path(char *out, size_t cap, const char *fmt, ...) {
  char name[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* Shows what a failed run printed (the last 3000 bytes of each stream). */
static void show(const char *what, const struct scnrun_out *r) {
  const char *o = r->out_len > 3000 ? r->out + r->out_len - 3000 : r->out;
  const char *e = r->err_len > 3000 ? r->err + r->err_len - 3000 : r->err;
  print_message("%s: exit %d%s after %.1f s\n--- stdout (end) ---\n%s\n--- stderr (end) ---\n%s\n",
                what, r->status, r->timed_out ? " (timed out)" : "", r->wall_s, o ? o : "",
                e ? e : "");
}

/* `hubsim run NAME --clock virtual --seed SEED -q --summary OUT [extra]`; returns the exit. */
static int run_virtual(const char *name, const char *seed, const char *summary, const char *extra1,
                       const char *extra2, struct scnrun_out *r) {
  const char *argv[16] = {bin(), "run",       name,    "--clock", "virtual", "--seed", seed,
                          "-q",  "--summary", summary, extra1,    extra2,    NULL};
  return scnrun_run(argv, VIRTUAL_TIMEOUT_S, r);
}

/* Index of the first byte where a and b differ, and the line it is on. */
static void first_diff(const char *a, size_t na, const char *b, size_t nb, size_t *at, int *line) {
  size_t i = 0;
  *line = 1;
  while (i < na && i < nb && a[i] == b[i]) {
    if (a[i] == '\n')
      (*line)++;
    i++;
  }
  *at = i;
}

/* ---- every library scenario against its golden summary ---------------------------------- */

static void test_golden(void **state) {
  const char *name = *state;
  char summary[8192], golden[8192];
  tmp_path(summary, sizeof summary, "%s.json", name);
  snprintf(golden, sizeof golden, "%s/tests/scenarios/golden/%s.json", src(), name);
  struct scnrun_out r;
  int rc = run_virtual(name, GOLDEN_SEED, summary, NULL, NULL, &r);
  if (rc != 0)
    show(name, &r);
  assert_int_equal(rc, 0);
  scnrun_free(&r);

  size_t n_got = 0, n_want = 0;
  char *got = scnrun_slurp(summary, &n_got);
  assert_non_null(got);
  char *want = scnrun_slurp(golden, &n_want);
  if (!want)
    print_message("no golden %s: run tests/scenarios/regen.sh (see tests/scenarios/README.md)\n",
                  golden);
  assert_non_null(want);
  if (n_got != n_want || memcmp(got, want, n_got) != 0) {
    size_t at;
    int line;
    first_diff(got, n_got, want, n_want, &at, &line);
    const char *g = got + at, *w = want + at;
    while (g > got && g[-1] != '\n')
      g--;
    while (w > want && w[-1] != '\n')
      w--;
    print_message("%s: the summary differs from %s at line %d:\n  got:    %.*s\n  golden: %.*s\n"
                  "If the change is intended, run tests/scenarios/regen.sh and review the diff "
                  "(tests/scenarios/README.md).\n",
                  name, golden, line, (int)strcspn(g, "\n"), g, (int)strcspn(w, "\n"), w);
  }
  assert_int_equal(n_got, n_want);
  assert_memory_equal(got, want, n_got);
  /* the run is a scenario run, and it is the one asked for */
  char key[256];
  snprintf(key, sizeof key, "\"name\": \"%s\"", name);
  assert_non_null(strstr(got, key));
  assert_non_null(strstr(got, "\"clock\": \"virtual\""));
  free(got);
  free(want);
}

/* Every scenarios/NAME.lua is in the library list and has a golden (a new scenario without one
 * would otherwise go untested). */
static void test_every_file_has_a_golden(void **state) {
  (void)state;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/scenarios", src());
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  size_t seen = 0;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 4, ".lua") != 0)
      continue;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(n - 4), e->d_name);
    int listed = 0;
    for (size_t i = 0; i < N_LIBRARY; i++)
      listed |= strcmp(LIBRARY[i], name) == 0;
    if (!listed)
      print_message("scenarios/%s is not in LIBRARY of test_scenarios.c\n", e->d_name);
    assert_true(listed);
    char golden[8192];
    snprintf(golden, sizeof golden, "%s/tests/scenarios/golden/%s.json", src(), name);
    assert_int_equal(access(golden, R_OK), 0);
    seen++;
  }
  closedir(d);
  assert_int_equal(seen, N_LIBRARY);
}

/* ---- determinism ----------------------------------------------------------------------- */

static void test_same_seed_same_summary_other_seed_differs(void **state) {
  (void)state;
  char a[8192], b[8192], c[8192];
  tmp_path(a, sizeof a, "smoke-a.json");
  tmp_path(b, sizeof b, "smoke-b.json");
  tmp_path(c, sizeof c, "smoke-c.json");
  struct scnrun_out r;
  assert_int_equal(run_virtual("smoke", "7", a, NULL, NULL, &r), 0);
  scnrun_free(&r);
  assert_int_equal(run_virtual("smoke", "7", b, NULL, NULL, &r), 0);
  scnrun_free(&r);
  assert_int_equal(run_virtual("smoke", "8", c, NULL, NULL, &r), 0);
  scnrun_free(&r);
  size_t na, nb, nc;
  char *sa = scnrun_slurp(a, &na), *sb = scnrun_slurp(b, &nb), *sc = scnrun_slurp(c, &nc);
  assert_non_null(sa);
  assert_non_null(sb);
  assert_non_null(sc);
  assert_true(na > 1000);
  assert_int_equal(na, nb);
  assert_memory_equal(sa, sb, na);
  assert_true(na != nc || memcmp(sa, sc, na) != 0);
  /* and the difference is in the figures, not only in the seed field */
  assert_non_null(strstr(sa, "\"seed\": 7"));
  assert_non_null(strstr(sc, "\"seed\": 8"));
  char *sa7 = strstr(sa, "\"counts\"");
  char *sc8 = strstr(sc, "\"counts\"");
  char *sa_end = strstr(sa, "\"errors\""), *sc_end = strstr(sc, "\"errors\"");
  assert_non_null(sa7);
  assert_non_null(sc8);
  assert_non_null(sa_end);
  assert_non_null(sc_end);
  assert_true(sa_end - sa7 != sc_end - sc8 || memcmp(sa7, sc8, (size_t)(sa_end - sa7)) != 0);
  free(sa);
  free(sb);
  free(sc);
}

/* ---- the real clock -------------------------------------------------------------------- */

/* `hubsim run --speedup 60` without a scenario runs the demo (what `make run` does). */
static void test_real_clock_demo(void **state) {
  (void)state;
  char summary[8192];
  tmp_path(summary, sizeof summary, "demo-real.json");
  const char *argv[] = {bin(), "run", "--speedup", "60", "-q", "--summary", summary, NULL};
  struct scnrun_out r;
  int rc = scnrun_run(argv, REAL_TIMEOUT_S, &r);
  if (rc != 0)
    show("demo on the real clock", &r);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(r.out, "scenario               demo:"));
  /* 20 s of run and a short drain; not the virtual clock's fraction of a second */
  assert_true(r.wall_s >= 19.0);
  scnrun_free(&r);
  size_t n;
  char *s = scnrun_slurp(summary, &n);
  assert_non_null(s);
  assert_non_null(strstr(s, "\"clock\": \"real\""));
  assert_non_null(strstr(s, "\"name\": \"demo\""));
  free(s);
}

/* smoke on the real clock: exit 0 in under 30 s of wall time. */
static void test_real_clock_smoke(void **state) {
  (void)state;
  const char *argv[] = {bin(), "run", "smoke", "-q", NULL};
  struct scnrun_out r;
  int rc = scnrun_run(argv, REAL_TIMEOUT_S, &r);
  if (rc != 0 || r.wall_s >= 30.0)
    show("smoke on the real clock", &r);
  assert_int_equal(rc, 0);
  assert_true(r.wall_s < 30.0);
  scnrun_free(&r);
}

/* ---- CI outputs ------------------------------------------------------------------------ */

/* /usr/bin/python3 -m junitparser verify FILE: its exit code. */
static int junit_verify(const char *file, struct scnrun_out *r) {
  const char *argv[] = {"/usr/bin/python3", "-m", "junitparser", "verify", file, NULL};
  return scnrun_run(argv, 60.0, r);
}

static void test_junit_smoke_verifies(void **state) {
  (void)state;
  char summary[8192], junit[8192];
  tmp_path(summary, sizeof summary, "smoke-junit.json");
  tmp_path(junit, sizeof junit, "smoke.xml");
  struct scnrun_out r;
  int rc = run_virtual("smoke", GOLDEN_SEED, summary, "--junit", junit, &r);
  if (rc != 0)
    show("smoke --junit", &r);
  assert_int_equal(rc, 0);
  scnrun_free(&r);
  size_t n;
  char *x = scnrun_slurp(junit, &n);
  assert_non_null(x);
  assert_non_null(strstr(x, "<testsuite name=\"smoke\""));
  assert_non_null(strstr(x, "name=\"reports.lost == 0\""));
  assert_null(strstr(x, "<failure"));
  free(x);
  rc = junit_verify(junit, &r);
  if (rc != 0)
    show("junitparser verify (smoke)", &r);
  assert_int_equal(rc, 0);
  scnrun_free(&r);
}

static void test_failing_expectation_exit_1(void **state) {
  (void)state;
  char script[8192], summary[8192], junit[8192];
  snprintf(script, sizeof script, "%s/tests/scenarios/failing.lua", src());
  tmp_path(summary, sizeof summary, "failing.json");
  tmp_path(junit, sizeof junit, "failing.xml");
  struct scnrun_out r;
  int rc = run_virtual(script, GOLDEN_SEED, summary, "--junit", junit, &r);
  if (rc != 1)
    show("failing.lua", &r);
  assert_int_equal(rc, 1);
  assert_non_null(strstr(r.out, "reports.generated < 1: FAIL"));
  assert_non_null(strstr(r.out, "verdict                FAIL"));
  scnrun_free(&r);
  size_t n;
  char *x = scnrun_slurp(junit, &n);
  assert_non_null(x);
  assert_non_null(strstr(x, "<failure"));
  assert_non_null(strstr(x, "type=\"expectation\""));
  free(x);
  rc = junit_verify(junit, &r);
  if (rc == 0)
    show("junitparser verify (failing)", &r);
  assert_int_not_equal(rc, 0);
  assert_int_not_equal(rc, -1); /* it ran and said "failed", rather than crashing or hanging */
  scnrun_free(&r);
}

static void test_unknown_metric_exit_2(void **state) {
  (void)state;
  char script[8192], summary[8192];
  snprintf(script, sizeof script, "%s/tests/scenarios/unknown_metric.lua", src());
  tmp_path(summary, sizeof summary, "unknown.json");
  struct scnrun_out r;
  int rc = run_virtual(script, GOLDEN_SEED, summary, NULL, NULL, &r);
  if (rc != 2)
    show("unknown_metric.lua", &r);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(r.err, "unknown_metric.lua:5:"));
  assert_non_null(strstr(r.err, "unknown metric 'report.rtt.p95'"));
  scnrun_free(&r);
  /* the run never started: no summary */
  assert_int_not_equal(access(summary, F_OK), 0);
}

/* Bad scripts through the binary: each is refused when it loads, with its file and line on
 * stderr, exit 2, and no summary written. */
static const struct {
  const char *file;
  int line;
  const char *says;
} BAD[] = {
    {"syntax.lua", 3, "'}' expected"},
    {"runtime.lua", 4, "attempt to index a nil value"},
    {"model.lua", 3, "unknown device model 'lumi.no_such_thing'"},
    {"loop.lua", 4, "instruction budget"},
    {"bomb.lua", 5, "memory limit"},
    {"io.lua", 3, "global 'io'"},
    {"os.lua", 3, "global 'os'"},
    /* scripts that once hung hubsim inside a C function or a finalizer */
    {"pattern.lua", 4, "instruction budget of 100000000 exceeded (string.find"},
    {"gc.lua", 4, "__gc finalizers are not available"},
    {"rep.lua", 5, "memory limit"},
    {"move.lua", 3, "instruction budget of 100000000 exceeded (table.move"},
    /* inputs that once failed only when the run started, with a message naming no input */
    {"nodph.lua", 3, "fleet: devices_per_hub is required"},
    {"key.lua", 3, "fleet: key is 200 bytes long: it must be 1 to 128"},
    {"prefix.lua", 3, "fleet: prefix 'site/a-' may hold only letters, digits and . _ : -"},
    {"duration.lua", 2, "scenario duration: '5000d' is longer than 3650 days"},
};

/* The time the binary may take on one bad script: each ends at load in well under a second;
 * a hung one is killed here and fails the test. */
#define BAD_TIMEOUT_S 60.0

static void test_bad_scripts_exit_2(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    char script[8192], summary[8192], where[64];
    snprintf(script, sizeof script, "%s/tests/scenarios/bad/%s", src(), BAD[i].file);
    tmp_path(summary, sizeof summary, "bad.json");
    struct scnrun_out r;
    const char *argv[] = {bin(), "run",       script,  "--clock", "virtual", "--seed",
                          "1",   "--summary", summary, "-q",      NULL};
    int rc = scnrun_run(argv, BAD_TIMEOUT_S, &r);
    snprintf(where, sizeof where, "%s:%d:", BAD[i].file, BAD[i].line);
    if (rc != 2 || !strstr(r.err, where) || !strstr(r.err, BAD[i].says))
      show(BAD[i].file, &r);
    printf("bad/%s: exit %d, %s", BAD[i].file, rc, r.err);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(r.err, where));
    assert_non_null(strstr(r.err, BAD[i].says));
    scnrun_free(&r);
    assert_int_not_equal(access(summary, F_OK), 0);
  }
}

/* A script that hangs inside a callback, once the fleet runs: the run stops with exit 2 and
 * the callback's line, and writes what it has (the summary names the error). */
static void test_hanging_callback_exit_2(void **state) {
  (void)state;
  char script[8192], summary[8192];
  snprintf(script, sizeof script, "%s/tests/scenarios/bad/callback.lua", src());
  tmp_path(summary, sizeof summary, "callback.json");
  const char *argv[] = {bin(), "run",       script,  "--clock", "virtual", "--seed",
                        "1",   "--summary", summary, "-q",      NULL};
  struct scnrun_out r;
  int rc = scnrun_run(argv, BAD_TIMEOUT_S, &r);
  printf("callback.lua: exit %d after %.1f s, %s", rc, r.wall_s, r.err);
  if (rc != 2 || !strstr(r.err, "callback.lua:7: instruction budget"))
    show("callback.lua", &r);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(r.err, "callback.lua:7: instruction budget of 100000000 exceeded "
                                "(string.gsub"));
  scnrun_free(&r);
  size_t n;
  char *s = scnrun_slurp(summary, &n);
  assert_non_null(s);
  assert_non_null(strstr(s, "callback.lua"));
  free(s);
}

/* Ctrl-C while a callback holds the loop (bad/spin.lua: only the 10 s time limit would end it):
 * the call ends at once, the run stops with exit 2 and the line the script was on. SIGINT goes
 * once the run has started and used half a second of CPU, which only the spinning callback
 * does (the 2 hubs of the run need a few milliseconds). */
static void test_sigint_ends_a_spinning_script(void **state) {
  (void)state;
  char script[8192], summary[8192];
  snprintf(script, sizeof script, "%s/tests/scenarios/bad/spin.lua", src());
  tmp_path(summary, sizeof summary, "spin.json");
  const char *argv[] = {bin(), "run", script, "--seed", "1", "--summary", summary, NULL};
  struct scnrun_out r;
  int rc = scnrun_run_signal(argv, BAD_TIMEOUT_S, "hubsim run: 2 hubs", 0.5, SIGINT, &r);
  printf("spin.lua: exit %d, %.2f s after the first SIGINT\n", rc, r.signal_s);
  if (rc != 2 || !strstr(r.err, "spin.lua:9: interrupted by SIGINT"))
    show("spin.lua", &r);
  assert_int_equal(rc, 2);
  assert_true(r.signal_s >= 0);
  assert_non_null(strstr(r.err, "spin.lua:9: interrupted by SIGINT while the script was running"));
  assert_null(strstr(r.err, "time limit"));
  scnrun_free(&r);
}

/* A callback that fails while the run drains (after its duration, waiting for what is in
 * flight) stops the run with exit 2 like any other: bad/drain.lua against a "platform" that
 * accepts connections and never answers, so that the drain lasts its full --drain. */
static void test_callback_failing_while_draining(void **state) {
  (void)state;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(lfd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(lfd, 16), 0);
  socklen_t al = sizeof a;
  assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
  char url[64], script[8192];
  snprintf(url, sizeof url, "hubrpc://127.0.0.1:%u", ntohs(a.sin_port));
  snprintf(script, sizeof script, "%s/tests/scenarios/bad/drain.lua", src());
  const char *argv[] = {bin(), "run", script, "--platform", url, "--drain", "3s", "-q", NULL};
  struct scnrun_out r;
  int rc = scnrun_run(argv, BAD_TIMEOUT_S, &r);
  close(lfd);
  printf("drain.lua: exit %d after %.1f s\n", rc, r.wall_s);
  if (rc != 2 || !strstr(r.err, "drain.lua:7: failed while draining"))
    show("drain.lua", &r);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(r.err, "drain.lua:7: failed while draining"));
  assert_non_null(strstr(r.out, "scenario error"));
  scnrun_free(&r);
}

/* reports.lost while the run goes on counts only what can no longer arrive: frames waiting in
 * a hub's queue (lost_in_flight.lua delays every write by 2 s for 20 s) are not lost, and a
 * continuous expectation of 0 holds. */
static void test_lost_counts_only_what_is_lost(void **state) {
  (void)state;
  char script[8192], summary[8192];
  snprintf(script, sizeof script, "%s/tests/scenarios/lost_in_flight.lua", src());
  tmp_path(summary, sizeof summary, "lost.json");
  struct scnrun_out r;
  int rc = run_virtual(script, GOLDEN_SEED, summary, NULL, NULL, &r);
  if (rc != 0)
    show("lost_in_flight.lua", &r);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(r.out, "reports.lost == 0 (after 1 s): PASS"));
  scnrun_free(&r);
}

int main(void) {
  struct CMUnitTest tests[N_LIBRARY + 12];
  size_t n = 0;
  for (size_t i = 0; i < N_LIBRARY; i++) {
    tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_golden, (void *)LIBRARY[i]);
    tests[n].name = LIBRARY[i];
    n++;
  }
  const struct CMUnitTest rest[] = {
      cmocka_unit_test(test_every_file_has_a_golden),
      cmocka_unit_test(test_same_seed_same_summary_other_seed_differs),
      cmocka_unit_test(test_junit_smoke_verifies),
      cmocka_unit_test(test_failing_expectation_exit_1),
      cmocka_unit_test(test_unknown_metric_exit_2),
      cmocka_unit_test(test_bad_scripts_exit_2),
      cmocka_unit_test(test_hanging_callback_exit_2),
      cmocka_unit_test(test_sigint_ends_a_spinning_script),
      cmocka_unit_test(test_callback_failing_while_draining),
      cmocka_unit_test(test_lost_counts_only_what_is_lost),
      cmocka_unit_test(test_real_clock_smoke),
      cmocka_unit_test(test_real_clock_demo),
  };
  for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
    tests[n++] = rest[i];
  return _cmocka_run_group_tests("scenarios", tests, n, group_setup, group_teardown);
}
