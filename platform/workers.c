/* hubsim platform --workers N (see workers.h): the front process, which starts, serves and
 * supervises the workers, and the worker's end of the socketpair between them.
 *
 * Why processes and SO_REUSEPORT: one process holds at most as many sockets as its open-file
 * limit, which cannot always be raised. N processes that each listen on the same address with
 * SO_REUSEPORT hold N times as many, and the kernel spreads new connections among them without
 * a process in the way. Each worker is the whole platform (its own loop, store shard, group
 * commit), so nothing on the path of a Report is shared.
 *
 * Why the front blocks on its workers: it answers admin lines only (a person, a scenario, a
 * conformance hook), one at a time; a blocking request and reply per worker, bounded in time,
 * keeps the routing plain. A reply that comes after its deadline is skipped when it arrives. */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "platform/server_internal.h"
#include "platform/workers.h"
#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/log.h"

/* The longest reply line the front takes from a worker (a device's state, the counters). */
#define WORKER_LINE_MAX (4u << 20)

/* ---------------------------------------------------------------- the worker's side */

struct worker_chan {
  uv_pipe_t pipe;
  struct plat_admin_conv conv;
  struct plat_server *srv;
  void (*gone)(void *arg);
  void *gone_arg;
  int fd; /* a duplicate of PLAT_WORKER_FD: still open for the final line after the pipe closed */
  int open, gone_called;
};
/* One per process: a worker has one front. */
static struct worker_chan chan = {.fd = -1};

int plat__worker_env(unsigned *index, unsigned *n, uint16_t *port) {
  const char *v = getenv(PLAT_WORKER_ENV);
  if (!v)
    return 0;
  unsigned i, k, p;
  char tail;
  if (sscanf(v, "%u/%u/%u%c", &i, &k, &p, &tail) != 3 || k < 2 || k > PLAT_WORKERS_MAX || i >= k ||
      p == 0 || p > 65535)
    return SIM_EINVAL;
  *index = i;
  *n = k;
  *port = (uint16_t)p;
  return 1;
}

/* Writes all of p to fd (blocking through poll), within PLAT_WORKER_REPLY_MS. 0 or SIM_EIO. */
static int write_all(int fd, const char *p, size_t n) {
  uint64_t end = uv_hrtime() / 1000000u + PLAT_WORKER_REPLY_MS;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR)
      return SIM_EIO;
    uint64_t now = uv_hrtime() / 1000000u;
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    if (now >= end || (poll(&pf, 1, (int)(end - now)) < 0 && errno != EINTR))
      return SIM_EIO;
  }
  return 0;
}

/* A reply line to the front (takes json). The front reads one line per request, so a reply
 * that cannot be written means the front is gone: the read side notices the end. */
static void chan_reply(void *arg, char *json) {
  (void)arg;
  const char *fallback = "{\"error\":\"out of memory\"}";
  const char *s = json ? json : fallback;
  if (write_all(chan.fd, s, strlen(s)) == 0)
    (void)write_all(chan.fd, "\n", 1);
  free(json);
}

static void chan_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char slab[8192]; /* one loop thread: consumed before the next alloc */
  (void)h;
  (void)hint;
  buf->base = slab;
  buf->len = sizeof slab;
}

static void chan_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  (void)st;
  if (n > 0 && !chan.gone_called &&
      plat__admin_feed(chan.srv, &chan.conv, (const uint8_t *)buf->base, (size_t)n, chan_reply,
                       NULL, NULL) == 0)
    return;
  if (n == 0)
    return;
  /* The end of the stream (the front is gone), an error, or a line the feed refused: this
   * worker has no one to answer to any more and stops. */
  uv_read_stop(st);
  if (!chan.gone_called) {
    chan.gone_called = 1;
    SIM_LOGW("platform: worker: the front process is gone; stopping");
    chan.gone(chan.gone_arg);
  }
}

int plat__worker_attach(struct plat_server *srv, void (*gone)(void *arg), void *arg) {
  char line[32];
  chan.srv = srv;
  chan.gone = gone;
  chan.gone_arg = arg;
  if ((chan.fd = dup(PLAT_WORKER_FD)) < 0)
    return SIM_EIO;
  int n = snprintf(line, sizeof line, "ready %u\n", plat_server_port(srv));
  int rc = write_all(chan.fd, line, (size_t)n);
  if (rc)
    return rc;
  if ((rc = uv_pipe_init(srv->loop, &chan.pipe, 0)))
    return rc;
  chan.open = 1;
  if ((rc = uv_pipe_open(&chan.pipe, PLAT_WORKER_FD)) ||
      (rc = uv_read_start((uv_stream_t *)&chan.pipe, chan_alloc_cb, chan_read_cb)))
    return rc;
  return 0;
}

void plat__worker_detach(struct plat_server *srv) {
  (void)srv;
  if (chan.open && !uv_is_closing((uv_handle_t *)&chan.pipe))
    uv_close((uv_handle_t *)&chan.pipe, NULL);
}

void plat__worker_final(struct plat_server *srv) {
  struct plat_counters c;
  if (chan.fd < 0)
    return;
  plat_server_counters(srv, &c);
  char *json = plat_counters_json(&c);
  if (json && write_all(chan.fd, "final ", 6) == 0 && write_all(chan.fd, json, strlen(json)) == 0)
    (void)write_all(chan.fd, "\n", 1);
  free(json);
  plat__admin_conv_fini(&chan.conv);
  close(chan.fd);
  chan.fd = -1;
}

/* ---------------------------------------------------------------- the front */

struct worker {
  uv_process_t proc;
  uv_pipe_t pipe; /* the front's end of the socketpair; read and written directly, not by uv */
  struct sim_buf in;
  struct front *f;
  int fd;
  unsigned index;
  unsigned late; /* replies still owed to requests that timed out: skipped on arrival */
  int piped, started, exited;
  int64_t status;
  int term_signal;
  char *final; /* the final counters (JSON), NULL until read */
};

struct front {
  uv_loop_t loop;
  struct worker *w;
  unsigned n;
  struct sim_transport *mem; /* the front server's hub side: nothing connects to it */
  struct plat_server *srv;   /* serves the admin port; its lines are routed (route()) */
  uv_signal_t sigint, sigterm;
  int stopping;
  int failed; /* a worker ended on its own, or could not start */
  int usage;  /* a worker exited 2: it refused its store shard */
};

static uint64_t now_ms(void) {
  return uv_hrtime() / 1000000u;
}

/* The next line from w within the deadline (ms on uv_hrtime's clock), NUL-terminated in *line
 * (malloc'ed, taken by the caller). 0, SIM_ETIMEOUT, SIM_ECLOSED (end of stream), SIM_EIO,
 * SIM_ENOMEM, SIM_ETOOBIG (a line over WORKER_LINE_MAX). */
static int read_line(struct worker *w, uint64_t deadline, char **line) {
  for (;;) {
    uint8_t *nl = w->in.len ? memchr(w->in.data, '\n', w->in.len) : NULL;
    if (nl) {
      size_t len = (size_t)(nl - w->in.data);
      char *s = malloc(len + 1);
      if (!s)
        return SIM_ENOMEM;
      memcpy(s, w->in.data, len);
      s[len] = 0;
      sim_buf_consume(&w->in, len + 1);
      *line = s;
      return 0;
    }
    if (w->in.len > WORKER_LINE_MAX)
      return SIM_ETOOBIG;
    if (w->fd < 0)
      return SIM_ECLOSED;
    uint8_t tmp[65536];
    ssize_t r = read(w->fd, tmp, sizeof tmp);
    if (r > 0) {
      if (sim_buf_append(&w->in, tmp, (size_t)r))
        return SIM_ENOMEM;
      continue;
    }
    if (r == 0)
      return SIM_ECLOSED;
    if (errno != EAGAIN && errno != EINTR)
      return SIM_EIO;
    uint64_t now = now_ms();
    if (now >= deadline)
      return SIM_ETIMEOUT;
    struct pollfd pf = {.fd = w->fd, .events = POLLIN};
    if (poll(&pf, 1, (int)(deadline - now)) < 0 && errno != EINTR)
      return SIM_EIO;
  }
}

/* Sends one request line to w and reads its reply (malloc'ed, taken) into *reply. Replies owed
 * to earlier requests that timed out are skipped first. 0 or a negative SIM_E* code; on
 * SIM_ETIMEOUT the reply is owed and skipped later. */
static int ask(struct worker *w, const char *line, char **reply) {
  uint64_t deadline = now_ms() + PLAT_WORKER_REPLY_MS;
  int rc;
  if (w->exited || w->fd < 0)
    return SIM_ECLOSED;
  while (w->late) {
    char *old = NULL;
    if ((rc = read_line(w, deadline, &old)))
      return rc;
    free(old);
    w->late--;
  }
  if ((rc = write_all(w->fd, line, strlen(line))) || (rc = write_all(w->fd, "\n", 1)))
    return rc;
  rc = read_line(w, deadline, reply);
  if (rc == SIM_ETIMEOUT)
    w->late++;
  return rc;
}

static char *error_reply(const char *msg) {
  json_t *o = json_pack("{s:s}", "error", msg);
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return s;
}

static char *worker_error(const struct worker *w, int rc) {
  char msg[160];
  if (rc == SIM_ETIMEOUT)
    snprintf(msg, sizeof msg, "worker %u did not answer within %u s", w->index,
             PLAT_WORKER_REPLY_MS / 1000u);
  else
    snprintf(msg, sizeof msg, "worker %u: %s", w->index,
             w->exited ? "it has ended" : sim_strerror(rc));
  return error_reply(msg);
}

/* Adds every number of x into acc (objects recursively); "store" keeps the worst state. */
static void sum_into(json_t *acc, json_t *x) {
  static const char *const states[] = {"ok", "failing", "lost"};
  const char *key;
  json_t *v;
  json_object_foreach(x, key, v) {
    json_t *a = json_object_get(acc, key);
    if (json_is_integer(v)) {
      json_int_t base = json_is_integer(a) ? json_integer_value(a) : 0;
      json_object_set_new(acc, key, json_integer(base + json_integer_value(v)));
    } else if (json_is_object(v)) {
      if (!json_is_object(a)) {
        a = json_object();
        json_object_set_new(acc, key, a);
      }
      sum_into(a, v);
    } else if (json_is_string(v)) {
      int ra = -1, rv = -1;
      for (int i = 0; i < 3; i++) {
        if (json_is_string(a) && strcmp(json_string_value(a), states[i]) == 0)
          ra = i;
        if (strcmp(json_string_value(v), states[i]) == 0)
          rv = i;
      }
      if (rv > ra || !a)
        json_object_set(acc, key, v);
    }
  }
}

/* Every worker's counters (parsed replies to `stats`) into one[i]. NULL, or the error reply. */
static char *gather_stats(struct front *f, json_t **one) {
  for (unsigned i = 0; i < f->n; i++) {
    char *r = NULL;
    int rc = ask(&f->w[i], "stats", &r);
    if (rc)
      return worker_error(&f->w[i], rc);
    one[i] = json_loads(r, 0, NULL);
    free(r);
    if (!json_is_object(one[i]) || json_object_get(one[i], "error"))
      return error_reply("a worker's counters could not be read");
  }
  return NULL;
}

/* `stats` (the sum over the workers, with the admin port's own counters, which are the
 * front's) or `workers` (each worker's counters and pid). */
static char *route_stats(struct front *f, int per_worker) {
  json_t **one = calloc(f->n, sizeof *one);
  json_t *out = NULL;
  char *s = NULL;
  if (!one)
    return NULL;
  if ((s = gather_stats(f, one)))
    goto done;
  if (per_worker) {
    json_t *arr = json_array();
    for (unsigned i = 0; i < f->n; i++)
      json_array_append_new(arr, json_pack("{s:I,s:I,s:O}", "worker", (json_int_t)i, "pid",
                                           (json_int_t)f->w[i].proc.pid, "counters", one[i]));
    out = json_pack("{s:o}", "workers", arr);
  } else {
    out = json_object();
    for (unsigned i = 0; i < f->n; i++)
      sum_into(out, one[i]);
    struct plat_counters c;
    plat_server_counters(f->srv, &c);
    json_object_set_new(out, "admin_refused", json_integer((json_int_t)c.admin_refused));
    json_object_set_new(out, "admin_idle_closed", json_integer((json_int_t)c.admin_idle_closed));
    json_object_set_new(out, "admin_auth_failed", json_integer((json_int_t)c.admin_auth_failed));
  }
  s = out ? json_dumps(out, JSON_COMPACT) : NULL;
done:
  json_decref(out);
  for (unsigned i = 0; i < f->n; i++)
    json_decref(one[i]);
  free(one);
  return s;
}

/* 1 when reply is a worker's "hub ... is not online" (admin.c): another worker may hold it. */
static int is_not_online(const char *reply) {
  size_t n = strlen(reply);
  static const char tail[] = " is not online\"}";
  return strncmp(reply, "{\"error\":\"hub '", 14) == 0 && n > sizeof tail &&
         strcmp(reply + n - (sizeof tail - 1), tail) == 0;
}

/* `command HUB ...`: the worker that holds the hub's session sends it. Each is asked in turn
 * until one does not answer "not online"; its reply (the cmd_id, or an error about the line)
 * is the answer. */
static char *route_command(struct front *f, const char *line) {
  char *last = NULL;
  for (unsigned i = 0; i < f->n; i++) {
    char *r = NULL;
    int rc = ask(&f->w[i], line, &r);
    if (rc) {
      free(last);
      return worker_error(&f->w[i], rc);
    }
    if (!is_not_online(r)) {
      free(last);
      return r;
    }
    free(last);
    last = r;
  }
  return last;
}

/* `device EUI64`: every shard is asked; the state most recently seen wins (a hub that moved
 * to another worker left its older state in the first one's shard). */
static char *route_device(struct front *f, const char *line) {
  char *best = NULL, *first_err = NULL;
  json_int_t best_seen = -1;
  for (unsigned i = 0; i < f->n; i++) {
    char *r = NULL;
    int rc = ask(&f->w[i], line, &r);
    if (rc) {
      free(best);
      free(first_err);
      return worker_error(&f->w[i], rc);
    }
    json_t *o = json_loads(r, 0, NULL);
    json_t *seen = o ? json_object_get(o, "last_seen_ms") : NULL;
    if (o && !json_object_get(o, "error")) {
      json_int_t t = json_is_integer(seen) ? json_integer_value(seen) : 0;
      if (t > best_seen) {
        free(best);
        best = r;
        best_seen = t;
        r = NULL;
      }
    } else if (!first_err) {
      first_err = r;
      r = NULL;
    }
    json_decref(o);
    free(r);
  }
  if (best) {
    free(first_err);
    return best;
  }
  return first_err;
}

/* The admin port's lines with N workers (plat_server's admin_route). */
static char *route(void *arg, const char *line) {
  struct front *f = arg;
  char first[16] = {0};
  const char *p = line + strspn(line, " \t\r");
  size_t fl = strcspn(p, " \t\r");
  int alone = p[fl + strspn(p + fl, " \t\r")] == 0;
  if (fl < sizeof first)
    memcpy(first, p, fl);
  if (strcmp(first, "stats") == 0 && alone)
    return route_stats(f, 0);
  if (strcmp(first, "workers") == 0 && alone)
    return route_stats(f, 1);
  if (strcmp(first, "command") == 0)
    return route_command(f, line);
  if (strcmp(first, "device") == 0)
    return route_device(f, line);
  if (!strcmp(first, "rule") || !strcmp(first, "rules") || !strcmp(first, "timer") ||
      !strcmp(first, "timers")) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "rules and timers need a platform of one process: this one runs %u workers "
             "(--workers)",
             f->n);
    return error_reply(msg);
  }
  /* Anything else (a malformed line, an unknown request) gets worker 0's answer: the same
   * words as a platform of one process. */
  char *r = NULL;
  int rc = ask(&f->w[0], line, &r);
  return rc ? worker_error(&f->w[0], rc) : r;
}

/* ---------------------------------------------------------------- supervision */

/* Asks every worker still running to stop (SIGTERM: each commits and closes in order) and
 * closes the front's own handles; the loop ends once every worker has exited. */
static void front_stop(struct front *f) {
  if (f->stopping)
    return;
  f->stopping = 1;
  for (unsigned i = 0; i < f->n; i++)
    if (f->w[i].started && !f->w[i].exited)
      uv_process_kill(&f->w[i].proc, SIGTERM);
  if (uv_is_active((uv_handle_t *)&f->sigint)) {
    uv_close((uv_handle_t *)&f->sigint, NULL);
    uv_close((uv_handle_t *)&f->sigterm, NULL);
  }
  if (f->srv && f->srv->started && plat_server_stop(f->srv, NULL, NULL))
    SIM_LOGD("platform: the admin front was stopped already");
}

static void front_signal_cb(uv_signal_t *h, int signum) {
  (void)signum;
  front_stop(h->data);
}

/* A worker ended. Before a stop was asked for, that is a failure the platform reports and ends
 * on: its share of the hubs lost their sessions. */
static void exit_cb(uv_process_t *p, int64_t status, int term_signal) {
  struct worker *w = p->data;
  struct front *f = w->f;
  w->exited = 1;
  w->status = status;
  w->term_signal = term_signal;
  if (!f->stopping || status != 0 || term_signal) {
    if (term_signal)
      fprintf(stderr, "hubsim platform: worker %u (pid %d) was killed by signal %d (%s)%s\n",
              w->index, p->pid, term_signal, strsignal(term_signal),
              f->stopping ? "" : "; stopping the others");
    else
      fprintf(stderr, "hubsim platform: worker %u (pid %d) exited with status %lld%s\n", w->index,
              p->pid, (long long)status, f->stopping ? "" : "; stopping the others");
    f->failed = 1;
    if (status == 2)
      f->usage = 1;
  }
  uv_close((uv_handle_t *)p, NULL);
  front_stop(f);
}

/* Starts worker i: this executable with the platform's command line, told its place through
 * the environment, its descriptor 3 a socketpair to us. 0 or libuv's error. */
static int spawn_worker(struct front *f, unsigned i, const struct plat_workers_opts *o,
                        uint16_t port, char **env, size_t nenv) {
  struct worker *w = &f->w[i];
  char exe[4096], place[64];
  size_t exe_len = sizeof exe;
  int rc = uv_exepath(exe, &exe_len);
  if (rc)
    return rc;
  snprintf(place, sizeof place, "%s=%u/%u/%u", PLAT_WORKER_ENV, i, f->n, port);
  env[nenv] = place;
  env[nenv + 1] = NULL;
  char **args = calloc((size_t)o->argc + 2, sizeof *args);
  if (!args)
    return SIM_ENOMEM;
  args[0] = exe;
  for (int k = 0; k < o->argc; k++)
    args[k + 1] = o->argv[k];
  uv_pipe_init(&f->loop, &w->pipe, 0);
  w->pipe.data = f;
  w->piped = 1;
  uv_stdio_container_t io[4] = {
      {.flags = UV_IGNORE},
      {.flags = UV_INHERIT_FD, .data.fd = 1},
      {.flags = UV_INHERIT_FD, .data.fd = 2},
      {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE,
       .data.stream = (uv_stream_t *)&w->pipe},
  };
  uv_process_options_t po = {
      .exit_cb = exit_cb, .file = exe, .args = args, .env = env, .stdio_count = 4, .stdio = io};
  w->proc.data = w;
  rc = uv_spawn(&f->loop, &w->proc, &po);
  free(args);
  if (rc) {
    /* The handle was registered before the failure: only uv_close releases it. */
    uv_close((uv_handle_t *)&w->proc, NULL);
    return rc;
  }
  w->started = 1;
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&w->pipe, &fd) == 0)
    w->fd = fd;
  return 0;
}

/* Waits for every worker's "ready PORT" line. 0, or the exit code after saying what failed. */
static int await_ready(struct front *f, uint16_t port) {
  uint64_t deadline = now_ms() + PLAT_WORKER_START_MS;
  for (unsigned i = 0; i < f->n; i++) {
    char *line = NULL;
    int rc = read_line(&f->w[i], deadline, &line);
    unsigned got = 0;
    if (rc == 0 && (sscanf(line, "ready %u", &got) != 1 || got != port))
      rc = SIM_EMALFORMED;
    free(line);
    if (rc) {
      /* A worker that ended says why on stderr itself; exit_cb adds its status. */
      fprintf(stderr, "hubsim platform: worker %u did not start listening on port %u: %s\n", i,
              port, rc == SIM_ECLOSED ? "it ended" : sim_strerror(rc));
      return 3;
    }
  }
  return 0;
}

/* Binds host:port once with SO_REUSEPORT to learn the port every worker will listen on (port
 * 0: the kernel picks one). The socket is kept, bound but not listening, until the workers
 * listen, so that no other program takes the port meanwhile. *fd, *bound; 0 or the exit code. */
static int reserve_port(const char *host, uint16_t port, int *fd, uint16_t *bound) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int on = 1;
  if (uv_ip4_addr(host, port, &sa)) {
    fprintf(stderr, "hubsim platform: cannot listen on %s:%u: not an IPv4 address\n", host, port);
    return 3;
  }
  *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*fd < 0 || setsockopt(*fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) ||
      bind(*fd, (struct sockaddr *)&sa, sizeof sa) ||
      getsockname(*fd, (struct sockaddr *)&sa, &len)) {
    fprintf(stderr, "hubsim platform: cannot listen on %s:%u: %s\n", host, port, strerror(errno));
    if (*fd >= 0)
      close(*fd);
    *fd = -1;
    return 3;
  }
  *bound = ntohs(sa.sin_port);
  return 0;
}

/* The admin front: a platform server with no hubs (an in-memory transport nothing connects to,
 * an in-memory store) that serves the admin port (token, idle time, client cap: admin.c) and
 * routes each line to the workers (route()). 0 or the exit code. */
static int start_front_admin(struct front *f, const struct plat_workers_opts *o) {
  struct plat_config fc = {0};
  int rc;
  fc.listen = "plat-front:1";
  fc.db_path = ":memory:";
  fc.admin = o->cfg->admin;
  fc.admin_token = o->cfg->admin_token;
  fc.admin_idle_s = o->cfg->admin_idle_s;
  if ((rc = sim_transport_mem_new(&f->loop, &f->mem)) ||
      (rc = plat_server_new(&f->loop, f->mem, &fc, &f->srv))) {
    fprintf(stderr, "hubsim platform: admin front: %s\n", sim_strerror(rc));
    return 3;
  }
  f->srv->admin_route = route;
  f->srv->admin_route_arg = f;
  if ((rc = plat_server_start(f->srv))) {
    fprintf(stderr, "hubsim platform: cannot listen for admin on %s: %s\n", o->cfg->admin,
            sim_strerror(rc));
    return 3;
  }
  return 0;
}

/* After every worker ended: their final counters, summed, on stderr as one process prints its
 * own ("platform: counters {...}"), when every worker sent them. */
static void print_final(struct front *f) {
  json_t *sum = json_object();
  unsigned got = 0;
  for (unsigned i = 0; i < f->n; i++) {
    char *line = NULL;
    /* The worker wrote its last line before it exited: it is in the socket already. */
    while (read_line(&f->w[i], now_ms(), &line) == 0) {
      if (strncmp(line, "final ", 6) == 0) {
        json_t *o = json_loads(line + 6, 0, NULL);
        if (json_is_object(o)) {
          sum_into(sum, o);
          got++;
        }
        json_decref(o);
      }
      free(line);
      line = NULL;
    }
  }
  char *s = got == f->n ? json_dumps(sum, JSON_COMPACT) : NULL;
  if (s)
    fprintf(stderr, "platform: counters %s\n", s);
  else
    fprintf(stderr, "platform: counters of %u of %u workers only: no sum printed\n", got, f->n);
  free(s);
  json_decref(sum);
}

int plat__workers_run(const struct plat_workers_opts *o) {
  struct front f = {0};
  int code = 0, rfd = -1;
  uint16_t port = 0;
  char **env = NULL;
  if ((code = reserve_port(o->host, o->port, &rfd, &port)))
    return code;
  if (uv_loop_init(&f.loop) || !(f.w = calloc(o->n, sizeof *f.w))) {
    close(rfd);
    return 3;
  }
  f.n = o->n;
  size_t nenv = 0;
  extern char **environ;
  while (environ[nenv])
    nenv++;
  if (!(env = calloc(nenv + 2, sizeof *env))) {
    code = 3;
    goto out;
  }
  for (size_t i = 0, k = 0; i < nenv; i++) /* a worker's own place replaces an inherited one */
    if (strncmp(environ[i], PLAT_WORKER_ENV "=", sizeof PLAT_WORKER_ENV) != 0)
      env[k++] = environ[i], env[k] = NULL;
  size_t kept = 0;
  while (env[kept])
    kept++;
  uv_signal_init(&f.loop, &f.sigint);
  uv_signal_init(&f.loop, &f.sigterm);
  f.sigint.data = f.sigterm.data = &f;
  uv_signal_start(&f.sigint, front_signal_cb, SIGINT);
  uv_signal_start(&f.sigterm, front_signal_cb, SIGTERM);
  for (unsigned i = 0; i < f.n; i++) {
    f.w[i].f = &f;
    f.w[i].index = i;
    f.w[i].fd = -1;
    sim_buf_init(&f.w[i].in);
    int rc = spawn_worker(&f, i, o, port, env, kept);
    if (rc) {
      fprintf(stderr, "hubsim platform: cannot start worker %u: %s\n", i, sim_strerror(rc));
      code = 3;
      break;
    }
  }
  if (!code)
    code = await_ready(&f, port);
  close(rfd);
  if (!code && o->cfg->admin)
    code = start_front_admin(&f, o);
  if (!code && o->ready && plat__write_ready(o->ready, port)) {
    fprintf(stderr, "hubsim platform: cannot write --ready-file %s\n", o->ready);
    code = 3;
  }
  if (code) {
    f.failed = 1;
    front_stop(&f);
  } else if (o->cfg->admin) {
    SIM_LOGI("platform: listening on port %u, admin on port %u, database %s, %u workers", port,
             plat_server_admin_port(f.srv), o->db_path, f.n);
  } else {
    SIM_LOGI("platform: listening on port %u, database %s, %u workers", port, o->db_path, f.n);
  }
  uv_run(&f.loop, UV_RUN_DEFAULT);
  print_final(&f);
  for (unsigned i = 0; i < f.n; i++)
    if (f.w[i].piped && !uv_is_closing((uv_handle_t *)&f.w[i].pipe))
      uv_close((uv_handle_t *)&f.w[i].pipe, NULL);
  if (f.usage)
    code = 2;
  else if (f.failed && !code)
    code = 3;
out:
  for (unsigned i = 0; f.w && i < f.n; i++)
    sim_buf_fini(&f.w[i].in);
  if (f.srv)
    plat_server_free(f.srv);
  if (f.mem)
    sim_transport_free(f.mem);
  uv_run(&f.loop, UV_RUN_NOWAIT);
  if (uv_loop_close(&f.loop))
    SIM_LOGD("platform: the front's loop still had handles at exit");
  free(f.w);
  free(env);
  return code;
}
