/* Summaries of sharded runs: the "shard" object of the JSON summary of `hubsim run --shard I/N`
 * (and of the merge of such summaries), and reading such a summary back for `hubsim merge`.
 *
 * A summary holds percentiles, which cannot be merged; the "shard" object also holds every
 * latency histogram's buckets (sparse, as text) with its count, sum, min and max, so that the
 * summaries of the N shards of a fleet merge into exactly the histogram one process would have
 * recorded (docs/summary.md section 10, docs/distributed.md). Everything else a merge needs is
 * in the summary already (counts, sessions, errors by name).
 *
 * Threading: plain functions, any thread. */
#ifndef REC_SHARD_H
#define REC_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "recorders/summary.h"
#include "sim/fleet/fleet.h"
#include "sim/transport/tls.h"

/* The layout of the histograms' buckets (sim/core/hist.h): a merge refuses another one. */
#define REC_SHARD_HIST_LAYOUT_FMT "log-linear/%d/%d"

/* What the "shard" object says besides the histograms. Strings are borrowed for the call
 * they are passed to (rec_summary_write), or point into the struct that holds them. */
struct rec_shard {
  int merged;           /* 0: the summary of shard index of count; 1: the merge of all count */
  uint32_t index;       /* 0-based; not written when merged (null) */
  uint32_t count;       /* shards of the fleet */
  uint32_t fleet_hubs;  /* --hubs: hubs of the whole fleet (fleet.hubs are this summary's) */
  const char *version;  /* hubsim's version */
  const char *fleet_id; /* digest of what makes the fleet (app: hubs, devices, mix, seed, ...) */
  const char *start_at; /* --start-at as RFC 3339 UTC; NULL: none */
};

/* The "shard" object (a new reference): s, and the histograms of st and of tls (may be NULL). */
json_t *rec_shard_json(const struct rec_shard *s, const struct sim_fleet_stats *st,
                       const struct sim_tls_stats *tls);

/* A shard's summary read back. About 100 KiB: give it heap or static storage. */
struct rec_shard_summary {
  struct rec_shard shard; /* its strings point into the buffers below */
  char version[32], fleet_id[40], start_at[40];
  char layout[40];
  /* What a merge must find equal in every shard (they describe one fleet and one run). */
  uint64_t seed;
  uint32_t devices_per_hub, queue_max;
  char mix[1024];
  double ramp, speedup, drain_s, max_lag_ms, warmup_s, duration_s;
  int allow_lag;
  char clock[16];
  int has_tls, tls_insecure;
  /* What differs and is combined. */
  char platform[256];
  char started_at[40];
  char interrupted[16]; /* "" when the run ran its course */
  double elapsed_s, cpu_user_s, cpu_sys_s;
  uint64_t max_rss_bytes;
  uint64_t max_pss_bytes;
  uint32_t workers;
  struct sim_fleet_stats st;
  struct sim_tls_stats tls;
  /* Reasons found outside the figures (runtime, worker_failed): they decide a merge too. */
  struct {
    char check[24];
    uint64_t count;
    char text[240];
  } outside[2];
  size_t n_outside;
};

/* Reads the JSON summary at path into *out. 0, or SIM_EINVAL with a sentence in why (cap
 * bytes) that names what is wrong: not JSON (with line and column: a truncated file), not a
 * hubsim.summary/1, not a shard's summary, a key missing or of the wrong type, a histogram
 * whose buckets do not add up. */
int rec_shard_load(const char *path, struct rec_shard_summary *out, char *why, size_t cap);

#endif
