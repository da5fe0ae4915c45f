/* The hostile platform tests of the store: its file deleted while in use, a full disk
 * (RLIMIT_FSIZE), another application's database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sim/core/err.h"
#include "sim/wire/frame.h"
#include "support/hubclient.h"
#include "support/platproc.h"

#include "hostile.h"

/* ---------------------------------------------------------------- the store */

/* Waits up to ms for the next frame that is not an Ack-free keepalive: returns its body case,
 * or -1 when none came. Acks are returned too (the callers look for them). */
static int next_frame(struct hubclient *c, int ms, uint64_t *ack) {
  sim_envelope *env = NULL;
  if (hubclient_recv(c, ms, &env))
    return -1;
  int kind = (int)env->body_case;
  if (kind == HUBRPC__V1__ENVELOPE__BODY_ACK && ack)
    *ack = env->ack->up_to_seq;
  sim_hubrpc_free(env);
  return kind;
}

/* The database file is deleted while the platform runs: SQLite goes on writing into the
 * unlinked inode, which the next start will not find. The platform must notice before it
 * acknowledges (before: it acknowledged, and a restart lost it all), tell the hub to resend,
 * say so once in its log, and stop reading the hubs. */
void test_db_deleted_while_running(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", "--heartbeat", "1", NULL};
  plat_up(&p, "unlinked", extra);
  uint16_t aport = admin_port(&p);
  struct hubclient c;
  hub_up(&c, p.port, "hub-unlinked", 7);
  hub_reports_acked(&c, 5);
  assert_int_equal(unlink(p.db), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(hubclient_report(&c, 0, 0x00158d0000000001ull, 0x0402, 1), 0);
  uint64_t acked = 5;
  int kind;
  while ((kind = next_frame(&c, T_MS, &acked)) == HUBRPC__V1__ENVELOPE__BODY_ACK) {
  }
  printf("after the file was deleted: frame %d, acked %llu\n", kind, (unsigned long long)acked);
  assert_int_equal(acked, 5);
  assert_int_equal(kind, HUBRPC__V1__ENVELOPE__BODY_ERROR);
  assert_int_equal(stat_of(aport, "store"), 2);
  hubclient_close(&c);
  /* It comes back: told what is stored, then not read, kept alive by Heartbeats, never acked. */
  hub_up(&c, p.port, "hub-unlinked", 7);
  assert_int_equal(c.acked_seq, 5);
  assert_int_equal(hubclient_report(&c, 0, 0x00158d0000000001ull, 0x0402, 1), 0);
  uint64_t a2 = 0;
  kind = next_frame(&c, 3000, &a2);
  assert_int_equal(kind, HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT);
  assert_int_equal(a2, 0);
  assert_int_equal(stat_of(aport, "sessions_paused"), 1);
  assert_int_equal(count_in_file(p.log, "was deleted or replaced while in use"), 1);
  hubclient_close(&c);
  assert_int_equal(platproc_stop(&p), 0);
}

#define FULL_HUBS 10

/* The store cannot grow (RLIMIT_FSIZE on the platform: the kernel refuses to extend its WAL,
 * as a full disk would). The hubs with data in the failed group are told to resend once; when
 * they come back they are not read (no Error, no session cycling: before, each resend failed
 * again and the hubs reconnected in a loop, each failed write logged). A Heartbeat keeps them.
 * Then the limit is lifted: a test write succeeds, the platform reads again, and everything
 * the hubs held is stored and acknowledged. */
void test_store_full_backpressure(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", "--heartbeat", "1", NULL};
  plat_up_piped(&p, "full", extra);
  uint16_t aport = admin_port(&p);
  sqlite3 *snap = hold_snapshot(p.db);
  struct hubclient c[FULL_HUBS];
  char id[32];
  for (int i = 0; i < FULL_HUBS; i++) {
    snprintf(id, sizeof id, "hub-full-%d", i);
    hub_up(&c[i], p.port, id, 100 + (uint64_t)i);
    hub_reports_acked(&c[i], 3);
  }
  set_limit(p.pid, RLIMIT_FSIZE, 1);
  for (int i = 0; i < FULL_HUBS; i++)
    for (int k = 0; k < 3; k++)
      assert_int_equal(hubclient_report(&c[i], 0, 0x00158d0000000001ull, 0x0402, 1), 0);
  /* Each is told once to resend: nothing of the group was stored. */
  for (int i = 0; i < FULL_HUBS; i++) {
    uint64_t acked = 3;
    int kind;
    while ((kind = next_frame(&c[i], T_MS, &acked)) == HUBRPC__V1__ENVELOPE__BODY_ACK) {
    }
    assert_int_equal(kind, HUBRPC__V1__ENVELOPE__BODY_ERROR);
    assert_int_equal(acked, 3);
    hubclient_close(&c[i]);
  }
  /* They come back and resend: not read, no Error, a Heartbeat instead. */
  for (int i = 0; i < FULL_HUBS; i++) {
    snprintf(id, sizeof id, "hub-full-%d", i);
    hub_up(&c[i], p.port, id, 100 + (uint64_t)i);
    assert_int_equal(c[i].acked_seq, 3);
    for (int k = 0; k < 3; k++)
      assert_int_equal(hubclient_report(&c[i], 0, 0x00158d0000000001ull, 0x0402, 1), 0);
  }
  for (int i = 0; i < FULL_HUBS; i++) {
    int kind = next_frame(&c[i], 3000, NULL);
    if (kind != HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT)
      fail_msg("hub %d: frame %d instead of a Heartbeat while the store is full", i, kind);
  }
  assert_int_equal(stat_of(aport, "store"), 1);
  long long sessions = stat_of(aport, "sessions_accepted");
  int lines = count_in_file(p.log, "platform store:");
  printf("while full: %lld sessions accepted in all, %d store error lines logged\n", sessions,
         lines);
  assert_int_equal(sessions, 2 * FULL_HUBS + 0);
  assert_true(lines >= 1 && lines <= 2);
  assert_int_equal(count_in_file(p.log, "cannot write: nothing is acknowledged"), 1);
  /* Room again: read, stored, acknowledged. */
  set_limit(p.pid, RLIMIT_FSIZE, RLIM_INFINITY);
  release_snapshot(snap);
  for (int i = 0; i < FULL_HUBS; i++) {
    uint64_t got = 0;
    int rc = hubclient_wait_ack(&c[i], 6, T_MS, &got);
    if (rc)
      fail_msg("hub %d: no Ack for 6 after the store recovered: %s", i, sim_strerror(rc));
  }
  assert_int_equal(stat_of(aport, "store"), 0);
  for (int i = 0; i < FULL_HUBS; i++)
    hubclient_close(&c[i]);
  assert_int_equal(platproc_stop(&p), 0);
  assert_int_equal(platproc_query(p.db, "SELECT count(*) FROM reports"), FULL_HUBS * 6);
}

/* Runs sql on a new SQLite file at path. */
static void make_db(const char *path, const char *sql) {
  sqlite3 *h = NULL;
  unlink(path);
  assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
}

/* A --db file of another application, of a newer schema, or not SQLite at all, is explained in
 * one sentence naming the file (exit 2: the flag's value is unusable), and left unchanged
 * (before: exit 3 and SQLite's raw words, and the other application's file got our tables). */
void test_db_of_another_kind(void **state) {
  (void)state;
  char db[256], log[256];
  snprintf(db, sizeof db, "%s/foreign.db", hostile_dir);
  snprintf(log, sizeof log, "%s/foreign.log", hostile_dir);
  struct {
    const char *sql, *says;
  } cases[] = {
      {"CREATE TABLE users(id INTEGER, name TEXT);", "is not a hubsim platform database"},
      {"CREATE TABLE meta(key TEXT PRIMARY KEY, value); INSERT INTO meta VALUES "
       "('schema_version', 9);",
       "has schema version 9"},
      {"CREATE TABLE meta(key TEXT PRIMARY KEY, value); INSERT INTO meta VALUES "
       "('schema_version', 1); CREATE TABLE hubs(hub_id TEXT);",
       "table 'hubs' has no column 'boot_id'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    make_db(db, cases[i].sql);
    const char *argv[] = {
        getenv("HUBSIM_BIN"), "platform", "--listen", "hubrpc://127.0.0.1:0", "--db", db, NULL};
    int code = run_cmd(argv, log, 10000);
    printf("case %zu: exit %d\n", i, code);
    assert_int_equal(code, 2);
    if (count_in_file(log, cases[i].says) != 1)
      fail_msg("case %zu: no '%s' in %s", i, cases[i].says, log);
    assert_int_equal(count_in_file(log, db), 2); /* the sentence and the closing line */
    assert_int_equal(platproc_query(db, "SELECT count(*) FROM sqlite_master WHERE name = "
                                        "'reports'"),
                     0);
  }
  FILE *f = fopen(db, "w");
  fputs("not a database at all, just text\n", f);
  fclose(f);
  const char *argv[] = {
      getenv("HUBSIM_BIN"), "platform", "--listen", "hubrpc://127.0.0.1:0", "--db", db, NULL};
  assert_int_equal(run_cmd(argv, log, 10000), 2);
  assert_int_equal(count_in_file(log, "is not an SQLite database"), 1);
}
