/* Hash functions, one of each kind for every room.
 *
 * - sim_hash_mix64(): every bit of a 64-bit key reaches every bit of the result (the fmix64
 *   finaliser of MurmurHash3). For table slots whose keys differ in a few bits only (the EUI-64s
 *   of one fleet differ mostly in their middle bits) and for a repeatable pseudo-random number
 *   per key (the radio's loss and delay draws).
 * - FNV-1a over bytes and strings, 64-bit for table keys and digests; 32-bit only where its
 *   value is already part of what hubsim produces (the hub prefix's share of every device's
 *   EUI-64), so that no EUI-64 changes.
 *
 * None is keyed: a peer that chooses the keys can make them collide. Pure functions; any thread. */
#ifndef SIM_CORE_HASH_H
#define SIM_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t sim_hash_mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return x;
}

/* The FNV-1a offset bases: where a hash over nothing starts. */
#define SIM_HASH_FNV64_INIT 0xCBF29CE484222325ull
#define SIM_HASH_FNV32_INIT 0x811C9DC5u

/* FNV-1a of p[0..n), continuing from h (SIM_HASH_FNV64_INIT for a new hash), so that a digest
 * can be built piece by piece. */
static inline uint64_t sim_hash_fnv64(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001B3ull;
  return h;
}

/* FNV-1a (64-bit) of the NUL-terminated string s. */
static inline uint64_t sim_hash_str(const char *s) {
  return sim_hash_fnv64(SIM_HASH_FNV64_INIT, s, strlen(s));
}

/* FNV-1a, 32-bit, of p[0..n) from SIM_HASH_FNV32_INIT. */
static inline uint32_t sim_hash_fnv32(const void *p, size_t n) {
  const uint8_t *b = p;
  uint32_t h = SIM_HASH_FNV32_INIT;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 16777619u;
  return h;
}

#endif
