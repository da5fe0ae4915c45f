/* Runs the hubsim binary with both output streams captured through pipes, read with poll() so
 * neither can fill and stall the child, bounded in time. */
#include "devspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends what fd has to *buf; 0 at EOF, 1 when more may come, -1 on error. */
static int drain(int fd, char **buf, size_t *len, size_t *cap) {
  if (*cap - *len < 65536) {
    size_t nc = *cap ? *cap * 2 : 131072;
    char *nb = realloc(*buf, nc);
    if (!nb)
      return -1;
    *buf = nb;
    *cap = nc;
  }
  ssize_t r = read(fd, *buf + *len, *cap - *len - 1);
  if (r < 0)
    return errno == EINTR || errno == EAGAIN ? 1 : -1;
  if (r == 0)
    return 0;
  *len += (size_t)r;
  return 1;
}

/* The child never ran: empty output and a message, so callers can print both. */
static int no_child(struct devspawn_out *r) {
  r->out = calloc(1, 1);
  r->err = strdup("could not start $HUBSIM_BIN");
  r->status = -1;
  return -1;
}

int devspawn_run(const char *const *args, double timeout_s, struct devspawn_out *r) {
  memset(r, 0, sizeof *r);
  r->status = -1;
  /* the buffers exist even when the child never ran, so callers can print them */
  const char *bin = getenv("HUBSIM_BIN");
  int po[2], pe[2];
  if (!bin || pipe(po) != 0)
    return no_child(r);
  if (pipe(pe) != 0) {
    close(po[0]);
    close(po[1]);
    return no_child(r);
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(po[0]);
    close(po[1]);
    close(pe[0]);
    close(pe[1]);
    return no_child(r);
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      dup2(devnull, 0);
    dup2(po[1], 1);
    dup2(pe[1], 2);
    close(po[0]);
    close(pe[0]);
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 63; i++)
      argv[n++] = args[i];
    argv[n] = NULL;
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  size_t ocap = 0, ecap = 0;
  int open_o = 1, open_e = 1, timed_out = 0;
  double deadline = now_s() + timeout_s;
  while (open_o || open_e) {
    double left = deadline - now_s();
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    struct pollfd fds[2] = {{open_o ? po[0] : -1, POLLIN, 0}, {open_e ? pe[0] : -1, POLLIN, 0}};
    int pr = poll(fds, 2, (int)(left * 1000) + 1);
    if (pr < 0 && errno != EINTR)
      break;
    if (pr <= 0)
      continue;
    if (open_o && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
      open_o = drain(po[0], &r->out, &r->out_len, &ocap) > 0;
    if (open_e && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
      open_e = drain(pe[0], &r->err, &r->err_len, &ecap) > 0;
  }
  close(po[0]);
  close(pe[0]);
  if (timed_out)
    kill(pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (!r->out)
    r->out = calloc(1, 1);
  else
    r->out[r->out_len] = 0;
  if (!r->err)
    r->err = calloc(1, 1);
  else
    r->err[r->err_len] = 0;
  r->status = !timed_out && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r->status;
}

void devspawn_free(struct devspawn_out *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}
