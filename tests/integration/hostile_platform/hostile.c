/* Helpers of the hostile platform tests: child processes (platforms, commands) killed after each
 * case, raw sockets, admin lines, limits of a child, a few hub conversations. */
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

char hostile_dir[128];
static int case_no;

/* Every child started (platforms, fleets): a failed case leaves no process behind holding
 * ctest's output pipe (teardown kills what still runs). */
static pid_t children[64];
static int nchildren;

void child_started(pid_t pid) {
  if (pid > 0 && nchildren < 64)
    children[nchildren++] = pid;
}

int kill_children(void **state) {
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

double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A fresh database path for one case. */
void db_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%02d-%s.db", hostile_dir, ++case_no, name);
}

/* Starts the platform with extra flags (NULL-terminated list); asserts it listens. */
void plat_up(struct platproc *p, const char *name, const char *const *extra) {
  char db[256];
  db_path(db, sizeof db, name);
  int rc = platproc_start(p, db, 0, extra);
  if (rc)
    fail_msg("hubsim platform did not start (%s); its log: %s", sim_strerror(rc), p->log);
  child_started(p->pid);
}

/* How many times needle occurs in the file at path. */
int count_in_file(const char *path, const char *needle) {
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
uint16_t admin_port(const struct platproc *p) {
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

int tcp_connect(uint16_t port) {
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
int wait_eof(int fd, int ms) {
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

int adm_open(struct adm *a, uint16_t port) {
  a->len = 0;
  a->fd = tcp_connect(port);
  return a->fd < 0 ? a->fd : 0;
}

void adm_close(struct adm *a) {
  if (a->fd >= 0)
    close(a->fd);
  a->fd = -1;
}

int adm_send(struct adm *a, const char *text) {
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
int adm_line(struct adm *a, char *out, size_t cap, int ms) {
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
const char *adm_ask(uint16_t port, const char *line) {
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
long long stat_of(uint16_t port, const char *name) {
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
int wait_stat(uint16_t port, const char *name, long long want, int ms) {
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
int run_cmd(const char *const *argv, const char *errlog, int ms) {
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

void set_limit(pid_t pid, int resource, rlim_t soft) {
  struct rlimit old, rl;
  assert_int_equal(prlimit(pid, resource, NULL, &old), 0);
  rl.rlim_cur = soft;
  rl.rlim_max = old.rlim_max;
  if (prlimit(pid, resource, &rl, NULL))
    fail_msg("prlimit(%d, %d, %llu): %s", (int)pid, resource, (unsigned long long)soft,
             strerror(errno));
}

/* A hub on a new connection, authenticated with KEY. */
void hub_up(struct hubclient *c, uint16_t port, const char *id, uint64_t boot) {
  assert_int_equal(hubclient_connect(c, port, NULL), 0);
  int rc = hubclient_handshake(c, id, KEY, strlen(KEY), boot, T_MS);
  if (rc)
    fail_msg("handshake of %s: %s", id, sim_strerror(rc));
}

/* Reports seq next_seq.. (n of them) and waits for their Ack. */
void hub_reports_acked(struct hubclient *c, int n) {
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

/* ---------------------------------------------------------------- helpers of several files */

/* Writes text to a new file in the case folder with the given mode; returns its path. */
const char *secret_file(const char *name, const char *text, mode_t mode) {
  static char path[4][256];
  static int k;
  char *out = path[k++ % 4];
  snprintf(out, sizeof path[0], "%s/%s", hostile_dir, name);
  unlink(out);
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  fchmod(fd, mode);
  close(fd);
  return out;
}

/* `hubsim platform` with args; returns its exit status within 10 s and its output in log. */
int platform_exit(const char *const *args, const char *log) {
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

/* As plat_up, but the platform's stderr goes through a pipe to `cat`, which writes the log:
 * RLIMIT_FSIZE on the platform would otherwise also refuse its log lines (the log is a
 * regular file), and the tests count them. SIGXFSZ is ignored in the child as well. */
void plat_up_piped(struct platproc *p, const char *name, const char *const *extra) {
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
sqlite3 *hold_snapshot(const char *db) {
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_busy_timeout(h, 5000);
  assert_int_equal(sqlite3_exec(h, "BEGIN; SELECT count(*) FROM hubs;", NULL, NULL, NULL),
                   SQLITE_OK);
  return h;
}

void release_snapshot(sqlite3 *h) {
  sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(h);
}
