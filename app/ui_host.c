/* The app's side of a user interface (ui/ui.h): snapshots of a run for the UI to draw, and the
 * UI's controls applied to the fleet, the scenario and the run. Both runners (real and virtual
 * clock) use it; everything runs on the loop thread. */
#include "app/ui_host.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "sim/core/err.h"

static void h_stats(void *arg, struct sim_fleet_stats *out) {
  struct app_ui *u = arg;
  sim_fleet_stats(u->fleet, out);
}

static void h_header(void *arg, struct ui_header *out) {
  struct app_ui *u = arg;
  memset(out, 0, sizeof(*out));
  out->scenario = u->scn ? scn_config(u->scn)->name : "";
  out->phase = u->scn ? scn_phase(u->scn) : "";
  out->virtual_clock = u->virtual_clock;
  out->speed = u->virtual_clock ? u->speed : 1;
  out->paused = u->paused;
  out->seed = u->seed;
  out->platform = u->platform;
  out->elapsed_s = (double)sim_fleet_now(u->fleet) / 1e6;
  out->duration_s = u->duration_s;
  out->draining = u->draining;
}

/* The fleet thread's CPU over the last second, RSS and descriptors, sampled at most once a
 * second (reading /proc/self/fd costs more than a redraw). */
static void h_proc(void *arg, struct ui_proc *out) {
  struct app_ui *u = arg;
  uint64_t now = uv_hrtime();
  if (now - u->proc_at >= 1000000000ull || !u->proc_at) {
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_THREAD, &ru) == 0)
      cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if (u->proc_at)
      u->proc.cpu_pct = (cpu - u->proc_cpu) * 100.0 / ((double)(now - u->proc_at) / 1e9);
    u->proc_cpu = cpu;
    u->proc_at = now;
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
      if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
      fclose(f);
    }
    u->proc.rss_bytes = (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
    uint32_t fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
      while (readdir(d))
        fds++;
      closedir(d);
      fds = fds > 2 ? fds - 2 : 0; /* . and .. */
    }
    u->proc.open_fds = fds;
    struct rlimit rl;
    u->proc.fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint32_t)rl.rlim_cur : 0;
  }
  *out = u->proc;
}

/* The expectations as they stand. scn_peek() only reads: a dashboard refreshing a few times a
 * second must never judge an end-of-run expectation early (the verdict would be that of t=0)
 * nor record a violation; scn_finish() runs once, when the run is over. */
static size_t h_expectations(void *arg, struct ui_expectation *out, size_t cap) {
  struct app_ui *u = arg;
  if (!u->scn)
    return 0;
  struct scn_results res;
  scn_peek(u->scn, &res);
  size_t n = res.n_exp < cap ? res.n_exp : cap;
  if (n > APP_UI_MAX_EXP)
    n = APP_UI_MAX_EXP;
  for (size_t i = 0; i < n; i++) {
    const struct scn_expectation *e = &res.exp[i];
    snprintf(u->titles[i], sizeof u->titles[i], "%s %s %s", e->metric, e->op,
             e->threshold_text[0] ? e->threshold_text : "?");
    out[i].title = u->titles[i];
    out[i].value = e->verdict == SCN_NO_DATA ? NAN : e->value;
    out[i].unit = e->unit;
    out[i].after_s = e->after_s;
    out[i].verdict = e->verdict == SCN_PASS      ? UI_PASS
                     : e->verdict == SCN_FAIL    ? UI_FAIL
                     : e->verdict == SCN_NO_DATA ? UI_NO_DATA
                                                 : UI_PENDING;
  }
  return n;
}

void app_ui_log(struct app_ui *u, const char *fmt, ...) {
  char *line = u->log[u->log_n % APP_UI_LOG_LINES];
  int n = snprintf(line, sizeof u->log[0], "[%7.1fs] ",
                   u->fleet ? (double)sim_fleet_now(u->fleet) / 1e6 : 0.0);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof u->log[0])
    vsnprintf(line + n, sizeof u->log[0] - (size_t)n, fmt, ap);
  va_end(ap);
  u->log_n++;
}

/* The scenario's log (its last 512 lines) followed by the UI's own actions, oldest first. */
static size_t h_log(void *arg, const char *const **lines) {
  struct app_ui *u = arg;
  size_t n = 0;
  if (u->scn) {
    const char *const *sl;
    size_t sn = scn_log(u->scn, &sl);
    size_t from = sn > 512 ? sn - 512 : 0;
    for (size_t i = from; i < sn; i++)
      u->merged[n++] = sl[i];
  }
  size_t first = u->log_n > APP_UI_LOG_LINES ? u->log_n - APP_UI_LOG_LINES : 0;
  for (size_t i = first; i < u->log_n; i++)
    u->merged[n++] = u->log[i % APP_UI_LOG_LINES];
  *lines = u->merged;
  return n;
}

static const struct sim_hist *h_automation(void *arg) {
  struct app_ui *u = arg;
  if (!u->scn)
    return NULL;
  struct scn_results res;
  scn_peek(u->scn, &res);
  return res.automation && res.automation->count ? res.automation : NULL;
}

static int h_pause(void *arg, int on) {
  struct app_ui *u = arg;
  app_ui_log(u, "%s", on ? "paused" : "resumed");
  if (u->virtual_clock) {
    u->paused = on != 0; /* the virtual runner stops stepping */
    return 0;
  }
  int rc = sim_fleet_pause(u->fleet, on);
  if (rc == 0)
    u->paused = on != 0;
  return rc;
}

static int h_step(void *arg) {
  struct app_ui *u = arg;
  if (!u->virtual_clock || !u->paused)
    return SIM_EINVAL;
  u->step_requests++;
  return 0;
}

static int h_set_speed(void *arg, double speed) {
  struct app_ui *u = arg;
  if (!u->virtual_clock || speed < 0)
    return SIM_EINVAL;
  u->speed = speed;
  u->pace_reset = 1;
  return 0;
}

static int h_trigger(void *arg, uint32_t hub, uint32_t slot, const char *event) {
  struct app_ui *u = arg;
  int rc = sim_fleet_trigger(u->fleet, hub, slot, event);
  char id[40];
  sim_fleet_hub_id(u->fleet, hub, id, sizeof id);
  app_ui_log(u, "trigger %s on %s slot %u: %s", event, id, slot, rc ? sim_strerror(rc) : "ok");
  return rc;
}

static int h_command(void *arg, uint32_t hub, uint32_t slot, uint8_t ep, uint16_t cluster,
                     uint8_t command, const uint8_t *payload, size_t len) {
  struct app_ui *u = arg;
  if (!u->ops.command)
    return SIM_ENOTFOUND;
  struct scn_device_ref dev;
  memset(&dev, 0, sizeof dev);
  dev.hub = hub;
  dev.slot = slot;
  dev.eui64 = sim_fleet_device_eui64(u->fleet, hub, slot);
  sim_fleet_hub_id(u->fleet, hub, dev.hub_id, sizeof dev.hub_id);
  uint64_t id;
  int rc = u->ops.command(u->ops.arg, &dev, ep, cluster, command, payload, len, &id);
  app_ui_log(u, "command %04x/%02x to %s slot %u: %s", cluster, command, dev.hub_id, slot,
             rc ? sim_strerror(rc) : "sent");
  return rc;
}

static int fault_apply(struct app_ui *u, uint32_t hub, const char *kind);

static int h_fault(void *arg, uint32_t hub, const char *kind) {
  struct app_ui *u = arg;
  int rc = fault_apply(u, hub, kind);
  char id[40];
  sim_fleet_hub_id(u->fleet, hub, id, sizeof id);
  app_ui_log(u, "fault %s on %s: %s", kind, id, rc ? sim_strerror(rc) : "injected");
  return rc;
}

static int fault_apply(struct app_ui *u, uint32_t hub, const char *kind) {
  struct sim_fleet *f = u->fleet;
  if (strcmp(kind, "drop") == 0) {
    sim_fleet_drop_hub(f, hub);
    return 0;
  }
  if (strcmp(kind, "stall") == 0)
    return sim_fleet_hub_stall_reads(f, hub, SIM_SEC(10));
  if (strcmp(kind, "delay") == 0)
    return sim_fleet_hub_delay_writes(f, hub, SIM_MS(500), SIM_SEC(30));
  if (strcmp(kind, "malformed") == 0)
    return sim_fleet_hub_send_malformed(f, hub);
  if (strcmp(kind, "power") == 0) {
    int rc = sim_fleet_hub_power(f, hub, 0);
    return rc == SIM_EINVAL ? sim_fleet_hub_power(f, hub, 1) : rc;
  }
  if (strcmp(kind, "skew") == 0)
    return sim_fleet_hub_skew_clock(f, hub, 5 * 60 * 1000);
  return SIM_ENOTFOUND;
}

static void h_quit(void *arg) {
  struct app_ui *u = arg;
  u->quit = 1;
  if (u->on_quit)
    u->on_quit(u->on_quit_arg);
}

void app_ui_init(struct app_ui *u) {
  struct ui_host *h = &u->host;
  memset(h, 0, sizeof(*h));
  h->arg = u;
  h->loop = u->loop;
  h->fleet = u->fleet;
  h->stats = h_stats;
  h->header = h_header;
  h->proc = h_proc;
  h->expectations = h_expectations;
  h->log = h_log;
  h->automation = h_automation;
  h->pause = h_pause;
  h->step = u->virtual_clock ? h_step : NULL;
  h->set_speed = u->virtual_clock ? h_set_speed : NULL;
  h->trigger = h_trigger;
  h->command = u->ops.command ? h_command : NULL;
  h->fault = h_fault;
  h->quit = h_quit;
}
