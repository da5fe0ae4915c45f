/* Behaviour primitives shared by device models: random draws, a mean-reverting random walk on
 * top of a daily cycle, and daylight.
 *
 * Randomness comes either from the caller's generator (the hub's) or from counter-based draws
 * (dev_noise_*), so the same seed gives the same device history. Nothing here allocates or keeps
 * state: the state lives in the caller's sim_device.state bytes, passed in by pointer. */
#ifndef DEVICES_BEHAVIOUR_H
#define DEVICES_BEHAVIOUR_H

#include <stdint.h>

#include "sim/core/rng.h"

/* Standard normal draw (Box-Muller; consumes two uniforms). */
double dev_rng_normal(struct sim_rng *r);
/* Uniform in [lo, hi]. */
double dev_rng_range(struct sim_rng *r, double lo, double hi);
/* Exponential with the given mean, in seconds (> 0). */
double dev_rng_exp(struct sim_rng *r, double mean);

/* Counter-based draws: a pure function of (key, stream, index), so a draw is the same whatever
 * else was drawn before it and whenever it is computed. key is a device's IEEE address, stream
 * names what is drawn (a channel and a purpose), index the instant or the sample number. */
/* Uniform in [0, 1). */
double dev_noise_unit(uint64_t key, uint64_t stream, uint64_t index);
/* Standard normal (Box-Muller over two counter-based uniforms). */
double dev_noise_normal(uint64_t key, uint64_t stream, uint64_t index);

/* Hours since midnight UTC (0 <= h < 24) at the Unix time wall_ms. */
double dev_hour_of_day(uint64_t wall_ms);
/* A daily cycle: cos() with its maximum 1 at peak_hour, minimum -1 twelve hours later. */
double dev_daily_cycle(uint64_t wall_ms, double peak_hour);
/* Daylight factor in [0, 1]: 0 at night, a half sine between sunrise and sunset (hours). */
double dev_daylight(uint64_t wall_ms, double sunrise_h, double sunset_h);

/* A quantity that wanders around a level with a daily cycle:
 *   value = base + daily_amp * cycle(peak_hour) + x,
 * where x is an Ornstein-Uhlenbeck process (noise sigma per sqrt(hour), pulled back to 0 at
 * revert per hour), so it neither drifts away nor jumps. */
struct dev_walk {
  double base;
  double daily_amp;
  double peak_hour;
  double sigma;  /* per sqrt(hour) */
  double revert; /* per hour */
  double min, max;
};

/* Advances *x by dt seconds with the standard normal draw z and returns the clamped value at
 * wall_ms. */
double dev_walk_step(const struct dev_walk *p, float *x, double dt_s, uint64_t wall_ms, double z);
/* The value for a given deviation, without advancing (for initial values). */
double dev_walk_value(const struct dev_walk *p, float x, uint64_t wall_ms);
/* A draw of x from the walk's stationary distribution. */
float dev_walk_init(const struct dev_walk *p, struct sim_rng *r);

#endif
