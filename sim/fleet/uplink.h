/* A hub uplink driver: what a hub speaks to the outside instead of its built-in hubrpc session.
 *
 * Without a driver (struct sim_fleet_config.uplink NULL) every hub holds a hubrpc session
 * (fleet.c), unchanged. With one, the fleet keeps everything that is not the protocol (devices,
 * their timers and radio, joins and leaves, the command path, power cuts, the hub's state
 * machine with its connect timeout and jittered backoff) and hands the driver what a hub would
 * send: a device joined or left, a frame a device sent, the outcome of a command. The driver
 * says when a hub's session opened (sim_fleet_uplink_opened) or ended (sim_fleet_uplink_ended);
 * the fleet then backs off and calls connect again.
 *
 * Contract of every member: called on the fleet's loop thread, never re-entrantly for the same
 * hub from inside sim_fleet_uplink_opened/_ended; hub and slot are local indices (valid); the
 * bytes passed are borrowed for the call. The driver keeps its own per-hub state (sized in
 * attach) and outlives the fleet.
 *
 * Fault injection of the hubrpc layer (stall reads, delay writes, malformed frames) does not
 * apply to a driver's hubs: those calls return SIM_EINVAL. */
#ifndef SIM_FLEET_UPLINK_H
#define SIM_FLEET_UPLINK_H

#include <stddef.h>
#include <stdint.h>

#include "sim/fleet/fleet.h"

/* How a session is closed. */
enum sim_uplink_close {
  SIM_UPLINK_ABORT = 1, /* a cut cable: a fault, the connect timeout, disconnect through the
                           control surface */
  SIM_UPLINK_POWER,     /* power cut: also drops what the hub held in memory */
  SIM_UPLINK_STOP,      /* the end of the run: an orderly goodbye */
};

struct sim_fleet_uplink {
  const char *name; /* the profile's name, for messages */
  /* The fleet is created (its hubs and devices exist, nothing runs yet): size per-hub state.
   * 0 or a SIM_E* code (sim_fleet_new fails with it). */
  int (*attach)(void *arg, struct sim_fleet *f);
  /* Start a session for hub (the fleet has set it connecting). 0, or an error: the fleet counts
   * it and backs off (no _opened or _ended follows). Else report the outcome with
   * sim_fleet_uplink_opened or _ended. */
  int (*connect)(void *arg, uint32_t hub);
  /* Close hub's session now (no callback into the fleet follows). A hub with no session: no-op,
   * except SIM_UPLINK_POWER, which always drops what the hub holds. Called again for a session
   * already closed (a power cut closes, then ends the session): no-op. */
  void (*close)(void *arg, uint32_t hub, enum sim_uplink_close how);
  /* A device joined the hub's network (rejoin: after a leave or a power restore). */
  void (*joined)(void *arg, uint32_t hub, uint32_t slot, int rejoin);
  void (*left)(void *arg, uint32_t hub, uint32_t slot);
  /* A ZCL frame (header included) device slot sent from endpoint on cluster, link quality lqi,
   * meant to leave at engine time intended. */
  void (*frame)(void *arg, uint32_t hub, uint32_t slot, uint8_t lqi, uint8_t endpoint,
                uint16_t cluster, const uint8_t *zcl, size_t len, sim_time_t intended);
  /* A command given through sim_fleet_device_command ended: zcl_status 0 success, else the
   * ZCL status the device answered; unknown: the device was not in the network. May be NULL. */
  void (*result)(void *arg, uint32_t hub, uint32_t slot, uint64_t cmd_id, int unknown,
                 uint32_t zcl_status);
  /* Messages hub holds that are sent and not yet acknowledged (stats.in_flight). */
  uint64_t (*held)(void *arg, uint32_t hub);
  /* Adds the driver's own counts into a snapshot (kind[], errors, bytes). */
  void (*stats)(void *arg, struct sim_fleet_stats *out);
};

/* For drivers: hub's session is open (connect timeout cancelled, counted as a session). */
void sim_fleet_uplink_opened(struct sim_fleet *f, uint32_t hub);
/* hub's session ended by itself (the peer, the network): reason is a SIM_E* code or 0, what
 * (may be NULL) the error name counted; the fleet backs off and calls connect again, unless
 * the hub is held off. The driver's close is not called for it. */
void sim_fleet_uplink_ended(struct sim_fleet *f, uint32_t hub, int reason, const char *what);
/* Counts one error under name (as the summary's errors list them, e.g. "mqtt:puback_refused"). */
void sim_fleet_uplink_count(struct sim_fleet *f, const char *name);
/* Records a report's latency from its intended engine time to now: into report_send_lag when
 * the driver has just written it (acked 0), into report_ack when its acknowledgement has just
 * arrived (acked 1). Reports intended within the warmup are left out, as the fleet's own. */
void sim_fleet_uplink_latency(struct sim_fleet *f, int acked, sim_time_t intended);
/* Gives a command to device slot of hub through the normal command path (the radio, a sleepy
 * device's poll), as a platform's Command would; its outcome comes back through the driver's
 * result with cmd_id. 0, SIM_ENOTFOUND (bad index or not in the network: no result follows). */
int sim_fleet_device_command(struct sim_fleet *f, uint32_t hub, uint32_t slot,
                             const struct sim_dev_cmd *dc, uint64_t cmd_id);

#endif
