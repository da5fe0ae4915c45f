/* The tcp transport: libuv uv_tcp_t under the contract of transport.h.
 *
 * Memory is what limits the number of hubs per process, so a connection is one heap block of
 * under 400 bytes (uv_tcp_t is 248 of them) and nothing else while it is quiet:
 *   - reads land in ONE 64 KiB buffer per transport. libuv calls read_cb right after alloc_cb for
 *     the same handle and the bytes are only borrowed for the data callback, so no two
 *     connections ever use the buffer at the same time;
 *   - writes go straight to the kernel with uv_try_write. Only what the kernel does not take is
 *     copied into a write queue (struct tcp_wq) allocated when needed and freed once drained.
 *     The uv_write_t lives in that queue, not in the connection: embedding it (192 bytes) would
 *     put every connection near 580 bytes for a path that a healthy connection rarely takes.
 *
 * Lifetime: memory of a connection or listener is freed only in its uv_close callback, so any
 * libuv callback still queued for it (a cancelled write, a cancelled connect) finds valid memory
 * and a CLOSING state, and returns without calling the owner. */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/transport/internal.h"

#define TCP_READ_BUF_SIZE (64 * 1024)
#define TCP_BACKLOG 4096
/* A peer that stops reading must not eat the process's memory; uv_buf_t lengths are also
 * unsigned int, which this keeps every queued buffer below. */
#define TCP_QUEUE_MAX ((size_t)1 << 30)

struct tcp_transport {
  struct sim_transport base;
  /* Connections and listeners whose memory is not freed yet; 0 when the transport may go. */
  size_t live;
  int reuseport; /* listeners set SO_REUSEPORT (sim_transport_tcp_set_reuseport) */
  uint8_t rbuf[TCP_READ_BUF_SIZE];
};

enum tcp_state {
  TCPC_CONNECTING, /* uv_tcp_connect in flight */
  TCPC_ACCEPTED,   /* handed to the accept callback, not started yet */
  TCPC_OPEN,       /* reading */
  TCPC_CLOSING,    /* uv_close called: no owner callback any more */
};

/* Bytes the kernel did not take yet. cur is what uv_write is writing: libuv keeps pointing at
 * it until write_cb, so it is never touched meanwhile; sends append to next, and write_cb swaps
 * the two. */
struct tcp_wq {
  uv_write_t req;
  struct sim_buf cur;
  struct sim_buf next;
};

struct tcp_conn {
  struct sim_conn base;
  uv_tcp_t h;
  uv_connect_t creq;
  const struct sim_conn_cbs *cbs;
  void *user;
  struct tcp_wq *wq; /* NULL unless bytes are queued */
  uint8_t state;     /* enum tcp_state */
  uint8_t writing;   /* wq->req is in flight */
  uint8_t paused;    /* reading stopped by the owner (sim_conn_pause) */
};

/* The memory budget of a connection, checked where it is decided (see the top of the file). */
_Static_assert(sizeof(struct tcp_conn) < 400, "a tcp connection must stay under 400 bytes");

struct tcp_listener {
  struct sim_listener base;
  uv_tcp_t h;
  sim_accept_cb cb;
  void *user;
  uint16_t port;
  uint8_t closing;
};

static struct tcp_transport *tcp_tp(struct sim_transport *t) {
  return (struct tcp_transport *)t;
}

static void tcp_wq_free(struct tcp_conn *c) {
  if (!c->wq)
    return;
  sim_buf_fini(&c->wq->cur);
  sim_buf_fini(&c->wq->next);
  free(c->wq);
  c->wq = NULL;
}

static void tcp_conn_close_cb(uv_handle_t *h) {
  struct tcp_conn *c = h->data;
  struct tcp_transport *tp = tcp_tp(c->base.t);
  tcp_wq_free(c);
  assert(tp->live > 0);
  tp->live--;
  free(c);
}

/* Starts the asynchronous teardown; the memory goes in tcp_conn_close_cb. */
static void tcp_conn_teardown(struct tcp_conn *c) {
  c->state = TCPC_CLOSING;
  uv_close((uv_handle_t *)&c->h, tcp_conn_close_cb);
}

/* The connection ended under the owner (end of stream, error): closed_cb once, then free. */
static void tcp_conn_end(struct tcp_conn *c, int err) {
  if (c->state == TCPC_CLOSING)
    return;
  tcp_conn_teardown(c);
  if (c->cbs && c->cbs->closed_cb)
    c->cbs->closed_cb(&c->base, err, c->user);
}

static void tcp_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct tcp_conn *c = h->data;
  struct tcp_transport *tp = tcp_tp(c->base.t);
  (void)hint;
  buf->base = (char *)tp->rbuf;
  buf->len = sizeof tp->rbuf;
}

static void tcp_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct tcp_conn *c = s->data;
  if (c->state == TCPC_CLOSING)
    return;
  if (n > 0) {
    if (c->cbs && c->cbs->data_cb)
      c->cbs->data_cb(&c->base, (const uint8_t *)buf->base, (size_t)n, c->user);
    return;
  }
  if (n == 0) /* EAGAIN: libuv gave the buffer back unused */
    return;
  tcp_conn_end(c, n == UV_EOF ? 0 : (int)n);
}

static void tcp_write_cb(uv_write_t *req, int status);

/* Hands wq->cur to uv_write. 0, or a libuv error and nothing is in flight. */
static int tcp_write_start(struct tcp_conn *c) {
  uv_buf_t b = uv_buf_init((char *)c->wq->cur.data, (unsigned)c->wq->cur.len);
  c->wq->req.data = c;
  int rc = uv_write(&c->wq->req, (uv_stream_t *)&c->h, &b, 1, tcp_write_cb);
  if (rc == 0)
    c->writing = 1;
  return rc;
}

/* A write that failed because the peer is gone (EPIPE, ECONNRESET) runs before the loop polls
 * the socket again, so what the peer said last may still wait unread in the kernel: a TLS
 * alert saying why it refused us, an Error frame. It goes to the owner before the end, so that
 * the end can be explained. Bounded: at most 64 reads. */
static void tcp_drain_unread(struct tcp_conn *c) {
  struct tcp_transport *tp = tcp_tp(c->base.t);
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&c->h, &fd) != 0)
    return;
  for (int i = 0; i < 64 && c->state != TCPC_CLOSING; i++) {
    ssize_t n = recv(fd, tp->rbuf, sizeof tp->rbuf, MSG_DONTWAIT);
    if (n <= 0)
      return;
    if (c->cbs && c->cbs->data_cb)
      c->cbs->data_cb(&c->base, tp->rbuf, (size_t)n, c->user);
  }
}

static void tcp_write_cb(uv_write_t *req, int status) {
  struct tcp_conn *c = req->data;
  c->writing = 0;
  if (c->state == TCPC_CLOSING) /* UV_ECANCELED from uv_close, or a connect that failed */
    return;
  if (status < 0) {
    if ((status == UV_EPIPE || status == UV_ECONNRESET) && !c->paused)
      tcp_drain_unread(c);
    tcp_conn_end(c, status);
    return;
  }
  struct tcp_wq *wq = c->wq;
  wq->cur.len = 0;
  if (wq->next.len == 0) {
    tcp_wq_free(c);
    return;
  }
  struct sim_buf tmp = wq->cur;
  wq->cur = wq->next;
  wq->next = tmp;
  int rc = tcp_write_start(c);
  if (rc < 0)
    tcp_conn_end(c, rc);
}

static void tcp_connect_cb(uv_connect_t *req, int status) {
  struct tcp_conn *c = req->data;
  if (c->state == TCPC_CLOSING) /* the owner closed it while connecting: UV_ECANCELED */
    return;
  if (status == 0) {
    status = uv_read_start((uv_stream_t *)&c->h, tcp_alloc_cb, tcp_read_cb);
    if (status == 0)
      c->state = TCPC_OPEN;
  }
  if (status < 0)
    tcp_conn_teardown(c); /* a failed connect ends the connection: no closed_cb follows */
  if (c->cbs && c->cbs->connect_cb)
    c->cbs->connect_cb(&c->base, status, c->user);
}

static int tcp_connect(struct sim_transport *t, const struct sim_addr *dst,
                       const struct sim_addr *src, const struct sim_conn_cbs *cbs, void *user,
                       struct sim_conn **out) {
  struct tcp_transport *tp = tcp_tp(t);
  struct sockaddr_in da, sa;
  if (uv_ip4_addr(dst->host, dst->port, &da) != 0)
    return SIM_EINVAL;
  if (src && uv_ip4_addr(src->host, 0, &sa) != 0)
    return SIM_EINVAL;
  struct tcp_conn *c = calloc(1, sizeof *c);
  if (!c)
    return SIM_ENOMEM;
  c->base.t = t;
  c->cbs = cbs;
  c->user = user;
  c->state = TCPC_CONNECTING;
  c->h.data = c;
  c->creq.data = c;
  /* AF_INET creates the socket now, so that options can be set before bind and connect. */
  int rc = uv_tcp_init_ex(t->loop, &c->h, AF_INET);
  if (rc < 0) {
    free(c); /* libuv unregistered the handle itself */
    return rc;
  }
  tp->live++;
  uv_tcp_nodelay(&c->h, 1);
  if (src) {
    /* Without this, bind() reserves an ephemeral port for every destination, capping a source
     * address at ~28k connections even to distinct ports. With it, the port is picked at
     * connect() time per 4-tuple. Failure only lowers the cap, so it is not an error. */
    uv_os_fd_t fd;
    int on = 1;
    if (uv_fileno((uv_handle_t *)&c->h, &fd) == 0)
      (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    rc = uv_tcp_bind(&c->h, (const struct sockaddr *)&sa, 0);
    if (rc < 0)
      goto fail;
  }
  /* On loopback a refused connect is reported by libuv through connect_cb, not here. */
  rc = uv_tcp_connect(&c->creq, &c->h, (const struct sockaddr *)&da, tcp_connect_cb);
  if (rc < 0)
    goto fail;
  *out = &c->base;
  return 0;
fail:
  tcp_conn_teardown(c); /* the handle is registered: only uv_close may release it */
  return rc;
}

static void tcp_listener_close_cb(uv_handle_t *h) {
  struct tcp_listener *l = h->data;
  struct tcp_transport *tp = tcp_tp(l->base.t);
  assert(tp->live > 0);
  tp->live--;
  free(l);
}

static void tcp_connection_cb(uv_stream_t *server, int status) {
  struct tcp_listener *l = server->data;
  struct tcp_transport *tp = tcp_tp(l->base.t);
  /* Accept errors (EMFILE, ENFILE) have no one to go to: the contract has no error callback
   * for listeners. libuv retries on the next readiness. */
  if (status < 0 || l->closing)
    return;
  struct tcp_conn *c = calloc(1, sizeof *c);
  if (!c)
    return; /* libuv stops accepting until memory frees up: nothing better to do */
  c->base.t = &tp->base;
  c->state = TCPC_ACCEPTED;
  c->h.data = c;
  if (uv_tcp_init(tp->base.loop, &c->h) < 0) {
    free(c);
    return;
  }
  tp->live++;
  if (uv_accept(server, (uv_stream_t *)&c->h) < 0) {
    tcp_conn_teardown(c);
    return;
  }
  uv_tcp_nodelay(&c->h, 1);
  l->cb(&l->base, &c->base, l->user);
  /* The callee must have started or closed it; anything else leaks a silent connection. */
  assert(c->state != TCPC_ACCEPTED);
}

static int tcp_listen(struct sim_transport *t, const struct sim_addr *addr, sim_accept_cb cb,
                      void *user, struct sim_listener **out) {
  struct tcp_transport *tp = tcp_tp(t);
  struct sockaddr_in a;
  if (uv_ip4_addr(addr->host, addr->port, &a) != 0)
    return SIM_EINVAL;
  struct tcp_listener *l = calloc(1, sizeof *l);
  if (!l)
    return SIM_ENOMEM;
  l->base.t = t;
  l->cb = cb;
  l->user = user;
  l->h.data = l;
  /* AF_INET creates the socket now, so that SO_REUSEPORT can be set before bind. */
  int rc = uv_tcp_init_ex(t->loop, &l->h, AF_INET);
  if (rc < 0) {
    free(l);
    return rc;
  }
  tp->live++;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (tp->reuseport) {
    uv_os_fd_t fd;
    int on = 1;
    if ((rc = uv_fileno((uv_handle_t *)&l->h, &fd)) < 0)
      goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0) {
      rc = uv_translate_sys_error(errno);
      goto fail;
    }
  }
  if ((rc = uv_tcp_bind(&l->h, (const struct sockaddr *)&a, 0)) < 0 ||
      (rc = uv_listen((uv_stream_t *)&l->h, TCP_BACKLOG, tcp_connection_cb)) < 0 ||
      (rc = uv_tcp_getsockname(&l->h, (struct sockaddr *)&ss, &len)) < 0)
    goto fail;
  l->port = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
  *out = &l->base;
  return 0;
fail:
  l->closing = 1;
  uv_close((uv_handle_t *)&l->h, tcp_listener_close_cb);
  return rc;
}

/* On failure the connection stays ACCEPTED: the accept callback must then close it. */
static int tcp_start(struct sim_conn *sc, const struct sim_conn_cbs *cbs, void *user) {
  struct tcp_conn *c = (struct tcp_conn *)sc;
  if (c->state != TCPC_ACCEPTED)
    return SIM_EINVAL;
  c->cbs = cbs;
  c->user = user;
  int rc = uv_read_start((uv_stream_t *)&c->h, tcp_alloc_cb, tcp_read_cb);
  if (rc < 0)
    return rc;
  c->state = TCPC_OPEN;
  return 0;
}

/* uv_read_stop leaves the bytes in the kernel's receive buffer; once it is full the peer's
 * window closes and its writes block: the backpressure a paused owner wants. */
static int tcp_pause(struct sim_conn *sc, int paused) {
  struct tcp_conn *c = (struct tcp_conn *)sc;
  if (c->state != TCPC_OPEN)
    return c->state == TCPC_CLOSING ? SIM_ECLOSED : SIM_EINVAL;
  if (!paused == !c->paused)
    return 0;
  int rc = paused ? uv_read_stop((uv_stream_t *)&c->h)
                  : uv_read_start((uv_stream_t *)&c->h, tcp_alloc_cb, tcp_read_cb);
  if (rc < 0)
    return rc;
  c->paused = paused ? 1 : 0;
  return 0;
}

static size_t tcp_pending(const struct sim_conn *sc) {
  const struct tcp_conn *c = (const struct tcp_conn *)sc;
  if (!c->wq)
    return 0;
  /* write_queue_size counts what uv_write still holds, partial writes deducted. */
  return c->h.write_queue_size + c->wq->next.len;
}

/* Kernel first; the rest is copied into the write queue. A hard error from uv_try_write
 * (EPIPE, ECONNRESET) is not returned here: the bytes go to uv_write, which fails the same way
 * and reports it through write_cb, so the owner learns of every end of a connection through
 * closed_cb and never from inside its own send. */
static int tcp_send(struct sim_conn *sc, const void *p, size_t n) {
  struct tcp_conn *c = (struct tcp_conn *)sc;
  if (c->state == TCPC_CLOSING)
    return SIM_ECLOSED;
  if (n == 0)
    return 0;
  if (n > TCP_QUEUE_MAX || tcp_pending(sc) > TCP_QUEUE_MAX - n)
    return SIM_EFULL;
  if (c->writing)
    return sim_buf_append(&c->wq->next, p, n);
  size_t done = 0;
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);
  int r = uv_try_write((uv_stream_t *)&c->h, &b, 1);
  if (r > 0)
    done = (size_t)r;
  if (done == n)
    return 0;
  /* Out of memory after a partial write leaves a broken byte stream: the caller must close. */
  if (!c->wq && !(c->wq = calloc(1, sizeof *c->wq)))
    return SIM_ENOMEM;
  int rc = sim_buf_append(&c->wq->cur, (const uint8_t *)p + done, n - done);
  if (rc == 0)
    rc = tcp_write_start(c);
  if (rc < 0)
    tcp_wq_free(c); /* nothing is in flight: cur and next are empty or unusable */
  return rc;
}

/* Best effort, by choice: bytes already in the kernel are still delivered (close(2) sends them
 * before the FIN), bytes still in the write queue are dropped. Waiting for them would need a
 * timeout against a peer that never reads and would keep the connection's memory alive. */
static void tcp_close(struct sim_conn *sc) {
  struct tcp_conn *c = (struct tcp_conn *)sc;
  if (c->state == TCPC_CLOSING)
    return;
  tcp_conn_teardown(c);
}

static void tcp_listener_close(struct sim_listener *sl) {
  struct tcp_listener *l = (struct tcp_listener *)sl;
  if (l->closing)
    return;
  l->closing = 1;
  uv_close((uv_handle_t *)&l->h, tcp_listener_close_cb);
}

void sim_transport_tcp_set_reuseport(struct sim_transport *t, int on) {
  tcp_tp(t)->reuseport = on ? 1 : 0;
}

static uint16_t tcp_listener_port(const struct sim_listener *sl) {
  return ((const struct tcp_listener *)sl)->port;
}

const struct sim_transport_ops sim__transport_tcp_ops = {
    .name = "tcp",
    .connect = tcp_connect,
    .listen = tcp_listen,
    .start = tcp_start,
    .send = tcp_send,
    .pause = tcp_pause,
    .pending = tcp_pending,
    .close = tcp_close,
    .listener_close = tcp_listener_close,
    .listener_port = tcp_listener_port,
};

int sim_transport_tcp_new(uv_loop_t *loop, struct sim_transport **out) {
  struct tcp_transport *tp = calloc(1, sizeof *tp);
  if (!tp)
    return SIM_ENOMEM;
  tp->base.ops = &sim__transport_tcp_ops;
  tp->base.loop = loop;
  /* libuv writes with write(2), which raises SIGPIPE on a connection the peer reset, and the
   * default action kills the process. Only the default is replaced: a handler someone else
   * installed stays. */
  struct sigaction old;
  if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  *out = &tp->base;
  return 0;
}

void sim__transport_tcp_free(struct sim_transport *t) {
  struct tcp_transport *tp = tcp_tp(t);
  /* Freeing with connections still open is the caller's bug: their handles point here. */
  assert(tp->live == 0);
  free(tp);
}
