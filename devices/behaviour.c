/* Behaviour primitives. */
#include "devices/behaviour.h"

#include <math.h>

#include "sim/core/hash.h"

static const double two_pi = 6.283185307179586;

double dev_rng_normal(struct sim_rng *r) {
  /* 1 - u keeps the logarithm's argument in (0, 1]. */
  double u1 = 1.0 - sim_rng_unit(r);
  double u2 = sim_rng_unit(r);
  return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

double dev_noise_unit(uint64_t key, uint64_t stream, uint64_t index) {
  /* The inner hash names the (key, stream) pair; the outer one is a bijection of the index for
   * that pair, so two draws of one stream never coincide. */
  uint64_t h = sim_hash_mix64(sim_hash_mix64(key ^ stream * 0x9E3779B97F4A7C15ull) ^ index);
  return (double)(h >> 11) * 0x1p-53;
}

double dev_noise_normal(uint64_t key, uint64_t stream, uint64_t index) {
  double u1 = 1.0 - dev_noise_unit(key, stream, 2 * index);
  double u2 = dev_noise_unit(key, stream, 2 * index + 1);
  return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

double dev_rng_range(struct sim_rng *r, double lo, double hi) {
  return lo + (hi - lo) * sim_rng_unit(r);
}

double dev_rng_exp(struct sim_rng *r, double mean) {
  return -mean * log(1.0 - sim_rng_unit(r));
}

double dev_hour_of_day(uint64_t wall_ms) {
  return (double)(wall_ms % 86400000u) / 3600000.0;
}

double dev_daily_cycle(uint64_t wall_ms, double peak_hour) {
  return cos(two_pi * (dev_hour_of_day(wall_ms) - peak_hour) / 24.0);
}

double dev_daylight(uint64_t wall_ms, double sunrise_h, double sunset_h) {
  double h = dev_hour_of_day(wall_ms);
  if (h <= sunrise_h || h >= sunset_h)
    return 0.0;
  return sin(two_pi / 2 * (h - sunrise_h) / (sunset_h - sunrise_h));
}

static double clamp(double v, double lo, double hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

double dev_walk_value(const struct dev_walk *p, float x, uint64_t wall_ms) {
  return clamp(p->base + p->daily_amp * dev_daily_cycle(wall_ms, p->peak_hour) + x, p->min, p->max);
}

double dev_walk_step(const struct dev_walk *p, float *x, double dt_s, uint64_t wall_ms, double z) {
  double dt_h = dt_s / 3600.0;
  /* Exact discretisation of the Ornstein-Uhlenbeck process: stable for any step length. */
  double a = exp(-p->revert * dt_h);
  double sd =
      p->revert > 0 ? p->sigma * sqrt((1 - a * a) / (2 * p->revert)) : p->sigma * sqrt(dt_h);
  *x = (float)(*x * a + sd * z);
  return dev_walk_value(p, *x, wall_ms);
}

float dev_walk_init(const struct dev_walk *p, struct sim_rng *r) {
  double sd = p->revert > 0 ? p->sigma / sqrt(2 * p->revert) : 0;
  return (float)(sd * dev_rng_normal(r));
}
