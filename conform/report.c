/* The terminal table and the JUnit file of a conformance run. */
#include "conform/report.h"

#include <string.h>

#include "recorders/junit.h"
#include "sim/core/err.h"
#include "sim/core/wfile.h"

static const char *const verdict_names[] = {"pass", "FAIL", "skipped"};

void conform_report_table(FILE *out, const struct conform_result *r, size_t n) {
  size_t count[3] = {0};
  fprintf(out, "%-26s %-17s %-7s %s\n", "case", "section", "result", "reason");
  for (size_t i = 0; i < n; i++) {
    count[r[i].verdict]++;
    fprintf(out, "%-26s %-17s %-7s %s\n", r[i].c->name, r[i].c->section,
            verdict_names[r[i].verdict], r[i].verdict == CONFORM_PASS ? "" : r[i].why);
  }
  fprintf(out, "%zu cases: %zu passed, %zu failed, %zu skipped\n", n, count[CONFORM_PASS],
          count[CONFORM_FAIL], count[CONFORM_SKIP]);
}

/* The XML text of the whole file in b. */
static void junit_text(struct rec_junit_buf *b, const char *url, const struct conform_result *r,
                       size_t n) {
  size_t count[3] = {0};
  double total = 0;
  char t[200];
  for (size_t i = 0; i < n; i++) {
    count[r[i].verdict]++;
    total += r[i].time_s;
  }
  rec_junit_put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
  snprintf(t, sizeof(t),
           "  <testsuite name=\"hubrpc-conformance\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
           "skipped=\"%zu\" time=\"%.3f\">\n    <properties>\n      <property name=\"platform\" "
           "value=\"",
           n, count[CONFORM_FAIL], count[CONFORM_SKIP], total);
  rec_junit_put(b, t);
  rec_junit_escape(b, url, 1);
  rec_junit_put(b, "\"/>\n    </properties>\n");
  for (size_t i = 0; i < n; i++) {
    rec_junit_put(b, "    <testcase classname=\"hubrpc.conformance\" name=\"");
    rec_junit_escape(b, r[i].c->name, 1);
    snprintf(t, sizeof(t), "\" time=\"%.3f\">\n", r[i].time_s);
    rec_junit_put(b, t);
    if (r[i].verdict != CONFORM_PASS) {
      rec_junit_put(b, r[i].verdict == CONFORM_FAIL
                           ? "      <failure type=\"conformance\" message=\""
                           : "      <skipped message=\"");
      rec_junit_escape(b, r[i].why, 1);
      rec_junit_put(b, "\">");
      rec_junit_put(b, "docs/protocol.md section ");
      rec_junit_escape(b, r[i].c->section, 0);
      rec_junit_put(b, ": ");
      rec_junit_escape(b, r[i].c->what, 0);
      rec_junit_put(b, r[i].verdict == CONFORM_FAIL ? "</failure>\n" : "</skipped>\n");
    }
    rec_junit_put(b, "    </testcase>\n");
  }
  rec_junit_put(b, "  </testsuite>\n</testsuites>\n");
}

int conform_report_junit(const char *path, const char *url, const struct conform_result *r,
                         size_t n) {
  struct rec_junit_buf b = {0};
  junit_text(&b, url, r, n);
  if (b.oom) {
    rec_junit_buf_fini(&b);
    return SIM_ENOMEM;
  }
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (!rc) {
    if (fwrite(b.data, 1, b.len, w.fp) != b.len) {
      sim_wfile_abort(&w);
      rc = SIM_EIO;
    } else {
      rc = sim_wfile_commit(&w);
    }
  }
  rec_junit_buf_fini(&b);
  return rc;
}
