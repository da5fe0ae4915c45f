/* The MQTT client (sim/mqtt/client.h) against a real broker: Debian's mosquitto started by the
 * test on a free loopback port (tests/support/broker.h). Connects with 3.1.1 and 5, publishes of
 * QoS 0, 1 and 2 received by a subscriber, topic aliases, the will published when the connection
 * is cut, keepalive, the resend of unacknowledged publishes with DUP after a broker restart
 * (persistent sessions, mosquitto's persistence), and a refused password named with its code. */
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
#include "support/broker.h"

/* Each test's loop and mosquitto (started by the setup named in main, stopped by teardown). */
struct env {
  struct mq_loop m;
  struct broker b;
};

static int env_up(void **state, int persistence, int start) {
  struct env *e = calloc(1, sizeof *e);
  assert_non_null(e);
  mq_loop_init(&e->m);
  e->b.persistence = persistence;
  *state = e;
  if (!start)
    return 0;
  int rc = broker_start(&e->b, e->m.dir, 0);
  if (rc)
    fail_msg("mosquitto did not start (%d); its log: %s", rc, e->b.log);
  return 0;
}

static int setup_plain(void **state) {
  return env_up(state, 0, 1);
}
static int setup_persistent(void **state) {
  return env_up(state, 1, 1);
}
static int setup_loop_only(void **state) {
  return env_up(state, 0, 0);
}

static int teardown(void **state) {
  struct env *e = *state;
  if (e->b.pid > 0)
    broker_stop(&e->b);
  mq_loop_fini(&e->m);
  free(e);
  return 0;
}

static void test_connect_both_versions(void **state) {
  struct env *e = *state;
  struct mq_loop *m = &e->m;
  for (int v = 4; v <= 5; v++) {
    struct sim_mqtt_client_opts o = {
        .client_id = v == 4 ? "c311" : "c5", .version = v, .clean = 1, .keepalive = 30};
    struct mq_cli t;
    mq_cli_new(&t, m, &o);
    assert_true(mq_cli_connect(&t, m, e->b.port));
    assert_int_equal(t.connected, 1);
    assert_int_equal(t.session_present, 0);
    assert_int_equal(t.closed, 0);
    sim_mqtt_client_disconnect(t.c);
    mq_cli_free(&t);
  }
}

/* QoS 0, 1 and 2 from a publisher to a subscriber of QoS 2, for both versions; a done_cb for
 * QoS 1 and 2 only; in 5, the third publish on a topic goes out as an alias alone. */
static void test_publish_each_qos(void **state) {
  struct env *e = *state;
  struct mq_loop *m = &e->m;
  for (int v = 4; v <= 5; v++) {
    struct sim_mqtt_client_opts so = {.client_id = "sub", .version = v, .clean = 1};
    struct sim_mqtt_client_opts po = {.client_id = "pub", .version = v, .clean = 1, .alias_max = 4};
    struct mq_cli s, p;
    mq_cli_new(&s, m, &so);
    mq_cli_new(&p, m, &po);
    assert_true(mq_cli_connect(&s, m, e->b.port));
    assert_int_equal(mq_cli_subscribe(&s, m, "t/#", 2), 2);
    assert_true(mq_cli_connect(&p, m, e->b.port));
    for (int q = 0; q <= 2; q++) {
      char topic[16], payload[16];
      snprintf(topic, sizeof topic, "t/%d", q);
      snprintf(payload, sizeof payload, "v%d-qos%d", v, q);
      assert_int_equal(sim_mqtt_client_publish(p.c, topic, payload, strlen(payload), q, 0, NULL),
                       0);
    }
    for (int i = 0; i < 3; i++)
      assert_int_equal(sim_mqtt_client_publish(p.c, "t/alias", "a", 1, 1, 0, NULL), 0);
    assert_true(mq_wait(m, &s.msgs, 6, 5000));
    assert_true(mq_wait(m, &p.done_ok, 5, 5000));
    for (int q = 0; q <= 2; q++) {
      char payload[16];
      snprintf(payload, sizeof payload, "v%d-qos%d", v, q);
      assert_true(mq_cli_got(&s, payload));
    }
    /* Delivery order across topics is the broker's (a QoS 2 message leaves it on PUBREL). */
    int aliased_in = 0;
    for (int i = 0; i < 6; i++) {
      if (strcmp(s.m[i].topic, "t/alias") == 0)
        aliased_in++;
      else
        assert_int_equal(s.m[i].qos, s.m[i].topic[2] - '0');
    }
    assert_int_equal(aliased_in, 3);
    struct sim_mqtt_client_stats st;
    sim_mqtt_client_stats(p.c, &st);
    assert_int_equal(p.done_ok, 5); /* QoS 1 and 2, never QoS 0 */
    assert_int_equal(p.done_fail, 0);
    assert_int_equal(st.inflight, 0);
    assert_int_equal(st.aliased, v == 5 ? 2 : 0);
    printf("MQTT %d: 6 publishes delivered, 5 acknowledged, %llu sent as an alias alone\n", v,
           (unsigned long long)st.aliased);
    sim_mqtt_client_disconnect(p.c);
    sim_mqtt_client_disconnect(s.c);
    mq_cli_free(&p);
    mq_cli_free(&s);
  }
}

/* A connection cut without DISCONNECT: the broker publishes the will. */
static void test_will_on_cut(void **state) {
  struct env *e = *state;
  struct mq_loop *m = &e->m;
  struct sim_mqtt_client_opts so = {.client_id = "watcher", .version = 5, .clean = 1};
  struct sim_mqtt_client_opts wo = {.client_id = "hub-7",
                                    .version = 4,
                                    .clean = 1,
                                    .will_topic = "hubs/7/availability",
                                    .will_payload = "offline",
                                    .will_len = 7,
                                    .will_qos = 1};
  struct mq_cli s, w;
  mq_cli_new(&s, m, &so);
  mq_cli_new(&w, m, &wo);
  assert_true(mq_cli_connect(&s, m, e->b.port));
  assert_int_equal(mq_cli_subscribe(&s, m, "hubs/+/availability", 1), 1);
  assert_true(mq_cli_connect(&w, m, e->b.port));
  sim_mqtt_client_abort(w.c);
  assert_true(mq_wait(m, &s.msgs, 1, 5000));
  assert_string_equal(s.m[0].topic, "hubs/7/availability");
  assert_string_equal(s.m[0].payload, "offline");
  /* A DISCONNECT, by contrast, discards the will. */
  assert_true(mq_cli_connect(&w, m, e->b.port));
  sim_mqtt_client_disconnect(w.c);
  struct mq_cli p;
  struct sim_mqtt_client_opts po = {.client_id = "marker", .version = 5, .clean = 1};
  mq_cli_new(&p, m, &po);
  assert_true(mq_cli_connect(&p, m, e->b.port));
  assert_int_equal(sim_mqtt_client_publish(p.c, "hubs/0/availability", "marker", 6, 1, 0, NULL), 0);
  assert_true(mq_wait(m, &s.msgs, 2, 5000));
  assert_string_equal(s.m[1].payload, "marker"); /* no second will before it */
  mq_cli_free(&p);
  mq_cli_free(&w);
  mq_cli_free(&s);
}

/* Keepalive of 1 s: PINGREQs go out and PINGRESPs come back; the connection stays. */
static void test_keepalive(void **state) {
  struct env *e = *state;
  struct mq_loop *m = &e->m;
  struct sim_mqtt_client_opts o = {.client_id = "ka", .version = 5, .clean = 1, .keepalive = 1};
  struct mq_cli t;
  mq_cli_new(&t, m, &o);
  assert_true(mq_cli_connect(&t, m, e->b.port));
  struct sim_mqtt_client_stats st = {0};
  uint64_t deadline = uv_hrtime() + 8000000000ull;
  while (st.pingresps < 2 && uv_hrtime() < deadline) {
    uv_run(&m->loop, UV_RUN_ONCE);
    sim_mqtt_client_stats(t.c, &st);
  }
  assert_true(st.pingresps >= 2);
  assert_true(st.pings >= st.pingresps);
  assert_int_equal(t.closed, 0);
  assert_true(sim_mqtt_client_connected(t.c));
  mq_cli_free(&t);
}

/* Five QoS 1 publishes written while the broker is paused are never acknowledged; the broker is
 * killed and started again from its persistence file; the publisher's persistent session is
 * still there (session present), so the five go out again with DUP set, and the subscriber's
 * persistent session receives all five. Each done_cb runs once. */
static void test_persistent_resend_across_restart(void **state) {
  struct env *e = *state;
  struct mq_loop *m = &e->m;
  struct sim_mqtt_client_opts so = {.client_id = "keeper", .version = 4, .clean = 0};
  struct sim_mqtt_client_opts po = {
      .client_id = "sender", .version = 5, .clean = 0, .session_expiry = 3600};
  struct mq_cli s, p;
  mq_cli_new(&s, m, &so);
  mq_cli_new(&p, m, &po);
  assert_true(mq_cli_connect(&s, m, e->b.port));
  assert_int_equal(mq_cli_subscribe(&s, m, "p/#", 1), 1);
  assert_true(mq_cli_connect(&p, m, e->b.port));
  /* A clean stop saves both sessions to the persistence file. */
  assert_int_equal(broker_stop(&e->b), 0);
  assert_true(mq_wait(m, &p.closed, 1, 5000));
  assert_true(mq_wait(m, &s.closed, 1, 5000));
  assert_int_equal(broker_restart(&e->b), 0);
  assert_true(mq_cli_connect(&p, m, e->b.port));
  assert_int_equal(p.session_present, 1);
  broker_pause(&e->b, 1);
  for (int i = 0; i < 5; i++) {
    char payload[16];
    snprintf(payload, sizeof payload, "m%d", i);
    assert_int_equal(sim_mqtt_client_publish(p.c, "p/x", payload, strlen(payload), 1, 0, NULL), 0);
  }
  for (int i = 0; i < 10; i++)
    uv_run(&m->loop, UV_RUN_NOWAIT); /* the writes reach the kernel */
  struct sim_mqtt_client_stats st;
  sim_mqtt_client_stats(p.c, &st);
  assert_int_equal(st.inflight, 5);
  broker_kill(&e->b); /* paused: it never read them */
  assert_true(mq_wait(m, &p.closed, 2, 5000));
  assert_int_equal(p.done_ok, 0);
  assert_int_equal(broker_restart(&e->b), 0);
  assert_true(mq_cli_connect(&p, m, e->b.port));
  assert_int_equal(p.session_present, 1);
  sim_mqtt_client_stats(p.c, &st);
  assert_int_equal(st.resent_dup, 5);
  assert_true(mq_wait(m, &p.done_ok, 5, 5000));
  assert_true(mq_cli_connect(&s, m, e->b.port));
  assert_int_equal(s.session_present, 1);
  assert_true(mq_wait(m, &s.msgs, 5, 5000));
  for (int i = 0; i < 5; i++) {
    char payload[16];
    snprintf(payload, sizeof payload, "m%d", i);
    assert_true(mq_cli_got(&s, payload));
  }
  sim_mqtt_client_stats(p.c, &st);
  assert_int_equal(p.done_ok, 5);
  assert_int_equal(p.done_fail, 0);
  assert_int_equal(st.inflight, 0);
  printf("resent with DUP after the restart: %llu; delivered to the kept session: %d\n",
         (unsigned long long)st.resent_dup, s.msgs);
  mq_cli_free(&p);
  mq_cli_free(&s);
}

/* A broker with a password file made by mosquitto_passwd: a wrong password is refused, named
 * with its code, in both versions; the right one connects. */
static void test_password_refused(void **state) {
  struct env *e = *state;
  struct mq_loop *m = &e->m;
  char pw[300];
  snprintf(pw, sizeof pw, "%s/passwd", m->dir);
  assert_int_equal(broker_passwd(pw, "hub", "s3cret"), 0);
  snprintf(e->b.passwd, sizeof e->b.passwd, "%s", pw);
  assert_int_equal(broker_start(&e->b, m->dir, 0), 0);
  for (int v = 4; v <= 5; v++) {
    struct sim_mqtt_client_opts o = {
        .client_id = "pw", .version = v, .clean = 1, .username = "hub", .password = "wrong"};
    struct mq_cli t;
    mq_cli_new(&t, m, &o);
    assert_false(mq_cli_connect(&t, m, e->b.port));
    assert_int_equal(t.connected, 0);
    assert_int_equal(t.closed, 1);
    assert_int_equal(t.err, SIM_EAUTH);
    printf("MQTT %d: %s\n", v, t.why);
    assert_non_null(strstr(t.why, "broker refused CONNECT: "));
    /* mosquitto answers a wrong password with "not authorized"; "bad user name or password"
     * would be as right. */
    int named = v == 5 ? (strstr(t.why, "(0x86)") || strstr(t.why, "(0x87)"))
                       : (strstr(t.why, "(4)") || strstr(t.why, "(5)"));
    assert_true(named);
    mq_cli_free(&t);
    o.password = "s3cret";
    mq_cli_new(&t, m, &o);
    assert_true(mq_cli_connect(&t, m, e->b.port));
    mq_cli_free(&t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_connect_both_versions, setup_plain, teardown),
      cmocka_unit_test_setup_teardown(test_publish_each_qos, setup_plain, teardown),
      cmocka_unit_test_setup_teardown(test_will_on_cut, setup_plain, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive, setup_plain, teardown),
      cmocka_unit_test_setup_teardown(test_persistent_resend_across_restart, setup_persistent,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_password_refused, setup_loop_only, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
