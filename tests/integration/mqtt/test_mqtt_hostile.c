/* The MQTT client against a hostile broker of the test's own on a loopback socket: garbage, a
 * packet larger than the limit, flags a packet may not carry, a CONNACK refusing with each
 * return code of 3.1.1 and each refusing reason code of 5, a broker that never acknowledges
 * (the window and the queue stay bounded, no done_cb claims success), and one that never
 * answers PINGREQ. Each ends in closed_cb with a named error, never in a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "mqtest.h"
#include "sim/core/err.h"
#include "sim/mqtt/codec.h"

enum mode { M_GARBAGE, M_OVERSIZE, M_BADFLAGS, M_REFUSE, M_NOACK, M_NOPINGRESP };

struct fake {
  struct mq_loop *m;
  struct sim_listener *l;
  struct sim_conn *conn;
  struct sim_mqtt_reader rd;
  enum mode mode;
  uint8_t code;      /* M_REFUSE: the CONNACK code */
  uint16_t recv_max; /* M_NOACK: the Receive Maximum announced */
  int limit_qos;     /* M_NOACK in 5: announce Maximum QoS 1 and no retain */
  int version, connects, q0, q1, pings;
  int ack; /* answer QoS 1 publishes with PUBACK (reason ack_reason) */
  uint8_t ack_reason;
  int session_present; /* M_NOACK: the CONNACK's flag */
  int dups;            /* QoS 1 publishes with DUP set */
};

static void fake_send(struct fake *f, const struct sim_mqtt_packet *p) {
  mq_send_packet(f->conn, p, f->version);
}

static void on_connect_pkt(struct fake *f, const struct sim_mqtt_packet *p) {
  f->connects++;
  f->version = p->connect.level;
  f->rd.version = f->version;
  struct sim_mqtt_packet ack = {.type = SIM_MQTT_CONNACK};
  switch (f->mode) {
  case M_GARBAGE: {
    static const uint8_t junk[] = {0x00, 0xFF, 0x13, 0x37, 0xDE, 0xAD};
    sim_conn_send(f->conn, junk, sizeof junk);
    return;
  }
  case M_OVERSIZE: {
    fake_send(f, &ack);
    static const uint8_t big[] = {0x30, 0x80, 0x80, 0x40, 0x00, 0x01, 'a'}; /* 1 MiB */
    sim_conn_send(f->conn, big, sizeof big);
    return;
  }
  case M_BADFLAGS: {
    fake_send(f, &ack);
    static const uint8_t bad[] = {0x41, 0x02, 0x00, 0x01}; /* PUBACK with flags 0001 */
    sim_conn_send(f->conn, bad, sizeof bad);
    return;
  }
  case M_REFUSE:
    ack.reason = f->code;
    fake_send(f, &ack);
    return;
  case M_NOACK:
    if (f->version == 5) {
      sim_mqtt_set(&ack.props, SIM_MQTT_P_RECEIVE_MAX);
      ack.props.receive_max = f->recv_max;
      if (f->limit_qos) {
        sim_mqtt_set(&ack.props, SIM_MQTT_P_MAX_QOS);
        sim_mqtt_set(&ack.props, SIM_MQTT_P_RETAIN_AVAILABLE);
        ack.props.max_qos = 1;
        ack.props.retain_available = 0;
      }
    }
    ack.session_present = (uint8_t)f->session_present;
    fake_send(f, &ack);
    return;
  default:
    fake_send(f, &ack);
    return;
  }
}

static int fake_packet(void *arg, const struct sim_mqtt_packet *p) {
  struct fake *f = arg;
  if (p->type == SIM_MQTT_CONNECT)
    on_connect_pkt(f, p);
  else if (p->type == SIM_MQTT_PUBLISH && p->qos == 0)
    f->q0++;
  else if (p->type == SIM_MQTT_PUBLISH) {
    f->q1++;
    f->dups += p->dup;
    if (f->ack) {
      struct sim_mqtt_packet a = {.type = SIM_MQTT_PUBACK, .packet_id = p->packet_id};
      a.reason = f->ack_reason;
      fake_send(f, &a);
    }
  } else if (p->type == SIM_MQTT_PINGREQ)
    f->pings++; /* and never a PINGRESP */
  return 0;
}

static void fake_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  (void)c;
  struct fake *f = user;
  if (sim_mqtt_reader_feed(&f->rd, p, n, fake_packet, f))
    fail_msg("the client sent a packet the codec refuses: %s", sim_mqtt_perr_name(f->rd.why));
}

static void fake_closed(struct sim_conn *c, int err, void *user) {
  (void)c;
  (void)err;
  struct fake *f = user;
  f->conn = NULL;
}

static const struct sim_conn_cbs fake_cbs = {NULL, fake_data, fake_closed};

static void fake_accept(struct sim_listener *l, struct sim_conn *c, void *user) {
  (void)l;
  struct fake *f = user;
  if (f->conn)
    sim_conn_close(f->conn);
  f->conn = c;
  sim_mqtt_reader_fini(&f->rd);
  sim_mqtt_reader_init(&f->rd, 0, 4);
  assert_int_equal(sim_conn_start(c, &fake_cbs, f), 0);
}

static void fake_start(struct fake *f, struct mq_loop *m, enum mode mode) {
  memset(f, 0, sizeof *f);
  f->m = m;
  f->mode = mode;
  sim_mqtt_reader_init(&f->rd, 0, 4);
  struct sim_addr a = {"127.0.0.1", 0};
  assert_int_equal(sim_transport_listen(m->tcp, &a, fake_accept, f, &f->l), 0);
}

static uint16_t fake_port(const struct fake *f) {
  return sim_listener_port(f->l);
}

static void fake_stop(struct fake *f) {
  if (f->conn)
    sim_conn_close(f->conn);
  f->conn = NULL;
  sim_listener_close(f->l);
  sim_mqtt_reader_fini(&f->rd);
}

/* Connects a fresh client of version v to the fake broker, expects it refused or dropped with
 * err, and returns nothing; the sentence is left in t->why. */
static void expect_closed(struct mq_loop *m, struct fake *f, int v, struct mq_cli *t, int err) {
  struct sim_mqtt_client_opts o = {.client_id = "victim", .version = v, .clean = 1};
  mq_cli_new(t, m, &o);
  assert_false(mq_cli_connect(t, m, fake_port(f)) && mq_wait(m, &t->closed, 1, 5000) == 0);
  assert_true(mq_wait(m, &t->closed, 1, 5000));
  assert_int_equal(t->closed, 1);
  if (t->err != err)
    fail_msg("expected %s, got %s: %s", sim_errname(err), sim_errname(t->err), t->why);
  assert_int_equal(t->done_ok, 0);
}

static void test_garbage_oversize_badflags(void **state) {
  (void)state;
  struct mq_loop m;
  mq_loop_init(&m);
  static const struct {
    enum mode mode;
    int err;
    const char *words;
  } cases[] = {
      {M_GARBAGE, SIM_EMALFORMED, "broker sent a malformed packet: reserved packet type (type 0)"},
      {M_OVERSIZE, SIM_ETOOBIG, "broker sent a packet larger than 262144 bytes (PUBLISH)"},
      {M_BADFLAGS, SIM_EMALFORMED,
       "broker sent a malformed packet: bad fixed header flags (PUBACK)"},
  };
  for (size_t i = 0; i < 3; i++) {
    for (int v = 4; v <= 5; v++) {
      struct fake f;
      struct mq_cli t;
      fake_start(&f, &m, cases[i].mode);
      expect_closed(&m, &f, v, &t, cases[i].err);
      printf("%s\n", t.why);
      assert_non_null(strstr(t.why, cases[i].words));
      mq_cli_free(&t);
      fake_stop(&f);
    }
  }
  mq_loop_fini(&m);
}

/* Every refusing CONNACK code: no connected_cb, closed_cb with the code's name and number. */
static void test_connack_refusals(void **state) {
  (void)state;
  struct mq_loop m;
  mq_loop_init(&m);
  int n = 0;
  for (int v = 4; v <= 5; v++) {
    for (int code = 1; code < 256; code++) {
      if (!sim_mqtt_reason_valid(SIM_MQTT_CONNACK, v, (uint8_t)code))
        continue;
      struct fake f;
      struct mq_cli t;
      fake_start(&f, &m, M_REFUSE);
      f.code = (uint8_t)code;
      int auth = v == 5 ? (code == 0x86 || code == 0x87 || code == 0x8C) : (code == 4 || code == 5);
      expect_closed(&m, &f, v, &t, auth ? SIM_EAUTH : SIM_EPEER);
      assert_int_equal(t.connected, 0);
      char num[16];
      snprintf(num, sizeof num, v == 5 ? "(0x%02x)" : "(%d)", code);
      assert_non_null(strstr(t.why, "broker refused CONNECT: "));
      assert_non_null(strstr(t.why, num));
      assert_null(strstr(t.why, "unknown reason code"));
      struct sim_mqtt_client_stats st;
      sim_mqtt_client_stats(t.c, &st);
      assert_int_equal(st.last_connack, code);
      if (code == 5 || code == 0x87)
        printf("%s\n", t.why);
      mq_cli_free(&t);
      fake_stop(&f);
      n++;
    }
  }
  assert_int_equal(n, 5 + 21); /* 3.1.1 Table 3.1; 5.0 3.2.2.2 */
  mq_loop_fini(&m);
}

/* A broker that never acknowledges: with its Receive Maximum of 5 (in 5) or our window of 5 (in
 * 3.1.1), five publishes are in flight, the queue fills to its bound and refuses more, a QoS 0
 * marker sent after them arrives after them, and no done_cb runs. When the broker then drops the
 * connection, the five stay in flight for the next connection, still without a done_cb. */
static void test_never_acked(void **state) {
  (void)state;
  struct mq_loop m;
  mq_loop_init(&m);
  for (int v = 4; v <= 5; v++) {
    struct fake f;
    fake_start(&f, &m, M_NOACK);
    f.recv_max = 5;
    struct sim_mqtt_client_opts o = {.client_id = "noack",
                                     .version = v,
                                     .clean = 0,
                                     .inflight_max = v == 5 ? 50 : 5,
                                     .queue_max = 20};
    struct mq_cli t;
    mq_cli_new(&t, &m, &o);
    assert_true(mq_cli_connect(&t, &m, fake_port(&f)));
    int accepted = 0, full = 0;
    for (int i = 0; i < 40; i++) {
      int rc = sim_mqtt_client_publish(t.c, "hubs/1/up", "x", 1, 1, 0, NULL);
      accepted += rc == 0;
      full += rc == SIM_EFULL;
    }
    assert_int_equal(accepted, 25);
    assert_int_equal(full, 15);
    assert_int_equal(sim_mqtt_client_publish(t.c, "hubs/1/up", "marker", 6, 0, 0, NULL), 0);
    assert_true(mq_wait(&m, &f.q0, 1, 5000));
    assert_int_equal(f.q1, 5);
    struct sim_mqtt_client_stats st;
    sim_mqtt_client_stats(t.c, &st);
    assert_int_equal(st.inflight, 5);
    assert_int_equal(st.queued, 20);
    assert_int_equal(st.acked, 0);
    assert_int_equal(t.done_ok + t.done_fail, 0);
    sim_conn_close(f.conn);
    f.conn = NULL;
    assert_true(mq_wait(&m, &t.closed, 1, 5000));
    assert_int_equal(t.err, SIM_ECLOSED);
    sim_mqtt_client_stats(t.c, &st);
    assert_int_equal(st.inflight, 5);
    assert_int_equal(t.done_ok + t.done_fail, 0);
    printf("MQTT %d: %s; %zu in flight and %zu queued kept, none claimed done\n", v, t.why,
           st.inflight, st.queued);
    /* The broker comes back with the session: the five go out again with DUP set, then the
     * twenty queued; now acknowledged, each completes once. */
    f.session_present = 1;
    f.ack = 1;
    f.q1 = 0;
    assert_true(mq_cli_connect(&t, &m, fake_port(&f)));
    assert_int_equal(t.session_present, 1);
    assert_true(mq_wait(&m, &t.done_ok, 25, 5000));
    assert_int_equal(f.dups, 5);
    assert_int_equal(f.q1, 25);
    sim_mqtt_client_stats(t.c, &st);
    assert_int_equal(st.resent_dup, 5);
    assert_int_equal(st.inflight + st.queued, 0);
    assert_int_equal(t.done_ok, 25);
    assert_int_equal(t.done_fail, 0);
    mq_cli_free(&t);
    fake_stop(&f);
  }
  mq_loop_fini(&m);
}

/* A broker that refuses a publish (PUBACK 0x87 in 5): done_cb says so, never success; and
 * one that announces Maximum QoS 1 and no retain. */
static void test_publish_refused(void **state) {
  (void)state;
  struct mq_loop m;
  mq_loop_init(&m);
  struct fake f;
  fake_start(&f, &m, M_NOACK);
  f.recv_max = 5;
  f.ack = 1;
  f.ack_reason = 0x87;
  f.limit_qos = 1;
  struct sim_mqtt_client_opts o = {.client_id = "refused", .version = 5, .clean = 1};
  struct mq_cli t;
  mq_cli_new(&t, &m, &o);
  assert_true(mq_cli_connect(&t, &m, fake_port(&f)));
  for (int i = 0; i < 3; i++)
    assert_int_equal(sim_mqtt_client_publish(t.c, "hubs/1/up", "x", 1, 1, 0, NULL), 0);
  assert_true(mq_wait(&m, &t.done_fail, 3, 5000));
  /* The broker announced Maximum QoS 1 and no retain: such publishes are refused here. */
  assert_int_equal(sim_mqtt_client_publish(t.c, "hubs/1/up", "x", 1, 2, 0, NULL), SIM_EINVAL);
  assert_int_equal(sim_mqtt_client_publish(t.c, "hubs/1/up", "x", 1, 1, 1, NULL), SIM_EINVAL);
  assert_int_equal(t.done_ok, 0);
  assert_int_equal(t.last_reason, 0x87);
  struct sim_mqtt_client_stats st;
  sim_mqtt_client_stats(t.c, &st);
  assert_int_equal(st.refused, 3);
  assert_int_equal(st.acked, 0);
  mq_cli_free(&t);
  fake_stop(&f);
  mq_loop_fini(&m);
}

/* A broker that never answers PINGREQ: the connection ends with SIM_ETIMEOUT, named. */
static void test_missing_pingresp(void **state) {
  (void)state;
  struct mq_loop m;
  mq_loop_init(&m);
  struct fake f;
  fake_start(&f, &m, M_NOPINGRESP);
  struct sim_mqtt_client_opts o = {
      .client_id = "ka", .version = 5, .clean = 1, .keepalive = 1, .pingresp_ms = 500};
  struct mq_cli t;
  mq_cli_new(&t, &m, &o);
  assert_true(mq_cli_connect(&t, &m, fake_port(&f)));
  assert_true(mq_wait(&m, &t.closed, 1, 5000));
  assert_int_equal(t.err, SIM_ETIMEOUT);
  assert_true(f.pings >= 1);
  assert_string_equal(t.why, "no PINGRESP within 500 ms");
  mq_cli_free(&t);
  fake_stop(&f);
  mq_loop_fini(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_garbage_oversize_badflags),
      cmocka_unit_test(test_connack_refusals),
      cmocka_unit_test(test_never_acked),
      cmocka_unit_test(test_publish_refused),
      cmocka_unit_test(test_missing_pingresp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
