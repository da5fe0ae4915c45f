/* The bridge's own messages: bridge/state, bridge/info, bridge/devices, bridge/event,
 * availability and the Home Assistant discovery configs, in zigbee2mqtt 2.14.1's shapes
 * (the facts' observed payloads). Keys are sorted, as zigbee2mqtt serialises. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/z2m_internal.h"
#include "sim/core/err.h"

/* Versions zigbee2mqtt 2.14.1 pins (bridge/info). */
#define Z2M_HERDSMAN "10.9.2"
#define Z2M_CONVERTERS "26.105.0"
#define Z2M_URL "https://www.zigbee2mqtt.io"

/* Takes j: its text, or NULL; j is released either way. */
static char *dump_free(json_t *j) {
  char *s = j ? dev__z2m_dump(j) : NULL;
  json_decref(j);
  return s;
}

char *dev_z2m_state_json(int online) {
  return dump_free(json_pack("{ss}", "state", online ? "online" : "offline"));
}

const char *dev_z2m_name(const struct dev_z2m_devinfo *dev, char *out, size_t cap) {
  if (dev->friendly_name) {
    if (strlen(dev->friendly_name) >= cap)
      return NULL;
    memcpy(out, dev->friendly_name, strlen(dev->friendly_name) + 1);
    return out;
  }
  if (cap < 19)
    return NULL;
  dev__z2m_ieee(dev->ieee, out);
  return out;
}

char *dev_z2m_bridge_info(const struct dev_z2m_hubinfo *hub) {
  char ieee[19], epan[19];
  dev__z2m_ieee(hub->coordinator, ieee);
  dev__z2m_ieee(hub->coordinator ^ 0xdddddddddddddddd, epan);
  json_t *j = json_pack(
      "{ss s{s{ss}} s{ss s{} ss} ss s{ss si} s{si ss si} sb sb ss s{ss} s{ss}}", "commit", "hubsim",
      "config", "mqtt", "base_topic", hub->base_topic, "coordinator", "ieee_address", ieee, "meta",
      "type", "hubsim", "log_level", "info", "mqtt", "server",
      hub->mqtt_server ? hub->mqtt_server : "", "version", 4, "network", "channel",
      (int)hub->channel, "extended_pan_id", epan, "pan_id", (int)hub->pan_id, "permit_join",
      hub->permit_join != 0, "restart_required", 0, "version", DEV_Z2M_VERSION, "zigbee_herdsman",
      "version", Z2M_HERDSMAN, "zigbee_herdsman_converters", "version", Z2M_CONVERTERS);
  return dump_free(j);
}

/* One device's element of bridge/devices (a new reference), or NULL on out of memory. */
static json_t *device_entry(const struct dev_z2m_devinfo *dev) {
  char ieee[19];
  const struct dev_z2m_model *zm = dev_z2m_find(dev->model_id);
  dev__z2m_ieee(dev->ieee, ieee);
  json_t *e = zm ? json_deep_copy(zm->bridge)
                 : json_pack("{sb s{} sb ss sb ss sb ss}", "disabled", 0, "endpoints",
                             "interview_completed", 1, "interview_state", "SUCCESSFUL",
                             "interviewing", 0, "model_id", dev->model_id ? dev->model_id : "",
                             "supported", 0, "type", "Unknown");
  if (!e || json_object_set_new(e, "ieee_address", json_string(ieee)) != 0 ||
      json_object_set_new(e, "friendly_name",
                          json_string(dev->friendly_name ? dev->friendly_name : ieee)) != 0 ||
      json_object_set_new(e, "network_address", json_integer(dev->nwk)) != 0) {
    json_decref(e);
    return NULL;
  }
  return e;
}

char *dev_z2m_bridge_devices(const struct dev_z2m_hubinfo *hub, const struct dev_z2m_devinfo *devs,
                             size_t n) {
  char ieee[19];
  json_t *arr = json_array();
  json_t *coord = dev__z2m_coordinator() ? json_deep_copy(dev__z2m_coordinator()) : NULL;
  dev__z2m_ieee(hub->coordinator, ieee);
  if (!arr || !coord || json_object_set_new(coord, "ieee_address", json_string(ieee)) != 0) {
    json_decref(coord);
    json_decref(arr);
    return NULL;
  }
  if (json_array_append_new(arr, coord) != 0) { /* coord is released either way */
    json_decref(arr);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *e = device_entry(&devs[i]);
    if (!e || json_array_append_new(arr, e) != 0) {
      json_decref(arr);
      return NULL;
    }
  }
  return dump_free(arr);
}

char *dev_z2m_bridge_event(enum dev_z2m_event ev, const struct dev_z2m_devinfo *dev) {
  char ieee[19];
  const char *type = "device_interview", *status = NULL;
  const struct dev_z2m_model *zm = dev_z2m_find(dev->model_id);
  dev__z2m_ieee(dev->ieee, ieee);
  switch (ev) {
  case DEV_Z2M_EV_JOINED:
    type = "device_joined";
    break;
  case DEV_Z2M_EV_ANNOUNCE:
    type = "device_announce";
    break;
  case DEV_Z2M_EV_LEAVE:
    type = "device_leave";
    break;
  case DEV_Z2M_EV_INTERVIEW_STARTED:
    status = "started";
    break;
  case DEV_Z2M_EV_INTERVIEW_SUCCESSFUL:
    status = "successful";
    break;
  case DEV_Z2M_EV_INTERVIEW_FAILED:
    status = "failed";
    break;
  default:
    return NULL;
  }
  json_t *data = json_pack("{ssss}", "friendly_name",
                           dev->friendly_name ? dev->friendly_name : ieee, "ieee_address", ieee);
  if (data && status) {
    json_object_set_new(data, "status", json_string(status));
    if (ev == DEV_Z2M_EV_INTERVIEW_SUCCESSFUL) {
      json_object_set_new(data, "supported", json_boolean(zm != NULL));
      if (zm)
        json_object_set(data, "definition", zm->definition);
    }
  }
  return data ? dump_free(json_pack("{soss}", "data", data, "type", type)) : NULL;
}

size_t dev_z2m_ha_count(const struct dev_z2m_devinfo *dev) {
  const struct dev_z2m_model *zm = dev_z2m_find(dev->model_id);
  return zm ? json_array_size(zm->ha) : 0;
}

/* The availability list of a discovery config. */
static json_t *ha_availability(const char *base, const char *name, int availability) {
  char topic[512];
  json_t *a = json_array();
  snprintf(topic, sizeof topic, "%s/bridge/state", base);
  json_array_append_new(
      a, json_pack("{ssss}", "topic", topic, "value_template", "{{ value_json.state }}"));
  if (availability) {
    snprintf(topic, sizeof topic, "%s/%s/availability", base, name);
    json_array_append_new(
        a, json_pack("{ssss}", "topic", topic, "value_template", "{{ value_json.state }}"));
  }
  return a;
}

/* The device block shared by a device's discovery configs. */
static json_t *ha_device(const struct dev_z2m_hubinfo *hub, const struct dev_z2m_model *zm,
                         const char *ieee, const char *name) {
  char id[64], via[64], coord[19];
  dev__z2m_ieee(hub->coordinator, coord);
  snprintf(id, sizeof id, "zigbee2mqtt_%s", ieee);
  snprintf(via, sizeof via, "zigbee2mqtt_bridge_%s", coord);
  json_t *def = zm->definition;
  return json_pack("{s[s]sOsOsOssss}", "identifiers", id, "manufacturer",
                   json_object_get(def, "vendor"), "model", json_object_get(def, "description"),
                   "model_id", json_object_get(def, "model"), "name", name, "via_device", via);
}

int dev_z2m_ha_config(const struct dev_z2m_hubinfo *hub, const struct dev_z2m_devinfo *dev,
                      size_t i, int availability, char **topic, char **payload) {
  char ieee[19], name[256], buf[512];
  const struct dev_z2m_model *zm = dev_z2m_find(dev->model_id);
  json_t *src = zm ? json_array_get(zm->ha, i) : NULL;
  if (!src)
    return SIM_ENOTFOUND;
  dev__z2m_ieee(dev->ieee, ieee);
  if (!dev_z2m_name(dev, name, sizeof name))
    return SIM_EINVAL;
  const char *comp = json_string_value(json_object_get(src, "component"));
  const char *obj = json_string_value(json_object_get(src, "object_id"));
  if (!comp || !obj)
    return SIM_EINVAL;
  /* A device's main entity (its switch, light, cover...) is named after the device alone. */
  static const char *const mains[] = {"switch", "light", "cover", "climate", "lock", "fan"};
  int main_entity = 0;
  for (size_t k = 0; k < sizeof mains / sizeof mains[0]; k++)
    main_entity |= strcmp(comp, obj) == 0 && strcmp(comp, mains[k]) == 0;
  json_t *c = json_object();
  const char *key;
  json_t *v;
  json_object_foreach(src, key, v) {
    if (strcmp(key, "component") != 0 && strcmp(key, "object_id") != 0 &&
        strcmp(key, "command_topic") != 0)
      json_object_set(c, key, v);
  }
  if (json_is_true(json_object_get(src, "command_topic"))) {
    snprintf(buf, sizeof buf, "%s/%s/set", hub->base_topic, name);
    json_object_set_new(c, "command_topic", json_string(buf));
  }
  snprintf(buf, sizeof buf, main_entity ? "%s" : "%s_%s", name, obj);
  json_object_set_new(c, "object_id", json_string(buf));
  snprintf(buf, sizeof buf, main_entity ? "%s.%s" : "%s.%s_%s", comp, name, obj);
  json_object_set_new(c, "default_entity_id", json_string(buf));
  if (main_entity)
    json_object_set_new(c, "name", json_null());
  if (main_entity && strcmp(comp, "switch") == 0) { /* the switch's state feature: ON / OFF */
    json_object_set_new(c, "payload_on", json_string("ON"));
    json_object_set_new(c, "payload_off", json_string("OFF"));
  }
  snprintf(buf, sizeof buf, "%s_%s_%s", ieee, obj, hub->base_topic);
  json_object_set_new(c, "unique_id", json_string(buf));
  snprintf(buf, sizeof buf, "%s/%s", hub->base_topic, name);
  json_object_set_new(c, "state_topic", json_string(buf));
  json_object_set_new(c, "availability", ha_availability(hub->base_topic, name, availability));
  if (availability)
    json_object_set_new(c, "availability_mode", json_string("all"));
  json_object_set_new(c, "device", ha_device(hub, zm, ieee, name));
  json_object_set_new(
      c, "origin",
      json_pack("{ssssss}", "name", "Zigbee2MQTT", "sw", DEV_Z2M_VERSION, "url", Z2M_URL));
  snprintf(buf, sizeof buf, "homeassistant/%s/%s/%s/config", comp, ieee, obj);
  char *p = dump_free(c);
  char *t = p ? strdup(buf) : NULL;
  if (!p || !t) {
    free(p);
    return SIM_ENOMEM;
  }
  *topic = t;
  *payload = p;
  return 0;
}
