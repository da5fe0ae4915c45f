/* A pseudo-terminal for a ZNP coordinator: see pty.h. The master side is read and written
 * through a uv_poll_t. Linux reports a slave side that was open and is now closed by POLLHUP
 * and EIO on the master (a slave never opened reports nothing), and keeps what the master
 * writes meanwhile for the next opener; so once the host is gone, reading stops, what waits is
 * flushed, writes are dropped, and a timer looks every PTY_WATCH_MS for the hang-up to end,
 * which is a host opening the path again. */
#include "sim/znp/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/log.h"

#define PTY_WATCH_MS 50

struct sim_znp_pty {
  uv_loop_t *loop;
  int fd; /* the master side */
  uv_poll_t poll;
  uv_timer_t watch; /* while no host: when one opens the path again */
  int host_gone;
  int open_handles;
  int events; /* UV_READABLE, UV_WRITABLE: what poll waits for */
  sim_znp_pty_read_fn on_read;
  sim_znp_pty_open_fn on_open;
  void *ctx;
  char path[PATH_MAX];
  char slave[64];
  struct sim_buf out; /* bytes waiting for the host to read */
  uint8_t rbuf[4096];
};

/* The symlink at path, when it is one into /dev/pts/ whose target is gone, or is the slave we
 * just opened (the kernel gives a freed number to the next opener): the leftover of a process
 * that died without removing it. */
static int stale_link(const char *path, const char *slave) {
  char target[PATH_MAX];
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n <= 0)
    return 0;
  target[n] = '\0';
  struct stat st;
  if (strncmp(target, "/dev/pts/", 9) != 0)
    return 0;
  return strcmp(target, slave) == 0 || (stat(target, &st) != 0 && errno == ENOENT);
}

/* path -> slave, made under a temporary name and renamed over path (which is atomic). */
static int make_link(const char *path, const char *slave, char *why, size_t cap) {
  struct stat st;
  if (lstat(path, &st) == 0 && !stale_link(path, slave)) {
    snprintf(why, cap, "'%s' exists (not a link left by a stopped hubsim znp); remove it", path);
    return SIM_EEXISTS;
  }
  char tmp[PATH_MAX + 32];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof tmp) {
    snprintf(why, cap, "'%s': the path is too long", path);
    return SIM_EINVAL;
  }
  unlink(tmp);
  if (symlink(slave, tmp) != 0 || rename(tmp, path) != 0) {
    snprintf(why, cap, "cannot link '%s' to %s: %s", path, slave, strerror(errno));
    unlink(tmp);
    return SIM_EIO;
  }
  return 0;
}

static void poll_cb(uv_poll_t *h, int status, int events);

static void set_events(struct sim_znp_pty *p, int events) {
  if (events == p->events)
    return;
  p->events = events;
  if (events)
    uv_poll_start(&p->poll, events, poll_cb);
  else
    uv_poll_stop(&p->poll);
}

/* Raw mode: no echo, no line editing, no translation, 8 bits. A host sets its own mode when it
 * opens the path; this one holds until then (and after it closes, for the next). */
static int make_raw(int fd) {
  struct termios t;
  if (tcgetattr(fd, &t) != 0)
    return -1;
  cfmakeraw(&t);
  cfsetispeed(&t, B115200);
  cfsetospeed(&t, B115200);
  return tcsetattr(fd, TCSANOW, &t);
}

static void watch_cb(uv_timer_t *t);

static void host_left(struct sim_znp_pty *p) {
  SIM_LOGI("znp: host closed %s", p->path);
  p->host_gone = 1;
  p->out.len = 0;
  tcflush(p->fd, TCIOFLUSH); /* what we wrote before we saw it go is not for the next host */
  make_raw(p->fd);
  set_events(p, 0);
  uv_timer_start(&p->watch, watch_cb, PTY_WATCH_MS, PTY_WATCH_MS);
}

static void watch_cb(uv_timer_t *t) {
  struct sim_znp_pty *p = t->data;
  struct pollfd pf = {.fd = p->fd, .events = POLLIN};
  if (poll(&pf, 1, 0) < 0 || (pf.revents & POLLHUP))
    return; /* still nobody */
  uv_timer_stop(&p->watch);
  p->host_gone = 0;
  SIM_LOGI("znp: host opened %s", p->path);
  set_events(p, UV_READABLE);
  p->on_open(p->ctx);
}

static void flush_out(struct sim_znp_pty *p) {
  while (p->out.len > 0) {
    ssize_t n = write(p->fd, p->out.data, p->out.len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      if (errno != EAGAIN)
        host_left(p);
      break;
    }
    sim_buf_consume(&p->out, (size_t)n);
  }
  if (!p->host_gone)
    set_events(p, UV_READABLE | (p->out.len ? UV_WRITABLE : 0));
}

static void poll_cb(uv_poll_t *h, int status, int events) {
  struct sim_znp_pty *p = h->data;
  if (status < 0) {
    host_left(p);
    return;
  }
  if (events & UV_WRITABLE)
    flush_out(p);
  if (!(events & (UV_READABLE | UV_DISCONNECT)) || p->host_gone)
    return;
  ssize_t n = read(p->fd, p->rbuf, sizeof p->rbuf);
  if (n > 0)
    p->on_read(p->ctx, p->rbuf, (size_t)n);
  else if (n == 0 || (errno != EAGAIN && errno != EINTR))
    host_left(p); /* EIO: the last opener of the slave side closed it */
}

int sim_znp_pty_write(struct sim_znp_pty *p, const uint8_t *d, size_t n) {
  if (p->host_gone)
    return SIM_ECLOSED;
  if (p->out.len + n > SIM_ZNP_PTY_QUEUE_MAX)
    return SIM_EFULL;
  int rc = sim_buf_append(&p->out, d, n);
  if (rc != 0)
    return rc;
  flush_out(p);
  return 0;
}

int sim_znp_pty_open(uv_loop_t *loop, const char *path, sim_znp_pty_read_fn on_read,
                     sim_znp_pty_open_fn on_open, void *ctx, struct sim_znp_pty **out, char *why,
                     size_t cap) {
  struct sim_znp_pty *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(why, cap, "out of memory");
    return SIM_ENOMEM;
  }
  sim_buf_init(&p->out);
  int rc = SIM_EIO;
  if (strlen(path) >= sizeof p->path) {
    snprintf(why, cap, "'%s': the path is too long", path);
    free(p);
    return SIM_EINVAL;
  }
  snprintf(p->path, sizeof p->path, "%s", path);
  p->fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  const char *name =
      p->fd >= 0 && grantpt(p->fd) == 0 && unlockpt(p->fd) == 0 ? ptsname(p->fd) : NULL;
  if (!name || strlen(name) >= sizeof p->slave || make_raw(p->fd) != 0) {
    snprintf(why, cap, "cannot open a pseudo-terminal: %s", strerror(errno));
    goto fail;
  }
  snprintf(p->slave, sizeof p->slave, "%s", name);
  if ((rc = make_link(path, p->slave, why, cap)) != 0)
    goto fail;
  p->loop = loop;
  p->on_read = on_read;
  p->on_open = on_open;
  p->ctx = ctx;
  uv_poll_init(loop, &p->poll, p->fd);
  p->poll.data = p;
  uv_timer_init(loop, &p->watch);
  p->watch.data = p;
  p->open_handles = 2;
  set_events(p, UV_READABLE);
  *out = p;
  return 0;
fail:
  if (p->fd >= 0)
    close(p->fd);
  free(p);
  return rc;
}

const char *sim_znp_pty_slave(const struct sim_znp_pty *p) {
  return p->slave;
}

static void closed_cb(uv_handle_t *h) {
  struct sim_znp_pty *p = h->data;
  if (--p->open_handles > 0)
    return;
  close(p->fd);
  sim_buf_fini(&p->out);
  free(p);
}

void sim_znp_pty_close(struct sim_znp_pty *p) {
  /* The link goes only while it still points to our slave: another process may have taken
   * the path since. */
  char target[PATH_MAX];
  ssize_t n = readlink(p->path, target, sizeof target - 1);
  if (n > 0 && (size_t)n == strlen(p->slave) && memcmp(target, p->slave, (size_t)n) == 0)
    unlink(p->path);
  uv_close((uv_handle_t *)&p->poll, closed_cb);
  uv_close((uv_handle_t *)&p->watch, closed_cb);
}
