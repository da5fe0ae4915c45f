/* docs/summary.md against recorders/summary.c: every key of the document's key table is in the
 * JSON that rec_summary_write() produces, every key of that JSON is in the table, and every
 * value has the type the table gives it ("number or null": a JSON number or null; only such
 * keys may be null).
 *
 * The table is read from the document at test time ($HUBSIM_SOURCE_DIR, set by ctest): rows
 * whose first cell is a backquoted path such as `counts.reports.sent`. In paths, KIND stands
 * for each message kind and H for each latency histogram, and `[]` an element of an array
 * (`scenario.expectations[].metric`). Keys under `scenario` exist only in the summary of a
 * scenario run, and those under `tls` only in a run over TLS: the test writes one summary with
 * a scenario and TLS (every documented key present) and one without (every documented key but
 * those present, and neither `scenario` nor `tls`). When this test
 * fails, either the
 * writer changed the schema (then the document and, for a breaking change, the schema id must
 * change too) or the document is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>

#include "recorders/capture.h"
#include "recorders/summary.h"

#define MAX_KEYS 256

static const char *kinds[] = {"reports", "device_joined", "device_left", "command_results"};
static const char *hists[] = {"report_ack", "report_send_lag", "generator_tick_lag", "handshake"};

static char *doc_keys[MAX_KEYS];
static char *doc_types[MAX_KEYS]; /* the type cell of each key, trimmed ("number or null") */
static size_t n_doc;

static void add_key(const char *k, const char *type) {
  assert_true(n_doc < MAX_KEYS);
  doc_keys[n_doc] = strdup(k);
  doc_types[n_doc] = strdup(type);
  assert_non_null(doc_keys[n_doc]);
  assert_non_null(doc_types[n_doc]);
  n_doc++;
}

/* Expands KIND and H placeholders (one of each at most) and records the result. */
static void add_doc_path(const char *path, const char *type) {
  const char *ph = strstr(path, "KIND") ? "KIND" : strstr(path, ".H.") ? "H" : NULL;
  if (!ph) {
    add_key(path, type);
    return;
  }
  const char **names = ph[0] == 'K' ? kinds : hists;
  const char *at = ph[0] == 'K' ? strstr(path, "KIND") : strstr(path, ".H.") + 1;
  for (size_t i = 0; i < 4; i++) {
    char buf[160];
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - path), path, names[i], at + strlen(ph));
    add_key(buf, type);
  }
}

/* The second cell of a table row whose first cell ends at end: "| `k` | number or null | ..."
 * gives "number or null" in out. */
static void type_cell(const char *end, char *out, size_t cap) {
  const char *a = strchr(end + 1, '|');
  assert_non_null(a);
  a++;
  const char *b = strchr(a, '|');
  assert_non_null(b);
  while (a < b && *a == ' ')
    a++;
  while (b > a && b[-1] == ' ')
    b--;
  snprintf(out, cap, "%.*s", (int)(b - a), a);
}

static void read_doc(void) {
  const char *src = getenv("HUBSIM_SOURCE_DIR");
  assert_non_null(src);
  char path[1024];
  snprintf(path, sizeof(path), "%s/docs/summary.md", src);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[4096];
  int in_table = 0;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "| key | type |", 14) == 0) {
      in_table = 1;
      continue;
    }
    if (!in_table)
      continue;
    if (line[0] != '|')
      break; /* end of the key table */
    if (strncmp(line, "| `", 3) != 0)
      continue;
    char *end = strchr(line + 3, '`');
    assert_non_null(end);
    char type[64];
    type_cell(end, type, sizeof type);
    *end = '\0';
    add_doc_path(line + 3, type);
  }
  fclose(f);
  assert_true(n_doc > 50);
}

static int doc_has(const char *k) {
  for (size_t i = 0; i < n_doc; i++)
    if (strcmp(doc_keys[i], k) == 0)
      return 1;
  return 0;
}

/* Whether v is of the documented type: one of the words of the type cell (number, integer,
 * string, boolean, object, array, histogram, null), "or" between them. */
static int type_ok(const char *type, const json_t *v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", type);
  for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    if (strcmp(w, "or") == 0)
      continue;
    if ((strcmp(w, "number") == 0 && json_is_number(v)) ||
        (strcmp(w, "integer") == 0 && json_is_integer(v)) ||
        (strcmp(w, "string") == 0 && json_is_string(v)) ||
        (strcmp(w, "boolean") == 0 && json_is_boolean(v)) ||
        ((strcmp(w, "object") == 0 || strcmp(w, "histogram") == 0) && json_is_object(v)) ||
        (strcmp(w, "array") == 0 && json_is_array(v)) ||
        (strcmp(w, "null") == 0 && json_is_null(v)))
      return 1;
  }
  return 0;
}

/* The value at a dotted path, or NULL. "name[]" steps into the first element of array name. */
static json_t *at_path(json_t *root, const char *path) {
  char buf[160];
  snprintf(buf, sizeof(buf), "%s", path);
  json_t *cur = root;
  for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
    if (!json_is_object(cur))
      return NULL;
    size_t n = strlen(tok);
    int elem = n > 2 && strcmp(tok + n - 2, "[]") == 0;
    if (elem)
      tok[n - 2] = '\0';
    cur = json_object_get(cur, tok);
    if (cur && elem)
      cur = json_is_array(cur) ? json_array_get(cur, 0) : NULL;
    if (!cur)
      return NULL;
  }
  return cur;
}

/* Every documented key the summary holds has its documented type. */
static void check_types(json_t *root, const char *what) {
  for (size_t i = 0; i < n_doc; i++) {
    json_t *v = at_path(root, doc_keys[i]);
    if (v && !type_ok(doc_types[i], v))
      fail_msg("%s: '%s' is documented as %s but written as a JSON %s", what, doc_keys[i],
               doc_types[i],
               json_is_null(v)      ? "null"
               : json_is_integer(v) ? "integer"
               : json_is_real(v)    ? "real"
               : json_is_string(v)  ? "string"
               : json_is_boolean(v) ? "boolean"
               : json_is_object(v)  ? "object"
                                    : "array");
  }
}

/* A key of the elements of an array that is empty in this summary ("verdict.reasons[].check"
 * when the run passed): nothing to check here; the scenario summary below has elements. */
static int in_empty_array(json_t *root, const char *k) {
  const char *br = strstr(k, "[]");
  if (!br)
    return 0;
  char arr[160];
  snprintf(arr, sizeof(arr), "%.*s", (int)(br - k), k);
  json_t *a = at_path(root, arr);
  return json_is_array(a) && json_array_size(a) == 0;
}

/* Keys only some runs have: a scenario's, those of a TLS run ("tls") and of a run through an
 * MQTT broker ("mqtt"). */
static int scenario_key(const char *k) {
  return (strncmp(k, "scenario", 8) == 0 && (k[8] == '\0' || k[8] == '.')) ||
         (strncmp(k, "tls", 3) == 0 && (k[3] == '\0' || k[3] == '.')) ||
         (strncmp(k, "mqtt", 4) == 0 && (k[4] == '\0' || k[4] == '.')) ||
         (strncmp(k, "record", 6) == 0 && (k[6] == '\0' || k[6] == '.'));
}

/* Every key path of the JSON (objects recursed) must be documented. */
static void check_documented(json_t *o, const char *prefix) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    char p[160];
    snprintf(p, sizeof(p), "%s%s%s", prefix, *prefix ? "." : "", k);
    if (strcmp(prefix, "errors") == 0)
      continue; /* reason names are data, not schema */
    if (!doc_has(p))
      fail_msg("key '%s' is written but not documented in docs/summary.md", p);
    if (json_is_object(v))
      check_documented(v, p);
    if (json_is_array(v)) {
      /* Arrays of objects: every element's keys, as "PATH[].KEY". */
      char pa[168];
      snprintf(pa, sizeof(pa), "%s[]", p);
      size_t i;
      json_t *el;
      json_array_foreach(v, i, el) {
        if (json_is_object(el))
          check_documented(el, pa);
      }
    }
  }
}

static void fill(struct sim_fleet_stats *st) {
  memset(st, 0, sizeof(*st));
  st->hubs = 2;
  st->devices = 4;
  st->hubs_by_state[SIM_HUB_OPEN] = 2;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    st->kind[k].generated = 10;
    st->kind[k].sent = 10;
    st->kind[k].acked = 10;
  }
  st->connects = st->sessions = 2;
  st->hubs_ever_online = 2;
  st->all_online_at = 1500;
  st->frames_out = st->frames_in = 9;
  struct sim_hist *h[] = {&st->ack_latency, &st->send_lag, &st->handshake, &st->tick_lag};
  for (size_t i = 0; i < 4; i++) {
    sim_hist_init(h[i]);
    sim_hist_record(h[i], 100);
    sim_hist_record(h[i], 2000);
  }
  st->n_errors = 1;
  snprintf(st->errors[0].name, sizeof(st->errors[0].name), "peer:ERROR_SHUTTING_DOWN");
  st->errors[0].count = 1;
}

static void test_keys_match(void **state) {
  (void)state;
  read_doc();
  static struct sim_fleet_stats st;
  fill(&st);
  struct rec_run_info run = {.platform_url = "embedded",
                             .seed = 1,
                             .duration_s = 1,
                             .elapsed_s = 1.2,
                             .mix = "all",
                             .devices_per_hub = 2,
                             .max_lag_ms = 50,
                             .started_at = "2026-01-01T00:00:00Z",
                             .cpu_user_s = 0.1,
                             .cpu_sys_s = 0.1,
                             .max_rss_bytes = 1,
                             .platform_in_process = 1};
  struct rec_platform_view pv = {.present = 1, .reports_stored = 10};
  struct rec_verdict v;
  rec_verdict_compute(&run, &st, &pv, &v);
  assert_int_equal(v.exit_code, 0);
  char path[] = "/tmp/hubsim-summary-doc-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(rec_summary_write(path, &run, &st, &pv, &v), 0);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  remove(path);
  assert_non_null(root);
  for (size_t i = 0; i < n_doc; i++)
    if (!scenario_key(doc_keys[i]) && !at_path(root, doc_keys[i]) &&
        !in_empty_array(root, doc_keys[i]))
      fail_msg("docs/summary.md documents '%s', which the summary does not contain", doc_keys[i]);
  assert_null(json_object_get(root, "scenario"));
  assert_null(json_object_get(root, "tls"));
  assert_null(json_object_get(root, "mqtt"));
  assert_null(json_object_get(root, "record"));
  check_documented(root, "");
  check_types(root, "a real-clock run");
  assert_string_equal(json_string_value(json_object_get(root, "schema")), "hubsim.summary/1");
  json_t *gen = json_object_get(root, "generator");
  assert_true(json_real_value(json_object_get(gen, "cpu_user_s")) == 0.1);
  assert_int_equal(json_integer_value(json_object_get(gen, "max_rss_bytes")), 1);
  json_decref(root);

  /* The virtual clock: what the machine decides is null, as the document says it may be. */
  run.virtual_clock = 1;
  rec_verdict_compute(&run, &st, &pv, &v);
  assert_int_equal(rec_summary_write(path, &run, &st, &pv, &v), 0);
  root = json_load_file(path, 0, &err);
  remove(path);
  assert_non_null(root);
  check_documented(root, "");
  check_types(root, "a virtual-clock run");
  gen = json_object_get(root, "generator");
  static const char *const machine[] = {"cpu_user_s", "cpu_sys_s", "max_rss_bytes",
                                        "cpu_us_per_message"};
  for (size_t i = 0; i < 4; i++)
    if (!json_is_null(json_object_get(gen, machine[i])))
      fail_msg("generator.%s on the virtual clock: not null", machine[i]);
  json_decref(root);
  run.virtual_clock = 0;

  /* A scenario run: every key, the scenario's included. The script error is set so that the
   * keys of scenario.error exist (it is null otherwise). */
  static struct sim_hist autom;
  sim_hist_init(&autom);
  sim_hist_record(&autom, 150000);
  struct rec_expectation exp[2] = {{.metric = "report.rtt.p99",
                                    .op = "<",
                                    .threshold = 250,
                                    .threshold_text = "250ms",
                                    .unit = "ms",
                                    .value = 12.3,
                                    .at_s = 1,
                                    .verdict = REC_EXP_PASS,
                                    .file = "x.lua",
                                    .line = 3},
                                   {.metric = "reports.lost",
                                    .op = "==",
                                    .unit = "",
                                    .value = 0,
                                    .at_s = 1,
                                    .verdict = REC_EXP_PASS,
                                    .file = "x.lua",
                                    .line = 4}};
  struct rec_scenario sc = {.name = "x",
                            .phase = "steady",
                            .steps_run = 2,
                            .exp = exp,
                            .n_exp = 2,
                            .automation = &autom,
                            .error = "boom",
                            .error_file = "x.lua",
                            .error_line = 9};
  run.scenario = &sc;
  /* ... and over TLS, so that the tls keys exist too. */
  static struct rec_tls tls = {.insecure = 1};
  tls.st.handshakes = 2;
  tls.st.resumed = 1;
  sim_hist_init(&tls.st.full_us);
  sim_hist_init(&tls.st.resumed_us);
  sim_hist_record(&tls.st.full_us, 2500);
  sim_hist_record(&tls.st.resumed_us, 400);
  run.tls = &tls;
  /* ... and through an MQTT broker, with an observer, so that the mqtt keys exist too. */
  static const struct rec_mqtt mq = {.profile = "hubrpc",
                                     .version = 5,
                                     .qos = 1,
                                     .have_sent = 1,
                                     .frames_sent = 10,
                                     .last_error = "broker refused CONNECT: not authorized (0x87)",
                                     .observer = 1,
                                     .observer_ok = 1,
                                     .observed = 10};
  run.mqtt = &mq;
  /* ... and with --record, so that the record keys exist too. */
  static const struct rec_capture_info ri = {
      .path = "run.pcapng", .frames = 12, .payload = 900, .bytes = 2000, .truncated = 1};
  run.record = &ri;
  rec_verdict_compute(&run, &st, &pv, &v);
  assert_int_equal(v.exit_code, 2);
  assert_int_equal(rec_summary_write(path, &run, &st, &pv, &v), 0);
  root = json_load_file(path, 0, &err);
  remove(path);
  assert_non_null(root);
  for (size_t i = 0; i < n_doc; i++)
    if (!at_path(root, doc_keys[i]))
      fail_msg("docs/summary.md documents '%s', which a scenario's summary does not contain",
               doc_keys[i]);
  check_documented(root, "");
  check_types(root, "a scenario run");
  json_decref(root);
  for (size_t i = 0; i < n_doc; i++) {
    free(doc_keys[i]);
    free(doc_types[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_keys_match)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
