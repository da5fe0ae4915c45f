/* recorders/junit.c: the JUnit XML file of a scenario run, checked by a real JUnit consumer from
 * Debian's packages, python3-junitparser (/usr/bin/python3 -m junitparser verify, and
 * junitparser.JUnitXml.fromfile for counts, names and messages). The interpreter is Debian's
 * own (/usr/bin/python3): a python3 earlier on PATH may not see Debian's modules. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "recorders/junit.h"
#include "sim/core/err.h"

#define PY "/usr/bin/python3"

/* Prints one line per suite and per test case, "|" separated, for the C side to compare. */
static const char *parse_py =
    "import sys\n"
    "from junitparser import JUnitXml, Failure, Error\n"
    "xml = JUnitXml.fromfile(sys.argv[1])\n"
    "for suite in xml:\n"
    "    print('suite|%s|%d|%d|%d' % (suite.name, suite.tests, suite.failures, suite.errors))\n"
    "    for p in suite.properties():\n"
    "        print('property|%s|%s' % (p.name, p.value))\n"
    "    for case in suite:\n"
    "        kind, typ, msg = 'pass', '', ''\n"
    "        for r in case.result:\n"
    "            kind = 'failure' if isinstance(r, Failure) else 'error' if isinstance(r, Error) "
    "else 'other'\n"
    "            typ, msg = r.type or '', r.message or ''\n"
    "        print('case|%s|%s|%s|%s|%s' % (case.classname, case.name, kind, typ, msg))\n";

struct dir {
  char path[64];
};

static void dir_make(struct dir *d) {
  snprintf(d->path, sizeof(d->path), "/tmp/hubsim-junit-XXXXXX");
  assert_non_null(mkdtemp(d->path));
}

/* Entries of the directory, "." and ".." left out. */
static int dir_count(const char *path) {
  DIR *dp = opendir(path);
  assert_non_null(dp);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dp)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      n++;
  closedir(dp);
  return n;
}

static void dir_remove(struct dir *d) {
  DIR *dp = opendir(d->path);
  assert_non_null(dp);
  struct dirent *e;
  char p[512];
  while ((e = readdir(dp))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    snprintf(p, sizeof(p), "%s/%s", d->path, e->d_name);
    if (remove(p) != 0)
      fail_msg("cannot remove %s: %s", p, strerror(errno));
  }
  closedir(dp);
  assert_int_equal(rmdir(d->path), 0);
}

/* Exit status of a shell command, its stdout in out (NUL-terminated). */
static int run_cmd(const char *cmd, char *out, size_t cap) {
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = 0, r;
  while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, p)) > 0)
    n += r;
  out[n] = '\0';
  int st = pclose(p);
  assert_true(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static void need_junitparser(void) {
  char out[256];
  if (run_cmd(PY " -c 'import junitparser' 2>&1", out, sizeof(out)) != 0)
    fail_msg("Debian's python3-junitparser is needed (apt-get install python3-junitparser): %s",
             out);
}

static int verify(const char *file) {
  char cmd[512], out[1024];
  snprintf(cmd, sizeof(cmd), PY " -m junitparser verify '%s' 2>&1", file);
  return run_cmd(cmd, out, sizeof(out));
}

/* The parse of file by junitparser, one line per suite/property/case. */
static void parse(const struct dir *d, const char *file, char *out, size_t cap) {
  char script[128], cmd[512];
  snprintf(script, sizeof(script), "%s/parse.py", d->path);
  FILE *f = fopen(script, "w");
  assert_non_null(f);
  fputs(parse_py, f);
  assert_int_equal(fclose(f), 0);
  snprintf(cmd, sizeof(cmd), PY " '%s' '%s' 2>&1", script, file);
  int rc = run_cmd(cmd, out, cap);
  if (rc != 0)
    fail_msg("junitparser could not read %s (exit %d):\n%s", file, rc, out);
  remove(script);
}

static void expect_line(const char *out, const char *line) {
  char want[1024];
  snprintf(want, sizeof(want), "%s\n", line);
  if (!strstr(out, want))
    fail_msg("junitparser output lacks the line\n  %s\nin:\n%s", line, out);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static const struct rec_expectation mixed[] = {
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
    {.metric = "hubs.online",
     .op = ">=",
     .threshold = 0.99,
     .threshold_text = NULL, /* a number in the script: the title formats it */
     .unit = "",
     .after_s = 120,
     .value = 0.5,
     .at_s = 130,
     .verdict = REC_EXP_FAIL,
     .file = "scenarios/smoke.lua",
     .line = 13},
};

static void suite_init(struct rec_junit_suite *s, const struct rec_expectation *e, size_t n) {
  memset(s, 0, sizeof(*s));
  s->name = "smoke";
  s->timestamp = "2026-11-25T19:27:43Z";
  s->time_s = 61.25;
  s->run_time_s = 61.25;
  s->exp = e;
  s->n_exp = n;
  s->seed = 7;
  s->clock = "virtual";
  s->platform_url = "embedded reference platform at mem://";
  s->version = "0.1.0";
}

static void test_failures_and_run_error(void **state) {
  (void)state;
  need_junitparser();
  struct dir d;
  dir_make(&d);
  char file[128];
  snprintf(file, sizeof(file), "%s/results.xml", d.path);
  struct rec_junit_suite s;
  suite_init(&s, mixed, 4);
  s.run_status = REC_JUNIT_RUN_ERROR;
  s.run_type = "generator_late";
  snprintf(s.run_message, sizeof(s.run_message), "FAIL: the generator could not keep its schedule");
  assert_int_equal(rec_junit_write(file, &s), 0);
  assert_int_equal(dir_count(d.path), 1); /* no temporary file left */

  /* junitparser's verify: non-zero when a test case failed or errored. */
  assert_int_not_equal(verify(file), 0);

  static char out[16384];
  parse(&d, file, out, sizeof(out));
  expect_line(out, "suite|smoke|5|3|1");
  expect_line(out, "property|seed|7");
  expect_line(out, "property|clock|virtual");
  expect_line(out, "property|platform|embedded reference platform at mem://");
  expect_line(out, "property|hubsim.version|0.1.0");
  expect_line(out, "case|hubsim.smoke|report.rtt.p99 < 250ms|pass||");
  expect_line(out, "case|hubsim.smoke|reports.lost == 0|failure|expectation|"
                   "measured 3, expected == 0 (at 42.5 s)");
  expect_line(out, "case|hubsim.smoke|automation.latency.p99 < 300ms|failure|no_data|"
                   "no data: automation.latency.p99 had no samples, expected < 300ms");
  expect_line(out, "case|hubsim.smoke|hubs.online >= 0.99 (after 120 s)|failure|expectation|"
                   "measured 0.5, expected >= 0.99 (at 130 s)");
  expect_line(out, "case|hubsim.smoke|run|error|generator_late|"
                   "FAIL: the generator could not keep its schedule");
  /* The failure text names the expect() call site. */
  const char *xml = slurp(file);
  assert_non_null(strstr(xml, "declared at: scenarios/smoke.lua:11"));
  assert_non_null(strstr(xml, "timestamp=\"2026-11-25T19:27:43Z\""));
  assert_non_null(strstr(xml, "<testsuites name=\"hubsim\" tests=\"5\" failures=\"3\" "
                              "errors=\"1\" time=\"61.250\">"));
  dir_remove(&d);
}

static void test_all_pass(void **state) {
  (void)state;
  need_junitparser();
  struct dir d;
  dir_make(&d);
  char file[128];
  snprintf(file, sizeof(file), "%s/results.xml", d.path);
  struct rec_junit_suite s;
  suite_init(&s, mixed, 1); /* the passing one alone */
  s.run_status = REC_JUNIT_RUN_OK;
  snprintf(s.run_message, sizeof(s.run_message), "PASS: every report accounted for");
  assert_int_equal(rec_junit_write(file, &s), 0);
  assert_int_equal(verify(file), 0);
  static char out[8192];
  parse(&d, file, out, sizeof(out));
  expect_line(out, "suite|smoke|2|0|0");
  expect_line(out, "case|hubsim.smoke|run|pass||");

  /* Written again over the old file: replaced, still one file, and a failure now fails. */
  s.run_status = REC_JUNIT_RUN_FAILURE;
  s.run_type = "accounting";
  snprintf(s.run_message, sizeof(s.run_message), "FAIL: messages were lost");
  assert_int_equal(rec_junit_write(file, &s), 0);
  assert_int_equal(dir_count(d.path), 1);
  assert_int_not_equal(verify(file), 0);
  parse(&d, file, out, sizeof(out));
  expect_line(out, "suite|smoke|2|1|0");
  expect_line(out, "case|hubsim.smoke|run|failure|accounting|FAIL: messages were lost");
  dir_remove(&d);
}

static void test_escaping(void **state) {
  (void)state;
  need_junitparser();
  struct dir d;
  dir_make(&d);
  char file[128];
  snprintf(file, sizeof(file), "%s/results.xml", d.path);
  /* A name with every XML special, a control character and a byte that is not UTF-8. */
  struct rec_expectation e = mixed[1];
  e.metric = "a&b<c>\"d'e\x01\xff";
  e.unit = "µs";
  struct rec_junit_suite s;
  suite_init(&s, &e, 1);
  s.name = "x<&>\"y";
  s.run_status = REC_JUNIT_RUN_ERROR;
  s.run_type = "script_error";
  snprintf(s.run_message, sizeof(s.run_message), "bad.lua:3: attempt to index a nil value");
  s.run_details = "line one\nline two ]]> <tag> & \t tab\r";
  assert_int_equal(rec_junit_write(file, &s), 0);
  const char *xml = slurp(file);
  assert_non_null(strstr(xml, "a&amp;b&lt;c&gt;&quot;d&apos;e\\x01\\xFF =="));
  assert_null(strstr(xml, "\x01"));
  assert_null(strstr(xml, "\xff"));
  static char out[8192];
  parse(&d, file, out, sizeof(out));
  expect_line(out, "suite|x<&>\"y|2|1|1");
  expect_line(out, "case|hubsim.x<&>\"y|a&b<c>\"d'e\\x01\\xFF == 0|failure|expectation|"
                   "measured 3 µs, expected == 0 (at 42.5 s)");
  expect_line(out, "case|hubsim.x<&>\"y|run|error|script_error|"
                   "bad.lua:3: attempt to index a nil value");
  /* The element text survives as written, CR and tab included. */
  char cmd[512];
  snprintf(cmd, sizeof(cmd),
           PY " -c 'import sys; from junitparser import JUnitXml; "
              "c = [c for s in JUnitXml.fromfile(sys.argv[1]) for c in s][-1]; "
              "sys.stdout.write(repr(c.result[0].text))' '%s'",
           file);
  assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
  assert_string_equal(out, "'line one\\nline two ]]> <tag> & \\t tab\\r'");
  dir_remove(&d);
}

static void test_atomic_errors(void **state) {
  (void)state;
  struct dir d;
  dir_make(&d);
  struct rec_junit_suite s;
  suite_init(&s, mixed, 4);
  char file[160];

  /* A directory that does not exist: an error, and nothing created anywhere. */
  snprintf(file, sizeof(file), "%s/missing/results.xml", d.path);
  assert_int_equal(rec_junit_write(file, &s), -ENOENT);
  assert_int_equal(dir_count(d.path), 0);

  /* A path that is a directory: the temporary file was written, the rename fails, and the
   * temporary file is gone again. */
  snprintf(file, sizeof(file), "%s/adir", d.path);
  assert_int_equal(mkdir(file, 0700), 0);
  int rc = rec_junit_write(file, &s);
  assert_true(rc == -EISDIR || rc == -EEXIST || rc == -ENOTEMPTY);
  assert_int_equal(dir_count(d.path), 1); /* adir alone */
  assert_int_equal(dir_count(file), 0);
  assert_int_equal(rmdir(file), 0);

  /* A path ending in '/', an empty path, a suite without a name. */
  snprintf(file, sizeof(file), "%s/", d.path);
  assert_int_equal(rec_junit_write(file, &s), SIM_EINVAL);
  assert_int_equal(rec_junit_write("", &s), SIM_EINVAL);
  s.name = NULL;
  snprintf(file, sizeof(file), "%s/r.xml", d.path);
  assert_int_equal(rec_junit_write(file, &s), SIM_EINVAL);
  assert_int_equal(dir_count(d.path), 0);
  dir_remove(&d);
}

/* The "run" test case from a verdict: who carries a failure. */
static void test_suite_from_run(void **state) {
  (void)state;
  struct rec_expectation e[2] = {mixed[0], mixed[1]};
  struct rec_scenario sc = {.name = "power-cut", .exp = e, .n_exp = 2};
  struct rec_run_info run = {.platform_url = "embedded",
                             .seed = 3,
                             .elapsed_s = 5,
                             .started_at = "2026-01-01T00:00:00Z",
                             .scenario = &sc};
  struct rec_verdict v = {.exit_code = 1,
                          .text = "FAIL: an expectation of the scenario did not "
                                  "hold",
                          .exp_failed = 1,
                          .by_expectations = 1};
  struct rec_junit_suite s;
  rec_junit_suite_from_run(&s, &run, &v);
  assert_string_equal(s.name, "power-cut");
  assert_int_equal(s.n_exp, 2);
  assert_int_equal(s.seed, 3);
  assert_int_equal(s.run_status, REC_JUNIT_RUN_OK);

  v.by_expectations = 0;
  v.lost = 4;
  snprintf(v.text, sizeof(v.text), "FAIL: messages were lost");
  rec_junit_suite_from_run(&s, &run, &v);
  assert_int_equal(s.run_status, REC_JUNIT_RUN_FAILURE);
  assert_string_equal(s.run_type, "accounting");
  assert_string_equal(s.run_message, "FAIL: messages were lost");

  v.exit_code = 3;
  rec_junit_suite_from_run(&s, &run, &v);
  assert_int_equal(s.run_status, REC_JUNIT_RUN_ERROR);
  assert_string_equal(s.run_type, "runtime");

  v.exit_code = 4;
  rec_junit_suite_from_run(&s, &run, &v);
  assert_string_equal(s.run_type, "generator_late");

  sc.error = "attempt to call a nil value (global 'conect')";
  sc.error_file = "scenarios/x.lua";
  sc.error_line = 17;
  v.exit_code = 2;
  v.script_error = 1;
  rec_junit_suite_from_run(&s, &run, &v);
  assert_int_equal(s.run_status, REC_JUNIT_RUN_ERROR);
  assert_string_equal(s.run_type, "script_error");
  assert_string_equal(s.run_message,
                      "scenarios/x.lua:17: attempt to call a nil value (global 'conect')");

  /* Without a scenario: a suite named "hubsim" with the run test case alone. */
  run.scenario = NULL;
  v = (struct rec_verdict){.exit_code = 0, .text = "PASS: every report accounted for"};
  rec_junit_suite_from_run(&s, &run, &v);
  assert_string_equal(s.name, "hubsim");
  assert_int_equal(s.n_exp, 0);
  assert_int_equal(s.run_status, REC_JUNIT_RUN_OK);
}

static void test_escape_attr_vs_text(void **state) {
  (void)state;
  struct rec_junit_buf b = {0};
  rec_junit_escape(&b, "a\tb\nc", 1);
  assert_string_equal(b.data, "a&#9;b&#10;c");
  rec_junit_buf_fini(&b);
  rec_junit_escape(&b, "a\tb\nc\r", 0);
  assert_string_equal(b.data, "a\tb\nc&#13;");
  rec_junit_buf_fini(&b);
  /* Valid multi-byte UTF-8 passes; an overlong form and a surrogate do not. */
  rec_junit_escape(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xc0\xaf|\xed\xa0\x80", 0);
  assert_string_equal(b.data, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\xC0\\xAF|\\xED\\xA0\\x80");
  rec_junit_buf_fini(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_failures_and_run_error),
      cmocka_unit_test(test_all_pass),
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_atomic_errors),
      cmocka_unit_test(test_suite_from_run),
      cmocka_unit_test(test_escape_attr_vs_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
