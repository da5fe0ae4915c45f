/* The exposition page: every figure of struct sim_fleet_stats that a dashboard wants, under
 * names that follow Prometheus' conventions (base units: seconds and bytes; counters end in
 * _total; histograms in seconds with cumulative _bucket, _sum and _count). */
#include "recorders/prom.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "recorders/summary.h"
#include "sim/core/err.h"
#include "sim/core/hist.h"

/* A printf onto the page; the first failure sticks. */
struct page {
  struct sim_buf *out;
  int rc;
};

static void put(struct page *p, const char *fmt, ...) {
  if (p->rc)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line)
    p->rc = SIM_EINVAL;
  else
    p->rc = sim_buf_append(p->out, line, (size_t)n);
}

static void family(struct page *p, const char *name, const char *type, const char *help) {
  put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct page *p, const char *name, const char *help, uint64_t v) {
  family(p, name, "counter", help);
  put(p, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct page *p, const char *name, const char *help, double v) {
  family(p, name, "gauge", help);
  put(p, "%s %.17g\n", name, v);
}

static const char *kind_names[SIM_SEQ_NKINDS] = {"report", "device_joined", "device_left",
                                                 "command_result"};

/* One counter family over the four message kinds; field picks the count. */
static void kinds(struct page *p, const struct sim_fleet_stats *st, const char *name,
                  const char *help, size_t field) {
  family(p, name, "counter", help);
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    const uint64_t *c = (const uint64_t *)((const char *)&st->kind[k] + field);
    put(p, "%s{kind=\"%s\"} %llu\n", name, kind_names[k], (unsigned long long)*c);
  }
}

/* Bucket bounds in microseconds: 100 µs to 60 s, the range from a loopback Ack to a platform
 * that stalls. */
static const uint64_t bounds_us[] = {100,     250,     500,     1000,     2500,     5000,
                                     10000,   25000,   50000,   100000,   250000,   500000,
                                     1000000, 2500000, 5000000, 10000000, 30000000, 60000000};

static void histogram(struct page *p, const char *name, const char *help,
                      const struct sim_hist *h) {
  family(p, name, "histogram", help);
  for (size_t i = 0; i < sizeof bounds_us / sizeof bounds_us[0]; i++)
    put(p, "%s_bucket{le=\"%g\"} %llu\n", name, (double)bounds_us[i] / 1e6,
        (unsigned long long)sim_hist_count_le(h, bounds_us[i]));
  put(p, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
  put(p, "%s_sum %.17g\n", name, (double)h->sum / 1e6);
  put(p, "%s_count %llu\n", name, (unsigned long long)h->count);
}

static void fleet_gauges(struct page *p, const struct sim_fleet_stats *st,
                         const struct rec_prom_extra *x) {
  family(p, "hubsim_hubs", "gauge", "Hubs by session state.");
  for (int s = 0; s < SIM_HUB_NSTATES; s++)
    put(p, "hubsim_hubs{state=\"%s\"} %u\n", sim_hub_state_name((enum sim_hub_state)s),
        st->hubs_by_state[s]);
  gauge(p, "hubsim_fleet_hubs", "Hubs in the fleet (with workers: in those that reported).",
        st->hubs);
  gauge(p, "hubsim_fleet_devices", "Devices in the fleet.", st->devices);
  gauge(p, "hubsim_messages_in_flight", "Sequenced messages sent and not yet acknowledged.",
        (double)st->in_flight);
  gauge(p, "hubsim_messages_queued", "Sequenced messages generated and not yet sent.",
        (double)st->queued);
  gauge(p, "hubsim_messages_lost",
        "Sequenced messages sent, then neither acknowledged, nor held, nor gone with power "
        "(the summary's counts.lost).",
        (double)rec_lost(st));
  gauge(p, "hubsim_run_seconds", "Run clock: engine time since the fleet started.",
        (double)st->now / 1e6);
  gauge(p, "hubsim_run_ended", "Whether the run is over (1: these figures are final) or not (0).",
        x->ended ? 1 : 0);
  if (x->have_exp) {
    family(p, "hubsim_expectations", "gauge", "The scenario's expectations by verdict so far.");
    put(p, "hubsim_expectations{state=\"passed\"} %u\n", x->exp_passed);
    put(p, "hubsim_expectations{state=\"failed\"} %u\n", x->exp_failed);
    put(p, "hubsim_expectations{state=\"no_data\"} %u\n", x->exp_no_data);
    put(p, "hubsim_expectations{state=\"pending\"} %u\n", x->exp_pending);
  }
}

/* The fleet's plain counters: name, HELP text, and where the figure is. */
#define FIELD(f) offsetof(struct sim_fleet_stats, f)
static const struct {
  const char *name, *help;
  size_t field;
} counters[] = {
    {"hubsim_messages_lost_power_total", "Sequenced messages a hub held when its power was cut.",
     FIELD(lost_power)},
    {"hubsim_messages_forgotten_total",
     "Acknowledged messages the platform no longer knew after a reconnect.", FIELD(forgotten)},
    {"hubsim_connects_total", "Connection attempts.", FIELD(connects)},
    {"hubsim_sessions_total", "Sessions that reached OPEN.", FIELD(sessions)},
    {"hubsim_disconnects_total", "Sessions or connections that ended.", FIELD(disconnects)},
    {"hubsim_heartbeats_sent_total", "Heartbeats sent.", FIELD(heartbeats_sent)},
    {"hubsim_commands_received_total", "Commands received from the platform.",
     FIELD(commands_received)},
    {"hubsim_commands_ok_total", "Commands that succeeded.", FIELD(commands_ok)},
    {"hubsim_commands_failed_total", "Commands that failed.", FIELD(commands_failed)},
    {"hubsim_power_cuts_total", "Hub power cuts.", FIELD(power_cuts)},
    {"hubsim_faults_total", "Faults injected.", FIELD(faults)},
    {"hubsim_radio_lost_total", "Device frames lost on the radio after every retry.",
     FIELD(radio_lost)},
    {"hubsim_frames_out_total", "hubrpc frames the hubs sent.", FIELD(frames_out)},
    {"hubsim_frames_in_total", "hubrpc frames the hubs received.", FIELD(frames_in)},
    {"hubsim_bytes_out_total", "Bytes the hubs sent.", FIELD(bytes_out)},
    {"hubsim_bytes_in_total", "Bytes the hubs received.", FIELD(bytes_in)},
};

int rec_prom_render(struct sim_buf *out, const struct sim_fleet_stats *st,
                    const struct rec_prom_extra *x) {
  struct page p = {.out = out};
  kinds(&p, st, "hubsim_messages_generated_total", "Sequenced messages generated, by kind.",
        offsetof(struct sim_seq_counts, generated));
  kinds(&p, st, "hubsim_messages_sent_total", "Sequenced messages sent the first time.",
        offsetof(struct sim_seq_counts, sent));
  kinds(&p, st, "hubsim_messages_resent_total", "Sequenced messages sent again after a reconnect.",
        offsetof(struct sim_seq_counts, resent));
  kinds(&p, st, "hubsim_messages_acked_total", "Sequenced messages acknowledged by the platform.",
        offsetof(struct sim_seq_counts, acked));
  kinds(&p, st, "hubsim_messages_dropped_total", "Sequenced messages dropped by a full hub queue.",
        offsetof(struct sim_seq_counts, dropped));
  for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
    counter(&p, counters[i].name, counters[i].help,
            *(const uint64_t *)((const char *)st + counters[i].field));
  fleet_gauges(&p, st, x);
  histogram(&p, "hubsim_report_ack_latency_seconds",
            "Report intended time to its Ack (coordinated omission corrected).", &st->ack_latency);
  histogram(&p, "hubsim_report_send_lag_seconds", "Report intended time to its first write.",
            &st->send_lag);
  histogram(&p, "hubsim_generator_tick_lag_seconds",
            "Device timer intended time to when it ran: the generator's own lag.", &st->tick_lag);
  histogram(&p, "hubsim_handshake_seconds", "Connect start to Welcome.", &st->handshake);
  return p.rc;
}
