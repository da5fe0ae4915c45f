/* `hubsim run --profile zigbee2mqtt`: its flags, their checks, and the driver handed to the
 * fleet (app/z2m_hub.c). Kept apart from run_flags.c and run.c so that the profile is one
 * seam there: a flag reader, a check, and a driver put into the fleet's configuration. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app/run_internal.h"
#include "app/z2m_hub.h"
#include "sim/core/err.h"

#define FLAG_OTHER (-2)

int app_run_z2m_flag(struct run_opts *o, int c, const char *arg) {
  switch (c) {
  case '6':
    if (strcmp(arg, "hubrpc") == 0)
      o->profile = RUN_PROFILE_HUBRPC;
    else if (strcmp(arg, "zigbee2mqtt") == 0)
      o->profile = RUN_PROFILE_Z2M;
    else
      return app_run_bad("--profile", arg, "expected hubrpc or zigbee2mqtt");
    return APP_RUN_GO_ON;
  case '7':
    o->z2m_base = arg;
    return APP_RUN_GO_ON;
  case '8':
    if (strcmp(arg, "0") != 0 && strcmp(arg, "1") != 0)
      return app_run_bad("--state-qos", arg, "expected 0 or 1");
    o->z2m_qos = arg[0] - '0';
    return APP_RUN_GO_ON;
  case '9':
    o->z2m_no_discovery = 1;
    return APP_RUN_GO_ON;
  default:
    return FLAG_OTHER;
  }
}

/* The broker flags of the hubrpc profile that also serve this one (zigbee2mqtt's own mqtt.version,
 * mqtt.keepalive, mqtt.user, mqtt.password); the others are refused. */
static int z2m_takes(const char *flag) {
  static const char *const ok[] = {"mqtt-version", "mqtt-keepalive", "mqtt-user",
                                   "mqtt-password-file"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (strcmp(flag, ok[i]) == 0)
      return 1;
  return 0;
}

int app_run_z2m_check(struct run_opts *o) {
  int mqtt = o->platform && (strncasecmp(o->platform, "mqtt://", 7) == 0 ||
                             strncasecmp(o->platform, "mqtts://", 8) == 0);
  struct sim_addr a;
  if (o->profile != RUN_PROFILE_Z2M) {
    if (o->z2m_base || o->z2m_no_discovery || o->z2m_qos != 1)
      return app_run_bad(o->z2m_base           ? "--base-topic"
                         : o->z2m_no_discovery ? "--no-discovery"
                                               : "--state-qos",
                         "", "is for --profile zigbee2mqtt");
    return APP_RUN_GO_ON;
  }
  if (!o->platform || !mqtt || app_z2m_broker(o->platform, &a))
    return app_run_bad("--profile", "zigbee2mqtt",
                       "needs --platform mqtt://HOST:PORT or mqtts://HOST:PORT, the broker (HOST "
                       "an IPv4 address)");
  for (int i = 0; i < APP_RUN_MQTT_NOPTS; i++)
    if ((o->mq.given & (1u << i)) && !z2m_takes(app_run_mqtt_longopts[i].name)) {
      char name[40];
      snprintf(name, sizeof name, "--%s", app_run_mqtt_longopts[i].name);
      return app_run_bad(name, "",
                         strcmp(name, "--mqtt-qos") == 0
                             ? "is for the hubrpc profile; zigbee2mqtt's state QoS is --state-qos"
                             : "is for the hubrpc profile through a broker, not zigbee2mqtt");
    }
  if (o->hub_certs)
    return app_run_bad("--hub-certs", o->hub_certs,
                       "is for the hubrpc profile; the zigbee2mqtt profile's bridges verify the "
                       "broker (--ca) and log in with --mqtt-user");
  /* The hubs are zigbee2mqtt bridges (app/z2m_hub.c), not hubrpc sessions over the broker. */
  o->mq.on = 0;
  const char *why = app_z2m_base_problem(o->z2m_base ? o->z2m_base : APP_Z2M_BASE_DEFAULT, o->hubs);
  if (why)
    return app_run_bad("--base-topic", o->z2m_base ? o->z2m_base : APP_Z2M_BASE_DEFAULT, why);
  if (o->workers > 1 || o->shards > 1)
    return app_run_bad("--workers", "", "the zigbee2mqtt profile runs in one process");
  if (o->clock_virtual)
    return app_run_bad("--clock", "virtual",
                       "the zigbee2mqtt profile needs a real broker and a real clock");
  if (o->platform_admin)
    return app_run_bad("--platform-admin", o->platform_admin,
                       "a broker has no platform admin interface: the zigbee2mqtt profile's "
                       "commands are /set and /get messages");
  return APP_RUN_GO_ON;
}

int app_run_z2m_new(const struct run_opts *o, uv_loop_t *loop, struct sim_transport *t,
                    struct sim_fleet_config *cfg, struct app_z2m **out) {
  *out = NULL;
  if (o->profile != RUN_PROFILE_Z2M)
    return 0;
  struct app_z2m_opts zo = {
      .url = o->platform,
      .base = o->z2m_base,
      .qos = o->z2m_qos,
      .discovery = !o->z2m_no_discovery,
      /* --mqtt-version given, or zigbee2mqtt's own default, 3.1.1 (o->mq.version is the hubrpc
       * profile's, 5, when not given). */
      .version =
          o->mq.given & (1u << (APP_RUN_MQTT_VERSION - APP_RUN_MQTT_FIRST)) ? o->mq.version : 4,
      .keepalive = o->mq.keepalive,
      .username = o->mq.user,
      .password = o->mq.password,
  };
  if (app_z2m_broker(o->platform, &zo.broker))
    return app_run_bad("--platform", o->platform, "expected mqtt://HOST:PORT or mqtts://HOST:PORT");
  int rc = app_z2m_new(loop, t, &zo, out);
  if (rc) {
    fprintf(stderr, "hubsim run: cannot start the zigbee2mqtt profile: %s\n", sim_strerror(rc));
    return 3;
  }
  cfg->platform = zo.broker;
  cfg->uplink = app_z2m_uplink();
  cfg->uplink_arg = *out;
  return 0;
}
