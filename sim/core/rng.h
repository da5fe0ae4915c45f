/* Seeded pseudo-random numbers: xoshiro128** state seeded through splitmix64.
 *
 * One generator per hub, derived from the run seed and the hub index, so that a hub sees the
 * same events whatever the shard count. Not for secrets: nonces come from OpenSSL. */
#ifndef SIM_CORE_RNG_H
#define SIM_CORE_RNG_H

#include <stdint.h>

struct sim_rng {
  uint32_t s[4];
};

static inline uint64_t sim_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  uint64_t a = sim_splitmix64(&x), b = sim_splitmix64(&x);
  r->s[0] = (uint32_t)a;
  r->s[1] = (uint32_t)(a >> 32);
  r->s[2] = (uint32_t)b;
  r->s[3] = (uint32_t)(b >> 32);
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
    r->s[0] = 1;
}

static inline uint32_t sim__rotl32(uint32_t x, int k) {
  return (x << k) | (x >> (32 - k));
}

static inline uint32_t sim_rng_u32(struct sim_rng *r) {
  uint32_t *s = r->s;
  uint32_t out = sim__rotl32(s[1] * 5, 7) * 9;
  uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = sim__rotl32(s[3], 11);
  return out;
}

/* Uniform in [0, 1). */
static inline double sim_rng_unit(struct sim_rng *r) {
  return (sim_rng_u32(r) >> 8) * (1.0 / 16777216.0);
}

/* Uniform in [0, n) for n > 0 (Lemire's multiply-shift; the bias is below 2^-32 * n). */
static inline uint32_t sim_rng_below(struct sim_rng *r, uint32_t n) {
  return (uint32_t)(((uint64_t)sim_rng_u32(r) * n) >> 32);
}

#endif
