/* The hubrpc profile over an MQTT broker as a transport: a struct sim_transport whose
 * connections carry hubrpc frames as MQTT PUBLISH payloads, one frame per publish, so that hubs
 * and the reference platform keep their hubrpc sessions unchanged (docs/mqtt.md section 6,
 * docs/protocol.md section 17).
 *
 * Topics for hub H and connection epoch E (16 hex digits, fresh on every connect, so that a
 * reconnect is a new connection): PREFIX/H/E/up (hub to platform) and PREFIX/H/E/down (platform
 * to hub). A payload is one frame's body (the Envelope, without the varint prefix); an empty
 * payload on down means the platform closed the connection, on up that the hub did (also the
 * hub's will, so a cut hub closes too).
 *
 * connect(dst) connects one MQTT client per hubrpc connection to the broker at dst (over the
 * inner transport: tcp, or tls for mqtts://); connect_cb runs once its downlink subscription is
 * acknowledged. listen(addr) connects one MQTT client to the broker at addr subscribed to
 * PREFIX/+/+/up; the first frame of a new (hub, epoch) is a new accepted connection. The contract
 * of transport.h holds otherwise; pending() counts the bytes of a partial frame not yet
 * published. When a listener's broker connection ends, its connections get closed_cb with the
 * error and an empty payload is queued on each one's downlink topic (sent once the broker is
 * back, so that a hub still connected to it closes and resends); the listener reconnects with
 * jittered exponential backoff (0.5 s doubling to 30 s, each wait uniform in [b/2, b]) until it
 * is closed.
 *
 * Threading: one loop, as every transport. */
#ifndef SIM_MQTT_STREAM_H
#define SIM_MQTT_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/transport/transport.h"

struct sim_mqtt_stream_config {
  struct sim_transport *inner; /* reaches the broker (borrowed; outlives this transport) */
  const char *prefix;          /* topic prefix; NULL: "hubrpc/v1" */
  int version;                 /* 4 or 5; 0: 5 */
  const char *username, *password;
  /* The hub id of a connect's user pointer, written into out (NUL-terminated, no '/', '+' or
   * '#'); NULL or a failure: "hub-N", N counting connects. */
  int (*hub_id)(void *ctx, void *user, char *out, size_t cap);
  void *hub_id_ctx;
  int qos0; /* 1: frames go out with QoS 0 (no PUBACK, nothing resent by MQTT); 0: QoS 1 */
  uint16_t keepalive; /* seconds of MQTT keepalive; 0: 30 */
};

/* Creates the transport; cfg is copied (strings too). Freed by sim_transport_free(). */
int sim_transport_mqtt_new(uv_loop_t *loop, const struct sim_mqtt_stream_config *cfg,
                           struct sim_transport **out);

/* 1 once a listener of this transport is subscribed to the uplink topics (frames published
 * before then are not seen). */
int sim_mqtt_stream_listening(const struct sim_listener *l);

/* What a transport's connections did, both sides together. */
struct sim_mqtt_stream_stats {
  uint64_t frames_sent; /* frames handed to MQTT clients as publishes */
  /* Of them, those the broker acknowledged (QoS 1: PUBACK; 0 with QoS 0). A publish still
   * queued or unacknowledged when its connection ends is sent but not acknowledged. */
  uint64_t frames_acked;
  uint64_t frames_received; /* frames delivered to connections */
  uint64_t broker_failures; /* hub-side MQTT connections refused or ended by an error */
  /* Hub connections closed by their owner still waiting (at most 2 s) for the broker to
   * acknowledge their last publishes: frames_acked may still grow while this is not 0. */
  uint64_t lingering;
  char last_error[160]; /* the last of those as a sentence ("" if none) */
};
void sim_mqtt_stream_stats(const struct sim_transport *t, struct sim_mqtt_stream_stats *out);

/* Times a listener's broker connection was lost, and made again after a loss. */
void sim_mqtt_stream_listener_stats(const struct sim_listener *l, uint64_t *drops,
                                    uint64_t *reconnects);

/* The user pointer of the connect() whose MQTT client connected its inner transport with
 * inner_user (the user pointer an inner transport's callbacks, such as the tls transport's
 * identity callback, receive); NULL when inner_user is a listener's client. inner_user must be
 * one this transport's clients gave. */
void *sim_mqtt_stream_conn_user(void *inner_user);

/* An mqtt://HOST:PORT or mqtts://HOST:PORT URL (scheme case-insensitive, HOST an IPv4 address,
 * a port from port_min to 65535) into *out; *tls is 1 for mqtts://. SIM_ENOTFOUND when url has
 * another scheme or none (then nothing is written), SIM_EINVAL when it is an MQTT URL with a bad
 * host or port (*why says which). */
int sim_mqtt_url_parse(const char *url, unsigned port_min, struct sim_addr *out, int *tls,
                       const char **why);

#endif
