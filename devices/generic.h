/* The generic device behaviour (devices/generic.c): one set of model operations that runs every
 * catalogue model from its tables (devices/cat_types.h). */
#ifndef DEVICES_GENERIC_H
#define DEVICES_GENERIC_H

#include "devices/cat_types.h"
#include "sim/fleet/model.h"

extern const struct sim_model_ops dev_generic_ops;

/* The current value of channel ch of a device (what a heartbeat or a read would send, before
 * encoding). For `hubsim devices sample` and tests. */
double dev_generic_value(const struct dev_cat_model *cm, const struct sim_device *d,
                         const struct sim_dev_env *env, int ch);

/* Lazy sampling (devices/generic_lazy.c), on by default: a device does not wake for the samples
 * at which it sends nothing; they are stepped when it next wakes or something reaches it. Off,
 * the device wakes for every sample, as before; both send the same frames at the same times.
 * Process-wide: set it before any device runs (tests and benchmarks compare the two). */
void dev_generic_set_lazy(int on);

#endif
