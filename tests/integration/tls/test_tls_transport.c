/* The tls transport's own contract, beyond the conformance suite (test_transport): what it
 * refuses at creation, verification failures reaching connect_cb with their reason, a client
 * that never finishes its handshake timed out, and a plaintext client answered with a TLS
 * alert. Real loopback sockets on 127.0.0.1:0; every wait is bounded (wait_until). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/transport/tls.h"
#include "tlscerts.h"

#define WAIT_MS 5000

struct end {
  struct sim_conn *c;
  int connect_calls, connect_status, closed_calls, closed_err;
  struct sim_buf rx;
};

struct fx {
  uv_loop_t loop;
  uv_timer_t timer;
  int timed_out;
  struct sim_transport *srv_t, *cli_t, *cli_t2;
  struct sim_listener *l;
  struct sim_addr addr;
  int accepts;
  struct end srv, cli;
};

static void timer_cb(uv_timer_t *t) {
  struct fx *fx = t->data;
  fx->timed_out = 1;
  uv_stop(&fx->loop);
}

/* The states a test waits for: each a predicate over the fixture. */
static int connected(const struct fx *fx) {
  return fx->cli.connect_calls == 1;
}
static int both_up(const struct fx *fx) {
  return fx->cli.connect_calls == 1 && fx->accepts == 1;
}
static int got_hello(const struct fx *fx) {
  return fx->srv.rx.len == 5;
}
static int cli_closed(const struct fx *fx) {
  return fx->cli.closed_calls == 1;
}

/* Runs the loop one iteration at a time until done(fx), failing after WAIT_MS or when the loop
 * has nothing left that could make it true. */
static void wait_until(struct fx *fx, int (*done)(const struct fx *), const char *what) {
  fx->timed_out = 0;
  uv_timer_start(&fx->timer, timer_cb, WAIT_MS, 0);
  for (;;) {
    if (done(fx))
      break;
    if (fx->timed_out)
      fail_msg("timed out waiting until %s", what);
    if (uv_run(&fx->loop, UV_RUN_ONCE) == 0 && !done(fx))
      fail_msg("the loop went idle before %s", what);
  }
  uv_timer_stop(&fx->timer);
}

static void end_connect_cb(struct sim_conn *c, int status, void *user) {
  struct end *e = user;
  (void)c;
  e->connect_calls++;
  e->connect_status = status;
  if (status < 0)
    e->c = NULL;
}
static void end_data_cb(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  struct end *e = user;
  (void)c;
  sim_buf_append(&e->rx, p, n);
}
static void end_closed_cb(struct sim_conn *c, int err, void *user) {
  struct end *e = user;
  (void)c;
  e->closed_calls++;
  e->closed_err = err;
  e->c = NULL;
}
static const struct sim_conn_cbs end_cbs = {end_connect_cb, end_data_cb, end_closed_cb};

static void accept_cb(struct sim_listener *l, struct sim_conn *c, void *user) {
  struct fx *fx = user;
  (void)l;
  fx->accepts++;
  fx->srv.c = c;
  if (sim_conn_start(c, &end_cbs, &fx->srv))
    sim_conn_close(c);
}

/* A copy of a certificate path that outlives the next tlscerts_path() call. */
static const char *cp(int slot, const char *name) {
  static char p[4][400];
  snprintf(p[slot], sizeof p[slot], "%s", tlscerts_path(&tlscerts_group, name));
  return p[slot];
}

static struct sim_transport *tls_new(struct fx *fx, const struct sim_tls_config *cfg) {
  struct sim_transport *t = NULL;
  const char *why = NULL;
  int rc = sim_transport_tls_new(&fx->loop, cfg, &t, &why);
  if (rc)
    fail_msg("tls transport: %s", why ? why : sim_strerror(rc));
  return t;
}

/* A tls listener with certificate NAME (.pem and .key) and a handshake deadline. */
static void serve(struct fx *fx, const char *name, uint32_t hs_ms) {
  char cert[64], key[64];
  snprintf(cert, sizeof cert, "%s.pem", name);
  snprintf(key, sizeof key, "%s.key", name);
  struct sim_tls_config cfg = {
      .cert_file = cp(0, cert), .key_file = cp(1, key), .handshake_timeout_ms = hs_ms};
  fx->srv_t = tls_new(fx, &cfg);
  assert_int_equal(sim_addr_parse("127.0.0.1:0", &fx->addr), 0);
  assert_int_equal(sim_transport_listen(fx->srv_t, &fx->addr, accept_cb, fx, &fx->l), 0);
  fx->addr.port = sim_listener_port(fx->l);
}

static int setup(void **state) {
  struct fx *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(uv_timer_init(&fx->loop, &fx->timer), 0);
  fx->timer.data = fx;
  uv_unref((uv_handle_t *)&fx->timer);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  struct fx *fx = *state;
  if (fx->cli.c)
    sim_conn_close(fx->cli.c);
  if (fx->srv.c)
    sim_conn_close(fx->srv.c);
  if (fx->l)
    sim_listener_close(fx->l);
  fx->timed_out = 0;
  uv_timer_start(&fx->timer, timer_cb, WAIT_MS, 0);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_false(fx->timed_out);
  if (fx->srv_t)
    sim_transport_free(fx->srv_t);
  if (fx->cli_t)
    sim_transport_free(fx->cli_t);
  if (fx->cli_t2)
    sim_transport_free(fx->cli_t2);
  sim_buf_fini(&fx->srv.rx);
  sim_buf_fini(&fx->cli.rx);
  uv_close((uv_handle_t *)&fx->timer, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  /* UV_EBUSY here means the transport left a handle open. */
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  free(fx);
  return 0;
}

/* Files that cannot serve are refused at creation, naming the file and the problem; a
 * transport without a certificate cannot listen. */
static void test_new_refusals(void **state) {
  struct fx *fx = *state;
  struct sim_transport *t = NULL;
  const char *why = NULL;
  struct sim_tls_config mismatch = {.cert_file = cp(0, "server.pem"),
                                    .key_file = cp(1, "expired.key")};
  assert_int_equal(sim_transport_tls_new(&fx->loop, &mismatch, &t, &why), SIM_EINVAL);
  assert_non_null(strstr(why, "does not match"));
  assert_non_null(strstr(why, "expired.key"));
  struct sim_tls_config missing = {.cert_file = cp(0, "nothing.pem"),
                                   .key_file = cp(1, "server.key")};
  assert_int_equal(sim_transport_tls_new(&fx->loop, &missing, &t, &why), SIM_EINVAL);
  assert_non_null(strstr(why, "nothing.pem"));
  struct sim_tls_config half = {.cert_file = cp(0, "server.pem")};
  assert_int_equal(sim_transport_tls_new(&fx->loop, &half, &t, &why), SIM_EINVAL);
  struct sim_tls_config badca = {.ca_file = cp(0, "server.key")};
  assert_int_equal(sim_transport_tls_new(&fx->loop, &badca, &t, &why), SIM_EINVAL);
  assert_non_null(strstr(why, "server.key"));
  assert_null(t);
  struct sim_tls_config client = {.ca_file = cp(0, "ca.pem")};
  fx->cli_t = tls_new(fx, &client);
  struct sim_addr any = {.host = "127.0.0.1", .port = 0};
  assert_int_equal(sim_transport_listen(fx->cli_t, &any, accept_cb, fx, &fx->l), SIM_EINVAL);
  assert_null(fx->l);
}

/* A fresh client connection through t to the listener, up on both ends, and "hello" sent
 * over it and received. */
static void open_and_greet(struct fx *fx, struct sim_transport *t) {
  memset(&fx->cli, 0, sizeof fx->cli);
  fx->accepts = 0;
  sim_buf_fini(&fx->srv.rx);
  assert_int_equal(sim_conn_connect(t, &fx->addr, NULL, &end_cbs, &fx->cli, &fx->cli.c), 0);
  wait_until(fx, both_up, "both ends are up");
  assert_int_equal(fx->cli.connect_status, 0);
  assert_int_equal(sim_conn_send(fx->cli.c, "hello", 5), 0);
  wait_until(fx, got_hello, "the server has the 5 bytes");
}

/* A self-signed platform: the verifying client's connect fails with SIM_ETLS_VERIFY and the
 * reason kept; an insecure client gets through and exchanges bytes. */
static void test_verify_and_insecure(void **state) {
  struct fx *fx = *state;
  serve(fx, "selfsigned", 0);
  struct sim_tls_config strict = {.ca_file = cp(2, "ca.pem")};
  fx->cli_t = tls_new(fx, &strict);
  assert_int_equal(sim_conn_connect(fx->cli_t, &fx->addr, NULL, &end_cbs, &fx->cli, &fx->cli.c), 0);
  wait_until(fx, connected, "the connect ended");
  assert_int_equal(fx->cli.connect_status, SIM_ETLS_VERIFY);
  assert_int_equal(fx->accepts, 0); /* the server's owner never saw it */
  struct sim_tls_stats st;
  sim_transport_tls_stats(fx->cli_t, &st);
  assert_int_equal(st.failed[SIM_TLS_R_VERIFY], 1);
  assert_int_equal(st.handshakes, 0);
  assert_non_null(strstr(st.last[SIM_TLS_R_VERIFY], "self-signed certificate"));

  struct sim_tls_config insecure = {.insecure = 1};
  fx->cli_t2 = tls_new(fx, &insecure);
  open_and_greet(fx, fx->cli_t2);
  assert_memory_equal(fx->srv.rx.data, "hello", 5);
  sim_transport_tls_stats(fx->cli_t2, &st);
  assert_int_equal(st.handshakes, 1);
}

/* A client that connects and says nothing is closed when the handshake deadline passes, and
 * counted as a timeout. The client here is plain tcp: it cannot have started a handshake. */
static void test_handshake_timeout(void **state) {
  struct fx *fx = *state;
  serve(fx, "server", 200);
  assert_int_equal(sim_transport_tcp_new(&fx->loop, &fx->cli_t), 0);
  assert_int_equal(sim_conn_connect(fx->cli_t, &fx->addr, NULL, &end_cbs, &fx->cli, &fx->cli.c), 0);
  wait_until(fx, cli_closed, "the client's connection ended");
  struct sim_tls_stats st;
  sim_transport_tls_stats(fx->srv_t, &st);
  assert_int_equal(st.failed[SIM_TLS_R_TIMEOUT], 1);
  assert_non_null(strstr(st.last[SIM_TLS_R_TIMEOUT], "no complete handshake within 200 ms"));
  assert_int_equal(fx->accepts, 0);
}

/* Plaintext to the TLS port: the client gets a fatal TLS alert record and the end of the
 * stream; the server counts not_tls and names the first byte. */
static void test_plaintext_client(void **state) {
  struct fx *fx = *state;
  serve(fx, "server", 0);
  assert_int_equal(sim_transport_tcp_new(&fx->loop, &fx->cli_t), 0);
  assert_int_equal(sim_conn_connect(fx->cli_t, &fx->addr, NULL, &end_cbs, &fx->cli, &fx->cli.c), 0);
  wait_until(fx, connected, "the connect ended");
  assert_int_equal(sim_conn_send(fx->cli.c, "\x0ahello", 6), 0);
  wait_until(fx, cli_closed, "the client's connection ended");
  static const uint8_t alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a};
  assert_int_equal(fx->cli.rx.len, sizeof alert);
  assert_memory_equal(fx->cli.rx.data, alert, sizeof alert);
  struct sim_tls_stats st;
  sim_transport_tls_stats(fx->srv_t, &st);
  assert_int_equal(st.failed[SIM_TLS_R_NOT_TLS], 1);
  assert_non_null(strstr(st.last[SIM_TLS_R_NOT_TLS], "first byte 0x0a"));
}

static int got_ok(const struct fx *fx) {
  return fx->cli.rx.len == 2;
}

/* A second connect with the same user pointer resumes the first one's session (the ticket the
 * server sent after the first handshake): counted as resumed on both sides, each duration in
 * its own histogram. */
static void test_resumption(void **state) {
  struct fx *fx = *state;
  serve(fx, "server", 0);
  struct sim_tls_config client = {.ca_file = cp(2, "ca.pem")};
  fx->cli_t = tls_new(fx, &client);
  for (int round = 0; round < 2; round++) {
    /* Bytes both ways: the client reads past the server's ticket. */
    open_and_greet(fx, fx->cli_t);
    assert_int_equal(sim_conn_send(fx->srv.c, "ok", 2), 0);
    wait_until(fx, got_ok, "the client has the 2 bytes");
    sim_conn_close(fx->cli.c);
    fx->cli.c = NULL;
    sim_buf_fini(&fx->cli.rx);
  }
  struct sim_tls_stats st;
  sim_transport_tls_stats(fx->cli_t, &st);
  assert_int_equal(st.handshakes, 2);
  assert_int_equal(st.resumed, 1);
  assert_int_equal(st.full_us.count, 1);
  assert_int_equal(st.resumed_us.count, 1);
  sim_transport_tls_stats(fx->srv_t, &st);
  assert_int_equal(st.handshakes, 2);
  assert_int_equal(st.resumed, 1);
}

int main(void) {
#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {FX_TEST(test_new_refusals), FX_TEST(test_verify_and_insecure),
                                     FX_TEST(test_handshake_timeout),
                                     FX_TEST(test_plaintext_client), FX_TEST(test_resumption)};
  return cmocka_run_group_tests(tests, tlscerts_group_setup, tlscerts_group_teardown);
}
