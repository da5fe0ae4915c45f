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
 * published. A listener whose broker connection ends accepts nothing more (its connections get
 * closed_cb with the error).
 *
 * Threading: one loop, as every transport. */
#ifndef SIM_MQTT_STREAM_H
#define SIM_MQTT_STREAM_H

#include <stddef.h>
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
};

/* Creates the transport; cfg is copied (strings too). Freed by sim_transport_free(). */
int sim_transport_mqtt_new(uv_loop_t *loop, const struct sim_mqtt_stream_config *cfg,
                           struct sim_transport **out);

/* 1 once a listener of this transport is subscribed to the uplink topics (frames published
 * before then are not seen). */
int sim_mqtt_stream_listening(const struct sim_listener *l);

#endif
