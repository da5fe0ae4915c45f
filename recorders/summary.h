/* Run summaries: the human text at the end of a run and the JSON file of --summary, whose
 * schema docs/summary.md documents (schema "hubsim.summary/1").
 *
 * Writing is atomic: the JSON goes to FILE.tmp and is renamed over FILE only when complete. */
#ifndef REC_SUMMARY_H
#define REC_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "sim/fleet/fleet.h"

/* What the platform side says, when hubsim can see it (the embedded reference platform). */
struct rec_platform_view {
  int present;
  uint64_t reports_stored; /* new reports whose COMMIT succeeded */
  uint64_t duplicates;     /* resent messages recognised as already stored */
  uint64_t joined;
  uint64_t commands_sent, commands_ok, commands_failed, commands_timed_out;
  uint64_t sessions_accepted, auth_failed;
};

struct rec_run_info {
  const char *platform_url; /* "embedded" or the URL */
  uint64_t seed;
  double duration_s; /* requested */
  double elapsed_s;  /* measured, from start to the end of the drain */
  double ramp;
  const char *mix; /* the --mix text */
  uint32_t devices_per_hub;
  double speedup;         /* --speedup */
  double drain_s;         /* --drain */
  double warmup_s;        /* --warmup */
  uint32_t workers;       /* generator processes (1: the fleet ran in this one) */
  uint32_t queue_max;     /* messages a hub keeps before dropping */
  int allow_lag;          /* --allow-lag */
  double max_lag_ms;      /* threshold for the generator verdict */
  const char *started_at; /* ISO 8601 UTC */
  /* The generator's own cost, measured on the thread that runs the fleet. */
  double cpu_user_s;
  double cpu_sys_s;
  uint64_t max_rss_bytes;  /* peak resident memory of the whole process */
  int platform_in_process; /* the embedded platform shares the process (and its RSS) */
};

/* The verdict of a run from its figures. */
struct rec_verdict {
  uint64_t lost;        /* sent - acked - in flight, over every sequenced kind */
  int64_t platform_gap; /* hub acked reports - platform stored reports (0 when absent) */
  int generator_late;   /* tick lag p99 above the threshold */
  int never_online;     /* no session ever opened */
  int exit_code;        /* 0 ok, 1 accounting failed, 3 runtime failure, 4 generator late */
  const char *text;
};

void rec_verdict_compute(const struct rec_run_info *run, const struct sim_fleet_stats *st,
                         const struct rec_platform_view *pv, struct rec_verdict *v);
/* Prints the human summary. */
void rec_summary_print(FILE *out, const struct rec_run_info *run, const struct sim_fleet_stats *st,
                       const struct rec_platform_view *pv, const struct rec_verdict *v);
/* Writes the JSON summary to path atomically. 0 or a negative error (errno). */
int rec_summary_write(const char *path, const struct rec_run_info *run,
                      const struct sim_fleet_stats *st, const struct rec_platform_view *pv,
                      const struct rec_verdict *v);

#endif
