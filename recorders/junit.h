/* JUnit XML results of a scenario run (--junit FILE), for CI servers: Jenkins' junit step,
 * GitLab's artifacts:reports:junit, GitHub test-report actions, junitparser (docs/ci.md).
 *
 * The file holds one <testsuites> with one <testsuite name="SCENARIO">, and in it:
 *   - one <testcase classname="hubsim.SCENARIO" name="METRIC OP THRESHOLD"> per expectation, in
 *     the order the script declared them; a failed one carries
 *       <failure type="expectation" message="measured VALUE UNIT, expected OP THRESHOLD (at T s)">
 *     with the details (expect() call site file:line) as text, and one without data
 *       <failure type="no_data" ...>, because a figure that was never measured never passes;
 *   - one <testcase name="run"> for the run itself, always present so that a CI history sees
 *     the same test cases every time: it passes when the run's own verdict is good, carries a
 *     <failure type="accounting"> when the accounting failed (messages lost, dropped or never
 *     acknowledged, hubs that should be online and are not), and an <error> (type
 *     "script_error", "runtime" or "generator_late") when the run could not answer the question
 *     at all. The message is the verdict line; the text lists every reason.
 * <properties> carry the seed, the clock, the platform URL and the hubsim version.
 *
 * Text is escaped for XML (& < > " ', control characters, invalid UTF-8): a metric name or an
 * error message from a script can never break the file. */
#ifndef REC_JUNIT_H
#define REC_JUNIT_H

#include <stddef.h>
#include <stdint.h>

#include "recorders/summary.h"

/* The outcome of the "run" test case. */
enum rec_junit_run {
  REC_JUNIT_RUN_OK = 0,  /* passes */
  REC_JUNIT_RUN_FAILURE, /* <failure>: the run completed but its accounting failed */
  REC_JUNIT_RUN_ERROR    /* <error>: script error, platform unreachable, generator late */
};

struct rec_junit_suite {
  const char *name;      /* the scenario's name: testsuite name, classname "hubsim.NAME" */
  const char *timestamp; /* ISO 8601 UTC start of the run ("2026-11-25T19:27:43Z"); NULL: none */
  double time_s;         /* wall time of the whole run */
  const struct rec_expectation *exp; /* borrowed; may be NULL when n_exp is 0 */
  size_t n_exp;
  int run_status;             /* enum rec_junit_run */
  const char *run_type;       /* failure/error type attribute ("accounting", "script_error"...) */
  char run_message[768];      /* one line: the verdict text, or the script error with file:line */
  const char *run_details;    /* element text; NULL: run_details_buf, or run_message if empty */
  char run_details_buf[4096]; /* rec_junit_suite_from_run(): every reason, one per line */
  double run_time_s;          /* time of the "run" test case (the run's elapsed time) */
  /* <properties>; a NULL string leaves the property out. */
  uint64_t seed;
  const char *clock;        /* "real" or "virtual" */
  const char *platform_url; /* "embedded reference platform at ..." or the --platform URL */
  const char *version;      /* hubsim's version */
};

/* Fills s from what the summary uses: the scenario (run->scenario; NULL gives a suite of the
 * "run" test case alone, named "hubsim"), the verdict (the "run" test case: exit 0 passes, 1
 * from accounting is a failure, 2 (script error), 3 and 4 are errors; an exit 1 that comes only
 * from failed expectations leaves "run" passing, the expectations carry it; the element's text
 * lists every reason of the verdict, one per line, as "CHECK: TEXT"), run->seed,
 * run->platform_url, run->virtual_clock, run->started_at and run->wall_s (run->elapsed_s when
 * 0). version is left NULL for the caller to set. The pointers in s borrow from run and v (and what
 * they point to). */
void rec_junit_suite_from_run(struct rec_junit_suite *s, const struct rec_run_info *run,
                              const struct rec_verdict *v);

/* Writes s to path atomically with sim_wfile (sim/core/wfile.h): a new temporary file in the
 * same directory (".NAME.XXXXXX.tmp", created exclusively, never through a link), written,
 * flushed and fsync'ed, then renamed over path (the directory is fsync'ed too). On any error the
 * temporary file is removed and nothing at path changes. 0, or a negative errno (SIM_EINVAL for
 * an empty path or a suite without a name); the caller names the path in its message:
 * "--junit 'PATH': cannot write: sim_strerror(rc)". */
int rec_junit_write(const char *path, const struct rec_junit_suite *s);

/* Appends text to b with XML escaping: & < > " ' as entities, tab, newline and carriage return
 * as character references when attr is set (attribute values are normalised otherwise), other
 * control characters and invalid UTF-8 bytes as the visible text "\xNN" (XML 1.0 cannot carry
 * them at all). Exposed for tests. */
struct rec_junit_buf {
  char *data;
  size_t len, cap;
  int oom; /* an allocation failed: the buffer is incomplete */
};
void rec_junit_escape(struct rec_junit_buf *b, const char *text, int attr);
/* Appends text to b as it is (markup). */
void rec_junit_put(struct rec_junit_buf *b, const char *text);
void rec_junit_buf_fini(struct rec_junit_buf *b);

#endif
