/* The interface between the engine and device models.
 *
 * The engine (sim/) owns devices as compact records in per-worker arrays and one timer per
 * device; models (implemented in devices/, registered at start) give them behaviour. A model
 * never allocates per device and never keeps pointers to a device between calls: all of a
 * device's hot state lives in struct sim_device.state.
 *
 * Threading: models are called from the engine loop only. They must not block. */
#ifndef SIM_FLEET_MODEL_H
#define SIM_FLEET_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "sim/core/rng.h"
#include "sim/loop/clock.h"

#define SIM_DEV_STATE_BYTES 96

/* Device flags. */
#define SIM_DEV_JOINED 0x01    /* in the hub's network */
#define SIM_DEV_ANNOUNCED 0x02 /* DeviceJoined has been queued for the platform */
#define SIM_DEV_PAUSED 0x04    /* its timer was pending when the fleet paused (engine only) */

/* One device: 112 bytes (plus its 24-byte timer in the wheel). The model interprets state; the
 * engine the rest. */
struct sim_device {
  uint32_t hub;     /* index of the owning hub in its worker */
  uint16_t model;   /* index in the model registry */
  uint8_t flags;    /* SIM_DEV_* */
  uint8_t tsn;      /* ZCL transaction sequence number, per device as on real devices */
  uint8_t lqi;      /* link quality of the last frame */
  uint8_t activity; /* frames sent, modulo 256: UIs pulse a device when it changes */
  uint8_t pad[2];
  /* The model's, outside the budgeted state: the generic model keeps there the next instant at
   * which it samples (devices/generic_lazy.c). Zero in a new record; the engine never reads it. */
  uint32_t model_word;
  union {
    uint8_t b[SIM_DEV_STATE_BYTES];
    uint64_t align;
  } state;
};
_Static_assert(sizeof(struct sim_device) == 112, "the device record is part of the memory budget");

struct sim_dev_env;

/* Emits one ZCL frame (header included) from the device, as the hub receives it over the air.
 * The bytes are copied. 0 or a negative error (SIM_EFULL when the hub's queue is full: the
 * frame is dropped and counted). With a radio between device and hub (sim/fleet/radio.c) the
 * frame reaches the hub later: 0 is returned even if it is then lost or dropped, and both are
 * counted. */
typedef int (*sim_dev_emit_fn)(struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster,
                               const uint8_t *zcl, size_t len);

/* What a model sees of the world during one call. Filled by the engine. Times are device time:
 * engine time x --speedup (sim/fleet/hubdev.c). */
struct sim_dev_env {
  struct sim_rng *rng; /* the owning hub's generator: same seed, same behaviour */
  sim_time_t now;      /* device time */
  sim_time_t due;      /* intended time of this wakeup (== now on join/command/trigger) */
  uint64_t wall_ms;    /* Unix time in ms at due, for timestamps inside frames (real time:
                        * --speedup does not scale timestamps) */
  /* Unix time in ms at device time 0, or 0 when the caller has none. A device's daily cycles
   * follow device time from there, so a sample gives the same value whenever it is computed
   * (devices/generic_lazy.c); without it they follow wall_ms. */
  uint64_t wall0_ms;
  uint64_t eui64;  /* the device's IEEE address (derived, not stored) */
  sim_time_t next; /* in: the currently scheduled wakeup (0 = none); out: the next one */
  sim_dev_emit_fn emit;
  void *engine; /* opaque to models */
};

/* A command from the platform, as the hub delivers it over the air. payload is borrowed. */
struct sim_dev_cmd {
  uint8_t endpoint;
  uint16_t cluster;
  uint8_t command;
  uint8_t global; /* 1: a global command (read/write attributes...), 0: cluster specific */
  uint16_t manufacturer_code;
  const uint8_t *payload;
  size_t len;
};

struct sim_model;

struct sim_model_ops {
  /* The device joins the hub's network (rejoin = 1 after a hub restart or power cut). Sets the
   * initial state on a first join, emits what the real device sends right after joining, and
   * sets env->next. */
  void (*join)(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
               int rejoin);
  /* The device's timer fired (env->due is the intended time). Updates state, emits the frames
   * the real device would send now, sets env->next (0: no further wakeup). */
  void (*tick)(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env);
  /* Executes a platform command. Returns the ZCL status (SIM_ZCL_STATUS_* of sim/wire/zcl.h:
   * SUCCESS, UNSUP_CLUSTER_COMMAND, UNSUPPORTED_ATTRIBUTE, MALFORMED_COMMAND...) and sets
   * *latency_us to the device's own latency (the catalogue's latency_ms; the engine adds the
   * radio hops and a sleepy device's wait). May emit frames (the new state)
   * and change env->next. NULL when the model accepts no command. */
  int (*command)(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                 const struct sim_dev_cmd *cmd, uint32_t *latency_us);
  /* A named physical event from a scenario or the UI ("motion", "open", "leak"...). Returns 0 or
   * SIM_ENOTFOUND when the model has no such event. NULL when the model has none. */
  int (*trigger)(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                 const char *event);
};

struct sim_model_endpoint {
  uint8_t id;
  uint16_t profile;
  uint16_t device_id;
  const uint16_t *in;
  uint8_t n_in;
  const uint16_t *out;
  uint8_t n_out;
};

#define SIM_POWER_MAINS 1
#define SIM_POWER_BATTERY 2
#define SIM_LOGICAL_ROUTER 1
#define SIM_LOGICAL_END_DEVICE 2

/* A device model: identity (as the hub announces it in DeviceJoined) and behaviour. Registered
 * models are borrowed by the registry and must outlive it (the catalogue's models live as long
 * as the loaded catalogue, devices/cat_global.c). */
struct sim_model {
  const char *model_id;     /* genBasic modelId, e.g. "lumi.sensor_ht.agl02" */
  const char *manufacturer; /* genBasic manufacturerName, e.g. "LUMI" */
  const char *vendor_model; /* e.g. "WSDCGQ12LM" */
  const char *description;
  uint8_t power_source; /* SIM_POWER_* */
  uint8_t logical_type; /* SIM_LOGICAL_* */
  uint8_t sleepy;       /* 1: receives commands only when it polls */
  /* A sleepy device polls its parent for pending commands every poll_ms (device time); 0: it
   * polls only right after it transmits (its next wakeup). Ignored when sleepy == 0. */
  uint32_t poll_ms;
  uint16_t manufacturer_code; /* node descriptor manufacturer code */
  uint32_t ieee_oui;          /* first three bytes of the IEEE address, e.g. 0x00158D */
  const struct sim_model_endpoint *endpoints;
  uint8_t n_endpoints;
  const struct sim_model_ops *ops;
  const void *params; /* the model's own parameters */
};

/* The registry: a process-wide table filled at start, before any loop runs. */
#define SIM_MODEL_MAX 256
/* Returns the new index (>= 0), SIM_EEXISTS for a duplicate model_id, SIM_EFULL. */
int sim_model_register(const struct sim_model *m);
/* The model at idx, or NULL. */
const struct sim_model *sim_model_get(uint16_t idx);
/* The index of model_id, or SIM_ENOTFOUND. */
int sim_model_find(const char *model_id);
size_t sim_model_count(void);
/* Empties the registry (tests). */
void sim_model_reset(void);

#endif
