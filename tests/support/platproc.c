#include "platproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/core/err.h"

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void platproc_child_dies_with_parent(void) {
  /* A test that fails ends its process without its teardown; its children must not outlive it
   * (a stray broker or platform holds ports and files into the next test). */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
    _exit(127);
}

int platproc_start(struct platproc *p, const char *db, uint16_t port, const char *const *extra) {
  return platproc_start_scheme(p, "hubrpc", db, port, extra);
}

int platproc_start_scheme(struct platproc *p, const char *scheme, const char *db, uint16_t port,
                          const char *const *extra) {
  const char *bin = getenv("HUBSIM_BIN");
  if (!bin)
    return SIM_EINVAL;
  snprintf(p->db, sizeof(p->db), "%s", db);
  snprintf(p->ready, sizeof(p->ready), "%s.ready", db);
  snprintf(p->log, sizeof(p->log), "%s.log", db);
  unlink(p->ready);
  char listen[64];
  snprintf(listen, sizeof(listen), "%s://127.0.0.1:%u", scheme, port);
  const char *argv[32];
  int n = 0;
  argv[n++] = bin;
  argv[n++] = "platform";
  if (scheme) { /* NULL: extra says where hubs come from (--mqtt URL) */
    argv[n++] = "--listen";
    argv[n++] = listen;
  }
  argv[n++] = "--db";
  argv[n++] = p->db;
  argv[n++] = "--ready-file";
  argv[n++] = p->ready;
  for (int i = 0; extra && extra[i] && n < 31; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  pid_t pid = fork();
  if (pid < 0)
    return -errno;
  if (pid == 0) {
    platproc_child_dies_with_parent();
    int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0)
      dup2(fd, 2);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  p->pid = pid;
  /* Wait for the ready file (the bound port), or for the child to die. */
  double deadline = mono_s() + 10;
  while (mono_s() < deadline) {
    FILE *f = fopen(p->ready, "r");
    if (f) {
      unsigned v = 0;
      int ok = fscanf(f, "%u", &v) == 1;
      fclose(f);
      if (ok && v > 0 && v < 65536) {
        p->port = (uint16_t)v;
        return 0;
      }
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      p->pid = 0;
      return SIM_EIO;
    }
    usleep(5000);
  }
  platproc_kill(p);
  return SIM_ETIMEOUT;
}

int platproc_stop(struct platproc *p) {
  if (p->pid <= 0)
    return SIM_EINVAL;
  kill(p->pid, SIGTERM);
  double deadline = mono_s() + 20;
  int st;
  while (mono_s() < deadline) {
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
      p->pid = 0;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    usleep(5000);
  }
  platproc_kill(p);
  return SIM_ETIMEOUT;
}

void platproc_kill(struct platproc *p) {
  if (p->pid <= 0)
    return;
  kill(p->pid, SIGKILL);
  int st;
  waitpid(p->pid, &st, 0);
  p->pid = 0;
}

long long platproc_query(const char *db, const char *sql) {
  sqlite3 *h = NULL;
  long long v = -1;
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    goto done;
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
done:
  sqlite3_close(h);
  return v;
}
