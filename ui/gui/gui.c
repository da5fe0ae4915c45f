/* The graphical dashboard's life cycle and its side on the engine's loop: the snapshot timer,
 * the action queue applied through the host, and the hooks for tests. The render thread (SDL,
 * drawing, input, screenshots) starts in gui_render.c.
 *
 * Cost on the loop (what the engine pays): one stats copy, the hub states, at most
 * GUI_DEV_BUDGET device records, one detail, and two memcpy's of the snapshot (into the shared
 * copy under the mutex). The render thread holds the mutex only to copy the shared snapshot, so
 * the loop never waits for a frame. */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <SDL.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"
#include "devices/generic.h"
#include "sim/core/err.h"
#include "ui/common/ui_offer.h"
#include "ui/gui/gui_internal.h"

static atomic_int gui_running;

uint64_t gui__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t snap_devs(const struct gui_snap *s) {
  return (size_t)s->n_hubs * s->dph;
}

/* Copies everything but the array pointers, then the arrays, then re-points the header's
 * strings at dst's own arrays. Both were allocated for the same fleet shape. */
void gui__snap_copy(struct gui_snap *dst, const struct gui_snap *src) {
  uint8_t *hs = dst->hub_state;
  struct gui_dev *dv = dst->dev;
  memcpy(dst, src, sizeof *dst);
  dst->hub_state = hs;
  dst->dev = dv;
  if (src->n_hubs) {
    memcpy(dst->hub_state, src->hub_state, src->n_hubs);
    memcpy(dst->dev, src->dev, snap_devs(src) * sizeof *dst->dev);
  }
  dst->hd.scenario = dst->scenario;
  dst->hd.phase = dst->phase;
  dst->hd.platform = dst->platform;
}

static struct gui_snap *snap_new(uint32_t hubs, uint32_t dph) {
  struct gui_snap *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->n_hubs = hubs;
  s->dph = dph;
  s->hub_state = calloc(hubs ? hubs : 1, 1);
  s->dev = calloc(hubs && dph ? (size_t)hubs * dph : 1, sizeof *s->dev);
  if (!s->hub_state || !s->dev) {
    free(s->hub_state);
    free(s->dev);
    free(s);
    return NULL;
  }
  s->det.hub = s->det.slot = -1;
  return s;
}

static void snap_free(struct gui_snap *s) {
  if (!s)
    return;
  free(s->hub_state);
  free(s->dev);
  free(s);
}

/* ---- actions (loop thread) ------------------------------------------------------------------ */

static void gui_msg(struct ui_gui *g, int bad, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void gui_msg(struct ui_gui *g, int bad, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g->ls->msg, sizeof g->ls->msg, fmt, ap);
  va_end(ap);
  g->ls->msg_bad = bad;
  g->ls->msg_seq++;
}

static const char *hub_name(const struct ui_gui *g, uint32_t hub) {
  return g->hub_ids && hub < g->ls->n_hubs ? g->hub_ids[hub] : "?";
}

static void add_flash(struct ui_gui *g, uint32_t hub, uint32_t slot) {
  struct gui_snap *s = g->ls;
  if (s->n_flash == GUI_MAX_FLASH) {
    memmove(s->flash, s->flash + 1, (GUI_MAX_FLASH - 1) * sizeof s->flash[0]);
    s->n_flash--;
  }
  s->flash[s->n_flash].hub = hub;
  s->flash[s->n_flash].slot = slot;
  s->flash[s->n_flash].id = ++s->flash_id;
  s->n_flash++;
}

/* Applies one user action through the host and leaves its result in the snapshot's message.
 * A NULL host member is refused here too: the render thread greys its button out, but a key
 * or an injected click may still ask. */
static void apply(struct ui_gui *g, const struct gui_action *a) {
  const struct ui_host *h = &g->h;
  int rc;
  g->info.actions++;
  switch (a->kind) {
  case GUI_ACT_PAUSE: {
    if (!h->pause) {
      gui_msg(g, 1, "pausing is not available in this run");
      return;
    }
    int on = !g->ls->hd.paused;
    rc = h->pause(h->arg, on);
    if (rc)
      gui_msg(g, 1, "%s: %s", on ? "pause" : "resume", sim_strerror(rc));
    else
      gui_msg(g, 0, on ? "paused: device time stopped" : "resumed");
    g->ls->hd.paused = rc ? g->ls->hd.paused : on;
    return;
  }
  case GUI_ACT_STEP:
    if (!h->step || !g->ls->hd.virtual_clock) {
      gui_msg(g, 1, "stepping needs the virtual clock (--clock virtual)");
      return;
    }
    rc = h->step(h->arg);
    if (rc)
      gui_msg(g, 1, "step: %s", sim_strerror(rc));
    else
      gui_msg(g, 0, "stepped one second");
    return;
  case GUI_ACT_SPEED:
    if (!h->set_speed || !g->ls->hd.virtual_clock) {
      gui_msg(g, 1, "speed changes need the virtual clock (--clock virtual)");
      return;
    }
    rc = h->set_speed(h->arg, a->d);
    if (rc)
      gui_msg(g, 1, "speed: %s", sim_strerror(rc));
    else if (a->d == 0)
      gui_msg(g, 0, "speed: as fast as it can");
    else
      gui_msg(g, 0, "speed: x%g", a->d);
    return;
  case GUI_ACT_TRIGGER:
    if (!h->trigger) {
      gui_msg(g, 1, "triggering events is not available in this run");
      return;
    }
    rc = h->trigger(h->arg, a->hub, a->slot, a->name);
    if (rc)
      gui_msg(g, 1, "trigger '%s': %s", a->name, sim_strerror(rc));
    else
      gui_msg(g, 0, "triggered '%s' on %s slot %u", a->name, hub_name(g, a->hub), a->slot);
    return;
  case GUI_ACT_COMMAND:
    if (!h->command) {
      gui_msg(g, 1, "sending commands is not available in this run");
      return;
    }
    rc = h->command(h->arg, a->hub, a->slot, a->ep, a->cluster, a->command, NULL, 0);
    if (rc) {
      gui_msg(g, 1, "command: %s", sim_strerror(rc));
    } else {
      gui_msg(g, 0, "sent %s (0x%04x/0x%02x) to %s slot %u", a->name, a->cluster, a->command,
              hub_name(g, a->hub), a->slot);
      add_flash(g, a->hub, a->slot);
    }
    return;
  case GUI_ACT_FAULT:
    if (!h->fault) {
      gui_msg(g, 1, "injecting faults is not available in this run");
      return;
    }
    rc = h->fault(h->arg, a->hub, a->name);
    if (rc)
      gui_msg(g, 1, "fault '%s': %s", a->name, sim_strerror(rc));
    else
      gui_msg(g, 0, "fault '%s' injected on %s", a->name, hub_name(g, a->hub));
    return;
  case GUI_ACT_QUIT:
    if (!h->quit) {
      gui_msg(g, 1, "quitting is not available in this run");
      return;
    }
    if (g->ls->quit_sent)
      return;
    g->ls->quit_sent = 1;
    gui_msg(g, 0, "quitting: draining, then the summary");
    h->quit(h->arg);
    return;
  default:
    return;
  }
}

/* ---- the snapshot (loop thread) -------------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

/* Per wall second: rates and the ack latency quantiles of that second alone (the difference of
 * two cumulative histograms). */
static void update_series(struct ui_gui *g) {
  struct gui_snap *s = g->ls;
  uint64_t now = uv_now(g->h.loop);
  uint64_t cnt[2] = {s->st.kind[SIM_SEQ_REPORT].sent, s->st.commands_received};
  if (!g->have_prev) {
    g->have_prev = 1;
    g->prev_ms = now;
    memcpy(g->prev_cnt, cnt, sizeof cnt);
    *g->prev_ack = s->st.ack_latency;
    return;
  }
  if (now - g->prev_ms < 1000)
    return;
  double dt = (double)(now - g->prev_ms) / 1000.0;
  float v[GUI_SER_N];
  for (int i = 0; i < 2; i++)
    v[i] = cnt[i] >= g->prev_cnt[i] ? (float)((double)(cnt[i] - g->prev_cnt[i]) / dt) : 0;
  /* The second's own histogram, in place in prev_ack: cur - prev. */
  struct sim_hist *d = g->prev_ack;
  const struct sim_hist *cur = &s->st.ack_latency;
  int any = cur->count > d->count;
  for (size_t b = 0; b < SIM_HIST_BUCKETS; b++)
    d->buckets[b] = cur->buckets[b] >= d->buckets[b] ? cur->buckets[b] - d->buckets[b] : 0;
  d->count = any ? cur->count - d->count : 0;
  d->max = cur->max;
  d->min = 0;
  static const double qs[3] = {0.5, 0.9, 0.99};
  for (int i = 0; i < 3; i++)
    v[GUI_SER_P50 + i] = any ? (float)((double)sim_hist_quantile(d, qs[i]) / 1000.0) : NAN;
  v[GUI_SER_ONLINE] = (float)s->st.hubs_by_state[SIM_HUB_OPEN];
  for (int i = 0; i < GUI_SER_N; i++) {
    s->ring[i][s->ring_head] = v[i];
    s->rate[i] = v[i];
  }
  s->ring_head = (s->ring_head + 1) % GUI_RING;
  if (s->ring_n < GUI_RING)
    s->ring_n++;
  *g->prev_ack = *cur;
  memcpy(g->prev_cnt, cnt, sizeof cnt);
  g->prev_ms = now;
}

static void read_dev(struct ui_gui *g, uint32_t hub, uint32_t slot) {
  struct sim_device_info di;
  struct gui_dev *e = &g->ls->dev[(size_t)hub * g->ls->dph + slot];
  if (sim_fleet_device_info(g->h.fleet, hub, slot, &di) != 0 || !di.model) {
    memset(e, 0, sizeof *e);
    return;
  }
  e->activity = di.activity;
  e->flags = (uint8_t)(GUI_DEV_PRESENT | (di.joined ? GUI_DEV_JOINED : 0));
  e->model = di.dev ? (uint8_t)di.dev->model : 0;
  e->lqi = di.lqi;
}

static void read_hub_devs(struct ui_gui *g, uint32_t hub, uint64_t *budget) {
  for (uint32_t s = 0; s<g->ls->dph && * budget> 0; s++, (*budget)--)
    read_dev(g, hub, s);
}

/* The device records: all of them when they fit the budget; else the hubs in view and the
 * selected one first, then the rest in rotation, so that every device is seen every
 * devices / budget ticks. */
static void read_devices(struct ui_gui *g, uint32_t v0, uint32_t v1, int64_t sel) {
  struct gui_snap *s = g->ls;
  uint64_t n = snap_devs(s);
  if (n == 0)
    return;
  if (n <= GUI_DEV_BUDGET) {
    for (uint32_t h = 0; h < s->n_hubs; h++)
      for (uint32_t k = 0; k < s->dph; k++)
        read_dev(g, h, k);
    return;
  }
  uint64_t budget = GUI_DEV_BUDGET;
  if (sel >= 0 && (uint64_t)sel < s->n_hubs)
    read_hub_devs(g, (uint32_t)sel, &budget);
  uint64_t view_budget = GUI_DEV_BUDGET / 2;
  for (uint32_t h = v0; h < v1 && h < s->n_hubs && view_budget >= s->dph; h++) {
    view_budget -= s->dph;
    read_hub_devs(g, h, &budget);
  }
  while (budget > 0) {
    uint64_t i = g->dev_cursor++ % n;
    read_dev(g, (uint32_t)(i / s->dph), (uint32_t)(i % s->dph));
    budget--;
  }
  g->dev_cursor %= n;
}

/* The selection's detail: identity, the catalogue's triggers, the commands offered (the TUI's
 * too: ui_offer_commands) and
 * the current value of every channel (dev_generic_value reads the device's state: this is why
 * it is done here, on the loop, for one device only). */
static void read_detail(struct ui_gui *g, int64_t hub, int64_t slot) {
  struct gui_detail *d = &g->ls->det;
  memset(d, 0, sizeof *d);
  d->hub = hub;
  d->slot = slot;
  struct sim_fleet *f = g->h.fleet;
  if (!f || hub < 0 || (uint64_t)hub >= g->ls->n_hubs) {
    d->hub = d->slot = -1;
    return;
  }
  d->hub_state = (int)sim_fleet_hub_state(f, (uint32_t)hub);
  d->slots = g->ls->dph;
  for (uint32_t k = 0; k < g->ls->dph; k++) {
    const struct gui_dev *e = &g->ls->dev[(size_t)hub * g->ls->dph + k];
    d->joined += (e->flags & GUI_DEV_JOINED) != 0;
  }
  if (slot < 0 || (uint64_t)slot >= g->ls->dph) {
    d->slot = -1;
    return;
  }
  struct sim_device_info di;
  if (sim_fleet_device_info(f, (uint32_t)hub, (uint32_t)slot, &di) != 0 || !di.model)
    return;
  const struct sim_model *m = di.model;
  d->has_dev = 1;
  copy_str(d->model_id, sizeof d->model_id, m->model_id);
  copy_str(d->vendor_model, sizeof d->vendor_model, m->vendor_model);
  copy_str(d->manufacturer, sizeof d->manufacturer, m->manufacturer);
  d->eui64 = di.eui64;
  d->joined_dev = di.joined;
  d->lqi = di.lqi;
  d->battery = m->power_source == SIM_POWER_BATTERY;
  d->sleepy = m->sleepy;
  d->router = m->logical_type == SIM_LOGICAL_ROUTER;
  struct ui_command cmd[GUI_MAX_CMD];
  d->n_cmd = ui_offer_commands(m, cmd, GUI_MAX_CMD);
  for (int i = 0; i < d->n_cmd; i++) {
    struct gui_cmd *c = &d->cmd[i];
    copy_str(c->label, sizeof c->label, cmd[i].label);
    c->ep = cmd[i].ep;
    c->cluster = cmd[i].cluster;
    c->command = cmd[i].command;
  }
  const struct dev_cat *cat = dev_cat_global();
  const struct dev_cat_model *cm = cat ? dev_cat_find(cat, m->model_id) : NULL;
  if (!cm)
    return;
  copy_str(d->vendor, sizeof d->vendor, cm->vendor);
  copy_str(d->category, sizeof d->category, cm->category);
  for (int i = 0; i < cm->n_trig && d->n_trig < GUI_MAX_TRIG; i++)
    copy_str(d->trig[d->n_trig++], sizeof d->trig[0], cm->trig[i].name);
  if (!di.dev)
    return;
  /* value_at() reads the time (due) and the address only: a private env changes nothing. */
  struct sim_dev_env env;
  memset(&env, 0, sizeof env);
  env.now = env.due = sim_fleet_now(f);
  env.eui64 = di.eui64;
  for (int c = 0; c < cm->n_ch && d->n_ch < GUI_MAX_CH; c++) {
    copy_str(d->ch[d->n_ch].name, sizeof d->ch[0].name, cm->ch[c].name);
    d->ch[d->n_ch].v = dev_generic_value(cm, di.dev, &env, c);
    for (int a = 0; a < cm->n_attr; a++)
      if (cm->attr[a].v.ch == c && cm->attr[a].unit[0]) {
        copy_str(d->ch[d->n_ch].unit, sizeof d->ch[0].unit, cm->attr[a].unit);
        break;
      }
    d->n_ch++;
  }
}

static void take_snapshot(struct ui_gui *g, uint32_t v0, uint32_t v1, int64_t sel_hub,
                          int64_t sel_slot) {
  struct gui_snap *s = g->ls;
  const struct ui_host *h = &g->h;
  if (h->stats)
    h->stats(h->arg, &s->st);
  int paused = s->hd.paused;
  memset(&s->hd, 0, sizeof s->hd);
  if (h->header)
    h->header(h->arg, &s->hd);
  else
    s->hd.paused = paused;
  copy_str(s->scenario, sizeof s->scenario, s->hd.scenario);
  copy_str(s->phase, sizeof s->phase, s->hd.phase);
  copy_str(s->platform, sizeof s->platform, s->hd.platform);
  s->hd.scenario = s->scenario;
  s->hd.phase = s->phase;
  s->hd.platform = s->platform;
  struct ui_expectation ex[GUI_MAX_EXP];
  size_t ne = h->expectations ? h->expectations(h->arg, ex, GUI_MAX_EXP) : 0;
  if (ne > GUI_MAX_EXP)
    ne = GUI_MAX_EXP;
  s->n_exp = (int)ne;
  for (size_t i = 0; i < ne; i++) {
    copy_str(s->exp[i].title, sizeof s->exp[i].title, ex[i].title);
    copy_str(s->exp[i].unit, sizeof s->exp[i].unit, ex[i].unit);
    s->exp[i].value = ex[i].value;
    s->exp[i].verdict = ex[i].verdict;
    s->exp[i].after_s = ex[i].after_s;
  }
  const char *const *lines = NULL;
  size_t nl = h->log ? h->log(h->arg, &lines) : 0;
  size_t from = nl > GUI_LOG ? nl - GUI_LOG : 0;
  s->n_log = 0;
  for (size_t i = from; i < nl && lines; i++)
    copy_str(s->log[s->n_log++], sizeof s->log[0], lines[i]);
  s->controls = (h->pause ? GUI_HAVE_PAUSE : 0) | (h->step ? GUI_HAVE_STEP : 0) |
                (h->set_speed ? GUI_HAVE_SPEED : 0) | (h->trigger ? GUI_HAVE_TRIGGER : 0) |
                (h->command ? GUI_HAVE_COMMAND : 0) | (h->fault ? GUI_HAVE_FAULT : 0) |
                (h->quit ? GUI_HAVE_QUIT : 0);
  update_series(g);
  if (h->fleet) {
    for (uint32_t i = 0; i < s->n_hubs; i++)
      s->hub_state[i] = (uint8_t)sim_fleet_hub_state(h->fleet, i);
    read_devices(g, v0, v1, sel_hub);
  }
  read_detail(g, sel_hub, sel_slot);
  s->seq++;
}

static void gui_timer_cb(uv_timer_t *t) {
  struct ui_gui *g = t->data;
  if (g->stopping)
    return;
  uint64_t t0 = gui__now_ns();
  struct gui_action acts[GUI_MAX_ACTIONS];
  pthread_mutex_lock(&g->mu);
  int na = g->n_actions;
  memcpy(acts, g->actions, (size_t)na * sizeof acts[0]);
  g->n_actions = 0;
  uint32_t v0 = g->view_h0, v1 = g->view_h1;
  int64_t sh = g->req_hub, ss = g->req_slot;
  pthread_mutex_unlock(&g->mu);

  for (int i = 0; i < na && !g->stopping; i++)
    apply(g, &acts[i]);
  if (g->stopping)
    return; /* a host call (quit) stopped the dashboard */
  take_snapshot(g, v0, v1, sh, ss);

  pthread_mutex_lock(&g->mu);
  gui__snap_copy(g->ss, g->ls);
  g->info.snapshots++;
  uint64_t dt = gui__now_ns() - t0;
  g->info.last_snapshot_ns = dt;
  if (dt > g->info.max_snapshot_ns)
    g->info.max_snapshot_ns = dt;
  pthread_mutex_unlock(&g->mu);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static void gui_free(struct ui_gui *g) {
  if (g->thread_started)
    pthread_join(g->thread, NULL);
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
  snap_free(g->ls);
  snap_free(g->ss);
  free(g->prev_ack);
  free(g->inject);
  free(g->hub_ids);
  free(g->model_ids);
  free(g);
  atomic_store(&gui_running, 0);
}

static void gui_closed_cb(uv_handle_t *h) {
  gui_free(h->data);
}

/* Ends the render thread (it closes the window and quits SDL itself). */
static void gui_join(struct ui_gui *g) {
  if (!g->thread_started)
    return;
  pthread_mutex_lock(&g->mu);
  g->stop_flag = 1;
  pthread_mutex_unlock(&g->mu);
  pthread_join(g->thread, NULL);
  g->thread_started = 0;
}

int ui_gui_start(const struct ui_host *h, const struct ui_gui_opts *o, struct ui_gui **out) {
  static const struct ui_gui_opts defaults = {0};
  if (!o)
    o = &defaults;
  if (!h || !h->loop || !out)
    return SIM_EINVAL;
  int expected = 0;
  if (!atomic_compare_exchange_strong(&gui_running, &expected, 1))
    return SIM_EEXISTS;
  struct ui_gui *g = calloc(1, sizeof *g);
  if (!g) {
    atomic_store(&gui_running, 0);
    return SIM_ENOMEM;
  }
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->h = *h;
  g->o = *o;
  copy_str(g->font_path, sizeof g->font_path,
           o->font_path ? o->font_path : "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
  copy_str(g->title, sizeof g->title, o->title ? o->title : "hubsim");
  g->o.font_path = g->font_path;
  g->o.title = g->title;
  if (o->screenshot_path) {
    copy_str(g->opt_shot, sizeof g->opt_shot, o->screenshot_path);
    g->o.screenshot_path = g->opt_shot;
  }
  g->req_hub = g->req_slot = -1;
  g->zoom_req_hub = -1;
  uint32_t hubs = h->fleet ? sim_fleet_hub_count(h->fleet) : 0;
  uint32_t dph = h->fleet ? sim_fleet_devices_per_hub(h->fleet) : 0;
  int rc = SIM_ENOMEM;
  g->ls = snap_new(hubs, dph);
  g->ss = snap_new(hubs, dph);
  g->prev_ack = calloc(1, sizeof *g->prev_ack);
  g->inject = calloc(GUI_MAX_INJECT, sizeof(SDL_Event));
  g->hub_ids = calloc(hubs ? hubs : 1, sizeof g->hub_ids[0]);
  g->n_models = (uint32_t)sim_model_count();
  g->model_ids = calloc(g->n_models ? g->n_models : 1, sizeof g->model_ids[0]);
  if (!g->ls || !g->ss || !g->prev_ack || !g->inject || !g->hub_ids || !g->model_ids)
    goto fail;
  for (uint32_t i = 0; i < hubs; i++)
    sim_fleet_hub_id(h->fleet, i, g->hub_ids[i], sizeof g->hub_ids[0]);
  for (uint32_t i = 0; i < g->n_models; i++) {
    const struct sim_model *m = sim_model_get((uint16_t)i);
    copy_str(g->model_ids[i], sizeof g->model_ids[0], m ? m->model_id : "?");
  }
  /* The first snapshot before the first frame: the window never shows an empty fleet that is
   * not empty. */
  take_snapshot(g, 0, 0, -1, -1);
  gui__snap_copy(g->ss, g->ls);

  if (pthread_create(&g->thread, NULL, gui__render_main, g) != 0) {
    rc = SIM_EIO;
    goto fail;
  }
  g->thread_started = 1;
  pthread_mutex_lock(&g->mu);
  while (!g->init_done)
    pthread_cond_wait(&g->cv, &g->mu);
  rc = g->init_rc;
  pthread_mutex_unlock(&g->mu);
  if (rc)
    goto fail;

  if ((rc = uv_timer_init(h->loop, &g->timer)) != 0)
    goto fail;
  g->timer.data = g;
  g->timer_open = 1;
  double hz = o->snapshot_hz > 0 ? o->snapshot_hz : 10;
  if (hz < 1)
    hz = 1;
  if (hz > 60)
    hz = 60;
  uint64_t ms = (uint64_t)(1000.0 / hz + 0.5);
  if ((rc = uv_timer_start(&g->timer, gui_timer_cb, ms, ms)) != 0)
    goto fail;
  uv_unref((uv_handle_t *)&g->timer);
  *out = g;
  return 0;

fail:
  g->stopping = 1;
  gui_join(g);
  if (g->timer_open) {
    uv_close((uv_handle_t *)&g->timer, gui_closed_cb);
    return rc;
  }
  gui_free(g);
  return rc;
}

void ui_gui_stop(struct ui_gui *g) {
  if (!g || g->stopping)
    return;
  g->stopping = 1;
  uv_timer_stop(&g->timer);
  gui_join(g);
  uv_close((uv_handle_t *)&g->timer, gui_closed_cb);
}

int ui_gui_screenshot(struct ui_gui *g, const char *path) {
  if (!g || !path || !*path || strlen(path) >= sizeof g->shot_path - 8)
    return SIM_EINVAL;
  int rc = 0;
  pthread_mutex_lock(&g->mu);
  if (g->shot_pending) {
    rc = SIM_EFULL;
  } else {
    copy_str(g->shot_path, sizeof g->shot_path, path);
    g->shot_pending = 1;
    g->shot_after_seq = g->ss->seq; /* a frame from a later snapshot than this one */
  }
  pthread_mutex_unlock(&g->mu);
  return rc;
}

int ui_gui_inject(struct ui_gui *g, const union SDL_Event *ev) {
  if (!g || !ev)
    return SIM_EINVAL;
  int rc = 0;
  pthread_mutex_lock(&g->mu);
  if (g->n_inject == GUI_MAX_INJECT)
    rc = SIM_EFULL;
  else
    g->inject[g->n_inject++] = *ev;
  pthread_mutex_unlock(&g->mu);
  return rc;
}

void ui_gui_info(struct ui_gui *g, struct ui_gui_info *out) {
  memset(out, 0, sizeof *out);
  if (!g)
    return;
  pthread_mutex_lock(&g->mu);
  *out = g->info;
  pthread_mutex_unlock(&g->mu);
}

void ui_gui_zoom(struct ui_gui *g, double cell_px, int64_t hub) {
  if (!g)
    return;
  pthread_mutex_lock(&g->mu);
  g->zoom_req = 1;
  g->zoom_req_cell = cell_px;
  g->zoom_req_hub = hub;
  pthread_mutex_unlock(&g->mu);
}

int ui_gui_locate(struct ui_gui *g, const char *what, int *x, int *y) {
  if (!g || !what || !x || !y)
    return SIM_EINVAL;
  int rc = SIM_ENOTFOUND;
  double px = 0, py = 0;
  pthread_mutex_lock(&g->mu);
  const struct gui_view *v = &g->pub_view;
  unsigned hub, slot;
  if (!g->pub_ok) {
    rc = SIM_ENOTFOUND;
  } else if (strncmp(what, "button:", 7) == 0) {
    for (int i = 0; i < g->pub_n_btn; i++)
      if (strcmp(g->pub_btn[i].id, what + 7) == 0) {
        px = g->pub_btn[i].x + g->pub_btn[i].w / 2.0;
        py = g->pub_btn[i].y + g->pub_btn[i].h / 2.0;
        rc = 0;
        break;
      }
  } else if (v->cols && (sscanf(what, "device:%u:%u", &hub, &slot) == 2 ||
                         sscanf(what, "hub:%u", &hub) == 1)) {
    int is_dev = what[0] == 'd';
    if (hub < g->ss->n_hubs && (!is_dev || slot < g->ss->dph)) {
      double wx = (hub % v->cols + 0.5) * GUI_CELL, wy = (hub / v->cols + 0.5) * GUI_CELL;
      if (is_dev) {
        double a = 2 * M_PI * slot / g->ss->dph - M_PI / 2;
        wx += cos(a) * GUI_CELL * 0.34;
        wy += sin(a) * GUI_CELL * 0.34;
      }
      px = v->mx + (wx - v->ox) * v->scale;
      py = v->my + (wy - v->oy) * v->scale;
      if (px >= v->mx && px < v->mx + v->mw && py >= v->my && py < v->my + v->mh)
        rc = 0;
    }
  } else {
    rc = SIM_EINVAL;
  }
  double dpi = v->dpi > 0 ? v->dpi : 1;
  pthread_mutex_unlock(&g->mu);
  if (rc == 0) {
    *x = (int)(px / dpi);
    *y = (int)(py / dpi);
  }
  return rc;
}
