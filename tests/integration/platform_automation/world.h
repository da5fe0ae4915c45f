/* A small world for the automation tests: the reference platform and a fleet in one loop over
 * the mem transport, on the virtual clock (driven by sim_vdriver) or the real one, with
 * observers that record the occupancy reports and on/off commands the devices see.
 * Header-only: each test executable includes it once. */
#ifndef TESTS_PLATFORM_AUTOMATION_WORLD_H
#define TESTS_PLATFORM_AUTOMATION_WORLD_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <uv.h>

#include "devices/cat_global.h"
#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "sim/loop/vdriver.h"

#define W_MAX_SEEN 64

struct world {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  struct sim_vdriver d;
  int is_virtual;
  struct sim_fleet_stats st; /* large: the world is static storage */
  struct plat_counters pc;
  /* The devices the tests use: a motion sensor and a plug (hub index, slot, eui64). */
  uint32_t m_hub, m_slot, p_hub, p_slot;
  uint64_t m_eui, p_eui;
  char m_hub_id[32], p_hub_id[32];
  /* What the observers saw: occupancy reports of the sensor, on/off commands at the plug. */
  uint64_t motion_reports, plug_cmds;
  sim_time_t motion_at[W_MAX_SEEN], plug_at[W_MAX_SEEN];
  uint8_t plug_cmd[W_MAX_SEEN];
};

static void w_report_obs(void *arg, uint32_t hub, uint32_t slot, uint8_t endpoint, uint16_t cluster,
                         const uint8_t *zcl, size_t len, sim_time_t intended) {
  struct world *w = arg;
  (void)endpoint, (void)zcl, (void)len;
  if (hub == w->m_hub && slot == w->m_slot && cluster == 0x0406) {
    if (w->motion_reports < W_MAX_SEEN)
      w->motion_at[w->motion_reports] = intended;
    w->motion_reports++;
  }
}

static void w_command_obs(void *arg, uint32_t hub, uint32_t slot, const struct sim_dev_cmd *cmd,
                          sim_time_t now) {
  struct world *w = arg;
  if (hub == w->p_hub && slot == w->p_slot && cmd->cluster == 0x0006) {
    if (w->plug_cmds < W_MAX_SEEN) {
      w->plug_at[w->plug_cmds] = now;
      w->plug_cmd[w->plug_cmds] = cmd->command;
    }
    w->plug_cmds++;
  }
}

static int w_mem_busy(void *arg) {
  return sim_transport_mem_busy(arg);
}

static void w_refresh(struct world *w) {
  sim_fleet_stats(w->f, &w->st);
  plat_server_counters(w->srv, &w->pc);
}

/* Finds the first device of model_id, preferring hub `prefer`. 0 or -1. */
static int w_find(struct world *w, const char *model_id, uint32_t prefer, uint32_t *hub,
                  uint32_t *slot) {
  uint32_t nh = sim_fleet_hub_count(w->f), nd = sim_fleet_devices_per_hub(w->f);
  for (uint32_t k = 0; k < nh; k++) {
    uint32_t h = (prefer + k) % nh;
    for (uint32_t s = 0; s < nd; s++) {
      struct sim_device_info di;
      if (sim_fleet_device_info(w->f, h, s, &di) == 0 && di.model &&
          strcmp(di.model->model_id, model_id) == 0) {
        *hub = h;
        *slot = s;
        return 0;
      }
    }
  }
  return -1;
}

/* Creates the platform (not started) on a fresh loop. */
static void w_platform(struct world *w, int is_virtual, uint64_t seed) {
  memset(w, 0, sizeof(*w));
  w->is_virtual = is_virtual;
  assert_int_equal(uv_loop_init(&w->loop), 0);
  assert_int_equal(sim_transport_mem_new(&w->loop, &w->t), 0);
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = ":memory:",
                           .fleet_key = key,
                           .fleet_key_len = sizeof(key) - 1,
                           .virtual_clock = is_virtual,
                           .seed = seed};
  assert_int_equal(plat_server_new(&w->loop, w->t, &pc, &w->srv), 0);
}

/* Starts the platform and a fleet of hubs x devices of the given models (equal weights). */
static void w_start(struct world *w, uint32_t hubs, uint32_t devices, const char **models,
                    size_t n_models, uint64_t seed) {
  assert_int_equal(plat_server_start(w->srv), 0);
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = hubs;
  cfg.devices_per_hub = devices;
  snprintf(cfg.platform.host, sizeof(cfg.platform.host), "platform");
  cfg.platform.port = plat_server_port(w->srv);
  cfg.n_mix = n_models;
  for (size_t i = 0; i < n_models; i++) {
    int m = sim_model_find(models[i]);
    assert_true(m >= 0);
    cfg.mix_model[i] = (uint16_t)m;
    cfg.mix_weight[i] = 1;
  }
  cfg.seed = seed;
  cfg.virtual_clock = w->is_virtual;
  assert_int_equal(sim_fleet_new(&w->loop, w->t, &cfg, &w->f), 0);
  sim_fleet_observe(w->f, w_report_obs, w_command_obs, w);
  if (w->is_virtual) {
    sim_vdriver_init(&w->d, &w->loop, w_mem_busy, w->t);
    assert_int_equal(sim_vdriver_add(&w->d, sim_fleet_sched(w->f)), 0);
    assert_int_equal(sim_vdriver_add(&w->d, plat_server_sched(w->srv)), 0);
  }
  assert_int_equal(sim_fleet_start(w->f), 0);
}

typedef int (*w_pred)(struct world *w);

static struct world *w_cur;
static w_pred w_cur_pred;
static uint64_t w_deadline;

static int w_vstop(void *arg) {
  struct world *w = arg;
  w_refresh(w);
  return w_cur_pred(w);
}

static void w_tick(uv_timer_t *t) {
  struct world *w = t->data;
  w_refresh(w);
  if (w_cur_pred(w) || uv_hrtime() > w_deadline)
    uv_stop(&w->loop);
}

/* Runs until p holds, at most `secs` (virtual seconds on a virtual clock, real ones on a real
 * one). Returns p's final value. */
static int w_wait(struct world *w, w_pred p, double secs) {
  w_cur = w;
  w_cur_pred = p;
  if (w->is_virtual) {
    w_refresh(w);
    if (p(w))
      return 1;
    sim_time_t until = w->d.now + (sim_time_t)(secs * 1e6);
    assert_int_equal(sim_vdriver_run(&w->d, until, w_vstop, w), 0);
  } else {
    uv_timer_t tick;
    w_deadline = uv_hrtime() + (uint64_t)(secs * 1e9);
    uv_timer_init(&w->loop, &tick);
    tick.data = w;
    uv_timer_start(&tick, w_tick, 2, 2);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&w->loop, UV_RUN_NOWAIT);
  }
  w_refresh(w);
  return p(w);
}

/* Runs the virtual clock to engine time `until` (nothing stops it earlier). */
static void w_run_to(struct world *w, sim_time_t until) {
  assert_true(w->is_virtual);
  assert_int_equal(sim_vdriver_run(&w->d, until, NULL, NULL), 0);
  w_refresh(w);
}

static int w_drained(struct world *w) {
  return w->st.hubs_by_state[SIM_HUB_OPEN] == w->st.hubs && w->st.in_flight == 0 &&
         w->st.queued == 0;
}

static void w_stopped_fleet(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}
static void w_stopped_plat(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

static void w_finish(struct world *w) {
  int fs = 0, ps = 0;
  sim_fleet_stop(w->f, w_stopped_fleet, &fs);
  assert_int_equal(plat_server_stop(w->srv, w_stopped_plat, &ps), 0);
  for (int i = 0; i < 1000 && !(fs && ps); i++) {
    if (w->is_virtual)
      assert_true(sim_vdriver_step(&w->d, w->d.now + SIM_MS(100)) >= 0);
    else
      uv_run(&w->loop, UV_RUN_ONCE);
  }
  assert_true(fs && ps);
  if (w->is_virtual) {
    sim_vdriver_remove(&w->d, sim_fleet_sched(w->f));
    sim_vdriver_remove(&w->d, plat_server_sched(w->srv));
  }
  sim_fleet_free(w->f);
  plat_server_free(w->srv);
  uv_run(&w->loop, UV_RUN_NOWAIT);
  sim_transport_free(w->t);
  uv_run(&w->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&w->loop), 0);
}

static int w_setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

#endif
