/* Sharded runs (hubsim run --shard I/N) and hubsim merge, with the real binary ($HUBSIM_BIN)
 * and real reference platforms (`hubsim platform`) on loopback:
 *
 *   - four shard processes against one platform, started together (--start-at; one of them
 *     takes its index from JOB_COMPLETION_INDEX with --shard auto/4), merged, equal one whole
 *     run of the same seeded fleet against a fresh platform: every count exact (generated,
 *     sent, acked per kind, hubs, devices, sessions), the merged histograms the sums of the
 *     shards' buckets with percentiles recomputed from them (checked against this test's own
 *     reading of the bucket layout), and the two platforms' stores holding the same hubs,
 *     devices (EUI-64, model) and reports (hub, device, cluster, ZCL frame bytes);
 *   - merge refusing bad input with exit 2 and a message naming the file: mismatched seeds,
 *     versions and fleets, a shard twice, a shard missing, a truncated file, a summary that is
 *     not a shard's, a merged summary, buckets that do not add up; no output file written;
 *   - a merged verdict judged by the run's rules (a shard with messages left unacknowledged
 *     fails the merge with exit 1);
 *   - --shard and --start-at refusing bad values with exit 2.
 *
 * The fleet's devices are models that send their state when they join and then wait for an
 * event that never comes in a short run (no timer wakes them), so that every count is decided
 * by the seed alone, not by where a device's timer falls against the end of the run. */
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
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "sim/core/hist.h"
#include "support/platproc.h"

#define SHARDS 4
#define HUBS "40"
#define MIX                                                                                        \
  "lumi.sensor_magnet.aq2,lumi.sensor_wleak.aq1,lumi.curtain,lumi.lock.acn02,lumi.sensor_smoke,"   \
  "lumi.vibration.aq1"

static char dir[256];
static char shard_json[SHARDS][300], merged_json[300], whole_json[300];
static char db_sharded[300], db_whole[300];
static char out_text[1 << 16]; /* the last command's stdout and stderr */

/* ---- processes ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts HUBSIM_BIN args..., its stdout and stderr into out (a file), with this process's
 * environment less JOB_COMPLETION_INDEX, plus env ("K=V", may be NULL). */
static pid_t spawn(const char *const *args, const char *out, const char *env) {
  extern char **environ;
  const char *bin = getenv("HUBSIM_BIN");
  assert_non_null(bin);
  const char *argv[48] = {bin};
  int n = 1;
  while (args[n - 1] && n < 47) {
    argv[n] = args[n - 1];
    n++;
  }
  argv[n] = NULL;
  static const char *envp[512];
  int e = 0;
  for (char **p = environ; *p && e < 510; p++)
    if (strncmp(*p, "JOB_COMPLETION_INDEX=", 21) != 0)
      envp[e++] = *p;
  if (env)
    envp[e++] = env;
  envp[e] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, (char *const *)envp), 0);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

/* Waits for pid to end, at most timeout_s (then kills it and fails). Its exit code. */
static int reap(pid_t pid, double timeout_s) {
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  assert_true(pfd >= 0);
  struct pollfd p = {.fd = pfd, .events = POLLIN};
  int ready = poll(&p, 1, (int)(timeout_s * 1000));
  close(pfd);
  int st = 0;
  if (ready != 1) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    fail_msg("hubsim (pid %d) did not end within %.0f s", (int)pid, timeout_s);
  }
  assert_int_equal(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void slurp(const char *path, char *out, size_t cap) {
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(out, 1, cap - 1, f) : 0;
  if (f)
    fclose(f);
  out[n] = '\0';
}

/* Runs hubsim to its end (at most 60 s); out_text gets what it printed. Its exit code. */
static int run(const char *const *args, const char *env) {
  char out[320];
  snprintf(out, sizeof out, "%s/cmd.out", dir);
  int rc = reap(spawn(args, out, env), 60);
  slurp(out, out_text, sizeof out_text);
  return rc;
}

/* ---- JSON ---- */

static json_t *load(const char *path) {
  json_error_t e;
  json_t *j = json_load_file(path, 0, &e);
  if (!j)
    fail_msg("%s: %s", path, e.text);
  return j;
}

/* The value at a dotted path of root; fails the test when there is none. */
static json_t *at(json_t *root, const char *path) {
  json_t *cur = root;
  const char *p = path;
  while (cur && *p) {
    size_t len = strcspn(p, ".");
    cur = json_object_getn(cur, p, len);
    p += len + (p[len] == '.');
  }
  if (!cur)
    fail_msg("no key '%s'", path);
  return cur;
}

static long long num(json_t *root, const char *path) {
  json_t *v = at(root, path);
  assert_true(json_is_integer(v));
  return json_integer_value(v);
}

/* ---- the runs ---- */

static void run_platform(struct platproc *p, const char *db, char *url, size_t cap) {
  assert_int_equal(platproc_start(p, db, 0, NULL), 0);
  snprintf(url, cap, "hubrpc://127.0.0.1:%u", p->port);
}

/* The fleet's flags and then more (NULL-terminated): argv for a run. */
static void fleet_args(const char **argv, const char *url, const char *summary,
                       const char *const *more) {
  int n = 0;
  const char *base[] = {
      "run",  "--hubs",      HUBS, "--devices-per-hub", "4", "--mix",     MIX,     "--seed",
      "11",   "--duration",  "2s", "--platform",        url, "--summary", summary, "--ui",
      "none", "--allow-lag", NULL}; /* counts are compared, not the generator's pace */
  for (int i = 0; base[i]; i++)
    argv[n++] = base[i];
  for (int i = 0; more && more[i]; i++)
    argv[n++] = more[i];
  argv[n] = NULL;
}

/* Group setup: the four shards against one platform and their merge, then the whole fleet
 * against a fresh platform. */
static int setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(dir, sizeof dir, "%s/hubsim-shard-XXXXXX", tmp);
  assert_non_null(mkdtemp(dir));
  snprintf(db_sharded, sizeof db_sharded, "%s/sharded.db", dir);
  snprintf(db_whole, sizeof db_whole, "%s/whole.db", dir);
  snprintf(merged_json, sizeof merged_json, "%s/merged.json", dir);
  snprintf(whole_json, sizeof whole_json, "%s/whole.json", dir);
  struct platproc p;
  char url[64];
  run_platform(&p, db_sharded, url, sizeof url);
  /* Started together a second from now: the shards wait, then ramp as one fleet. */
  char start[32];
  snprintf(start, sizeof start, "%.3f", now_s() + 1.0);
  pid_t pid[SHARDS];
  for (int i = 0; i < SHARDS; i++) {
    char shard[16], out[320];
    snprintf(shard_json[i], sizeof shard_json[i], "%s/shard%d.json", dir, i);
    snprintf(out, sizeof out, "%s/shard%d.out", dir, i);
    if (i == 2)
      snprintf(shard, sizeof shard, "auto/%d", SHARDS); /* index 2 from the environment */
    else
      snprintf(shard, sizeof shard, "%d/%d", i, SHARDS);
    const char *more[] = {"--shard", shard, "--start-at", start, NULL};
    const char *argv[48];
    fleet_args(argv, url, shard_json[i], more);
    pid[i] = spawn(argv, out, i == 2 ? "JOB_COMPLETION_INDEX=2" : NULL);
  }
  for (int i = 0; i < SHARDS; i++) {
    int rc = reap(pid[i], 60);
    if (rc != 0) {
      char out[320];
      snprintf(out, sizeof out, "%s/shard%d.out", dir, i);
      slurp(out, out_text, sizeof out_text);
      fail_msg("shard %d exited %d:\n%s", i, rc, out_text);
    }
  }
  assert_int_equal(platproc_stop(&p), 0);
  const char *margv[] = {"merge",       shard_json[3], shard_json[1], shard_json[0],
                         shard_json[2], "--summary",   merged_json,   NULL};
  int rc = run(margv, NULL);
  if (rc != 0)
    fail_msg("merge exited %d:\n%s", rc, out_text);
  run_platform(&p, db_whole, url, sizeof url);
  const char *argv[48];
  fleet_args(argv, url, whole_json, NULL);
  rc = run(argv, NULL);
  if (rc != 0)
    fail_msg("the whole run exited %d:\n%s", rc, out_text);
  assert_int_equal(platproc_stop(&p), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[320];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- merged = whole ---- */

static void test_counts_equal_whole(void **state) {
  (void)state;
  json_t *m = load(merged_json), *w = load(whole_json);
  static const char *const keys[] = {"fleet.hubs",
                                     "fleet.devices",
                                     "sessions.opened",
                                     "sessions.online_at_end",
                                     "ramp.hubs_ever_online",
                                     "counts.in_flight",
                                     "counts.queued",
                                     "counts.lost"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (num(m, keys[i]) != num(w, keys[i]))
      fail_msg("%s: merged %lld, whole run %lld", keys[i], num(m, keys[i]), num(w, keys[i]));
  static const char *const kinds[] = {"reports", "device_joined", "device_left", "command_results"};
  static const char *const fields[] = {"generated", "dropped", "sent", "acked"};
  for (size_t k = 0; k < 4; k++)
    for (size_t f = 0; f < 4; f++) {
      char path[80];
      snprintf(path, sizeof path, "counts.%s.%s", kinds[k], fields[f]);
      if (num(m, path) != num(w, path))
        fail_msg("%s: merged %lld, whole run %lld", path, num(m, path), num(w, path));
    }
  assert_int_equal(num(m, "fleet.hubs"), 40);
  assert_int_equal(num(m, "fleet.devices"), 160);
  assert_true(num(m, "counts.reports.acked") > 0);
  assert_int_equal(num(m, "verdict.exit_code"), 0);
  assert_int_equal(num(w, "verdict.exit_code"), 0);
  /* Every acked report has its ack latency in both. */
  assert_int_equal(num(m, "latency.report_ack.count"), num(w, "latency.report_ack.count"));
  json_decref(m);
  json_decref(w);
}

/* The upper edge of bucket idx, as docs/summary.md section 10 lays the buckets out. */
static uint64_t bucket_top(uint32_t idx) {
  if (idx < SIM_HIST_SUB)
    return idx;
  uint32_t g = idx / SIM_HIST_SUB, sub = idx % SIM_HIST_SUB;
  int shift = (int)g - 1;
  return (((uint64_t)SIM_HIST_SUB + sub) << shift) + ((uint64_t)1 << shift) - 1;
}

/* Adds the text buckets "I:C,..." into b. */
static void add_buckets(const char *text, uint64_t *b) {
  for (const char *p = text; *p;) {
    char *end;
    unsigned long idx = strtoul(p, &end, 10);
    assert_true(*end == ':' && idx < SIM_HIST_BUCKETS);
    b[idx] += strtoull(end + 1, &end, 10);
    p = *end ? end + 1 : end;
  }
}

/* The merged histograms are the shards' summed, and their percentiles those of the sum. */
static void test_histograms_merged_exactly(void **state) {
  (void)state;
  static const char *const hists[] = {"report_ack", "report_send_lag", "handshake"};
  json_t *m = load(merged_json);
  json_t *s[SHARDS];
  for (int i = 0; i < SHARDS; i++)
    s[i] = load(shard_json[i]);
  for (size_t h = 0; h < 3; h++) {
    static uint64_t b[SIM_HIST_BUCKETS];
    memset(b, 0, sizeof b);
    long long count = 0, max = 0, min = -1;
    char path[96];
    for (int i = 0; i < SHARDS; i++) {
      json_t *x = json_object_get(at(s[i], "shard.histograms"), hists[h]);
      add_buckets(json_string_value(json_object_get(x, "buckets")), b);
      count += json_integer_value(json_object_get(x, "count"));
      long long mx = json_integer_value(json_object_get(x, "max_us"));
      long long mn = json_integer_value(json_object_get(x, "min_us"));
      max = mx > max ? mx : max;
      min = min < 0 || mn < min ? mn : min;
    }
    snprintf(path, sizeof path, "latency.%s.count", hists[h]);
    assert_int_equal(num(m, path), count);
    assert_true(count > 0);
    snprintf(path, sizeof path, "latency.%s.max_ms", hists[h]);
    assert_true(json_real_value(at(m, path)) * 1000.0 > (double)max - 0.5 &&
                json_real_value(at(m, path)) * 1000.0 < (double)max + 0.5);
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    static const char *const qn[] = {"p50_ms", "p90_ms", "p99_ms", "p999_ms"};
    for (size_t q = 0; q < 4; q++) {
      uint64_t rank = (uint64_t)(qs[q] * (double)count + 0.5), seen = 0, want = 0;
      rank = rank < 1 ? 1 : rank;
      for (uint32_t i = 0; i < SIM_HIST_BUCKETS; i++) {
        seen += b[i];
        if (seen >= rank) {
          want = bucket_top(i);
          break;
        }
      }
      want = want > (uint64_t)max ? (uint64_t)max : want < (uint64_t)min ? (uint64_t)min : want;
      snprintf(path, sizeof path, "latency.%s.%s", hists[h], qn[q]);
      double got_us = json_real_value(at(m, path)) * 1000.0;
      if (got_us < (double)want - 0.5 || got_us > (double)want + 0.5)
        fail_msg("%s: merged %.3f us, from the shards' buckets %llu us", path, got_us,
                 (unsigned long long)want);
    }
  }
  assert_true(json_is_true(at(m, "shard.merged")));
  assert_true(json_is_null(at(m, "shard.index")));
  for (int i = 0; i < SHARDS; i++) {
    assert_int_equal(num(s[i], "shard.index"), i);
    assert_int_equal(num(s[i], "fleet.hubs"), 10);
    json_decref(s[i]);
  }
  json_decref(m);
}

/* One text of the rows of sql over db, in order: two stores are compared by it. */
static char *rows(const char *db, const char *sql) {
  sqlite3 *h = NULL;
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  size_t cap = 1 << 20, len = 0;
  char *out = malloc(cap);
  assert_non_null(out);
  out[0] = '\0';
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW && n++ < 100000) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    size_t l = strlen(t ? t : "");
    assert_true(len + l + 2 < cap);
    memcpy(out + len, t ? t : "", l);
    len += l;
    out[len++] = '\n';
    out[len] = '\0';
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

static void same_rows(const char *what, const char *sql, int want_rows) {
  char *a = rows(db_sharded, sql), *b = rows(db_whole, sql);
  int n = 0;
  for (const char *p = a; *p; p++)
    n += *p == '\n';
  if (strcmp(a, b) != 0)
    fail_msg("%s differ: sharded run's store\n%.400s\nwhole run's store\n%.400s", what, a, b);
  if (want_rows >= 0)
    assert_int_equal(n, want_rows);
  else
    assert_true(n > 0);
  free(a);
  free(b);
}

/* The stores of the two platforms: same hubs, same devices, same reports (byte for byte). */
static void test_stores_hold_the_same_fleet(void **state) {
  (void)state;
  same_rows("hub ids", "SELECT hub_id FROM hubs ORDER BY hub_id", 40);
  same_rows("devices", "SELECT hub_id||' '||eui64||' '||model FROM devices ORDER BY eui64", 160);
  same_rows("reports",
            "SELECT hub_id||' '||eui64||' '||endpoint||' '||cluster||' '||hex(zcl_frame) AS x "
            "FROM reports ORDER BY x",
            -1);
}

/* ---- merge refusing bad input ---- */

/* Writes root to dir/name; the path in out. */
static void write_json(json_t *root, const char *name, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", dir, name);
  assert_int_equal(json_dump_file(root, out, JSON_INDENT(2)), 0);
}

/* A copy of shard i with key path set to v (a new reference, taken). */
static void edited(int i, const char *path, json_t *v, const char *name, char *out, size_t cap) {
  json_t *j = load(shard_json[i]);
  char buf[160];
  snprintf(buf, sizeof buf, "%s", path);
  char *dot = strrchr(buf, '.');
  json_t *parent = j;
  if (dot) {
    *dot = '\0';
    parent = at(j, buf);
  }
  json_object_set_new(parent, dot ? dot + 1 : buf, v);
  write_json(j, name, out, cap);
  json_decref(j);
}

/* merge FILES... --summary OUT must exit 2, name file in its message with want, and write
 * nothing. */
static void refused(const char *const *files, const char *file, const char *want) {
  char out[320];
  snprintf(out, sizeof out, "%s/refused.json", dir);
  unlink(out);
  const char *argv[16] = {"merge"};
  int n = 1;
  for (int i = 0; files[i]; i++)
    argv[n++] = files[i];
  argv[n++] = "--summary";
  argv[n++] = out;
  argv[n] = NULL;
  int rc = run(argv, NULL);
  if (rc != 2 || (file && !strstr(out_text, file)) || !strstr(out_text, want))
    fail_msg("merge exited %d (want 2, naming %s and '%s'):\n%s", rc, file ? file : "-", want,
             out_text);
  assert_int_not_equal(access(out, F_OK), 0);
}

static void test_merge_refuses_other_runs(void **state) {
  (void)state;
  char f[320];
  edited(1, "fleet.seed", json_integer(12), "seed.json", f, sizeof f);
  refused((const char *const[]){shard_json[0], f, shard_json[2], shard_json[3], NULL}, f, "seed");
  edited(2, "shard.version", json_string("0.0.1"), "version.json", f, sizeof f);
  refused((const char *const[]){shard_json[0], shard_json[1], f, shard_json[3], NULL}, f,
          "version");
  edited(3, "shard.fleet_id", json_string("0123456789abcdef"), "fleet.json", f, sizeof f);
  refused((const char *const[]){shard_json[0], shard_json[1], shard_json[2], f, NULL}, f, "fleet");
  edited(0, "shard.start_at", json_string("2026-01-01T00:00:00Z"), "start.json", f, sizeof f);
  refused((const char *const[]){shard_json[1], f, shard_json[2], shard_json[3], NULL}, f,
          "start time");
  edited(3, "run.speedup", json_real(2.0), "speedup.json", f, sizeof f);
  refused((const char *const[]){shard_json[0], shard_json[1], shard_json[2], f, NULL}, f,
          "speedup");
}

static void test_merge_refuses_duplicate_and_missing(void **state) {
  (void)state;
  char dup[320];
  json_t *j = load(shard_json[1]);
  write_json(j, "again.json", dup, sizeof dup);
  json_decref(j);
  refused(
      (const char *const[]){shard_json[0], shard_json[1], dup, shard_json[2], shard_json[3], NULL},
      dup, "again");
  refused((const char *const[]){shard_json[0], shard_json[1], shard_json[3], NULL}, NULL,
          "missing (shard 2)");
}

static void test_merge_refuses_bad_files(void **state) {
  (void)state;
  /* Truncated: the first half of a shard's summary. */
  char cut[320], text[1 << 16];
  slurp(shard_json[2], text, sizeof text);
  snprintf(cut, sizeof cut, "%s/cut.json", dir);
  FILE *f = fopen(cut, "w");
  assert_non_null(f);
  fwrite(text, 1, strlen(text) / 2, f);
  fclose(f);
  refused((const char *const[]){shard_json[0], shard_json[1], cut, shard_json[3], NULL}, cut,
          "not valid JSON");
  /* A whole run's summary has no shard object; a merged one is not a shard's. */
  refused((const char *const[]){shard_json[0], whole_json, NULL}, whole_json,
          "not the summary of a sharded run");
  refused((const char *const[]){merged_json, shard_json[0], NULL}, merged_json,
          "merged summary already");
  /* Buckets that do not add up to the histogram's count. */
  char odd[320];
  json_t *j = load(shard_json[0]);
  json_object_set_new(json_object_get(at(j, "shard.histograms"), "report_ack"), "count",
                      json_integer(1000000));
  write_json(j, "odd.json", odd, sizeof odd);
  json_decref(j);
  refused((const char *const[]){odd, shard_json[1], shard_json[2], shard_json[3], NULL}, odd,
          "buckets hold");
  /* Bucket text that is not INDEX:COUNT,... with indices rising inside the layout. */
  static const char *const bad_buckets[] = {"12:0", "5:3,4:2", "4352:1",
                                            "a:b",  "3:1,",    "3:99999999999999999999"};
  for (size_t i = 0; i < sizeof bad_buckets / sizeof bad_buckets[0]; i++) {
    j = load(shard_json[0]);
    json_object_set_new(json_object_get(at(j, "shard.histograms"), "handshake"), "buckets",
                        json_string(bad_buckets[i]));
    write_json(j, "buckets.json", odd, sizeof odd);
    json_decref(j);
    refused((const char *const[]){odd, shard_json[1], shard_json[2], shard_json[3], NULL}, odd,
            "shard.histograms.handshake");
  }
  refused((const char *const[]){shard_json[0], "/nonexistent/x.json", NULL}, "/nonexistent/x.json",
          "x.json");
}

/* The merged verdict follows the run's rules: a shard that ended with messages it still held
 * fails the whole. */
static void test_merged_verdict_fails_with_a_shard(void **state) {
  (void)state;
  char f[320], out[320];
  edited(3, "counts.queued", json_integer(5), "queued.json", f, sizeof f);
  snprintf(out, sizeof out, "%s/failed.json", dir);
  const char *argv[] = {"merge", shard_json[0], shard_json[1], shard_json[2],
                        f,       "--summary",   out,           NULL};
  int rc = run(argv, NULL);
  if (rc != 1 || !strstr(out_text, "5 messages were never acknowledged"))
    fail_msg("merge exited %d, want 1 naming 5 unacknowledged messages:\n%s", rc, out_text);
  json_t *m = load(out);
  assert_int_equal(num(m, "verdict.exit_code"), 1);
  assert_int_equal(num(m, "counts.unacknowledged"), 5);
  json_decref(m);
}

/* ---- the flags ---- */

static void test_flags_refused(void **state) {
  (void)state;
  static const struct {
    const char *shard, *start_at, *env, *platform, *want;
  } cases[] = {
      {"4/4", NULL, NULL, "hubrpc://127.0.0.1:9", "--shard '4/4'"},
      {"1/0", NULL, NULL, "hubrpc://127.0.0.1:9", "--shard '1/0'"},
      {"x/4", NULL, NULL, "hubrpc://127.0.0.1:9", "--shard 'x/4'"},
      {"auto/4", NULL, NULL, "hubrpc://127.0.0.1:9", "JOB_COMPLETION_INDEX, which is not set"},
      {"auto/4", NULL, "JOB_COMPLETION_INDEX=4", "hubrpc://127.0.0.1:9",
       "JOB_COMPLETION_INDEX '4'"},
      {"1/4", NULL, NULL, NULL, "needs --platform"},
      {"1/41", NULL, NULL, "hubrpc://127.0.0.1:9", "more shards than --hubs"},
      {"1/4", "yesterday", NULL, "hubrpc://127.0.0.1:9", "--start-at 'yesterday'"},
      {"1/4", "2026-02-30T00:00:00Z", NULL, "hubrpc://127.0.0.1:9", "RFC 3339"},
      {"1/4", "2026-01-01T00:00:00+02:00", NULL, "hubrpc://127.0.0.1:9", "RFC 3339"},
      {"1/4", "1000000000", NULL, "hubrpc://127.0.0.1:9", "in the past"},
      {"1/4", "4000000000", NULL, "hubrpc://127.0.0.1:9", "more than 24 h"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *argv[24] = {"run",  "--hubs", HUBS,      "--duration",  "1s",
                            "--ui", "none",   "--shard", cases[i].shard};
    int n = 9;
    if (cases[i].start_at) {
      argv[n++] = "--start-at";
      argv[n++] = cases[i].start_at;
    }
    if (cases[i].platform) {
      argv[n++] = "--platform";
      argv[n++] = cases[i].platform;
    }
    argv[n] = NULL;
    int rc = run(argv, cases[i].env);
    if (rc != 2 || !strstr(out_text, cases[i].want))
      fail_msg("--shard %s --start-at %s: exited %d, want 2 and '%s':\n%s", cases[i].shard,
               cases[i].start_at ? cases[i].start_at : "-", rc, cases[i].want, out_text);
  }
  const char *twice[] = {"run",     "--hubs", HUBS,      "--platform", "hubrpc://127.0.0.1:9",
                         "--shard", "0/4",    "--shard", "1/4",        NULL};
  if (run(twice, NULL) != 2 || !strstr(out_text, "--shard '1/4': given twice"))
    fail_msg("--shard given twice:\n%s", out_text);
  const char *help[] = {"merge", "--help", NULL};
  assert_int_equal(run(help, NULL), 0);
  assert_non_null(strstr(out_text, "usage: hubsim merge"));
  const char *rhelp[] = {"run", "--help", NULL};
  assert_int_equal(run(rhelp, NULL), 0);
  assert_non_null(strstr(out_text, "--shard auto/N"));
  assert_non_null(strstr(out_text, "--start-at TIME"));
}

/* Every key of a shard's "shard" object is in the table of docs/summary.md section 10, and
 * every key of that table is in the summary (H standing for each histogram). */
static void test_shard_keys_documented(void **state) {
  (void)state;
  char path[512], line[1024];
  snprintf(path, sizeof path, "%s/docs/summary.md", getenv("HUBSIM_SOURCE_DIR"));
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char doc[64][80];
  int n = 0, in = 0;
  while (fgets(line, sizeof line, f) && n < 64) {
    if (strncmp(line, "| shard key |", 13) == 0)
      in = 1;
    else if (in && line[0] != '|')
      break;
    else if (in && strncmp(line, "| `", 3) == 0)
      snprintf(doc[n++], sizeof doc[0], "%.*s", (int)strcspn(line + 3, "`"), line + 3);
  }
  fclose(f);
  assert_true(n > 10);
  json_t *s = load(shard_json[0]);
  for (int i = 0; i < n; i++) {
    char p[96];
    snprintf(p, sizeof p, "%.79s", doc[i]);
    char *h = strstr(p, ".H.");
    if (h) { /* one histogram stands for all */
      memmove(h + 11, h + 2, strlen(h + 2) + 1);
      memcpy(h, ".report_ack", 11);
    }
    at(s, p); /* fails when missing */
  }
  /* Each key written, under its documented name ("H" for the histogram). */
  static const char *const objs[][2] = {{"shard", "shard."},
                                        {"shard.histograms.report_ack", "shard.histograms.H."}};
  for (size_t o = 0; o < 2; o++) {
    const char *k;
    json_t *v;
    json_object_foreach(at(s, objs[o][0]), k, v) {
      char p[96];
      snprintf(p, sizeof p, "%s%s", objs[o][1], k);
      int found = 0;
      for (int i = 0; i < n && !found; i++)
        found = strcmp(doc[i], p) == 0;
      if (!found)
        fail_msg("'%s' is written but not in docs/summary.md section 10", p);
    }
  }
  json_decref(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_equal_whole),
      cmocka_unit_test(test_histograms_merged_exactly),
      cmocka_unit_test(test_stores_hold_the_same_fleet),
      cmocka_unit_test(test_merge_refuses_other_runs),
      cmocka_unit_test(test_merge_refuses_duplicate_and_missing),
      cmocka_unit_test(test_merge_refuses_bad_files),
      cmocka_unit_test(test_merged_verdict_fails_with_a_shard),
      cmocka_unit_test(test_flags_refused),
      cmocka_unit_test(test_shard_keys_documented),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
