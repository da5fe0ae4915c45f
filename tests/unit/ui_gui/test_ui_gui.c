/* The graphical dashboard on a real fleet and the reference platform (mem transport, one loop),
 * rendering with SDL's offscreen video driver: screenshots are read back as PNGs, and mouse and
 * key events are injected through ui_gui_inject() at places found with ui_gui_locate(), so the
 * dashboard handles them exactly as events from SDL.
 *
 * The host is implemented here the way the app does it: snapshots from the fleet, controls
 * applied through the fleet and the platform, an event log the controls append to. Every host
 * function must run on the loop's thread: the host checks it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <uv.h>

#include <SDL.h>
#include <SDL_image.h>

#include "devices/cat_global.h"
#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "ui/gui/gui.h"

#define MAX_LOG 256

static struct {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  struct sim_fleet_stats st;
  struct plat_counters pc;
  pthread_t loop_thread;
  int wrong_thread; /* a host function called from another thread */

  char *log[MAX_LOG];
  size_t n_log;
  int paused, pause_calls, quit_calls, trigger_calls, command_calls, fault_calls;
  char last_event[32];
  uint32_t last_hub, last_slot;
  struct ui_gui *gui;
  char dir[256];
} T;

static void on_loop(void) {
  if (!pthread_equal(pthread_self(), T.loop_thread))
    T.wrong_thread++;
}

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
  on_loop();
  sim_fleet_stats(T.f, out);
}

static void h_header(void *arg, struct ui_header *out) {
  (void)arg;
  on_loop();
  out->scenario = "gui-test";
  out->phase = "steady";
  out->virtual_clock = 0;
  out->speed = 1;
  out->paused = T.paused;
  out->seed = 11;
  out->platform = "embedded reference platform at mem://platform";
  out->elapsed_s = (double)sim_fleet_now(T.f) / 1e6;
  out->duration_s = 60;
}

static size_t h_expectations(void *arg, struct ui_expectation *out, size_t cap) {
  (void)arg;
  on_loop();
  if (cap < 2)
    return 0;
  out[0].title = "report.ack.p99 < 250ms";
  out[0].value = (double)sim_hist_quantile(&T.st.ack_latency, 0.99) / 1000.0;
  out[0].unit = "ms";
  out[0].verdict = UI_PASS;
  out[1].title = "hubs.online == 3";
  out[1].value = T.st.hubs_by_state[SIM_HUB_OPEN];
  out[1].unit = "";
  out[1].verdict = T.st.hubs_by_state[SIM_HUB_OPEN] == 3 ? UI_PASS : UI_PENDING;
  return 2;
}

static size_t h_log(void *arg, const char *const **lines) {
  (void)arg;
  on_loop();
  *lines = (const char *const *)T.log;
  return T.n_log;
}

static int h_pause(void *arg, int on) {
  (void)arg;
  on_loop();
  T.pause_calls++;
  int rc = sim_fleet_pause(T.f, on);
  if (rc == 0)
    T.paused = on;
  add_log("%s by the operator", on ? "paused" : "resumed");
  return rc;
}

static int h_trigger(void *arg, uint32_t hub, uint32_t slot, const char *event) {
  (void)arg;
  on_loop();
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
  on_loop();
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
  on_loop();
  T.fault_calls++;
  int rc = SIM_EINVAL;
  if (strcmp(kind, "drop") == 0) {
    sim_fleet_drop_hub(T.f, hub);
    rc = 0;
  }
  add_log("fault %s on hub %u: %s", kind, hub, rc ? sim_strerror(rc) : "injected");
  return rc;
}

static void h_quit(void *arg) {
  (void)arg;
  on_loop();
  T.quit_calls++;
  add_log("quit requested");
}

static struct ui_host host(void) {
  struct ui_host h = {.loop = &T.loop,
                      .fleet = T.f,
                      .stats = h_stats,
                      .header = h_header,
                      .expectations = h_expectations,
                      .log = h_log,
                      .pause = h_pause,
                      .trigger = h_trigger,
                      .command = h_command,
                      .fault = h_fault,
                      .quit = h_quit};
  return h;
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

static void stopped_fleet(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}
static void stopped_plat(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

static int online(void) {
  return T.st.hubs_by_state[SIM_HUB_OPEN] == T.st.hubs && T.st.hubs > 0 && T.st.queued == 0;
}

/* The fleet and the platform, created; the fleet is started by the caller. */
static void fleet_new(uint32_t hubs, uint32_t dph) {
  T.loop_thread = pthread_self();
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
  T.trigger_calls = T.command_calls = T.fault_calls = T.quit_calls = T.pause_calls = 0;
  T.paused = 0;
}

static void gui_stop(void) {
  ui_gui_stop(T.gui);
  T.gui = NULL;
  uv_run(&T.loop, UV_RUN_NOWAIT);
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

/* ---- GUI helpers ---------------------------------------------------------------------------- */

static uint64_t shots_want;
static int shot_done(void) {
  struct ui_gui_info in;
  ui_gui_info(T.gui, &in);
  return in.screenshots >= shots_want;
}

static void screenshot(const char *name, char *path, size_t cap) {
  snprintf(path, cap, "%s/%s", T.dir, name);
  struct ui_gui_info in;
  ui_gui_info(T.gui, &in);
  shots_want = in.screenshots + 1;
  assert_int_equal(ui_gui_screenshot(T.gui, path), 0);
  assert_true(wait_for(shot_done, 10));
  ui_gui_info(T.gui, &in);
  assert_int_equal(in.screenshot_rc, 0);
  assert_int_equal(access(path, R_OK), 0);
}

static void inject_click(int x, int y) {
  SDL_Event e;
  memset(&e, 0, sizeof e);
  e.type = SDL_MOUSEMOTION;
  e.motion.x = x;
  e.motion.y = y;
  assert_int_equal(ui_gui_inject(T.gui, &e), 0);
  memset(&e, 0, sizeof e);
  e.type = SDL_MOUSEBUTTONDOWN;
  e.button.button = SDL_BUTTON_LEFT;
  e.button.state = SDL_PRESSED;
  e.button.clicks = 1;
  e.button.x = x;
  e.button.y = y;
  assert_int_equal(ui_gui_inject(T.gui, &e), 0);
  e.type = SDL_MOUSEBUTTONUP;
  e.button.state = SDL_RELEASED;
  assert_int_equal(ui_gui_inject(T.gui, &e), 0);
}

static void inject_key(SDL_Keycode k) {
  SDL_Event e;
  memset(&e, 0, sizeof e);
  e.type = SDL_KEYDOWN;
  e.key.state = SDL_PRESSED;
  e.key.keysym.sym = k;
  assert_int_equal(ui_gui_inject(T.gui, &e), 0);
}

static const char *want_what;
static int lx, ly;
static int located(void) {
  return ui_gui_locate(T.gui, want_what, &lx, &ly) == 0;
}
/* Waits (bounded) until `what` is drawn, and clicks its centre. */
static void click_on(const char *what) {
  want_what = what;
  assert_true(wait_for(located, 5));
  inject_click(lx, ly);
}

static uint64_t frames_want;
static int frames_passed(void) {
  struct ui_gui_info in;
  ui_gui_info(T.gui, &in);
  return in.frames >= frames_want && in.snapshots_drawn >= 2;
}

static uint64_t cmd_ok0, reports0;
static int triggered(void) {
  return T.trigger_calls == 1 && T.pc.reports_new > reports0 && T.st.queued == 0;
}
static int command_ok(void) {
  return T.command_calls == 1 && T.pc.commands_ok > cmd_ok0;
}
static int paused(void) {
  return T.pause_calls == 1 && T.paused;
}
static int resumed(void) {
  return T.pause_calls == 2 && !T.paused;
}
static int faulted(void) {
  return T.fault_calls == 1;
}
static int quit(void) {
  return T.quit_calls == 1;
}
static int frames3(void) {
  struct ui_gui_info in;
  ui_gui_info(T.gui, &in);
  return in.frames >= frames_want;
}

/* ---- pixels ------------------------------------------------------------------------------ */

static uint32_t px_at(SDL_Surface *s, int x, int y) {
  const uint8_t *p = (const uint8_t *)s->pixels + (size_t)y * (size_t)s->pitch +
                     (size_t)x * s->format->BytesPerPixel;
  uint32_t v = 0;
  memcpy(&v, p, s->format->BytesPerPixel > 4 ? 4 : s->format->BytesPerPixel);
  uint8_t r, g, b;
  SDL_GetRGB(v, s->format, &r, &g, &b);
  return (uint32_t)r << 16 | (uint32_t)g << 8 | b;
}

/* The variance of the pixels' brightness: a blank (one-colour) image has none. */
static double variance(SDL_Surface *s) {
  double sum = 0, sq = 0;
  long n = 0;
  for (int y = 0; y < s->h; y += 2)
    for (int x = 0; x < s->w; x += 2) {
      uint32_t c = px_at(s, x, y);
      double v = ((c >> 16) & 255) + ((c >> 8) & 255) + (c & 255);
      sum += v;
      sq += v * v;
      n++;
    }
  double m = sum / n;
  return sq / n - m * m;
}

/* Pixels that differ between a and b inside [x0, x1) x [y0, y1). */
static long differing(SDL_Surface *a, SDL_Surface *b, int x0, int y0, int x1, int y1) {
  long n = 0;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      n += px_at(a, x, y) != px_at(b, x, y);
  return n;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

/* Two screenshots, before and after the hubs come online: the expected size, not blank, and the
 * fleet map changed where the hubs are drawn (grey idle hubs turned green). */
static void test_screenshots_before_after_online(void **state) {
  (void)state;
  fleet_new(3, 6);
  struct ui_host h = host();
  struct ui_gui_opts o = {.width = 1000, .height = 700};
  assert_int_equal(ui_gui_start(&h, &o, &T.gui), 0);
  /* One dashboard per process. */
  struct ui_gui *other;
  assert_int_equal(ui_gui_start(&h, &o, &other), SIM_EEXISTS);

  char p1[512], p2[512];
  screenshot("before.png", p1, sizeof p1);
  int hx[3], hy[3];
  for (int i = 0; i < 3; i++) {
    char what[32];
    snprintf(what, sizeof what, "hub:%d", i);
    assert_int_equal(ui_gui_locate(T.gui, what, &hx[i], &hy[i]), 0);
  }
  assert_int_equal(sim_fleet_start(T.f), 0);
  assert_true(wait_for(online, 30));
  screenshot("after.png", p2, sizeof p2);

  struct ui_gui_info in;
  ui_gui_info(T.gui, &in);
  SDL_Surface *a = IMG_Load(p1), *b = IMG_Load(p2);
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(a->w, in.out_w);
  assert_int_equal(a->h, in.out_h);
  assert_int_equal(a->w, 1000); /* the offscreen driver has no high-DPI scale */
  assert_int_equal(a->h, 700);
  assert_int_equal(b->w, a->w);
  assert_int_equal(b->h, a->h);
  double va = variance(a), vb = variance(b);
  printf("variance before %.0f after %.0f\n", va, vb);
  assert_true(va > 100);
  assert_true(vb > 100);
  /* The map: idle hubs are grey, online ones green. */
  for (int i = 0; i < 3; i++) {
    uint32_t c1 = px_at(a, hx[i], hy[i]), c2 = px_at(b, hx[i], hy[i]);
    printf("hub %d at (%d, %d): %06x -> %06x\n", i, hx[i], hy[i], c1, c2);
    assert_true(c1 != c2);
    assert_true(((c2 >> 8) & 255) > ((c2 >> 16) & 255) + 40); /* green dominates */
  }
  long diff = differing(a, b, 0, 40, in.out_w * 6 / 10, in.out_h * 6 / 10);
  printf("map pixels changed: %ld\n", diff);
  assert_true(diff > 500);
  SDL_FreeSurface(a);
  SDL_FreeSurface(b);
  assert_int_equal(T.wrong_thread, 0);
  gui_stop();
  fleet_down();
}

/* Clicks select a motion sensor on the map and press its trigger button: the host's trigger is
 * called on the loop and the platform stores the report it caused; the plug's toggle button
 * sends a command the platform sees succeed; keys pause and resume. */
static void test_click_device_and_trigger(void **state) {
  (void)state;
  fleet_new(3, 6);
  assert_int_equal(sim_fleet_start(T.f), 0);
  assert_true(wait_for(online, 30));
  struct ui_host h = host();
  struct ui_gui_opts o = {.width = 1100, .height = 760};
  assert_int_equal(ui_gui_start(&h, &o, &T.gui), 0);
  struct ui_gui_info in;
  ui_gui_info(T.gui, &in);
  frames_want = in.frames + 2;
  assert_true(wait_for(frames_passed, 5));

  int motion = find_slot(1, "lumi.sensor_motion.aq2");
  assert_true(motion >= 0);
  char what[48];
  snprintf(what, sizeof what, "device:1:%d", motion);
  click_on(what);
  /* The side panel shows the device (its detail read on the loop) with its trigger button. */
  reports0 = T.pc.reports_new;
  click_on("button:trigger:motion");
  assert_true(wait_for(triggered, 10));
  assert_int_equal(T.last_hub, 1);
  assert_int_equal(T.last_slot, (uint32_t)motion);
  assert_string_equal(T.last_event, "motion");
  ui_gui_info(T.gui, &in);
  assert_int_equal(in.sel_hub, 1);
  assert_int_equal(in.sel_slot, motion);
  printf("platform reports %llu -> %llu\n", (unsigned long long)reports0,
         (unsigned long long)T.pc.reports_new);

  /* A plug: its toggle command reaches the device and the platform counts it ok. */
  int plug = find_slot(2, "lumi.plug.maeu01");
  assert_true(plug >= 0);
  snprintf(what, sizeof what, "device:2:%d", plug);
  click_on(what);
  cmd_ok0 = T.pc.commands_ok;
  click_on("button:command:toggle:1");
  assert_true(wait_for(command_ok, 10));
  if (getenv("HUBSIM_GUI_SHOTS")) { /* for docs/gui.md: the device panel, a command's path */
    char p[512];
    click_on("button:command:toggle:1");
    snprintf(p, sizeof p, "%s/gui-device.png", T.dir);
    struct ui_gui_info i2;
    ui_gui_info(T.gui, &i2);
    shots_want = i2.screenshots + 1;
    assert_int_equal(ui_gui_screenshot(T.gui, p), 0);
    assert_true(wait_for(shot_done, 10));
  }

  /* Keys as in the TUI: p pauses, space resumes. */
  inject_key(SDLK_p);
  assert_true(wait_for(paused, 5));
  inject_key(SDLK_SPACE);
  assert_true(wait_for(resumed, 5));

  /* The hub's fault buttons: esc goes back to the hub, drop it. */
  inject_key(SDLK_ESCAPE);
  click_on("button:fault:drop");
  assert_true(wait_for(faulted, 5));
  assert_int_equal(T.wrong_thread, 0);

  gui_stop();
  fleet_down();
}

/* --screenshot with --exit-after-screenshot: the PNG appears once engine time passes the mark,
 * and the host's quit is called (on the loop). */
static void test_screenshot_then_quit(void **state) {
  (void)state;
  fleet_new(4, 4);
  assert_int_equal(sim_fleet_start(T.f), 0);
  char path[512];
  snprintf(path, sizeof path, "%s/auto.png", T.dir);
  remove(path);
  struct ui_host h = host();
  struct ui_gui_opts o = {.width = 800,
                          .height = 600,
                          .screenshot_path = path,
                          .screenshot_after_s = 0.5,
                          .exit_after_screenshot = 1};
  assert_int_equal(ui_gui_start(&h, &o, &T.gui), 0);
  assert_true(wait_for(quit, 10));
  assert_int_equal(access(path, R_OK), 0);
  SDL_Surface *s = IMG_Load(path);
  assert_non_null(s);
  assert_int_equal(s->w, 800);
  assert_int_equal(s->h, 600);
  SDL_FreeSurface(s);
  assert_true((double)sim_fleet_now(T.f) / 1e6 >= 0.5);
  gui_stop();
  fleet_down();
}

/* A host without a fleet and without controls: the window still opens and draws; a bad font
 * is refused with the window closed again. */
static void test_bare_host_and_bad_font(void **state) {
  (void)state;
  T.loop_thread = pthread_self();
  assert_int_equal(uv_loop_init(&T.loop), 0);
  struct ui_host h = {.loop = &T.loop};
  struct ui_gui_opts bad = {.font_path = "/nonexistent/font.ttf"};
  assert_int_equal(ui_gui_start(&h, &bad, &T.gui), SIM_EIO);
  uv_run(&T.loop, UV_RUN_NOWAIT);
  assert_int_equal(ui_gui_start(&h, NULL, &T.gui), 0);
  struct ui_gui_info in;
  ui_gui_info(T.gui, &in);
  frames_want = in.frames + 3;
  assert_true(wait_for(frames3, 5));
  inject_key(SDLK_p); /* no pause in this host: a message, no call */
  inject_key(SDLK_t);
  frames_want += 3;
  assert_true(wait_for(frames3, 5));
  assert_int_equal(ui_gui_locate(T.gui, "hub:0", &lx, &ly), SIM_ENOTFOUND);
  assert_int_equal(ui_gui_locate(T.gui, "nonsense", &lx, &ly), SIM_EINVAL);
  assert_int_equal(ui_gui_locate(T.gui, "button:pause", &lx, &ly), 0);
  gui_stop();
  assert_int_equal(uv_loop_close(&T.loop), 0);
}

static int teardown(void **state) {
  (void)state;
  if (T.gui)
    gui_stop();
  return 0;
}

static int setup(void **state) {
  (void)state;
  setenv("SDL_VIDEODRIVER", "offscreen", 1);
  const char *d = getenv("HUBSIM_GUI_SHOTS");
  if (d) {
    snprintf(T.dir, sizeof T.dir, "%s", d);
  } else {
    snprintf(T.dir, sizeof T.dir, "/tmp/test_ui_gui.XXXXXX");
    if (!mkdtemp(T.dir))
      return 1;
  }
  return dev_catalog_register_all() < 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_screenshots_before_after_online, teardown),
      cmocka_unit_test_teardown(test_click_device_and_trigger, teardown),
      cmocka_unit_test_teardown(test_screenshot_then_quit, teardown),
      cmocka_unit_test_teardown(test_bare_host_and_bad_font, teardown)};
  return cmocka_run_group_tests(tests, setup, NULL);
}
