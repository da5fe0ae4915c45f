/* The terminal dashboard on a real fleet and the reference platform (mem transport, one loop),
 * drawing to a pseudo-terminal: the screen is read back with ui_tui_dump() and keys are typed
 * into the pty's master side, so the dashboard reads them exactly as from a keyboard.
 *
 * The host is implemented here the way the app does it: snapshots from the fleet, controls
 * applied through the fleet and the platform, an event log the controls append to. */
#include <fcntl.h>
#include <pty.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <uv.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"
#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "ui/tui/tui.h"

#define MAX_LOG 256

static struct {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  struct sim_fleet_stats st;
  struct plat_counters pc;
  struct sim_hist auto_hist;

  char *log[MAX_LOG];
  size_t n_log;
  int paused, pause_calls, quit_calls, trigger_calls, command_calls, fault_calls;
  char last_event[32];
  uint32_t last_hub, last_slot;

  int master, slave;
  FILE *in, *out;
  uv_poll_t mpoll;
  uint64_t pty_bytes; /* what the dashboard wrote to the terminal */
  struct ui_tui *tui;
  char screen[64 * 1024];
} T;

static void add_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_log(const char *fmt, ...) {
  if (T.n_log == MAX_LOG)
    return;
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  T.log[T.n_log++] = strdup(buf);
}

/* ---- the host ------------------------------------------------------------------------------ */

static void h_stats(void *arg, struct sim_fleet_stats *out) {
  (void)arg;
  sim_fleet_stats(T.f, out);
}

static void h_header(void *arg, struct ui_header *out) {
  (void)arg;
  out->scenario = "tui-test";
  out->phase = "steady";
  out->virtual_clock = 0;
  out->speed = 1;
  out->paused = T.paused;
  out->seed = 11;
  out->platform = "embedded reference platform at mem://platform";
  out->elapsed_s = (double)sim_fleet_now(T.f) / 1e6;
  out->duration_s = 60;
}

static void h_proc(void *arg, struct ui_proc *out) {
  (void)arg;
  out->cpu_pct = 3;
  out->rss_bytes = 40u << 20;
  out->open_fds = 12;
  out->fd_limit = 1024;
}

static size_t h_expectations(void *arg, struct ui_expectation *out, size_t cap) {
  (void)arg;
  if (cap < 1)
    return 0;
  out[0].title = "report.ack.p99 < 250ms";
  out[0].value = (double)sim_hist_quantile(&T.st.ack_latency, 0.99) / 1000.0;
  out[0].unit = "ms";
  out[0].verdict = UI_PASS;
  if (cap < 2)
    return 1;
  /* judged only at the end of the run: pending, whatever it reads now */
  out[1].title = "hubs.online == 1";
  out[1].value = 1;
  out[1].unit = "ratio";
  out[1].verdict = UI_PENDING;
  out[1].after_s = 0;
  return 2;
}

static size_t h_log(void *arg, const char *const **lines) {
  (void)arg;
  *lines = (const char *const *)T.log;
  return T.n_log;
}

static const struct sim_hist *h_automation(void *arg) {
  (void)arg;
  return &T.auto_hist;
}

static int h_pause(void *arg, int on) {
  (void)arg;
  T.pause_calls++;
  T.paused = on;
  add_log("%s by the operator", on ? "paused" : "resumed");
  return 0;
}

static int h_trigger(void *arg, uint32_t hub, uint32_t slot, const char *event) {
  (void)arg;
  T.trigger_calls++;
  T.last_hub = hub;
  T.last_slot = slot;
  snprintf(T.last_event, sizeof T.last_event, "%s", event);
  int rc = sim_fleet_trigger(T.f, hub, slot, event);
  add_log("trigger %s on hub %u slot %u: %s", event, hub, slot, rc ? sim_strerror(rc) : "ok");
  return rc;
}

static int h_command(void *arg, uint32_t hub, uint32_t slot, uint8_t ep, uint16_t cluster,
                     uint8_t command, const uint8_t *payload, size_t len) {
  (void)arg;
  T.command_calls++;
  char id[40];
  sim_fleet_hub_id(T.f, hub, id, sizeof id);
  uint64_t eui = sim_fleet_device_eui64(T.f, hub, slot);
  int rc = plat_server_command(T.srv, id, eui, ep, cluster, command, payload, len, 0, 0, NULL);
  add_log("command 0x%04x/0x%02x to %s slot %u: %s", cluster, command, id, slot,
          rc ? sim_strerror(rc) : "sent");
  return rc;
}

static int h_fault(void *arg, uint32_t hub, const char *kind) {
  (void)arg;
  T.fault_calls++;
  int rc = SIM_EINVAL;
  if (strcmp(kind, "drop") == 0) {
    sim_fleet_drop_hub(T.f, hub);
    rc = 0;
  } else if (strcmp(kind, "stall") == 0) {
    rc = sim_fleet_hub_stall_reads(T.f, hub, 10 * 1000000);
  }
  add_log("fault %s on hub %u: %s", kind, hub, rc ? sim_strerror(rc) : "injected");
  return rc;
}

static void h_quit(void *arg) {
  (void)arg;
  T.quit_calls++;
  add_log("quit requested");
}

/* ---- loop helpers ------------------------------------------------------------------------- */

typedef int (*pred_fn)(void);
static pred_fn P;

static void on_tick(uv_timer_t *t) {
  if (T.f)
    sim_fleet_stats(T.f, &T.st);
  if (T.srv)
    plat_server_counters(T.srv, &T.pc);
  if (P() || uv_hrtime() > *(uint64_t *)t->data)
    uv_stop(&T.loop);
}

/* Runs the loop until p() holds or timeout_s passes; returns p(). */
static int wait_for(pred_fn p, double timeout_s) {
  uv_timer_t tick;
  uint64_t deadline = uv_hrtime() + (uint64_t)(timeout_s * 1e9);
  P = p;
  uv_timer_init(&T.loop, &tick);
  tick.data = &deadline;
  uv_timer_start(&tick, on_tick, 5, 5);
  uv_run(&T.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  return p();
}

/* The terminal's side: whatever the dashboard writes is read and counted, as a terminal would,
 * so that its writes never block the loop on a full pty buffer. */
static void on_master(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  uv_os_fd_t fd;
  if (uv_fileno((const uv_handle_t *)h, &fd))
    return;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    T.pty_bytes += (uint64_t)n;
}

static void keys(const char *k) {
  size_t n = strlen(k);
  assert_int_equal(write(T.master, k, n), (ssize_t)n);
}

static const char *screen(void) {
  ui_tui_draw(T.tui);
  ui_tui_dump(T.tui, T.screen, sizeof T.screen);
  return T.screen;
}

static const char *want_text;
static int screen_has(void) {
  return strstr(screen(), want_text) != NULL;
}
/* Waits (bounded) until the screen shows text. */
static int shows(const char *text) {
  want_text = text;
  return wait_for(screen_has, 5);
}

static void open_pty(int rows, int cols) {
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  assert_int_equal(openpty(&T.master, &T.slave, NULL, NULL, &ws), 0);
  fcntl(T.master, F_SETFL, fcntl(T.master, F_GETFL) | O_NONBLOCK);
  T.in = fdopen(T.slave, "r");
  T.out = fdopen(dup(T.slave), "w");
  assert_non_null(T.in);
  assert_non_null(T.out);
  assert_int_equal(uv_poll_init(&T.loop, &T.mpoll, T.master), 0);
  assert_int_equal(uv_poll_start(&T.mpoll, UV_READABLE, on_master), 0);
}

static void close_pty(void) {
  uv_close((uv_handle_t *)&T.mpoll, NULL);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  fclose(T.in);
  fclose(T.out);
  close(T.master);
}

static int never(void) {
  return 0;
}

/* With HUBSIM_TUI_DUMP=DIR, writes the screen to DIR/name for docs/tui.md, after a few seconds
 * of traffic so that the rates and sparklines have something to show. */
static void dump_to(const char *name) {
  const char *dir = getenv("HUBSIM_TUI_DUMP");
  if (!dir)
    return;
  wait_for(never, 3.5);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *fp = fopen(path, "w");
  if (fp) {
    fputs(screen(), fp);
    fclose(fp);
  }
}

/* ---- fleet set-up --------------------------------------------------------------------------- */

static int online(void) {
  return T.st.hubs_by_state[SIM_HUB_OPEN] == T.st.hubs && T.st.hubs > 0 && T.st.queued == 0;
}

static void stopped_fleet(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}
static void stopped_plat(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

static void fleet_up(uint32_t hubs, uint32_t dph) {
  assert_int_equal(uv_loop_init(&T.loop), 0);
  assert_int_equal(sim_transport_mem_new(&T.loop, &T.t), 0);
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = ":memory:",
                           .fleet_key = key,
                           .fleet_key_len = sizeof(key) - 1};
  assert_int_equal(plat_server_new(&T.loop, T.t, &pc, &T.srv), 0);
  assert_int_equal(plat_server_start(T.srv), 0);
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = hubs;
  cfg.devices_per_hub = dph;
  snprintf(cfg.platform.host, sizeof(cfg.platform.host), "platform");
  cfg.platform.port = plat_server_port(T.srv);
  cfg.n_mix = 2;
  cfg.mix_model[0] = (uint16_t)sim_model_find("lumi.plug.maeu01");
  cfg.mix_model[1] = (uint16_t)sim_model_find("lumi.sensor_motion.aq2");
  cfg.mix_weight[0] = cfg.mix_weight[1] = 1;
  cfg.seed = 11;
  assert_int_equal(sim_fleet_new(&T.loop, T.t, &cfg, &T.f), 0);
  assert_int_equal(sim_fleet_start(T.f), 0);
  assert_true(wait_for(online, 30));
  sim_hist_init(&T.auto_hist);
}

static void fleet_down(void) {
  int fs = 0, ps = 0;
  sim_fleet_stop(T.f, stopped_fleet, &fs);
  assert_int_equal(plat_server_stop(T.srv, stopped_plat, &ps), 0);
  for (int i = 0; i < 1000 && !(fs && ps); i++)
    uv_run(&T.loop, UV_RUN_ONCE);
  assert_true(fs && ps);
  sim_fleet_free(T.f);
  plat_server_free(T.srv);
  T.f = NULL;
  T.srv = NULL;
  uv_run(&T.loop, UV_RUN_NOWAIT);
  sim_transport_free(T.t);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&T.loop), 0);
  for (size_t i = 0; i < T.n_log; i++)
    free(T.log[i]);
  T.n_log = 0;
}

static struct ui_host host(void) {
  struct ui_host h = {.arg = NULL,
                      .loop = &T.loop,
                      .fleet = T.f,
                      .stats = h_stats,
                      .header = h_header,
                      .proc = h_proc,
                      .expectations = h_expectations,
                      .log = h_log,
                      .automation = h_automation,
                      .pause = h_pause,
                      .step = NULL, /* shown greyed */
                      .set_speed = NULL,
                      .trigger = h_trigger,
                      .command = h_command,
                      .fault = h_fault,
                      .quit = h_quit};
  return h;
}

/* A slot of hub whose model is model_id, or -1. */
static int find_slot(uint32_t hub, const char *model_id) {
  for (uint32_t s = 0; s < sim_fleet_devices_per_hub(T.f); s++) {
    struct sim_device_info di;
    if (sim_fleet_device_info(T.f, hub, s, &di) == 0 && di.model &&
        strcmp(di.model->model_id, model_id) == 0)
      return (int)s;
  }
  return -1;
}

static int counted_line(const char *scr, const char *prefix, unsigned *out) {
  const char *p = strstr(scr, prefix);
  return p && sscanf(p + strlen(prefix), "%u", out) == 1;
}

static int rows_of(const char *scr) {
  int n = 0;
  for (const char *p = scr; *p; p++)
    n += *p == '\n';
  return n;
}

static int g_triggered(void) {
  return T.trigger_calls == 1;
}
static uint64_t reports0;
static int g_reports_moved(void) {
  return T.pc.reports_new > reports0;
}
static int g_paused(void) {
  return T.pause_calls == 1 && T.paused;
}
static int g_resumed(void) {
  return T.pause_calls == 2 && !T.paused;
}
static uint64_t cmd_ok0;
static int g_command_ok(void) {
  return T.command_calls == 1 && T.pc.commands_ok > cmd_ok0;
}
static int g_fault(void) {
  return T.fault_calls == 1;
}
static int g_quit(void) {
  return T.quit_calls == 1;
}
static int g_big(void) {
  struct ui_tui_info in;
  ui_tui_info(T.tui, &in);
  return in.rows == 60 && in.cols == 200;
}
static int g_small(void) {
  struct ui_tui_info in;
  ui_tui_info(T.tui, &in);
  return in.rows == 24 && in.cols == 80;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

/* The header and the fleet panel at 80x24, against the stats. */
static void dashboard_first_screen(void) {
  assert_true(shows("tui-test"));
  const char *scr = screen();
  assert_int_equal(rows_of(scr), 24);
  unsigned hubs = 0, online_n = 0;
  assert_true(counted_line(scr, "hubs ", &hubs));
  assert_int_equal(hubs, T.st.hubs);
  assert_true(counted_line(scr, "online ", &online_n));
  assert_int_equal(online_n, 3);
  assert_non_null(strstr(scr, "phase steady"));
  assert_non_null(strstr(scr, "seed 11"));
  assert_non_null(strstr(scr, "Hubs 1/3"));
  assert_non_null(strstr(scr, "hub-000000"));
  assert_non_null(strstr(scr, "report ack"));
  /* one row for expectations at 80x24: the pending one comes before the passed one */
  assert_non_null(strstr(scr, "Expect 1 pass 0 fail 1 pending"));
  assert_non_null(strstr(scr, ".... hubs.online == 1  now 1  (at")); /* then cut */
  assert_true(T.pty_bytes > 0);
}

/* Select hub 1, open its devices, move to a motion sensor, trigger its first event: the host
 * is called with it and the platform receives the report. */
static void dashboard_trigger_motion(void) {
  int slot = find_slot(1, "lumi.sensor_motion.aq2");
  assert_true(slot >= 0);
  keys("j");
  assert_true(shows("Hubs 2/3"));
  keys("\r");
  assert_true(shows("[ Devices of hub-000001 (state, lqi) ]"));
  for (int i = 0; i < slot; i++)
    keys("j");
  char sel[64];
  snprintf(sel, sizeof sel, ">%3d lumi.sensor_motion.aq2", slot);
  assert_true(shows(sel));
  plat_server_counters(T.srv, &T.pc);
  reports0 = T.pc.reports_new;
  keys("t");
  assert_true(shows("Trigger on slot"));
  const struct dev_cat_model *cm = dev_cat_find(dev_cat_global(), "lumi.sensor_motion.aq2");
  assert_non_null(cm);
  assert_true(cm->n_trig > 0);
  keys("\r");
  assert_true(wait_for(g_triggered, 5));
  assert_int_equal(T.last_hub, 1);
  assert_int_equal(T.last_slot, (uint32_t)slot);
  assert_string_equal(T.last_event, cm->trig[0].name);
  assert_true(shows("triggered '"));
  assert_true(wait_for(g_reports_moved, 5));
  char logline[96];
  snprintf(logline, sizeof logline, "trigger %s on hub 1 slot %d: ok", cm->trig[0].name, slot);
  assert_true(shows(logline));
  dump_to("screen-80x24.txt");
}

/* The device detail pane of the selected motion sensor: model facts from the catalogue. */
static void dashboard_device_detail(void) {
  keys("\r");
  assert_true(shows("[ Device detail ]"));
  const char *scr = screen();
  if (getenv("TUI_SHOW"))
    fputs(scr, stderr);
  assert_non_null(strstr(scr, "RTCGQ11LM"));
  assert_non_null(strstr(scr, "battery"));
  assert_non_null(strstr(scr, "triggers motion"));
  keys("\033");
  assert_true(shows("[ Devices of hub-000001 (state, lqi) ]"));
}

/* A command to a plug of hub 1: on, through the platform, acknowledged by the device. */
static void dashboard_plug_command(void) {
  int plug = find_slot(1, "lumi.plug.maeu01");
  assert_true(plug >= 0);
  for (int i = 0; i < 8; i++)
    keys("k");
  for (int i = 0; i < plug; i++)
    keys("j");
  char sel[64];
  snprintf(sel, sizeof sel, ">%3d lumi.plug.maeu01", plug);
  assert_true(shows(sel));
  plat_server_counters(T.srv, &T.pc);
  cmd_ok0 = T.pc.commands_ok;
  keys("c");
  assert_true(shows("Command to slot"));
  assert_true(shows("0x0006/0x01"));
  keys("1"); /* "on" is first */
  assert_true(wait_for(g_command_ok, 10));
}

/* Pause and resume; step is not available in this run and says so; the help; then a fault on
 * the selected hub (back to the hub list first). */
static void dashboard_pause_help_fault(void) {
  keys("p");
  assert_true(wait_for(g_paused, 5));
  assert_true(shows("PAUSED"));
  keys("p");
  assert_true(wait_for(g_resumed, 5));
  keys("s");
  assert_true(shows("stepping is not available"));
  keys("?");
  assert_true(shows("Keys (any key closes)"));
  assert_non_null(strstr(screen(), "[n/a in this run] step one second"));
  keys("x");
  assert_true(shows("Events"));

  keys("\033");
  assert_true(shows("[ Hubs 2/3 ]"));
  keys("f");
  assert_true(shows("Fault on hub-000001"));
  keys("2"); /* stall */
  assert_true(wait_for(g_fault, 5));
  assert_true(shows("fault stall on hub 1: injected"));
}

/* Resize to 200x60 and back: the three-column layout uses the space. */
static void dashboard_resize(void) {
  struct winsize big = {.ws_row = 60, .ws_col = 200};
  assert_int_equal(ioctl(T.master, TIOCSWINSZ, &big), 0);
  assert_true(wait_for(g_big, 5));
  const char *scr = screen();
  assert_int_equal(rows_of(scr), 60);
  assert_non_null(strstr(scr, "Device detail"));
  assert_non_null(strstr(scr, "tui-test"));
  dump_to("screen-200x60.txt");
  struct winsize small = {.ws_row = 24, .ws_col = 80};
  assert_int_equal(ioctl(T.master, TIOCSWINSZ, &small), 0);
  assert_true(wait_for(g_small, 5));
  assert_int_equal(rows_of(screen()), 24);
}

/* Quit: asks first; n goes on, y calls the host's quit. */
static void dashboard_quit(void) {
  keys("q");
  assert_true(shows("Quit the run now?"));
  keys("n");
  assert_true(shows("quit cancelled"));
  assert_int_equal(T.quit_calls, 0);
  keys("q");
  assert_true(shows("Quit the run now?"));
  keys("y");
  assert_true(wait_for(g_quit, 5));
}

static void test_dashboard_drives_fleet(void **state) {
  (void)state;
  unsetenv("NO_COLOR");
  fleet_up(3, 6);
  open_pty(24, 80);
  struct ui_host h = host();
  struct ui_tui_opts o = {.refresh_hz = 20, .in = T.in, .out = T.out, .term = "xterm-256color"};
  assert_int_equal(ui_tui_start(&h, &o, &T.tui), 0);
  struct ui_tui_info in;
  ui_tui_info(T.tui, &in);
  assert_int_equal(in.rows, 24);
  assert_int_equal(in.cols, 80);
  assert_int_equal(in.color, 1);

  dashboard_first_screen();
  dashboard_trigger_motion();
  dashboard_device_detail();
  dashboard_plug_command();
  dashboard_pause_help_fault();
  dashboard_resize();
  dashboard_quit();

  ui_tui_info(T.tui, &in);
  printf("frames %llu, last %.3f ms, max %.3f ms, %llu bytes to the terminal\n",
         (unsigned long long)in.frames, (double)in.last_draw_ns / 1e6, (double)in.max_draw_ns / 1e6,
         (unsigned long long)T.pty_bytes);
  ui_tui_stop(T.tui);
  T.tui = NULL;
  uv_run(&T.loop, UV_RUN_NOWAIT);
  close_pty();
  fleet_down();
}

/* A large fleet: the hub list goes to its last hub and full frames draw there. What a frame
 * costs is measured by bench/tui/bench_tui_draw, not here (tests never time anything). */
static void test_dashboard_large_fleet(void **state) {
  (void)state;
  fleet_up(10000, 1);
  open_pty(60, 200);
  struct ui_host h = host();
  struct ui_tui_opts o = {.refresh_hz = 4, .in = T.in, .out = T.out, .term = "xterm-256color"};
  assert_int_equal(ui_tui_start(&h, &o, &T.tui), 0);
  assert_true(shows("Hubs 1/10000"));
  keys("G");
  assert_true(shows("Hubs 10000/10000"));
  assert_true(shows("hub-009999"));
  /* Full frames at the end of the list: each one counted, the last rows still there. */
  struct ui_tui_info before, after;
  ui_tui_info(T.tui, &before);
  for (int i = 0; i < 20; i++)
    ui_tui_draw(T.tui);
  ui_tui_info(T.tui, &after);
  assert_int_equal(after.frames - before.frames, 20);
  const char *scr = screen();
  assert_int_equal(rows_of(scr), 60);
  assert_non_null(strstr(scr, "Hubs 10000/10000"));
  assert_non_null(strstr(scr, "hub-009999"));
  ui_tui_stop(T.tui);
  T.tui = NULL;
  uv_run(&T.loop, UV_RUN_NOWAIT);
  close_pty();
  fleet_down();
}

/* Without colour (NO_COLOR), without a fleet and without controls: everything greyed, nothing
 * crashes; a terminal that cannot be set up is refused and left alone. */
static void test_dashboard_bare_host(void **state) {
  (void)state;
  assert_int_equal(uv_loop_init(&T.loop), 0);
  open_pty(24, 80);
  setenv("NO_COLOR", "1", 1);
  struct ui_host h = {.loop = &T.loop};
  struct ui_tui_opts o = {.in = T.in, .out = T.out, .term = "xterm-256color"};
  struct ui_tui *t = NULL;
  assert_int_equal(ui_tui_start(&h, &o, &t), 0);
  T.tui = t;
  struct ui_tui_info in;
  ui_tui_info(t, &in);
  assert_int_equal(in.color, 0);
  const char *scr = screen();
  assert_non_null(strstr(scr, "(no scenario)"));
  assert_non_null(strstr(scr, "n/a (worker processes)"));
  keys("p");
  assert_true(shows("pausing is not available"));
  keys("t");
  assert_true(shows("triggering events is not available"));
  keys("q");
  assert_true(shows("quitting is not available"));
  ui_tui_stop(t);
  T.tui = NULL;
  uv_run(&T.loop, UV_RUN_NOWAIT);
  unsetenv("NO_COLOR");

  /* An unknown terminal type, and a screen that is not a terminal. */
  assert_int_equal(
      ui_tui_start(
          &h, &(struct ui_tui_opts){.in = T.in, .out = T.out, .term = "no-such-terminal-xyz"}, &t),
      SIM_EINVAL);
  FILE *devnull = fopen("/dev/null", "w");
  assert_non_null(devnull);
  assert_int_equal(ui_tui_start(&h, &(struct ui_tui_opts){.in = T.in, .out = devnull}, &t),
                   SIM_EINVAL);
  fclose(devnull);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  close_pty();
  assert_int_equal(uv_loop_close(&T.loop), 0);
}

/* A failed test must still give the terminal back, or the next start is refused. */
static int teardown(void **state) {
  (void)state;
  if (T.tui) {
    ui_tui_stop(T.tui);
    T.tui = NULL;
  }
  return 0;
}

static int setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_dashboard_drives_fleet, teardown),
      cmocka_unit_test_teardown(test_dashboard_bare_host, teardown),
      cmocka_unit_test_teardown(test_dashboard_large_fleet, teardown)};
  return cmocka_run_group_tests(tests, setup, NULL);
}
