/* Run summaries: the human text at the end of a run and the JSON file of --summary, whose
 * schema docs/summary.md documents (schema "hubsim.summary/1").
 *
 * Writing is atomic (sim/core/wfile.h): the JSON goes to a new temporary file in FILE's folder,
 * created exclusively and never through a link, and is renamed over FILE only when complete.
 *
 * A scenario run adds a "scenario" object (expectations, automation latency, script error):
 * point rec_run_info.scenario at a struct rec_scenario. The recorders do not include scenarios/
 * headers (dependencies point app -> recorders, scenarios); app/run.c converts the scenario's
 * results into the plain structs below. */
#ifndef REC_SUMMARY_H
#define REC_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/fleet/fleet.h"
#include "sim/transport/tls.h"

/* What the platform side says, when hubsim can see it (the embedded reference platform). */
struct rec_platform_view {
  int present;
  uint64_t reports_stored; /* new reports whose COMMIT succeeded */
  uint64_t duplicates;     /* resent messages recognised as already stored */
  uint64_t joined;
  uint64_t commands_sent, commands_ok, commands_failed, commands_timed_out;
  uint64_t sessions_accepted, auth_failed;
};

/* One expectation of a scenario, judged at the end of the run (or at its first violation). */
enum rec_exp_verdict { REC_EXP_PASS = 0, REC_EXP_FAIL, REC_EXP_NO_DATA };

struct rec_expectation {
  const char *metric;         /* "report.rtt.p99" */
  const char *op;             /* "<", "<=", ">", ">=", "==", "!=" */
  double threshold;           /* in the metric's unit */
  const char *threshold_text; /* as written in the script ("250ms"); NULL or "": from threshold */
  const char *unit;           /* the metric's unit ("ms", "", "count"...); NULL: "" */
  double after_s;             /* evaluated from this engine time on; 0: at the end only */
  double value;               /* measured value (the first violating one for a failure) */
  double at_s;                /* engine time of value */
  int verdict;                /* enum rec_exp_verdict */
  const char *file;           /* where expect() was called; NULL: unknown */
  int line;                   /* 0: unknown */
};

/* What a scenario did. Every pointer is borrowed for the duration of the call it is passed to. */
struct rec_scenario {
  const char *name;
  const char *phase;  /* the last phase; NULL or "": none */
  uint64_t steps_run; /* timeline callbacks run */
  const struct rec_expectation *exp;
  size_t n_exp;
  const struct sim_hist *automation; /* end-to-end automation latency (µs); NULL: no samples */
  /* A script error that stopped the run (the run then exits 2): error NULL when none. */
  const char *error;
  const char *error_file; /* NULL: unknown */
  int error_line;         /* 0: unknown */
};

/* Counts of expectations by verdict (failed counts FAIL and NO_DATA: a missing figure never
 * passes). */
void rec_scenario_counts(const struct rec_scenario *sc, size_t *passed, size_t *failed,
                         size_t *no_data);

/* "report.rtt.p99 < 250ms" (with " (after 120 s)" for a continuous one): the expectation as
 * the script wrote it; the JUnit test case name. snprintf's return. */
int rec_expectation_title(char *buf, size_t n, const struct rec_expectation *e);
/* A measured value for people: whole values without a fraction, others with up to 3 decimals
 * ("12.3", "0.99", "1500"). snprintf's return. */
int rec_format_number(char *buf, size_t n, double x);
/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when the bytes there are not
 * valid UTF-8 (overlong forms, surrogates, U+FFFE/U+FFFF and code points above U+10FFFF
 * included). For writers of text formats that must not carry invalid text. */
size_t rec_utf8_seq(const unsigned char *s, size_t n);

/* The TLS of a hubrpcs:// run: the "tls" key and the human summary's "tls" line. */
struct rec_tls {
  int insecure; /* --insecure: the platform's certificate and name were not checked */
  struct sim_tls_stats st;
};

/* The broker of an mqtt:// or mqtts:// run: the "mqtt" key and the human summary's "mqtt" line
 * (docs/summary.md). Figures not measured in this run are left out (have_* 0). */
struct rec_mqtt {
  const char *profile; /* "hubrpc" */
  int version;         /* 4 (3.1.1) or 5 */
  int qos;             /* of the hubs' publishes: 0 or 1 */
  int have_sent;       /* frames_sent and broker_failures measured in this process */
  uint64_t frames_sent, frames_acked, broker_failures;
  const char *last_error; /* the last broker failure as a sentence, NULL or "": none */
  int observer;           /* an observer subscription ran (--mqtt-observe) */
  int observer_ok;        /* it was subscribed for the whole run */
  uint64_t observed;      /* uplink publishes the broker delivered to it */
};

struct rec_shard; /* recorders/shard.h */
struct rec_capture_info;

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
  uint64_t max_pss_bytes;  /* its largest proportional set size sampled (sim_proc_pss_sample) */
  int platform_in_process; /* the embedded platform shares the process (and its RSS) */
  /* The virtual clock (discrete-event, --clock virtual): elapsed_s is engine time, and the
   * JSON leaves out what the machine decides (CPU time, RSS: written as null) so that the
   * same seed gives a byte-identical file; the human summary still shows them. */
  int virtual_clock;
  double wall_s; /* wall time of the run (0: unknown); the human summary and JUnit's time */
  /* "SIGINT" or "SIGTERM" when a signal ended the run before its duration (static storage);
   * NULL when it ran its course. The verdict says so; it never makes a run pass. */
  const char *interrupted;
  /* NULL: a plaintext run (no "tls" key, no tls line). Borrowed. */
  const struct rec_tls *tls;
  /* NULL: not a run through an MQTT broker (no "mqtt" key, no mqtt line). Borrowed. */
  const struct rec_mqtt *mqtt;
  /* NULL: a run without --record (no "record" key, no record line). Borrowed. */
  const struct rec_capture_info *record;
  /* NULL: a run without a scenario (no "scenario" key, no expectation lines). Borrowed. */
  const struct rec_scenario *scenario;
  /* NULL: not a sharded run (no "shard" key); else the shard, whose object also carries the
   * histograms' buckets for hubsim merge (recorders/shard.h). Borrowed. */
  const struct rec_shard *shard;
};

/* One check of the verdict that did not hold (docs/summary.md section 6). */
struct rec_reason {
  const char *check; /* stable name: "unacknowledged", "hubs_not_online", ... (static) */
  int exit_code;     /* the exit code this check gives; 0: a warning (--allow-lag) */
  uint64_t count;    /* the figure that failed it: messages, hubs, expectations, ... */
  char text[240];    /* one line for people, without "FAIL: " */
};

#define REC_VERDICT_MAX_REASONS 16

/* The verdict of a run from its figures. Plain data: it may be copied. */
struct rec_verdict {
  uint64_t lost;        /* sent - acked - in flight - sent and lost with power, all kinds */
  int64_t platform_gap; /* hub acked reports - platform stored reports (0 when absent) */
  int generator_late;   /* tick lag p99 above the threshold */
  int never_online;     /* no session ever opened */
  /* Every generated message is acked, dropped, lost with power, held by a hub the run took
   * offline, unacknowledged at the end, or lost (section 4 of docs/summary.md). */
  uint64_t unacknowledged;       /* in flight + queued at the end, less held_by_off_hubs */
  uint64_t dropped;              /* over every kind */
  uint32_t hubs_expected_online; /* hubs, less those the run held off and those not started */
  uint32_t hubs_not_online;      /* of those, hubs without an open session at the end */
  int exit_code;  /* 0 ok, 1 accounting or an expectation failed, 2 scenario script error,
                     3 runtime failure, 4 generator late */
  char text[320]; /* the verdict line: "PASS: ..." or "FAIL: " and the first reason */
  /* With a scenario: */
  int script_error;    /* the script stopped the run with an error */
  size_t exp_failed;   /* expectations that did not hold or had no data */
  int by_expectations; /* exit 1 comes from expectations alone, the run itself held */
  /* Every check that did not hold, in the order of section 6: the first with a non-zero exit
   * code decides exit_code and text. */
  struct rec_reason reasons[REC_VERDICT_MAX_REASONS];
  size_t n_reasons;
};

/* Every check of docs/summary.md section 6, in its order: a scenario script error gives 2; no
 * session ever opened 3; messages lost, forgotten or missing on the platform, hubs that should
 * be online and are not, messages not acknowledged at the end, messages dropped 1; a late
 * generator 4 (unless run->allow_lag, which then only warns); an expectation that failed or had
 * no data 1; else 0. */
void rec_verdict_compute(const struct rec_run_info *run, const struct sim_fleet_stats *st,
                         const struct rec_platform_view *pv, struct rec_verdict *v);
/* Messages of every kind sent and then neither acknowledged, nor held by their hub, nor gone
 * with a hub's power: the verdict's "lost" (counts.lost of the JSON summary). */
uint64_t rec_lost(const struct sim_fleet_stats *st);
/* Nothing left to wait for at the end of a run: every message acknowledged (what hubs the run
 * itself took offline hold aside) and every hub that should be online online. The drain of a
 * run ends as soon as this holds (or at its deadline). */
int rec_settled(const struct sim_fleet_stats *st);
/* A failure found outside the figures (a worker process that died, a run that could not go on):
 * the reason is added; it decides the verdict when first is set or when nothing failed before.
 * text is copied. */
void rec_verdict_add(struct rec_verdict *v, const char *check, int exit_code, uint64_t count,
                     const char *text, int first, const struct rec_run_info *run);
/* Prints the human summary. */
void rec_summary_print(FILE *out, const struct rec_run_info *run, const struct sim_fleet_stats *st,
                       const struct rec_platform_view *pv, const struct rec_verdict *v);
/* Writes the JSON summary to path atomically. 0 or a negative error (errno). */
int rec_summary_write(const char *path, const struct rec_run_info *run,
                      const struct sim_fleet_stats *st, const struct rec_platform_view *pv,
                      const struct rec_verdict *v);

#endif
