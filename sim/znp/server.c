/* A ZNP coordinator on a TCP listener or a pseudo-terminal: see server.h. Writes are small (one
 * MT frame each), so each is copied into its own request; the host reads them in order. On a
 * pseudo-terminal, sim/znp/pty queues them. */
#include "sim/znp/server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/log.h"
#include "sim/znp/pty.h"

struct sim_znp_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_timer_t timer;        /* the devices' next wakeup */
  uv_tcp_t *client;        /* the host, or NULL */
  struct sim_znp_pty *pty; /* served on a pseudo-terminal instead of TCP: no listener */
  int port;
  int open_handles;
  char rbuf[4096];       /* reads land here; the coordinator consumes them before the next read */
  size_t npending;       /* devices queued to join when the host permits joining */
  size_t njoined;        /* of them, those that joined (in queue order) */
  uv_timer_t join_timer; /* the next queued device's turn */
  struct {
    const struct sim_model *m;
    uint64_t ieee;
    int in_network; /* in the network from NV without joining (sim_znp_coord_resume) */
  } pending[SIM_ZNP_SERVER_MAX_PENDING];
  uint32_t resumed_starts; /* the coordinator's starts when the NV tables were last looked at */
  struct sim_znp_coord coord;
};

struct write_req {
  uv_write_t req;
  uint8_t data[SIM_ZNP_MAX_FRAME];
};

static void maybe_free(struct sim_znp_server *s) {
  if (s->open_handles == 0) {
    sim_znp_coord_fini(&s->coord);
    free(s);
  }
}

static void handle_closed_cb(uv_handle_t *h) {
  struct sim_znp_server *s = h->data;
  if (h != (uv_handle_t *)&s->listener && h != (uv_handle_t *)&s->timer &&
      h != (uv_handle_t *)&s->join_timer)
    free(h);
  s->open_handles--;
  maybe_free(s);
}

static void write_cb(uv_write_t *req, int status) {
  (void)status; /* a failed write means the host went; the read side sees it and closes */
  free(req);
}

/* A host that sends requests but never reads their answers is dropped once this much waits
 * to be written, rather than buffered without end. */
#define WRITE_QUEUE_MAX (1u << 20)

static void close_client(struct sim_znp_server *s);

static int send_cb(void *ctx, const uint8_t *p, size_t n) {
  struct sim_znp_server *s = ctx;
  if (s->pty) {
    int rc = sim_znp_pty_write(s->pty, p, n);
    if (rc == SIM_EFULL)
      SIM_LOGW("znp: host on %s reads none of its answers; answers dropped",
               sim_znp_pty_slave(s->pty));
    return rc;
  }
  if (!s->client)
    return SIM_ECLOSED;
  if (uv_stream_get_write_queue_size((uv_stream_t *)s->client) > WRITE_QUEUE_MAX) {
    SIM_LOGW("znp: host on port %d reads none of its answers; disconnected", s->port);
    close_client(s);
    return SIM_EFULL;
  }
  struct write_req *w = malloc(sizeof *w);
  if (!w)
    return SIM_ENOMEM;
  memcpy(w->data, p, n);
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
  int rc = uv_write(&w->req, (uv_stream_t *)s->client, &b, 1, write_cb);
  if (rc != 0)
    free(w);
  return rc;
}

static void close_client(struct sim_znp_server *s) {
  if (!s->client)
    return;
  uv_close((uv_handle_t *)s->client, handle_closed_cb);
  s->client = NULL;
}

static void timer_cb(uv_timer_t *t);

/* Arms the timer for the devices' earliest wakeup (stopped when none is due). */
static void arm_timer(struct sim_znp_server *s) {
  uint64_t due = sim_znp_coord_next_due(&s->coord);
  if (due == UINT64_MAX) {
    uv_timer_stop(&s->timer);
    return;
  }
  uint64_t now = uv_now(s->loop);
  uv_timer_start(&s->timer, timer_cb, due > now ? due - now : 0, 0);
}

/* The devices' timers run whether a host is connected or not, as devices do on the air: what
 * they send while no host listens is lost. */
static void timer_cb(uv_timer_t *t) {
  struct sim_znp_server *s = t->data;
  sim_znp_coord_tick(&s->coord, uv_now(s->loop));
  arm_timer(s);
}

static void join_timer_cb(uv_timer_t *t);

/* The next queued device joins, if the network is open, and the one after it
 * SIM_ZNP_SERVER_JOIN_GAP_MS later: devices are paired one after the other, as by hand. */
static void join_next(struct sim_znp_server *s) {
  uint64_t now = uv_now(s->loop);
  /* Devices the coordinator's NV lists as joined are in its network again without joining,
   * looked up once each time the network comes up. */
  if (s->coord.state == SIM_ZNP_DEV_ZB_COORD && s->resumed_starts != s->coord.starts) {
    s->resumed_starts = s->coord.starts;
    for (size_t i = s->njoined; i < s->npending; i++)
      if (!s->pending[i].in_network &&
          sim_znp_coord_resume(&s->coord, s->pending[i].m, s->pending[i].ieee, now) == 0)
        s->pending[i].in_network = 1;
  }
  while (s->njoined < s->npending && s->pending[s->njoined].in_network)
    s->njoined++;
  if (s->njoined >= s->npending || s->coord.state != SIM_ZNP_DEV_ZB_COORD ||
      !sim_znp_coord_permit_open(&s->coord, now))
    return;
  size_t i = s->njoined++;
  uint16_t nwk = 0;
  int rc = sim_znp_coord_join(&s->coord, s->pending[i].m, s->pending[i].ieee, now, &nwk);
  if (rc != 0)
    SIM_LOGW("znp: device %016llx could not join: %s", (unsigned long long)s->pending[i].ieee,
             sim_strerror(rc));
  else
    SIM_LOGI("znp: device %016llx joined as 0x%04x", (unsigned long long)s->pending[i].ieee, nwk);
  while (s->njoined < s->npending && s->pending[s->njoined].in_network)
    s->njoined++;
  if (s->njoined < s->npending)
    uv_timer_start(&s->join_timer, join_timer_cb, SIM_ZNP_SERVER_JOIN_GAP_MS, 0);
  arm_timer(s);
}

static void join_timer_cb(uv_timer_t *t) {
  join_next(t->data);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct sim_znp_server *s = h->data;
  *buf = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

static void host_input(struct sim_znp_server *s, const uint8_t *p, size_t n);

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  struct sim_znp_server *s = st->data;
  if (n < 0) {
    SIM_LOGI("znp: host on port %d disconnected (%s)", s->port, uv_strerror((int)n));
    close_client(s);
    return;
  }
  if (n > 0)
    host_input(s, (const uint8_t *)buf->base, (size_t)n);
}

/* Bytes from the host, whichever way it is connected. */
static void host_input(struct sim_znp_server *s, const uint8_t *p, size_t n) {
  uint64_t now = uv_now(s->loop);
  sim_znp_coord_input(&s->coord, p, n, now);
  /* The queued devices join once the host has opened the network, after its answers; a join
   * or a command may have scheduled a wakeup, a reset dropped them. */
  sim_znp_server_kick(s);
}

int sim_znp_server_add_device(struct sim_znp_server *s, const struct sim_model *m, uint64_t ieee) {
  if (s->npending >= SIM_ZNP_SERVER_MAX_PENDING)
    return SIM_EFULL;
  s->pending[s->npending].m = m;
  s->pending[s->npending].ieee = ieee;
  s->pending[s->npending].in_network = 0;
  s->npending++;
  return 0;
}

size_t sim_znp_server_queued(const struct sim_znp_server *s, size_t i, const struct sim_model **m,
                             uint64_t *ieee) {
  if (i < s->npending) {
    *m = s->pending[i].m;
    *ieee = s->pending[i].ieee;
  }
  return s->npending;
}

void sim_znp_server_kick(struct sim_znp_server *s) {
  if (s->npending > s->njoined && !uv_is_active((uv_handle_t *)&s->join_timer))
    join_next(s);
  arm_timer(s);
}

static void connection_cb(uv_stream_t *ls, int status) {
  struct sim_znp_server *s = ls->data;
  if (status < 0)
    return;
  uv_tcp_t *t = malloc(sizeof *t);
  if (!t)
    return;
  uv_tcp_init(s->loop, t);
  t->data = s;
  s->open_handles++;
  if (uv_accept(ls, (uv_stream_t *)t) != 0 || s->client) {
    if (s->client)
      SIM_LOGW("znp: port %d already has a host; a second connection was closed", s->port);
    uv_close((uv_handle_t *)t, handle_closed_cb);
    return;
  }
  uv_tcp_nodelay(t, 1);
  s->client = t;
  sim_znp_coord_reconnect(&s->coord);
  if (uv_read_start((uv_stream_t *)t, alloc_cb, read_cb) != 0)
    close_client(s);
  else
    SIM_LOGI("znp: host connected on port %d", s->port);
}

/* The coordinator of NV file nv_path and the devices' timers, not yet served. */
static int server_alloc(uv_loop_t *loop, const char *nv_path, struct sim_znp_server **out,
                        char *why, size_t cap) {
  struct sim_znp_server *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(why, cap, "out of memory");
    return SIM_ENOMEM;
  }
  s->loop = loop;
  char sub[256];
  int rc = sim_znp_coord_init(&s->coord, nv_path, send_cb, s, sub, sizeof sub);
  if (rc != 0) {
    snprintf(why, cap, "NV file '%s': %s", nv_path ? nv_path : "", sub);
    free(s);
    return rc;
  }
  s->coord.join_delay_ms = SIM_ZNP_SERVER_JOIN_DELAY_MS;
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  uv_timer_init(loop, &s->join_timer);
  s->join_timer.data = s;
  s->open_handles = 2;
  *out = s;
  return 0;
}

int sim_znp_server_new(uv_loop_t *loop, const char *host, int port, const char *nv_path,
                       struct sim_znp_server **out, char *why, size_t cap) {
  struct sockaddr_in sa;
  if (uv_ip4_addr(host, port, &sa) != 0) {
    snprintf(why, cap, "'%s' is not an IPv4 address", host);
    return SIM_EINVAL;
  }
  struct sim_znp_server *s;
  int rc = server_alloc(loop, nv_path, &s, why, cap);
  if (rc != 0)
    return rc;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  s->open_handles++;
  rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, 4, connection_cb);
  if (rc == 0) {
    struct sockaddr_in bound;
    int len = sizeof bound;
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    s->port = ntohs(bound.sin_port);
  }
  if (rc != 0) {
    snprintf(why, cap, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
    sim_znp_server_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

static void pty_read_cb(void *ctx, const uint8_t *p, size_t n) {
  host_input(ctx, p, n);
}

/* A host opened the pseudo-terminal again: as a TCP host reconnecting, the radio stays. */
static void pty_open_cb(void *ctx) {
  struct sim_znp_server *s = ctx;
  sim_znp_coord_reconnect(&s->coord);
}

int sim_znp_server_new_pty(uv_loop_t *loop, const char *path, const char *nv_path,
                           struct sim_znp_server **out, char *why, size_t cap) {
  struct sim_znp_server *s;
  int rc = server_alloc(loop, nv_path, &s, why, cap);
  if (rc != 0)
    return rc;
  rc = sim_znp_pty_open(loop, path, pty_read_cb, pty_open_cb, s, &s->pty, why, cap);
  if (rc != 0) {
    sim_znp_server_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

const char *sim_znp_server_pty(const struct sim_znp_server *s) {
  return s->pty ? sim_znp_pty_slave(s->pty) : NULL;
}

int sim_znp_server_port(const struct sim_znp_server *s) {
  return s->port;
}

struct sim_znp_coord *sim_znp_server_coord(struct sim_znp_server *s) {
  return &s->coord;
}

void sim_znp_server_close(struct sim_znp_server *s) {
  close_client(s);
  if (s->pty) {
    sim_znp_pty_close(s->pty); /* no callback of it runs after this */
    s->pty = NULL;
  }
  uv_close((uv_handle_t *)&s->timer, handle_closed_cb);
  uv_close((uv_handle_t *)&s->join_timer, handle_closed_cb);
  if (s->listener.loop) /* TCP only */
    uv_close((uv_handle_t *)&s->listener, handle_closed_cb);
}
