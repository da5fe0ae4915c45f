/* The render thread: SDL's window and renderer, and the loop that wakes at the frame cap to
 * handle input and draws a frame only when something on screen changed.
 *
 * Nothing here calls the host or the fleet: everything comes from the snapshot the loop hands
 * over (gui.c), and every action goes back through the queue (gui_input.c). A frame: take the
 * latest snapshot if there is a newer one (noting which devices reported since, for their
 * halos), lay the window out, handle SDL's and the injected events, then, when something
 * changed, draw (gui_draw.c), write the screenshots due (gui_shot.c) and present; last, publish
 * what was drawn (buttons, the view, figures) for ui_gui_locate() and ui_gui_info(). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <SDL_image.h>

#include "sim/core/err.h"
#include "ui/gui/gui_internal.h"

/* The window's parts for its current size (and fonts for its scale); the view is fitted again
 * while it follows the fleet, else only the grid follows the map's new shape. */
static void layout(struct gui_render *r) {
  int ww, wh;
  SDL_GetWindowSize(r->win, &ww, &wh);
  SDL_GetRendererOutputSize(r->ren, &r->out_w, &r->out_h);
  r->win_w = ww;
  r->win_h = wh;
  double dpi = ww > 0 ? (double)r->out_w / ww : 1;
  if (dpi < 1)
    dpi = 1;
  gui__text_fonts(r, dpi);
  int old_w = r->map.w, old_h = r->map.h;
  r->dpi = dpi;
  int W = r->out_w, H = r->out_h;
  int side_w = gui__px(r, 380);
  if (side_w > W / 2)
    side_w = W / 2;
  int head_h = gui__px(r, 32), foot_h = gui__px(r, 22);
  int chart_h = H >= gui__px(r, 560) ? gui__px(r, 150) : H / 5;
  r->header = (SDL_Rect){0, 0, W, head_h};
  r->footer = (SDL_Rect){0, H - foot_h, W, foot_h};
  r->side = (SDL_Rect){W - side_w, head_h, side_w, H - head_h - foot_h};
  int pad = gui__px(r, 6);
  r->charts = (SDL_Rect){pad, H - foot_h - chart_h - pad, W - side_w - 2 * pad, chart_h};
  r->map =
      (SDL_Rect){pad, head_h + pad, W - side_w - 2 * pad, H - head_h - foot_h - chart_h - 3 * pad};
  if (r->map.h < 0)
    r->map.h = 0;
  if (r->fitted || !r->scale)
    gui__view_fit(r);
  else if (old_w != r->map.w || old_h != r->map.h)
    gui__view_grid(r);
}

/* Takes, under the mutex, the latest snapshot when there is a newer one (the frame and the map
 * are then dirty), the injected events (into r->ev, *n_ev of them) and a zoom request; notes
 * which devices reported since the last snapshot, and the new message and command paths. */
static void take_snapshot(struct gui_render *r, int *n_ev) {
  struct ui_gui *g = r->g;
  pthread_mutex_lock(&g->mu);
  int fresh = g->ss->seq != r->fs->seq;
  if (fresh)
    gui__snap_copy(r->fs, g->ss);
  *n_ev = g->n_inject;
  memcpy(r->ev, g->inject, (size_t)g->n_inject * sizeof(SDL_Event));
  g->n_inject = 0;
  int zr = g->zoom_req;
  double zc = g->zoom_req_cell;
  int64_t zh = g->zoom_req_hub;
  g->zoom_req = 0;
  pthread_mutex_unlock(&g->mu);
  if (fresh)
    r->dirty = r->map_dirty = 1;
  if (zr) {
    r->dirty = 1;
    gui__view_grid(r);
    if (zc <= 0) {
      gui__view_fit(r);
    } else {
      r->scale = zc / GUI_CELL;
      r->fitted = 0;
      if (zh >= 0 && (uint64_t)zh < r->fs->n_hubs)
        gui__view_center(r, (uint32_t)zh);
      else {
        r->ox = r->cols * GUI_CELL / 2 - r->map.w / 2.0 / r->scale;
        r->oy = r->rows * GUI_CELL / 2 - r->map.h / 2.0 / r->scale;
      }
    }
  }
  if (!fresh)
    return;
  const struct gui_snap *s = r->fs;
  size_t n = (size_t)s->n_hubs * s->dph;
  for (size_t i = 0; i < n; i++) {
    if (s->dev[i].activity != r->prev_act[i]) {
      if (r->have_snap) {
        r->dev_pulse[i] = (float)r->now;
        r->hub_pulse[i / s->dph] = (float)r->now;
      }
      r->prev_act[i] = s->dev[i].activity;
    }
  }
  r->have_snap = 1;
  if (s->msg_seq != r->msg_seq) {
    r->msg_seq = s->msg_seq;
    snprintf(r->msg, sizeof r->msg, "%s", s->msg);
    r->msg_bad = s->msg_bad;
    r->msg_until = r->now + 5;
  }
  for (int i = 0; i < s->n_flash; i++) {
    if (s->flash[i].id <= r->flash_seen)
      continue;
    r->flash_seen = s->flash[i].id;
    if (r->n_fl == GUI_MAX_FLASH) {
      memmove(r->fl, r->fl + 1, (GUI_MAX_FLASH - 1) * sizeof r->fl[0]);
      r->n_fl--;
    }
    r->fl[r->n_fl].hub = s->flash[i].hub;
    r->fl[r->n_fl].slot = s->flash[i].slot;
    r->fl[r->n_fl].t0 = r->now;
    r->n_fl++;
    r->dev_pulse[(size_t)s->flash[i].hub * s->dph + s->flash[i].slot] = (float)r->now;
  }
  if (s->quit_sent)
    r->quit_asked = 1;
}

static void publish(struct gui_render *r, uint64_t frame_ns, int drawn) {
  struct ui_gui *g = r->g;
  uint32_t v0 = 0, v1 = 0;
  if (r->level > 0 && r->fs->n_hubs) {
    double r0 = floor(r->oy / GUI_CELL), r1 = ceil((r->oy + r->map.h / r->scale) / GUI_CELL);
    r0 = r0 < 0 ? 0 : r0;
    v0 = (uint32_t)fmin(r0 * r->cols, r->fs->n_hubs);
    v1 = (uint32_t)fmin(fmax(r1, 0) * r->cols, r->fs->n_hubs);
  }
  pthread_mutex_lock(&g->mu);
  g->req_hub = r->sel_hub;
  g->req_slot = r->sel_slot;
  g->view_h0 = v0;
  g->view_h1 = v1;
  if (drawn) { /* the buttons of the frame on screen */
    memcpy(g->pub_btn, r->btn, (size_t)r->n_btn * sizeof r->btn[0]);
    g->pub_n_btn = r->n_btn;
  }
  g->pub_view = (struct gui_view){.scale = r->scale,
                                  .ox = r->ox,
                                  .oy = r->oy,
                                  .mx = r->map.x,
                                  .my = r->map.y,
                                  .mw = r->map.w,
                                  .mh = r->map.h,
                                  .cols = r->cols,
                                  .dpi = r->dpi};
  g->pub_ok = 1;
  struct ui_gui_info *in = &g->info;
  in->win_w = r->win_w;
  in->win_h = r->win_h;
  in->out_w = r->out_w;
  in->out_h = r->out_h;
  in->frames = r->frame;
  in->fps = r->fps;
  in->ticks = r->ticks;
  in->tick_hz = r->tick_hz;
  in->map_draws = r->map_draws;
  if (drawn) {
    in->last_frame_ns = frame_ns;
    if (frame_ns > in->max_frame_ns)
      in->max_frame_ns = frame_ns;
  }
  in->busy_ns += frame_ns;
  in->snapshots_drawn = r->fs->seq;
  in->zoom_level = r->level;
  in->sel_hub = r->sel_hub;
  in->sel_slot = r->sel_slot;
  pthread_mutex_unlock(&g->mu);
}

/* One iteration of the render loop: input, the latest snapshot, and a frame drawn and presented
 * only when something on screen changed. */
static void frame(struct gui_render *r) {
  uint64_t t0 = gui__now_ns();
  r->now = (double)(t0 - r->t0_ns) / 1e9;
  int n_ev = 0;
  take_snapshot(r, &n_ev);
  int out_w = r->out_w, out_h = r->out_h;
  SDL_Rect map = r->map;
  layout(r);
  if (out_w != r->out_w || out_h != r->out_h || map.w != r->map.w || map.h != r->map.h)
    r->dirty = 1;
  SDL_Event e;
  while (SDL_PollEvent(&e))
    gui__handle(r, &e);
  for (int i = 0; i < n_ev; i++)
    gui__handle(r, &r->ev[i]);
  if (r->sel_hub >= (int64_t)r->fs->n_hubs)
    r->sel_hub = r->sel_slot = -1;
  if (r->force_draw) /* uncapped: every frame drawn in full, the map's pixels too */
    r->dirty = r->map_dirty = 1;
  gui__map_check(r);
  if (r->n_fl > 0)
    r->dirty = 1; /* a command's path moving */
  if (r->msg_until > r->drawn_at && r->msg_until <= r->now)
    r->dirty = 1; /* the message gives way to the key hints */
  if (!r->dirty && gui__shot_due(r))
    r->dirty = 1;
  r->ticks++;
  r->fps_ticks++;
  int drawn = r->dirty;
  if (drawn) {
    r->dirty = 0;
    r->drawn_at = r->now;
    r->frame++;
    r->fps_frames++;
    gui__draw(r);
    gui__shots(r);
    SDL_RenderPresent(r->ren);
    gui__text_age(r);
  }
  uint64_t t1 = gui__now_ns();
  if (t1 - r->fps_t0 >= 1000000000ull) {
    r->fps = (double)r->fps_frames * 1e9 / (double)(t1 - r->fps_t0);
    r->tick_hz = (double)r->fps_ticks * 1e9 / (double)(t1 - r->fps_t0);
    r->fps_frames = r->fps_ticks = 0;
    r->fps_t0 = t1;
  }
  publish(r, t1 - t0, drawn);
}

static void render_free(struct gui_render *r) {
  if (!r)
    return;
  gui__text_free(r);
  if (r->map_tex)
    SDL_DestroyTexture(r->map_tex);
  if (r->ren)
    SDL_DestroyRenderer(r->ren);
  if (r->win)
    SDL_DestroyWindow(r->win);
  if (r->fs) {
    free(r->fs->hub_state);
    free(r->fs->dev);
    free(r->fs);
  }
  free(r->prev_act);
  free(r->slot_dir);
  free(r->dev_pulse);
  free(r->hub_pulse);
  free(r);
}

static int render_init(struct gui_render *r) {
  struct ui_gui *g = r->g;
  const struct gui_snap *ss = g->ss;
  size_t nd = (size_t)ss->n_hubs * ss->dph;
  r->fs = calloc(1, sizeof *r->fs);
  r->prev_act = calloc(nd ? nd : 1, 1);
  r->dev_pulse = calloc(nd ? nd : 1, sizeof(float));
  r->hub_pulse = calloc(ss->n_hubs ? ss->n_hubs : 1, sizeof(float));
  if (gui__text_new(r) || !r->fs || !r->prev_act || !r->dev_pulse || !r->hub_pulse)
    return SIM_ENOMEM;
  r->fs->hub_state = calloc(ss->n_hubs ? ss->n_hubs : 1, 1);
  r->fs->dev = calloc(nd ? nd : 1, sizeof(struct gui_dev));
  if (!r->fs->hub_state || !r->fs->dev)
    return SIM_ENOMEM;
  pthread_mutex_lock(&g->mu);
  gui__snap_copy(r->fs, g->ss);
  pthread_mutex_unlock(&g->mu);
  for (size_t i = 0; i < nd; i++) {
    r->prev_act[i] = r->fs->dev[i].activity;
    r->dev_pulse[i] = -10;
  }
  for (uint32_t i = 0; i < ss->n_hubs; i++)
    r->hub_pulse[i] = -10;
  r->have_snap = 1;
  r->sel_hub = r->sel_slot = -1;
  r->fitted = 1;
  r->dirty = r->map_dirty = 1;
  r->force_draw = g->o.max_fps < 0;
  gui__draw_init(r);
  r->slot_dir = calloc(ss->dph ? 2 * (size_t)ss->dph : 2, sizeof(double));
  if (!r->slot_dir)
    return SIM_ENOMEM;
  for (uint32_t k = 0; k < ss->dph; k++) {
    double a = 2 * M_PI * k / ss->dph - M_PI / 2;
    r->slot_dir[2 * k] = cos(a);
    r->slot_dir[2 * k + 1] = sin(a);
  }

  int w = g->o.width > 0 ? g->o.width : 1280, h = g->o.height > 0 ? g->o.height : 800;
  r->win = SDL_CreateWindow(g->title, SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, w, h,
                            SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
  if (!r->win) {
    fprintf(stderr, "hubsim gui: cannot open a window: %s\n", SDL_GetError());
    return SIM_EIO;
  }
  SDL_SetWindowMinimumSize(r->win, 640, 420);
  r->ren = SDL_CreateRenderer(r->win, -1, SDL_RENDERER_SOFTWARE);
  if (!r->ren) {
    fprintf(stderr, "hubsim gui: no renderer: %s\n", SDL_GetError());
    return SIM_EIO;
  }
  layout(r);
  if (!r->font[GUI_FONT_NORMAL] || !r->font[GUI_FONT_SMALL] || !r->font[GUI_FONT_BIG]) {
    fprintf(stderr, "hubsim gui: cannot load the font '%s': %s\n", g->font_path, TTF_GetError());
    return SIM_EIO;
  }
  r->t0_ns = r->fps_t0 = gui__now_ns();
  return 0;
}

void *gui__render_main(void *arg) {
  struct ui_gui *g = arg;
  int rc = 0;
  int sdl = 0, ttf = 0, img = 0;
  struct gui_render *r = calloc(1, sizeof *r);
  if (!r) {
    rc = SIM_ENOMEM;
    goto report;
  }
  r->g = g;
  /* The app owns SIGINT and SIGTERM; the software renderer needs no GPU. */
  SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
  SDL_SetHint(SDL_HINT_RENDER_DRIVER, "software");
  /* Without this, SDL presents a software window through an OpenGL texture where it can: with no
   * GPU that is Mesa's llvmpipe, whose worker threads cost more than the whole frame and compete
   * with the engine for the cores. */
  SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
  SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
  if (SDL_Init(SDL_INIT_VIDEO) != 0) {
    fprintf(stderr, "hubsim gui: SDL: %s\n", SDL_GetError());
    rc = SIM_EIO;
    goto report;
  }
  sdl = 1;
  if (TTF_Init() != 0) {
    fprintf(stderr, "hubsim gui: SDL_ttf: %s\n", TTF_GetError());
    rc = SIM_EIO;
    goto report;
  }
  ttf = 1;
  img = (IMG_Init(IMG_INIT_PNG) & IMG_INIT_PNG) != 0;
  rc = render_init(r);

report:
  pthread_mutex_lock(&g->mu);
  g->init_rc = rc;
  g->init_done = 1;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);

  if (rc == 0) {
    double fps = g->o.max_fps == 0 ? 60 : g->o.max_fps;
    uint64_t period = fps > 0 ? (uint64_t)(1e9 / fps) : 0, next = gui__now_ns();
    for (;;) {
      pthread_mutex_lock(&g->mu);
      int stop = g->stop_flag;
      pthread_mutex_unlock(&g->mu);
      if (stop)
        break;
      frame(r);
      if (period) {
        /* Sleep until the next tick's deadline (absolute: no drift, no spinning); a late frame
         * moves the deadline instead of being caught up with a burst. */
        uint64_t now = gui__now_ns();
        next += period;
        if (next <= now) {
          next = now;
        } else {
          struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
          while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        }
      }
    }
  }
  render_free(r);
  if (img)
    IMG_Quit();
  if (ttf)
    TTF_Quit();
  if (sdl)
    SDL_Quit();
  return NULL;
}
