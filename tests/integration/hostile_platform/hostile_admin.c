/* The hostile platform tests of the admin port (loopback, token, idle clients, a crowd, limits,
 * rule loops) and of the fleet key's sources (a file, the environment). */
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

/* ---------------------------------------------------------------- the admin port */

/* An admin port beyond loopback without a token is refused before anything is bound (exit 2,
 * a sentence naming --admin); so is a token file other users may read. The addresses are
 * TEST-NET ones that no interface here has, so the unfixed platform cannot bind them either
 * (it fails later, with exit 3). */
void test_admin_beyond_loopback_needs_token(void **state) {
  (void)state;
  char log[256];
  snprintf(log, sizeof log, "%s/admin-exit.log", hostile_dir);
  const char *a1[] = {"--admin", "192.0.2.1:7801", NULL};
  assert_int_equal(platform_exit(a1, log), 2);
  assert_int_equal(count_in_file(log, "not a loopback address"), 1);
  const char *open_token = secret_file("token-open", "s3cret-token\n", 0644);
  const char *a2[] = {"--admin", "127.0.0.1:0", "--admin-token-file", open_token, NULL};
  assert_int_equal(platform_exit(a2, log), 2);
  assert_int_equal(count_in_file(log, "readable or writable by other users"), 1);
}

/* With a token, the first line must be `auth TOKEN`: anything else, or a wrong token, gets an
 * error and the connection closes; the right one opens the usual requests. */
void test_admin_token(void **state) {
  (void)state;
  struct platproc p;
  const char *tok = secret_file("token", "s3cret-token\n", 0600);
  const char *extra[] = {"--admin", "127.0.0.1:0", "--admin-token-file", tok, NULL};
  plat_up(&p, "token", extra);
  uint16_t aport = admin_port(&p);
  struct adm *a = malloc(sizeof *a);
  char reply[4096];
  assert_int_equal(adm_open(a, aport), 0);
  assert_int_equal(adm_send(a, "stats\n"), 0);
  assert_int_equal(adm_line(a, reply, sizeof reply, T_MS), 0);
  assert_non_null(strstr(reply, "auth required"));
  assert_true(wait_eof(a->fd, T_MS));
  adm_close(a);
  assert_int_equal(adm_open(a, aport), 0);
  assert_int_equal(adm_send(a, "auth s3cret-tokeN\nstats\n"), 0);
  assert_int_equal(adm_line(a, reply, sizeof reply, T_MS), 0);
  assert_string_equal(reply, "{\"error\":\"auth failed\"}");
  assert_true(wait_eof(a->fd, T_MS));
  adm_close(a);
  assert_int_equal(adm_open(a, aport), 0);
  assert_int_equal(adm_send(a, "auth s3cret-token\nstats\n"), 0);
  assert_int_equal(adm_line(a, reply, sizeof reply, T_MS), 0);
  assert_string_equal(reply, "{\"auth\":\"ok\"}");
  assert_int_equal(adm_line(a, reply, sizeof reply, T_MS), 0);
  assert_non_null(strstr(reply, "\"admin_auth_failed\":2"));
  adm_close(a);
  free(a);
  assert_int_equal(platproc_stop(&p), 0);
}

/* Admin clients that say nothing are closed after --admin-idle; more than 32 at once are
 * refused (before: idle clients stayed for ever, without a limit). */
void test_admin_idle_and_crowd(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", "--admin-idle", "1", NULL};
  plat_up(&p, "admidle", extra);
  uint16_t aport = admin_port(&p);
  int idle = tcp_connect(aport);
  assert_true(idle >= 0);
  double t0 = now_s();
  assert_true(wait_eof(idle, 5000));
  printf("idle admin client closed after %.2f s\n", now_s() - t0);
  close(idle);
  int crowd[40], refused = 0;
  for (int i = 0; i < 40; i++)
    crowd[i] = tcp_connect(aport);
  for (int i = 0; i < 40; i++) {
    struct pollfd pfd = {crowd[i], POLLIN, 0};
    if (poll(&pfd, 1, i >= 32 ? 2000 : 0) == 1) {
      char buf[256];
      ssize_t n = recv(crowd[i], buf, sizeof buf - 1, 0);
      if (n > 0) {
        buf[n] = 0;
        refused += strstr(buf, "too many admin clients") != NULL;
      }
    }
  }
  for (int i = 0; i < 40; i++)
    close(crowd[i]);
  assert_int_equal(refused, 8);
  /* Asked again until the platform has seen the 40 go (until then a 33rd client is refused). */
  assert_true(wait_stat(aport, "admin_idle_closed", 1, T_MS));
  assert_int_equal(platproc_stop(&p), 0);
}

/* --max-rules / --max-timers: the one beyond is refused with the limit named. */
void test_rule_and_timer_limits(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", "--max-rules", "3", "--max-timers", "2", NULL};
  plat_up(&p, "limits", extra);
  uint16_t aport = admin_port(&p);
  char line[256];
  for (int i = 0; i < 4; i++) {
    snprintf(line, sizeof line,
             "rule add 00158d00000000%02x 0406 0000 =1 hub-x 54ef449500000001 1 0006 02", i);
    const char *r = adm_ask(aport, line);
    if (i < 3)
      assert_non_null(strstr(r, "\"rule_id\""));
    else
      assert_string_equal(r, "{\"error\":\"too many rules: at most 3 (--max-rules)\"}");
  }
  for (int i = 0; i < 3; i++) {
    const char *r = adm_ask(aport, "timer add 07:00 hub-x 54ef449500000001 1 0006 01");
    if (i < 2)
      assert_non_null(strstr(r, "\"timer_id\""));
    else
      assert_string_equal(r, "{\"error\":\"too many timers: at most 2 (--max-timers)\"}");
  }
  assert_int_equal(platproc_stop(&p), 0);
}

#define PLUG_A "54ef449500000001"
#define PLUG_B "54ef449500000002"

/* Rules that trigger themselves: refused at `rule add` when no condition can stop the loop
 * (one rule, or a chain of two); kept with a warning when conditions may; and cut at run time
 * by the per-rule rate limit. The hub here answers every command at once with the report a
 * plug would send, so the loop runs as fast as the platform lets it. */
void test_rule_loops(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", NULL};
  plat_up(&p, "loops", extra);
  uint16_t aport = admin_port(&p);
  const char *r = adm_ask(aport, "rule add " PLUG_A " 0006 0000 * hub-loop " PLUG_A " 1 0006 02");
  printf("self-loop: %s\n", r);
  assert_non_null(strstr(r, "\"error\":\"rule loop"));
  r = adm_ask(aport, "rule add " PLUG_A " 0006 0000 * hub-loop " PLUG_B " 1 0006 02");
  assert_non_null(strstr(r, "\"rule_id\":"));
  r = adm_ask(aport, "rule add " PLUG_B " 0006 0000 * hub-loop " PLUG_A " 1 0006 02");
  printf("two-rule loop: %s\n", r);
  assert_non_null(strstr(r, "\"error\":\"rule loop"));
  assert_non_null(strstr(r, "through rules 1"));
  r = adm_ask(aport, "rule add " PLUG_B " 0006 0000 =1 hub-loop " PLUG_B " 1 0006 01");
  printf("conditional loop: %s\n", r);
  assert_non_null(strstr(r, "\"rule_id\":"));
  assert_non_null(strstr(r, "\"warning\":\"may loop"));

  struct hubclient c;
  hub_up(&c, p.port, "hub-loop", 1);
  double t0 = now_s();
  int limited = 0;
  for (int i = 0; i < 4000 && !limited && now_s() - t0 < 10; i++) {
    /* The plug reports "on" (and again after every command). */
    assert_int_equal(hubclient_report(&c, 0, 0x54ef449500000002ull, 0x0006, 1), 0);
    hubclient_expect(&c, HUBRPC__V1__ENVELOPE__BODY_COMMAND, 100, NULL, NULL);
    if (i % 20 == 19)
      limited = stat_of(aport, "rules_limited") > 0;
  }
  assert_true(limited);
  double elapsed = now_s() - t0;
  long long fired = stat_of(aport, "rules_fired");
  printf("loop: %lld firings in %.2f s, %lld matches dropped\n", fired, elapsed,
         stat_of(aport, "rules_limited"));
  /* The bucket: 10 at once, then 5 a second. */
  assert_true(fired <= 10 + (long long)(5 * (now_s() - t0)) + 1);
  assert_non_null(strstr(adm_ask(aport, "rules"), "\"limited\":"));
  hubclient_close(&c);
  assert_int_equal(platproc_stop(&p), 0);
}

/* ---------------------------------------------------------------- secrets */

/* 1 when the handshake with key succeeds. */
static int handshake_with(uint16_t port, const char *key) {
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, port, NULL), 0);
  int rc = hubclient_handshake(&c, "hub-secret", key, strlen(key), 1, T_MS);
  hubclient_close(&c);
  return rc == 0;
}

/* The fleet key from a file (not world-readable) or from HUBSIM_FLEET_KEY: it works and does
 * not show in the process's command line, which every user can read. */
void test_fleet_key_file_and_env(void **state) {
  (void)state;
  struct platproc p;
  const char *kf = secret_file("fleet.key", "key-from-file\n", 0600);
  const char *extra[] = {"--fleet-key-file", kf, NULL};
  plat_up(&p, "keyfile", extra);
  assert_true(handshake_with(p.port, "key-from-file"));
  assert_false(handshake_with(p.port, KEY));
  char path[64], cmdline[4096] = {0};
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)p.pid);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(cmdline, 1, sizeof cmdline - 1, f);
  fclose(f);
  assert_null(memmem(cmdline, n, "key-from-file", 13));
  assert_int_equal(platproc_stop(&p), 0);

  setenv("HUBSIM_FLEET_KEY", "key-from-env", 1);
  plat_up(&p, "keyenv", NULL);
  unsetenv("HUBSIM_FLEET_KEY");
  assert_true(handshake_with(p.port, "key-from-env"));
  assert_false(handshake_with(p.port, KEY));
  assert_int_equal(platproc_stop(&p), 0);

  char log[256];
  snprintf(log, sizeof log, "%s/keyfile-exit.log", hostile_dir);
  const char *open_key = secret_file("open.key", "key-from-file\n", 0644);
  const char *a[] = {"--fleet-key-file", open_key, NULL};
  assert_int_equal(platform_exit(a, log), 2);
  assert_int_equal(count_in_file(log, "--fleet-key-file"), 1);
}
