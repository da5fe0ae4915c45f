/* `hubsim platform` (plat_main) as a process: flags, --ready-file, a hub session against it,
 * SIGTERM -> orderly stop with exit 0 and the data in the database; a database of schema
 * version 1 is upgraded in place and keeps its hubs. */
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

#include <sqlite3.h>

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
  /* The limits: each flag's out-of-range value is refused by name. */
  const char *bad[][2] = {{"--max-unauth", "0"},       {"--fd-reserve", "7"},
                          {"--send-queue-max", "100"}, {"--admin-idle", "0"},
                          {"--max-rules", "0"},        {"--max-timers", "x"},
                          {"--rule-rate", "0"},        {"--fleet-key-file", "/nonexistent/k"},
                          {"--admin-token-file", ""}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *a[] = {"platform", bad[i][0], bad[i][1], NULL};
    if (run_main(3, a) != 2)
      fail_msg("%s %s was not refused with exit 2", bad[i][0], bad[i][1]);
  }
  const char *a7[] = {"platform", "--fleet-key", "a", "--fleet-key-file", "/dev/null", NULL};
  assert_int_equal(run_main(5, a7), 2);
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

/* Starts plat_main in a child on db; returns its pid and the port. */
static pid_t start_child(const char *db, const char *ready, unsigned *port) {
  unlink(ready);
  pid_t pid = fork();
  if (pid == 0) {
    const char *argv[] = {"platform", "--listen", "hubrpc://127.0.0.1:0",
                          "--db",     (char *)db, "--ready-file",
                          ready,      NULL};
    _exit(plat_main(7, (char **)argv));
  }
  *port = 0;
  for (int i = 0; i < 1000 && !*port; i++) {
    FILE *f = fopen(ready, "r");
    if (f) {
      if (fscanf(f, "%u", port) != 1)
        *port = 0;
      fclose(f);
    }
    if (!*port)
      usleep(10000);
  }
  return pid;
}

/* A file written by the platform before schema version 2 (no hub_boots table): opened, it is
 * upgraded (version 2, the table added) and its hubs keep their stored seq. */
static void test_schema_1_upgraded(void **state) {
  char dir[] = "/tmp/hubsim-platcli-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char db[128], ready[128];
  snprintf(db, sizeof(db), "%s/v1.db", dir);
  snprintf(ready, sizeof(ready), "%s/port", dir);
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  /* Version 1's schema, as the platform wrote it. */
  assert_int_equal(
      sqlite3_exec(
          h,
          "CREATE TABLE hubs(hub_id TEXT PRIMARY KEY, boot_id INTEGER NOT NULL, stored_seq "
          "INTEGER NOT NULL, last_seen_ms INTEGER, model TEXT, firmware TEXT);"
          "CREATE TABLE devices(eui64 INTEGER PRIMARY KEY, hub_id TEXT, model TEXT, manufacturer "
          "TEXT, joined INTEGER, left INTEGER, last_seen_ms INTEGER);"
          "CREATE TABLE device_state(eui64 INTEGER NOT NULL, endpoint INTEGER NOT NULL, cluster "
          "INTEGER NOT NULL, attr INTEGER NOT NULL, member INTEGER NOT NULL, zcl_type INTEGER, "
          "value, ts_ms INTEGER, PRIMARY KEY(eui64, endpoint, cluster, attr, member)) WITHOUT "
          "ROWID;"
          "CREATE TABLE reports(hub_id TEXT NOT NULL, boot_id INTEGER NOT NULL, seq INTEGER NOT "
          "NULL, eui64 INTEGER, endpoint INTEGER, cluster INTEGER, zcl_frame BLOB, ts_ms "
          "INTEGER, received_ms INTEGER, PRIMARY KEY(hub_id, boot_id, seq)) WITHOUT ROWID;"
          "CREATE TABLE commands(cmd_id INTEGER PRIMARY KEY, eui64 INTEGER, hub_id TEXT, cluster "
          "INTEGER, command INTEGER, issued_ms INTEGER, result_status INTEGER, zcl_status "
          "INTEGER, device_latency_ms INTEGER, done_ms INTEGER);"
          "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
          "INSERT INTO meta(key, value) VALUES('schema_version', 1);"
          "INSERT INTO hubs VALUES('old-hub', 5, 9, 0, 'm', 'f');",
          NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(h);
  unsigned port;
  pid_t pid = start_child(db, ready, &port);
  assert_true(port > 0 && port < 65536);
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, (uint16_t)port, NULL), 0);
  assert_int_equal(hubclient_handshake(&c, "old-hub", "hubsim-demo-fleet-key", 21, 5, 5000), 0);
  assert_int_equal(c.acked_seq, 9);
  hubclient_close(&c);
  kill(pid, SIGTERM);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_int_equal(WEXITSTATUS(st), 0);
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(h,
                                      "SELECT (SELECT value FROM meta WHERE key = "
                                      "'schema_version'), (SELECT count(*) FROM sqlite_master "
                                      "WHERE name = 'hub_boots')",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), 2);
  assert_int_equal(sqlite3_column_int(q, 1), 1);
  sqlite3_finalize(q);
  sqlite3_close(h);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd)) {
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_flags),
      cmocka_unit_test(test_run_and_sigterm),
      cmocka_unit_test(test_schema_1_upgraded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
