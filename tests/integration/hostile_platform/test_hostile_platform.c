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

#define KEY "hubsim-demo-fleet-key"
#define T_MS 5000

static char dir[128];
static int case_no;

/* Every child started (platforms, fleets): a failed case leaves no process behind holding
 * ctest's output pipe (teardown kills what still runs). */
static pid_t children[64];
static int nchildren;

static void child_started(pid_t pid) {
  if (pid > 0 && nchildren < 64)
    children[nchildren++] = pid;
}

static int kill_children(void **state) {
  (void)state;
  for (int i = 0; i < nchildren; i++) {
    int st;
    if (waitpid(children[i], &st, WNOHANG) == 0) {
      kill(children[i], SIGKILL);
      waitpid(children[i], &st, 0);
    }
  }
  nchildren = 0;
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A fresh database path for one case. */
static void db_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%02d-%s.db", dir, ++case_no, name);
}

/* Starts the platform with extra flags (NULL-terminated list); asserts it listens. */
static void plat_up(struct platproc *p, const char *name, const char *const *extra) {
  char db[256];
  db_path(db, sizeof db, name);
  int rc = platproc_start(p, db, 0, extra);
  if (rc)
    fail_msg("hubsim platform did not start (%s); its log: %s", sim_strerror(rc), p->log);
  child_started(p->pid);
}

/* How many times needle occurs in the file at path. */
static int count_in_file(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, needle))
      n++;
  fclose(f);
  return n;
}

/* The admin port, from the platform's start line on its stderr. */
static uint16_t admin_port(const struct platproc *p) {
  double deadline = now_s() + 5;
  while (now_s() < deadline) {
    FILE *f = fopen(p->log, "r");
    char line[4096];
    unsigned port = 0;
    while (f && fgets(line, sizeof line, f)) {
      const char *a = strstr(line, "admin on port ");
      if (a && sscanf(a, "admin on port %u", &port) == 1)
        break;
    }
    if (f)
      fclose(f);
    if (port)
      return (uint16_t)port;
    usleep(10000);
  }
  fail_msg("no admin port in %s", p->log);
  return 0;
}

/* ---------------------------------------------------------------- raw sockets */

static int tcp_connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

/* Waits up to ms for fd to be closed by the peer (EOF or reset), reading and dropping what
 * comes. 1: closed, 0: still open. */
static int wait_eof(int fd, int ms) {
  double deadline = now_s() + ms / 1000.0;
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    double left = deadline - now_s();
    if (left <= 0)
      return 0;
    if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
      continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
      return 1;
  }
}

/* ---------------------------------------------------------------- admin lines */

struct adm {
  int fd;
  char in[1 << 16];
  size_t len;
};

static int adm_open(struct adm *a, uint16_t port) {
  a->len = 0;
  a->fd = tcp_connect(port);
  return a->fd < 0 ? a->fd : 0;
}

static void adm_close(struct adm *a) {
  if (a->fd >= 0)
    close(a->fd);
  a->fd = -1;
}

static int adm_send(struct adm *a, const char *text) {
  size_t n = strlen(text), off = 0;
  while (off < n) {
    ssize_t w = send(a->fd, text + off, n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return SIM_EIO;
    off += (size_t)w;
  }
  return 0;
}

/* One reply line into out (no newline). 0, SIM_ETIMEOUT, SIM_ECLOSED. */
static int adm_line(struct adm *a, char *out, size_t cap, int ms) {
  double deadline = now_s() + ms / 1000.0;
  for (;;) {
    char *nl = memchr(a->in, '\n', a->len);
    if (nl) {
      size_t l = (size_t)(nl - a->in);
      snprintf(out, cap, "%.*s", (int)l, a->in);
      memmove(a->in, nl + 1, a->len - l - 1);
      a->len -= l + 1;
      return 0;
    }
    double left = deadline - now_s();
    if (left <= 0)
      return SIM_ETIMEOUT;
    struct pollfd pfd = {a->fd, POLLIN, 0};
    if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
      continue;
    if (a->len == sizeof a->in)
      return SIM_ETOOBIG;
    ssize_t n = recv(a->fd, a->in + a->len, sizeof a->in - a->len, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
      return SIM_ECLOSED;
    if (n > 0)
      a->len += (size_t)n;
  }
}

/* Sends one request line on a new connection and returns the reply (static storage). */
static const char *adm_ask(uint16_t port, const char *line) {
  static char reply[1 << 16];
  struct adm *a = malloc(sizeof *a);
  char req[8192];
  reply[0] = 0;
  if (adm_open(a, port) == 0) {
    snprintf(req, sizeof req, "%s\n", line);
    if (adm_send(a, req) == 0 && adm_line(a, reply, sizeof reply, T_MS) != 0)
      reply[0] = 0;
  }
  adm_close(a);
  free(a);
  return reply;
}

/* One counter of `stats` (-1 when missing); "store" gives 0 ok, 1 failing, 2 lost. */
static long long stat_of(uint16_t port, const char *name) {
  json_t *j = json_loads(adm_ask(port, "stats"), 0, NULL);
  long long v = -1;
  json_t *x = j ? json_object_get(j, name) : NULL;
  if (json_is_integer(x))
    v = json_integer_value(x);
  else if (json_is_string(x))
    v = strcmp(json_string_value(x), "ok") == 0        ? 0
        : strcmp(json_string_value(x), "failing") == 0 ? 1
                                                       : 2;
  json_decref(j);
  return v;
}

/* Waits until stat_of(name) >= want. 1 when it got there. */
static int wait_stat(uint16_t port, const char *name, long long want, int ms) {
  double deadline = now_s() + ms / 1000.0;
  do {
    if (stat_of(port, name) >= want)
      return 1;
    usleep(20000);
  } while (now_s() < deadline);
  return 0;
}

/* ---------------------------------------------------------------- child processes */

/* Runs argv with stderr to errlog; waits up to ms. The exit status, or -1 (still running:
 * killed). */
static int run_cmd(const char *const *argv, const char *errlog, int ms) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 2);
      dup2(fd, 1);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  double deadline = now_s() + ms / 1000.0;
  int st;
  while (now_s() < deadline) {
    if (waitpid(pid, &st, WNOHANG) == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return -1;
}

static void set_limit(pid_t pid, int resource, rlim_t soft) {
  struct rlimit old, rl;
  assert_int_equal(prlimit(pid, resource, NULL, &old), 0);
  rl.rlim_cur = soft;
  rl.rlim_max = old.rlim_max;
  if (prlimit(pid, resource, &rl, NULL))
    fail_msg("prlimit(%d, %d, %llu): %s", (int)pid, resource, (unsigned long long)soft,
             strerror(errno));
}

/* A hub on a new connection, authenticated with KEY. */
static void hub_up(struct hubclient *c, uint16_t port, const char *id, uint64_t boot) {
  assert_int_equal(hubclient_connect(c, port, NULL), 0);
  int rc = hubclient_handshake(c, id, KEY, strlen(KEY), boot, T_MS);
  if (rc)
    fail_msg("handshake of %s: %s", id, sim_strerror(rc));
}

/* Reports seq next_seq.. (n of them) and waits for their Ack. */
static void hub_reports_acked(struct hubclient *c, int n) {
  uint64_t last = 0;
  for (int i = 0; i < n; i++) {
    last = c->next_seq;
    assert_int_equal(hubclient_report(c, 0, 0x00158d0000000001ull, 0x0402, 2000 + (unsigned)i), 0);
  }
  uint64_t got = 0;
  int rc = hubclient_wait_ack(c, last, T_MS, &got);
  if (rc)
    fail_msg("no Ack for seq %llu of %s: %s", (unsigned long long)last, c->hub_id,
             sim_strerror(rc));
}

/* ---------------------------------------------------------------- connections */

#define IDLE_SOCKETS 400

/* A platform with 256 descriptors and 400 idle sockets that never say Hello: the descriptor
 * reserve makes each new connection push out the oldest idle one, so a real hub still gets in
 * and the admin port still answers. (Before: the platform ran out of descriptors; libuv then
 * accepts and closes every new connection, the hub's included.) */
static void test_idle_sockets_leave_room_for_hubs(void **state) {
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
static void test_handshake_cap_closes_oldest(void **state) {
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
static void test_hub_that_never_reads_is_cut_off(void **state) {
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
static void test_one_byte_drip_times_out(void **state) {
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
static void test_impostor_keeps_hub_sequence(void **state) {
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

/* ---------------------------------------------------------------- the admin port */

/* Writes text to a new file in the case folder with the given mode; returns its path. */
static const char *secret_file(const char *name, const char *text, mode_t mode) {
  static char path[4][256];
  static int k;
  char *out = path[k++ % 4];
  snprintf(out, sizeof path[0], "%s/%s", dir, name);
  unlink(out);
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  fchmod(fd, mode);
  close(fd);
  return out;
}

/* `hubsim platform` with args; returns its exit status within 10 s and its output in log. */
static int platform_exit(const char *const *args, const char *log) {
  const char *argv[32];
  char db[256];
  db_path(db, sizeof db, "exit");
  int n = 0;
  argv[n++] = getenv("HUBSIM_BIN");
  argv[n++] = "platform";
  argv[n++] = "--listen";
  argv[n++] = "hubrpc://127.0.0.1:0";
  argv[n++] = "--db";
  argv[n++] = db;
  for (int i = 0; args[i] && n < 31; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  return run_cmd(argv, log, 10000);
}

/* An admin port beyond loopback without a token is refused before anything is bound (exit 2,
 * a sentence naming --admin); so is a token file other users may read. The addresses are
 * TEST-NET ones that no interface here has, so the unfixed platform cannot bind them either
 * (it fails later, with exit 3). */
static void test_admin_beyond_loopback_needs_token(void **state) {
  (void)state;
  char log[256];
  snprintf(log, sizeof log, "%s/admin-exit.log", dir);
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
static void test_admin_token(void **state) {
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
static void test_admin_idle_and_crowd(void **state) {
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
static void test_rule_and_timer_limits(void **state) {
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
static void test_rule_loops(void **state) {
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

/* ---------------------------------------------------------------- the store */

/* As plat_up, but the platform's stderr goes through a pipe to `cat`, which writes the log:
 * RLIMIT_FSIZE on the platform would otherwise also refuse its log lines (the log is a
 * regular file), and the tests count them. SIGXFSZ is ignored in the child as well. */
static void plat_up_piped(struct platproc *p, const char *name, const char *const *extra) {
  char db[256];
  db_path(db, sizeof db, name);
  snprintf(p->db, sizeof p->db, "%s", db);
  snprintf(p->ready, sizeof p->ready, "%s.ready", db);
  snprintf(p->log, sizeof p->log, "%s.log", db);
  const char *argv[32];
  int n = 0;
  argv[n++] = getenv("HUBSIM_BIN");
  argv[n++] = "platform";
  argv[n++] = "--listen";
  argv[n++] = "hubrpc://127.0.0.1:0";
  argv[n++] = "--db";
  argv[n++] = p->db;
  argv[n++] = "--ready-file";
  argv[n++] = p->ready;
  for (int i = 0; extra && extra[i] && n < 31; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int pfd[2];
    if (pipe(pfd))
      _exit(127);
    if (fork() == 0) {
      int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(pfd[0], 0);
      dup2(fd, 1);
      close(pfd[1]);
      execl("/bin/cat", "cat", (char *)NULL);
      _exit(127);
    }
    dup2(pfd[1], 2);
    close(pfd[0]);
    close(pfd[1]);
    /* Inherited through exec: a platform that does not ignore SIGXFSZ itself sees the write
     * error a full disk gives, not a signal that kills it. */
    signal(SIGXFSZ, SIG_IGN);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  p->pid = pid;
  child_started(pid);
  double deadline = now_s() + 10;
  while (now_s() < deadline) {
    FILE *f = fopen(p->ready, "r");
    unsigned v = 0;
    if (f) {
      int ok = fscanf(f, "%u", &v) == 1;
      fclose(f);
      if (ok && v > 0 && v < 65536) {
        p->port = (uint16_t)v;
        return;
      }
    }
    usleep(5000);
  }
  platproc_kill(p);
  fail_msg("hubsim platform did not start; its log: %s", p->log);
}

/* Opens a read transaction on the database and keeps it: SQLite cannot reuse the WAL from its
 * start while a reader may need its frames, so every commit must grow the file (the part of a
 * full disk that fails). */
static sqlite3 *hold_snapshot(const char *db) {
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_busy_timeout(h, 5000);
  assert_int_equal(sqlite3_exec(h, "BEGIN; SELECT count(*) FROM hubs;", NULL, NULL, NULL),
                   SQLITE_OK);
  return h;
}

static void release_snapshot(sqlite3 *h) {
  sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(h);
}

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
static void test_db_deleted_while_running(void **state) {
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
static void test_store_full_backpressure(void **state) {
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
static void test_db_of_another_kind(void **state) {
  (void)state;
  char db[256], log[256];
  snprintf(db, sizeof db, "%s/foreign.db", dir);
  snprintf(log, sizeof log, "%s/foreign.log", dir);
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
static void test_fleet_key_file_and_env(void **state) {
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
  snprintf(log, sizeof log, "%s/keyfile-exit.log", dir);
  const char *open_key = secret_file("open.key", "key-from-file\n", 0644);
  const char *a[] = {"--fleet-key-file", open_key, NULL};
  assert_int_equal(platform_exit(a, log), 2);
  assert_int_equal(count_in_file(log, "--fleet-key-file"), 1);
}

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
static void test_slow_fleet_beside_hostile_clients(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", NULL};
  plat_up(&p, "fleet-hostile", extra);
  uint16_t aport = admin_port(&p);
  set_limit(p.pid, RLIMIT_NOFILE, 384);
  char summary[256], log[256];
  snprintf(summary, sizeof summary, "%s/fleet-hostile.json", dir);
  snprintf(log, sizeof log, "%s/fleet-hostile.log", dir);
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
static void test_slow_fleet_through_full_store(void **state) {
  (void)state;
  struct platproc p;
  const char *extra[] = {"--admin", "127.0.0.1:0", NULL};
  plat_up_piped(&p, "fleet-full", extra);
  uint16_t aport = admin_port(&p);
  sqlite3 *snap = hold_snapshot(p.db);
  char summary[256], log[256];
  snprintf(summary, sizeof summary, "%s/fleet-full.json", dir);
  snprintf(log, sizeof log, "%s/fleet-full.log", dir);
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
static void test_slow_scenario_through_admin_token(void **state) {
  (void)state;
  struct platproc p;
  const char *tok = secret_file("run-token", "run-token-1\n", 0600);
  const char *extra[] = {"--admin", "127.0.0.1:0", "--admin-token-file", tok, NULL};
  plat_up(&p, "scn-token", extra);
  uint16_t aport = admin_port(&p);
  char url[64], adm[64], summary[256], log[256];
  snprintf(url, sizeof url, "hubrpc://127.0.0.1:%u", p.port);
  snprintf(adm, sizeof adm, "127.0.0.1:%u", aport);
  snprintf(summary, sizeof summary, "%s/scn-token.json", dir);
  snprintf(log, sizeof log, "%s/scn-token.log", dir);
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
                        NULL};
  setenv("HUBSIM_ADMIN_TOKEN_FILE", tok, 1);
  int code = run_cmd(argv, log, 120000);
  unsetenv("HUBSIM_ADMIN_TOKEN_FILE");
  printf("smoke through the token: exit %d\n", code);
  assert_int_equal(code, 0);
  assert_true(stat_of(aport, "rules_fired") < 0); /* stats without the token: refused */
  assert_int_equal(platproc_stop(&p), 0);
}

/* ---------------------------------------------------------------- main */

static int group_setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/hubsim-hostile-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir))
    return -1;
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (getenv("HUBSIM_KEEP_TMP"))
    return 0;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
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
