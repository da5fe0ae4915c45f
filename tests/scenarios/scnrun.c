/* Runs the hubsim binary for the scenario tests: a child with captured stdout and stderr, and
 * a deadline after which it is killed (a hung run must fail the test, never hang it). */
#define _POSIX_C_SOURCE 200809L
#include "scnrun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sink {
  char *buf;
  size_t len, cap;
};

/* Appends what the pipe has; 0 at EOF, 1 while open. Keeps at most 64 MiB (then discards). */
static int drain(int fd, struct sink *s) {
  char tmp[65536];
  ssize_t n = read(fd, tmp, sizeof tmp);
  if (n == 0)
    return 0;
  if (n < 0)
    return errno == EINTR || errno == EAGAIN ? 1 : 0;
  if (s->len + (size_t)n + 1 > s->cap && s->len + (size_t)n < (64u << 20)) {
    size_t cap = s->cap ? s->cap : 8192;
    while (cap < s->len + (size_t)n + 1)
      cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b)
      return 1;
    s->buf = b;
    s->cap = cap;
  }
  if (s->len + (size_t)n + 1 <= s->cap) {
    memcpy(s->buf + s->len, tmp, (size_t)n);
    s->len += (size_t)n;
  }
  return 1;
}

/* Whether what was read so far contains text (drain() keeps a byte free after the data). */
static int sink_has(struct sink *s, const char *text) {
  if (!s->buf || s->len >= s->cap)
    return 0;
  s->buf[s->len] = '\0';
  return strstr(s->buf, text) != NULL;
}

static char *finish(struct sink *s, size_t *len) {
  if (!s->buf) {
    s->buf = malloc(1);
    s->len = 0;
  }
  if (s->buf)
    s->buf[s->len] = '\0';
  *len = s->len;
  return s->buf;
}

int scnrun_run(const char *const *argv, double timeout_s, struct scnrun_out *r) {
  return scnrun_run_signal(argv, timeout_s, NULL, 0, 0, r);
}

/* CPU seconds (user + system) process pid has used, from /proc; -1 when unknown. */
static double cpu_of(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* after the command name, which may hold spaces */
  unsigned long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int scnrun_run_signal(const char *const *argv, double timeout_s, const char *marker, double cpu_s,
                      int sig, struct scnrun_out *r) {
  memset(r, 0, sizeof *r);
  r->status = -1;
  r->signal_s = -1;
  int po[2], pe[2];
  if (pipe(po) != 0)
    return -1;
  if (pipe(pe) != 0) {
    close(po[0]);
    close(po[1]);
    return -1;
  }
  double t0 = mono_s();
  pid_t pid = fork();
  if (pid < 0) {
    close(po[0]);
    close(po[1]);
    close(pe[0]);
    close(pe[1]);
    return -1;
  }
  if (pid == 0) {
    /* the run gets the signals' default dispositions, whatever this process inherited */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0)
      dup2(nul, 0);
    dup2(po[1], 1);
    dup2(pe[1], 2);
    /* only 1 and 2 may stay: a daemon it starts (a tmux server) would hold the pipes open */
    close(po[0]);
    close(pe[0]);
    close(po[1]);
    close(pe[1]);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "scnrun: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  struct sink so = {0}, se = {0};
  int open_o = 1, open_e = 1;
  double deadline = t0 + timeout_s, first_signal = 0, next_signal = 0;
  while (open_o || open_e) {
    double now = mono_s(), left = deadline - now;
    if (left <= 0) {
      r->timed_out = 1;
      kill(pid, SIGKILL);
      break;
    }
    if (marker && now >= next_signal && sink_has(&se, marker) && cpu_of(pid) >= cpu_s) {
      kill(pid, sig);
      if (!first_signal)
        first_signal = now;
      next_signal = now + 1;
    }
    double wait = left > 1 ? 1 : left;
    if (marker && wait > 0.05)
      wait = 0.05; /* look at the marker and the CPU time often */
    struct pollfd p[2] = {{.fd = open_o ? po[0] : -1, .events = POLLIN},
                          {.fd = open_e ? pe[0] : -1, .events = POLLIN}};
    int k = poll(p, 2, (int)(wait * 1000) + 1);
    if (k < 0 && errno != EINTR)
      break;
    if (open_o && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
      open_o = drain(po[0], &so);
    if (open_e && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
      open_e = drain(pe[0], &se);
  }
  close(po[0]);
  close(pe[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r->wall_s = mono_s() - t0;
  if (first_signal)
    r->signal_s = mono_s() - first_signal;
  r->out = finish(&so, &r->out_len);
  r->err = finish(&se, &r->err_len);
  if (!r->timed_out && WIFEXITED(st))
    r->status = WEXITSTATUS(st);
  return r->status;
}

void scnrun_free(struct scnrun_out *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

char *scnrun_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  struct sink s = {0};
  int fd = fileno(f);
  while (drain(fd, &s)) {
  }
  fclose(f);
  return finish(&s, len);
}
