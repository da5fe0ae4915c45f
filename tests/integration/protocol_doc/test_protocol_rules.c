/* Rules of docs/protocol.md that were once broken between the document and the code, checked
 * against the reference platform as its own process (`hubsim platform`).
 *
 * Acks after a reconnect (4.9, 7.3): an Ack covers only what the hub sent in this session. Data
 * the previous session delivered and the platform stored only after the new Welcome must not be
 * acknowledged to the new session before the hub has sent it again: the hub answers an Ack above
 * what it sent in the session with Error{INVALID_FIELD}. */
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
#include <uv.h>

#include "sim/core/err.h"
#include "sim/wire/hubrpc.h"
#include "support/hubclient.h"
#include "support/platproc.h"

static const char key[] = "hubsim-demo-fleet-key";

static struct platproc P;
static char db[256];

/* The platform runs per test; the teardown stops it even when the test failed, so that no
 * child outlives the test. */
static int plat_up(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  snprintf(db, sizeof(db), "%s/hubsim-test-rules-%d.db", tmp && *tmp ? tmp : "/tmp", (int)getpid());
  unlink(db);
  /* Groups commit 1.5 s after their first write: the reconnect below happens meanwhile. */
  const char *extra[] = {"--commit-ms", "1500", NULL};
  return platproc_start(&P, db, 0, extra) != 0;
}

static int plat_down(void **state) {
  (void)state;
  int st = platproc_stop(&P);
  char side[300];
  unlink(db);
  const char *sfx[] = {"-wal", "-shm", ".log", ".ready"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(side, sizeof(side), "%s%s", db, sfx[i]);
    unlink(side);
  }
  return st != 0;
}

static void test_ack_capped_after_reconnect(void **state) {
  (void)state;
  struct platproc p = P;
  /* Session 1 delivers seq 1..5 and drops before the group commits. */
  struct hubclient a, b;
  assert_int_equal(hubclient_connect(&a, p.port, NULL), 0);
  assert_int_equal(hubclient_handshake(&a, "rules-000001", key, sizeof(key) - 1, 77, 5000), 0);
  for (uint64_t s = 1; s <= 5; s++)
    assert_int_equal(hubclient_report(&a, s, 0x00158d0000000001ull, 0x0402, 2000 + s), 0);
  /* Session 2 opens while 1..5 are received but not stored: its Welcome says 0. */
  assert_int_equal(hubclient_connect(&b, p.port, NULL), 0);
  assert_int_equal(hubclient_handshake(&b, "rules-000001", key, sizeof(key) - 1, 77, 5000), 0);
  hubclient_close(&a);
  assert_int_equal(b.acked_seq, 0);

  /* The group commits (the rows are in the file) ... */
  uint64_t deadline = uv_hrtime() + 10000000000ull;
  while (platproc_query(db, "SELECT count(*) FROM reports") != 5 && uv_hrtime() < deadline)
    usleep(10000);
  assert_int_equal(platproc_query(db, "SELECT count(*) FROM reports"), 5);
  /* ... and session 2, which has sent nothing, gets no Ack for them (an Ack written with the
   * commit would be here already). */
  sim_envelope *env = NULL;
  int rc;
  while ((rc = hubclient_recv(&b, 300, &env)) == 0) {
    if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_ACK && env->ack->up_to_seq > 0)
      fail_msg("Ack{up_to_seq = %llu} to a session that has sent nothing",
               (unsigned long long)env->ack->up_to_seq);
    sim_hubrpc_free(env);
  }
  assert_int_equal(rc, SIM_ETIMEOUT);

  /* Once the hub resends them (duplicates now), they are acknowledged. */
  for (uint64_t s = 1; s <= 5; s++)
    assert_int_equal(hubclient_report(&b, s, 0x00158d0000000001ull, 0x0402, 2000 + s), 0);
  uint64_t got = 0;
  assert_int_equal(hubclient_wait_ack(&b, 5, 10000, &got), 0);
  assert_int_equal(got, 5);
  hubclient_close(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ack_capped_after_reconnect, plat_up, plat_down),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
