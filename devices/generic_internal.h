/* What the two rooms of the generic model share (internal to devices/: dev__ prefix).
 *
 * devices/generic.c is the device's state over time: channels, behaviours, reports, heartbeats
 * and the join/tick/trigger operations. devices/generic_zcl.c is the model's ZCL side: how a
 * value is put on the wire and how a platform command (read, write, configure reporting, a
 * cluster command) is answered. A command runs inside one wakeup (struct dev__run) like a tick:
 * dev__run_init(), dev__run_catch_up(), the command's effect through dev__run_apply(), then
 * dev__run_finish(). Everything here borrows the caller's device and environment. */
#ifndef DEVICES_GENERIC_INTERNAL_H
#define DEVICES_GENERIC_INTERNAL_H

#include <stdint.h>

#include "devices/cat_types.h"
#include "devices/generic.h"
#include "devices/zcl_enc.h"
#include "sim/fleet/model.h"

/* The device's clock in whole milliseconds (env->due / 1000); how times are kept in 32-bit
 * state is explained under "device time" in devices/generic.c. */
typedef uint64_t dev_ms_t;

/* No deadline (a stored 32-bit time that is not set). */
#define DEV_T_NONE UINT32_MAX

/* The 32-bit form of the deadline `at` (>= now), and the deadline v read at now (v is not
 * DEV_T_NONE); "device time" in devices/generic.c. */
uint32_t dev__dl_put(dev_ms_t now, dev_ms_t at);
dev_ms_t dev__dl_get(dev_ms_t now, uint32_t v);

/* One wakeup of one device. */
struct dev__run {
  const struct sim_model *m;
  const struct dev_cat_model *cm;
  struct sim_device *d;
  struct sim_dev_env *env;
  dev_ms_t t;     /* device ms of this wakeup */
  double phase_u; /* the device's sampling phase, as a fraction of a period */
  uint8_t fired[256];
  int any_fired;
  uint8_t depth;  /* chains being followed (dev__run_chains) */
  uint16_t steps; /* steps chains took in this wakeup */
};

void dev__run_init(struct dev__run *r, const struct sim_model *m, struct sim_device *d,
                   struct sim_dev_env *env);
/* Before an outside event (a command, a trigger): a device that never joined starts from its
 * initial state; stamps are refreshed and energy integrated up to this wakeup. */
void dev__run_catch_up(struct dev__run *r);
/* An action of the catalogue (enum dev_do) on channel ch with operand k; an actuator starts
 * moving after delay_ms (the device's command latency). */
void dev__run_apply(struct dev__run *r, uint8_t action, int ch, double k, uint32_t delay_ms);
/* Takes step s (a command's `then`, a chain) with source value src after delay_ms, when every
 * condition of it holds (devices/generic_chain.c). */
void dev__run_step(struct dev__run *r, const struct dev_cat_step *s, double src, uint32_t delay_ms);
/* Channel ch fired: the chains that start at it take their steps, at once. */
void dev__run_chains(struct dev__run *r, int ch);
/* After an outside event: meters follow their switches, events and changes are reported, and
 * the next wakeup is set. */
void dev__run_finish(struct dev__run *r);

/* One wakeup of a device that wakes for every sample, at r->t: channels, events, reports and
 * the heartbeat (without choosing the next wakeup). */
void dev__run_tick(struct dev__run *r);
/* The next wakeup of a device that wakes for every sample, strictly after r->t (0: none). */
dev_ms_t dev__run_next(const struct dev__run *r);

/* Lazy sampling (devices/generic_lazy.c). dev__lazy_plan() records `eager` (dev__run_next()) as
 * the device's next sampling instant and sets env->next to the first wakeup from there on that
 * sends something or does more than sample (`eager` itself when look is 0). dev__lazy_catch_up()
 * steps the samples the device did not wake for, up to r->t (inclusive: also one at r->t itself,
 * before an outside event). */
void dev__lazy_plan(struct dev__run *r, dev_ms_t eager, int look);
void dev__lazy_catch_up(struct dev__run *r, int inclusive);

/* Sends w's frame from ep/cluster: the link quality drifts, the battery pays for the frame. A
 * frame that did not encode is dropped (logged once). */
void dev__gen_emit_frame(const struct dev_cat_model *cm, struct sim_device *d,
                         struct sim_dev_env *env, uint8_t ep, uint16_t cluster,
                         const struct dev_zcl_w *w);
/* Battery level in percent (100 for a mains device). */
double dev__gen_battery_pct(const struct dev_cat_model *cm, const struct sim_device *d);

/* The channel-unit value of v (before encoding). */
double dev__gen_raw_value(const struct dev_cat_model *cm, const struct sim_device *d,
                          const struct sim_dev_env *env, const struct dev_cat_value *v);
/* The wire number of a numeric value x of v (scale and offset, negation, log lux, zone bits). */
double dev__gen_wire_num(const struct dev_cat_model *cm, const struct sim_device *d,
                         const struct dev_cat_value *v, double x);
/* Writes the value of v (without its type id) into w. */
void dev__gen_put_value(struct dev_zcl_w *w, const struct dev_cat_model *cm,
                        const struct sim_device *d, const struct sim_dev_env *env,
                        const struct dev_cat_value *v);

/* sim_model_ops.command of the generic model. */
int dev__gen_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                     const struct sim_dev_cmd *cmd, uint32_t *latency_us);

#endif
