#include "recorders/junit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/wfile.h"

/* ---- a growing text buffer -------------------------------------------------------------- */

static void buf_put(struct rec_junit_buf *b, const char *p, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      b->oom = 1;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_str(struct rec_junit_buf *b, const char *s) {
  buf_put(b, s, strlen(s));
}

void rec_junit_put(struct rec_junit_buf *b, const char *text) {
  buf_str(b, text);
}

static void buf_printf(struct rec_junit_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void buf_printf(struct rec_junit_buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  if ((size_t)n < sizeof(tmp)) {
    buf_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf_put(b, big, (size_t)n);
  free(big);
}

void rec_junit_buf_fini(struct rec_junit_buf *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}

void rec_junit_escape(struct rec_junit_buf *b, const char *text, int attr) {
  if (!text)
    return;
  const unsigned char *s = (const unsigned char *)text;
  size_t n = strlen(text);
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    const char *ent = NULL;
    char hex[8];
    switch (c) {
    case '&':
      ent = "&amp;";
      break;
    case '<':
      ent = "&lt;";
      break;
    case '>':
      ent = "&gt;"; /* needed only after "]]", escaped always for simplicity */
      break;
    case '"':
      ent = "&quot;";
      break;
    case '\'':
      ent = "&apos;";
      break;
    case '\t':
      ent = attr ? "&#9;" : "\t";
      break;
    case '\n':
      ent = attr ? "&#10;" : "\n";
      break;
    case '\r':
      ent = "&#13;"; /* a raw CR would be normalised away by the parser */
      break;
    default:
      break;
    }
    if (ent) {
      buf_str(b, ent);
      i++;
      continue;
    }
    if (c < 0x20) {
      /* XML 1.0 has no way to carry these, not even as &#N;: show them. */
      snprintf(hex, sizeof(hex), "\\x%02X", c);
      buf_str(b, hex);
      i++;
      continue;
    }
    size_t len = rec_utf8_seq(s + i, n - i);
    if (len == 0) {
      snprintf(hex, sizeof(hex), "\\x%02X", c);
      buf_str(b, hex);
      i++;
      continue;
    }
    buf_put(b, (const char *)s + i, len);
    i += len;
  }
}

/* ---- the document ------------------------------------------------------------------------ */

static const char *unit_sep(const char *unit) {
  return unit && unit[0] ? " " : "";
}

static const char *unit_of(const char *unit) {
  return unit ? unit : "";
}

static void threshold_text(char *buf, size_t n, const struct rec_expectation *e) {
  if (e->threshold_text && e->threshold_text[0])
    snprintf(buf, n, "%s", e->threshold_text);
  else
    rec_format_number(buf, n, e->threshold);
}

static void property(struct rec_junit_buf *b, const char *name, const char *value) {
  if (!value)
    return;
  buf_printf(b, "      <property name=\"%s\" value=\"", name);
  rec_junit_escape(b, value, 1);
  buf_str(b, "\"/>\n");
}

static void expectation_case(struct rec_junit_buf *b, const struct rec_junit_suite *s,
                             const struct rec_expectation *e) {
  char title[256], th[64], val[64], at[64], msg[512];
  rec_expectation_title(title, sizeof(title), e);
  threshold_text(th, sizeof(th), e);
  rec_format_number(val, sizeof(val), e->value);
  rec_format_number(at, sizeof(at), e->at_s);
  buf_str(b, "    <testcase classname=\"hubsim.");
  rec_junit_escape(b, s->name, 1);
  buf_str(b, "\" name=\"");
  rec_junit_escape(b, title, 1);
  buf_str(b, "\" time=\"0.000\"");
  if (e->file) {
    buf_str(b, " file=\"");
    rec_junit_escape(b, e->file, 1);
    buf_printf(b, "\" line=\"%d\"", e->line);
  }
  buf_str(b, ">\n");

  const char *op = e->op ? e->op : "?";
  if (e->verdict == REC_EXP_PASS) {
    snprintf(msg, sizeof(msg), "measured %s%s%s at %s s, expected %s %s", val, unit_sep(e->unit),
             unit_of(e->unit), at, op, th);
    buf_str(b, "      <system-out>");
    rec_junit_escape(b, msg, 0);
    buf_str(b, "</system-out>\n");
  } else {
    int nd = e->verdict == REC_EXP_NO_DATA;
    if (nd)
      snprintf(msg, sizeof(msg), "no data: %s had no samples, expected %s %s",
               e->metric ? e->metric : "?", op, th);
    else
      snprintf(msg, sizeof(msg), "measured %s%s%s, expected %s %s (at %s s)", val,
               unit_sep(e->unit), unit_of(e->unit), op, th, at);
    buf_str(b, "      <failure message=\"");
    rec_junit_escape(b, msg, 1);
    buf_printf(b, "\" type=\"%s\">", nd ? "no_data" : "expectation");
    struct rec_junit_buf d = {0};
    buf_printf(&d, "expectation: %s\n", title);
    if (nd)
      buf_str(&d, "measured:    nothing (the metric had no samples; a missing figure never "
                  "passes)\n");
    else
      buf_printf(&d, "measured:    %s%s%s at %s s of engine time%s\n", val, unit_sep(e->unit),
                 unit_of(e->unit), at, e->after_s > 0 ? " (first violation)" : "");
    buf_printf(&d, "expected:    %s %s\n", op, th);
    if (e->file)
      buf_printf(&d, "declared at: %s:%d\n", e->file, e->line);
    if (d.oom)
      b->oom = 1;
    else
      rec_junit_escape(b, d.data, 0);
    rec_junit_buf_fini(&d);
    buf_str(b, "</failure>\n");
  }
  buf_str(b, "    </testcase>\n");
}

static void run_case(struct rec_junit_buf *b, const struct rec_junit_suite *s) {
  buf_str(b, "    <testcase classname=\"hubsim.");
  rec_junit_escape(b, s->name, 1);
  buf_printf(b, "\" name=\"run\" time=\"%.3f\"", s->run_time_s > 0 ? s->run_time_s : 0.0);
  if (s->run_status == REC_JUNIT_RUN_OK) {
    buf_str(b, ">\n");
    if (s->run_message[0]) {
      buf_str(b, "      <system-out>");
      rec_junit_escape(b, s->run_message, 0);
      buf_str(b, "</system-out>\n");
    }
    buf_str(b, "    </testcase>\n");
    return;
  }
  const char *el = s->run_status == REC_JUNIT_RUN_FAILURE ? "failure" : "error";
  buf_printf(b, ">\n      <%s message=\"", el);
  rec_junit_escape(b, s->run_message, 1);
  buf_str(b, "\" type=\"");
  rec_junit_escape(b, s->run_type ? s->run_type : el, 1);
  buf_str(b, "\">");
  rec_junit_escape(b,
                   s->run_details          ? s->run_details
                   : s->run_details_buf[0] ? s->run_details_buf
                                           : s->run_message,
                   0);
  buf_printf(b, "</%s>\n    </testcase>\n", el);
}

static void document(struct rec_junit_buf *b, const struct rec_junit_suite *s) {
  size_t failures = 0, errors = 0;
  for (size_t i = 0; i < s->n_exp; i++)
    failures += s->exp[i].verdict != REC_EXP_PASS;
  failures += s->run_status == REC_JUNIT_RUN_FAILURE;
  errors += s->run_status == REC_JUNIT_RUN_ERROR;
  size_t tests = s->n_exp + 1;
  double t = s->time_s > 0 ? s->time_s : 0.0;

  buf_str(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  buf_printf(b,
             "<testsuites name=\"hubsim\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
             "time=\"%.3f\">\n",
             tests, failures, errors, t);
  buf_str(b, "  <testsuite name=\"");
  rec_junit_escape(b, s->name, 1);
  buf_printf(b, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\"",
             tests, failures, errors, t);
  if (s->timestamp) {
    buf_str(b, " timestamp=\"");
    rec_junit_escape(b, s->timestamp, 1);
    buf_str(b, "\"");
  }
  buf_str(b, ">\n    <properties>\n");
  char seed[32];
  snprintf(seed, sizeof(seed), "%llu", (unsigned long long)s->seed);
  property(b, "seed", seed);
  property(b, "clock", s->clock);
  property(b, "platform", s->platform_url);
  property(b, "hubsim.version", s->version);
  buf_str(b, "    </properties>\n");
  for (size_t i = 0; i < s->n_exp; i++)
    expectation_case(b, s, &s->exp[i]);
  run_case(b, s);
  buf_str(b, "  </testsuite>\n</testsuites>\n");
}

void rec_junit_suite_from_run(struct rec_junit_suite *s, const struct rec_run_info *run,
                              const struct rec_verdict *v) {
  memset(s, 0, sizeof(*s));
  const struct rec_scenario *sc = run->scenario;
  s->name = sc && sc->name && sc->name[0] ? sc->name : "hubsim";
  s->timestamp = run->started_at;
  /* CI shows how long the job's step took: wall time, also on the virtual clock. */
  s->time_s = run->wall_s > 0 ? run->wall_s : run->elapsed_s;
  s->run_time_s = s->time_s;
  s->exp = sc ? sc->exp : NULL;
  s->n_exp = sc ? sc->n_exp : 0;
  s->seed = run->seed;
  s->clock = run->virtual_clock ? "virtual" : "real";
  s->platform_url = run->platform_url;
  snprintf(s->run_message, sizeof(s->run_message), "%s", v->text);
  size_t o = 0;
  for (size_t i = 0; i < v->n_reasons && o < sizeof(s->run_details_buf); i++) {
    const struct rec_reason *r = &v->reasons[i];
    o += (size_t)snprintf(s->run_details_buf + o, sizeof(s->run_details_buf) - o, "%s%s: %s\n",
                          r->exit_code ? "" : "warning: ", r->check, r->text);
  }
  if (v->script_error && sc && sc->error) {
    s->run_status = REC_JUNIT_RUN_ERROR;
    s->run_type = "script_error";
    if (sc->error_file && sc->error_file[0])
      snprintf(s->run_message, sizeof(s->run_message), "%s:%d: %s", sc->error_file, sc->error_line,
               sc->error);
    else
      snprintf(s->run_message, sizeof(s->run_message), "%s", sc->error);
  } else if (v->exit_code == 0 || (v->exit_code == 1 && v->by_expectations)) {
    /* The run itself held; failed expectations fail their own test cases. */
    s->run_status = REC_JUNIT_RUN_OK;
    if (v->by_expectations)
      snprintf(s->run_message, sizeof(s->run_message),
               "the run itself held: every report accounted for (%zu expectation%s failed, see "
               "their test cases)",
               v->exp_failed, v->exp_failed == 1 ? "" : "s");
  } else if (v->exit_code == 1) {
    s->run_status = REC_JUNIT_RUN_FAILURE;
    s->run_type = "accounting";
  } else {
    /* 3 and 4, also when the caller changed the exit code after rec_verdict_compute() (a
     * worker that died, a summary that could not be written). */
    s->run_status = REC_JUNIT_RUN_ERROR;
    s->run_type = v->exit_code == 4   ? "generator_late"
                  : v->exit_code == 2 ? "script_error"
                                      : "runtime";
  }
}

/* ---- the atomic write -------------------------------------------------------------------- */

int rec_junit_write(const char *path, const struct rec_junit_suite *s) {
  if (!path || !path[0] || !s || !s->name || (s->n_exp && !s->exp))
    return SIM_EINVAL;
  struct rec_junit_buf b = {0};
  document(&b, s);
  if (b.oom) {
    rec_junit_buf_fini(&b);
    return SIM_ENOMEM;
  }
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (rc == 0) {
    if (fwrite(b.data, 1, b.len, w.fp) != b.len) {
      rc = SIM_EIO;
      sim_wfile_abort(&w);
    } else {
      rc = sim_wfile_commit(&w);
    }
  }
  rec_junit_buf_fini(&b);
  return rc;
}
