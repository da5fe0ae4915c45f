/* `hubsim platform` (plat_main) as a process: flags, --ready-file, a hub session against it,
 * SIGTERM -> orderly stop with exit 0 and the data in the database. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "platform/platform.h"
#include "sim/core/err.h"
#include "support/hubclient.h"

static int run_main(int argc, const char **argv) {
  pid_t pid = fork();
  if (pid == 0) {
    /* Quiet child: usage errors go to stderr, which ctest keeps. */
    _exit(plat_main(argc, (char **)argv));
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_bad_flags(void **state) {
  const char *a1[] = {"platform", "--window", "0", NULL};
  assert_int_equal(run_main(3, a1), 2);
  const char *a2[] = {"platform", "--no-such-flag", NULL};
  assert_int_equal(run_main(2, a2), 2);
  const char *a3[] = {"platform", "--heartbeat", "abc", NULL};
  assert_int_equal(run_main(3, a3), 2);
  const char *a4[] = {"platform", "--listen", "hubrpc://nowhere", NULL};
  assert_int_equal(run_main(3, a4), 2);
  const char *a5[] = {"platform", "--commit-ms", NULL};
  assert_int_equal(run_main(2, a5), 2);
  const char *a6[] = {"platform", "--help", NULL};
  assert_int_equal(run_main(2, a6), 0);
}

static void test_run_and_sigterm(void **state) {
  char dir[] = "/tmp/hubsim-platcli-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char db[128], ready[128];
  snprintf(db, sizeof(db), "%s/p.db", dir);
  snprintf(ready, sizeof(ready), "%s/port", dir);
  pid_t pid = fork();
  if (pid == 0) {
    const char *argv[] = {
        "platform",    "--listen", "hubrpc://127.0.0.1:0", "--db", db,  "--ready-file", ready,
        "--fleet-key", "k1",       "--commit-ms",          "2",    NULL};
    _exit(plat_main(11, (char **)argv));
  }
  assert_true(pid > 0);
  /* Wait for the ready file (bounded): it appears complete, by rename. */
  unsigned port = 0;
  for (int i = 0; i < 1000 && !port; i++) {
    FILE *f = fopen(ready, "r");
    if (f) {
      if (fscanf(f, "%u", &port) != 1)
        port = 0;
      fclose(f);
    }
    if (!port)
      usleep(10000);
  }
  assert_true(port > 0 && port < 65536);
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, (uint16_t)port, NULL), 0);
  assert_int_equal(hubclient_handshake(&c, "cli-hub", "k1", 2, 77, 5000), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(hubclient_report(&c, 0, 0x99, 0x0402, i), 0);
  assert_int_equal(hubclient_wait_ack(&c, 3, 5000, NULL), 0);
  kill(pid, SIGTERM);
  /* The platform says it is going away, then closes. */
  assert_int_equal(hubclient_expect_error(&c, 5000), HUBRPC__V1__ERROR_CODE__ERROR_SHUTTING_DOWN);
  hubclient_close(&c);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd)) {
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_flags),
      cmocka_unit_test(test_run_and_sigterm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
