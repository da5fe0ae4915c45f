/* What the MQTT integration tests share: a loop with a tcp transport and a scratch folder, a
 * client that records every callback, and waits bounded in time. */
#ifndef TESTS_INTEGRATION_MQTT_MQTEST_H
#define TESTS_INTEGRATION_MQTT_MQTEST_H

#include <stdint.h>
#include <uv.h>

#include "sim/mqtt/client.h"
#include "sim/transport/transport.h"

struct mq_loop {
  uv_loop_t loop;
  uv_timer_t tick; /* wakes the loop so that waits notice their deadline */
  struct sim_transport *tcp;
  char dir[256];
};

#define MQ_MSGS 64

struct mq_cli {
  struct sim_mqtt_client *c;
  int connected, session_present, closed, err;
  int done_ok, done_fail, msgs, subacks;
  uint8_t suback_code, last_reason;
  char why[256];
  struct {
    char topic[64];
    char payload[64];
    int qos, dup;
  } m[MQ_MSGS];
};

void mq_loop_init(struct mq_loop *m);
void mq_loop_fini(struct mq_loop *m);
/* Runs the loop until *v >= target or ms have passed; returns 1 when reached. */
int mq_wait(struct mq_loop *m, const int *v, int target, unsigned ms);

void mq_cli_new(struct mq_cli *t, struct mq_loop *m, const struct sim_mqtt_client_opts *o);
/* Connects to 127.0.0.1:port and waits (5 s) for connected_cb or closed_cb: 1 if connected. */
int mq_cli_connect(struct mq_cli *t, struct mq_loop *m, uint16_t port);
/* Subscribes and waits for the SUBACK; returns its code. */
int mq_cli_subscribe(struct mq_cli *t, struct mq_loop *m, const char *filter, int qos);
void mq_cli_free(struct mq_cli *t);
/* Encodes p for version (the test fails if the encoder refuses it) and sends it on c: what a
 * fake broker answers. */
struct sim_mqtt_packet;
void mq_send_packet(struct sim_conn *c, const struct sim_mqtt_packet *p, int version);
/* 1 when t received a message with this payload. */
int mq_cli_got(const struct mq_cli *t, const char *payload);

#endif
