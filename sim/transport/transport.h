/* Transports: byte streams between a hub and a platform behind one const ops table.
 *
 * Implementations: tcp (sim_transport_tcp), tls (sim_transport_tls in tls.h: TLS over tcp), mem
 * (sim_transport_mem, an in-process pair for tests and the virtual clock). Every member of the ops
 * table has a contract below; every transport passes the shared conformance suite in
 * tests/unit/sim_transport/test_transport.c.
 *
 * Threading: a transport and its connections belong to one libuv loop and are used only from
 * that loop's thread.
 *
 * Lifetime of a connection: the owner gets a struct sim_conn * from connect (or in the accept
 * callback). From then on exactly one of these ends it:
 *   - the owner calls sim_conn_close(): no callback of that connection runs afterwards;
 *   - the transport calls closed_cb once (peer closed, error): the owner must forget the pointer
 *     when closed_cb returns; the transport frees it.
 * A failed connect (connect_cb with status < 0) counts as the second case: no closed_cb follows. */
#ifndef SIM_TRANSPORT_TRANSPORT_H
#define SIM_TRANSPORT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct sim_conn;
struct sim_listener;
struct sim_transport;

/* An address: host is an IPv4 literal for tcp (127.0.0.x here), any name for mem. */
struct sim_addr {
  char host[64];
  uint16_t port;
};

struct sim_conn_cbs {
  /* The connect finished: status 0, or < 0 and the connection is gone (see above). */
  void (*connect_cb)(struct sim_conn *c, int status, void *user);
  /* Bytes arrived; p is borrowed for the call. The callback may send and may close c. */
  void (*data_cb)(struct sim_conn *c, const uint8_t *p, size_t n, void *user);
  /* The connection ended without the owner closing it: err 0 on an orderly end of stream,
   * else < 0. Runs at most once; the connection is freed after it returns. */
  void (*closed_cb)(struct sim_conn *c, int err, void *user);
};

/* Runs for every accepted connection; the callee must call sim_conn_start() or
 * sim_conn_close() on it before returning. */
typedef void (*sim_accept_cb)(struct sim_listener *l, struct sim_conn *c, void *user);

struct sim_transport_ops {
  const char *name;
  /* Starts connecting to dst, from src when src is not NULL (tcp: bind to src->host, port 0).
   * On success *out is the new connection and connect_cb will run once. On failure nothing runs
   * and *out is untouched. cbs is borrowed and must outlive the connection. */
  int (*connect)(struct sim_transport *t, const struct sim_addr *dst, const struct sim_addr *src,
                 const struct sim_conn_cbs *cbs, void *user, struct sim_conn **out);
  /* Listens on addr (tcp: port 0 picks a free port, see sim_listener_port()). */
  int (*listen)(struct sim_transport *t, const struct sim_addr *addr, sim_accept_cb cb, void *user,
                struct sim_listener **out);
  /* Sets the callbacks of an accepted connection and starts reading. */
  int (*start)(struct sim_conn *c, const struct sim_conn_cbs *cbs, void *user);
  /* Queues n bytes for sending. The bytes are copied or written before it returns: the caller
   * keeps ownership of p. Order is kept. SIM_ECLOSED after the connection ended. */
  int (*send)(struct sim_conn *c, const void *p, size_t n);
  /* Stops (paused != 0) or resumes reading: while paused no data_cb runs and the peer's bytes
   * wait in the transport (tcp: in the kernel, so TCP flow control eventually blocks the
   * peer's writes). An end of stream may then be noticed only after the resume, or through a
   * failed send. Sending is not affected. Pausing twice or resuming a running connection is
   * a no-op. 0, or SIM_ECLOSED once the connection ended. */
  int (*pause)(struct sim_conn *c, int paused);
  /* Bytes accepted by send() but not yet handed to the kernel (or the peer, for mem). */
  size_t (*pending)(const struct sim_conn *c);
  /* Ends the connection. Bytes the kernel has taken are delivered; bytes still queued in the
   * transport (sim_conn_pending() > 0) are dropped, so a sender that must deliver a last frame
   * (an Error) waits for pending() == 0 first. No callback runs after it. */
  void (*close)(struct sim_conn *c);
  /* Stops listening; connections already accepted stay. No accept callback after it. */
  void (*listener_close)(struct sim_listener *l);
  /* The port the listener is bound to. */
  uint16_t (*listener_port)(const struct sim_listener *l);
};

struct sim_transport {
  const struct sim_transport_ops *ops;
  uv_loop_t *loop;
};

/* The common head of every connection and listener, so the inline helpers below can find the
 * ops table. */
struct sim_conn {
  struct sim_transport *t;
};
struct sim_listener {
  struct sim_transport *t;
};

/* Transports are created on a loop and freed after every connection and listener is closed
 * and the loop has run once more (libuv closes handles asynchronously). */
int sim_transport_tcp_new(uv_loop_t *loop, struct sim_transport **out);
/* Listeners made from now on set SO_REUSEPORT before they bind: several processes of one user
 * may then listen on one address and the kernel spreads connections among them (hubsim
 * platform --workers). t must be a tcp transport. */
void sim_transport_tcp_set_reuseport(struct sim_transport *t, int on);
int sim_transport_mem_new(uv_loop_t *loop, struct sim_transport **out);
/* A mem transport has deliveries queued (the virtual-clock driver waits for none before it
 * moves time). */
int sim_transport_mem_busy(const struct sim_transport *t);
/* Delivers what a mem transport has queued now, without the loop (the virtual-clock driver's
 * pump); events queued meanwhile wait. Returns how many were delivered. */
size_t sim_transport_mem_deliver(struct sim_transport *t);
void sim_transport_free(struct sim_transport *t);

/* Parses "hubrpc://host:port" (scheme optional) into addr; SIM_EINVAL names nothing, the
 * caller reports the input. */
int sim_addr_parse(const char *url, struct sim_addr *addr);
/* 1 when url asks for TLS ("hubrpcs://", any case): the caller connects or listens with the
 * tls transport (tls.h). 0 for any other scheme or none. */
int sim_addr_is_tls(const char *url);

static inline int sim_conn_connect(struct sim_transport *t, const struct sim_addr *dst,
                                   const struct sim_addr *src, const struct sim_conn_cbs *cbs,
                                   void *user, struct sim_conn **out) {
  return t->ops->connect(t, dst, src, cbs, user, out);
}
static inline int sim_transport_listen(struct sim_transport *t, const struct sim_addr *addr,
                                       sim_accept_cb cb, void *user, struct sim_listener **out) {
  return t->ops->listen(t, addr, cb, user, out);
}
static inline int sim_conn_start(struct sim_conn *c, const struct sim_conn_cbs *cbs, void *user) {
  return c->t->ops->start(c, cbs, user);
}
static inline int sim_conn_send(struct sim_conn *c, const void *p, size_t n) {
  return c->t->ops->send(c, p, n);
}
static inline int sim_conn_pause(struct sim_conn *c, int paused) {
  return c->t->ops->pause(c, paused);
}
static inline size_t sim_conn_pending(const struct sim_conn *c) {
  return c->t->ops->pending(c);
}
static inline void sim_conn_close(struct sim_conn *c) {
  c->t->ops->close(c);
}
static inline void sim_listener_close(struct sim_listener *l) {
  l->t->ops->listener_close(l);
}
static inline uint16_t sim_listener_port(const struct sim_listener *l) {
  return l->t->ops->listener_port(l);
}

#endif
