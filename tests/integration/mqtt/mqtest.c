#include "mqtest.h"

#include "sim/core/buf.h"
#include "sim/mqtt/codec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

static void on_tick(uv_timer_t *t) {
  (void)t;
}

void mq_loop_init(struct mq_loop *m) {
  memset(m, 0, sizeof *m);
  assert_int_equal(uv_loop_init(&m->loop), 0);
  assert_int_equal(sim_transport_tcp_new(&m->loop, &m->tcp), 0);
  uv_timer_init(&m->loop, &m->tick);
  uv_timer_start(&m->tick, on_tick, 20, 20);
  snprintf(m->dir, sizeof m->dir, "/tmp/hubsim-mqtt-XXXXXX");
  assert_non_null(mkdtemp(m->dir));
}

void mq_loop_fini(struct mq_loop *m) {
  uv_timer_stop(&m->tick);
  uv_close((uv_handle_t *)&m->tick, NULL);
  uv_run(&m->loop, UV_RUN_NOWAIT);
  sim_transport_free(m->tcp);
  uv_run(&m->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&m->loop), 0);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", m->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", m->dir);
}

int mq_wait(struct mq_loop *m, const int *v, int target, unsigned ms) {
  uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000ull;
  while (*v < target && uv_hrtime() < deadline)
    uv_run(&m->loop, UV_RUN_ONCE);
  return *v >= target;
}

static void connected_cb(struct sim_mqtt_client *c, int session_present, void *user) {
  (void)c;
  struct mq_cli *t = user;
  t->connected++;
  t->session_present = session_present;
}

static void closed_cb(struct sim_mqtt_client *c, int err, void *user) {
  struct mq_cli *t = user;
  t->closed++;
  t->err = err;
  snprintf(t->why, sizeof t->why, "%s", sim_mqtt_client_why(c));
}

static void message_cb(struct sim_mqtt_client *c, const struct sim_mqtt_msg *msg, void *user) {
  (void)c;
  struct mq_cli *t = user;
  if (t->msgs < MQ_MSGS) {
    snprintf(t->m[t->msgs].topic, sizeof t->m[0].topic, "%s", msg->topic);
    snprintf(t->m[t->msgs].payload, sizeof t->m[0].payload, "%.*s", (int)msg->len,
             (const char *)msg->payload);
    t->m[t->msgs].qos = msg->qos;
    t->m[t->msgs].dup = msg->dup;
  }
  t->msgs++;
}

static void done_cb(struct sim_mqtt_client *c, uint64_t token, int status, uint8_t reason,
                    void *user) {
  (void)c;
  (void)token;
  struct mq_cli *t = user;
  t->last_reason = reason;
  if (status == 0)
    t->done_ok++;
  else
    t->done_fail++;
}

static void subscribed_cb(struct sim_mqtt_client *c, uint16_t pid, const uint8_t *codes, size_t n,
                          void *user) {
  (void)c;
  (void)pid;
  struct mq_cli *t = user;
  t->suback_code = n ? codes[0] : 0xFF;
  t->subacks++;
}

static const struct sim_mqtt_client_cbs cbs = {connected_cb, closed_cb, message_cb, done_cb,
                                               subscribed_cb};

void mq_cli_new(struct mq_cli *t, struct mq_loop *m, const struct sim_mqtt_client_opts *o) {
  memset(t, 0, sizeof *t);
  assert_int_equal(sim_mqtt_client_new(&m->loop, o, &cbs, t, &t->c), 0);
}

int mq_cli_connect(struct mq_cli *t, struct mq_loop *m, uint16_t port) {
  struct sim_addr a = {"127.0.0.1", port};
  int before = t->connected + t->closed;
  assert_int_equal(sim_mqtt_client_connect(t->c, m->tcp, &a), 0);
  int sum = 0;
  uint64_t deadline = uv_hrtime() + 5000000000ull;
  while ((sum = t->connected + t->closed) == before && uv_hrtime() < deadline)
    uv_run(&m->loop, UV_RUN_ONCE);
  return sim_mqtt_client_connected(t->c);
}

int mq_cli_subscribe(struct mq_cli *t, struct mq_loop *m, const char *filter, int qos) {
  int want = t->subacks + 1;
  assert_int_equal(sim_mqtt_client_subscribe(t->c, filter, qos, NULL), 0);
  assert_true(mq_wait(m, &t->subacks, want, 5000));
  return t->suback_code;
}

void mq_cli_free(struct mq_cli *t) {
  sim_mqtt_client_free(t->c);
  t->c = NULL;
}

int mq_cli_got(const struct mq_cli *t, const char *payload) {
  for (int i = 0; i < t->msgs && i < MQ_MSGS; i++)
    if (strcmp(t->m[i].payload, payload) == 0)
      return 1;
  return 0;
}

void mq_send_packet(struct sim_conn *c, const struct sim_mqtt_packet *p, int version) {
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(sim_mqtt_encode(&b, p, version), 0);
  sim_conn_send(c, b.data, b.len);
  sim_buf_fini(&b);
}
