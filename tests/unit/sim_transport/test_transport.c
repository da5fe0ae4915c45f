/* The transport conformance suite: the same test functions run against every transport
 * (tcp on 127.0.0.1:0, mem, tls over tcp with certificates made by tests/integration/tls), plus the
 * address parser and a tcp-only source-address check.
 *
 * Every wait is WAIT(): uv_run one iteration at a time under an unref'd 5 s timer, failing on
 * timeout or when the loop has nothing left that could make the condition true. Callbacks only
 * record what happened; the test body asserts, so a failure never longjmps out of libuv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/transport/tls.h"
#include "sim/transport/transport.h"
#include "tls/tlscerts.h"

#define MAX_PEERS 128
#define WAIT_MS 5000

enum kind { KIND_TCP, KIND_MEM, KIND_TLS };
static const enum kind kind_tcp = KIND_TCP;
static const enum kind kind_mem = KIND_MEM;
static const enum kind kind_tls = KIND_TLS;

/* Made once for the process, on the first tls test; removed at the end of main. */
static struct tlscerts certs;

static void tls_transport_new(uv_loop_t *loop, struct sim_transport **out) {
  static char ca[400], cert[400], key[400];
  if (!certs.dir[0])
    assert_int_equal(tlscerts_make(&certs), 0);
  snprintf(ca, sizeof ca, "%s", tlscerts_path(&certs, "ca.pem"));
  snprintf(cert, sizeof cert, "%s", tlscerts_path(&certs, "server.pem"));
  snprintf(key, sizeof key, "%s", tlscerts_path(&certs, "server.key"));
  struct sim_tls_config cfg = {.ca_file = ca, .cert_file = cert, .key_file = key};
  const char *why = NULL;
  int rc = sim_transport_tls_new(loop, &cfg, out, &why);
  if (rc)
    fail_msg("tls transport: %s", why ? why : sim_strerror(rc));
}

struct fx;

/* One end of a connection, as its owner sees it. */
struct peer {
  struct fx *fx;
  struct sim_conn *c; /* NULL once it is gone (owner closed, closed_cb, failed connect) */
  int server;
  int connect_calls;
  int connect_status;
  int data_calls;
  int closed_calls;
  int closed_err;
  int owner_closed;
  int after_close; /* callbacks that ran after the owner closed it: must stay 0 */
  int close_on_data;
  struct sim_buf rx;
};

struct fx {
  enum kind kind;
  uv_loop_t loop;
  uv_timer_t timer;
  int timed_out;
  struct sim_transport *t;
  struct sim_listener *l;
  struct sim_addr addr; /* where l listens, port filled in */
  int echo;             /* servers echo what they receive */
  int close_on_accept;  /* servers close at once */
  size_t greet_len;     /* servers send this many bytes on accept */
  int accepts;
  int connected;
  int srv_closed;
  struct peer srv[MAX_PEERS];
  struct peer cli[MAX_PEERS];
};

static uint8_t pattern(size_t i) {
  return (uint8_t)(i * 31u + (i >> 11));
}

static void peer_connect_cb(struct sim_conn *c, int status, void *user) {
  struct peer *p = user;
  if (p->owner_closed)
    p->after_close++;
  p->connect_calls++;
  p->connect_status = status;
  if (status < 0)
    p->c = NULL;
  else
    p->fx->connected++;
  (void)c;
}

static void peer_close(struct peer *p) {
  sim_conn_close(p->c);
  p->c = NULL;
  p->owner_closed = 1;
}

static void peer_data_cb(struct sim_conn *c, const uint8_t *d, size_t n, void *user) {
  struct peer *p = user;
  if (p->owner_closed)
    p->after_close++;
  p->data_calls++;
  sim_buf_append(&p->rx, d, n);
  if (p->server && p->fx->echo)
    sim_conn_send(c, d, n);
  if (p->close_on_data)
    peer_close(p);
}

static void peer_closed_cb(struct sim_conn *c, int err, void *user) {
  struct peer *p = user;
  if (p->owner_closed)
    p->after_close++;
  p->closed_calls++;
  p->closed_err = err;
  p->c = NULL;
  if (p->server)
    p->fx->srv_closed++;
  (void)c;
}

static const struct sim_conn_cbs peer_cbs = {peer_connect_cb, peer_data_cb, peer_closed_cb};

static void accept_cb(struct sim_listener *l, struct sim_conn *c, void *user) {
  struct fx *fx = user;
  (void)l;
  if (fx->accepts >= MAX_PEERS) {
    sim_conn_close(c);
    return;
  }
  struct peer *p = &fx->srv[fx->accepts++];
  p->fx = fx;
  p->c = c;
  p->server = 1;
  if (fx->close_on_accept) {
    peer_close(p);
    return;
  }
  if (sim_conn_start(c, &peer_cbs, p) != 0) {
    peer_close(p);
    return;
  }
  if (fx->greet_len) {
    uint8_t *g = malloc(fx->greet_len);
    for (size_t i = 0; i < fx->greet_len; i++)
      g[i] = pattern(i);
    sim_conn_send(c, g, fx->greet_len);
    free(g);
  }
}

static void timer_cb(uv_timer_t *t) {
  struct fx *fx = t->data;
  fx->timed_out = 1;
  uv_stop(&fx->loop);
}

static void timer_arm(struct fx *fx) {
  fx->timed_out = 0;
  uv_timer_start(&fx->timer, timer_cb, WAIT_MS, 0);
}

/* Runs the loop until cond holds; fails on timeout or when nothing is left to run. */
#define WAIT(fx, cond)                                                                             \
  do {                                                                                             \
    timer_arm(fx);                                                                                 \
    while (!(cond)) {                                                                              \
      if ((fx)->timed_out)                                                                         \
        fail_msg("timed out waiting for %s", #cond);                                               \
      if (uv_run(&(fx)->loop, UV_RUN_ONCE) == 0 && !(cond))                                        \
        fail_msg("loop went idle waiting for %s", #cond);                                          \
    }                                                                                              \
    uv_timer_stop(&(fx)->timer);                                                                   \
  } while (0)

/* Runs the loop until nothing is active (every handle closed or stopped), bounded. */
static void settle(struct fx *fx) {
  timer_arm(fx);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  uv_timer_stop(&fx->timer);
  assert_false(fx->timed_out);
}

static int setup(void **state) {
  struct fx *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  fx->kind = *(const enum kind *)*state;
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(uv_timer_init(&fx->loop, &fx->timer), 0);
  fx->timer.data = fx;
  uv_unref((uv_handle_t *)&fx->timer);
  if (fx->kind == KIND_TCP)
    assert_int_equal(sim_transport_tcp_new(&fx->loop, &fx->t), 0);
  else if (fx->kind == KIND_TLS)
    tls_transport_new(&fx->loop, &fx->t);
  else
    assert_int_equal(sim_transport_mem_new(&fx->loop, &fx->t), 0);
  assert_int_equal(sim_addr_parse("127.0.0.1:0", &fx->addr), 0);
  assert_int_equal(sim_transport_listen(fx->t, &fx->addr, accept_cb, fx, &fx->l), 0);
  fx->addr.port = sim_listener_port(fx->l);
  assert_int_not_equal(fx->addr.port, 0);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  struct fx *fx = *state;
  for (int i = 0; i < MAX_PEERS; i++) {
    if (fx->cli[i].c)
      peer_close(&fx->cli[i]);
    if (fx->srv[i].c)
      peer_close(&fx->srv[i]);
  }
  if (fx->l)
    sim_listener_close(fx->l);
  settle(fx);
  for (int i = 0; i < MAX_PEERS; i++) {
    assert_int_equal(fx->cli[i].after_close, 0);
    assert_int_equal(fx->srv[i].after_close, 0);
    sim_buf_fini(&fx->cli[i].rx);
    sim_buf_fini(&fx->srv[i].rx);
  }
  sim_transport_free(fx->t);
  uv_close((uv_handle_t *)&fx->timer, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  /* UV_EBUSY here means a transport left a handle open. */
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  free(fx);
  return 0;
}

static int cli_connect(struct fx *fx, int i, const struct sim_addr *src) {
  struct peer *p = &fx->cli[i];
  p->fx = fx;
  return sim_conn_connect(fx->t, &fx->addr, src, &peer_cbs, p, &p->c);
}

/* A client connects, the server echoes, the bytes come back unchanged. */
static void test_echo(void **state) {
  struct fx *fx = *state;
  fx->echo = 1;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  assert_non_null(fx->cli[0].c);
  assert_int_equal(fx->cli[0].connect_calls, 0); /* never inside connect() */
  WAIT(fx, fx->cli[0].connect_calls == 1);
  assert_int_equal(fx->cli[0].connect_status, 0);
  static const char msg[] = "hello transport";
  assert_int_equal(sim_conn_send(fx->cli[0].c, msg, sizeof msg - 1), 0);
  assert_int_equal(fx->cli[0].data_calls, 0); /* never inside send() */
  WAIT(fx, fx->cli[0].rx.len == sizeof msg - 1);
  assert_memory_equal(fx->cli[0].rx.data, msg, sizeof msg - 1);
  assert_int_equal(fx->accepts, 1);
  assert_int_equal(sim_conn_pending(fx->cli[0].c), 0);
  assert_int_equal(fx->cli[0].closed_calls, 0);
  assert_int_equal(fx->srv[0].closed_calls, 0);
}

#define BULK_CHUNK 2000
#define BULK_SENDS 1000
#define BULK_MAX_SENDS (64 * 1024 * 1024 / BULK_CHUNK)

static void bulk_send(struct fx *fx, size_t *off, int sends) {
  uint8_t chunk[BULK_CHUNK];
  for (int k = 0; k < sends; k++) {
    for (size_t i = 0; i < BULK_CHUNK; i++)
      chunk[i] = pattern(*off + i);
    assert_int_equal(sim_conn_send(fx->cli[0].c, chunk, BULK_CHUNK), 0);
    *off += BULK_CHUNK;
  }
}

/* Many sends arrive complete and in order. First the client sends, without letting the loop
 * run, until the transport has to queue (tcp: the kernel took all it would; loopback here takes
 * several MB, hence no fixed size), then it sends 1000 more while that queue is being written. */
static void test_bulk_in_order(void **state) {
  struct fx *fx = *state;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->connected == 1 && fx->accepts == 1);
  size_t off = 0;
  for (int i = 0; i < BULK_MAX_SENDS && sim_conn_pending(fx->cli[0].c) == 0; i++)
    bulk_send(fx, &off, 1);
  assert_true(sim_conn_pending(fx->cli[0].c) > 0);
  assert_true(sim_conn_pending(fx->cli[0].c) <= off);
  WAIT(fx, fx->srv[0].rx.len > 0);
  bulk_send(fx, &off, BULK_SENDS);
  assert_true(sim_conn_pending(fx->cli[0].c) > 0);
  WAIT(fx, fx->srv[0].rx.len >= off);
  assert_int_equal(fx->srv[0].rx.len, off);
  for (size_t i = 0; i < off; i++)
    if (fx->srv[0].rx.data[i] != pattern(i))
      fail_msg("byte %zu differs", i);
  WAIT(fx, sim_conn_pending(fx->cli[0].c) == 0);
  assert_int_equal(fx->cli[0].closed_calls + fx->srv[0].closed_calls, 0);
}

/* The client closes: its last bytes still arrive, the server gets closed_cb(0) exactly once. */
static void test_close_by_client(void **state) {
  struct fx *fx = *state;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->connected == 1 && fx->accepts == 1);
  assert_int_equal(sim_conn_send(fx->cli[0].c, "bye", 3), 0);
  peer_close(&fx->cli[0]);
  WAIT(fx, fx->srv[0].closed_calls == 1);
  assert_int_equal(fx->srv[0].closed_err, 0);
  assert_int_equal(fx->srv[0].rx.len, 3);
  assert_memory_equal(fx->srv[0].rx.data, "bye", 3);
  for (int i = 0; i < 10; i++)
    uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(fx->srv[0].closed_calls, 1);
  assert_int_equal(fx->cli[0].after_close, 0);
}

/* The owner closes inside data_cb while more bytes are coming: no callback of that connection
 * runs afterwards, and the peer learns of the end. */
static void test_close_by_owner(void **state) {
  struct fx *fx = *state;
  fx->greet_len = 256 * 1024;
  fx->cli[0].close_on_data = 1;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->srv[0].closed_calls == 1);
  /* tcp: 0, or a reset because the client closed with unread bytes; mem: 0. */
  assert_true(fx->srv[0].closed_err <= 0);
  assert_int_equal(fx->cli[0].connect_calls, 1);
  assert_int_equal(fx->cli[0].data_calls, 1);
  assert_int_equal(fx->cli[0].closed_calls, 0);
  assert_int_equal(fx->cli[0].after_close, 0);
}

/* The server closes in its accept callback: the client connects, then sees the end. */
static void test_close_in_accept(void **state) {
  struct fx *fx = *state;
  fx->close_on_accept = 1;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->cli[0].closed_calls == 1);
  assert_int_equal(fx->cli[0].connect_calls, 1);
  assert_int_equal(fx->cli[0].connect_status, 0);
  assert_int_equal(fx->cli[0].closed_err, 0);
  assert_int_equal(fx->accepts, 1);
}

/* Closed while connecting: connect_cb never runs. A second client that connects afterwards is
 * the barrier: by then the first attempt has been resolved one way or the other. */
static void test_close_while_connecting(void **state) {
  struct fx *fx = *state;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  peer_close(&fx->cli[0]);
  assert_int_equal(cli_connect(fx, 1, NULL), 0);
  WAIT(fx, fx->cli[1].connect_calls == 1);
  assert_int_equal(fx->cli[1].connect_status, 0);
  for (int i = 0; i < 10; i++)
    uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(fx->cli[0].connect_calls, 0);
  assert_int_equal(fx->cli[0].after_close, 0);
}

/* Nothing listens: connect() succeeds, connect_cb reports the error, no closed_cb follows. */
static void test_connect_refused(void **state) {
  struct fx *fx = *state;
  sim_listener_close(fx->l);
  fx->l = NULL;
  settle(fx);
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->cli[0].connect_calls == 1);
  assert_int_equal(fx->cli[0].connect_status, UV_ECONNREFUSED);
  assert_null(fx->cli[0].c);
  settle(fx);
  assert_int_equal(fx->cli[0].connect_calls, 1);
  assert_int_equal(fx->cli[0].closed_calls, 0);
  assert_int_equal(fx->accepts, 0);
}

/* Closing the listener keeps the connections it accepted. */
static void test_listener_close_keeps_conns(void **state) {
  struct fx *fx = *state;
  fx->echo = 1;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->connected == 1 && fx->accepts == 1);
  sim_listener_close(fx->l);
  fx->l = NULL;
  assert_int_equal(sim_conn_send(fx->cli[0].c, "ping", 4), 0);
  WAIT(fx, fx->cli[0].rx.len == 4);
  assert_memory_equal(fx->cli[0].rx.data, "ping", 4);
}

#define MANY 100

/* How many of the first n clients received exactly len bytes. */
static int count_rx(const struct fx *fx, int n, size_t len) {
  int k = 0;
  for (int i = 0; i < n; i++)
    k += fx->cli[i].rx.len == len;
  return k;
}

/* 100 connections at once, each echoes its own bytes, then all close. */
static void test_many_connections(void **state) {
  struct fx *fx = *state;
  fx->echo = 1;
  for (int i = 0; i < MANY; i++)
    assert_int_equal(cli_connect(fx, i, NULL), 0);
  WAIT(fx, fx->connected == MANY && fx->accepts == MANY);
  for (int i = 0; i < MANY; i++) {
    uint8_t msg[4] = {'c', (uint8_t)i, (uint8_t)(i * 7), '!'};
    assert_int_equal(sim_conn_send(fx->cli[i].c, msg, sizeof msg), 0);
  }
  WAIT(fx, count_rx(fx, MANY, 4) == MANY);
  for (int i = 0; i < MANY; i++) {
    uint8_t msg[4] = {'c', (uint8_t)i, (uint8_t)(i * 7), '!'};
    assert_memory_equal(fx->cli[i].rx.data, msg, sizeof msg);
  }
  for (int i = 0; i < MANY; i++)
    peer_close(&fx->cli[i]);
  WAIT(fx, fx->srv_closed == MANY);
}

/* A source address: tcp binds to it (127.0.0.2 is local on Linux loopback); mem ignores it. */
static void test_source_address(void **state) {
  struct fx *fx = *state;
  fx->echo = 1;
  struct sim_addr src;
  assert_int_equal(sim_addr_parse("127.0.0.2:0", &src), 0);
  assert_int_equal(cli_connect(fx, 0, &src), 0);
  WAIT(fx, fx->cli[0].connect_calls == 1);
  assert_int_equal(fx->cli[0].connect_status, 0);
  assert_int_equal(sim_conn_send(fx->cli[0].c, "src", 3), 0);
  WAIT(fx, fx->cli[0].rx.len == 3);
}

/* tcp only (any name is an address for mem): a host that is no IPv4 literal is refused up
 * front, and nothing runs. */
static void test_connect_bad_address(void **state) {
  struct fx *fx = *state;
  struct sim_addr dst = {.host = "not-an-ip", .port = 1};
  struct sim_conn *c = NULL;
  assert_int_equal(sim_conn_connect(fx->t, &dst, NULL, &peer_cbs, &fx->cli[0], &c), SIM_EINVAL);
  assert_null(c);
}

/* tcp only: the platform side really sees the source address. A plain libuv listener stands
 * in for the server because transport.h exposes no peer address. */
struct raw_srv {
  uv_tcp_t listener;
  uv_tcp_t conn;
  int accepted;
  char peer[64];
};

static void raw_connection_cb(uv_stream_t *s, int status) {
  struct raw_srv *r = s->data;
  if (status < 0 || r->accepted)
    return;
  uv_tcp_init(s->loop, &r->conn);
  if (uv_accept(s, (uv_stream_t *)&r->conn) == 0) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&r->conn, (struct sockaddr *)&ss, &len) == 0)
      uv_ip4_name((const struct sockaddr_in *)&ss, r->peer, sizeof r->peer);
  }
  r->accepted = 1;
}

static int raw_closed;
static void raw_close_cb(uv_handle_t *h) {
  (void)h;
  raw_closed++;
}

static void test_tcp_source_address_seen(void **state) {
  struct fx *fx = *state;
  struct raw_srv r = {0};
  raw_closed = 0;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_init(&fx->loop, &r.listener), 0);
  r.listener.data = &r;
  assert_int_equal(uv_tcp_bind(&r.listener, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&r.listener, 16, raw_connection_cb), 0);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  assert_int_equal(uv_tcp_getsockname(&r.listener, (struct sockaddr *)&ss, &len), 0);
  fx->addr.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  struct sim_addr src;
  assert_int_equal(sim_addr_parse("127.0.0.2:0", &src), 0);
  assert_int_equal(cli_connect(fx, 0, &src), 0);
  WAIT(fx, fx->cli[0].connect_calls == 1 && r.accepted);
  assert_int_equal(fx->cli[0].connect_status, 0);
  assert_string_equal(r.peer, "127.0.0.2");
  uv_close((uv_handle_t *)&r.listener, raw_close_cb);
  uv_close((uv_handle_t *)&r.conn, raw_close_cb);
  WAIT(fx, raw_closed == 2); /* r lives on this stack */
}

/* tcp only: a peer that says something and resets the connection while our write is on its
 * way. The failed write is reported before the loop reads the socket again; the bytes the peer
 * sent before its reset (a TLS alert naming why it refused us, in real life) must still reach
 * the owner, before closed_cb. */
static void test_tcp_last_words_before_reset(void **state) {
  struct fx *fx = *state;
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(lfd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(lfd, 4), 0);
  assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
  fx->addr.port = ntohs(a.sin_port);
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->cli[0].connect_calls == 1);
  assert_int_equal(fx->cli[0].connect_status, 0);
  /* The server's side, done before the client's loop runs again: its last words, then RST. */
  int sfd = accept(lfd, NULL, NULL);
  assert_true(sfd >= 0);
  static const char words[] = "last words";
  assert_int_equal(write(sfd, words, sizeof words - 1), (ssize_t)(sizeof words - 1));
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  assert_int_equal(setsockopt(sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  close(sfd);
  close(lfd);
  assert_int_equal(sim_conn_send(fx->cli[0].c, "x", 1), 0); /* fails later, in write_cb */
  WAIT(fx, fx->cli[0].closed_calls == 1);
  assert_int_not_equal(fx->cli[0].closed_err, 0);
  if (fx->cli[0].rx.len != sizeof words - 1 || memcmp(fx->cli[0].rx.data, words, sizeof words - 1))
    fail_msg("the peer's last %zu bytes did not reach the owner before the end (got %zu)",
             sizeof words - 1, fx->cli[0].rx.len);
}

/* mem only: quiet connections keep no handle active, so the loop exits (settle() fails on
 * its timer otherwise), and the connections still work afterwards. */
static void test_mem_loop_exits_when_quiet(void **state) {
  struct fx *fx = *state;
  fx->echo = 1;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->connected == 1 && fx->accepts == 1);
  settle(fx);
  assert_int_equal(sim_conn_send(fx->cli[0].c, "again", 5), 0);
  assert_int_equal(sim_conn_pending(fx->cli[0].c), 5);
  WAIT(fx, fx->cli[0].rx.len == 5);
  assert_int_equal(sim_conn_pending(fx->cli[0].c), 0);
  settle(fx);
}

/* mem only: port 0 picks the next free number; a taken address is refused. */
static void test_mem_listen_ports(void **state) {
  struct fx *fx = *state;
  struct sim_listener *a = NULL, *b = NULL;
  struct sim_addr any = {.host = "127.0.0.1", .port = 0};
  assert_int_equal(sim_transport_listen(fx->t, &any, accept_cb, fx, &a), 0);
  assert_int_not_equal(sim_listener_port(a), 0);
  assert_int_not_equal(sim_listener_port(a), fx->addr.port);
  struct sim_addr taken = {.host = "127.0.0.1", .port = sim_listener_port(a)};
  assert_int_equal(sim_transport_listen(fx->t, &taken, accept_cb, fx, &b), UV_EADDRINUSE);
  assert_null(b);
  struct sim_addr other = {.host = "other", .port = sim_listener_port(a)};
  assert_int_equal(sim_transport_listen(fx->t, &other, accept_cb, fx, &b), 0);
  sim_listener_close(a);
  sim_listener_close(b);
}

/* Bytes sent before the connect finished are delivered after it, in order. */
static void test_send_while_connecting(void **state) {
  struct fx *fx = *state;
  fx->echo = 1;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  assert_int_equal(sim_conn_send(fx->cli[0].c, "early", 5), 0);
  assert_int_equal(sim_conn_pending(fx->cli[0].c), 5);
  WAIT(fx, fx->cli[0].connect_calls == 1);
  assert_int_equal(sim_conn_send(fx->cli[0].c, "+late", 5), 0);
  WAIT(fx, fx->cli[0].rx.len == 10);
  assert_memory_equal(fx->cli[0].rx.data, "early+late", 10);
}

/* Address parsing. */
static void test_addr_parse(void **state) {
  (void)state;
  struct sim_addr a;
  assert_int_equal(sim_addr_parse("hubrpc://127.0.0.1:7800", &a), 0);
  assert_string_equal(a.host, "127.0.0.1");
  assert_int_equal(a.port, 7800);
  assert_int_equal(sim_addr_parse("127.0.0.3:1", &a), 0);
  assert_string_equal(a.host, "127.0.0.3");
  assert_int_equal(a.port, 1);
  assert_int_equal(sim_addr_parse("mem://name:1", &a), 0);
  assert_string_equal(a.host, "name");
  assert_int_equal(a.port, 1);
  assert_int_equal(sim_addr_parse("hubrpcs://10.0.0.1:65535", &a), 0);
  assert_int_equal(a.port, 65535);
  assert_int_equal(sim_addr_parse("tcp://127.0.0.1:0", &a), 0); /* 0: any port, to listen */
  assert_int_equal(a.port, 0);
  assert_int_equal(sim_addr_parse("hubrpc://h:7/", &a), 0);
  assert_string_equal(a.host, "h");
  assert_int_equal(a.port, 7);

  char longest[64 + 8];
  memset(longest, 'a', 63);
  strcpy(longest + 63, ":5");
  assert_int_equal(sim_addr_parse(longest, &a), 0);
  assert_int_equal(strlen(a.host), 63);

  /* Failures leave the address untouched. */
  struct sim_addr before = a;
  static const char *const bad[] = {
      "",
      "127.0.0.1",
      "127.0.0.1:",
      ":7800",
      "hubrpc://",
      "http://127.0.0.1:80",
      "ftp://h:1",
      "127.0.0.1:65536",
      "127.0.0.1:99999",
      "127.0.0.1:-1",
      "127.0.0.1:+1",
      "127.0.0.1:12a",
      "127.0.0.1: 1",
      "host name:1",
      "h:1//",
      "mem:/x:1",
      "::1:80",
      "h:123456",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (sim_addr_parse(bad[i], &a) != SIM_EINVAL)
      fail_msg("accepted \"%s\"", bad[i]);
    assert_memory_equal(&a, &before, sizeof a);
  }
  char toolong[64 + 8];
  memset(toolong, 'a', 64);
  strcpy(toolong + 64, ":5");
  assert_int_equal(sim_addr_parse(toolong, &a), SIM_EINVAL);
}

/* A paused reader gets no data_cb and no end of stream; on resume both arrive, in order. A
 * second, unpaused connection is the barrier: its bytes, sent after the paused one's, arrive. */
static void test_pause_resume(void **state) {
  struct fx *fx = *state;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->connected == 1 && fx->accepts == 1);
  assert_int_equal(sim_conn_pause(fx->srv[0].c, 1), 0);
  assert_int_equal(sim_conn_pause(fx->srv[0].c, 1), 0); /* twice: no-op */
  assert_int_equal(cli_connect(fx, 1, NULL), 0);
  WAIT(fx, fx->connected == 2 && fx->accepts == 2);
  assert_int_equal(sim_conn_send(fx->cli[0].c, "paused", 6), 0);
  peer_close(&fx->cli[0]);
  assert_int_equal(sim_conn_send(fx->cli[1].c, "barrier", 7), 0);
  WAIT(fx, fx->srv[1].rx.len == 7);
  for (int i = 0; i < 10; i++)
    uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(fx->srv[0].data_calls, 0);
  assert_int_equal(fx->srv[0].closed_calls, 0);
  /* Sending still works while paused. */
  assert_int_equal(sim_conn_send(fx->srv[0].c, "x", 1), 0);
  assert_int_equal(sim_conn_pause(fx->srv[0].c, 0), 0);
  WAIT(fx, fx->srv[0].closed_calls == 1);
  assert_int_equal(fx->srv[0].rx.len, 6);
  assert_memory_equal(fx->srv[0].rx.data, "paused", 6);
}

/* The owner closes a paused connection with unread bytes: nothing runs afterwards, nothing
 * leaks (teardown checks both). */
static void test_close_while_paused(void **state) {
  struct fx *fx = *state;
  assert_int_equal(cli_connect(fx, 0, NULL), 0);
  WAIT(fx, fx->connected == 1 && fx->accepts == 1);
  assert_int_equal(sim_conn_pause(fx->srv[0].c, 1), 0);
  assert_int_equal(sim_conn_send(fx->cli[0].c, "unread", 6), 0);
  for (int i = 0; i < 10; i++)
    uv_run(&fx->loop, UV_RUN_NOWAIT);
  peer_close(&fx->srv[0]);
  WAIT(fx, fx->cli[0].closed_calls == 1);
  assert_int_equal(fx->srv[0].data_calls, 0);
}

#define ON(kind, f)                                                                                \
  { #kind "/" #f, f, setup, teardown, (void *)&kind_##kind }
#define BOTH(f) ON(tcp, f), ON(mem, f), ON(tls, f)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_addr_parse),
      BOTH(test_echo),
      BOTH(test_bulk_in_order),
      BOTH(test_close_by_client),
      BOTH(test_close_by_owner),
      BOTH(test_close_in_accept),
      BOTH(test_close_while_connecting),
      BOTH(test_connect_refused),
      BOTH(test_listener_close_keeps_conns),
      BOTH(test_many_connections),
      BOTH(test_source_address),
      BOTH(test_send_while_connecting),
      BOTH(test_pause_resume),
      BOTH(test_close_while_paused),
      ON(tcp, test_connect_bad_address),
      ON(tcp, test_tcp_source_address_seen),
      ON(tcp, test_tcp_last_words_before_reset),
      ON(mem, test_mem_loop_exits_when_quiet),
      ON(mem, test_mem_listen_ports),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tlscerts_rm(&certs);
  return rc;
}
