/* The reference platform under abuse: `hubsim platform` as a child process (tests/support/
 * platproc), raw hubrpc clients (tests/support/hubclient) and plain sockets that misbehave on
 * purpose, and a real fleet (`hubsim run --platform`) that must lose nothing beside them.
 *
 * Limits of the process are changed from outside with prlimit(2) on the child (same user, no
 * privilege): RLIMIT_NOFILE to run it out of descriptors, RLIMIT_FSIZE to make its store's
 * writes fail as on a full disk (the kernel refuses to grow the WAL with EFBIG), then lifted
 * again. Nothing here touches the machine beyond loopback sockets and a temporary folder.
 *
 * Every wait is bounded and waits for an event (a frame, a close, a counter of the platform's
 * `stats`); the few fixed windows observe that something does NOT happen (no Ack, no Error)
 * and say so. */
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

/* ---------------------------------------------------------------- connections */

#define IDLE_SOCKETS 400

/* A platform with 256 descriptors and 400 idle sockets that never say Hello: the descriptor
 * reserve makes each new connection push out the oldest idle one, so a real hub still gets in
 * and the admin port still answers. (Before: the platform ran out of descriptors; libuv then
 * accepts and closes every new connection, the hub's included.) */
void test_idle_sockets_leave_room_for_hubs(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", NULL};
  plat_up(&p, "idle", extra);
  uint16_t aport = admin_port(&p);
  set_limit(p.pid, RLIMIT_NOFILE, 256);
  static int fds[IDLE_SOCKETS];
  for (int i = 0; i < IDLE_SOCKETS; i++)
    fds[i] = tcp_connect(p.port);
  struct hubclient c;
  hub_up(&c, p.port, "hub-real", 1);
  hub_reports_acked(&c, 3);
  hubclient_close(&c);
  /* The oldest idle sockets were closed for newer ones. */
  assert_true(wait_eof(fds[0], T_MS));
  long long evicted = stat_of(aport, "handshakes_evicted");
  printf("handshakes evicted %lld, connections refused %lld\n", evicted,
         stat_of(aport, "conns_refused"));
  assert_true(evicted >= IDLE_SOCKETS - 256);
  for (int i = 0; i < IDLE_SOCKETS; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  assert_int_equal(platproc_stop(&p), 0);
}

/* --max-unauth: with 20 handshakes allowed, 60 idle sockets leave 20 open, the 40 oldest are
 * closed, and a hub still completes its handshake. */
void test_handshake_cap_closes_oldest(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", "--max-unauth", "20", NULL};
  plat_up(&p, "unauth", extra);
  uint16_t aport = admin_port(&p);
  int fds[60];
  for (int i = 0; i < 60; i++)
    fds[i] = tcp_connect(p.port);
  assert_true(wait_stat(aport, "handshakes_evicted", 40, T_MS));
  for (int i = 0; i < 40; i++)
    assert_true(wait_eof(fds[i], T_MS));
  struct hubclient c;
  hub_up(&c, p.port, "hub-real", 1);
  hub_reports_acked(&c, 1);
  hubclient_close(&c);
  for (int i = 0; i < 60; i++)
    close(fds[i]);
  assert_int_equal(platproc_stop(&p), 0);
}

/* A hub that authenticates and then never reads, while 1 KiB commands are sent to it: the
 * platform cuts it off once a small queue is full (before: it queued up to 1 GiB). The loop
 * stops at 20,000 commands (about 21 MB). */
void test_hub_that_never_reads_is_cut_off(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", NULL};
  plat_up(&p, "noread", extra);
  uint16_t aport = admin_port(&p);
  struct hubclient c;
  hub_up(&c, p.port, "hub-deaf", 1);
  int small = 4096;
  setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  static char line[2300], hex[2049];
  for (int i = 0; i < 2048; i++)
    hex[i] = "0123456789abcdef"[i % 16];
  snprintf(line, sizeof line, "command hub-deaf 00158d0000000009 1 0006 02 %s\n", hex);
  struct adm *a = malloc(sizeof *a);
  assert_int_equal(adm_open(a, aport), 0);
  int sent_ok = 0, stopped = 0;
  char reply[512];
  for (int batch = 0; batch < 400 && !stopped; batch++) {
    for (int k = 0; k < 50; k++)
      assert_int_equal(adm_send(a, line), 0);
    for (int k = 0; k < 50; k++) {
      assert_int_equal(adm_line(a, reply, sizeof reply, T_MS), 0);
      if (strstr(reply, "cmd_id"))
        sent_ok++;
      else
        stopped = 1;
    }
  }
  adm_close(a);
  free(a);
  printf("commands queued for the hub that does not read: %d, then: %s\n", sent_ok, reply);
  assert_true(stopped);
  assert_non_null(strstr(reply, "not online"));
  assert_true(stat_of(aport, "sendq_overflows") >= 1);
  hubclient_close(&c);
  assert_int_equal(platproc_stop(&p), 0);
}

/* One byte every 200 ms of a frame that never completes: the idle timer counts complete
 * frames, so the session ends 3 heartbeats (3 s here) after its last one (before: every byte
 * reset it, and the session lived as long as the drip). */
void test_one_byte_drip_times_out(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--heartbeat", "1", NULL};
  plat_up(&p, "drip", extra);
  struct hubclient c;
  hub_up(&c, p.port, "hub-drip", 1);
  double t0 = now_s();
  uint8_t frame[3] = {0xE8, 0x07, 0x0A}; /* declares 1000 bytes; then 1 byte at a time */
  assert_int_equal(hubclient_send_raw(&c, frame, 2), 0);
  int code = -1;
  while (now_s() - t0 < 8 && code < 0) {
    if (hubclient_send_raw(&c, frame + 2, 1))
      break;
    sim_envelope *env = NULL;
    int rc = hubclient_recv(&c, 200, &env);
    if (rc == 0 && env->body_case == HUBRPC__V1__ENVELOPE__BODY_ERROR)
      code = env->error->code;
    if (rc == 0)
      sim_hubrpc_free(env);
    if (rc == SIM_ECLOSED)
      break;
  }
  double took = now_s() - t0;
  printf("dripping session ended after %.2f s with error %d\n", took, code);
  assert_int_equal(code, HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT);
  assert_true(took >= 2.5); /* the idle timer (3 s from the Auth, the last frame), not sooner */
  hubclient_close(&c);
  assert_int_equal(platproc_stop(&p), 0);
}

/* ---------------------------------------------------------------- an impostor */

/* Another device with the fleet key announces itself as hub-victim with its own boot_id: the
 * real hub's session is replaced (DUPLICATE_SESSION, as the protocol says), but its sequence
 * state is kept, so when it comes back with its boot_id its Welcome carries what was stored
 * (before: 0, and the hub counted its acknowledged reports as lost by the platform and
 * renumbered). Also after a restart of the platform, for both boots. */
void test_impostor_keeps_hub_sequence(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", NULL};
  plat_up(&p, "impostor", extra);
  struct hubclient real, fake;
  hub_up(&real, p.port, "hub-victim", 0xB001);
  hub_reports_acked(&real, 5);
  hub_up(&fake, p.port, "hub-victim", 0xBAD);
  assert_int_equal(fake.acked_seq, 0);
  assert_int_equal(hubclient_expect_error(&real, T_MS),
                   HUBRPC__V1__ERROR_CODE__ERROR_DUPLICATE_SESSION);
  hubclient_close(&real);
  hub_reports_acked(&fake, 2);
  /* The real hub comes back (replacing the impostor in turn). */
  hub_up(&real, p.port, "hub-victim", 0xB001);
  printf("real hub back: acked_seq %llu\n", (unsigned long long)real.acked_seq);
  assert_int_equal(real.acked_seq, 5);
  hub_reports_acked(&real, 1);
  assert_true(stat_of(admin_port(&p), "boot_returns") >= 1);
  hubclient_close(&real);
  hubclient_close(&fake);
  assert_int_equal(platproc_stop(&p), 0);
  /* Both boots survive a restart. */
  char db[256];
  snprintf(db, sizeof db, "%s", p.db);
  assert_int_equal(platproc_start(&p, db, 0, extra), 0);
  child_started(p.pid);
  hub_up(&fake, p.port, "hub-victim", 0xBAD);
  assert_int_equal(fake.acked_seq, 2);
  hubclient_close(&fake);
  hub_up(&real, p.port, "hub-victim", 0xB001);
  assert_int_equal(real.acked_seq, 6);
  hubclient_close(&real);
  assert_int_equal(platproc_stop(&p), 0);
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM reports WHERE hub_id = 'hub-victim' AND boot_id = %d", 0xB001);
  assert_int_equal(platproc_query(db, sql), 6);
}

/* ---------------------------------------------------------------- main */

static int group_setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  snprintf(hostile_dir, sizeof hostile_dir, "%s/hubsim-hostile-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(hostile_dir))
    return -1;
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (getenv("HUBSIM_KEEP_TMP"))
    return 0;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", hostile_dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_idle_sockets_leave_room_for_hubs, kill_children),
      cmocka_unit_test_teardown(test_handshake_cap_closes_oldest, kill_children),
      cmocka_unit_test_teardown(test_hub_that_never_reads_is_cut_off, kill_children),
      cmocka_unit_test_teardown(test_one_byte_drip_times_out, kill_children),
      cmocka_unit_test_teardown(test_impostor_keeps_hub_sequence, kill_children),
      cmocka_unit_test_teardown(test_admin_beyond_loopback_needs_token, kill_children),
      cmocka_unit_test_teardown(test_admin_token, kill_children),
      cmocka_unit_test_teardown(test_admin_idle_and_crowd, kill_children),
      cmocka_unit_test_teardown(test_rule_and_timer_limits, kill_children),
      cmocka_unit_test_teardown(test_rule_loops, kill_children),
      cmocka_unit_test_teardown(test_db_deleted_while_running, kill_children),
      cmocka_unit_test_teardown(test_store_full_backpressure, kill_children),
      cmocka_unit_test_teardown(test_db_of_another_kind, kill_children),
      cmocka_unit_test_teardown(test_fleet_key_file_and_env, kill_children),
      cmocka_unit_test_teardown(test_slow_fleet_beside_hostile_clients, kill_children),
      cmocka_unit_test_teardown(test_slow_fleet_through_full_store, kill_children),
      cmocka_unit_test_teardown(test_slow_scenario_through_admin_token, kill_children),
  };
  /* test_hostile_platform [PATTERN | --skip PATTERN]: the cases whose names match (or do not),
   * with * and ? (cmocka's filters). ctest runs the quick ones and, as a slow test, the
   * test_slow_* ones (real fleets, seconds each). */
  if (argc > 2 && strcmp(argv[1], "--skip") == 0)
    cmocka_set_skip_filter(argv[2]);
  else if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
