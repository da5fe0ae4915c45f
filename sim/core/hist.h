/* A log-linear histogram of non-negative integer values (microseconds, usually).
 *
 * Buckets are exact below 2^SIM_HIST_SUB and then SIM_HIST_SUB sub-buckets per power of two,
 * so any recorded value is reported within 1/2^SIM_HIST_SUB_BITS (about 0.8 %) of itself. Two
 * histograms merge exactly by adding counts. Fixed size, no allocation: safe on the hot path. */
#ifndef SIM_CORE_HIST_H
#define SIM_CORE_HIST_H

#include <stdint.h>

#define SIM_HIST_SUB_BITS 7
#define SIM_HIST_SUB (1u << SIM_HIST_SUB_BITS)
/* Values up to 2^40 (about 12.7 days in microseconds); larger ones land in the last bucket. */
#define SIM_HIST_MAX_EXP 40
#define SIM_HIST_BUCKETS ((SIM_HIST_MAX_EXP - SIM_HIST_SUB_BITS + 1) * SIM_HIST_SUB)

struct sim_hist {
  uint64_t count;
  uint64_t sum;
  uint64_t min;
  uint64_t max;
  uint64_t buckets[SIM_HIST_BUCKETS]; /* 64-bit: a day of 100,000 hubs records tens of
                                       * billions of tick lags, most in one bucket */
};

void sim_hist_init(struct sim_hist *h);
void sim_hist_record(struct sim_hist *h, uint64_t v);
/* Adds every count of src into dst. */
void sim_hist_merge(struct sim_hist *dst, const struct sim_hist *src);
/* The value at quantile q in [0, 1] (upper edge of its bucket, clamped to max); 0 when empty. */
uint64_t sim_hist_quantile(const struct sim_hist *h, double q);
/* What was recorded between two cumulative snapshots of one histogram (prev taken before cur):
 * counts and sum subtract exactly; min and max are bounds (0 and cur's max), so quantiles of
 * out are clamped as loosely as they must be. */
void sim_hist_diff(const struct sim_hist *cur, const struct sim_hist *prev, struct sim_hist *out);
/* How many recorded values lie in buckets that hold nothing above v: every value <= v except
 * those of the one bucket that straddles v (at most 1/2^SIM_HIST_SUB_BITS of v wide), which
 * count as above it. For exporters that need cumulative counts at fixed bounds. */
uint64_t sim_hist_count_le(const struct sim_hist *h, uint64_t v);

#endif
