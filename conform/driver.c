/* The driver of the conformance suite: see driver.h.
 *
 * Why libuv and not plain sockets with poll(): hubsim's transports (tcp and tls) are libuv
 * transports, and reusing them is what lets every case run over hubrpcs:// unchanged, with the
 * certificate checks hubsim's hubs make. The synchronous style is kept by running the loop
 * one event at a time until the awaited condition holds or a one-shot timer fires. */
#include "conform/driver.h"

#include <string.h>
#include <time.h>

#include "sim/core/err.h"
#include "sim/transport/tls.h"
#include "sim/wire/frame.h"

uint64_t conform_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The deadline of a wait. uv_stop() because libuv may run a due timer at the top of an
 * iteration and then still block in its poll for I/O that never comes. */
static void timer_cb(uv_timer_t *t) {
  struct conform_drv *d = t->data;
  d->fired = 1;
  uv_stop(&d->loop);
}

/* Runs the loop until done(arg) or ms pass. 1 when done, 0 on timeout. */
static int run_until(struct conform_drv *d, int (*done)(void *), void *arg, uint32_t ms) {
  if (done && done(arg))
    return 1;
  d->fired = 0;
  uv_timer_start(&d->timer, timer_cb, ms, 0);
  while (!d->fired && !(done && done(arg)))
    uv_run(&d->loop, UV_RUN_ONCE);
  uv_timer_stop(&d->timer);
  return done && done(arg);
}

int conform_drv_init(struct conform_drv *d, const struct conform_opts *o, const char **why) {
  memset(d, 0, sizeof(*d));
  d->o = o;
  *why = NULL;
  int rc = uv_loop_init(&d->loop);
  if (rc)
    return rc;
  uv_timer_init(&d->loop, &d->timer);
  d->timer.data = d;
  if (o->tls) {
    struct sim_tls_config cfg = {
        .ca_file = o->ca, .insecure = o->insecure, .handshake_timeout_ms = o->timeout_ms};
    rc = sim_transport_tls_new(&d->loop, &cfg, &d->t, why);
  } else {
    rc = sim_transport_tcp_new(&d->loop, &d->t);
  }
  if (rc) {
    uv_close((uv_handle_t *)&d->timer, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_loop_close(&d->loop);
  }
  return rc;
}

void conform_drv_fini(struct conform_drv *d) {
  uv_close((uv_handle_t *)&d->timer, NULL);
  uv_run(&d->loop, UV_RUN_DEFAULT);
  sim_transport_free(d->t);
  uv_run(&d->loop, UV_RUN_DEFAULT);
  uv_loop_close(&d->loop);
}

void conform_conn_init(struct conform_conn *c, struct conform_drv *d) {
  memset(c, 0, sizeof(*c));
  c->d = d;
  sim_buf_init(&c->in);
}

static void on_connect(struct sim_conn *sc, int status, void *user) {
  struct conform_conn *c = user;
  (void)sc;
  if (status) {
    c->c = NULL; /* a failed connect is gone: no closed_cb follows */
    c->err = status;
    c->state = CONFORM_CLOSED;
    return;
  }
  c->state = CONFORM_OPEN;
}

static void on_data(struct sim_conn *sc, const uint8_t *p, size_t n, void *user) {
  struct conform_conn *c = user;
  (void)sc;
  if (sim_buf_append(&c->in, p, n))
    c->err = SIM_ENOMEM;
}

static void on_closed(struct sim_conn *sc, int err, void *user) {
  struct conform_conn *c = user;
  (void)sc;
  c->c = NULL;
  c->err = err;
  c->state = CONFORM_CLOSED;
}

static const struct sim_conn_cbs conn_cbs = {on_connect, on_data, on_closed};

static int connected(void *arg) {
  return ((struct conform_conn *)arg)->state != CONFORM_CONNECTING;
}

int conform_connect(struct conform_drv *d, struct conform_conn *c) {
  /* The hub fields stay: a case sets them before it connects. */
  c->d = d;
  c->state = CONFORM_CONNECTING;
  c->err = 0;
  c->in.len = 0;
  int rc = sim_conn_connect(d->t, &d->o->addr, NULL, &conn_cbs, c, &c->c);
  if (rc) {
    c->state = CONFORM_CLOSED;
    c->err = rc;
    return rc;
  }
  if (!run_until(d, connected, c, d->o->timeout_ms)) {
    conform_close(c);
    return SIM_ETIMEOUT;
  }
  return c->state == CONFORM_OPEN ? 0 : (c->err ? c->err : SIM_ECLOSED);
}

int conform_send_raw(struct conform_conn *c, const void *p, size_t n) {
  if (!c->c)
    return SIM_ECLOSED;
  return sim_conn_send(c->c, p, n);
}

int conform_send(struct conform_conn *c, const sim_envelope *env) {
  struct sim_buf b;
  sim_buf_init(&b);
  int rc = sim_hubrpc_encode(&b, env);
  if (!rc)
    rc = conform_send_raw(c, b.data, b.len);
  sim_buf_fini(&b);
  return rc;
}

/* Whether c holds a complete frame (or a framing error) or has ended. */
static int frame_ready(void *arg) {
  struct conform_conn *c = arg;
  size_t hdr, body;
  int rc = sim_frame_peek(c->in.data, c->in.len, SIM_FRAME_MAX, &hdr, &body);
  if (rc == 0)
    return c->in.len >= hdr + body;
  return rc != SIM_EAGAIN || c->state == CONFORM_CLOSED;
}

int conform_recv(struct conform_conn *c, uint32_t ms, sim_envelope **out) {
  if (!run_until(c->d, frame_ready, c, ms))
    return SIM_ETIMEOUT;
  size_t hdr, body;
  int rc = sim_frame_peek(c->in.data, c->in.len, SIM_FRAME_MAX, &hdr, &body);
  if (rc == SIM_EAGAIN || (rc == 0 && c->in.len < hdr + body))
    return SIM_ECLOSED; /* ended, perhaps inside a frame */
  if (rc)
    return rc;
  rc = sim_hubrpc_decode(c->in.data + hdr, body, out);
  sim_buf_consume(&c->in, hdr + body);
  return rc;
}

int conform_wait_closed(struct conform_conn *c, uint32_t ms, sim_envelope **out) {
  *out = NULL;
  int rc = conform_recv(c, ms, out);
  if (rc == 0)
    return 1;
  if (rc == SIM_ECLOSED)
    return 0;
  return rc == SIM_ETIMEOUT ? SIM_ETIMEOUT : 0; /* garbage, then the close: a close all the same */
}

void conform_pause(struct conform_drv *d, uint32_t ms) {
  run_until(d, NULL, NULL, ms);
}

void conform_close(struct conform_conn *c) {
  if (c->c)
    sim_conn_close(c->c);
  c->c = NULL;
  c->state = CONFORM_CLOSED;
  sim_buf_fini(&c->in);
}
