/* The zigbee2mqtt profile of `hubsim run`: every hub behaves as a zigbee2mqtt bridge on an MQTT
 * broker, with its own base topic. A hub uplink driver (sim/fleet/uplink.h): the fleet keeps the
 * devices, the command path and the hub's reconnect backoff; this module holds one MQTT client
 * per hub (sim/mqtt/client.h) and the zigbee2mqtt texts (devices/z2m.h). docs/zigbee2mqtt.md,
 * section "Hubs as zigbee2mqtt bridges", is the reference.
 *
 * Threading: the loop's thread only. Ownership: the caller owns the driver and frees it after
 * the fleet it served (stopped, its loop run until the fleet's stop callback). */
#ifndef APP_Z2M_HUB_H
#define APP_Z2M_HUB_H

#include <stddef.h>
#include <uv.h>

#include "sim/fleet/uplink.h"
#include "sim/transport/transport.h"

/* The default base topic: {hub} is replaced by the hub id. */
#define APP_Z2M_BASE_DEFAULT "zigbee2mqtt-{hub}"
#define APP_Z2M_BASE_MAX 200

struct app_z2m_opts {
  struct sim_addr broker;          /* where the broker listens */
  const char *url;                 /* the broker's URL as given (bridge/info's mqtt.server) */
  const char *base;                /* base topic pattern with {hub}; NULL: APP_Z2M_BASE_DEFAULT */
  int qos;                         /* of state messages: 0 or 1 */
  int discovery;                   /* publish Home Assistant discovery configs */
  int version;                     /* MQTT 4 (3.1.1) or 5; 0: 4, zigbee2mqtt's default */
  uint16_t keepalive;              /* seconds; 0: 60, zigbee2mqtt's default */
  const char *username, *password; /* NULL: none */
};

struct app_z2m;

/* Parses the broker URL mqtt://HOST:PORT or mqtts://HOST:PORT (HOST an IPv4 address) into
 * *out (the scheme chose the transport the driver is given). 0, or SIM_EINVAL. */
int app_z2m_broker(const char *url, struct sim_addr *out);
/* Checks a base topic pattern: no wildcards, at most APP_Z2M_BASE_MAX bytes, and {hub} in it
 * when there is more than one hub. NULL, or why not (a static sentence). */
const char *app_z2m_base_problem(const char *pattern, uint64_t hubs);

/* Creates the driver over transport t (borrowed; tcp or tls to the broker; outlives the
 * driver). opts is copied (strings too). 0 or SIM_ENOMEM. */
int app_z2m_new(uv_loop_t *loop, struct sim_transport *t, const struct app_z2m_opts *opts,
                struct app_z2m **out);
/* The driver's operations, to put with the driver into struct sim_fleet_config. */
const struct sim_fleet_uplink *app_z2m_uplink(void);
/* The operations a scenario or a dashboard may use in this profile: command (given to the
 * device through the fleet's command path, as a /set is; its failure is logged on the hub's
 * bridge/logging). No automations or timers: a broker has none. */
struct scn_platform_ops;
void app_z2m_ops(struct app_z2m *z, struct scn_platform_ops *ops);
/* Frees the driver (NULL: nothing). Its MQTT clients were freed by the fleet's stop. */
void app_z2m_free(struct app_z2m *z);

#endif
