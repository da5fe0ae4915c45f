/* The mem transport: connected pairs inside one process, for tests and the virtual clock.
 *
 * Everything a call causes for someone else (accept, connect result, bytes, end of stream) is
 * an event in one FIFO per transport, delivered later from a uv_idle handle, never inside the
 * call that caused it. That keeps the re-entrancy rules of tcp (no callback inside connect,
 * send or close), and one FIFO keeps the order of every connection's bytes and its end.
 *
 * Why uv_idle and not uv_prepare + uv_async: everything happens on the loop's own thread, so
 * there is nobody to wake up (uv_async is a cross-thread wakeup through an eventfd). An active
 * idle handle makes the loop poll with a zero timeout, which is exactly "run again as soon as
 * possible"; it is stopped when the FIFO is empty, so a loop with nothing else to do exits, and
 * closed once the transport holds no connection or listener, so the caller's uv_loop_close()
 * finds no handle of ours. Each run of the idle callback delivers only the events queued before
 * it started: a ping-pong between two connections then yields to timers and I/O every turn.
 *
 * Pausing (sim_conn_pause) parks the DATA and CLOSED events of a connection on the connection
 * itself as they come up for delivery, in order; resuming puts them back at the head of the
 * FIFO. Parked events are not "busy": the virtual-clock driver moves time past a paused reader,
 * as a kernel buffer holds a paused tcp reader's bytes.
 *
 * Memory: a connection is freed when its owner is done with it and no queued event refers to
 * it (a reference count), so events never point at freed memory and closing never has to
 * search the queue. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/transport/internal.h"

enum mem_ev_kind { MEM_EV_CONNECT, MEM_EV_DATA, MEM_EV_CLOSED };

/* One delivery. CONNECT and CLOSED happen at most once per connection and live inside it, so
 * connecting and closing never allocate (and never fail half-way); DATA is allocated with its
 * bytes. */
struct mem_ev {
  struct mem_ev *next;
  struct mem_conn *to;   /* holds a reference */
  struct mem_conn *from; /* DATA: the sender, holds a reference (for its pending count) */
  uint8_t *data;
  size_t n;
  uint8_t kind;     /* enum mem_ev_kind */
  uint8_t embedded; /* part of a struct mem_conn, not allocated */
};

enum mem_state {
  MEM_CONNECTING, /* waiting for the CONNECT event */
  MEM_ACCEPTED,   /* handed to the accept callback, not started */
  MEM_OPEN,
  MEM_ENDED, /* closed by the owner, or ended by the transport: no owner callback any more */
};

struct mem_transport;

struct mem_conn {
  struct sim_conn base;
  struct mem_conn *peer; /* NULL before pairing and once either side closed */
  const struct sim_conn_cbs *cbs;
  void *user;
  struct sim_addr dst;     /* where a client connects */
  struct sim_buf early;    /* bytes sent while still connecting */
  size_t pending;          /* sent, not yet delivered to the peer */
  struct mem_ev conn_ev;   /* this client's CONNECT */
  struct mem_ev closed_ev; /* the CLOSED this connection receives when its peer closes */
  struct mem_ev *parked, *parked_tail; /* held back while paused, in order */
  unsigned refs;                       /* the owner's, plus one per queued event naming it */
  uint8_t state;                       /* enum mem_state */
  uint8_t paused;
};

struct mem_listener {
  struct sim_listener base;
  struct mem_listener *next;
  struct sim_addr addr;
  sim_accept_cb cb;
  void *user;
};

struct mem_transport {
  struct sim_transport base;
  uv_idle_t *idle; /* NULL while quiet; heap, so it can outlive the transport while closing */
  struct mem_ev *head, *tail;
  struct mem_listener *listeners;
  size_t live; /* connections and listeners not freed yet */
  uint16_t next_port;
};

static struct mem_transport *mem_tp(struct sim_transport *t) {
  return (struct mem_transport *)t;
}

static void mem_idle_free_cb(uv_handle_t *h) {
  free(h);
}

/* Closes the idle handle once there is nothing left that could queue an event. */
static void mem_quiesce(struct mem_transport *tp) {
  if (tp->live == 0 && !tp->head && tp->idle) {
    uv_close((uv_handle_t *)tp->idle, mem_idle_free_cb);
    tp->idle = NULL;
  }
}

static void mem_unref(struct mem_conn *c) {
  assert(c->refs > 0);
  if (--c->refs)
    return;
  struct mem_transport *tp = mem_tp(c->base.t);
  sim_buf_fini(&c->early);
  free(c);
  tp->live--;
  mem_quiesce(tp);
}

static void mem_idle_cb(uv_idle_t *h);

int sim_transport_mem_busy(const struct sim_transport *t) {
  return ((const struct mem_transport *)t)->head != NULL;
}

static int mem_enqueue(struct mem_transport *tp, struct mem_ev *ev) {
  if (!tp->idle) {
    uv_idle_t *idle = malloc(sizeof *idle);
    if (!idle)
      return SIM_ENOMEM;
    uv_idle_init(tp->base.loop, idle); /* cannot fail */
    idle->data = tp;
    tp->idle = idle;
  }
  uv_idle_start(tp->idle, mem_idle_cb); /* no-op when already active */
  ev->next = NULL;
  ev->to->refs++;
  if (ev->from)
    ev->from->refs++;
  if (tp->tail)
    tp->tail->next = ev;
  else
    tp->head = ev;
  tp->tail = ev;
  return 0;
}

static struct mem_listener *mem_listener_find(struct mem_transport *tp, const struct sim_addr *a) {
  for (struct mem_listener *l = tp->listeners; l; l = l->next)
    if (l->addr.port == a->port && strcmp(l->addr.host, a->host) == 0)
      return l;
  return NULL;
}

static struct mem_conn *mem_conn_new(struct mem_transport *tp, uint8_t state) {
  struct mem_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->base.t = &tp->base;
  c->state = state;
  c->refs = 1;
  sim_buf_init(&c->early);
  tp->live++;
  return c;
}

/* The transport ends c under its owner: closed_cb once, then the owner's reference goes. */
static void mem_conn_end(struct mem_conn *c, int err) {
  c->state = MEM_ENDED;
  if (c->cbs && c->cbs->closed_cb)
    c->cbs->closed_cb(&c->base, err, c->user);
  mem_unref(c);
}

/* Queues the end of stream for c's peer and unpairs them. */
static void mem_conn_unpair(struct mem_conn *c) {
  struct mem_conn *p = c->peer;
  if (!p)
    return;
  p->peer = NULL;
  c->peer = NULL;
  p->closed_ev.kind = MEM_EV_CLOSED;
  p->closed_ev.embedded = 1;
  p->closed_ev.to = p;
  (void)mem_enqueue(mem_tp(c->base.t), &p->closed_ev); /* idle exists: p is live */
}

static void mem_deliver_connect(struct mem_transport *tp, struct mem_conn *c) {
  if (c->state != MEM_CONNECTING) /* closed by its owner meanwhile */
    return;
  struct mem_listener *l = mem_listener_find(tp, &c->dst);
  struct mem_conn *s = l ? mem_conn_new(tp, MEM_ACCEPTED) : NULL;
  if (!s) {
    c->state = MEM_ENDED; /* a failed connect: connect_cb only, no closed_cb */
    if (c->cbs && c->cbs->connect_cb)
      c->cbs->connect_cb(&c->base, l ? SIM_ENOMEM : UV_ECONNREFUSED, c->user);
    mem_unref(c);
    return;
  }
  s->peer = c;
  c->peer = s;
  c->state = MEM_OPEN;
  s->refs++; /* if the callee closes s, it must stay readable for the check below */
  l->cb(&l->base, &s->base, l->user);
  /* The callee must have started or closed it; anything else leaks a silent connection. */
  assert(s->state != MEM_ACCEPTED);
  mem_unref(s);
  if (c->early.len && c->peer) {
    struct mem_ev *ev = malloc(sizeof *ev + c->early.len);
    if (ev) {
      *ev = (struct mem_ev){.to = c->peer, .from = c, .kind = MEM_EV_DATA, .n = c->early.len};
      ev->data = (uint8_t *)(ev + 1);
      memcpy(ev->data, c->early.data, c->early.len);
      (void)mem_enqueue(tp, ev);
    } else {
      c->pending -= c->early.len; /* lost: the peer sees a gap, as after any ENOMEM */
    }
  }
  sim_buf_fini(&c->early);
  if (c->state == MEM_OPEN && c->cbs && c->cbs->connect_cb)
    c->cbs->connect_cb(&c->base, 0, c->user);
}

static void mem_deliver(struct mem_transport *tp, struct mem_ev *ev) {
  struct mem_conn *to = ev->to;
  switch (ev->kind) {
  case MEM_EV_CONNECT:
    mem_deliver_connect(tp, to);
    break;
  case MEM_EV_DATA:
    ev->from->pending -= ev->n;
    if (to->state == MEM_OPEN && to->cbs && to->cbs->data_cb)
      to->cbs->data_cb(&to->base, ev->data, ev->n, to->user);
    break;
  case MEM_EV_CLOSED:
    if (to->state == MEM_OPEN)
      mem_conn_end(to, 0);
    break;
  }
}

static size_t mem_deliver_all(struct mem_transport *tp);

static void mem_idle_cb(uv_idle_t *h) {
  mem_deliver_all(h->data);
}

size_t sim_transport_mem_deliver(struct sim_transport *t) {
  return mem_deliver_all(mem_tp(t));
}

/* Delivers the events queued so far (not those queued while delivering: they wait for the next
 * turn, so that one turn is bounded). Returns how many. */
static size_t mem_deliver_all(struct mem_transport *tp) {
  size_t n = 0;
  struct mem_ev *ev = tp->head;
  tp->head = tp->tail = NULL; /* events queued from here on wait for the next turn */
  while (ev) {
    struct mem_ev *next = ev->next;
    struct mem_conn *to = ev->to, *from = ev->from;
    if (to->paused && to->state == MEM_OPEN && ev->kind != MEM_EV_CONNECT) {
      /* Held back with its references until the owner resumes or closes. */
      ev->next = NULL;
      if (to->parked_tail)
        to->parked_tail->next = ev;
      else
        to->parked = ev;
      to->parked_tail = ev;
      ev = next;
      continue;
    }
    mem_deliver(tp, ev);
    if (!ev->embedded)
      free(ev);
    if (from)
      mem_unref(from);
    mem_unref(to); /* may close the idle handle: h is not used below */
    ev = next;
    n++;
  }
  if (!tp->head && tp->idle)
    uv_idle_stop(tp->idle);
  return n;
}

static int mem_connect(struct sim_transport *t, const struct sim_addr *dst,
                       const struct sim_addr *src, const struct sim_conn_cbs *cbs, void *user,
                       struct sim_conn **out) {
  struct mem_transport *tp = mem_tp(t);
  (void)src; /* nothing to bind: a mem address is only a name */
  struct mem_conn *c = mem_conn_new(tp, MEM_CONNECTING);
  if (!c)
    return SIM_ENOMEM;
  c->dst = *dst;
  c->cbs = cbs;
  c->user = user;
  c->conn_ev.kind = MEM_EV_CONNECT;
  c->conn_ev.embedded = 1;
  c->conn_ev.to = c;
  int rc = mem_enqueue(tp, &c->conn_ev);
  if (rc < 0) {
    mem_unref(c);
    return rc;
  }
  *out = &c->base;
  return 0;
}

static int mem_listen(struct sim_transport *t, const struct sim_addr *addr, sim_accept_cb cb,
                      void *user, struct sim_listener **out) {
  struct mem_transport *tp = mem_tp(t);
  struct sim_addr a = *addr;
  if (a.port == 0) {
    /* Like an ephemeral port: the next free number, so tests can listen on "name:0". */
    int tries = 0;
    do {
      a.port = ++tp->next_port ? tp->next_port : ++tp->next_port;
    } while (mem_listener_find(tp, &a) && ++tries < 65535);
  }
  if (mem_listener_find(tp, &a))
    return UV_EADDRINUSE;
  struct mem_listener *l = calloc(1, sizeof *l);
  if (!l)
    return SIM_ENOMEM;
  l->base.t = t;
  l->addr = a;
  l->cb = cb;
  l->user = user;
  l->next = tp->listeners;
  tp->listeners = l;
  tp->live++;
  *out = &l->base;
  return 0;
}

static int mem_start(struct sim_conn *sc, const struct sim_conn_cbs *cbs, void *user) {
  struct mem_conn *c = (struct mem_conn *)sc;
  if (c->state != MEM_ACCEPTED)
    return SIM_EINVAL;
  c->cbs = cbs;
  c->user = user;
  c->state = MEM_OPEN;
  return 0;
}

/* Bytes for a peer that already closed are dropped without an error, as a tcp write into a
 * dead connection succeeds: the sender learns of the end from its own closed_cb, which is
 * already queued. */
static int mem_send(struct sim_conn *sc, const void *p, size_t n) {
  struct mem_conn *c = (struct mem_conn *)sc;
  struct mem_transport *tp = mem_tp(sc->t);
  if (c->state == MEM_ENDED)
    return SIM_ECLOSED;
  if (n == 0)
    return 0;
  if (c->state == MEM_CONNECTING) {
    int rc = sim_buf_append(&c->early, p, n);
    if (rc == 0)
      c->pending += n;
    return rc;
  }
  if (!c->peer)
    return 0;
  struct mem_ev *ev = malloc(sizeof *ev + n);
  if (!ev)
    return SIM_ENOMEM;
  *ev = (struct mem_ev){.to = c->peer, .from = c, .kind = MEM_EV_DATA, .n = n};
  ev->data = (uint8_t *)(ev + 1);
  memcpy(ev->data, p, n);
  int rc = mem_enqueue(tp, ev);
  if (rc < 0) {
    free(ev);
    return rc;
  }
  c->pending += n;
  return 0;
}

/* Drops the events parked on c (its owner closed it): what a paused tcp reader's kernel buffer
 * does with unread bytes on close. */
static void mem_unpark_drop(struct mem_conn *c) {
  struct mem_ev *ev = c->parked;
  c->parked = c->parked_tail = NULL;
  while (ev) {
    struct mem_ev *next = ev->next;
    struct mem_conn *from = ev->from;
    if (ev->kind == MEM_EV_DATA)
      from->pending -= ev->n;
    if (!ev->embedded)
      free(ev);
    if (from)
      mem_unref(from);
    mem_unref(c);
    ev = next;
  }
}

static int mem_pause(struct sim_conn *sc, int paused) {
  struct mem_conn *c = (struct mem_conn *)sc;
  struct mem_transport *tp = mem_tp(sc->t);
  if (c->state != MEM_OPEN)
    return c->state == MEM_ENDED ? SIM_ECLOSED : SIM_EINVAL;
  c->paused = paused ? 1 : 0;
  if (paused || !c->parked)
    return 0;
  /* Ahead of everything queued since: those events came later. */
  c->parked_tail->next = tp->head;
  tp->head = c->parked;
  if (!tp->tail)
    tp->tail = c->parked_tail;
  c->parked = c->parked_tail = NULL;
  if (!tp->idle) {
    uv_idle_t *idle = malloc(sizeof *idle);
    if (!idle)
      return SIM_ENOMEM; /* the events are queued; the next enqueue starts the idle handle */
    uv_idle_init(tp->base.loop, idle);
    idle->data = tp;
    tp->idle = idle;
  }
  uv_idle_start(tp->idle, mem_idle_cb);
  return 0;
}

static size_t mem_pending(const struct sim_conn *sc) {
  return ((const struct mem_conn *)sc)->pending;
}

/* Bytes already sent stay queued ahead of the peer's end of stream, so they are delivered. */
static void mem_close(struct sim_conn *sc) {
  struct mem_conn *c = (struct mem_conn *)sc;
  if (c->state == MEM_ENDED)
    return;
  c->state = MEM_ENDED;
  mem_conn_unpair(c);
  sim_buf_fini(&c->early);
  mem_unpark_drop(c);
  mem_unref(c);
}

static void mem_listener_close(struct sim_listener *sl) {
  struct mem_listener *l = (struct mem_listener *)sl;
  struct mem_transport *tp = mem_tp(sl->t);
  for (struct mem_listener **pp = &tp->listeners; *pp; pp = &(*pp)->next) {
    if (*pp == l) {
      *pp = l->next;
      break;
    }
  }
  free(l);
  tp->live--;
  mem_quiesce(tp);
}

static uint16_t mem_listener_port(const struct sim_listener *sl) {
  return ((const struct mem_listener *)sl)->addr.port;
}

const struct sim_transport_ops sim__transport_mem_ops = {
    .name = "mem",
    .connect = mem_connect,
    .listen = mem_listen,
    .start = mem_start,
    .send = mem_send,
    .pause = mem_pause,
    .pending = mem_pending,
    .close = mem_close,
    .listener_close = mem_listener_close,
    .listener_port = mem_listener_port,
};

int sim_transport_mem_new(uv_loop_t *loop, struct sim_transport **out) {
  struct mem_transport *tp = calloc(1, sizeof *tp);
  if (!tp)
    return SIM_ENOMEM;
  tp->base.ops = &sim__transport_mem_ops;
  tp->base.loop = loop;
  *out = &tp->base;
  return 0;
}

void sim__transport_mem_free(struct sim_transport *t) {
  struct mem_transport *tp = mem_tp(t);
  /* Freeing with connections still open is the caller's bug: they point here. Queued events
   * hold references, so live == 0 also means the queue is empty. */
  assert(tp->live == 0 && !tp->head);
  if (tp->idle) /* normally closed already by mem_quiesce(); the handle frees itself */
    uv_close((uv_handle_t *)tp->idle, mem_idle_free_cb);
  free(tp);
}
