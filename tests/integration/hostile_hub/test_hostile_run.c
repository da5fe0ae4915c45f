/* `hubsim run --platform hubrpc://127.0.0.1:PORT` against a hostile platform: the process
 * survives. The fake platform of fakeplat.c sends hub-000000 the 30 KB frame of 8,800 nested
 * Attributes (which overflowed the stack of protobuf-c's unpack and killed the whole run) on its
 * first connection; the hub must answer Error{MALFORMED_FRAME}, close, reconnect, and the run
 * must end normally with exit 0 and every report accounted for. */
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
#include <uv.h>

#include "fakeplat.h"
#include "sim/core/err.h"
#include "support/wirebuild.h"

static struct {
  uv_loop_t loop;
  struct fakeplat fp;
  uv_process_t proc;
  int exited;
  int64_t status;
  int signal;
} T;

static void act_deep(struct fp_conn *p) {
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(wb_deep_report(&b, 8800, 0, 0), 0);
  fp_send(p, b.data, b.len);
  sim_buf_fini(&b);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  T.exited = 1;
  T.status = status;
  T.signal = sig;
  uv_close((uv_handle_t *)p, NULL);
}

static void on_tick(uv_timer_t *t) {
  if (T.exited || uv_hrtime() > *(uint64_t *)t->data)
    uv_stop(t->loop);
}

static void run_against(enum fp_when when) {
  static const struct fp_case cases[] = {
      {"deep_in_handshake", FP_AT_HELLO, act_deep, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME,
       NULL, 1, 0, 0, NULL},
      {"deep_when_open", FP_AT_OPEN, act_deep, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME, NULL,
       1, 0, 0, NULL},
  };
  const struct fp_case *c = &cases[when == FP_AT_HELLO ? 0 : 1];
  memset(&T, 0, sizeof(T));
  assert_int_equal(uv_loop_init(&T.loop), 0);
  assert_int_equal(fp_start(&T.fp, &T.loop, c, "hub-000000", "hub-000001"), 0);
  const char *bin = getenv("HUBSIM_BIN");
  assert_non_null(bin);
  char url[64], summary[256];
  snprintf(url, sizeof(url), "hubrpc://127.0.0.1:%u", T.fp.port);
  const char *tmp = getenv("TMPDIR");
  snprintf(summary, sizeof(summary), "%s/hubsim-hostile-run-%d.json", tmp && *tmp ? tmp : "/tmp",
           (int)getpid());
  unlink(summary);
  char *args[] = {(char *)bin,
                  "run",
                  "--platform",
                  url,
                  "--hubs",
                  "2",
                  "--devices-per-hub",
                  "3",
                  "--mix",
                  "lumi.plug.maeu01",
                  "--duration",
                  "3s",
                  "--speedup",
                  "60",
                  "--drain",
                  "10s",
                  "--allow-lag",
                  "--ui",
                  "none",
                  "--summary",
                  summary,
                  NULL};
  uv_stdio_container_t io[3] = {
      {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = 2}};
  uv_process_options_t o = {
      .exit_cb = on_exit_cb, .file = bin, .args = args, .stdio_count = 3, .stdio = io};
  assert_int_equal(uv_spawn(&T.loop, &T.proc, &o), 0);
  uv_timer_t tick;
  uint64_t deadline = uv_hrtime() + 60ull * 1000000000ull;
  uv_timer_init(&T.loop, &tick);
  tick.data = &deadline;
  uv_timer_start(&tick, on_tick, 10, 10);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  if (!T.exited) {
    uv_process_kill(&T.proc, SIGKILL);
    for (int i = 0; i < 100 && !T.exited; i++)
      uv_run(&T.loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&tick, NULL);
  fp_stop(&T.fp);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&T.loop), 0);

  const struct fp_hub *v = &T.fp.hub[0], *g = &T.fp.hub[1];
  printf("%s: hubsim run ended with status %lld, signal %d; victim: Error %d, %u connections, "
         "%llu reports; neighbour: %u connection(s), %llu reports\n",
         c->name, (long long)T.status, T.signal, v->first_error, v->hellos,
         (unsigned long long)v->reports, g->hellos, (unsigned long long)g->reports);
  assert_true(T.exited);
  assert_int_equal(T.signal, 0); /* not killed by a SIGSEGV */
  assert_int_equal(T.status, 0);
  if (T.fp.fail[0])
    fail_msg("%s", T.fp.fail);
  assert_int_equal(v->first_error, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME);
  assert_true(v->first_closed_by_hub);
  assert_true(v->hellos >= 2);
  assert_int_equal(g->hellos, 1);
  assert_int_equal(g->errors_rx, 0);

  json_error_t je;
  json_t *s = json_load_file(summary, 0, &je);
  if (!s)
    fail_msg("summary %s: %s", summary, je.text);
  json_t *counts = json_object_get(s, "counts");
  json_int_t generated =
      json_integer_value(json_object_get(json_object_get(counts, "reports"), "generated"));
  json_int_t lost = json_integer_value(json_object_get(counts, "lost"));
  json_int_t malformed =
      json_integer_value(json_object_get(json_object_get(s, "errors"), "MALFORMED"));
  printf("summary: %lld reports generated, %lld lost, MALFORMED counted %lld\n",
         (long long)generated, (long long)lost, (long long)malformed);
  assert_true(generated > 0);
  assert_int_equal(lost, 0);
  assert_int_equal(malformed, 1);
  assert_int_equal(v->reports + g->reports, (uint64_t)generated);
  json_decref(s);
  unlink(summary);
}

static void test_run_survives_deep_frame_in_handshake(void **state) {
  (void)state;
  run_against(FP_AT_HELLO);
}

static void test_run_survives_deep_frame_when_open(void **state) {
  (void)state;
  run_against(FP_AT_OPEN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_survives_deep_frame_in_handshake),
      cmocka_unit_test(test_run_survives_deep_frame_when_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
