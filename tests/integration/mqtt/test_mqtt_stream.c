/* The hubrpc profile over a broker (sim/mqtt/stream.h) through Debian's mosquitto: a hub-side
 * connection and the platform side's listener exchange hubrpc frames byte for byte (the stream
 * cut into frames whatever the pieces it was sent in), each frame one PUBLISH whose payload is
 * the frame's body on PREFIX/HUB/EPOCH/up or down (seen by an observer subscribed to all), an
 * orderly close each way (an empty payload), and a reconnect as a new epoch and a new accepted
 * connection. */
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
#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/mqtt/stream.h"
#include "sim/wire/frame.h"
#include "support/broker.h"

struct side {
  struct sim_conn *c;
  int connected, status, closed, err, accepts;
  struct sim_buf rx;
};

static void s_connect(struct sim_conn *c, int status, void *user) {
  struct side *s = user;
  s->status = status;
  s->connected++;
  if (status)
    s->c = NULL;
  else
    s->c = c;
}

static void s_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  (void)c;
  struct side *s = user;
  assert_int_equal(sim_buf_append(&s->rx, p, n), 0);
}

static void s_closed(struct sim_conn *c, int err, void *user) {
  (void)c;
  struct side *s = user;
  s->closed++;
  s->err = err;
  s->c = NULL;
}

static const struct sim_conn_cbs side_cbs = {s_connect, s_data, s_closed};

static void on_accept(struct sim_listener *l, struct sim_conn *c, void *user) {
  (void)l;
  struct side *s = user;
  s->accepts++;
  s->c = c;
  assert_int_equal(sim_conn_start(c, &side_cbs, s), 0);
}

static int hub_id(void *ctx, void *user, char *out, size_t cap) {
  (void)ctx;
  (void)user;
  snprintf(out, cap, "hub-42");
  return 0;
}

/* Two frames: bodies of 5 and 300 bytes, each with its varint prefix. */
static void two_frames(struct sim_buf *b) {
  uint8_t hdr[5], body[300];
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = (uint8_t)(i * 7 + 1);
  assert_int_equal(sim_buf_append(b, hdr, sim_frame_put_len(hdr, 5)), 0);
  assert_int_equal(sim_buf_append(b, "hello", 5), 0);
  assert_int_equal(sim_buf_append(b, hdr, sim_frame_put_len(hdr, 300)), 0);
  assert_int_equal(sim_buf_append(b, body, sizeof body), 0);
}

static int rx_len(const struct side *s) {
  return (int)s->rx.len;
}

static void test_frames_through_mosquitto(void **state) {
  (void)state;
  struct mq_loop m;
  struct broker b = {0};
  mq_loop_init(&m);
  assert_int_equal(broker_start(&b, m.dir, 0), 0);
  struct sim_mqtt_stream_config cfg = {.inner = m.tcp, .hub_id = hub_id};
  struct sim_transport *hub_t, *plat_t;
  assert_int_equal(sim_transport_mqtt_new(&m.loop, &cfg, &hub_t), 0);
  assert_int_equal(sim_transport_mqtt_new(&m.loop, &cfg, &plat_t), 0);
  struct sim_addr broker = {"127.0.0.1", b.port};
  /* An observer sees the topics and payloads on the broker. */
  struct sim_mqtt_client_opts oo = {.client_id = "observer", .version = 5, .clean = 1};
  struct mq_cli obs;
  mq_cli_new(&obs, &m, &oo);
  assert_true(mq_cli_connect(&obs, &m, b.port));
  assert_int_equal(mq_cli_subscribe(&obs, &m, "hubrpc/v1/#", 1), 1);

  struct side hub = {0}, plat = {0};
  sim_buf_init(&hub.rx);
  sim_buf_init(&plat.rx);
  struct sim_listener *l;
  assert_int_equal(sim_transport_listen(plat_t, &broker, on_accept, &plat, &l), 0);
  assert_int_equal(sim_listener_port(l), b.port);
  /* The listener subscribes once its broker connection is up; frames published before that
   * would reach nobody. */
  uint64_t deadline = uv_hrtime() + 5000000000ull;
  while (!sim_mqtt_stream_listening(l) && uv_hrtime() < deadline)
    uv_run(&m.loop, UV_RUN_ONCE);
  assert_true(sim_mqtt_stream_listening(l));
  struct sim_conn *hc;
  assert_int_equal(sim_conn_connect(hub_t, &broker, NULL, &side_cbs, &hub, &hc), 0);
  assert_true(mq_wait(&m, &hub.connected, 1, 5000));
  assert_int_equal(hub.status, 0);

  struct sim_buf frames;
  sim_buf_init(&frames);
  two_frames(&frames);
  assert_int_equal(sim_conn_send(hub.c, frames.data, 3), 0); /* a piece of the first frame */
  assert_int_equal(sim_conn_pending(hub.c), 3);
  assert_int_equal(sim_conn_send(hub.c, frames.data + 3, frames.len - 3), 0);
  assert_int_equal(sim_conn_pending(hub.c), 0);
  assert_true(mq_wait(&m, &plat.accepts, 1, 5000));
  deadline = uv_hrtime() + 5000000000ull;
  while (rx_len(&plat) < (int)frames.len && uv_hrtime() < deadline)
    uv_run(&m.loop, UV_RUN_ONCE);
  assert_int_equal(plat.rx.len, frames.len);
  assert_memory_equal(plat.rx.data, frames.data, frames.len);
  assert_true(mq_wait(&m, &obs.msgs, 2, 5000));
  assert_non_null(strstr(obs.m[0].topic, "hubrpc/v1/hub-42/"));
  assert_int_equal(strlen(obs.m[0].topic), strlen("hubrpc/v1/hub-42/") + 16 + strlen("/up"));
  assert_string_equal(obs.m[0].topic + strlen(obs.m[0].topic) - 3, "/up");
  assert_string_equal(obs.m[0].payload, "hello"); /* the body, without its prefix */

  /* The platform answers; the hub reads the same bytes. */
  assert_int_equal(sim_conn_send(plat.c, frames.data, frames.len), 0);
  deadline = uv_hrtime() + 5000000000ull;
  while (rx_len(&hub) < (int)frames.len && uv_hrtime() < deadline)
    uv_run(&m.loop, UV_RUN_ONCE);
  assert_int_equal(hub.rx.len, frames.len);
  assert_memory_equal(hub.rx.data, frames.data, frames.len);
  /* A frame of no body cannot be carried: an empty payload is the close. */
  assert_int_equal(sim_conn_send(hub.c, "\x00", 1), SIM_EINVAL);

  /* The platform closes: the hub sees an orderly end. */
  sim_conn_close(plat.c);
  plat.c = NULL;
  assert_true(mq_wait(&m, &hub.closed, 1, 5000));
  assert_int_equal(hub.err, 0);

  /* A reconnect is a new epoch: a new accepted connection; the hub closing ends it there. */
  assert_int_equal(sim_conn_connect(hub_t, &broker, NULL, &side_cbs, &hub, &hc), 0);
  assert_true(mq_wait(&m, &hub.connected, 2, 5000));
  assert_int_equal(hub.status, 0);
  assert_int_equal(sim_conn_send(hub.c, frames.data, frames.len), 0);
  assert_true(mq_wait(&m, &plat.accepts, 2, 5000));
  sim_conn_close(hub.c);
  hub.c = NULL;
  assert_true(mq_wait(&m, &plat.closed, 1, 5000));
  assert_int_equal(plat.err, 0);
  printf("frames of %zu bytes each way, 2 epochs, closes both ways\n", frames.len);

  sim_listener_close(l);
  mq_cli_free(&obs);
  for (int i = 0; i < 5; i++)
    uv_run(&m.loop, UV_RUN_NOWAIT);
  sim_transport_free(hub_t);
  sim_transport_free(plat_t);
  sim_buf_fini(&frames);
  sim_buf_fini(&hub.rx);
  sim_buf_fini(&plat.rx);
  broker_stop(&b);
  mq_loop_fini(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frames_through_mosquitto),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
