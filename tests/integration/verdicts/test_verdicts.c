/* Verdicts that say what happened. `hubsim run` (the real binary, $HUBSIM_BIN) against real
 * peers on loopback, each of which once ended "PASS: every report accounted for" with exit 0:
 *
 *   - a platform that never acknowledges (a fake platform in this test: handshake, Welcome,
 *     then silence);
 *   - a platform killed mid-run and never restarted (`hubsim platform`, SIGKILL);
 *   - a platform that holds most hubs out (`hubsim platform` with 30 open files);
 *   - command results and reports dropped on full hub queues (--queue-max 2);
 *
 * each must now fail with exit 1 and a verdict naming the first reason with its count, the
 * JSON summary carrying every reason. A healthy run still passes, against the embedded platform
 * and against `hubsim platform`, and in every run the counts add up (docs/summary.md section
 * 4). SIGINT ends a run within 2 s even with a long --drain and a platform that never
 * acknowledges, with a verdict that says it was interrupted (tests/integration/verdicts).
 *
 * The fake platform and the child processes share this test's libuv loop: each test runs the
 * loop until the child exits (or a deadline), acting on what it sees on the way. */
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
#include <signal.h>
#include <uv.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/transport/transport.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"
#include "support/platproc.h"

/* ---- a fake platform that opens sessions and never acknowledges ------------------------- */

struct fake_conn {
  struct sim_conn *c;
  struct sim_frame_reader rd;
};

static struct {
  struct sim_transport *t;
  struct sim_listener *l;
  struct sim_buf out;
  uint64_t welcomes;  /* sessions opened */
  uint64_t sequenced; /* sequenced messages received (never acknowledged) */
} FK;

static void fake_send(struct fake_conn *p, const sim_envelope *env) {
  FK.out.len = 0;
  assert_int_equal(sim_hubrpc_encode(&FK.out, env), 0);
  sim_conn_send(p->c, FK.out.data, FK.out.len);
}

static int fake_frame(void *arg, const uint8_t *body, size_t len) {
  struct fake_conn *p = arg;
  sim_envelope *env = NULL;
  if (sim_hubrpc_decode(body, len, &env))
    return 1;
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_HELLO: {
    static uint8_t sn[16];
    Hubrpc__V1__Challenge ch = HUBRPC__V1__CHALLENGE__INIT;
    ch.server_nonce.data = sn;
    ch.server_nonce.len = sizeof sn;
    sim_envelope e = HUBRPC__V1__ENVELOPE__INIT;
    e.body_case = HUBRPC__V1__ENVELOPE__BODY_CHALLENGE;
    e.challenge = &ch;
    fake_send(p, &e);
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_AUTH: {
    /* Any MAC will do: this platform's fault is elsewhere. */
    Hubrpc__V1__Welcome w = HUBRPC__V1__WELCOME__INIT;
    w.session_id = FK.welcomes + 1;
    w.heartbeat_s = 30;
    w.max_window = 256;
    sim_envelope e = HUBRPC__V1__ENVELOPE__INIT;
    e.body_case = HUBRPC__V1__ENVELOPE__BODY_WELCOME;
    e.welcome = &w;
    fake_send(p, &e);
    FK.welcomes++;
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_REPORT:
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED:
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT:
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT:
    FK.sequenced++; /* stored nowhere, acknowledged never */
    break;
  default:
    break;
  }
  sim_hubrpc_free(env);
  return 0;
}

static void fake_data(struct sim_conn *c, const uint8_t *d, size_t n, void *user) {
  (void)c;
  struct fake_conn *p = user;
  sim_frame_reader_feed(&p->rd, d, n, fake_frame, p);
}

static void fake_closed(struct sim_conn *c, int err, void *user) {
  (void)c;
  (void)err;
  struct fake_conn *p = user;
  sim_frame_reader_fini(&p->rd);
  free(p);
}

static const struct sim_conn_cbs fake_cbs = {NULL, fake_data, fake_closed};

static void fake_accept(struct sim_listener *l, struct sim_conn *c, void *user) {
  (void)l;
  (void)user;
  struct fake_conn *p = calloc(1, sizeof(*p));
  assert_non_null(p);
  p->c = c;
  sim_frame_reader_init(&p->rd, SIM_FRAME_MAX);
  assert_int_equal(sim_conn_start(c, &fake_cbs, p), 0);
}

static uint16_t fake_start(uv_loop_t *loop) {
  memset(&FK, 0, sizeof FK);
  sim_buf_init(&FK.out);
  assert_int_equal(sim_transport_tcp_new(loop, &FK.t), 0);
  struct sim_addr a = {"127.0.0.1", 0};
  assert_int_equal(sim_transport_listen(FK.t, &a, fake_accept, NULL, &FK.l), 0);
  return sim_listener_port(FK.l);
}

/* Closing the transport closes the connections still open (their closed callbacks free them). */
static void fake_stop(uv_loop_t *loop) {
  sim_listener_close(FK.l);
  uv_run(loop, UV_RUN_NOWAIT);
  sim_transport_free(FK.t);
  uv_run(loop, UV_RUN_NOWAIT);
  sim_buf_fini(&FK.out);
}

/* ---- children on the loop ---------------------------------------------------------------- */

struct child {
  uv_process_t proc;
  int exited;
  int status; /* exit status, or 128 + signal */
  uint64_t exited_ns;
  char log[128]; /* stdout and stderr */
};

static void child_exit(uv_process_t *p, int64_t status, int sig) {
  struct child *ch = p->data;
  ch->exited = 1;
  ch->status = sig ? 128 + sig : (int)status;
  ch->exited_ns = uv_hrtime();
  uv_close((uv_handle_t *)p, NULL);
}

static char logs[16][128]; /* removed after each test */
static int n_logs;

/* Starts argv (argv[0] the program) with stdout and stderr into ch->log. */
static void child_start(uv_loop_t *loop, struct child *ch, const char *const *argv,
                        const char *tag) {
  memset(ch, 0, sizeof(*ch));
  snprintf(ch->log, sizeof ch->log, "/tmp/hubsim-verdicts-%d-%s.log", (int)getpid(), tag);
  if (n_logs < 16)
    snprintf(logs[n_logs++], sizeof logs[0], "%s", ch->log);
  int fd = open(ch->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = fd;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = fd;
  uv_process_options_t opt = {0};
  opt.file = argv[0];
  opt.args = (char **)argv;
  opt.exit_cb = child_exit;
  opt.stdio = stdio;
  opt.stdio_count = 3;
  ch->proc.data = ch;
  int rc = uv_spawn(loop, &ch->proc, &opt);
  close(fd);
  if (rc)
    fail_msg("cannot start %s: %s", argv[0], uv_strerror(rc));
}

static int child_gone(void *arg) {
  return ((struct child *)arg)->exited;
}

static char logbuf[1 << 17];

static const char *child_output(const struct child *ch) {
  FILE *f = fopen(ch->log, "r");
  size_t n = f ? fread(logbuf, 1, sizeof logbuf - 1, f) : 0;
  if (f)
    fclose(f);
  logbuf[n] = '\0';
  return logbuf;
}

/* Runs the loop, calling cond every 20 ms, until it returns non-zero or timeout_s passes.
 * Returns cond's last value. */
typedef int (*cond_fn)(void *arg);

struct until {
  cond_fn cond;
  void *arg;
  int result;
  uint64_t deadline;
};

static void until_tick(uv_timer_t *t) {
  struct until *u = t->data;
  u->result = u->cond(u->arg);
  if (u->result || uv_hrtime() > u->deadline)
    uv_stop(t->loop);
}

static int loop_until(uv_loop_t *loop, cond_fn cond, void *arg, double timeout_s) {
  struct until u = {cond, arg, 0, uv_hrtime() + (uint64_t)(timeout_s * 1e9)};
  uv_timer_t t;
  uv_timer_init(loop, &t);
  t.data = &u;
  uv_timer_start(&t, until_tick, 20, 20);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return u.result;
}

/* What a test does while its run goes on: called every 20 ms until it returns 1 (done acting). */
typedef int (*act_fn)(void *arg, const struct child *ch);

struct watch {
  struct child *ch;
  act_fn act;
  void *arg;
  int acted;
};

static int watch_cond(void *arg) {
  struct watch *w = arg;
  if (!w->acted && w->act && !w->ch->exited)
    w->acted = w->act(w->arg, w->ch);
  return w->ch->exited;
}

/* Runs the loop until ch exits or timeout_s passes (then the child is killed and the test
 * fails). */
static void run_until_exit(uv_loop_t *loop, struct child *ch, act_fn act, void *arg,
                           double timeout_s) {
  struct watch w = {ch, act, arg, 0};
  if (!loop_until(loop, watch_cond, &w, timeout_s)) {
    uv_process_kill(&ch->proc, SIGKILL);
    for (int i = 0; i < 200 && !ch->exited; i++)
      uv_run(loop, UV_RUN_ONCE);
    fail_msg("the run did not end within %.0f s: %s", timeout_s, child_output(ch));
  }
}

/* ---- runs and their summaries ------------------------------------------------------------ */

static const char *bin(void) {
  const char *b = getenv("HUBSIM_BIN");
  assert_non_null(b);
  return b;
}

static char summary_path[128];

/* argv for `hubsim run ARGS... --summary PATH`: args is NULL-terminated. */
static const char *const *run_argv(const char *const *args) {
  static const char *argv[48];
  int n = 0;
  argv[n++] = bin();
  argv[n++] = "run";
  for (int i = 0; args[i] && n < 44; i++)
    argv[n++] = args[i];
  snprintf(summary_path, sizeof summary_path, "/tmp/hubsim-verdicts-%d.json", (int)getpid());
  unlink(summary_path);
  argv[n++] = "--summary";
  argv[n++] = summary_path;
  argv[n] = NULL;
  return argv;
}

static json_int_t jint(json_t *root, const char *a, const char *b) {
  json_t *o = json_object_get(root, a);
  if (b)
    o = json_object_get(o, b);
  if (!json_is_integer(o))
    fail_msg("summary: %s.%s is not an integer", a, b ? b : "");
  return json_integer_value(o);
}

/* The summary of the last run. */
static json_t *load_summary(void) {
  json_error_t err;
  json_t *j = json_load_file(summary_path, 0, &err);
  if (!j)
    fail_msg("no summary at %s: %s", summary_path, err.text);
  return j;
}

/* The accounting of docs/summary.md section 4: generated = acked + dropped + lost_power +
 * held_by_off_hubs + unacknowledged + lost. */
static void check_accounting(json_t *j) {
  static const char *kinds[] = {"reports", "device_joined", "device_left", "command_results"};
  json_t *c = json_object_get(j, "counts");
  json_int_t gen = 0, acked = 0, dropped = 0;
  for (int k = 0; k < 4; k++) {
    gen += jint(c, kinds[k], "generated");
    acked += jint(c, kinds[k], "acked");
    dropped += jint(c, kinds[k], "dropped");
  }
  json_int_t rhs = acked + dropped + jint(j, "counts", "lost_power") +
                   jint(j, "counts", "held_by_off_hubs") + jint(j, "counts", "unacknowledged") +
                   jint(j, "counts", "lost");
  if (gen != rhs)
    fail_msg("the counts do not add up: generated %lld, accounted for %lld", (long long)gen,
             (long long)rhs);
}

static const char *verdict_text(json_t *j) {
  return json_string_value(json_object_get(json_object_get(j, "verdict"), "text"));
}

/* The run failed with code, its verdict line names words and its first reason is check; the
 * counts add up. */
static void expect_failure(const struct child *ch, json_t *j, int code, const char *check,
                           const char *words) {
  const char *out = child_output(ch);
  const char *text = verdict_text(j);
  json_t *reasons = json_object_get(json_object_get(j, "verdict"), "reasons");
  json_t *first = json_array_get(reasons, 0);
  const char *got = json_string_value(json_object_get(first, "check"));
  if (ch->status != code || !text || !strstr(text, words) || !strstr(out, words) || !got ||
      strcmp(got, check) != 0)
    fail_msg("want exit %d, a verdict naming \"%s\" and first reason %s; got exit %d, verdict "
             "\"%s\", first reason %s\n%s",
             code, words, check, ch->status, text ? text : "none", got ? got : "none", out);
  assert_true(json_integer_value(json_object_get(first, "count")) > 0);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "verdict"), "exit_code")),
                   code);
  check_accounting(j);
}

/* ---- the lies, one by one ---------------------------------------------------------------- */

/* A platform that opens every session and acknowledges nothing. */
static void test_never_acks(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64];
  snprintf(url, sizeof url, "hubrpc://127.0.0.1:%u", fake_start(&loop));
  const char *args[] = {"--platform", url,          "--hubs", "5",       "--devices-per-hub",
                        "4",          "--duration", "1s",     "--drain", "1s",
                        "--speedup",  "50",         "-q",     NULL};
  struct child ch;
  child_start(&loop, &ch, run_argv(args), "noack");
  run_until_exit(&loop, &ch, NULL, NULL, 60);
  fake_stop(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_true(FK.welcomes >= 5 && FK.sequenced > 0);
  json_t *j = load_summary();
  expect_failure(&ch, j, 1, "unacknowledged", "messages were never acknowledged");
  assert_int_equal(jint(j, "counts", "unacknowledged"), (json_int_t)FK.sequenced);
  assert_int_equal(jint(j, "sessions", "not_online_at_end"), 0);
  json_decref(j);
}

/* The platform dies mid-run (SIGKILL) and never comes back. */
struct kill_ctx {
  struct platproc *p;
  int killed;
};

static int kill_when_stored(void *arg, const struct child *ch) {
  (void)ch;
  struct kill_ctx *k = arg;
  if (platproc_query(k->p->db, "SELECT count(*) FROM reports") <= 0)
    return 0;
  platproc_kill(k->p);
  k->killed = 1;
  return 1;
}

static void test_platform_killed(void **state) {
  (void)state;
  struct platproc p;
  char db[128];
  snprintf(db, sizeof db, "/tmp/hubsim-verdicts-%d-killed.db", (int)getpid());
  unlink(db);
  assert_int_equal(platproc_start(&p, db, 0, NULL), 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64];
  snprintf(url, sizeof url, "hubrpc://127.0.0.1:%u", p.port);
  const char *args[] = {"--platform", url,          "--hubs", "10",      "--devices-per-hub",
                        "8",          "--duration", "3s",     "--drain", "1s",
                        "--speedup",  "100",        "-q",     NULL};
  struct child ch;
  struct kill_ctx k = {&p, 0};
  child_start(&loop, &ch, run_argv(args), "killed");
  run_until_exit(&loop, &ch, kill_when_stored, &k, 60);
  platproc_kill(&p);
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_true(k.killed);
  json_t *j = load_summary();
  expect_failure(&ch, j, 1, "hubs_not_online", "10 of 10 hubs were not online at the end");
  assert_true(jint(j, "sessions", "opened") >= 10);
  assert_int_equal(jint(j, "sessions", "online_at_end"), 0);
  /* What the hubs generated after the kill is named too, in the second reason. */
  json_t *second = json_array_get(json_object_get(json_object_get(j, "verdict"), "reasons"), 1);
  assert_string_equal(json_string_value(json_object_get(second, "check")), "unacknowledged");
  assert_true(jint(j, "counts", "unacknowledged") > 0);
  json_decref(j);
  const char *sfx[] = {"", "-wal", "-shm", ".ready", ".log"};
  char f[160];
  for (int i = 0; i < 5; i++) {
    snprintf(f, sizeof f, "%s%s", db, sfx[i]);
    unlink(f);
  }
}

/* A platform that can hold only a few sessions: `hubsim platform` limited to 30 open files
 * (a descriptor shortage, as on a platform whose limit is too low for its fleet). */
struct ready_ctx {
  char path[160];
  uint16_t port;
  struct child *plat;
};

static int read_ready(struct ready_ctx *r) {
  FILE *f = fopen(r->path, "r");
  unsigned v = 0;
  int ok = f && fscanf(f, "%u", &v) == 1 && v > 0 && v < 65536;
  if (f)
    fclose(f);
  if (ok)
    r->port = (uint16_t)v;
  return ok;
}

static int platform_ready(void *arg) {
  struct ready_ctx *r = arg;
  return read_ready(r) || r->plat->exited;
}

static void test_hubs_held_out(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char db[128], script[512];
  struct ready_ctx rd = {0};
  snprintf(db, sizeof db, "/tmp/hubsim-verdicts-%d-fd.db", (int)getpid());
  snprintf(rd.path, sizeof rd.path, "%s.ready", db);
  unlink(db);
  unlink(rd.path);
  snprintf(script, sizeof script,
           "ulimit -n 30 && exec \"$0\" platform --listen hubrpc://127.0.0.1:0 --db '%s' "
           "--ready-file '%s'",
           db, rd.path);
  const char *pargv[] = {"/bin/sh", "-c", script, bin(), NULL};
  struct child plat;
  child_start(&loop, &plat, pargv, "fdplat");
  rd.plat = &plat;
  if (!loop_until(&loop, platform_ready, &rd, 10) || !rd.port)
    fail_msg("the platform did not start: %s", child_output(&plat));
  char url[64];
  snprintf(url, sizeof url, "hubrpc://127.0.0.1:%u", rd.port);
  const char *args[] = {"--platform",        url,  "--hubs",     "100",
                        "--devices-per-hub", "2",  "--duration", "2s",
                        "--drain",           "1s", "-q",         NULL};
  struct child ch;
  child_start(&loop, &ch, run_argv(args), "heldout");
  run_until_exit(&loop, &ch, NULL, NULL, 60);
  uv_process_kill(&plat.proc, SIGTERM);
  loop_until(&loop, child_gone, &plat, 20);
  assert_int_equal(uv_loop_close(&loop), 0);
  json_t *j = load_summary();
  json_int_t online = jint(j, "sessions", "online_at_end");
  if (online <= 0 || online >= 100)
    fail_msg("expected some hubs online and most held out, got %lld online: %s", (long long)online,
             child_output(&ch));
  char words[64];
  snprintf(words, sizeof words, "%lld of 100 hubs were not online at the end",
           (long long)(100 - online));
  expect_failure(&ch, j, 1, "hubs_not_online", words);
  assert_int_equal(jint(j, "sessions", "not_online_at_end"), 100 - online);
  json_decref(j);
  const char *sfx[] = {"", "-wal", "-shm", ".ready"};
  char f[160];
  for (int i = 0; i < 4; i++) {
    snprintf(f, sizeof f, "%s%s", db, sfx[i]);
    unlink(f);
  }
}

/* Hub queues of 2 messages: a boot's DeviceJoined burst and the results of a stream of
 * commands overflow them, and what overflows is dropped. */
static void test_dropped(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  const char *args[] = {"--hubs",
                        "10",
                        "--devices-per-hub",
                        "4",
                        "--mix",
                        "lumi.plug.maeu01",
                        "--command-rate",
                        "200",
                        "--queue-max",
                        "2",
                        "--duration",
                        "2s",
                        "-q",
                        NULL};
  struct child ch;
  child_start(&loop, &ch, run_argv(args), "dropped");
  run_until_exit(&loop, &ch, NULL, NULL, 60);
  assert_int_equal(uv_loop_close(&loop), 0);
  json_t *j = load_summary();
  expect_failure(&ch, j, 1, "dropped", "were dropped (hub queue full)");
  json_t *c = json_object_get(j, "counts");
  assert_true(jint(c, "device_joined", "dropped") > 0);
  assert_int_equal(jint(j, "run", "queue_max"), 2);
  json_decref(j);
}

/* ---- what still passes ------------------------------------------------------------------- */

static void test_healthy_embedded(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  const char *args[] = {
      "--hubs", "10", "--devices-per-hub", "4", "--speedup", "50", "--duration", "2s", "-q", NULL};
  struct child ch;
  child_start(&loop, &ch, run_argv(args), "healthy");
  run_until_exit(&loop, &ch, NULL, NULL, 60);
  assert_int_equal(uv_loop_close(&loop), 0);
  json_t *j = load_summary();
  if (ch.status != 0 || strcmp(verdict_text(j), "PASS: every report accounted for") != 0)
    fail_msg("exit %d: %s", ch.status, child_output(&ch));
  check_accounting(j);
  assert_int_equal(json_array_size(json_object_get(json_object_get(j, "verdict"), "reasons")), 0);
  assert_int_equal(jint(j, "counts", "unacknowledged"), 0);
  assert_int_equal(jint(j, "sessions", "online_at_end"), 10);
  json_decref(j);
}

static void test_healthy_external(void **state) {
  (void)state;
  struct platproc p;
  char db[128];
  snprintf(db, sizeof db, "/tmp/hubsim-verdicts-%d-ok.db", (int)getpid());
  unlink(db);
  assert_int_equal(platproc_start(&p, db, 0, NULL), 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64];
  snprintf(url, sizeof url, "hubrpc://127.0.0.1:%u", p.port);
  const char *args[] = {"--platform",        url,  "--hubs",     "10",
                        "--devices-per-hub", "4",  "--duration", "2s",
                        "--speedup",         "50", "-q",         NULL};
  struct child ch;
  child_start(&loop, &ch, run_argv(args), "healthy-ext");
  run_until_exit(&loop, &ch, NULL, NULL, 60);
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_int_equal(platproc_stop(&p), 0);
  json_t *j = load_summary();
  if (ch.status != 0 || strncmp(verdict_text(j), "PASS", 4) != 0)
    fail_msg("exit %d: %s", ch.status, child_output(&ch));
  check_accounting(j);
  assert_true(platproc_query(db, "SELECT count(*) FROM reports") ==
              jint(json_object_get(j, "counts"), "reports", "acked"));
  json_decref(j);
  const char *sfx[] = {"", "-wal", "-shm", ".ready", ".log"};
  char f[160];
  for (int i = 0; i < 5; i++) {
    snprintf(f, sizeof f, "%s%s", db, sfx[i]);
    unlink(f);
  }
}

/* The exclusion rules: a power cut that takes in-flight messages with it (they were once
 * counted "lost", failing the run), a hub left dark and a hub left disconnected by the
 * scenario (power_cut_in_flight.lua) are what the run did, not the platform: the run passes. */
static void test_power_cut_excluded(void **state) {
  (void)state;
  const char *src = getenv("HUBSIM_SOURCE_DIR");
  assert_non_null(src);
  char script[512];
  snprintf(script, sizeof script, "%s/tests/integration/verdicts/power_cut_in_flight.lua", src);
  uv_loop_t loop;
  uv_loop_init(&loop);
  const char *args[] = {script, "-q", NULL};
  struct child ch;
  child_start(&loop, &ch, run_argv(args), "powercut");
  run_until_exit(&loop, &ch, NULL, NULL, 60);
  assert_int_equal(uv_loop_close(&loop), 0);
  json_t *j = load_summary();
  if (ch.status != 0 || strncmp(verdict_text(j), "PASS", 4) != 0)
    fail_msg("exit %d, verdict %s: %s", ch.status, verdict_text(j), child_output(&ch));
  check_accounting(j);
  assert_true(jint(j, "counts", "lost_power_sent") > 0);
  assert_int_equal(jint(j, "counts", "lost"), 0);
  assert_int_equal(jint(j, "sessions", "off_by_run_at_end"), 2);
  assert_int_equal(jint(j, "sessions", "expected_online_at_end"), 4);
  assert_int_equal(jint(j, "sessions", "online_at_end"), 4);
  json_decref(j);
}

/* ---- SIGINT ends any run within 2 s ----------------------------------------------------- */

struct sig_ctx {
  int signals;          /* how many to send (1 or 2) */
  uint64_t want_seq;    /* send once the fake platform saw this many sequenced messages */
  const char *wait_for; /* or once the run's output holds this text */
  uint64_t sent_ns;
};

static int interrupt_when_busy(void *arg, const struct child *ch) {
  struct sig_ctx *s = arg;
  if (!s->sent_ns) {
    if (s->wait_for ? !strstr(child_output(ch), s->wait_for) : FK.sequenced < s->want_seq)
      return 0;
    s->sent_ns = uv_hrtime();
    uv_process_kill((uv_process_t *)&ch->proc, SIGINT);
    return s->signals == 1;
  }
  /* The second one once the first has been taken (two at once may arrive as one). */
  if (!strstr(child_output(ch), "again to stop now"))
    return 0;
  uv_process_kill((uv_process_t *)&ch->proc, SIGINT);
  return 1;
}

/* The run's end after the first SIGINT: within 2 s (the acceptance bound of `hubsim run`:
 * a drain of at most 1 s, then the stop), whatever --drain says. */
static void expect_prompt_end(const struct child *ch, const struct sig_ctx *s) {
  assert_true(s->sent_ns > 0);
  double took = (double)(ch->exited_ns - s->sent_ns) / 1e9;
  printf("  the run ended %.3f s after SIGINT\n", took);
  if (took > 2.0)
    fail_msg("the run ended %.2f s after SIGINT (bound 2 s): %s", took, child_output(ch));
}

static void sigint_never_acks(int signals, const char *workers) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64];
  snprintf(url, sizeof url, "hubrpc://127.0.0.1:%u", fake_start(&loop));
  const char *args[] = {"--platform", url,          "--hubs",    "4",       "--devices-per-hub",
                        "4",          "--duration", "60s",       "--drain", "60s",
                        "--speedup",  "50",         "--workers", workers,   NULL};
  struct child ch;
  struct sig_ctx s = {signals, 40, NULL, 0};
  child_start(&loop, &ch, run_argv(args), "sigint");
  run_until_exit(&loop, &ch, interrupt_when_busy, &s, 30);
  fake_stop(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);
  expect_prompt_end(&ch, &s);
  json_t *j = load_summary();
  expect_failure(&ch, j, 1, "unacknowledged", "messages were never acknowledged");
  assert_non_null(strstr(verdict_text(j), "[interrupted by SIGINT"));
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(j, "verdict"), "interrupted")), "SIGINT");
  json_decref(j);
}

static void test_sigint_drain_capped(void **state) {
  (void)state;
  sigint_never_acks(1, "1");
}

static void test_sigint_twice(void **state) {
  (void)state;
  sigint_never_acks(2, "1");
}

static void test_sigint_workers(void **state) {
  (void)state;
  sigint_never_acks(1, "2");
}

/* A healthy run interrupted: what was in flight is acknowledged within the short drain, so the
 * verdict passes, and says that the run was cut short. */
static void test_sigint_healthy(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  const char *args[] = {"--hubs",     "4",   "--devices-per-hub", "4",   "--speedup", "50",
                        "--duration", "60s", "--drain",           "60s", NULL};
  struct child ch;
  struct sig_ctx s = {1, 0, "online 4/4", 0};
  child_start(&loop, &ch, run_argv(args), "sigint-ok");
  run_until_exit(&loop, &ch, interrupt_when_busy, &s, 30);
  assert_int_equal(uv_loop_close(&loop), 0);
  expect_prompt_end(&ch, &s);
  json_t *j = load_summary();
  if (ch.status != 0 || strncmp(verdict_text(j),
                                "PASS: every report accounted for [interrupted "
                                "by SIGINT",
                                48) != 0)
    fail_msg("exit %d, verdict %s: %s", ch.status, verdict_text(j), child_output(&ch));
  check_accounting(j);
  json_decref(j);
}

static int teardown(void **state) {
  (void)state;
  unlink(summary_path);
  for (int i = 0; i < n_logs; i++)
    unlink(logs[i]);
  n_logs = 0;
  return 0;
}

/* The virtual clock steps time itself, outside libuv's loop: SIGINT there too ends the run
 * within 2 s, with a summary that says so (it once killed the process, no summary written). */
static void test_sigint_virtual(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  const char *args[] = {"--clock", "virtual",    "--hubs", "50", "--devices-per-hub",
                        "10",      "--duration", "365d",   NULL};
  struct child ch;
  struct sig_ctx s = {1, 0, "virtual clock, 31536000 s", 0};
  child_start(&loop, &ch, run_argv(args), "sigint-virtual");
  run_until_exit(&loop, &ch, interrupt_when_busy, &s, 30);
  assert_int_equal(uv_loop_close(&loop), 0);
  expect_prompt_end(&ch, &s);
  json_t *j = load_summary();
  if (strstr(verdict_text(j), "[interrupted by SIGINT") == NULL)
    fail_msg("exit %d, verdict %s: %s", ch.status, verdict_text(j), child_output(&ch));
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(j, "verdict"), "interrupted")), "SIGINT");
  check_accounting(j);
  json_decref(j);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_never_acks, teardown),
      cmocka_unit_test_teardown(test_platform_killed, teardown),
      cmocka_unit_test_teardown(test_hubs_held_out, teardown),
      cmocka_unit_test_teardown(test_dropped, teardown),
      cmocka_unit_test_teardown(test_healthy_embedded, teardown),
      cmocka_unit_test_teardown(test_healthy_external, teardown),
      cmocka_unit_test_teardown(test_power_cut_excluded, teardown),
      cmocka_unit_test_teardown(test_sigint_drain_capped, teardown),
      cmocka_unit_test_teardown(test_sigint_twice, teardown),
      cmocka_unit_test_teardown(test_sigint_workers, teardown),
      cmocka_unit_test_teardown(test_sigint_healthy, teardown),
      cmocka_unit_test_teardown(test_sigint_virtual, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
