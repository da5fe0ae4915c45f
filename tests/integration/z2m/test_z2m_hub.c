/* `hubsim run --profile zigbee2mqtt` against Debian's mosquitto, watched by an observer client:
 * the bridge comes online with bridge/devices and discovery, state messages carry only keys of
 * the model's exposes, a /set on a plug, a light and a curtain changes the device and the next
 * state message shows it, a bad /set yields a bridge/logging error and the run goes on; a broker
 * that stops mid-run gives a verdict that is not PASS, naming why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>

#include "z2mtest.h"

#define HUBS 3
#define MAX_DEVS 16

struct dev {
  char base[64];
  char name[32];
  char model[32]; /* zigbee2mqtt's model: SP-EUC01, ZNLDP12LM, ZNCLDJ11LM */
  json_t *keys;   /* object: the exposes' properties with the state access bit */
};

static struct dev devs[MAX_DEVS];
static size_t n_devs;

static void base_of(int hub, char *out, size_t cap) {
  snprintf(out, cap, "zigbee2mqtt-hub-%06d", hub);
}

/* Every hub has published on <base>/<sub> a payload containing needle (NULL: any). */
struct every {
  const char *sub, *needle;
};

static int every_hub(struct zt *z, void *arg) {
  const struct every *e = arg;
  char t[96];
  for (int h = 0; h < HUBS; h++) {
    base_of(h, t, sizeof t);
    strcat(t, e->sub);
    if (zt_find(z, 0, t, e->needle) < 0)
      return 0;
  }
  return 1;
}

static struct every online = {"/bridge/state", "online"}, offline = {"/bridge/state", "offline"},
                    devices_listed = {"/bridge/devices", NULL};

/* The properties with the state access bit (1), features included (depth bounded). */
static void collect(json_t *exposes, json_t *keys, int depth) {
  size_t i;
  json_t *e;
  assert_true(depth < 4);
  json_array_foreach(exposes, i, e) {
    json_t *feat = json_object_get(e, "features");
    if (feat)
      collect(feat, keys, depth + 1);
    const char *prop = json_string_value(json_object_get(e, "property"));
    json_int_t access = json_integer_value(json_object_get(e, "access"));
    if (prop && (access & 1))
      json_object_set_new(keys, prop, json_true());
  }
}

static void read_devices(struct zt *z) {
  char t[96];
  n_devs = 0;
  for (int h = 0; h < HUBS; h++) {
    base_of(h, t, sizeof t);
    strcat(t, "/bridge/devices");
    long i = zt_find(z, 0, t, NULL);
    assert_true(i >= 0);
    json_error_t err;
    json_t *arr = json_loads(z->msg[i].payload, 0, &err);
    assert_non_null(arr);
    size_t k;
    json_t *d;
    json_array_foreach(arr, k, d) {
      if (strcmp(json_string_value(json_object_get(d, "type")), "Coordinator") == 0)
        continue;
      assert_true(n_devs < MAX_DEVS);
      struct dev *v = &devs[n_devs++];
      base_of(h, v->base, sizeof v->base);
      snprintf(v->name, sizeof v->name, "%s",
               json_string_value(json_object_get(d, "friendly_name")));
      json_t *def = json_object_get(d, "definition");
      assert_non_null(def);
      snprintf(v->model, sizeof v->model, "%s", json_string_value(json_object_get(def, "model")));
      v->keys = json_object();
      collect(json_object_get(def, "exposes"), v->keys, 0);
      assert_true(json_object_size(v->keys) > 0);
    }
    json_decref(arr);
  }
}

static struct dev *dev_of_model(const char *model) {
  for (size_t i = 0; i < n_devs; i++)
    if (strcmp(devs[i].model, model) == 0)
      return &devs[i];
  fail_msg("no %s in the fleet", model);
  return NULL;
}

static void state_topic(const struct dev *d, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s/%s", d->base, d->name);
  assert_true(n > 0 && (size_t)n < cap);
}

/* Every key of every state message so far is an expose of the device with the state bit. */
static size_t check_state_keys(struct zt *z) {
  size_t checked = 0;
  char t[128];
  for (size_t i = 0; i < n_devs; i++) {
    state_topic(&devs[i], t, sizeof t);
    for (long at = zt_find(z, 0, t, NULL); at >= 0; at = zt_find(z, (size_t)at + 1, t, NULL)) {
      json_t *st = json_loads(z->msg[at].payload, 0, NULL);
      assert_non_null(st);
      const char *key;
      json_t *v;
      json_object_foreach(st, key, v) {
        if (!json_object_get(devs[i].keys, key))
          fail_msg("%s (%s): state key '%s' is no expose with the state bit: %s", t, devs[i].model,
                   key, z->msg[at].payload);
      }
      json_decref(st);
      checked++;
    }
  }
  return checked;
}

struct want {
  const char *topic;
  size_t from;
  const char *key;
  json_t *value;
};

/* A state message on w->topic after w->from whose w->key equals w->value. */
static int state_shows(struct zt *z, void *arg) {
  struct want *w = arg;
  for (long at = zt_find(z, w->from, w->topic, NULL); at >= 0;
       at = zt_find(z, (size_t)at + 1, w->topic, NULL)) {
    json_t *st = json_loads(z->msg[at].payload, 0, NULL);
    int ok = st && json_equal(json_object_get(st, w->key), w->value);
    json_decref(st);
    if (ok)
      return 1;
  }
  return 0;
}

/* Publishes a /set (topic suffix sub) and waits for the state message that shows key = value. */
static void set_and_see(struct zt *z, const struct dev *d, const char *sub, const char *payload,
                        const char *key, json_t *value, unsigned ms) {
  char t[160], st[128];
  snprintf(t, sizeof t, "%s/%s/%s", d->base, d->name, sub);
  state_topic(d, st, sizeof st);
  struct want w = {st, z->n, key, value};
  zt_publish(z, t, payload);
  if (!zt_until(z, state_shows, &w, ms))
    fail_msg("%s %s: no state message with %s = %s within %u ms", t, payload, key,
             json_dumps(value, JSON_ENCODE_ANY), ms);
  json_decref(value);
}

struct logwant {
  const char *topic;
  size_t from;
};

static int logged_error(struct zt *z, void *arg) {
  struct logwant *w = arg;
  return zt_find(z, w->from, w->topic, "\"level\":\"error\"") >= 0;
}

static void bad_set(struct zt *z, const struct dev *d, const char *payload) {
  char t[160], lt[96];
  snprintf(t, sizeof t, "%s/%s/set", d->base, d->name);
  snprintf(lt, sizeof lt, "%s/bridge/logging", d->base);
  struct logwant w = {lt, z->n};
  zt_publish(z, t, payload);
  if (!zt_until(z, logged_error, &w, 10000))
    fail_msg("%s '%s': no error on %s", t, payload, lt);
}

/* A discovery config for every device (homeassistant/<component>/<ieee>/<object>/config). */
static int all_discovered(struct zt *z, void *arg) {
  (void)arg;
  for (size_t i = 0; i < n_devs; i++) {
    char pre[64];
    int found = 0;
    for (size_t k = 0; k < z->n && !found; k++)
      found = strncmp(z->msg[k].topic, "homeassistant/", 14) == 0 &&
              snprintf(pre, sizeof pre, "/%s/", devs[i].name) > 0 && strstr(z->msg[k].topic, pre);
    if (!found)
      return 0;
  }
  return 1;
}

static json_t *summary(struct zt *z) {
  json_error_t err;
  json_t *s = json_load_file(z->summary, 0, &err);
  if (!s)
    fail_msg("summary %s: %s", z->summary, err.text);
  return s;
}

static void test_bridge_and_commands(void **state) {
  (void)state;
  static struct zt z;
  zt_init(&z, "#");
  const char *args[] = {
      "--hubs",    "3",       "--devices-per-hub",
      "3",         "--mix",   "lumi.plug.maeu01:1,lumi.light.aqcn02:1,lumi.curtain:1",
      "--speedup", "10",      "--duration",
      "20s",       "--drain", "10s",
      NULL};
  zt_spawn(&z, args);
  assert_true(zt_until(&z, every_hub, &online, 15000));
  assert_true(zt_until(&z, every_hub, &devices_listed, 10000));
  read_devices(&z);
  assert_int_equal(n_devs, HUBS * 3);
  assert_true(zt_until(&z, all_discovered, NULL, 10000));
  struct dev *plug = dev_of_model("SP-EUC01"), *light = dev_of_model("ZNLDP12LM"),
             *curtain = dev_of_model("ZNCLDJ11LM");

  /* The plug: off, then on through the attribute form <name>/set/state. */
  set_and_see(&z, plug, "set", "{\"state\":\"OFF\"}", "state", json_string("OFF"), 10000);
  set_and_see(&z, plug, "set/state", "ON", "state", json_string("ON"), 10000);
  set_and_see(&z, light, "set", "{\"state\":\"ON\",\"brightness\":77}", "brightness",
              json_integer(77), 10000);
  set_and_see(&z, curtain, "set", "{\"position\":30}", "position", json_integer(30), 20000);

  /* Refused commands: an error on bridge/logging, and the hub goes on. */
  bad_set(&z, plug, "garbage{");
  bad_set(&z, plug, "{\"no_such_key\":1}");
  bad_set(&z, light, "{\"brightness\":9999}");
  assert_true(zt_child_alive(&z));
  set_and_see(&z, plug, "set", "{\"state\":\"OFF\"}", "state", json_string("OFF"), 10000);

  assert_true(check_state_keys(&z) >= n_devs);
  int code = zt_wait_child(&z, 60000);
  assert_int_equal(code, 0);
  /* The orderly end: every bridge said offline. */
  assert_true(zt_until(&z, every_hub, &offline, 5000));
  json_t *s = summary(&z);
  const char *verdict = json_string_value(json_object_get(json_object_get(s, "verdict"), "text"));
  assert_non_null(verdict);
  assert_memory_equal(verdict, "PASS", 4);
  json_t *rep = json_object_get(json_object_get(s, "counts"), "reports");
  assert_true(json_integer_value(json_object_get(rep, "sent")) > 0);
  assert_int_equal(json_integer_value(json_object_get(rep, "sent")),
                   json_integer_value(json_object_get(rep, "acked")));
  assert_true(json_integer_value(json_object_get(json_object_get(s, "commands"), "received")) >= 5);
  json_decref(s);
  for (size_t i = 0; i < n_devs; i++)
    json_decref(devs[i].keys);
  zt_fini(&z);
}

static int has_reason(json_t *s, const char *check) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(json_object_get(s, "verdict"), "reasons"), i,
                     r) if (strcmp(json_string_value(json_object_get(r, "check")), check) ==
                            0) return 1;
  return 0;
}

static void test_broker_stops(void **state) {
  (void)state;
  static struct zt z;
  zt_init(&z, "+/bridge/state");
  const char *args[] = {"--hubs",    "3",  "--devices-per-hub", "3",  "--mix",   "lumi.plug.maeu01",
                        "--speedup", "10", "--duration",        "6s", "--drain", "2s",
                        NULL};
  zt_spawn(&z, args);
  assert_true(zt_until(&z, every_hub, &online, 15000));
  assert_int_equal(broker_stop(&z.b) >= 0, 1);
  z.b.pid = 0;
  int code = zt_wait_child(&z, 60000);
  assert_int_not_equal(code, 0);
  assert_int_not_equal(code, -1);
  json_t *s = summary(&z);
  const char *verdict = json_string_value(json_object_get(json_object_get(s, "verdict"), "text"));
  assert_non_null(verdict);
  if (strncmp(verdict, "PASS", 4) == 0)
    fail_msg("verdict after the broker stopped: %s", verdict);
  assert_true(has_reason(s, "hubs_not_online"));
  json_decref(s);
  zt_fini(&z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bridge_and_commands),
      cmocka_unit_test(test_broker_stops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
