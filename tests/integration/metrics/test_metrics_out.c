/* hubsim run --metrics-out: the interval series against its document and against the summary.
 *
 * - docs/summary.md section 11 against the file: every field of the table ("| field | type |")
 *   is in every row with the type the table gives, and every field of every row is in the
 *   table (a run with a scenario on the virtual clock, where `expectations` is an object, and a
 *   real-clock run without, where it is null).
 * - The final row's cumulative counts equal the summary's, on the virtual clock, on the real
 *   clock and with --workers 2 (one merged series from the control process).
 * - A run killed with SIGKILL at several random moments of its writing leaves whole lines, each
 *   a JSON object.
 * - A file size limit that stops the writes half-way leaves whole lines and fails the run
 *   (exit 3) with a message naming the file.
 * - Bad values of the flags, a --prometheus port already taken and a series file that is also
 *   the summary exit 2 naming the flag. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>

extern char **environ;

static char dir[256];

static void path_of(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

/* Starts HUBSIM_BIN with args, its stdout and stderr into dir/log.txt; fsize > 0 limits the
 * size of the files it writes. The pid. */
static pid_t spawn_hubsim(const char *const *args, long fsize) {
  const char *bin = getenv("HUBSIM_BIN");
  assert_non_null(bin);
  const char *argv[48];
  int n = 0;
  argv[n++] = bin;
  for (int i = 0; args[i] && n < 47; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  char log[320];
  path_of(log, sizeof log, "log.txt");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  struct rlimit old;
  getrlimit(RLIMIT_FSIZE, &old);
  if (fsize > 0) {
    /* Inherited by the child; the log file is opened before and written little. */
    struct rlimit rl = {(rlim_t)fsize, old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
  }
  pid_t pid;
  int rc = posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ);
  setrlimit(RLIMIT_FSIZE, &old);
  posix_spawn_file_actions_destroy(&fa);
  assert_int_equal(rc, 0);
  return pid;
}

static int wait_exit(pid_t pid) {
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_hubsim(const char *const *args) {
  return wait_exit(spawn_hubsim(args, 0));
}

static void print_log(void) {
  char log[320], line[512];
  path_of(log, sizeof log, "log.txt");
  FILE *f = fopen(log, "r");
  while (f && fgets(line, sizeof line, f))
    fputs(line, stderr);
  if (f)
    fclose(f);
}

/* Every line of the file as JSON: each must parse to an object and end with a newline (but
 * the last one of a killed run, killed: its newline comes with the next row or at the end).
 * The rows (new references, caller frees) and their count. */
static int killed;
static size_t read_rows(const char *name, json_t **rows, size_t cap) {
  char path[320];
  path_of(path, sizeof path, name);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char line[1 << 14];
  size_t n = 0;
  while (fgets(line, sizeof line, f)) {
    size_t len = strlen(line);
    int last = feof(f) || (ungetc(fgetc(f), f) == EOF);
    if (len == 0 || (line[len - 1] != '\n' && !(killed && last)))
      fail_msg("%s: line %zu is not whole: '%s'", name, n + 1, line);
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    if (!json_is_object(o))
      fail_msg("%s: line %zu is not a JSON object: %s", name, n + 1, err.text);
    if (n < cap)
      rows[n] = o;
    else
      json_decref(o);
    n++;
  }
  fclose(f);
  return n < cap ? n : cap;
}

/* What makes a row survive SIGKILL whole (recorders/metrics.c): no row, with the newline that
 * precedes it, crosses a page boundary of the file, the one place where the kernel cuts the
 * write of a dying process. Checked on every row of a file: a kill may land there only rarely,
 * this holds or not for each row. */
static void check_pages(const char *name) {
  char path[320];
  path_of(path, sizeof path, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char data[1 << 22];
  size_t len = fread(data, 1, sizeof data, f);
  fclose(f);
  size_t start = 0, rows_seen = 0;
  while (start < len) {
    size_t end = start + (data[start] == '\n'); /* the row's own newline, before it */
    while (end < len && data[end] != '\n')
      end++;
    size_t last = end; /* the last byte of its JSON, blanks after it left out */
    while (last > start && (data[last - 1] == ' ' || data[last - 1] == '\n'))
      last--;
    if (last > start && start / 4096 != (last - 1) / 4096)
      fail_msg("%s: the row at byte %zu crosses the page boundary at %zu", name, start,
               (start / 4096 + 1) * 4096);
    rows_seen++;
    start = end;
    if (start + 1 >= len)
      break;
  }
  assert_true(rows_seen > 1);
}

static void free_rows(json_t **rows, size_t n) {
  for (size_t i = 0; i < n; i++)
    json_decref(rows[i]);
}

/* ---- the document ---------------------------------------------------------------------------- */

#define MAX_FIELDS 128
static char *doc_path[MAX_FIELDS], *doc_type[MAX_FIELDS];
static size_t n_doc;
static const char *lat_names[] = {"report_ack", "report_send_lag", "generator_tick_lag"};

static void add_field(const char *p, const char *type) {
  assert_true(n_doc < MAX_FIELDS);
  doc_path[n_doc] = strdup(p);
  doc_type[n_doc] = strdup(type);
  n_doc++;
}

static void read_doc(void) {
  if (n_doc)
    return;
  char path[1024], line[4096];
  snprintf(path, sizeof path, "%s/docs/summary.md", getenv("HUBSIM_SOURCE_DIR"));
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  int in = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "| field | type |", 16) == 0) {
      in = 1;
      continue;
    }
    if (!in)
      continue;
    if (line[0] != '|')
      break;
    if (strncmp(line, "| `", 3) != 0)
      continue;
    char *end = strchr(line + 3, '`');
    assert_non_null(end);
    *end = '\0';
    char *a = strchr(end + 1, '|') + 1, *b = strchr(a, '|');
    while (*a == ' ')
      a++;
    while (b > a && b[-1] == ' ')
      b--;
    *b = '\0';
    const char *h = strstr(line + 3, ".H");
    if (h && (h[2] == '\0' || h[2] == '.')) {
      for (size_t i = 0; i < 3; i++) {
        char p[160];
        snprintf(p, sizeof p, "%.*s.%s%s", (int)(h - (line + 3)), line + 3, lat_names[i], h + 2);
        add_field(p, a);
      }
    } else {
      add_field(line + 3, a);
    }
  }
  fclose(f);
  assert_true(n_doc > 40);
}

static int type_ok(const char *type, const json_t *v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", type);
  for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
    if ((strcmp(w, "number") == 0 && json_is_number(v)) ||
        (strcmp(w, "integer") == 0 && json_is_integer(v)) ||
        (strcmp(w, "string") == 0 && json_is_string(v)) ||
        (strcmp(w, "boolean") == 0 && json_is_boolean(v)) ||
        (strcmp(w, "object") == 0 && json_is_object(v)) ||
        (strcmp(w, "null") == 0 && json_is_null(v)))
      return 1;
  return 0;
}

/* The value at a dotted path; *parent_null set when a parent on the way is null (the field
 * then is absent by the document's rule). */
static json_t *at(json_t *root, const char *path, int *parent_null) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s", path);
  json_t *cur = root;
  *parent_null = 0;
  for (char *save = NULL, *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
    if (json_is_null(cur)) {
      *parent_null = 1;
      return NULL;
    }
    cur = json_object_get(cur, t);
    if (!cur)
      return NULL;
  }
  return cur;
}

static int documented(const char *p) {
  for (size_t i = 0; i < n_doc; i++)
    if (strcmp(doc_path[i], p) == 0)
      return 1;
  return 0;
}

/* Every key of o (at prefix) documented, recursively. */
static void keys_documented(json_t *o, const char *prefix, size_t row) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    char p[160];
    snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k);
    if (!documented(p))
      fail_msg("row %zu: field '%s' is not in docs/summary.md section 11", row, p);
    if (json_is_object(v))
      keys_documented(v, p, row);
  }
}

/* Each row against the document. Returns how many rows had a non-null `what`. */
static size_t check_against_doc(json_t **rows, size_t n, const char *what) {
  size_t seen = 0;
  for (size_t r = 0; r < n; r++) {
    for (size_t i = 0; i < n_doc; i++) {
      int pn;
      json_t *v = at(rows[r], doc_path[i], &pn);
      if (pn)
        continue;
      if (!v)
        fail_msg("row %zu: documented field '%s' is missing", r + 1, doc_path[i]);
      if (!type_ok(doc_type[i], v))
        fail_msg("row %zu: '%s' is not of type '%s'", r + 1, doc_path[i], doc_type[i]);
    }
    keys_documented(rows[r], "", r + 1);
    if (!json_is_null(json_object_get(rows[r], what)))
      seen++;
  }
  return seen;
}

/* The final row: the last, alone marked final, with the summary's counts. */
static void check_final(json_t **rows, size_t n, const char *summary) {
  char path[320];
  path_of(path, sizeof path, summary);
  json_t *s = json_load_file(path, 0, NULL);
  assert_non_null(s);
  for (size_t i = 0; i + 1 < n; i++) {
    assert_false(json_is_true(json_object_get(rows[i], "final")));
    assert_int_equal(json_integer_value(json_object_get(rows[i], "seq")), (json_int_t)i + 1);
  }
  json_t *last = rows[n - 1];
  assert_true(json_is_true(json_object_get(last, "final")));
  json_t *c = json_object_get(last, "counts");
  json_t *rep = json_object_get(json_object_get(s, "counts"), "reports");
  static const char *names[] = {"generated", "sent", "acked", "resent", "dropped"};
  for (size_t i = 0; i < 5; i++) {
    json_int_t a = json_integer_value(json_object_get(c, names[i]));
    json_int_t b = json_integer_value(json_object_get(rep, names[i]));
    if (a != b)
      fail_msg("%s: final row %s %lld, summary %lld", summary, names[i], (long long)a,
               (long long)b);
  }
  assert_int_equal(json_integer_value(json_object_get(c, "lost")),
                   json_integer_value(json_object_get(json_object_get(s, "counts"), "lost")));
  assert_true(json_integer_value(json_object_get(c, "acked")) > 0);
  json_decref(s);
}

static json_t *rows[4096];

static void test_virtual_scenario(void **state) {
  (void)state;
  read_doc();
  char out[320], sum[320];
  path_of(out, sizeof out, "v.jsonl");
  path_of(sum, sizeof sum, "v.json");
  const char *args[] = {
      "run", "power-cut",          "--clock", "virtual",   "--hubs", "20", "--metrics-out",
      out,   "--metrics-interval", "5s",      "--summary", sum,      "-q", NULL};
  int rc = run_hubsim(args);
  if (rc != 0)
    print_log();
  assert_int_equal(rc, 0);
  size_t n = read_rows("v.jsonl", rows, 4096);
  /* 6 min of engine time at 5 s, and the final row. */
  assert_true(n >= 72 && n <= 74);
  assert_int_equal(check_against_doc(rows, n, "expectations"), n);
  check_pages("v.jsonl");
  /* Exact intervals on the virtual clock. */
  assert_true(json_real_value(json_object_get(rows[0], "run_s")) == 5.0);
  assert_true(json_real_value(json_object_get(rows[1], "interval_s")) == 5.0);
  check_final(rows, n, "v.json");
  json_t *e = json_object_get(rows[n - 1], "expectations");
  assert_int_equal(json_integer_value(json_object_get(e, "pending")), 0);
  assert_true(json_integer_value(json_object_get(e, "passed")) > 0);
  free_rows(rows, n);
}

static void test_real_and_workers(void **state) {
  (void)state;
  read_doc();
  for (int workers = 1; workers <= 2; workers++) {
    char out[320], sum[320];
    path_of(out, sizeof out, "r.jsonl");
    path_of(sum, sizeof sum, "r.json");
    const char *args[] = {"run",
                          "--hubs",
                          "6",
                          "--duration",
                          "3s",
                          "--workers",
                          workers == 1 ? "1" : "2",
                          "--metrics-out",
                          out,
                          "--metrics-interval",
                          "250ms",
                          "--summary",
                          sum,
                          "--allow-lag",
                          "-q",
                          NULL};
    int rc = run_hubsim(args);
    if (rc != 0)
      print_log();
    assert_int_equal(rc, 0);
    size_t n = read_rows("r.jsonl", rows, 4096);
    assert_true(n >= 3);
    assert_int_equal(check_against_doc(rows, n, "expectations"), 0); /* no scenario: null */
    check_final(rows, n, "r.json");
    free_rows(rows, n);
  }
}

/* Waits (bounded) until path holds at least want bytes. */
static void wait_size(const char *path, off_t want, pid_t pid) {
  for (int i = 0; i < 2000; i++) {
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size >= want)
      return;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid)
      fail_msg("hubsim ended before writing %lld bytes", (long long)want);
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fail_msg("%s did not reach %lld bytes in 10 s", path, (long long)want);
}

static void test_sigkill_whole_lines(void **state) {
  (void)state;
  char out[320];
  path_of(out, sizeof out, "k.jsonl");
  srand((unsigned)time(NULL));
  for (int k = 0; k < 20; k++) {
    unlink(out);
    /* The virtual clock writes rows as fast as it can, and keeps its store in memory (a
     * killed run leaves no temporary store behind). */
    const char *args[] = {"run",           "--hubs", "4",       "--duration", "1h",
                          "--metrics-out", out,      "--clock", "virtual",    "--metrics-interval",
                          "10ms",          "-q",     NULL};
    pid_t pid = spawn_hubsim(args, 0);
    /* A kill at a random moment of the writing: after 1 to 64 KiB of rows. */
    wait_size(out, 1024 + (off_t)(rand() % 64512), pid);
    struct timespec ts = {0, (long)(rand() % 3000) * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    assert_int_equal(wait_exit(pid), 128 + SIGKILL);
    killed = 1;
    size_t n = read_rows("k.jsonl", rows, 4096);
    killed = 0;
    assert_true(n >= 2);
    free_rows(rows, n);
  }
}

static void test_file_size_limit(void **state) {
  (void)state;
  char out[320];
  path_of(out, sizeof out, "f.jsonl");
  /* The virtual clock: its store is in memory, so the limit meets the series file alone. */
  const char *args[] = {"run",           "--hubs", "4",       "--duration", "10s",
                        "--metrics-out", out,      "--clock", "virtual",    "--metrics-interval",
                        "10ms",          "-q",     NULL};
  int rc = wait_exit(spawn_hubsim(args, 5000));
  if (rc != 3)
    print_log();
  assert_int_equal(rc, 3);
  size_t n = read_rows("f.jsonl", rows, 4096);
  assert_true(n >= 1);
  free_rows(rows, n);
  struct stat st;
  assert_int_equal(stat(out, &st), 0);
  assert_true(st.st_size <= 5000);
  char log[320], text[8192] = {0};
  path_of(log, sizeof log, "log.txt");
  FILE *f = fopen(log, "r");
  assert_non_null(f);
  size_t got = fread(text, 1, sizeof text - 1, f);
  text[got] = '\0';
  fclose(f);
  assert_non_null(strstr(text, "--metrics-out"));
  assert_non_null(strstr(text, "keeps its whole lines"));
}

static void test_bad_flags(void **state) {
  (void)state;
  static const char *cases[][3] = {{"--metrics-interval", "1ms", "--metrics-interval"},
                                   {"--metrics-out", "/nonexistent-dir/m.jsonl", "--metrics-out"},
                                   {"--prometheus", "localhost:9464", "--prometheus"},
                                   {"--prometheus", "127.0.0.1:70000", "--prometheus"},
                                   {"--prometheus-linger", "5s", "--prometheus-linger"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *args[] = {"run", cases[i][0], cases[i][1], "--duration", "1s", "-q", NULL};
    assert_int_equal(run_hubsim(args), 2);
    char log[320], text[4096] = {0};
    path_of(log, sizeof log, "log.txt");
    FILE *f = fopen(log, "r");
    size_t got = fread(text, 1, sizeof text - 1, f);
    text[got] = '\0';
    fclose(f);
    if (!strstr(text, cases[i][2]))
      fail_msg("%s %s: the message does not name the flag: %s", cases[i][0], cases[i][1], text);
  }
  /* A port already taken: refused before the run starts, naming the flag. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 1), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  char port[16];
  snprintf(port, sizeof port, "%u", ntohs(sa.sin_port));
  const char *taken[] = {"run", "--prometheus", port, "--duration", "1s", "-q", NULL};
  assert_int_equal(run_hubsim(taken), 2);
  close(fd);
  /* A virtual-clock run has no wall time to be scraped in. */
  const char *virt[] = {"run", "--prometheus", "0", "--clock", "virtual", "-q", NULL};
  assert_int_equal(run_hubsim(virt), 2);
  /* The series and the summary in one file: one would overwrite the other. */
  const char *same[] = {"run", "--metrics-out", "/tmp/x.json", "--summary", "/tmp/x.json", NULL};
  assert_int_equal(run_hubsim(same), 2);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "%s/hubsim-metrics-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  static const char *names[] = {"v.jsonl", "v.json",  "r.jsonl", "r.json",
                                "k.jsonl", "f.jsonl", "log.txt"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char p[320];
    path_of(p, sizeof p, names[i]);
    unlink(p);
  }
  rmdir(dir);
  for (size_t i = 0; i < n_doc; i++) {
    free(doc_path[i]);
    free(doc_type[i]);
  }
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_virtual_scenario), cmocka_unit_test(test_real_and_workers),
      cmocka_unit_test(test_sigkill_whole_lines), cmocka_unit_test(test_file_size_limit),
      cmocka_unit_test(test_bad_flags)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
