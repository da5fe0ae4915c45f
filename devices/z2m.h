/* The zigbee2mqtt payload profile: what a zigbee2mqtt bridge publishes for hubsim's devices and
 * how its /set and /get commands become device commands. No network here: the MQTT client
 * (sim/mqtt/) carries the texts this module builds. docs/zigbee2mqtt.md is the reference.
 *
 * Three parts:
 * - definitions (devices/z2m_defs.c): per Zigbee model id, the definition zigbee2mqtt 2.14.1
 *   publishes in bridge/devices (exposes with access bits, value ranges, units), taken as data
 *   from devices/z2m/models.json (embedded at build time);
 * - a device's state (devices/z2m_state.c, rules in devices/z2m_map.c): the ZCL frames a device
 *   sends (attribute reports, read responses, Xiaomi heartbeat lists) become the JSON state
 *   message zigbee2mqtt publishes on <base>/<friendly_name>, with its keys, units and scaling;
 * - commands (devices/z2m_cmd.c): a /set or /get payload becomes the ZCL commands hubsim
 *   executes for a hubrpc Command (struct sim_dev_cmd), or a zigbee2mqtt-style error;
 * - bridge messages (devices/z2m_bridge.c): bridge/state, info, devices, event, availability and
 *   Home Assistant discovery configs.
 *
 * Threads: the definitions are loaded once (dev_z2m_load(), guarded by pthread_once) and then
 * only read; a struct dev_z2m_dev belongs to one thread at a time. Every text returned as
 * `char *` is allocated and freed by the caller with free(). */
#ifndef DEVICES_Z2M_H
#define DEVICES_Z2M_H

#include <stddef.h>
#include <stdint.h>

#include "sim/fleet/model.h"

/* The largest /set or /get payload accepted: zigbee2mqtt's own commands are tens of bytes. */
#define DEV_Z2M_PAYLOAD_MAX 4096
/* The deepest nesting of objects and arrays in a payload; the simulated models need 1. */
#define DEV_Z2M_DEPTH_MAX 4
/* ZCL commands one payload may turn into. */
#define DEV_Z2M_CMDS_MAX 8
/* Room for a command's payload bytes. */
#define DEV_Z2M_CMD_BYTES 16
/* Room for an error message. */
#define DEV_Z2M_ERR_MAX 256

/* zigbee2mqtt's version this profile imitates (bridge/info, discovery origin). */
#define DEV_Z2M_VERSION "2.14.1"

/* ---- definitions ------------------------------------------------------------------------- */

struct dev_z2m_model; /* opaque: one Zigbee model id with a zigbee2mqtt definition */

/* Loads the built-in definitions once. 0, SIM_EMALFORMED (the embedded data is broken: a build
 * defect, logged), SIM_ENOMEM. Safe to call from any thread, any number of times. */
int dev_z2m_load(void);

/* The definition of a Zigbee model id (genBasic modelId, aliases included), or NULL when
 * zigbee2mqtt has none in the data (the device is published as unsupported). Loads on first use.
 * Borrowed: lives as long as the process. */
const struct dev_z2m_model *dev_z2m_find(const char *model_id);

/* The definition object of bridge/devices ({description, exposes, model, options, source,
 * supports_ota, vendor, version}) as compact JSON with sorted keys. */
char *dev_z2m_definition_json(const struct dev_z2m_model *zm);

/* The Zigbee model ids with a definition, in name order: *n gets the count. Borrowed. */
const char *const *dev_z2m_model_ids(size_t *n);

/* ---- a device's state -------------------------------------------------------------------- */

/* What the hub keeps of one device for zigbee2mqtt: the cached state (zigbee2mqtt's
 * cache_state, on by default), which is merged with each converted frame. The cache is one
 * 16-byte slot per key the model can publish (a number, or a value borrowed from the
 * definitions), allocated once: a few hundred bytes per device. */
struct dev_z2m_dev {
  const struct dev_z2m_model *zm; /* borrowed */
  void *slots;                    /* owned */
  uint8_t lqi;
  uint8_t seen; /* 1 after the first frame */
};

/* Starts the state of a device of model_id. 0, SIM_ENOTFOUND (no definition: the caller
 * publishes no state for it), SIM_ENOMEM. */
int dev_z2m_dev_init(struct dev_z2m_dev *zd, const char *model_id);
void dev_z2m_dev_fini(struct dev_z2m_dev *zd);

/* Converts one ZCL frame (header included) the device sent from endpoint ep on cluster, with
 * link quality lqi, as zigbee2mqtt's converters do. *changed (may be NULL) is set to 1 when the
 * frame produced at least one key, so a state message is due. A frame no converter handles (a
 * Default Response, an unknown attribute) changes nothing and returns 0. 0, or SIM_EMALFORMED
 * (the frame does not decode; nothing changed). Allocates nothing. */
int dev_z2m_dev_frame(struct dev_z2m_dev *zd, uint8_t lqi, uint8_t ep, uint16_t cluster,
                      const uint8_t *zcl, size_t len, int *changed);

/* The state message for <base>/<friendly_name>: the cached keys, the keys not cached
 * (action) from frames since the last call, and linkquality, sorted. Taking the message
 * consumes the not-cached keys. NULL on out of memory. */
char *dev_z2m_dev_state(struct dev_z2m_dev *zd);

/* The cached value of one key as JSON text (tests, UIs), or NULL when unknown. */
char *dev_z2m_dev_get(const struct dev_z2m_dev *zd, const char *key);

/* ---- commands ---------------------------------------------------------------------------- */

/* One ZCL command for the device; cmd.payload points into bytes. */
struct dev_z2m_cmd {
  struct sim_dev_cmd cmd;
  uint8_t bytes[DEV_Z2M_CMD_BYTES];
};

struct dev_z2m_cmds {
  struct dev_z2m_cmd c[DEV_Z2M_CMDS_MAX];
  size_t n;
};

/* An error as zigbee2mqtt reports it: a message for <base>/bridge/logging. */
struct dev_z2m_err {
  char message[DEV_Z2M_ERR_MAX]; /* "z2m: ..." */
};

/* Turns a /set payload into device commands. friendly_name (for messages) must not be NULL;
 * topic_endpoint is the endpoint name of
 * <name>/<endpoint>/set (NULL without), topic_attr the attribute of <name>/set/<attr> (NULL
 * without: the payload is then a JSON object, or a bare ON/OFF/TOGGLE/OPEN/CLOSE/STOP/LOCK/UNLOCK
 * meaning {"state":...}). Every key must be an expose of the model whose access bits allow set,
 * with a value of the expose's type and range, and one hubsim's device executes.
 * 0 with *out filled, or SIM_EINVAL with *err naming the payload's fault (nothing to send),
 * SIM_ENOTFOUND (the model has no definition). payload need not end in a NUL. */
int dev_z2m_parse_set(const struct dev_z2m_dev *zd, const char *friendly_name,
                      const char *topic_endpoint, const char *topic_attr, const char *payload,
                      size_t len, struct dev_z2m_cmds *out, struct dev_z2m_err *err);

/* The same for /get: every key must be an expose with the get access bit; each becomes a Read
 * Attributes command. */
int dev_z2m_parse_get(const struct dev_z2m_dev *zd, const char *friendly_name,
                      const char *topic_endpoint, const char *topic_attr, const char *payload,
                      size_t len, struct dev_z2m_cmds *out, struct dev_z2m_err *err);

/* A device command topic under <base>/: <name>[/<endpoint>]/(set|get)[/<attr>]. */
struct dev_z2m_topic {
  int set;           /* 1: /set, 0: /get */
  char name[256];    /* the friendly name (or IEEE address) of a known device */
  char endpoint[32]; /* "" without */
  char attr[64];     /* "" without */
};

/* Splits a topic as zigbee2mqtt does (^<base>/(?!bridge)(.+?)/(get|set)(?:/(.+))?$): the first
 * /set or /get segment ends the name; when no device is called by the whole name, its last
 * segment is taken as an endpoint of the device called by the rest. known(arg, name) says
 * whether a device has that friendly name. 0 with *out filled; SIM_ENOTFOUND when the topic is
 * not a device command (another base, bridge/..., no /set or /get) or names no known device;
 * SIM_EINVAL when a part is longer than *out holds. topic need not end in a NUL. */
int dev_z2m_parse_topic(const char *base, const char *topic, size_t len,
                        int (*known)(void *arg, const char *name), void *arg,
                        struct dev_z2m_topic *out);

/* The bridge/logging message of an error: {"level":"error","message":...}. */
char *dev_z2m_err_json(const struct dev_z2m_err *err);

/* ---- bridge messages --------------------------------------------------------------------- */

/* What the bridge messages say about one device. Strings borrowed. */
struct dev_z2m_devinfo {
  uint64_t ieee;
  uint16_t nwk;
  const char *friendly_name; /* NULL: the IEEE address, as zigbee2mqtt names new devices */
  const char *model_id;
};

/* What they say about the hub (the bridge). Strings borrowed. */
struct dev_z2m_hubinfo {
  const char *base_topic; /* e.g. "zigbee2mqtt" or "hub0001" */
  uint64_t coordinator;   /* the hub's IEEE address */
  uint16_t pan_id;
  uint8_t channel;
  const char *mqtt_server; /* for bridge/info; may be NULL */
  int permit_join;
};

/* {"state":"online"} or {"state":"offline"}: bridge/state and <name>/availability alike. */
char *dev_z2m_state_json(int online);

/* bridge/info. */
char *dev_z2m_bridge_info(const struct dev_z2m_hubinfo *hub);

/* bridge/devices: the coordinator, then every device (with its definition, or supported:false
 * without one). */
char *dev_z2m_bridge_devices(const struct dev_z2m_hubinfo *hub, const struct dev_z2m_devinfo *devs,
                             size_t n);

enum dev_z2m_event {
  DEV_Z2M_EV_JOINED = 1,
  DEV_Z2M_EV_INTERVIEW_STARTED,
  DEV_Z2M_EV_INTERVIEW_SUCCESSFUL, /* adds supported and the definition */
  DEV_Z2M_EV_INTERVIEW_FAILED,
  DEV_Z2M_EV_ANNOUNCE,
  DEV_Z2M_EV_LEAVE,
};

/* bridge/event. */
char *dev_z2m_bridge_event(enum dev_z2m_event ev, const struct dev_z2m_devinfo *dev);

/* The friendly name zigbee2mqtt gives a device: friendly_name, or "0x" + 16 hex digits of its
 * IEEE address. out has at least 19 bytes (for the address form) or holds the name; returns
 * out, or NULL when the name does not fit cap. */
const char *dev_z2m_name(const struct dev_z2m_devinfo *dev, char *out, size_t cap);

/* The number of Home Assistant discovery configs of a device (0 without a definition). */
size_t dev_z2m_ha_count(const struct dev_z2m_devinfo *dev);

/* The i-th discovery config of a device: *topic gets
 * homeassistant/<component>/<ieee>/<object_id>/config and *payload the config (both allocated,
 * written only on success), with the device's availability topic when availability != 0.
 * 0, SIM_ENOTFOUND (i past the end, or no definition), SIM_EINVAL (the friendly name is too
 * long), SIM_ENOMEM. */
int dev_z2m_ha_config(const struct dev_z2m_hubinfo *hub, const struct dev_z2m_devinfo *dev,
                      size_t i, int availability, char **topic, char **payload);

#endif
