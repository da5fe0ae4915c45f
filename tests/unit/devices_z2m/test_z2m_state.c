/* The zigbee2mqtt state messages of every catalogue model, driven by the device itself (48
 * hours of its own reports and heartbeats, and every trigger it has), checked key by key
 * against the model's exposes: the key is an expose published in state (access bit 1), its
 * value has the expose's type, lies in value_min..value_max, is one of the enum's values, and
 * is of the magnitude of the expose's unit (which catches a missing scaling: 2150 is not a
 * temperature in degC). The conversion tables against the exposes and the catalogue; the
 * bridge messages against zigbee2mqtt's observed payloads; hostile frames. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "z2m_test.h"

#include "devices/z2m_internal.h"

#define HOUR SIM_SEC(3600)

/* The magnitudes a value of each unit can take on these devices. */
static const struct {
  const char *unit;
  double lo, hi;
} units[] = {
    /* clang-format off */
    {"\xc2\xb0" "C", -40, 125}, {"%", 0, 100}, {"hPa", 300, 1100}, {"mV", 0, 5000},
    {"lx", 0, 200000}, {"W", 0, 5000}, {"kWh", 0, 1e6}, {"V", 90, 260}, {"A", 0, 30},
    {"mired", 150, 500}, {"s", 0, 65535}, {"lqi", 0, 255}, {"%LEL", 0, 100},
    {"\xc2\xb0", -90, 90},
    /* clang-format on */
};

struct seen {
  const char *model;
  json_t *keys; /* key -> true */
};

/* Checks one value against its expose; fails the test naming model and key. */
static void check_value(const char *model, const char *key, json_t *e, json_t *v) {
  const char *type = json_string_value(json_object_get(e, "type"));
  char *vs = json_dumps(v, JSON_ENCODE_ANY);
  if (!(json_integer_value(json_object_get(e, "access")) & 1))
    fail_msg("%s: %s=%s is published but its expose has no state access bit", model, key, vs);
  if (strcmp(type, "binary") == 0) {
    if (!json_equal(v, json_object_get(e, "value_on")) &&
        !json_equal(v, json_object_get(e, "value_off")))
      fail_msg("%s: %s=%s is neither value_on nor value_off", model, key, vs);
  } else if (strcmp(type, "numeric") == 0) {
    if (!json_is_number(v))
      fail_msg("%s: %s=%s is not a number", model, key, vs);
    double x = json_number_value(v);
    json_t *lo = json_object_get(e, "value_min"), *hi = json_object_get(e, "value_max");
    if ((lo && x < json_number_value(lo)) || (hi && x > json_number_value(hi)))
      fail_msg("%s: %s=%s outside value_min..value_max", model, key, vs);
    const char *unit = json_string_value(json_object_get(e, "unit"));
    for (size_t i = 0; unit && i < sizeof units / sizeof units[0]; i++)
      if (strcmp(unit, units[i].unit) == 0 && (x < units[i].lo || x > units[i].hi))
        fail_msg("%s: %s=%s is not a value in %s", model, key, vs, unit);
  } else if (strcmp(type, "enum") == 0) {
    size_t i;
    json_t *x;
    int found = 0;
    json_array_foreach(json_object_get(e, "values"), i, x) found |= json_equal(x, v);
    if (!found)
      fail_msg("%s: %s=%s is not one of the enum's values", model, key, vs);
  } else if (strcmp(type, "text") == 0) {
    if (!json_is_string(v))
      fail_msg("%s: %s=%s is not text", model, key, vs);
  } else {
    fail_msg("%s: %s has expose type %s, not a state value", model, key, type);
  }
  free(vs);
}

static void check_state(struct rig *r, const char *msg) {
  struct seen *s = r->arg;
  json_error_t je;
  json_t *j = json_loads(msg, 0, &je);
  if (!json_is_object(j))
    fail_msg("%s: state message is not a JSON object: %s", s->model, msg);
  /* Rounded numbers print as zigbee2mqtt prints them: 9.68, not 9.6799999999999997. */
  if (strstr(msg, "9999999") || strstr(msg, "0000000"))
    fail_msg("%s: a number printed with binary noise: %s", s->model, msg);
  if (!json_is_integer(json_object_get(j, "linkquality")))
    fail_msg("%s: no linkquality in %s", s->model, msg);
  const char *key;
  json_t *v;
  json_object_foreach(j, key, v) {
    json_t *e = oracle_expose(s->model, key);
    if (!e)
      fail_msg("%s: key %s of %s is not an expose of the model", s->model, key, msg);
    check_value(s->model, key, e, v);
    json_object_set_new(s->keys, key, json_true());
  }
  json_decref(j);
}

/* Every catalogue model: 48 hours of its own frames and each of its triggers. */
static void test_every_model(void **state) {
  (void)state;
  size_t n, checked = 0, without = 0;
  const struct sim_model *const *ms = dev_catalog_models(&n);
  assert_true(n >= 20);
  for (size_t i = 0; i < n; i++) {
    const char *id = ms[i]->model_id;
    struct rig r;
    struct seen s = {id, json_object()};
    int rc = rig_init(&r, id, 7 + i);
    if (rc == SIM_ENOTFOUND) {
      /* Named, and published as zigbee2mqtt publishes an unknown device. */
      print_message("model %s: no entry in the zigbee2mqtt exposes: published as unsupported\n",
                    id);
      assert_null(oracle_expose(id, "linkquality"));
      without++;
      json_decref(s.keys);
      continue;
    }
    assert_int_equal(rc, 0);
    r.on_state = check_state;
    r.arg = &s;
    rig_run_until(&r, 24 * HOUR);
    const struct dev_cat_model *cm = ms[i]->params;
    for (uint8_t t = 0; t < cm->n_trig; t++) {
      rig_at(&r, 24 * HOUR + SIM_SEC(600) * (t + 1));
      ms[i]->ops->trigger(ms[i], &r.dev, &r.env, cm->trig[t].name);
      rig_run_until(&r, 24 * HOUR + SIM_SEC(600) * (t + 1) + SIM_SEC(300));
    }
    rig_run_until(&r, 48 * HOUR);
    if (r.bad)
      fail_msg("%s: %d of %d frames did not decode", id, r.bad, r.frames);
    /* Every model publishes something of its own besides linkquality. */
    if (json_object_size(s.keys) < 2)
      fail_msg("%s: %d frames, no state key but linkquality", id, r.frames);
    char *keys = json_dumps(s.keys, JSON_COMPACT | JSON_SORT_KEYS);
    print_message("%-24s %4d frames, keys %s\n", id, r.frames, keys);
    free(keys);
    json_decref(s.keys);
    rig_fini(&r);
    checked++;
  }
  print_message("%zu models checked, %zu without a zigbee2mqtt entry\n", checked, without);
  assert_true(checked >= 20);
}

/* Candidate values of an expose, as JSON texts: its on value, its enum values, numbers in its
 * range. */
static int candidates(json_t *e, char out[][48], int cap) {
  const char *type = json_string_value(json_object_get(e, "type"));
  int n = 0;
  if (strcmp(type, "binary") == 0) {
    char *a = json_dumps(json_object_get(e, "value_on"), JSON_ENCODE_ANY);
    char *b = json_dumps(json_object_get(e, "value_off"), JSON_ENCODE_ANY);
    snprintf(out[n++], 48, "%s", a);
    snprintf(out[n++], 48, "%s", b);
    free(a);
    free(b);
  } else if (strcmp(type, "enum") == 0) {
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(e, "values"), i, x) {
      if (n < cap)
        snprintf(out[n++], 48, "\"%s\"", json_string_value(x));
    }
  } else if (strcmp(type, "numeric") == 0) {
    json_t *lo = json_object_get(e, "value_min"), *hi = json_object_get(e, "value_max");
    double a = lo ? json_number_value(lo) : 0, b = hi ? json_number_value(hi) : a + 10;
    snprintf(out[n++], 48, "%g", round((a + b) / 2));
    snprintf(out[n++], 48, "%g", a);
  }
  return n;
}

/* Runs the commands of a parsed payload on the rig's device; every one must succeed. */
static void run_cmds(struct rig *r, const struct dev_z2m_cmds *cmds, const char *what) {
  for (size_t i = 0; i < cmds->n; i++) {
    uint32_t lat;
    int st = r->m->ops->command(r->m, &r->dev, &r->env, &cmds->c[i].cmd, &lat);
    if (st != 0)
      fail_msg("%s: ZCL status 0x%02x for cluster 0x%04x", what, st, cmds->c[i].cmd.cluster);
  }
  rig_run_until(r, r->env.now + SIM_SEC(60));
}

/* Every settable key of every model takes a value of its expose, the device executes the
 * commands, and the state messages that follow still fit the exposes; every gettable key with
 * an attribute is read the same way. */
static void test_every_set_get(void **state) {
  (void)state;
  size_t n, sets = 0, gets = 0, no_attr = 0;
  const struct dev_z2m_table *t = dev__z2m_tables(&n);
  for (size_t i = 0; i < n; i++) {
    struct rig r;
    struct seen s = {t[i].model_id, json_object()};
    assert_int_equal(rig_init(&r, t[i].model_id, 11), 0);
    r.on_state = check_state;
    r.arg = &s;
    rig_run_until(&r, SIM_SEC(10));
    for (size_t k = 0; k < t[i].n_sets; k++) {
      char vals[16][48], payload[1024];
      int nv = candidates(oracle_expose(t[i].model_id, t[i].sets[k].prop), vals, 16), done = 0;
      for (int v = 0; v < nv; v++) {
        struct dev_z2m_cmds cmds;
        struct dev_z2m_err err;
        snprintf(payload, sizeof payload, "{\"%s\":%s}", t[i].sets[k].prop, vals[v]);
        if (dev_z2m_parse_set(&r.zd, "d", NULL, NULL, payload, strlen(payload), &cmds, &err) != 0)
          continue; /* a value of the expose the device's attribute cannot hold */
        run_cmds(&r, &cmds, payload);
        done++;
      }
      if (!done)
        fail_msg("%s: no value of %s's expose is taken", t[i].model_id, t[i].sets[k].prop);
      sets++;
    }
    json_t *ex = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(oracle(), "models"), t[i].model_id),
                            "bridge"),
            "definition"),
        "exposes");
    size_t x;
    json_t *e;
    json_array_foreach(ex, x, e) {
      json_t *list = json_object_get(e, "features") ? json_object_get(e, "features") : NULL;
      for (size_t f = 0; f < (list ? json_array_size(list) : 1); f++) {
        json_t *g = list ? json_array_get(list, f) : e;
        const char *prop = json_string_value(json_object_get(g, "property"));
        /* A composite (a light's level_config) is not a key of its own. */
        if (!prop || json_object_get(g, "features") ||
            !(json_integer_value(json_object_get(g, "access")) & 4))
          continue;
        char payload[1024];
        struct dev_z2m_cmds cmds;
        struct dev_z2m_err err;
        snprintf(payload, sizeof payload, "{\"%s\":\"\"}", prop);
        if (dev_z2m_parse_get(&r.zd, "d", NULL, NULL, payload, strlen(payload), &cmds, &err)) {
          if (!strstr(err.message, "no attribute"))
            fail_msg("%s: /get %s: %s", t[i].model_id, prop, err.message);
          print_message("  /get %s %s: no attribute\n", t[i].model_id, prop);
          no_attr++;
          continue;
        }
        int before = r.changed;
        run_cmds(&r, &cmds, payload);
        /* The read response carries the attribute, so the state is published again. */
        if (r.changed == before)
          fail_msg("%s: /get %s: the read brought no state", t[i].model_id, prop);
        gets++;
      }
    }
    if (r.bad)
      fail_msg("%s: %d frames did not decode", t[i].model_id, r.bad);
    json_decref(s.keys);
    rig_fini(&r);
  }
  print_message("%zu settable keys set, %zu gettable keys read, %zu without an attribute\n", sets,
                gets, no_attr);
}

/* The tables' keys are exposes of their model with the right access; every write is to an
 * attribute the catalogue device takes, with the catalogue's type; every cluster command is one
 * the device executes. */
static void test_tables(void **state) {
  (void)state;
  size_t n;
  const struct dev_z2m_table *t = dev__z2m_tables(&n);
  assert_true(n >= 20);
  for (size_t i = 0; i < n; i++) {
    const char *id = t[i].model_id;
    const struct sim_model *m = dev_catalog_find(id);
    if (!m || !dev_z2m_find(id))
      fail_msg("table %s: no catalogue model or no definition", id);
    const struct dev_cat_model *cm = m->params;
    for (size_t k = 0; k < t[i].n_rules; k++) {
      json_t *e = oracle_expose(id, t[i].rules[k].prop);
      if (!e || !(json_integer_value(json_object_get(e, "access")) & 1))
        fail_msg("%s: rule key %s is not a state expose", id, t[i].rules[k].prop);
    }
    for (size_t k = 0; k < t[i].n_sets; k++) {
      const struct dev_z2m_setrule *s = &t[i].sets[k];
      json_t *e = oracle_expose(id, s->prop);
      if (!e || !(json_integer_value(json_object_get(e, "access")) & 2))
        fail_msg("%s: /set key %s is not a settable expose", id, s->prop);
      if (s->act == DEV_Z2M_SET_WRITE || s->act == DEV_Z2M_SET_COVER) {
        int ok = 0;
        for (uint8_t a = 0; a < cm->n_attr; a++)
          ok |= cm->attr[a].cluster == s->cluster && cm->attr[a].attr == s->attr &&
                cm->attr[a].writable && cm->attr[a].v.type == s->type &&
                (cm->attr[a].ep == s->ep || s->ep == 0);
        if (!ok)
          fail_msg("%s: /set %s writes 0x%04x/0x%04x type 0x%02x: no such writable attribute", id,
                   s->prop, s->cluster, s->attr, s->type);
      } else {
        uint16_t cl = s->act == DEV_Z2M_SET_ONOFF ? 0x0006 : s->cluster;
        uint8_t cmd = s->act == DEV_Z2M_SET_ONOFF   ? 0x01
                      : s->act == DEV_Z2M_SET_LEVEL ? 0x04
                                                    : 0x0A;
        int ok = 0;
        for (uint8_t c = 0; c < cm->n_cmd; c++)
          ok |= cm->cmd[c].cluster == cl && cm->cmd[c].command == cmd &&
                (cm->cmd[c].ep == 0 || cm->cmd[c].ep == s->ep);
        if (!ok)
          fail_msg("%s: /set %s sends a command the device does not execute", id, s->prop);
      }
    }
  }
}

static json_t *load(const char *text) {
  json_error_t e;
  assert_non_null(text);
  json_t *j = json_loads(text, 0, &e);
  if (!j)
    fail_msg("not JSON (%s): %s", e.text, text);
  return j;
}

/* load() of an allocated text, which it frees. */
static json_t *take(char *text) {
  json_t *j = load(text);
  free(text);
  return j;
}

static void assert_json(char *got, const char *want) {
  assert_non_null(got);
  json_t *a = load(got), *b = load(want);
  if (!json_equal(a, b))
    fail_msg("got  %s\nwant %s", got, want);
  json_decref(a);
  json_decref(b);
  free(got);
}

static const struct dev_z2m_hubinfo hub = {.base_topic = "zigbee2mqtt",
                                           .coordinator = 0x00124b0000000001ull,
                                           .pan_id = 6754,
                                           .channel = 11,
                                           .mqtt_server = "mqtt://127.0.0.1:1883"};

/* bridge/state, availability, bridge/info, bridge/devices and bridge/event. */
static void test_bridge(void **state) {
  (void)state;
  assert_json(dev_z2m_state_json(1), "{\"state\":\"online\"}");
  assert_json(dev_z2m_state_json(0), "{\"state\":\"offline\"}");
  json_t *info = take(dev_z2m_bridge_info(&hub));
  assert_string_equal(json_string_value(json_object_get(info, "version")), "2.14.1");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(info, "network"), "pan_id")),
                   6754);
  assert_true(json_is_false(json_object_get(info, "permit_join")));
  json_decref(info);

  struct dev_z2m_devinfo devs[] = {
      {0x54ef441000a0000eull, 4110, "kitchen/plug", "lumi.plug.maeu01"},
      {0x00158d0000a00000ull, 4096, NULL, "lumi.weather"},
      {0x00158d0000a00001ull, 4097, NULL, "lumi.nope"},
  };
  char *text = dev_z2m_bridge_devices(&hub, devs, 3);
  assert_non_null(text);
  json_t *arr = load(text);
  free(text);
  assert_int_equal(json_array_size(arr), 4);
  json_t *c = json_array_get(arr, 0), *p = json_array_get(arr, 1), *w = json_array_get(arr, 2);
  assert_string_equal(json_string_value(json_object_get(c, "type")), "Coordinator");
  assert_string_equal(json_string_value(json_object_get(c, "ieee_address")), "0x00124b0000000001");
  assert_string_equal(json_string_value(json_object_get(p, "friendly_name")), "kitchen/plug");
  assert_string_equal(json_string_value(json_object_get(p, "ieee_address")), "0x54ef441000a0000e");
  assert_int_equal(json_integer_value(json_object_get(p, "network_address")), 4110);
  json_t *ex = json_object_get(json_object_get(p, "definition"), "exposes");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(ex, json_array_size(ex) - 1), "name")),
      "linkquality");
  assert_string_equal(json_string_value(json_object_get(w, "friendly_name")), "0x00158d0000a00000");
  assert_true(json_is_false(json_object_get(json_array_get(arr, 3), "supported")));
  json_decref(arr);

  assert_json(dev_z2m_bridge_event(DEV_Z2M_EV_JOINED, &devs[1]),
              "{\"data\":{\"friendly_name\":\"0x00158d0000a00000\",\"ieee_address\":"
              "\"0x00158d0000a00000\"},\"type\":\"device_joined\"}");
  assert_json(dev_z2m_bridge_event(DEV_Z2M_EV_INTERVIEW_STARTED, &devs[1]),
              "{\"data\":{\"friendly_name\":\"0x00158d0000a00000\",\"ieee_address\":"
              "\"0x00158d0000a00000\",\"status\":\"started\"},\"type\":\"device_interview\"}");
  assert_json(dev_z2m_bridge_event(DEV_Z2M_EV_LEAVE, &devs[0]),
              "{\"data\":{\"friendly_name\":\"kitchen/plug\",\"ieee_address\":"
              "\"0x54ef441000a0000e\"},\"type\":\"device_leave\"}");
  json_t *ev = take(dev_z2m_bridge_event(DEV_Z2M_EV_INTERVIEW_SUCCESSFUL, &devs[0]));
  json_t *d = json_object_get(ev, "data");
  assert_true(json_is_true(json_object_get(d, "supported")));
  assert_string_equal(json_string_value(json_object_get(json_object_get(d, "definition"), "model")),
                      "SP-EUC01");
  json_decref(ev);
}

/* Home Assistant discovery: the two configs zigbee2mqtt's observed run printed in full. */
static void test_discovery(void **state) {
  (void)state;
  struct dev_z2m_devinfo plug = {0x54ef441000a0000eull, 4110, "kitchen/plug", "lumi.plug.maeu01"};
  struct dev_z2m_devinfo weather = {0x00158d0000a00000ull, 4096, "living_room/weather",
                                    "lumi.weather"};
  char *topic = NULL, *payload = NULL;
  assert_int_equal(dev_z2m_ha_count(&plug), 14);
  assert_int_equal(dev_z2m_ha_config(&hub, &plug, 0, 1, &topic, &payload), 0);
  assert_string_equal(topic, "homeassistant/switch/0x54ef441000a0000e/switch/config");
  assert_json(payload,
              "{\"availability\":[{\"topic\":\"zigbee2mqtt/bridge/state\",\"value_template\":\"{{ "
              "value_json.state }}\"},{\"topic\":\"zigbee2mqtt/kitchen/plug/availability\","
              "\"value_template\":\"{{ value_json.state }}\"}],\"availability_mode\":\"all\","
              "\"command_topic\":\"zigbee2mqtt/kitchen/plug/set\",\"default_entity_id\":\"switch."
              "kitchen/plug\",\"device\":{\"identifiers\":[\"zigbee2mqtt_0x54ef441000a0000e\"],"
              "\"manufacturer\":\"Aqara\",\"model\":\"Smart plug EU\",\"model_id\":\"SP-EUC01\","
              "\"name\":\"kitchen/plug\",\"via_device\":\"zigbee2mqtt_bridge_0x00124b0000000001\"},"
              "\"name\":null,\"object_id\":\"kitchen/plug\",\"origin\":{\"name\":\"Zigbee2MQTT\","
              "\"sw\":\"2.14.1\",\"url\":\"https://www.zigbee2mqtt.io\"},\"payload_off\":\"OFF\","
              "\"payload_on\":\"ON\",\"state_topic\":\"zigbee2mqtt/kitchen/plug\",\"unique_id\":"
              "\"0x54ef441000a0000e_switch_zigbee2mqtt\",\"value_template\":\"{{ "
              "value_json[\\\"state\\\"] }}\"}");
  free(topic);
  size_t n = dev_z2m_ha_count(&weather), i;
  for (i = 0; i < n; i++) {
    assert_int_equal(dev_z2m_ha_config(&hub, &weather, i, 1, &topic, &payload), 0);
    if (strcmp(topic, "homeassistant/sensor/0x00158d0000a00000/temperature/config") == 0)
      break;
    free(topic);
    free(payload);
  }
  assert_true(i < n);
  free(topic);
  assert_json(
      payload,
      "{\"availability\":[{\"topic\":\"zigbee2mqtt/bridge/state\",\"value_template\":\"{{ "
      "value_json.state }}\"},{\"topic\":\"zigbee2mqtt/living_room/weather/availability\","
      "\"value_template\":\"{{ value_json.state }}\"}],\"availability_mode\":\"all\","
      "\"default_entity_id\":\"sensor.living_room/weather_temperature\",\"device\":{"
      "\"identifiers\":[\"zigbee2mqtt_0x00158d0000a00000\"],\"manufacturer\":\"Aqara\",\"model\":"
      "\"Temperature and humidity sensor\",\"model_id\":\"WSDCGQ11LM\",\"name\":\"living_room/"
      "weather\",\"via_device\":\"zigbee2mqtt_bridge_0x00124b0000000001\"},\"device_class\":"
      "\"temperature\",\"enabled_by_default\":true,\"object_id\":\"living_room/"
      "weather_temperature\",\"origin\":{\"name\":\"Zigbee2MQTT\",\"sw\":\"2.14.1\",\"url\":"
      "\"https://www.zigbee2mqtt.io\"},\"state_class\":\"measurement\",\"state_topic\":"
      "\"zigbee2mqtt/living_room/weather\",\"unique_id\":\"0x00158d0000a00000_temperature_"
      "zigbee2mqtt\",\"unit_of_measurement\":\"\xc2\xb0"
      "C\",\"value_template\":\"{{ value_json[\\\"temperature\\\"] }}\"}");
  assert_int_equal(dev_z2m_ha_config(&hub, &weather, n, 1, &topic, &payload), SIM_ENOTFOUND);
}

/* A weather report decodes to zigbee2mqtt's units; truncated and random frames change nothing
 * and never crash. */
static void test_frames(void **state) {
  (void)state;
  struct dev_z2m_dev zd;
  int changed = 0;
  assert_int_equal(dev_z2m_dev_init(&zd, "lumi.weather"), 0);
  /* Report Attributes: msTemperatureMeasurement measuredValue int16 2150 (21.50 degC). */
  const uint8_t temp[] = {0x18, 0x01, 0x0A, 0x00, 0x00, 0x29, 0x66, 0x08};
  assert_int_equal(dev_z2m_dev_frame(&zd, 121, 1, 0x0402, temp, sizeof temp, &changed), 0);
  assert_true(changed);
  assert_json(dev_z2m_dev_state(&zd), "{\"linkquality\":121,\"temperature\":21.5}");
  assert_int_equal(dev_z2m_dev_frame(&zd, 121, 1, 0x0402, temp, 6, &changed), SIM_EMALFORMED);
  /* A 0xFF01 heartbeat: 3005 mV, 21.5 degC (tag 0x64), 45.67 % (0x65), 101320 Pa (0x66). */
  const uint8_t hb[] = {0x1C, 0x5F, 0x11, 0x01, 0x0A, 0x01, 0xFF, 0x42, 0x12,
                        0x01, 0x21, 0xBD, 0x0B, 0x64, 0x29, 0x66, 0x08, 0x65,
                        0x21, 0xD7, 0x11, 0x66, 0x2B, 0xC8, 0x8B, 0x01, 0x00};
  assert_int_equal(dev_z2m_dev_frame(&zd, 120, 1, 0x0000, hb, sizeof hb, &changed), 0);
  assert_json(dev_z2m_dev_state(&zd), "{\"battery\":100,\"humidity\":45.67,\"linkquality\":120,"
                                      "\"pressure\":1013.2,\"temperature\":21.5,\"voltage\":3005}");
  dev_z2m_dev_fini(&zd);
  /* A click: action in the next state message only (zigbee2mqtt does not cache it). */
  assert_int_equal(dev_z2m_dev_init(&zd, "lumi.sensor_switch.aq2"), 0);
  const uint8_t click[] = {0x18, 0x02, 0x0A, 0x00, 0x00, 0x10, 0x01};
  assert_int_equal(dev_z2m_dev_frame(&zd, 130, 1, 0x0006, click, sizeof click, &changed), 0);
  assert_json(dev_z2m_dev_state(&zd), "{\"action\":\"single\",\"linkquality\":130}");
  assert_json(dev_z2m_dev_state(&zd), "{\"linkquality\":130}");
  dev_z2m_dev_fini(&zd);
  assert_int_equal(dev_z2m_dev_init(&zd, "lumi.weather"), 0);
  struct sim_rng rng;
  sim_rng_seed(&rng, 1, 1);
  uint8_t buf[96];
  const uint16_t clusters[] = {0x0000, 0x0006, 0x0402, 0x0500, 0x0101, 0xFCC0};
  for (int i = 0; i < 20000; i++) {
    size_t len = sim_rng_u32(&rng) % sizeof buf;
    for (size_t k = 0; k < len; k++)
      buf[k] = (uint8_t)sim_rng_u32(&rng);
    buf[0] &= 0x1D; /* a global or cluster-specific frame, with or without manufacturer code */
    if (len > 2 && i % 2)
      buf[len > 4 && (buf[0] & 4) ? 4 : 2] = 0x0A; /* mostly reports */
    dev_z2m_dev_frame(&zd, 1, 1, clusters[i % 6], buf, len, NULL);
  }
  char *msg = dev_z2m_dev_state(&zd);
  assert_non_null(msg);
  free(msg);
  dev_z2m_dev_fini(&zd);
  assert_int_equal(dev_z2m_dev_init(&zd, "lumi.nope"), SIM_ENOTFOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_model), cmocka_unit_test(test_every_set_get),
      cmocka_unit_test(test_tables),      cmocka_unit_test(test_bridge),
      cmocka_unit_test(test_discovery),   cmocka_unit_test(test_frames),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
