/* The capture's transport: a filter over the hubs' transport that records what a hub's
 * connection carries and otherwise does exactly what the transport below does. A connection of
 * a hub that is not recorded is the lower transport's own connection, returned unwrapped, so
 * only recorded hubs pay for the indirection. The packets of a connection are synthesised by
 * capture.c as one TCP conversation: SYN when the connect starts, SYN/ACK and ACK when it
 * succeeds (RST when it fails), data in each direction, FIN or RST at the end. */
#include <stdlib.h>
#include <string.h>

#include "recorders/capture.h"
#include "sim/core/err.h"
#include "sim/core/htab.h"

struct tap {
  struct sim_transport base; /* first: the ops are found through it */
  struct sim_transport *inner;
  struct rec_capture *cap;
  struct tap *next; /* the capture's list of taps */
};

struct tap_conn {
  struct sim_conn base; /* first: base.t is the tap */
  struct sim_conn *inner;
  const struct sim_conn_cbs *cbs;
  void *user;
  struct rec__flow fl;
  int connected;
};

static const struct sim_transport_ops tap_ops;

static struct rec_capture *cap_of(const struct tap_conn *tc) {
  return ((const struct tap *)tc->base.t)->cap;
}

/* Forgets tc: no packet of it follows. */
static void tc_free(struct tap_conn *tc) {
  sim_htab_del(rec__capture_conns(cap_of(tc)), (uint64_t)(uintptr_t)tc);
  free(tc);
}

static void tc_connect_cb(struct sim_conn *c, int status, void *user) {
  struct tap_conn *tc = user;
  struct rec_capture *cap = cap_of(tc);
  if (status == 0) {
    tc->inner = c;
    tc->connected = 1;
    rec__flow_ctl(cap, &tc->fl, REC__DOWN, REC__SYN | REC__ACK);
    rec__flow_ctl(cap, &tc->fl, REC__UP, REC__ACK);
    tc->cbs->connect_cb(&tc->base, status, tc->user);
    return;
  }
  /* The connection is gone: the owner hears of it, then tc goes. */
  rec__flow_ctl(cap, &tc->fl, REC__DOWN, REC__RST | REC__ACK);
  tc->cbs->connect_cb(&tc->base, status, tc->user);
  tc_free(tc);
}

/* Recorded before the owner sees the bytes: its callback may close the connection. */
static void tc_data_cb(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  struct tap_conn *tc = user;
  (void)c;
  rec__flow_data(cap_of(tc), &tc->fl, REC__DOWN, p, n);
  tc->cbs->data_cb(&tc->base, p, n, tc->user);
}

static void tc_closed_cb(struct sim_conn *c, int err, void *user) {
  struct tap_conn *tc = user;
  (void)c;
  rec__flow_ctl(cap_of(tc), &tc->fl, REC__DOWN, err ? REC__RST | REC__ACK : REC__FIN | REC__ACK);
  tc->cbs->closed_cb(&tc->base, err, tc->user);
  tc_free(tc);
}

static const struct sim_conn_cbs tc_cbs = {tc_connect_cb, tc_data_cb, tc_closed_cb};

static int tap_connect(struct sim_transport *t, const struct sim_addr *dst,
                       const struct sim_addr *src, const struct sim_conn_cbs *cbs, void *user,
                       struct sim_conn **out) {
  struct tap *tp = (struct tap *)t;
  uint32_t g;
  char id[80];
  if (rec__capture_hub_of(tp->cap, user, &g, id, sizeof id))
    return tp->inner->ops->connect(tp->inner, dst, src, cbs, user, out);
  struct tap_conn *tc = calloc(1, sizeof *tc);
  if (!tc)
    return SIM_ENOMEM;
  tc->base.t = t;
  tc->cbs = cbs;
  tc->user = user;
  struct sim_htab *conns = rec__capture_conns(tp->cap);
  int rc = sim_htab_put(conns, (uint64_t)(uintptr_t)tc, tc);
  if (rc) {
    free(tc);
    return rc;
  }
  /* The SYN first: a transport below may finish the connect before it returns. */
  rec__flow_init(tp->cap, &tc->fl, g);
  rec__flow_syn(tp->cap, &tc->fl, id);
  struct sim_conn *in = NULL;
  rc = tp->inner->ops->connect(tp->inner, dst, src, &tc_cbs, tc, &in);
  if (rc) {
    rec__flow_ctl(tp->cap, &tc->fl, REC__DOWN, REC__RST | REC__ACK);
    tc_free(tc);
    return rc;
  }
  if (!tc->inner)
    tc->inner = in;
  *out = &tc->base;
  return 0;
}

/* Every accepted connection is the lower transport's own: nothing listens through a tap. */
static int tap_listen(struct sim_transport *t, const struct sim_addr *addr, sim_accept_cb cb,
                      void *user, struct sim_listener **out) {
  struct tap *tp = (struct tap *)t;
  return tp->inner->ops->listen(tp->inner, addr, cb, user, out);
}

static int tap_start(struct sim_conn *c, const struct sim_conn_cbs *cbs, void *user) {
  (void)c, (void)cbs, (void)user;
  return SIM_EINVAL; /* never accepted through the tap (tap_listen) */
}

/* Recorded before the transport below takes the bytes, so that an answer delivered at once
 * can never appear before its question. */
static int tap_send(struct sim_conn *c, const void *p, size_t n) {
  struct tap_conn *tc = (struct tap_conn *)c;
  if (!tc->connected || !tc->inner)
    return SIM_ECLOSED;
  rec__flow_data(cap_of(tc), &tc->fl, REC__UP, p, n);
  return sim_conn_send(tc->inner, p, n);
}

static int tap_pause(struct sim_conn *c, int paused) {
  struct tap_conn *tc = (struct tap_conn *)c;
  return tc->inner ? sim_conn_pause(tc->inner, paused) : SIM_ECLOSED;
}

static size_t tap_pending(const struct sim_conn *c) {
  const struct tap_conn *tc = (const struct tap_conn *)c;
  return tc->inner ? sim_conn_pending(tc->inner) : 0;
}

static void tap_close(struct sim_conn *c) {
  struct tap_conn *tc = (struct tap_conn *)c;
  rec__flow_ctl(cap_of(tc), &tc->fl, REC__UP,
                tc->connected ? REC__FIN | REC__ACK : REC__RST | REC__ACK);
  if (tc->inner)
    sim_conn_close(tc->inner);
  tc_free(tc);
}

static void tap_listener_close(struct sim_listener *l) {
  (void)l; /* listeners are the lower transport's (tap_listen) */
}

static uint16_t tap_listener_port(const struct sim_listener *l) {
  (void)l;
  return 0;
}

static const struct sim_transport_ops tap_ops = {
    "capture", tap_connect, tap_listen, tap_start,          tap_send,
    tap_pause, tap_pending, tap_close,  tap_listener_close, tap_listener_port,
};

int rec_capture_wrap(struct rec_capture *cap, struct sim_transport *inner,
                     struct sim_transport **out) {
  struct tap *tp = calloc(1, sizeof *tp);
  if (!tp)
    return SIM_ENOMEM;
  tp->base.ops = &tap_ops;
  tp->base.loop = inner->loop;
  tp->inner = inner;
  tp->cap = cap;
  struct tap **head = (struct tap **)rec__capture_taps(cap);
  tp->next = *head;
  *head = tp;
  *out = &tp->base;
  return 0;
}

void *rec_capture_user(const struct rec_capture *cap, void *user) {
  struct tap_conn *tc =
      sim_htab_get(rec__capture_conns((struct rec_capture *)cap), (uint64_t)(uintptr_t)user);
  return tc ? tc->user : user;
}

/* The taps of cap, and connections still tracked (a run that ended without closing them). */
void rec__capture_taps_free(struct rec_capture *cap) {
  struct sim_htab *conns = rec__capture_conns(cap);
  size_t it = 0;
  struct tap_conn *tc;
  while ((tc = sim_htab_next(conns, &it)))
    free(tc);
  sim_htab_fini(conns);
  struct tap **head = (struct tap **)rec__capture_taps(cap);
  while (*head) {
    struct tap *tp = *head;
    *head = tp->next;
    free(tp);
  }
}
