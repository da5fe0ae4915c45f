/* What the zigbee2mqtt profile tests share: mosquitto (tests/support/broker.h), `hubsim run` as
 * a child process, and an observer MQTT client (sim/mqtt/client.h) in the test's own loop that
 * records every message it receives. Every wait is bounded in time. */
#ifndef TESTS_INTEGRATION_Z2M_Z2MTEST_H
#define TESTS_INTEGRATION_Z2M_Z2MTEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "integration/mqtt/mqtest.h"
#include "sim/mqtt/client.h"
#include "support/broker.h"

struct zt_msg {
  char *topic;
  char *payload; /* NUL-terminated copy */
};

struct zt {
  struct mq_loop m; /* the loop, its tcp transport and the test's folder */
  struct sim_mqtt_client *obs;
  int connected, subacks;
  struct zt_msg *msg; /* every message, in arrival order */
  size_t n, cap;
  struct broker b;
  pid_t child;
  char summary[300], out[300], err[300];
};

/* Starts mosquitto, connects the observer and subscribes it to filter. */
void zt_init(struct zt *z, const char *filter);
/* Kills a child left running, stops the broker, frees everything, removes the folder. */
void zt_fini(struct zt *z);
/* Starts `hubsim run` with the zigbee2mqtt profile against the broker, --allow-lag and extra
 * arguments (NULL-terminated); the summary goes to z->summary. */
void zt_spawn(struct zt *z, const char *const *extra);
/* Runs the loop until pred(z, arg) or ms passed: 1 if it held. */
int zt_until(struct zt *z, int (*pred)(struct zt *z, void *arg), void *arg, unsigned ms);
/* Waits (ms) for the child to exit: its exit code, or -1 (then it is killed). */
int zt_wait_child(struct zt *z, unsigned ms);
/* 1 while the child runs. */
int zt_child_alive(struct zt *z);
/* The first message at index >= from on topic (exact) whose payload contains needle (NULL: any),
 * or -1. */
long zt_find(const struct zt *z, size_t from, const char *topic, const char *needle);
/* Publishes from the observer (QoS 1). */
void zt_publish(struct zt *z, const char *topic, const char *payload);

#endif
