/* bench_gui: the graphical dashboard drawing a large fleet, and what it costs the engine.
 *
 * A fleet (default 10,000 hubs x 10 devices) and the reference platform run in this process on
 * the virtual clock (mem transport, sim_vdriver): the engine runs as fast as it can, so the
 * virtual seconds it gets through per wall second, and the reports it generates per wall second,
 * are its throughput. Wall-clock windows alternate without and with the dashboard; the slowdown
 * is the throughput lost with it. With the dashboard, the render thread runs uncapped (or at the
 * cap given) and its frames per second are measured at three zooms: the whole fleet (tiles by
 * health), hubs with device dots (cells of 40 px), full detail with hub ids (cells of 200 px).
 *
 * At a cap the render loop wakes cap times a second but draws only when the screen changed
 * (a snapshot: 10 Hz), so a window reports the loop's rate, the frames drawn (= presented) and
 * the map redraws apart. --interact adds two windows where someone uses the dashboard: the mouse
 * moving over the map every 33 ms (a tooltip: every tick draws, the map is copied as it is) and
 * dragging it (every tick draws the map's pixels anew): the worst case.
 *
 *   bench_gui [--hubs N] [--dph N] [--window S] [--fps CAP] [--shot DIR] [--interact]
 *
 * Prints one line per window and a summary; lines starting with "perf:" go to
 * docs/performance.md. Needs a display or SDL_VIDEODRIVER=offscreen (set when unset). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <SDL.h>
#include <uv.h>

#include "devices/cat_global.h"
#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "sim/loop/vdriver.h"
#include "ui/gui/gui.h"

static struct {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  struct sim_vdriver d;
  struct sim_fleet_stats st;
  double duration_s;
} B;

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int mem_busy(void *arg) {
  return sim_transport_mem_busy(arg);
}

static void h_stats(void *arg, struct sim_fleet_stats *out) {
  (void)arg;
  sim_fleet_stats(B.f, out);
}

static void h_header(void *arg, struct ui_header *out) {
  (void)arg;
  out->scenario = "bench-gui";
  out->phase = "steady";
  out->virtual_clock = 1;
  out->speed = 0;
  out->seed = 7;
  out->platform = "embedded reference platform at mem://platform";
  out->elapsed_s = (double)sim_fleet_now(B.f) / 1e6;
  out->duration_s = B.duration_s;
}

struct window {
  double wall_s, virt_s, reports, loop_cpu_s;
};

/* --interact: the mouse, injected from the loop's thread every 33 ms of wall time. */
static struct {
  struct ui_gui *g;
  int mode; /* 0: none, 1: hover, 2: drag */
  double last;
  int n, down;
} M;

static void mouse_event(Uint32 type, int x, int y) {
  SDL_Event e;
  memset(&e, 0, sizeof e);
  e.type = type;
  if (type == SDL_MOUSEMOTION) {
    e.motion.x = x;
    e.motion.y = y;
  } else {
    e.button.button = SDL_BUTTON_LEFT;
    e.button.state = type == SDL_MOUSEBUTTONDOWN ? SDL_PRESSED : SDL_RELEASED;
    e.button.x = x;
    e.button.y = y;
  }
  ui_gui_inject(M.g, &e);
}

/* A point moving back and forth over the map (1600x1000 window: the map is about 1200 x 780
 * points from (6, 38)); a drag keeps the button down and pans with it. */
static void mouse_tick(double now) {
  if (!M.g || !M.mode || now - M.last < 0.033)
    return;
  M.last = now;
  int k = M.n++ % 200, x = 100 + (k < 100 ? k : 200 - k) * 10, y = 200 + (k % 50) * 8;
  if (M.mode == 2 && !M.down) {
    mouse_event(SDL_MOUSEBUTTONDOWN, x, y);
    M.down = 1;
  }
  mouse_event(SDL_MOUSEMOTION, x, y);
}

/* Runs the engine for wall_s seconds of wall time as fast as it can. */
static void run_window(double wall_s, struct window *w) {
  sim_fleet_stats(B.f, &B.st);
  uint64_t r0 = B.st.kind[SIM_SEQ_REPORT].generated;
  sim_time_t v0 = B.d.now;
  double t0 = wall(), c0 = thread_cpu();
  for (double now = t0; now - t0 < wall_s; now = wall()) {
    mouse_tick(now);
    int rc = sim_vdriver_step(&B.d, B.d.now + SIM_MS(100));
    if (rc < 0) {
      fprintf(stderr, "bench_gui: vdriver: %s\n", sim_strerror(rc));
      exit(1);
    }
  }
  sim_fleet_stats(B.f, &B.st);
  w->wall_s = wall() - t0;
  w->loop_cpu_s = thread_cpu() - c0;
  w->virt_s = (double)(B.d.now - v0) / 1e6;
  w->reports = (double)(B.st.kind[SIM_SEQ_REPORT].generated - r0);
}

static int all_online(void *arg) {
  (void)arg;
  sim_fleet_stats(B.f, &B.st);
  return B.st.hubs_by_state[SIM_HUB_OPEN] == B.st.hubs;
}

struct args {
  uint32_t hubs, dph;
  double win, cap;
  const char *shot;
  int interact;
};

/* Returns 0, or 2 after printing the usage. */
static int parse_args(int argc, char **argv, struct args *a) {
  *a = (struct args){.hubs = 10000, .dph = 10, .win = 8, .cap = -1};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--hubs") && i + 1 < argc)
      a->hubs = (uint32_t)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--dph") && i + 1 < argc)
      a->dph = (uint32_t)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--window") && i + 1 < argc)
      a->win = atof(argv[++i]);
    else if (!strcmp(argv[i], "--fps") && i + 1 < argc)
      a->cap = atof(argv[++i]);
    else if (!strcmp(argv[i], "--shot") && i + 1 < argc)
      a->shot = argv[++i];
    else if (!strcmp(argv[i], "--interact"))
      a->interact = 1;
    else {
      fprintf(stderr, "usage: bench_gui [--hubs N] [--dph N] [--window S] [--fps CAP] "
                      "[--shot DIR] [--interact]\n");
      return 2;
    }
  }
  return 0;
}

/* The platform and the fleet on the virtual clock, every hub online. Returns 0, or 1 (said on
 * stderr where the cause is known). */
static int engine_up(const struct args *a) {
  if (dev_catalog_register_all() < 0)
    return 1;
  uv_loop_init(&B.loop);
  sim_transport_mem_new(&B.loop, &B.t);
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = ":memory:",
                           .fleet_key = key,
                           .fleet_key_len = sizeof(key) - 1,
                           .virtual_clock = 1,
                           .seed = 7};
  if (plat_server_new(&B.loop, B.t, &pc, &B.srv) || plat_server_start(B.srv))
    return 1;
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = a->hubs;
  cfg.devices_per_hub = a->dph;
  snprintf(cfg.platform.host, sizeof cfg.platform.host, "platform");
  cfg.platform.port = plat_server_port(B.srv);
  cfg.n_mix = 0;
  for (size_t i = 0; i < sim_model_count() && cfg.n_mix < SIM_FLEET_MAX_MIX; i++) {
    cfg.mix_model[cfg.n_mix] = (uint16_t)i;
    cfg.mix_weight[cfg.n_mix++] = 1;
  }
  cfg.seed = 7;
  cfg.virtual_clock = 1;
  if (sim_fleet_new(&B.loop, B.t, &cfg, &B.f))
    return 1;
  sim_vdriver_init(&B.d, &B.loop, mem_busy, B.t);
  sim_vdriver_add(&B.d, sim_fleet_sched(B.f));
  sim_vdriver_add(&B.d, plat_server_sched(B.srv));
  sim_fleet_start(B.f);
  double t0 = wall();
  if (sim_vdriver_run(&B.d, SIM_SEC(3600), all_online, NULL) != 0 || !all_online(NULL)) {
    fprintf(stderr, "bench_gui: the fleet did not come online\n");
    return 1;
  }
  B.duration_s = 86400;
  printf("fleet: %u hubs x %u devices online after %.1f s wall (%.1f s virtual)\n", a->hubs, a->dph,
         wall() - t0, (double)B.d.now / 1e6);
  return 0;
}

/* One window of the plan: its name, the dashboard's zoom and what the mouse does. */
struct plan {
  const char *name;
  double cell; /* 0: fit; < 0: no dashboard */
  int mouse;   /* M.mode */
};

/* The sums over the windows, without the dashboard (base) and with it (gui). */
struct totals {
  double base_sum, base_rep, gui_sum, gui_rep, fps_min, tick_min;
  double base_cpv, gui_cpv, drawn_max, busy_max;
  int nb, ng;
};

/* Starts the dashboard at the plan's zoom, with its mouse, and lets its first frames and text
 * cache settle for a second. Returns 0, or 1 (said on stderr). */
static int gui_open(struct ui_host *h, double cap, const struct plan *pl, struct ui_gui **g,
                    struct ui_gui_info *in0) {
  struct ui_gui_opts o = {.width = 1600, .height = 1000, .max_fps = cap};
  int rc = ui_gui_start(h, &o, g);
  if (rc) {
    fprintf(stderr, "bench_gui: ui_gui_start: %s\n", sim_strerror(rc));
    return 1;
  }
  ui_gui_zoom(*g, pl->cell, -1);
  M.g = *g;
  M.mode = pl->mouse;
  M.down = 0;
  struct window warm;
  run_window(1, &warm);
  ui_gui_info(*g, in0);
  return 0;
}

/* Reads the dashboard's counters into in, takes the screenshot when asked (waiting, bounded,
 * for the render thread to write it) and stops the dashboard. */
static void gui_close(struct ui_gui *g, const char *shot, const char *name,
                      struct ui_gui_info *in) {
  ui_gui_info(g, in);
  M.g = NULL;
  M.mode = 0;
  if (shot) {
    char p[512];
    snprintf(p, sizeof p, "%s/gui-%s.png", shot, name + 4);
    uint64_t n0 = in->screenshots;
    ui_gui_screenshot(g, p);
    for (int i = 0; i < 200; i++) {
      struct window tiny;
      run_window(0.05, &tiny);
      struct ui_gui_info i2;
      ui_gui_info(g, &i2);
      if (i2.screenshots > n0)
        break;
    }
  }
  ui_gui_stop(g);
  uv_run(&B.loop, UV_RUN_NOWAIT);
}

/* Prints one window's line and adds it to the totals; in0 and in (the dashboard's counters at
 * its start and end) only when the dashboard ran. */
static void window_line(const char *name, const struct window *w, const struct ui_gui_info *in0,
                        const struct ui_gui_info *in, struct totals *t) {
  double vps = w->virt_s / w->wall_s, rps = w->reports / w->wall_s;
  /* The loop's own CPU per virtual second: what the engine pays for the same work, whatever
   * else (another process, the render thread) takes the cores. */
  double cpv = w->virt_s > 0 ? 1000 * w->loop_cpu_s / w->virt_s : 0;
  printf("%-12s virtual %6.1f s/s  reports %8.0f /s  loop cpu %3.0f%%  %.2f cpu-ms/virtual-s", name,
         vps, rps, 100 * w->loop_cpu_s / w->wall_s, cpv);
  if (in) {
    /* Over the window alone (the warm-up second left out). */
    double ticks = (double)(in->ticks - in0->ticks) / w->wall_s;
    double drawn = (double)(in->frames - in0->frames) / w->wall_s;
    double maps = (double)(in->map_draws - in0->map_draws) / w->wall_s;
    double busy = (double)(in->busy_ns - in0->busy_ns) / 1e9 / w->wall_s;
    printf("  | loop %5.1f Hz  drawn %5.1f fps  map %5.1f/s  frame avg %.2f ms max %.1f  "
           "render busy %.1f%%  level %d  snapshot %.2f ms (max %.2f)",
           ticks, drawn, maps,
           in->frames > in0->frames
               ? (double)(in->busy_ns - in0->busy_ns) / 1e6 / (double)(in->frames - in0->frames)
               : 0,
           (double)in->max_frame_ns / 1e6, 100 * busy, in->zoom_level,
           (double)in->last_snapshot_ns / 1e6, (double)in->max_snapshot_ns / 1e6);
    if (drawn < t->fps_min)
      t->fps_min = drawn;
    if (drawn > t->drawn_max)
      t->drawn_max = drawn;
    if (ticks < t->tick_min)
      t->tick_min = ticks;
    if (busy > t->busy_max)
      t->busy_max = busy;
    t->gui_sum += vps;
    t->gui_rep += rps;
    t->gui_cpv += cpv;
    t->ng++;
  } else {
    t->base_sum += vps;
    t->base_rep += rps;
    t->base_cpv += cpv;
    t->nb++;
  }
  printf("\n");
  fflush(stdout);
}

/* The "perf:" lines for docs/performance.md. */
static void summary(const struct args *a, const struct totals *t) {
  double bv = t->base_sum / t->nb, gv = t->gui_sum / t->ng, br = t->base_rep / t->nb,
         gr = t->gui_rep / t->ng;
  double bc = t->base_cpv / t->nb, gc = t->gui_cpv / t->ng;
  time_t now = time(NULL);
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%d", localtime(&now));
  printf("perf: %s  bench/gui/bench_gui --hubs %u --dph %u --window %g --fps %g%s  (%ld cpus)\n",
         date, a->hubs, a->dph, a->win, a->cap, a->interact ? " --interact" : "",
         sysconf(_SC_NPROCESSORS_ONLN));
  printf("perf:   engine without GUI %.1f virtual s/s, %.0f reports/s; with GUI %.1f virtual "
         "s/s, %.0f reports/s: slowdown %.1f%% (reports %.1f%%)\n",
         bv, br, gv, gr, 100 * (1 - gv / bv), 100 * (1 - gr / br));
  printf("perf:   engine CPU per virtual second: without GUI %.2f ms, with GUI %.2f ms: the "
         "engine's own cost %+.1f%%\n",
         bc, gc, 100 * (gc / bc - 1));
  printf("perf:   render thread (software renderer, offscreen, 1600x1000): loop %.1f Hz at "
         "least; frames drawn and presented %.1f - %.1f per second (only when the screen "
         "changed); busy %.1f%% of a core at most\n",
         t->tick_min, t->fps_min, t->drawn_max, 100 * t->busy_max);
}

int main(int argc, char **argv) {
  struct args a;
  int rc = parse_args(argc, argv, &a);
  if (rc)
    return rc;
  setenv("SDL_VIDEODRIVER", "offscreen", 0);
  if ((rc = engine_up(&a)))
    return rc;
  struct window warm;
  run_window(2, &warm);

  struct ui_host h = {.loop = &B.loop, .fleet = B.f, .stats = h_stats, .header = h_header};
  static const struct plan watch[] = {{"none", -1, 0}, {"gui-fit", 0, 0},
                                      {"none", -1, 0}, {"gui-cell40", 40, 0},
                                      {"none", -1, 0}, {"gui-cell200", 200, 0},
                                      {"none", -1, 0}, {"gui-fit", 0, 0},
                                      {"none", -1, 0}},
                           use[] = {{"none", -1, 0}, {"gui-hover40", 40, 1},
                                    {"none", -1, 0}, {"gui-drag40", 40, 2},
                                    {"none", -1, 0}, {"gui-hoverfit", 0, 1},
                                    {"none", -1, 0}};
  const struct plan *plan = a.interact ? use : watch;
  size_t n_plan = a.interact ? sizeof use / sizeof use[0] : sizeof watch / sizeof watch[0];
  struct totals t = {.fps_min = 1e9, .tick_min = 1e9};
  for (size_t k = 0; k < n_plan; k++) {
    struct ui_gui *g = NULL;
    struct ui_gui_info in0, in;
    memset(&in0, 0, sizeof in0);
    memset(&in, 0, sizeof in);
    if (plan[k].cell >= 0 && gui_open(&h, a.cap, &plan[k], &g, &in0))
      return 1;
    struct window w;
    run_window(a.win, &w);
    if (g)
      gui_close(g, a.shot, plan[k].name, &in);
    window_line(plan[k].name, &w, g ? &in0 : NULL, g ? &in : NULL, &t);
  }
  summary(&a, &t);

  sim_fleet_quiesce(B.f);
  return 0; /* the process ends here: the fleet and platform go with it */
}
