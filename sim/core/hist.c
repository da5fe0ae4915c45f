#include "sim/core/hist.h"

#include <string.h>

void sim_hist_init(struct sim_hist *h) {
  memset(h, 0, sizeof(*h));
}

/* Bucket index: values below SIM_HIST_SUB map to themselves; above, the exponent picks a
 * group of SIM_HIST_SUB buckets and the next SIM_HIST_SUB_BITS bits pick within it. */
static uint32_t bucket_of(uint64_t v) {
  if (v < SIM_HIST_SUB)
    return (uint32_t)v;
  int e = 63 - __builtin_clzll(v); /* e >= SIM_HIST_SUB_BITS */
  if (e > SIM_HIST_MAX_EXP)
    return SIM_HIST_BUCKETS - 1;
  uint32_t sub = (uint32_t)(v >> (e - SIM_HIST_SUB_BITS)) & (SIM_HIST_SUB - 1);
  uint32_t idx = (uint32_t)(e - SIM_HIST_SUB_BITS + 1) * SIM_HIST_SUB + sub;
  return idx < SIM_HIST_BUCKETS ? idx : SIM_HIST_BUCKETS - 1;
}

/* Largest value that falls in bucket idx. */
static uint64_t bucket_top(uint32_t idx) {
  if (idx < SIM_HIST_SUB)
    return idx;
  uint32_t g = idx / SIM_HIST_SUB; /* >= 1 */
  uint32_t sub = idx % SIM_HIST_SUB;
  int e = (int)g + SIM_HIST_SUB_BITS - 1;
  uint64_t base = ((uint64_t)SIM_HIST_SUB + sub) << (e - SIM_HIST_SUB_BITS);
  return base + ((uint64_t)1 << (e - SIM_HIST_SUB_BITS)) - 1;
}

void sim_hist_record(struct sim_hist *h, uint64_t v) {
  if (h->count == 0 || v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
  h->count++;
  h->sum += v;
  h->buckets[bucket_of(v)]++;
}

void sim_hist_merge(struct sim_hist *dst, const struct sim_hist *src) {
  if (!src->count)
    return;
  if (dst->count == 0 || src->min < dst->min)
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
  dst->count += src->count;
  dst->sum += src->sum;
  for (uint32_t i = 0; i < SIM_HIST_BUCKETS; i++)
    dst->buckets[i] += src->buckets[i];
}

uint64_t sim_hist_quantile(const struct sim_hist *h, double q) {
  if (!h->count)
    return 0;
  if (q <= 0)
    return h->min;
  uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
  if (rank < 1)
    rank = 1;
  if (rank > h->count)
    rank = h->count;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < SIM_HIST_BUCKETS; i++) {
    seen += h->buckets[i];
    if (seen >= rank) {
      uint64_t top = bucket_top(i);
      if (top > h->max)
        top = h->max;
      if (top < h->min)
        top = h->min;
      return top;
    }
  }
  return h->max;
}

void sim_hist_diff(const struct sim_hist *cur, const struct sim_hist *prev, struct sim_hist *out) {
  sim_hist_init(out);
  for (uint32_t i = 0; i < SIM_HIST_BUCKETS; i++)
    out->buckets[i] = cur->buckets[i] - prev->buckets[i];
  out->count = cur->count - prev->count;
  out->sum = cur->sum - prev->sum;
  out->min = 0;
  out->max = cur->max;
}

uint64_t sim_hist_count_le(const struct sim_hist *h, uint64_t v) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < SIM_HIST_BUCKETS && bucket_top(i) <= v; i++)
    n += h->buckets[i];
  return n;
}
