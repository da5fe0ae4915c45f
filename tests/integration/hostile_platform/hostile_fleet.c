/* The slow hostile platform tests: real fleets (`hubsim run --platform`) and a scenario that
 * must lose nothing beside hostile clients, through a full store, and through an admin token. */
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

/* ---------------------------------------------------------------- a real fleet beside it */

/* Starts `hubsim run` against the platform at port: hubs x 5 devices for duration seconds,
 * its summary to summary. Device behaviour runs 600 times faster (--speedup), so that reports
 * keep coming during the run and not only in the start-up burst. A late generator (a loaded
 * machine, a sanitizer build) does not fail the run: only the accounting is looked at. Returns
 * the child's pid. */
static pid_t fleet_start(uint16_t port, int hubs, int duration, const char *summary,
                         const char *log) {
  char url[64], nh[16], dur[16];
  snprintf(url, sizeof url, "hubrpc://127.0.0.1:%u", port);
  snprintf(nh, sizeof nh, "%d", hubs);
  snprintf(dur, sizeof dur, "%ds", duration);
  const char *argv[] = {getenv("HUBSIM_BIN"),
                        "run",
                        "--platform",
                        url,
                        "--hubs",
                        nh,
                        "--devices-per-hub",
                        "5",
                        "--duration",
                        dur,
                        "--drain",
                        "30s",
                        "--speedup",
                        "600",
                        "--allow-lag",
                        "--summary",
                        summary,
                        "-q",
                        "--ui",
                        "none",
                        NULL};
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  assert_true(pid > 0);
  child_started(pid);
  return pid;
}

/* The fleet's exit status, waiting up to ms (-1: killed after that). */
static int fleet_wait(pid_t pid, int ms) {
  double deadline = now_s() + ms / 1000.0;
  int st;
  while (now_s() < deadline) {
    if (waitpid(pid, &st, WNOHANG) == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    usleep(20000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return -1;
}

/* The summary's accounting: lost 0, every generated report acknowledged, none dropped. */
static void fleet_lost_nothing(const char *summary, const char *log) {
  json_error_t e;
  json_t *j = json_load_file(summary, 0, &e);
  if (!j)
    fail_msg("no summary %s (%s); the run's output is in %s", summary, e.text, log);
  json_t *counts = json_object_get(j, "counts");
  json_t *rep = json_object_get(counts, "reports");
  long long lost = json_integer_value(json_object_get(counts, "lost"));
  long long gen = json_integer_value(json_object_get(rep, "generated"));
  long long acked = json_integer_value(json_object_get(rep, "acked"));
  long long dropped = json_integer_value(json_object_get(rep, "dropped"));
  printf("fleet: reports generated %lld acked %lld dropped %lld, lost %lld\n", gen, acked, dropped,
         lost);
  assert_true(gen > 0);
  assert_int_equal(lost, 0);
  assert_int_equal(dropped, 0);
  assert_int_equal(acked, gen);
  json_decref(j);
}

#define FLOOD 300

/* A 20-hub fleet runs for 6 s while the test hammers the same platform (256 + a few
 * descriptors): idle sockets by the hundred, garbage, wrong MACs, a drip, an authenticated
 * client that floods Heartbeats and never reads, an impostor of one of the fleet's hubs,
 * and idle admin clients. The fleet's summary must show nothing lost and every report
 * acknowledged. */
void test_slow_fleet_beside_hostile_clients(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", NULL};
  plat_up(&p, "fleet-hostile", extra);
  uint16_t aport = admin_port(&p);
  set_limit(p.pid, RLIMIT_NOFILE, 384);
  char summary[256], log[256];
  snprintf(summary, sizeof summary, "%s/fleet-hostile.json", hostile_dir);
  snprintf(log, sizeof log, "%s/fleet-hostile.log", hostile_dir);
  pid_t fleet = fleet_start(p.port, 20, 6, summary, log);

  static int idle[FLOOD];
  int nidle = 0, next_idle = 0, admins[40], nadm = 0;
  for (int i = 0; i < FLOOD; i++)
    idle[i] = -1;
  struct hubclient drip, deaf;
  hub_up(&drip, p.port, "intruder-drip", 1);
  hub_up(&deaf, p.port, "intruder-deaf", 1);
  int small = 4096;
  setsockopt(deaf.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  uint8_t hb[64];
  size_t hblen;
  {
    struct sim_buf b;
    sim_buf_init(&b);
    Hubrpc__V1__Heartbeat h = HUBRPC__V1__HEARTBEAT__INIT;
    h.time_ms = 1;
    sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &h;
    assert_int_equal(sim_hubrpc_encode(&b, &env), 0);
    hblen = b.len;
    memcpy(hb, b.data, b.len);
    sim_buf_fini(&b);
  }
  uint8_t drip_frame[2] = {0xE8, 0x07};
  hubclient_send_raw(&drip, drip_frame, 2);
  int status = -1, iter = 0, impostors = 0;
  double t0 = now_s();
  while (now_s() - t0 < 90) {
    pid_t r = waitpid(fleet, &status, WNOHANG);
    if (r == fleet)
      break;
    iter++;
    /* Idle sockets: 20 more each turn, the oldest closed beyond FLOOD. */
    for (int k = 0; k < 20; k++) {
      if (idle[next_idle] >= 0)
        close(idle[next_idle]);
      else
        nidle++;
      idle[next_idle] = tcp_connect(p.port);
      next_idle = (next_idle + 1) % FLOOD;
    }
    /* Garbage. */
    int g = tcp_connect(p.port);
    if (g >= 0) {
      static const char junk[] = "\xff\xff\xff\xff\xff\xff GET / HTTP/1.1\r\n\r\n";
      send(g, junk, sizeof junk - 1, MSG_NOSIGNAL);
      close(g);
    }
    /* A wrong MAC. */
    if (iter % 5 == 0) {
      struct hubclient w;
      if (hubclient_connect(&w, p.port, NULL) == 0) {
        if (hubclient_hello(&w, "hub-000001", 0xBAD, 1000) == 0)
          hubclient_auth(&w, "wrong key", 9, NULL);
        hubclient_close(&w);
      }
    }
    /* The drip and the deaf one. */
    static const uint8_t one = 0x0A;
    hubclient_send_raw(&drip, &one, 1);
    for (int k = 0; k < 400; k++)
      if (send(deaf.fd, hb, hblen, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        break;
    /* An impostor of a fleet hub, three times. */
    if (iter % 30 == 10 && impostors < 3) {
      struct hubclient imp;
      if (hubclient_connect(&imp, p.port, NULL) == 0) {
        if (hubclient_handshake(&imp, "hub-000003", KEY, strlen(KEY), 0xBAD, 2000) == 0)
          impostors++;
        hubclient_close(&imp);
      }
    }
    /* Idle admin clients. */
    if (nadm < 40) {
      int a = tcp_connect(aport);
      if (a >= 0)
        admins[nadm++] = a;
    }
    usleep(50000);
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  for (int i = 0; i < nadm; i++)
    close(admins[i]);
  nadm = 0;
  assert_true(wait_stat(aport, "sessions_open", 0, T_MS)); /* the admin port has room again */
  long long evicted = stat_of(aport, "handshakes_evicted");
  printf("hostile turns %d, idle sockets %d, impostor sessions %d, handshakes evicted %lld, "
         "send-queue cut-offs %lld, fleet exit %d\n",
         iter, nidle, impostors, evicted, stat_of(aport, "sendq_overflows"), code);
  for (int i = 0; i < FLOOD; i++)
    if (idle[i] >= 0)
      close(idle[i]);
  for (int i = 0; i < nadm; i++)
    close(admins[i]);
  hubclient_close(&drip);
  hubclient_close(&deaf);
  assert_int_equal(code, 0);
  fleet_lost_nothing(summary, log);
  assert_int_equal(platproc_stop(&p), 0);
}

/* A fleet runs while the store cannot grow for 3 s: the hubs are not cycled (before: every
 * resend failed again and the fleet reconnected in a storm, logging each failed write), and
 * once the store has room again everything is stored, so the summary shows nothing lost. */
void test_slow_fleet_through_full_store(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", NULL};
  plat_up_piped(&p, "fleet-full", extra);
  uint16_t aport = admin_port(&p);
  sqlite3 *snap = hold_snapshot(p.db);
  char summary[256], log[256];
  snprintf(summary, sizeof summary, "%s/fleet-full.json", hostile_dir);
  snprintf(log, sizeof log, "%s/fleet-full.log", hostile_dir);
  pid_t fleet = fleet_start(p.port, 20, 8, summary, log);
  /* Past the start-up burst (about 150 reports): the steady reports are what meets the fault. */
  assert_true(wait_stat(aport, "reports_committed", 200, 20000));
  long long s0 = stat_of(aport, "sessions_accepted");
  set_limit(p.pid, RLIMIT_FSIZE, 1);
  assert_true(wait_stat(aport, "commit_failures", 1, 10000));
  /* The fault lasts 3 s: a window in which the fleet would storm. */
  double t0 = now_s();
  while (now_s() - t0 < 3)
    usleep(50000);
  long long s1 = stat_of(aport, "sessions_accepted");
  int lines = count_in_file(p.log, "platform store:");
  set_limit(p.pid, RLIMIT_FSIZE, RLIM_INFINITY);
  release_snapshot(snap);
  int code = fleet_wait(fleet, 90000);
  printf("store full for 3 s: %lld sessions accepted meanwhile (20 hubs), %d store error lines, "
         "store failures %lld, fleet exit %d\n",
         s1 - s0, lines, stat_of(aport, "store_failures"), code);
  assert_true(s1 - s0 <= 2 * 20);
  assert_true(lines <= 3);
  assert_int_equal(code, 0);
  fleet_lost_nothing(summary, log);
  assert_int_equal(stat_of(aport, "store"), 0);
  assert_int_equal(platproc_stop(&p), 0);
}

/* A scenario's automations through a token-protected admin port: `hubsim run smoke
 * --platform-admin` sends the token from HUBSIM_ADMIN_TOKEN_FILE on each of its connections;
 * without it, the scenario's platform calls are refused and the run fails. */
void test_slow_scenario_through_admin_token(void **state) {
  (void)state;
  struct platproc p;
  const char *tok = secret_file("run-token", "run-token-1\n", 0600);
  const char *extra[] = {"--admin", "127.0.0.1:0", "--admin-token-file", tok, NULL};
  plat_up(&p, "scn-token", extra);
  uint16_t aport = admin_port(&p);
  char url[64], adm[64], summary[256], log[256];
  snprintf(url, sizeof url, "hubrpc://127.0.0.1:%u", p.port);
  snprintf(adm, sizeof adm, "127.0.0.1:%u", aport);
  snprintf(summary, sizeof summary, "%s/scn-token.json", hostile_dir);
  snprintf(log, sizeof log, "%s/scn-token.log", hostile_dir);
  const char *argv[] = {getenv("HUBSIM_BIN"),
                        "run",
                        "smoke",
                        "--platform",
                        url,
                        "--platform-admin",
                        adm,
                        "--summary",
                        summary,
                        "-q",
                        "--ui",
                        "none",
                        "--allow-lag", /* the token is checked here, not the generator's pace */
                        NULL};
  setenv("HUBSIM_ADMIN_TOKEN_FILE", tok, 1);
  int code = run_cmd(argv, log, 120000);
  unsetenv("HUBSIM_ADMIN_TOKEN_FILE");
  printf("smoke through the token: exit %d\n", code);
  assert_int_equal(code, 0);
  assert_true(stat_of(aport, "rules_fired") < 0); /* stats without the token: refused */
  assert_int_equal(platproc_stop(&p), 0);
}
