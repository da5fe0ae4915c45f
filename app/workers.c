#include "app/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/proc.h"

int app_worker_send(int fd, const struct sim_fleet_stats *st, const struct sim_tls_stats *tls,
                    const struct rec_capture_info *rec, double cpu_user_s, double cpu_sys_s,
                    int final) {
  static struct app_worker_msg m;
  m.magic = APP_WORKER_MAGIC;
  m.final = final ? 1u : 0u;
  m.cpu_user_s = cpu_user_s;
  m.cpu_sys_s = cpu_sys_s;
  m.max_rss_bytes = sim_proc_peak_rss();
  m.max_pss_bytes = sim_proc_pss_sample();
  m.st = *st;
  m.has_tls = tls ? 1u : 0u;
  if (tls)
    m.tls = *tls;
  else
    memset(&m.tls, 0, sizeof m.tls);
  m.has_record = rec ? 1u : 0u;
  memset(&m.rec, 0, sizeof m.rec);
  if (rec) {
    m.rec = *rec;
    m.rec.path = NULL; /* an address of the worker's: meaningless here */
  }
  const char *p = (const char *)&m;
  size_t left = sizeof(m);
  while (left) {
    ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    left -= (size_t)n;
  }
  return 0;
}

int app_worker_read_key(char *out, size_t cap, size_t *len) {
  if (fcntl(APP_WORKER_KEY_FD, F_GETFD) < 0)
    return SIM_ENOTFOUND;
  size_t n = 0;
  int rc = 0;
  for (;;) {
    char tmp[256];
    ssize_t r = read(APP_WORKER_KEY_FD, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = -errno;
      break;
    }
    if (r == 0)
      break;
    if (n + (size_t)r > cap) {
      rc = SIM_EINVAL;
      explicit_bzero(tmp, sizeof tmp);
      break;
    }
    memcpy(out + n, tmp, (size_t)r);
    n += (size_t)r;
    explicit_bzero(tmp, sizeof tmp);
  }
  close(APP_WORKER_KEY_FD);
  if (rc == 0)
    *len = n;
  return rc;
}

/* The read end of a pipe already holding the key and closed for writing (the key is far
 * below the pipe's capacity, so the write cannot block), or -errno. */
static int key_pipe(const void *key, size_t key_len) {
  int p[2];
  if (key_len > 4096)
    return -EINVAL;
  if (pipe2(p, O_CLOEXEC) != 0)
    return -errno;
  const char *c = key;
  size_t left = key_len;
  while (left) {
    ssize_t w = write(p[1], c, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int e = errno;
      close(p[0]);
      close(p[1]);
      return -e;
    }
    c += w;
    left -= (size_t)w;
  }
  close(p[1]);
  return p[0];
}

struct worker {
  struct app_workers *w;
  uv_process_t proc;
  uv_pipe_t pipe;
  struct sim_buf in;
  struct app_worker_msg *last; /* latest complete snapshot, NULL before the first */
  int exited;
  int status;
  int pipe_open;
};

struct app_workers {
  int n;
  int running;
  int handles; /* open process and pipe handles */
  void (*all_exited)(void *arg);
  void *arg;
  struct worker *ws;
};

/* Snapshots are fixed-size binary records; a read may end anywhere in one. */
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char scratch[65536];
  (void)h;
  (void)hint;
  *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void handle_closed(uv_handle_t *h) {
  struct worker *k = h->data;
  k->w->handles--;
}

static void maybe_all_exited(struct app_workers *w) {
  if (w->running == 0 && w->all_exited) {
    void (*cb)(void *) = w->all_exited;
    w->all_exited = NULL;
    cb(w->arg);
  }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct worker *k = s->data;
  if (n < 0) {
    if (k->pipe_open) {
      k->pipe_open = 0;
      uv_close((uv_handle_t *)&k->pipe, handle_closed);
    }
    return;
  }
  if (sim_buf_append(&k->in, buf->base, (size_t)n))
    return;
  while (k->in.len >= sizeof(struct app_worker_msg)) {
    const struct app_worker_msg *m = (const struct app_worker_msg *)k->in.data;
    if (m->magic == APP_WORKER_MAGIC) {
      if (!k->last)
        k->last = malloc(sizeof(*k->last));
      if (k->last)
        memcpy(k->last, k->in.data, sizeof(*k->last));
    }
    sim_buf_consume(&k->in, sizeof(struct app_worker_msg));
  }
}

static void on_worker_exit(uv_process_t *p, int64_t status, int signum) {
  struct worker *k = p->data;
  k->exited = 1;
  k->status = signum ? 128 + signum : (int)status;
  uv_close((uv_handle_t *)p, handle_closed);
  k->w->running--;
  maybe_all_exited(k->w);
}

int app_workers_start(uv_loop_t *loop, int n, const char *const *(*argv_of)(int k, void *arg),
                      void *arg, const void *key, size_t key_len, void (*all_exited)(void *arg),
                      struct app_workers **out) {
  struct app_workers *w = calloc(1, sizeof(*w));
  if (!w)
    return SIM_ENOMEM;
  w->ws = calloc((size_t)n, sizeof(*w->ws));
  if (!w->ws) {
    free(w);
    return SIM_ENOMEM;
  }
  w->n = n;
  w->all_exited = all_exited;
  w->arg = arg;
  int rc = 0;
  for (int i = 0; i < n; i++) {
    struct worker *k = &w->ws[i];
    k->w = w;
    sim_buf_init(&k->in);
    uv_pipe_init(loop, &k->pipe, 0);
    k->pipe.data = k;
    k->pipe_open = 1;
    w->handles++;
    uv_stdio_container_t stdio[5];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    stdio[3].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[3].data.stream = (uv_stream_t *)&k->pipe;
    int kfd = key_pipe(key, key_len);
    if (kfd < 0) {
      rc = kfd;
      k->exited = 1;
      k->status = 127;
      k->pipe_open = 0;
      uv_close((uv_handle_t *)&k->pipe, handle_closed);
      break;
    }
    stdio[4].flags = UV_INHERIT_FD;
    stdio[4].data.fd = kfd;
    const char *const *argv = argv_of(i, arg);
    uv_process_options_t opt = {0};
    opt.file = argv[0];
    opt.args = (char **)argv;
    opt.exit_cb = on_worker_exit;
    opt.stdio = stdio;
    opt.stdio_count = 5;
    k->proc.data = k;
    rc = uv_spawn(loop, &k->proc, &opt);
    close(kfd); /* the worker holds its own copy now */
    if (rc) {
      k->exited = 1;
      k->status = 127;
      k->pipe_open = 0;
      uv_close((uv_handle_t *)&k->pipe, handle_closed);
      /* libuv initialises the handle before it can fail: it must be closed all the same. */
      w->handles++;
      uv_close((uv_handle_t *)&k->proc, handle_closed);
      break;
    }
    w->handles++;
    w->running++;
    uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read);
  }
  *out = w;
  if (rc)
    app_workers_signal(w, SIGTERM); /* the others stop; all_exited still runs */
  if (rc && w->running == 0)
    maybe_all_exited(w);
  return rc;
}

void app_workers_merged(const struct app_workers *w, struct sim_fleet_stats *out,
                        double *cpu_user_s, double *cpu_sys_s, uint64_t *max_rss_bytes,
                        uint64_t *max_pss_bytes) {
  memset(out, 0, sizeof(*out));
  double cu = 0, cs = 0;
  uint64_t rss = 0, pss = 0;
  for (int i = 0; i < w->n; i++) {
    const struct app_worker_msg *m = w->ws[i].last;
    if (!m)
      continue;
    sim_fleet_stats_merge(out, &m->st);
    cu += m->cpu_user_s;
    cs += m->cpu_sys_s;
    rss += m->max_rss_bytes;
    pss += m->max_pss_bytes;
  }
  if (cpu_user_s)
    *cpu_user_s = cu;
  if (cpu_sys_s)
    *cpu_sys_s = cs;
  if (max_rss_bytes)
    *max_rss_bytes = rss;
  if (max_pss_bytes)
    *max_pss_bytes = pss;
}

int app_workers_merged_tls(const struct app_workers *w, struct sim_tls_stats *out) {
  int any = 0;
  memset(out, 0, sizeof(*out));
  sim_hist_init(&out->full_us);
  sim_hist_init(&out->resumed_us);
  for (int i = 0; i < w->n; i++) {
    const struct app_worker_msg *m = w->ws[i].last;
    if (!m || !m->has_tls)
      continue;
    sim_tls_stats_merge(out, &m->tls);
    any = 1;
  }
  return any;
}

int app_workers_merged_record(const struct app_workers *w, struct rec_capture_info *out) {
  int any = 0;
  memset(out, 0, sizeof(*out));
  for (int i = 0; i < w->n; i++) {
    const struct app_worker_msg *m = w->ws[i].last;
    if (!m || !m->has_record)
      continue;
    out->frames += m->rec.frames;
    out->payload += m->rec.payload;
    out->bytes += m->rec.bytes;
    out->dropped += m->rec.dropped;
    out->truncated |= m->rec.truncated;
    out->write_error |= m->rec.write_error;
    any = 1;
  }
  return any;
}

int app_workers_failed(const struct app_workers *w, int *status) {
  for (int i = 0; i < w->n; i++) {
    const struct worker *k = &w->ws[i];
    if (!k->exited || k->status != 0 || !k->last || !k->last->final) {
      *status = k->exited ? k->status : -1;
      return i;
    }
  }
  return -1;
}

void app_workers_signal(struct app_workers *w, int signum) {
  for (int i = 0; i < w->n; i++)
    if (!w->ws[i].exited && w->ws[i].proc.pid > 0)
      uv_process_kill(&w->ws[i].proc, signum);
}

void app_workers_free(struct app_workers *w) {
  if (!w)
    return;
  for (int i = 0; i < w->n; i++) {
    sim_buf_fini(&w->ws[i].in);
    free(w->ws[i].last);
  }
  free(w->ws);
  free(w);
}
