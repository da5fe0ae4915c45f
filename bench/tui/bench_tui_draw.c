/* bench_tui_draw: what one frame of the terminal dashboard costs with a large fleet.
 *
 * A fleet (default 10,000 hubs x 1 device) and the reference platform run in this process
 * over the mem transport on the real clock; the dashboard draws into a pseudo-terminal of
 * 200x60 (the size of a large terminal window) whose other side this program reads and throws
 * away, as a terminal would. Once every hub is online, the hub list is moved to its end (the
 * hub list reads only the hubs of its visible rows, whatever their place), then the dashboard
 * draws FRAMES full frames; each is timed by the dashboard itself (ui_tui_info: the snapshot,
 * the layout and the ncurses refresh). Prints the median, p90 and worst frame, and the worst
 * against the budget of 50 ms a frame (a 4 Hz dashboard at 20 % of one core).
 *
 *   bench_tui_draw [--hubs N] [--frames N]
 *
 * Exit status: 0 figures printed (whatever they say), 2 usage, 3 a step failed. */
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <uv.h>

#include "devices/cat_global.h"
#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "ui/tui/tui.h"

#define BUDGET_MS 50.0

static struct {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  int master;
  uv_poll_t mpoll;
} B;

static void die(const char *what, int rc) {
  fprintf(stderr, "bench_tui_draw: %s: %s\n", what, rc ? sim_strerror(rc) : "failed");
  exit(3);
}

static void h_stats(void *arg, struct sim_fleet_stats *out) {
  (void)arg;
  sim_fleet_stats(B.f, out);
}

static void h_header(void *arg, struct ui_header *out) {
  (void)arg;
  out->scenario = "bench";
  out->phase = "steady";
  out->speed = 1;
  out->platform = "embedded reference platform at mem://platform";
  out->elapsed_s = (double)sim_fleet_now(B.f) / 1e6;
}

/* The terminal's side of the pty: read and dropped, so that the dashboard never blocks. */
static void on_master(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  uv_os_fd_t fd;
  if (uv_fileno((const uv_handle_t *)h, &fd))
    return;
  char buf[8192];
  while (read(fd, buf, sizeof buf) > 0)
    ;
}

struct wait {
  uv_timer_t timer;
  uint64_t deadline_ns;
  int met;
};

static void on_wait(uv_timer_t *t) {
  struct wait *w = t->data;
  struct sim_fleet_stats st;
  sim_fleet_stats(B.f, &st);
  w->met = st.hubs_by_state[SIM_HUB_OPEN] == st.hubs && st.queued == 0;
  if (w->met || uv_hrtime() > w->deadline_ns)
    uv_stop(&B.loop);
}

/* Runs the loop until every hub is online, for at most timeout_s. */
static int wait_online(double timeout_s) {
  struct wait w = {.deadline_ns = uv_hrtime() + (uint64_t)(timeout_s * 1e9)};
  uv_timer_init(&B.loop, &w.timer);
  w.timer.data = &w;
  uv_timer_start(&w.timer, on_wait, 10, 10);
  uv_run(&B.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&w.timer, NULL);
  uv_run(&B.loop, UV_RUN_NOWAIT);
  return w.met;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  uint32_t hubs = 10000;
  int frames = 200;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--hubs") == 0 && i + 1 < argc) {
      hubs = (uint32_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc) {
      frames = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: bench_tui_draw [--hubs N] [--frames N]\n");
      return 2;
    }
  }
  if (hubs < 1 || hubs > 1000000 || frames < 1 || frames > 100000) {
    fprintf(stderr, "bench_tui_draw: --hubs 1..1000000, --frames 1..100000\n");
    return 2;
  }
  int rc;
  if ((rc = dev_catalog_register_all()) < 0)
    die("the catalogue", rc);
  if ((rc = uv_loop_init(&B.loop)) || (rc = sim_transport_mem_new(&B.loop, &B.t)))
    die("the loop", rc);
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = ":memory:",
                           .fleet_key = key,
                           .fleet_key_len = sizeof(key) - 1};
  if ((rc = plat_server_new(&B.loop, B.t, &pc, &B.srv)) || (rc = plat_server_start(B.srv)))
    die("the platform", rc);
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = hubs;
  cfg.devices_per_hub = 1;
  snprintf(cfg.platform.host, sizeof cfg.platform.host, "platform");
  cfg.platform.port = plat_server_port(B.srv);
  cfg.n_mix = 1;
  cfg.mix_model[0] = (uint16_t)sim_model_find("lumi.plug.maeu01");
  cfg.mix_weight[0] = 1;
  cfg.seed = 11;
  if ((rc = sim_fleet_new(&B.loop, B.t, &cfg, &B.f)) || (rc = sim_fleet_start(B.f)))
    die("the fleet", rc);
  if (!wait_online(120))
    die("not every hub came online within 120 s", 0);

  int slave;
  struct winsize ws = {.ws_row = 60, .ws_col = 200};
  if (openpty(&B.master, &slave, NULL, NULL, &ws))
    die("openpty", 0);
  fcntl(B.master, F_SETFL, fcntl(B.master, F_GETFL) | O_NONBLOCK);
  FILE *in = fdopen(slave, "r"), *out = fdopen(dup(slave), "w");
  if (!in || !out)
    die("fdopen", 0);
  uv_poll_init(&B.loop, &B.mpoll, B.master);
  uv_poll_start(&B.mpoll, UV_READABLE, on_master);
  struct ui_host h = {.loop = &B.loop, .fleet = B.f, .stats = h_stats, .header = h_header};
  struct ui_tui_opts o = {.refresh_hz = 4, .in = in, .out = out, .term = "xterm-256color"};
  struct ui_tui *tui = NULL;
  if ((rc = ui_tui_start(&h, &o, &tui)))
    die("the dashboard", rc);
  /* To the last hub: G, as typed on the keyboard. */
  if (write(B.master, "G", 1) != 1)
    die("the keyboard", 0);
  static char screen[64 * 1024];
  char want[32];
  snprintf(want, sizeof want, "Hubs %u/%u", hubs, hubs);
  for (int i = 0; i < 500 && !strstr(screen, want); i++) {
    uv_run(&B.loop, UV_RUN_NOWAIT);
    usleep(1000);
    ui_tui_draw(tui);
    ui_tui_dump(tui, screen, sizeof screen);
  }
  if (!strstr(screen, want))
    die("the hub list did not move to its end", 0);
  uint64_t *ns = calloc((size_t)frames, sizeof *ns);
  if (!ns)
    die("memory", SIM_ENOMEM);
  for (int i = 0; i < frames; i++) {
    ui_tui_draw(tui);
    struct ui_tui_info info;
    ui_tui_info(tui, &info);
    ns[i] = info.last_draw_ns;
    uv_run(&B.loop, UV_RUN_NOWAIT); /* the terminal reads what was drawn */
  }
  qsort(ns, (size_t)frames, sizeof *ns, cmp_u64);
  double p50 = (double)ns[frames / 2] / 1e6, p90 = (double)ns[frames * 9 / 10] / 1e6,
         worst = (double)ns[frames - 1] / 1e6;
  printf("bench_tui_draw: %u hubs online, 200x60, hub list at its end, %d frames: median %.3f ms, "
         "p90 %.3f ms, worst %.3f ms\n",
         hubs, frames, p50, p90, worst);
  printf("bench_tui_draw: worst frame %.3f ms against the budget of %.0f ms: %s\n", worst,
         BUDGET_MS, worst < BUDGET_MS ? "within" : "OVER");
  free(ns);
  ui_tui_stop(tui);
  uv_close((uv_handle_t *)&B.mpoll, NULL);
  uv_run(&B.loop, UV_RUN_NOWAIT);
  fclose(in);
  fclose(out);
  close(B.master);
  return 0; /* the fleet and the platform end with the process */
}
