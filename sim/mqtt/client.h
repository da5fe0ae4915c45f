/* An MQTT 3.1.1 / 5 client session over any stream transport (tcp, or tls for mqtts://),
 * driven by the one libuv loop: CONNECT with its options, keepalive (PINGREQ, and a timeout for a
 * missing PINGRESP), publishes of QoS 0, 1 and 2 through an in-flight window with a bounded queue
 * behind it, subscriptions, incoming publishes acknowledged as their QoS asks, MQTT 5 topic
 * aliases on outgoing publishes, and the resending of unacknowledged publishes (DUP set) after a
 * reconnect of a persistent session.
 *
 * The client object outlives its connections: sim_mqtt_client_connect() opens one; when it ends
 * (closed_cb) the in-flight and queued publishes stay, and the next connect resends them.
 *
 * Callbacks, per connection: after a connect call that returned 0, exactly one of these runs
 * first: connected_cb (the broker accepted the CONNECT) or closed_cb (the transport failed, the
 * broker refused, or anything else ended it); after connected_cb, closed_cb runs once if the
 * connection ends without the owner ending it. sim_mqtt_client_disconnect(), _abort() and _free()
 * end it with no callback. done_cb runs exactly once for each QoS 1 or 2 publish the broker
 * answered: status 0 when it accepted it (PUBACK, or PUBCOMP for QoS 2, with a reason below
 * 0x80), SIM_EPEER when it refused it (the reason code is passed); never for QoS 0, never for a
 * publish still unanswered (kept for the next connection, or dropped by _free without a call).
 *
 * Errors are named: sim_mqtt_client_why() returns the last one as a sentence ("broker refused
 * CONNECT: not authorized (0x87)", "broker sent a malformed packet: bad fixed header flags
 * (PUBACK)", "no PINGRESP within 1000 ms").
 *
 * A callback may publish, subscribe, disconnect or connect again (from closed_cb), but must not
 * free the client; free it from outside its callbacks.
 *
 * Threading: the loop's thread only. Memory: the client owns copies of every string of its
 * options and of each publish's topic and payload until it is answered or dropped. */
#ifndef SIM_MQTT_CLIENT_H
#define SIM_MQTT_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/transport/transport.h"

struct sim_mqtt_client;

struct sim_mqtt_client_opts {
  const char *client_id;   /* required (may be "" with clean in 5: the broker assigns one) */
  int version;             /* 4 (3.1.1) or 5; 0 means 5 */
  int clean;               /* clean session (3.1.1) / clean start (5) */
  uint32_t session_expiry; /* 5: seconds the broker keeps the session after a drop */
  uint16_t keepalive;      /* seconds, 0 turns PINGREQ off */
  uint32_t pingresp_ms;    /* a PINGRESP later than this ends the connection; 0: keepalive */
  uint32_t connack_ms;     /* no CONNACK after this long ends it; 0: 10 s */
  const char *will_topic;  /* NULL: no will */
  const void *will_payload;
  size_t will_len;
  int will_qos, will_retain;
  const char *username, *password; /* NULL: none */
  uint16_t inflight_max;           /* our window; the broker's Receive Maximum lowers it; 0: 20 */
  size_t queue_max;                /* publishes waiting behind the window; 0: 1000 */
  uint16_t alias_max;   /* 5: topic aliases we use at most (the broker's maximum lowers it) */
  uint16_t receive_max; /* 5: incoming QoS 1/2 in flight we accept; 0: 32 (also the bound in 4) */
  size_t max_packet;    /* the largest packet we accept; 0: SIM_MQTT_PACKET_DEFAULT */
  /* 1: a PUBLISH above max_packet is acknowledged as its QoS asks and dropped (counted in
   * stats.oversized) instead of ending the connection. For a subscriber that many may publish
   * to, over MQTT 3.1.1, which cannot tell the broker our limit. */
  int skip_oversized;
};

/* An incoming application message (borrowed for the call). */
struct sim_mqtt_msg {
  const char *topic; /* NUL-terminated copy */
  size_t topic_len;
  const uint8_t *payload;
  size_t len;
  int qos, retain, dup;
};

struct sim_mqtt_client_cbs {
  void (*connected_cb)(struct sim_mqtt_client *c, int session_present, void *user);
  void (*closed_cb)(struct sim_mqtt_client *c, int err, void *user);
  void (*message_cb)(struct sim_mqtt_client *c, const struct sim_mqtt_msg *m, void *user);
  void (*done_cb)(struct sim_mqtt_client *c, uint64_t token, int status, uint8_t reason,
                  void *user);
  /* A SUBACK: the granted QoS or failure code per filter, in order. */
  void (*subscribed_cb)(struct sim_mqtt_client *c, uint16_t packet_id, const uint8_t *codes,
                        size_t n, void *user);
};

struct sim_mqtt_client_stats {
  uint64_t connects, connacks, published, acked, refused, resent_dup, resent_new;
  uint64_t pings, pingresps, received, aliased;
  uint64_t oversized; /* PUBLISHes above max_packet dropped (skip_oversized) */
  size_t inflight, queued;
  uint8_t last_connack; /* the last CONNACK's return or reason code */
};

/* Creates a client (not connected). opts and cbs are copied (strings too). SIM_EINVAL for a bad
 * option (version, QoS, a will topic with a wildcard). The caller frees it with
 * sim_mqtt_client_free(). */
int sim_mqtt_client_new(uv_loop_t *loop, const struct sim_mqtt_client_opts *opts,
                        const struct sim_mqtt_client_cbs *cbs, void *user,
                        struct sim_mqtt_client **out);
/* Ends any connection (no callback, no DISCONNECT), drops every publish without a call, and
 * frees the client once the loop has closed its timer (the loop must run once more). */
void sim_mqtt_client_free(struct sim_mqtt_client *c);

/* Connects over t to dst and sends CONNECT once the transport is up. SIM_EEXISTS while a
 * connection is open; the transport's error otherwise (then no callback). */
int sim_mqtt_client_connect(struct sim_mqtt_client *c, struct sim_transport *t,
                            const struct sim_addr *dst);
/* Sends DISCONNECT (reason 0: the broker discards the will) and closes. No callback. */
void sim_mqtt_client_disconnect(struct sim_mqtt_client *c);
/* Closes without DISCONNECT, as a cut cable would (the broker publishes the will). */
void sim_mqtt_client_abort(struct sim_mqtt_client *c);

/* Publishes topic/payload (copied). QoS 0 goes out at once and needs a connection
 * (SIM_ECLOSED without one); QoS 1 and 2 enter the window, or the queue behind it, connected or
 * not, and *token (may be NULL) names it in done_cb. SIM_EFULL when the queue is full,
 * SIM_ETOOBIG over the broker's Maximum Packet Size, SIM_EINVAL for a bad topic or QoS, or for a
 * QoS above the broker's Maximum QoS or a retain it said it does not support (5). */
int sim_mqtt_client_publish(struct sim_mqtt_client *c, const char *topic, const void *payload,
                            size_t len, int qos, int retain, uint64_t *token);
/* Subscribes to one filter with QoS qos; *packet_id (may be NULL) is echoed by subscribed_cb.
 * SIM_ECLOSED when not connected. */
int sim_mqtt_client_subscribe(struct sim_mqtt_client *c, const char *filter, int qos,
                              uint16_t *packet_id);

/* The user pointer given to sim_mqtt_client_new(). */
void *sim_mqtt_client_user(const struct sim_mqtt_client *c);
/* 1 while a CONNACK has accepted the current connection. */
int sim_mqtt_client_connected(const struct sim_mqtt_client *c);
void sim_mqtt_client_stats(const struct sim_mqtt_client *c, struct sim_mqtt_client_stats *out);
/* The last error as a sentence ("" if none); valid until the next call on c. */
const char *sim_mqtt_client_why(const struct sim_mqtt_client *c);

#endif
