/* The render thread: SDL window, input, layout and drawing from the latest snapshot.
 *
 * Nothing here calls the host or the fleet: everything comes from the snapshot the loop hands
 * over (gui.c), and every action goes back through the queue. The fleet map is drawn into a
 * streaming texture's pixels directly (tiles, discs, rings): at 10,000 hubs the software
 * renderer would spend most of a frame in per-primitive overhead otherwise; text goes through
 * SDL2_ttf with a cache of rendered strings, so a steady screen renders almost no glyphs.
 *
 * Layout (pixels; everything scales with the renderer's output size, so high-DPI windows get
 * crisp text): a header bar with the timeline, the map, the charts under it, a side panel on the
 * right (scenario controls, fleet figures, the selection with its buttons, expectations, recent
 * events), a footer with the last message or the key hints. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <SDL.h>
#include <SDL_image.h>
#include <SDL_ttf.h>

#include "sim/core/err.h"
#include "sim/core/wfile.h"
#include "ui/gui/gui_internal.h"

/* ---- colours ------------------------------------------------------------------------------- */

#define C_BG 0x14171cu
#define C_PANEL 0x1d2129u
#define C_BORDER 0x2c323cu
#define C_TEXT 0xd8dee9u
#define C_DIM 0x7a8290u
#define C_OK 0x4caf50u
#define C_DEV_OK 0x7bd88fu
#define C_WARN 0xf0b429u
#define C_BAD 0xe5484du
#define C_OFF 0x8b2e32u
#define C_IDLE 0x4a515cu
#define C_ACCENT 0x36a3d9u
#define C_SEL 0xffd166u
#define C_FLASH 0xff6bd6u
#define C_WEAK 0xe07b39u
#define C_BTN 0x2b3340u
#define C_BTN_HOT 0x3b4a60u

static uint32_t mix(uint32_t a, uint32_t b, double t) {
  if (t <= 0)
    return a;
  if (t >= 1)
    return b;
  uint32_t o = 0;
  for (int s = 0; s < 24; s += 8) {
    double ca = (a >> s) & 0xff, cb = (b >> s) & 0xff;
    o |= (uint32_t)(ca + (cb - ca) * t + 0.5) << s;
  }
  return o;
}

static uint32_t hub_color(int state) {
  switch (state) {
  case SIM_HUB_OPEN:
    return C_OK;
  case SIM_HUB_CONNECTING:
  case SIM_HUB_HANDSHAKE:
    return C_WARN;
  case SIM_HUB_BACKOFF:
    return C_BAD;
  case SIM_HUB_STOPPED:
    return C_OFF;
  default:
    return C_IDLE;
  }
}

static const char *hub_state_label(int s) {
  switch (s) {
  case SIM_HUB_IDLE:
    return "idle";
  case SIM_HUB_CONNECTING:
    return "connecting";
  case SIM_HUB_HANDSHAKE:
    return "auth";
  case SIM_HUB_OPEN:
    return "online";
  case SIM_HUB_BACKOFF:
    return "backoff";
  case SIM_HUB_STOPPED:
    return "offline";
  default:
    return "?";
  }
}

/* ---- the render state ----------------------------------------------------------------------- */

#define TC_SIZE 2048
#define TC_PROBE 8
#define TC_STR 160

struct tc_entry {
  uint64_t key;
  char s[TC_STR];
  int font;
  uint32_t color;
  SDL_Texture *tex;
  int w, h;
  uint64_t used;
};

enum font_id { F_NORMAL = 0, F_SMALL, F_BIG, F_N };

enum modal { M_NONE = 0, M_HELP, M_QUIT, M_TRIGGER, M_COMMAND, M_FAULT };

enum btn_act {
  B_PAUSE = 1,
  B_STEP,
  B_SLOWER,
  B_FASTER,
  B_FIT,
  B_QUIT,
  B_TRIGGER,
  B_COMMAND,
  B_FAULT,
  B_PICK,
  B_BACK,
};

#define GUI_PULSE_S 0.6 /* a report's halo (or tile flash) fades over this */
#define GUI_FADE 32     /* steps of the fade */

struct gui_render {
  struct ui_gui *g;
  SDL_Window *win;
  SDL_Renderer *ren;
  TTF_Font *font[F_N];
  int font_px; /* size the fonts were opened at */
  SDL_Texture *map_tex;
  int map_tw, map_th;
  uint32_t *px; /* the map's pixels while drawing (locked texture) */
  int pitch;    /* in pixels */

  struct gui_snap *fs; /* the snapshot being drawn */
  int have_snap;
  uint8_t *prev_act;
  float *dev_pulse; /* render time of each device's last activity change */
  float *hub_pulse;
  double now; /* seconds since the thread started */
  uint64_t t0_ns;

  int win_w, win_h, out_w, out_h;
  double dpi;
  SDL_Rect header, map, side, charts, footer;

  double scale, ox, oy;
  int fitted;
  uint32_t cols, rows;
  int level;

  int mx, my; /* mouse, pixels */
  int mouse_in;
  int pressing, dragging;
  int down_x, down_y;
  double down_ox, down_oy;

  int64_t sel_hub, sel_slot;
  int modal;
  uint64_t msg_seq;
  char msg[200];
  int msg_bad;
  double msg_until;

  struct gui_btn btn[GUI_MAX_BTN];
  int n_btn;

  struct tc_entry *tc;
  uint64_t frame;

  uint64_t flash_seen;
  struct {
    uint32_t hub, slot;
    double t0;
  } fl[GUI_MAX_FLASH];
  int n_fl;

  uint64_t fps_t0;
  uint64_t fps_frames, fps_ticks;
  double fps, tick_hz;

  /* Drawing only what changed. A frame is drawn (and presented) when dirty; the map's pixels
   * are drawn anew only when the snapshot, the view or the selection changed, or the halos of
   * the last map pixels are still fading (then at most every GUI_ANIM_S): otherwise the map's
   * texture is copied as it is (a tooltip moving over the map costs no map pixels). */
  int dirty, map_dirty;
  double *slot_dir; /* per slot: cos, sin of its place on the ring */
  uint32_t tile_fade[GUI_FADE + 1], halo_fade[GUI_FADE + 1];
  int force_draw; /* uncapped (max_fps < 0): every tick draws all, to measure a frame's cost */
  struct {
    double scale, ox, oy;
    int w, h, level;
    uint32_t cols;
    int64_t sel_hub, sel_slot;
  } map_key;       /* what the map's pixels were drawn for */
  double map_at;   /* r->now when they were */
  int map_anim;    /* they hold halos or tile flashes still fading */
  double drawn_at; /* r->now of the last frame drawn */
  uint64_t ticks, map_draws;
  int opt_shot_done;
  int quit_asked;
  SDL_Event ev[GUI_MAX_INJECT];
};

/* ---- actions to the loop --------------------------------------------------------------------- */

static void push_action(struct gui_render *r, const struct gui_action *a) {
  struct ui_gui *g = r->g;
  pthread_mutex_lock(&g->mu);
  if (g->n_actions < GUI_MAX_ACTIONS)
    g->actions[g->n_actions++] = *a;
  pthread_mutex_unlock(&g->mu);
}

static void local_msg(struct gui_render *r, int bad, const char *text) {
  snprintf(r->msg, sizeof r->msg, "%s", text);
  r->msg_bad = bad;
  r->msg_until = r->now + 5;
}

static void act_simple(struct gui_render *r, int kind, double d) {
  struct gui_action a = {.kind = kind, .d = d};
  push_action(r, &a);
}

static const double speeds[] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 1000};
#define N_SPEEDS (sizeof speeds / sizeof speeds[0])

/* The TUI's ladder: 0 (as fast as it can) sits above the top. */
static double next_speed(double cur, int up) {
  if (up) {
    if (cur == 0)
      return 0;
    for (size_t i = 0; i < N_SPEEDS; i++)
      if (speeds[i] > cur * 1.0001)
        return speeds[i];
    return 0;
  }
  if (cur == 0)
    return speeds[N_SPEEDS - 1];
  for (size_t i = N_SPEEDS; i-- > 0;)
    if (speeds[i] < cur * 0.9999)
      return speeds[i];
  return speeds[0];
}

static void do_speed(struct gui_render *r, int up) {
  if (!r->fs->hd.virtual_clock || !(r->fs->controls & GUI_HAVE_SPEED)) {
    local_msg(r, 1, "speed changes need the virtual clock (--clock virtual)");
    return;
  }
  act_simple(r, GUI_ACT_SPEED, next_speed(r->fs->hd.speed, up));
}

static const struct gui_detail *cur_detail(const struct gui_render *r) {
  const struct gui_detail *d = &r->fs->det;
  if (r->sel_hub < 0 || d->hub != r->sel_hub || d->slot != r->sel_slot)
    return NULL;
  return d;
}

static void do_trigger(struct gui_render *r, int i) {
  const struct gui_detail *d = cur_detail(r);
  if (!d || !d->has_dev || i < 0 || i >= d->n_trig)
    return;
  struct gui_action a = {
      .kind = GUI_ACT_TRIGGER, .hub = (uint32_t)d->hub, .slot = (uint32_t)d->slot};
  snprintf(a.name, sizeof a.name, "%s", d->trig[i]);
  push_action(r, &a);
}

static void do_command(struct gui_render *r, int i) {
  const struct gui_detail *d = cur_detail(r);
  if (!d || !d->has_dev || i < 0 || i >= d->n_cmd)
    return;
  struct gui_action a = {.kind = GUI_ACT_COMMAND,
                         .hub = (uint32_t)d->hub,
                         .slot = (uint32_t)d->slot,
                         .ep = d->cmd[i].ep,
                         .cluster = d->cmd[i].cluster,
                         .command = d->cmd[i].command};
  snprintf(a.name, sizeof a.name, "%s", d->cmd[i].label);
  push_action(r, &a);
}

static const char *const faults[][2] = {
    {"drop", "close the connection"},        {"stall", "stop reading for 10 s"},
    {"delay", "writes 500 ms late, 30 s"},   {"malformed", "send a malformed frame"},
    {"power", "cut power (again: restore)"}, {"skew", "clock +5 min"},
};
#define N_FAULTS (int)(sizeof faults / sizeof faults[0])

static void do_fault(struct gui_render *r, int i) {
  if (r->sel_hub < 0 || i < 0 || i >= N_FAULTS)
    return;
  struct gui_action a = {.kind = GUI_ACT_FAULT, .hub = (uint32_t)r->sel_hub};
  snprintf(a.name, sizeof a.name, "%s", faults[i][0]);
  push_action(r, &a);
}

static void do_quit(struct gui_render *r) {
  if (!(r->fs->controls & GUI_HAVE_QUIT)) {
    local_msg(r, 1, "quitting is not available in this run");
    return;
  }
  r->quit_asked = 1;
  act_simple(r, GUI_ACT_QUIT, 0);
}

/* ---- text -------------------------------------------------------------------------------------
 */

static uint64_t fnv(const char *s, int font, uint32_t color) {
  uint64_t h = 1469598103934665603ull ^ ((uint64_t)font << 32 | color);
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

/* The texture of a string in a font and colour, from the cache or rendered now. Control bytes
 * (from a peer's error text in the log) become '?'. */
static struct tc_entry *text_tex(struct gui_render *r, int font, uint32_t color, const char *s) {
  char buf[TC_STR];
  size_t n = 0;
  for (; s[n] && n < TC_STR - 1; n++)
    buf[n] = (unsigned char)s[n] < 0x20 ? '?' : s[n];
  buf[n] = 0;
  if (n == 0)
    return NULL;
  uint64_t key = fnv(buf, font, color);
  size_t base = (size_t)(key % TC_SIZE);
  struct tc_entry *victim = NULL;
  for (int i = 0; i < TC_PROBE; i++) {
    struct tc_entry *e = &r->tc[(base + (size_t)i) % TC_SIZE];
    if (e->tex && e->key == key && e->font == font && e->color == color && strcmp(e->s, buf) == 0) {
      e->used = r->frame;
      return e;
    }
    if (!victim || !e->tex || (victim->tex && e->used < victim->used))
      victim = e;
  }
  if (victim->tex)
    SDL_DestroyTexture(victim->tex);
  memset(victim, 0, sizeof *victim);
  SDL_Color c = {(uint8_t)(color >> 16), (uint8_t)(color >> 8), (uint8_t)color, 255};
  SDL_Surface *sf = TTF_RenderUTF8_Blended(r->font[font], buf, c);
  if (!sf)
    return NULL;
  victim->tex = SDL_CreateTextureFromSurface(r->ren, sf);
  victim->w = sf->w;
  victim->h = sf->h;
  SDL_FreeSurface(sf);
  if (!victim->tex)
    return NULL;
  victim->key = key;
  victim->font = font;
  victim->color = color;
  memcpy(victim->s, buf, n + 1);
  victim->used = r->frame;
  return victim;
}

/* Draws s with its top-left at (x, y), cut at maxw pixels; returns the width drawn. */
static int text(struct gui_render *r, int font, int x, int y, int maxw, uint32_t color,
                const char *s) {
  if (maxw <= 0)
    return 0;
  struct tc_entry *e = text_tex(r, font, color, s);
  if (!e)
    return 0;
  int w = e->w < maxw ? e->w : maxw;
  SDL_Rect src = {0, 0, w, e->h}, dst = {x, y, w, e->h};
  SDL_RenderCopy(r->ren, e->tex, &src, &dst);
  return w;
}

static int textf(struct gui_render *r, int font, int x, int y, int maxw, uint32_t color,
                 const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int textf(struct gui_render *r, int font, int x, int y, int maxw, uint32_t color,
                 const char *fmt, ...) {
  char buf[TC_STR];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return text(r, font, x, y, maxw, color, buf);
}

static int text_w(struct gui_render *r, int font, const char *s) {
  int w = 0, h = 0;
  if (TTF_SizeUTF8(r->font[font], s, &w, &h) != 0)
    return 0;
  return w;
}

static int line_h(const struct gui_render *r, int font) {
  return TTF_FontLineSkip(r->font[font]);
}

/* ---- SDL primitives ----------------------------------------------------------------------------
 */

static void set_color(struct gui_render *r, uint32_t c, uint8_t a) {
  SDL_SetRenderDrawColor(r->ren, (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c, a);
}

static void fill(struct gui_render *r, SDL_Rect rc, uint32_t c) {
  set_color(r, c, 255);
  SDL_RenderFillRect(r->ren, &rc);
}

static void frame_rect(struct gui_render *r, SDL_Rect rc, uint32_t c) {
  set_color(r, c, 255);
  SDL_RenderDrawRect(r->ren, &rc);
}

static int S(const struct gui_render *r, double v) {
  return (int)lround(v * r->dpi);
}

/* A button: drawn, and registered for clicks and ui_gui_locate(). */
static int button(struct gui_render *r, int x, int y, const char *label, const char *id, int act,
                  int arg, int enabled, uint32_t accent) {
  int pad = S(r, 7), h = line_h(r, F_SMALL) + S(r, 6);
  int w = text_w(r, F_SMALL, label) + 2 * pad;
  SDL_Rect rc = {x, y, w, h};
  int hot = enabled && r->mx >= x && r->mx < x + w && r->my >= y && r->my < y + h;
  fill(r, rc, hot ? C_BTN_HOT : C_BTN);
  frame_rect(r, rc, enabled ? accent : C_BORDER);
  text(r, F_SMALL, x + pad, y + S(r, 3), w, enabled ? C_TEXT : C_DIM, label);
  if (r->n_btn < GUI_MAX_BTN) {
    struct gui_btn *b = &r->btn[r->n_btn++];
    b->x = x;
    b->y = y;
    b->w = w;
    b->h = h;
    snprintf(b->id, sizeof b->id, "%s", id);
    b->enabled = enabled;
    b->act = act;
    b->arg = arg;
  }
  return w;
}

/* Buttons flowing left to right, wrapping inside [x0, x1). */
struct flow {
  int x0, x1, x, y, h;
};

static void flow_button(struct gui_render *r, struct flow *f, const char *label, const char *id,
                        int act, int arg, int enabled, uint32_t accent) {
  int w = text_w(r, F_SMALL, label) + 2 * S(r, 7);
  int h = line_h(r, F_SMALL) + S(r, 6);
  if (f->x > f->x0 && f->x + w > f->x1) {
    f->x = f->x0;
    f->y += h + S(r, 4);
  }
  f->x += button(r, f->x, f->y, label, id, act, arg, enabled, accent) + S(r, 5);
  f->h = f->y + h - 0;
}

/* ---- the map ------------------------------------------------------------------------------------
 */

/* floor, ceil and round to int, inline: libm's are calls at -O2 on baseline x86-64, and the map
 * needs them per row of every disc. Arguments are pixels of visible cells (small). */
static inline int ifloor(double v) {
  int i = (int)v;
  return i - (v < i);
}
static inline int iceil(double v) {
  int i = (int)v;
  return i + (v > i);
}
static inline int iround(double v) {
  return v >= 0 ? (int)(v + 0.5) : -(int)(-v + 0.5);
}

static void px_rect(struct gui_render *r, int x, int y, int w, int h, uint32_t c) {
  int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
  int x1 = x + w > r->map_tw ? r->map_tw : x + w, y1 = y + h > r->map_th ? r->map_th : y + h;
  c |= 0xff000000u;
  for (int j = y0; j < y1; j++) {
    uint32_t *row = r->px + (size_t)j * (size_t)r->pitch;
    for (int i = x0; i < x1; i++)
      row[i] = c;
  }
}

/* A disc of radius rad (pixels) around (cx, cy); radius under a pixel draws one pixel. */
static void px_disc(struct gui_render *r, double cx, double cy, double rad, uint32_t c) {
  if (rad < 0.75) {
    px_rect(r, (int)cx, (int)cy, 1, 1, c);
    return;
  }
  int y0 = ifloor(cy - rad), y1 = iceil(cy + rad);
  if (y0 < 0)
    y0 = 0;
  if (y1 > r->map_th)
    y1 = r->map_th;
  c |= 0xff000000u;
  for (int y = y0; y < y1; y++) {
    double dy = y + 0.5 - cy;
    double q = rad * rad - dy * dy;
    if (q < 0)
      continue;
    double dx = sqrt(q);
    int x0 = iround(cx - dx), x1 = iround(cx + dx);
    if (x0 < 0)
      x0 = 0;
    if (x1 > r->map_tw)
      x1 = r->map_tw;
    uint32_t *row = r->px + (size_t)y * (size_t)r->pitch;
    for (int x = x0; x < x1; x++)
      row[x] = c;
  }
}

/* A ring between radii rin and rout. */
static void px_ring(struct gui_render *r, double cx, double cy, double rin, double rout,
                    uint32_t c) {
  int y0 = ifloor(cy - rout), y1 = iceil(cy + rout);
  if (y0 < 0)
    y0 = 0;
  if (y1 > r->map_th)
    y1 = r->map_th;
  c |= 0xff000000u;
  for (int y = y0; y < y1; y++) {
    double dy = y + 0.5 - cy;
    double qo = rout * rout - dy * dy, qi = rin * rin - dy * dy;
    if (qo < 0)
      continue;
    double dxo = sqrt(qo), dxi = qi > 0 ? sqrt(qi) : 0;
    int segs[2][2] = {{iround(cx - dxo), iround(cx - dxi)}, {iround(cx + dxi), iround(cx + dxo)}};
    uint32_t *row = r->px + (size_t)y * (size_t)r->pitch;
    for (int k = 0; k < 2; k++) {
      int a = segs[k][0] < 0 ? 0 : segs[k][0];
      int b = segs[k][1] > r->map_tw ? r->map_tw : segs[k][1];
      for (int x = a; x < b; x++)
        row[x] = c;
    }
  }
}

static void layout_fleet(struct gui_render *r) {
  uint32_t n = r->fs->n_hubs;
  double aspect = r->map.h > 0 ? (double)r->map.w / r->map.h : 1.5;
  uint32_t cols = n ? (uint32_t)ceil(sqrt((double)n * aspect)) : 1;
  if (cols < 1)
    cols = 1;
  if (cols > n && n)
    cols = n;
  r->cols = cols;
  r->rows = n ? (n + cols - 1) / cols : 1;
}

static void fit(struct gui_render *r) {
  layout_fleet(r);
  double ww = r->cols * GUI_CELL, wh = r->rows * GUI_CELL;
  double s = fmin(r->map.w / ww, r->map.h / wh) * 0.96;
  if (s > 3.0 * r->dpi)
    s = 3.0 * r->dpi; /* three hubs do not fill a whole screen */
  r->scale = s;
  r->ox = ww / 2 - r->map.w / 2.0 / s;
  r->oy = wh / 2 - r->map.h / 2.0 / s;
  r->fitted = 1;
}

/* Zoom so that a cell is cell_px wide, keeping world point (wx, wy) at screen point (sx, sy)
 * (map-relative pixels). */
static void zoom_at(struct gui_render *r, double new_scale, double sx, double sy) {
  double lo = 0.5 / GUI_CELL, hi = 600 * r->dpi / GUI_CELL;
  if (new_scale < lo)
    new_scale = lo;
  if (new_scale > hi)
    new_scale = hi;
  double wx = r->ox + sx / r->scale, wy = r->oy + sy / r->scale;
  r->scale = new_scale;
  r->ox = wx - sx / new_scale;
  r->oy = wy - sy / new_scale;
  r->fitted = 0;
}

static void center_on_hub(struct gui_render *r, uint32_t hub) {
  double wx = (hub % r->cols + 0.5) * GUI_CELL, wy = (hub / r->cols + 0.5) * GUI_CELL;
  r->ox = wx - r->map.w / 2.0 / r->scale;
  r->oy = wy - r->map.h / 2.0 / r->scale;
  r->fitted = 0;
}

static double dot_radius_world(uint32_t dph) {
  double rr = GUI_CELL * 0.34;
  double d = dph ? M_PI * rr / dph * 0.8 : 6;
  return d > GUI_CELL * 0.07 ? GUI_CELL * 0.07 : d;
}

/* A device's place on its hub's ring: the slot's direction comes from a table made once. */
static void dev_pos(const struct gui_render *r, uint32_t hub, uint32_t slot, double *x, double *y) {
  double wx = (hub % r->cols + 0.5) * GUI_CELL, wy = (hub / r->cols + 0.5) * GUI_CELL;
  wx += r->slot_dir[2 * slot] * GUI_CELL * 0.34;
  wy += r->slot_dir[2 * slot + 1] * GUI_CELL * 0.34;
  *x = (wx - r->ox) * r->scale;
  *y = (wy - r->oy) * r->scale;
}

static uint32_t dev_color(const struct gui_dev *e, int hub_state) {
  if (!(e->flags & GUI_DEV_JOINED))
    return C_IDLE;
  if (hub_state != SIM_HUB_OPEN)
    return 0xb08a2eu; /* in the network, its hub away: its frames queue */
  if (e->lqi < 60)
    return C_WEAK;
  return C_DEV_OK;
}

/* The colours of a fading tile flash and device halo, by age in GUI_FADE steps (a lookup: the
 * map colours thousands of them a frame). */
static void fade_tables(struct gui_render *r) {
  for (int i = 0; i <= GUI_FADE; i++) {
    double t = (double)i / GUI_FADE;
    r->tile_fade[i] = mix(C_OK, 0xffffff, 0.45 * (1 - t));
    r->halo_fade[i] = mix(0xffffff, 0x101317, t);
  }
}

/* The map's pixels: tiles by health when a hub cell is small, else hubs ringed by their
 * devices. Only the visible cells are visited. */
static void draw_map_pixels(struct gui_render *r) {
  const struct gui_snap *s = r->fs;
  double cs = GUI_CELL * r->scale;
  r->map_anim = 0;
  uint32_t bg = 0xff101317u;
  for (int y = 0; y < r->map_th; y++) {
    uint32_t *row = r->px + (size_t)y * (size_t)r->pitch;
    for (int x = 0; x < r->map_tw; x++)
      row[x] = bg;
  }
  if (!s->n_hubs)
    return;
  long c0 = (long)floor(r->ox / GUI_CELL),
       c1 = (long)ceil((r->ox + r->map.w / r->scale) / GUI_CELL);
  long r0 = (long)floor(r->oy / GUI_CELL),
       r1 = (long)ceil((r->oy + r->map.h / r->scale) / GUI_CELL);
  if (c0 < 0)
    c0 = 0;
  if (r0 < 0)
    r0 = 0;
  if (c1 > (long)r->cols)
    c1 = (long)r->cols;
  if (r1 > (long)r->rows)
    r1 = (long)r->rows;
  double pulse_s = GUI_PULSE_S;
  for (long row = r0; row < r1; row++) {
    for (long col = c0; col < c1; col++) {
      uint64_t hub = (uint64_t)row * r->cols + (uint64_t)col;
      if (hub >= s->n_hubs)
        break;
      int st = s->hub_state[hub];
      double x0 = (col * GUI_CELL - r->ox) * r->scale, y0 = (row * GUI_CELL - r->oy) * r->scale;
      double age = r->now - r->hub_pulse[hub];
      if (r->level == 0) {
        uint32_t c = hub_color(st);
        if (st == SIM_HUB_OPEN && age < pulse_s) {
          c = r->tile_fade[(int)(age / pulse_s * GUI_FADE)];
          r->map_anim = 1;
        }
        int gap = cs >= 4 ? 1 : 0;
        int xi = ifloor(x0), yi = ifloor(y0);
        int w = ifloor(x0 + cs) - xi - gap, h = ifloor(y0 + cs) - yi - gap;
        px_rect(r, xi, yi, w > 0 ? w : 1, h > 0 ? h : 1, c);
        continue;
      }
      double cx = x0 + cs / 2, cy = y0 + cs / 2;
      px_disc(r, cx, cy, cs * 0.16, hub_color(st));
      double dr = dot_radius_world(s->dph) * r->scale;
      for (uint32_t k = 0; k < s->dph; k++) {
        const struct gui_dev *e = &s->dev[hub * s->dph + k];
        if (!(e->flags & GUI_DEV_PRESENT))
          continue;
        double dx, dy;
        dev_pos(r, (uint32_t)hub, k, &dx, &dy);
        double dage = r->now - r->dev_pulse[hub * s->dph + k];
        if (dage < pulse_s) {
          px_disc(r, dx, dy, dr * (1.0 + 1.2 * dage / pulse_s + 0.3),
                  r->halo_fade[(int)(dage / pulse_s * GUI_FADE)]);
          r->map_anim = 1;
        }
        px_disc(r, dx, dy, dr, dev_color(e, st));
      }
    }
  }
  /* The selection. */
  if (r->sel_hub >= 0 && (uint64_t)r->sel_hub < s->n_hubs) {
    uint32_t hub = (uint32_t)r->sel_hub;
    double x0 = (hub % r->cols * GUI_CELL - r->ox) * r->scale;
    double y0 = (hub / r->cols * GUI_CELL - r->oy) * r->scale;
    if (r->level == 0) {
      double w = cs < 6 ? 6 : cs;
      px_ring(r, x0 + cs / 2, y0 + cs / 2, w * 0.75, w * 0.75 + 2 * r->dpi, C_SEL);
    } else if (r->sel_slot >= 0) {
      double dx, dy, dr = dot_radius_world(s->dph) * r->scale;
      dev_pos(r, hub, (uint32_t)r->sel_slot, &dx, &dy);
      px_ring(r, dx, dy, dr + 1.5 * r->dpi, dr + 3.5 * r->dpi, C_SEL);
    } else {
      px_ring(r, x0 + cs / 2, y0 + cs / 2, cs * 0.16 + 1.5 * r->dpi, cs * 0.16 + 3.5 * r->dpi,
              C_SEL);
    }
  }
}

/* The path of a command sent from here: platform (the map's top-left corner) -> hub -> device,
 * a bright line fading over 1.5 s with a dot travelling along it. */
static void draw_flashes(struct gui_render *r) {
  double life = 1.5;
  int keep = 0;
  for (int i = 0; i < r->n_fl; i++) {
    double age = r->now - r->fl[i].t0;
    if (age >= life)
      continue;
    r->fl[keep++] = r->fl[i];
    double px = r->map.x + S(r, 18), py = r->map.y + S(r, 18);
    double hx = r->map.x + ((r->fl[i].hub % r->cols + 0.5) * GUI_CELL - r->ox) * r->scale;
    double hy = r->map.y + ((r->fl[i].hub / r->cols + 0.5) * GUI_CELL - r->oy) * r->scale;
    double dx, dy;
    dev_pos(r, r->fl[i].hub, r->fl[i].slot, &dx, &dy);
    dx += r->map.x;
    dy += r->map.y;
    uint8_t a = (uint8_t)(255 * (1 - age / life));
    SDL_SetRenderDrawBlendMode(r->ren, SDL_BLENDMODE_BLEND);
    set_color(r, C_FLASH, a);
    for (int t = -1; t <= 1; t++) {
      SDL_RenderDrawLine(r->ren, (int)px + t, (int)py, (int)hx + t, (int)hy);
      SDL_RenderDrawLine(r->ren, (int)hx + t, (int)hy, (int)dx + t, (int)dy);
    }
    /* The travelling dot: first half to the hub, second half to the device. */
    double u = age / (life * 0.6);
    if (u < 1) {
      double bx = u < 0.7 ? px + (hx - px) * (u / 0.7) : hx + (dx - hx) * ((u - 0.7) / 0.3);
      double by = u < 0.7 ? py + (hy - py) * (u / 0.7) : hy + (dy - hy) * ((u - 0.7) / 0.3);
      SDL_Rect b = {(int)bx - S(r, 4), (int)by - S(r, 4), S(r, 8), S(r, 8)};
      set_color(r, 0xffffff, 255);
      SDL_RenderFillRect(r->ren, &b);
    }
    SDL_SetRenderDrawBlendMode(r->ren, SDL_BLENDMODE_NONE);
  }
  r->n_fl = keep;
}

static int map_level(const struct gui_render *r) {
  double cs = GUI_CELL * r->scale;
  return cs < 14 ? 0 : cs < 180 ? 1 : 2;
}

/* Notes whether the map's pixels must be drawn anew: the view or the selection moved since they
 * were drawn, or their halos are still fading and GUI_ANIM_S has passed. A new snapshot sets
 * map_dirty itself. */
#define GUI_ANIM_S 0.1
static void map_check(struct gui_render *r) {
  r->level = map_level(r);
  if (r->map_key.scale != r->scale || r->map_key.ox != r->ox || r->map_key.oy != r->oy ||
      r->map_key.w != r->map.w || r->map_key.h != r->map.h || r->map_key.level != r->level ||
      r->map_key.cols != r->cols || r->map_key.sel_hub != r->sel_hub ||
      r->map_key.sel_slot != r->sel_slot)
    r->map_dirty = 1;
  if (r->map_anim && r->now - r->map_at >= GUI_ANIM_S)
    r->map_dirty = 1;
  if (r->map_dirty)
    r->dirty = 1;
}

static void draw_map(struct gui_render *r) {
  if (r->map.w <= 0 || r->map.h <= 0)
    return;
  if (!r->map_tex || r->map_tw != r->map.w || r->map_th != r->map.h) {
    if (r->map_tex)
      SDL_DestroyTexture(r->map_tex);
    /* The window's own format when it is 0xXXRRGGBB (the pixels are written so), and no
     * blending (the map is opaque): the copy to the window is then a plain copy, not a
     * conversion or a per-pixel blend (an ARGB texture blends by default). */
    Uint32 wf = SDL_GetWindowPixelFormat(r->win);
    Uint32 tf = wf == SDL_PIXELFORMAT_RGB888 ? wf : SDL_PIXELFORMAT_ARGB8888;
    r->map_tex = SDL_CreateTexture(r->ren, tf, SDL_TEXTUREACCESS_STREAMING, r->map.w, r->map.h);
    if (r->map_tex)
      SDL_SetTextureBlendMode(r->map_tex, SDL_BLENDMODE_NONE);
    r->map_tw = r->map.w;
    r->map_th = r->map.h;
    r->map_dirty = 1;
  }
  if (!r->map_tex)
    return;
  if (r->map_dirty) {
    void *pixels;
    int pitch;
    if (SDL_LockTexture(r->map_tex, NULL, &pixels, &pitch) != 0)
      return;
    r->px = pixels;
    r->pitch = pitch / 4;
    draw_map_pixels(r);
    SDL_UnlockTexture(r->map_tex);
    r->px = NULL;
    r->map_dirty = 0;
    r->map_at = r->now;
    r->map_draws++;
    r->map_key.scale = r->scale;
    r->map_key.ox = r->ox;
    r->map_key.oy = r->oy;
    r->map_key.w = r->map.w;
    r->map_key.h = r->map.h;
    r->map_key.level = r->level;
    r->map_key.cols = r->cols;
    r->map_key.sel_hub = r->sel_hub;
    r->map_key.sel_slot = r->sel_slot;
  }
  SDL_RenderCopy(r->ren, r->map_tex, NULL, &r->map);

  const struct gui_snap *s = r->fs;
  double cs = GUI_CELL * r->scale;
  /* Hub labels when a cell is large enough to hold one. */
  if (r->level == 2 && s->n_hubs) {
    long c0 = (long)floor(r->ox / GUI_CELL),
         c1 = (long)ceil((r->ox + r->map.w / r->scale) / GUI_CELL);
    long r0 = (long)floor(r->oy / GUI_CELL),
         r1 = (long)ceil((r->oy + r->map.h / r->scale) / GUI_CELL);
    c0 = c0 < 0 ? 0 : c0;
    r0 = r0 < 0 ? 0 : r0;
    c1 = c1 > (long)r->cols ? (long)r->cols : c1;
    r1 = r1 > (long)r->rows ? (long)r->rows : r1;
    SDL_RenderSetClipRect(r->ren, &r->map);
    for (long row = r0; row < r1; row++)
      for (long col = c0; col < c1; col++) {
        uint64_t hub = (uint64_t)row * r->cols + (uint64_t)col;
        if (hub >= s->n_hubs)
          break;
        /* The cell's top-left corner: the device ring leaves it free. */
        const char *id = r->g->hub_ids[hub];
        int x = r->map.x + (int)((col * GUI_CELL - r->ox) * r->scale) + S(r, 4);
        int y = r->map.y + (int)((row * GUI_CELL - r->oy) * r->scale) + S(r, 2);
        text(r, F_SMALL, x, y, (int)(cs * 0.42), C_DIM, id);
      }
    SDL_RenderSetClipRect(r->ren, NULL);
  }
  draw_flashes(r);
  /* The platform's anchor, where command paths start. */
  SDL_Rect pa = {r->map.x + S(r, 12), r->map.y + S(r, 12), S(r, 12), S(r, 12)};
  fill(r, pa, C_ACCENT);
  text(r, F_SMALL, pa.x + S(r, 16), pa.y - S(r, 2), S(r, 80), C_ACCENT, "platform");
  /* Legend. */
  static const struct {
    uint32_t c;
    const char *t;
  } leg[] = {{C_OK, "online"},   {C_WARN, "connecting"}, {C_BAD, "backoff"},
             {C_OFF, "offline"}, {C_IDLE, "idle/left"},  {C_WEAK, "weak link"}};
  int lx = r->map.x + S(r, 10), ly = r->map.y + r->map.h - line_h(r, F_SMALL) - S(r, 6);
  SDL_Rect lb = {r->map.x + 1, ly - S(r, 3), r->map.w - 2, r->map.y + r->map.h - ly + S(r, 2)};
  fill(r, lb, 0x101317);
  for (size_t i = 0; i < sizeof leg / sizeof leg[0]; i++) {
    SDL_Rect sw = {lx, ly + S(r, 4), S(r, 10), S(r, 10)};
    fill(r, sw, leg[i].c);
    lx += S(r, 14);
    lx += text(r, F_SMALL, lx, ly, S(r, 120), C_DIM, leg[i].t) + S(r, 12);
  }
  const char *lvl = r->level == 0   ? "tiles by health (zoom in for devices)"
                    : r->level == 1 ? "hubs and devices"
                                    : "hubs, devices, ids";
  textf(r, F_SMALL, lx + S(r, 10), ly, r->map.x + r->map.w - lx, C_DIM, "%s  ·  %u hubs x %u", lvl,
        s->n_hubs, s->dph);
  frame_rect(r, r->map, C_BORDER);
}

/* The hub and slot under map pixel (x, y): slot -1 for the hub itself; 0 when nothing. */
static int hit_map(const struct gui_render *r, int x, int y, int64_t *hub, int64_t *slot) {
  const struct gui_snap *s = r->fs;
  if (x < r->map.x || y < r->map.y || x >= r->map.x + r->map.w || y >= r->map.y + r->map.h ||
      !s->n_hubs)
    return 0;
  double wx = r->ox + (x - r->map.x) / r->scale, wy = r->oy + (y - r->map.y) / r->scale;
  if (wx < 0 || wy < 0)
    return 0;
  uint64_t col = (uint64_t)(wx / GUI_CELL), row = (uint64_t)(wy / GUI_CELL);
  if (col >= r->cols)
    return 0;
  uint64_t h = row * r->cols + col;
  if (h >= s->n_hubs)
    return 0;
  *hub = (int64_t)h;
  *slot = -1;
  if (r->level == 0)
    return 1;
  double dx = wx - (col + 0.5) * GUI_CELL, dy = wy - (row + 0.5) * GUI_CELL;
  double d = sqrt(dx * dx + dy * dy);
  double dr = dot_radius_world(s->dph);
  double tol = fmax(dr * 1.6, 4 / r->scale);
  if (s->dph && fabs(d - GUI_CELL * 0.34) <= tol) {
    double a = atan2(dy, dx) + M_PI / 2;
    if (a < 0)
      a += 2 * M_PI;
    uint32_t k = (uint32_t)lround(a / (2 * M_PI / s->dph)) % s->dph;
    double px, py;
    const struct gui_dev *e = &s->dev[h * s->dph + k];
    dev_pos(r, (uint32_t)h, k, &px, &py);
    double ex = px - (x - r->map.x), ey = py - (y - r->map.y);
    if ((e->flags & GUI_DEV_PRESENT) && sqrt(ex * ex + ey * ey) <= tol * r->scale) {
      *slot = k;
      return 1;
    }
  }
  return d <= GUI_CELL * 0.5 ? 1 : 0;
}

/* ---- header, charts, side panel ------------------------------------------------------------ */

static void fmt_dur(char *out, size_t cap, double s) {
  if (!(s >= 0))
    s = 0;
  if (s > 359999)
    s = 359999;
  unsigned v = (unsigned)s;
  if (v >= 3600)
    snprintf(out, cap, "%u:%02u:%02u", v / 3600, v / 60 % 60, v % 60);
  else
    snprintf(out, cap, "%02u:%02u", v / 60, v % 60);
}

static void fmt_rate(char *out, size_t cap, double v) {
  if (!(v == v))
    snprintf(out, cap, "-");
  else if (v >= 1e6)
    snprintf(out, cap, "%.2fM", v / 1e6);
  else if (v >= 1e4)
    snprintf(out, cap, "%.1fk", v / 1e3);
  else if (v >= 100)
    snprintf(out, cap, "%.0f", v);
  else
    snprintf(out, cap, "%.1f", v);
}

static void draw_header(struct gui_render *r) {
  const struct ui_header *hd = &r->fs->hd;
  fill(r, r->header, C_PANEL);
  char clock[48], el[16], du[16];
  if (hd->virtual_clock) {
    if (hd->speed > 0)
      snprintf(clock, sizeof clock, "virtual x%g", hd->speed);
    else
      snprintf(clock, sizeof clock, "virtual max");
  } else {
    snprintf(clock, sizeof clock, "real");
  }
  fmt_dur(el, sizeof el, hd->elapsed_s);
  fmt_dur(du, sizeof du, hd->duration_s);
  int x = r->header.x + S(r, 10), y = r->header.y + S(r, 5);
  x += text(r, F_BIG, x, y - S(r, 2), S(r, 100), C_ACCENT, "hubsim") + S(r, 14);
  if (hd->paused) {
    int w = text_w(r, F_NORMAL, "PAUSED") + S(r, 12);
    SDL_Rect p = {x, y - S(r, 1), w, line_h(r, F_NORMAL) + S(r, 2)};
    fill(r, p, C_BAD);
    text(r, F_NORMAL, x + S(r, 6), y, w, 0xffffff, "PAUSED");
    x += w + S(r, 12);
  }
  x += textf(r, F_NORMAL, x, y, r->header.w - x, C_TEXT,
             "%s   phase %s   clock %s   seed %llu   %s / %s%s",
             *hd->scenario ? hd->scenario : "(no scenario)", *hd->phase ? hd->phase : "-", clock,
             (unsigned long long)hd->seed, el, du, hd->draining ? "   draining" : "");
  int fx = r->header.x + r->header.w - S(r, 110);
  if (fx > x + S(r, 10))
    textf(r, F_SMALL, fx, y + S(r, 2), S(r, 105), C_DIM, "%.0f fps", r->fps);
  /* The timeline: elapsed over the duration. */
  SDL_Rect tl = {r->header.x, r->header.y + r->header.h - S(r, 4), r->header.w, S(r, 4)};
  fill(r, tl, C_BORDER);
  if (hd->duration_s > 0) {
    double f = hd->elapsed_s / hd->duration_s;
    tl.w = (int)(tl.w * (f > 1 ? 1 : f < 0 ? 0 : f));
    fill(r, tl, hd->draining ? C_WARN : C_ACCENT);
  }
}

/* One chart: up to three series of the ring, scaled to their maximum over the window. */
static void chart(struct gui_render *r, SDL_Rect rc, const char *title, const int *ser, int n,
                  const uint32_t *colors, const char *const *names, const char *unit) {
  const struct gui_snap *s = r->fs;
  fill(r, rc, C_PANEL);
  frame_rect(r, rc, C_BORDER);
  int tx = rc.x + S(r, 8), ty = rc.y + S(r, 4);
  tx += text(r, F_SMALL, tx, ty, rc.w / 2, C_TEXT, title) + S(r, 10);
  for (int i = 0; i < n; i++) {
    char v[24];
    fmt_rate(v, sizeof v, s->ring_n ? s->rate[ser[i]] : NAN);
    tx += textf(r, F_SMALL, tx, ty, rc.x + rc.w - tx, colors[i], "%s %s%s", names[i], v, unit) +
          S(r, 10);
  }
  SDL_Rect pl = {rc.x + S(r, 8), rc.y + line_h(r, F_SMALL) + S(r, 8), rc.w - S(r, 16),
                 rc.h - line_h(r, F_SMALL) - S(r, 14)};
  if (pl.w < 4 || pl.h < 4)
    return;
  int np = (int)s->ring_n, maxp = pl.w / S(r, 3);
  if (np > maxp)
    np = maxp;
  if (np > GUI_RING)
    np = GUI_RING;
  double max = 0;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < np; k++) {
      float v = s->ring[ser[i]][(s->ring_head + GUI_RING - (unsigned)np + (unsigned)k) % GUI_RING];
      if (v == v && v > max)
        max = v;
    }
  set_color(r, C_BORDER, 255);
  SDL_RenderDrawLine(r->ren, pl.x, pl.y + pl.h, pl.x + pl.w, pl.y + pl.h);
  char mx[24];
  fmt_rate(mx, sizeof mx, max);
  textf(r, F_SMALL, pl.x + pl.w - S(r, 70), pl.y - S(r, 2), S(r, 70), C_DIM, "max %s", mx);
  if (np < 2 || max <= 0)
    return;
  /* A young run spreads its few seconds over at least a minute's width, then the chart
   * scrolls. */
  int span = np > 60 ? np : 60;
  double step = (double)pl.w / (span - 1);
  for (int i = 0; i < n; i++) {
    SDL_Point pts[GUI_RING];
    int m = 0;
    set_color(r, colors[i], 255);
    for (int k = 0; k < np; k++) {
      float v = s->ring[ser[i]][(s->ring_head + GUI_RING - (unsigned)np + (unsigned)k) % GUI_RING];
      if (!(v == v)) {
        if (m > 1)
          SDL_RenderDrawLines(r->ren, pts, m);
        m = 0;
        continue;
      }
      pts[m].x = pl.x + pl.w - (int)((np - 1 - k) * step);
      pts[m].y = pl.y + pl.h - (int)(v / max * pl.h);
      m++;
    }
    if (m > 1)
      SDL_RenderDrawLines(r->ren, pts, m);
    else if (m == 1)
      SDL_RenderDrawPoint(r->ren, pts[0].x, pts[0].y);
  }
}

static void draw_charts(struct gui_render *r) {
  if (r->charts.h <= 0)
    return;
  int gap = S(r, 6), w = (r->charts.w - 2 * gap) / 3;
  SDL_Rect a = {r->charts.x, r->charts.y, w, r->charts.h};
  static const int s1[] = {GUI_SER_REPORTS, GUI_SER_CMDS};
  static const uint32_t c1[] = {C_OK, C_FLASH};
  static const char *const n1[] = {"reports", "cmds"};
  chart(r, a, "Traffic /s", s1, 2, c1, n1, "");
  a.x += w + gap;
  static const int s2[] = {GUI_SER_P50, GUI_SER_P90, GUI_SER_P99};
  static const uint32_t c2[] = {C_OK, C_WARN, C_BAD};
  static const char *const n2[] = {"p50", "p90", "p99"};
  chart(r, a, "Report ack ms", s2, 3, c2, n2, "");
  a.x += w + gap;
  a.w = r->charts.x + r->charts.w - a.x;
  static const int s3[] = {GUI_SER_ONLINE};
  static const uint32_t c3[] = {C_ACCENT};
  static const char *const n3[] = {"online"};
  chart(r, a, "Hubs", s3, 1, c3, n3, "");
}

/* A section title in the side panel; returns the y below it. */
static int section(struct gui_render *r, int y, const char *title) {
  int x = r->side.x + S(r, 10);
  set_color(r, C_BORDER, 255);
  SDL_RenderDrawLine(r->ren, r->side.x, y, r->side.x + r->side.w, y);
  text(r, F_NORMAL, x, y + S(r, 3), r->side.w - S(r, 20), C_ACCENT, title);
  return y + line_h(r, F_NORMAL) + S(r, 6);
}

static int side_line(struct gui_render *r, int y, uint32_t c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int side_line(struct gui_render *r, int y, uint32_t c, const char *fmt, ...) {
  char buf[TC_STR];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (y + line_h(r, F_SMALL) <= r->side.y + r->side.h)
    text(r, F_SMALL, r->side.x + S(r, 12), y, r->side.w - S(r, 24), c, buf);
  return y + line_h(r, F_SMALL);
}

static void draw_side(struct gui_render *r) {
  const struct gui_snap *s = r->fs;
  const struct sim_fleet_stats *st = &s->st;
  fill(r, r->side, C_PANEL);
  int y = r->side.y + S(r, 4);
  int x0 = r->side.x + S(r, 10), x1 = r->side.x + r->side.w - S(r, 10);
  char sp[32];

  /* Scenario controls. */
  y = section(r, y, "Scenario");
  int vc = s->hd.virtual_clock;
  struct flow f = {x0, x1, x0, y, y};
  flow_button(r, &f, s->hd.paused ? "Resume (p)" : "Pause (p)", "pause", B_PAUSE, 0,
              (s->controls & GUI_HAVE_PAUSE) != 0, C_ACCENT);
  flow_button(r, &f, "Step (s)", "step", B_STEP, 0, vc && (s->controls & GUI_HAVE_STEP), C_ACCENT);
  flow_button(r, &f, "- slower", "slower", B_SLOWER, 0, vc && (s->controls & GUI_HAVE_SPEED),
              C_ACCENT);
  if (vc && s->hd.speed > 0)
    snprintf(sp, sizeof sp, "x%g", s->hd.speed);
  else
    snprintf(sp, sizeof sp, vc ? "max" : "real");
  flow_button(r, &f, "+ faster", "faster", B_FASTER, 0, vc && (s->controls & GUI_HAVE_SPEED),
              C_ACCENT);
  flow_button(r, &f, "Fit (0)", "fit", B_FIT, 0, 1, C_ACCENT);
  flow_button(r, &f, "Quit (q)", "quit", B_QUIT, 0, (s->controls & GUI_HAVE_QUIT) != 0, C_BAD);
  y = f.h + S(r, 6);
  char el[16], du[16];
  fmt_dur(el, sizeof el, s->hd.elapsed_s);
  fmt_dur(du, sizeof du, s->hd.duration_s);
  y = side_line(r, y, C_TEXT, "phase %s   speed %s   %s / %s", *s->phase ? s->phase : "-", sp, el,
                du);
  y = side_line(r, y, C_DIM, "%s", s->platform);
  y += S(r, 6);

  /* Fleet figures. */
  y = section(r, y, "Fleet");
  y = side_line(r, y, C_TEXT, "hubs %u   online %u   devices %u", st->hubs,
                st->hubs_by_state[SIM_HUB_OPEN], st->devices);
  y = side_line(r, y, C_DIM, "connecting %u  auth %u  backoff %u  offline %u  idle %u",
                st->hubs_by_state[SIM_HUB_CONNECTING], st->hubs_by_state[SIM_HUB_HANDSHAKE],
                st->hubs_by_state[SIM_HUB_BACKOFF], st->hubs_by_state[SIM_HUB_STOPPED],
                st->hubs_by_state[SIM_HUB_IDLE]);
  y = side_line(r, y, C_TEXT, "reports %llu  acked %llu  cmds %llu  disconnects %llu",
                (unsigned long long)st->kind[SIM_SEQ_REPORT].sent,
                (unsigned long long)st->kind[SIM_SEQ_REPORT].acked,
                (unsigned long long)st->commands_received, (unsigned long long)st->disconnects);
  y += S(r, 6);

  /* The selection. */
  const struct gui_detail *d = cur_detail(r);
  if (r->sel_hub < 0) {
    y = section(r, y, "Selection");
    y = side_line(r, y, C_DIM, "click a hub or a device on the map");
  } else if (!d) {
    y = section(r, y, "Selection");
    y = side_line(r, y, C_DIM, "reading %s...", r->g->hub_ids[r->sel_hub]);
  } else if (!d->has_dev || r->sel_slot < 0) {
    char t[64];
    snprintf(t, sizeof t, "Hub %s", r->g->hub_ids[d->hub]);
    y = section(r, y, t);
    y = side_line(r, y, hub_color(d->hub_state), "%s   devices %u joined of %u slots",
                  hub_state_label(d->hub_state), d->joined, d->slots);
    y += S(r, 4);
    struct flow ff = {x0, x1, x0, y, y};
    for (int i = 0; i < N_FAULTS; i++) {
      char id[48];
      snprintf(id, sizeof id, "fault:%s", faults[i][0]);
      flow_button(r, &ff, faults[i][0], id, B_FAULT, i, (s->controls & GUI_HAVE_FAULT) != 0,
                  C_WARN);
    }
    y = ff.h + S(r, 6);
  } else {
    char t[96];
    snprintf(t, sizeof t, "%s slot %lld", r->g->hub_ids[d->hub], (long long)d->slot);
    y = section(r, y, t);
    y = side_line(r, y, C_TEXT, "%s", d->model_id);
    y = side_line(r, y, C_DIM, "%s %s (%s)  %s", d->vendor, d->vendor_model, d->manufacturer,
                  d->category);
    y = side_line(r, y, d->joined_dev ? C_OK : C_BAD, "%s   lqi %u   %s%s%s",
                  d->joined_dev ? "joined" : "left the network", d->lqi,
                  d->battery ? "battery" : "mains", d->router ? ", router" : "",
                  d->sleepy ? ", sleepy" : "");
    y = side_line(r, y, C_DIM, "eui64 %016llx", (unsigned long long)d->eui64);
    /* Values: two per line. */
    for (int i = 0; i < d->n_ch; i += 2) {
      char a[64], b[64] = "";
      snprintf(a, sizeof a, "%s %.4g%s%s", d->ch[i].name, d->ch[i].v, d->ch[i].unit[0] ? " " : "",
               d->ch[i].unit);
      if (i + 1 < d->n_ch)
        snprintf(b, sizeof b, "%s %.4g%s%s", d->ch[i + 1].name, d->ch[i + 1].v,
                 d->ch[i + 1].unit[0] ? " " : "", d->ch[i + 1].unit);
      if (y + line_h(r, F_SMALL) > r->side.y + r->side.h)
        break;
      text(r, F_SMALL, x0 + S(r, 2), y, (x1 - x0) / 2 - S(r, 4), C_TEXT, a);
      if (b[0])
        text(r, F_SMALL, x0 + (x1 - x0) / 2, y, (x1 - x0) / 2, C_TEXT, b);
      y += line_h(r, F_SMALL);
    }
    y += S(r, 4);
    struct flow ff = {x0, x1, x0, y, y};
    for (int i = 0; i < d->n_trig; i++) {
      char id[48];
      snprintf(id, sizeof id, "trigger:%s", d->trig[i]);
      flow_button(r, &ff, d->trig[i], id, B_TRIGGER, i, (s->controls & GUI_HAVE_TRIGGER) != 0,
                  C_OK);
    }
    if (d->n_trig) {
      ff.x = ff.x0;
      ff.y = ff.h + S(r, 4);
    }
    for (int i = 0; i < d->n_cmd; i++) {
      char id[48], label[48];
      snprintf(id, sizeof id, "command:%s:%u", d->cmd[i].label, d->cmd[i].ep);
      snprintf(label, sizeof label, "%s ep%u", d->cmd[i].label, d->cmd[i].ep);
      flow_button(r, &ff, label, id, B_COMMAND, i, (s->controls & GUI_HAVE_COMMAND) != 0, C_FLASH);
    }
    y = (d->n_trig || d->n_cmd ? ff.h : y) + S(r, 4);
    struct flow fb = {x0, x1, x0, y, y};
    flow_button(r, &fb, "< hub (esc)", "back", B_BACK, 0, 1, C_BORDER);
    y = fb.h + S(r, 6);
  }

  /* Expectations. */
  if (s->n_exp) {
    /* Failures (no data at the end is one) first, then the pending ones, then the passed. A
     * pending one says when it is judged. */
    int pass = 0, fail = 0;
    for (int i = 0; i < s->n_exp; i++) {
      pass += s->exp[i].verdict == UI_PASS;
      fail += s->exp[i].verdict == UI_FAIL || s->exp[i].verdict == UI_NO_DATA;
    }
    char t[128];
    snprintf(t, sizeof t, "Expectations  %d pass  %d fail  %d pending", pass, fail,
             s->n_exp - pass - fail);
    y = section(r, y, t);
    for (int group = 0; group < 3; group++)
      for (int i = 0; i < s->n_exp; i++) {
        int v = s->exp[i].verdict == UI_NO_DATA ? UI_FAIL : s->exp[i].verdict;
        int want = group == 0 ? UI_FAIL : group == 1 ? UI_PENDING : UI_PASS;
        if (v != want)
          continue;
        const char *tag = v == UI_PASS ? "PASS" : v == UI_FAIL ? "FAIL" : "....";
        uint32_t c = v == UI_PASS ? C_OK : v == UI_FAIL ? C_BAD : C_DIM;
        char val[32] = "no data", note[48] = "";
        /* time units only: "0count" or "1ratio" say nothing */
        const char *u = s->exp[i].unit;
        if (strcmp(u, "ms") != 0 && strcmp(u, "s") != 0)
          u = "";
        if (s->exp[i].value == s->exp[i].value)
          snprintf(val, sizeof val, "%.4g%s", s->exp[i].value, u);
        if (v == UI_PENDING) {
          char from[32];
          fmt_dur(from, sizeof from, s->exp[i].after_s);
          if (s->exp[i].after_s <= 0)
            snprintf(note, sizeof note, "   (at the end)");
          else if (s->hd.elapsed_s < s->exp[i].after_s)
            snprintf(note, sizeof note, "   (from %s)", from);
          else
            snprintf(note, sizeof note, "   (no data yet)");
        }
        y = side_line(r, y, c, "%s  %s   now %s%s", tag, s->exp[i].title, val, note);
      }
    y += S(r, 6);
  }

  /* Recent events: the selected hub's when it has some, else everything. */
  int bottom = r->side.y + r->side.h;
  if (y + line_h(r, F_NORMAL) + line_h(r, F_SMALL) < bottom) {
    const char *filter = r->sel_hub >= 0 ? r->g->hub_ids[r->sel_hub] : NULL;
    char hubno[32];
    if (r->sel_hub >= 0)
      snprintf(hubno, sizeof hubno, "hub %lld ", (long long)r->sel_hub);
    int idx[GUI_LOG], n = 0;
    for (int i = s->n_log - 1; i >= 0 && filter; i--)
      if (strstr(s->log[i], filter) || strstr(s->log[i], hubno))
        idx[n++] = i;
    int filtered = n > 0;
    if (!filtered)
      for (int i = s->n_log - 1; i >= 0; i--)
        idx[n++] = i;
    y = section(r, y, filtered ? "Events (this hub)" : "Events");
    int room = (bottom - y) / line_h(r, F_SMALL);
    if (room > n)
      room = n;
    for (int k = room - 1; k >= 0; k--)
      y = side_line(r, y, C_DIM, "%s", s->log[idx[k]]);
  }
  set_color(r, C_BORDER, 255);
  SDL_RenderDrawLine(r->ren, r->side.x, r->side.y, r->side.x, r->side.y + r->side.h);
}

static void draw_footer(struct gui_render *r) {
  fill(r, r->footer, C_PANEL);
  int x = r->footer.x + S(r, 10), y = r->footer.y + S(r, 3);
  if (r->now < r->msg_until)
    text(r, F_SMALL, x, y, r->footer.w - S(r, 20), r->msg_bad ? C_BAD : C_OK, r->msg);
  else
    text(r, F_SMALL, x, y, r->footer.w - S(r, 20), C_DIM,
         "? help   q quit   p pause   s step   +/- speed   arrows/jk select   enter open   esc "
         "back   t trigger   c command   f fault   0 fit   drag pan   wheel zoom");
}

static void draw_tooltip(struct gui_render *r) {
  int64_t hub, slot;
  if (r->dragging || r->modal || !r->mouse_in || !hit_map(r, r->mx, r->my, &hub, &slot))
    return;
  const struct gui_snap *s = r->fs;
  char l1[96], l2[96];
  int st = s->hub_state[hub];
  if (slot < 0) {
    uint32_t joined = 0;
    for (uint32_t k = 0; k < s->dph; k++)
      joined += (s->dev[(uint64_t)hub * s->dph + k].flags & GUI_DEV_JOINED) != 0;
    snprintf(l1, sizeof l1, "%s", r->g->hub_ids[hub]);
    snprintf(l2, sizeof l2, "%s, %u/%u devices joined", hub_state_label(st), joined, s->dph);
  } else {
    const struct gui_dev *e = &s->dev[(uint64_t)hub * s->dph + (uint64_t)slot];
    snprintf(l1, sizeof l1, "%s slot %lld", r->g->hub_ids[hub], (long long)slot);
    snprintf(l2, sizeof l2, "%s, %s, lqi %u",
             e->model < r->g->n_models ? r->g->model_ids[e->model] : "?",
             (e->flags & GUI_DEV_JOINED) ? "joined" : "left", e->lqi);
  }
  int w = (int)fmax(text_w(r, F_SMALL, l1), text_w(r, F_SMALL, l2)) + S(r, 16);
  int h = 2 * line_h(r, F_SMALL) + S(r, 8);
  int x = r->mx + S(r, 14), y = r->my + S(r, 14);
  if (x + w > r->out_w)
    x = r->mx - w - S(r, 4);
  if (y + h > r->out_h)
    y = r->my - h - S(r, 4);
  SDL_Rect rc = {x, y, w, h};
  fill(r, rc, 0x0c0e11);
  frame_rect(r, rc, C_SEL);
  text(r, F_SMALL, x + S(r, 8), y + S(r, 4), w, C_TEXT, l1);
  text(r, F_SMALL, x + S(r, 8), y + S(r, 4) + line_h(r, F_SMALL), w, C_DIM, l2);
}

static const char *const help_lines[] = {
    "?              this help (any key closes it)",
    "q              quit: asks y/n; y ends the run (drain, summary)",
    "p, space       pause / resume device time",
    "s              step one second while paused (virtual clock)",
    "+ / -          speed up / down (virtual clock)",
    "up/down, j/k   select the previous / next hub (or device)",
    "PgUp/PgDn g/G  a page; the first / the last",
    "enter, l       open: hub -> its first device",
    "esc, h         back: device -> hub -> nothing",
    "t / c / f      trigger an event / send a command / inject a fault",
    "0              fit the whole fleet",
    "mouse          click selects, drag pans, wheel zooms, hover shows details",
};

/* The modal on top: help, the quit question, or a picker. */
static void draw_modal(struct gui_render *r) {
  if (!r->modal)
    return;
  SDL_SetRenderDrawBlendMode(r->ren, SDL_BLENDMODE_BLEND);
  SDL_Rect all = {0, 0, r->out_w, r->out_h};
  set_color(r, 0, 150);
  SDL_RenderFillRect(r->ren, &all);
  SDL_SetRenderDrawBlendMode(r->ren, SDL_BLENDMODE_NONE);
  int lh = line_h(r, F_NORMAL);
  int w = S(r, 560), x = (r->out_w - w) / 2, y0 = r->out_h / 4;
  const struct gui_detail *d = cur_detail(r);
  int n = 0;
  const char *title = "";
  switch (r->modal) {
  case M_HELP:
    n = (int)(sizeof help_lines / sizeof help_lines[0]);
    title = "Keys";
    break;
  case M_QUIT:
    n = 1;
    title = "Quit the run? (y / n)";
    break;
  case M_TRIGGER:
    n = d ? d->n_trig : 0;
    title = "Trigger an event (1-9, esc)";
    break;
  case M_COMMAND:
    n = d ? d->n_cmd : 0;
    title = "Send a command (1-9, esc)";
    break;
  case M_FAULT:
    n = N_FAULTS;
    title = "Inject a fault (1-9, esc)";
    break;
  default:
    break;
  }
  SDL_Rect box = {x, y0, w, (n + 2) * (lh + S(r, 8)) + S(r, 10)};
  fill(r, box, C_PANEL);
  frame_rect(r, box, C_ACCENT);
  text(r, F_NORMAL, x + S(r, 12), y0 + S(r, 8), w - S(r, 24), C_ACCENT, title);
  int y = y0 + S(r, 8) + lh + S(r, 10);
  for (int i = 0; i < n; i++) {
    char label[96], id[24];
    snprintf(id, sizeof id, "pick:%d", i + 1);
    switch (r->modal) {
    case M_HELP:
      text(r, F_SMALL, x + S(r, 16), y, w - S(r, 32), C_TEXT, help_lines[i]);
      y += line_h(r, F_SMALL) + S(r, 2);
      continue;
    case M_QUIT:
      button(r, x + S(r, 16), y, "yes, quit", "pick:1", B_PICK, 1, 1, C_BAD);
      button(r, x + S(r, 140), y, "no", "pick:2", B_PICK, 0, 1, C_BORDER);
      continue;
    case M_TRIGGER:
      snprintf(label, sizeof label, "%d  %s", i + 1, d->trig[i]);
      break;
    case M_COMMAND:
      snprintf(label, sizeof label, "%d  %s  ep %u  0x%04x/0x%02x", i + 1, d->cmd[i].label,
               d->cmd[i].ep, d->cmd[i].cluster, d->cmd[i].command);
      break;
    default:
      snprintf(label, sizeof label, "%d  %-10s %s", i + 1, faults[i][0], faults[i][1]);
      break;
    }
    button(r, x + S(r, 16), y, label, id, B_PICK, i, 1, C_ACCENT);
    y += lh + S(r, 8);
  }
}

/* ---- input -------------------------------------------------------------------------------------
 */

static void select_hub(struct gui_render *r, int64_t hub, int64_t slot) {
  r->sel_hub = hub;
  r->sel_slot = slot;
  if (hub < 0)
    return;
  /* Keep a keyboard selection in view. */
  double cs = GUI_CELL * r->scale;
  double x = ((double)(hub % r->cols) * GUI_CELL - r->ox) * r->scale;
  double y = ((double)(hub / r->cols) * GUI_CELL - r->oy) * r->scale;
  if (x < 0 || y < 0 || x + cs > r->map.w || y + cs > r->map.h)
    center_on_hub(r, (uint32_t)hub);
}

static void open_picker(struct gui_render *r, int which) {
  const struct gui_detail *d = cur_detail(r);
  if (which == M_FAULT) {
    if (r->sel_hub < 0) {
      local_msg(r, 1, "select a hub first");
      return;
    }
    if (!(r->fs->controls & GUI_HAVE_FAULT)) {
      local_msg(r, 1, "injecting faults is not available in this run");
      return;
    }
    r->modal = M_FAULT;
    return;
  }
  if (!d || !d->has_dev || r->sel_slot < 0) {
    local_msg(r, 1, "select a device first: click it on the map, or enter on a hub");
    return;
  }
  if (which == M_TRIGGER && !d->n_trig) {
    local_msg(r, 1, "this model has no events to trigger");
    return;
  }
  if (which == M_COMMAND && !d->n_cmd) {
    local_msg(r, 1, "this model takes no commands without arguments");
    return;
  }
  r->modal = which;
}

static void pick(struct gui_render *r, int i) {
  int m = r->modal;
  r->modal = M_NONE;
  if (m == M_TRIGGER)
    do_trigger(r, i);
  else if (m == M_COMMAND)
    do_command(r, i);
  else if (m == M_FAULT)
    do_fault(r, i);
  else if (m == M_QUIT && i == 1)
    do_quit(r);
}

static void click_button(struct gui_render *r, const struct gui_btn *b) {
  if (!b->enabled) {
    local_msg(r, 1, "not available in this run");
    return;
  }
  switch (b->act) {
  case B_PAUSE:
    act_simple(r, GUI_ACT_PAUSE, 0);
    break;
  case B_STEP:
    act_simple(r, GUI_ACT_STEP, 0);
    break;
  case B_SLOWER:
    do_speed(r, 0);
    break;
  case B_FASTER:
    do_speed(r, 1);
    break;
  case B_FIT:
    fit(r);
    break;
  case B_QUIT:
    r->modal = M_QUIT;
    break;
  case B_TRIGGER:
    do_trigger(r, b->arg);
    break;
  case B_COMMAND:
    do_command(r, b->arg);
    break;
  case B_FAULT:
    do_fault(r, b->arg);
    break;
  case B_PICK:
    pick(r, b->arg);
    break;
  case B_BACK:
    r->sel_slot = -1;
    break;
  default:
    break;
  }
}

static void click(struct gui_render *r, int x, int y) {
  for (int i = r->n_btn - 1; i >= 0; i--) {
    const struct gui_btn *b = &r->btn[i];
    if (x >= b->x && x < b->x + b->w && y >= b->y && y < b->y + b->h) {
      click_button(r, b);
      return;
    }
  }
  if (r->modal) {
    if (r->modal == M_HELP)
      r->modal = M_NONE;
    return;
  }
  int64_t hub, slot;
  if (hit_map(r, x, y, &hub, &slot))
    select_hub(r, hub, slot);
  else if (x >= r->map.x && x < r->map.x + r->map.w && y >= r->map.y && y < r->map.y + r->map.h)
    select_hub(r, -1, -1);
}

static void nav(struct gui_render *r, long delta) {
  const struct gui_snap *s = r->fs;
  if (!s->n_hubs)
    return;
  if (r->sel_hub >= 0 && r->sel_slot >= 0) {
    long v = (long)r->sel_slot + delta;
    v = v < 0 ? 0 : v >= (long)s->dph ? (long)s->dph - 1 : v;
    r->sel_slot = v;
    return;
  }
  long v = r->sel_hub < 0 ? 0 : (long)r->sel_hub + delta;
  v = v < 0 ? 0 : v >= (long)s->n_hubs ? (long)s->n_hubs - 1 : v;
  select_hub(r, v, -1);
}

static void key(struct gui_render *r, const SDL_KeyboardEvent *k) {
  SDL_Keycode c = k->keysym.sym;
  int shift = (k->keysym.mod & KMOD_SHIFT) != 0;
  if (r->modal == M_HELP) {
    r->modal = M_NONE;
    return;
  }
  if (r->modal == M_QUIT) {
    r->modal = M_NONE;
    if (c == SDLK_y)
      do_quit(r);
    else
      local_msg(r, 0, "quit cancelled");
    return;
  }
  if (r->modal) {
    if (c >= SDLK_1 && c <= SDLK_9)
      pick(r, (int)(c - SDLK_1));
    else if (c == SDLK_ESCAPE || c == SDLK_q || c == SDLK_BACKSPACE || c == SDLK_LEFT)
      r->modal = M_NONE;
    return;
  }
  long page = 10;
  switch (c) {
  case SDLK_SLASH:
    if (shift)
      r->modal = M_HELP;
    break;
  case SDLK_QUESTION:
    r->modal = M_HELP;
    break;
  case SDLK_q:
    if (!(r->fs->controls & GUI_HAVE_QUIT))
      local_msg(r, 1, "quitting is not available in this run");
    else if (r->quit_asked)
      local_msg(r, 0, "already quitting: waiting for the drain");
    else
      r->modal = M_QUIT;
    break;
  case SDLK_p:
  case SDLK_SPACE:
    act_simple(r, GUI_ACT_PAUSE, 0);
    break;
  case SDLK_s:
    act_simple(r, GUI_ACT_STEP, 0);
    break;
  case SDLK_PLUS:
  case SDLK_EQUALS:
  case SDLK_KP_PLUS:
    do_speed(r, 1);
    break;
  case SDLK_MINUS:
  case SDLK_UNDERSCORE:
  case SDLK_KP_MINUS:
    do_speed(r, 0);
    break;
  case SDLK_UP:
  case SDLK_k:
    nav(r, -1);
    break;
  case SDLK_DOWN:
  case SDLK_j:
    nav(r, 1);
    break;
  case SDLK_PAGEUP:
    nav(r, -page);
    break;
  case SDLK_PAGEDOWN:
    nav(r, page);
    break;
  case SDLK_HOME:
    nav(r, -(1L << 30));
    break;
  case SDLK_END:
    nav(r, 1L << 30);
    break;
  case SDLK_g:
    nav(r, shift ? 1L << 30 : -(1L << 30));
    break;
  case SDLK_RETURN:
  case SDLK_KP_ENTER:
  case SDLK_RIGHT:
  case SDLK_l:
    if (r->sel_hub < 0)
      nav(r, 0);
    else if (r->sel_slot < 0 && r->fs->dph)
      r->sel_slot = 0;
    break;
  case SDLK_ESCAPE:
  case SDLK_LEFT:
  case SDLK_BACKSPACE:
  case SDLK_h:
    if (r->sel_slot >= 0)
      r->sel_slot = -1;
    else
      r->sel_hub = -1;
    break;
  case SDLK_t:
    open_picker(r, M_TRIGGER);
    break;
  case SDLK_c:
    open_picker(r, M_COMMAND);
    break;
  case SDLK_f:
    open_picker(r, M_FAULT);
    break;
  case SDLK_0:
    fit(r);
    break;
  default:
    break;
  }
}

static void handle(struct gui_render *r, const SDL_Event *e) {
  /* What the user does, and the window being resized, uncovered or entered, shows in the next
   * frame; other events (SDL's internal ones) change nothing on screen. */
  switch (e->type) {
  case SDL_QUIT:
  case SDL_WINDOWEVENT:
  case SDL_MOUSEMOTION:
  case SDL_MOUSEBUTTONDOWN:
  case SDL_MOUSEBUTTONUP:
  case SDL_MOUSEWHEEL:
  case SDL_KEYDOWN:
  case SDL_RENDER_TARGETS_RESET:
  case SDL_RENDER_DEVICE_RESET:
    r->dirty = 1;
    break;
  default:
    break;
  }
  switch (e->type) {
  case SDL_QUIT:
    if (!r->quit_asked && (r->fs->controls & GUI_HAVE_QUIT))
      do_quit(r);
    break;
  case SDL_WINDOWEVENT:
    if (e->window.event == SDL_WINDOWEVENT_LEAVE)
      r->mouse_in = 0;
    break;
  case SDL_MOUSEMOTION: {
    r->mx = (int)(e->motion.x * r->dpi);
    r->my = (int)(e->motion.y * r->dpi);
    r->mouse_in = 1;
    if (r->pressing) {
      int dx = r->mx - r->down_x, dy = r->my - r->down_y;
      if (!r->dragging && dx * dx + dy * dy > S(r, 4) * S(r, 4))
        r->dragging = 1;
      if (r->dragging) {
        r->ox = r->down_ox - dx / r->scale;
        r->oy = r->down_oy - dy / r->scale;
        r->fitted = 0;
      }
    }
    break;
  }
  case SDL_MOUSEBUTTONDOWN:
    if (e->button.button != SDL_BUTTON_LEFT)
      break;
    r->mx = (int)(e->button.x * r->dpi);
    r->my = (int)(e->button.y * r->dpi);
    r->mouse_in = 1;
    r->pressing = 1;
    r->dragging = 0;
    r->down_x = r->mx;
    r->down_y = r->my;
    r->down_ox = r->ox;
    r->down_oy = r->oy;
    break;
  case SDL_MOUSEBUTTONUP:
    if (e->button.button != SDL_BUTTON_LEFT)
      break;
    r->mx = (int)(e->button.x * r->dpi);
    r->my = (int)(e->button.y * r->dpi);
    if (r->pressing && !r->dragging)
      click(r, r->mx, r->my);
    r->pressing = r->dragging = 0;
    break;
  case SDL_MOUSEWHEEL:
    if (r->mx >= r->map.x && r->mx < r->map.x + r->map.w && r->my >= r->map.y &&
        r->my < r->map.y + r->map.h && e->wheel.y != 0)
      zoom_at(r, r->scale * pow(1.25, e->wheel.y), r->mx - r->map.x, r->my - r->map.y);
    break;
  case SDL_KEYDOWN:
    key(r, &e->key);
    break;
  default:
    break;
  }
}

/* ---- the frame ------------------------------------------------------------------------------- */

static void layout(struct gui_render *r) {
  int ww, wh;
  SDL_GetWindowSize(r->win, &ww, &wh);
  SDL_GetRendererOutputSize(r->ren, &r->out_w, &r->out_h);
  r->win_w = ww;
  r->win_h = wh;
  double dpi = ww > 0 ? (double)r->out_w / ww : 1;
  if (dpi < 1)
    dpi = 1;
  int px = (int)lround(13 * dpi);
  if (px != r->font_px) {
    static const double sizes[F_N] = {13, 11.5, 17};
    for (int i = 0; i < F_N; i++) {
      TTF_Font *nf = TTF_OpenFont(r->g->font_path, (int)lround(sizes[i] * dpi));
      if (!nf)
        continue;
      if (r->font[i])
        TTF_CloseFont(r->font[i]);
      r->font[i] = nf;
    }
    for (int i = 0; i < TC_SIZE; i++)
      if (r->tc[i].tex) {
        SDL_DestroyTexture(r->tc[i].tex);
        r->tc[i].tex = NULL;
      }
    r->font_px = px;
  }
  int old_w = r->map.w, old_h = r->map.h;
  r->dpi = dpi;
  int W = r->out_w, H = r->out_h;
  int side_w = S(r, 380);
  if (side_w > W / 2)
    side_w = W / 2;
  int head_h = S(r, 32), foot_h = S(r, 22);
  int chart_h = H >= S(r, 560) ? S(r, 150) : H / 5;
  r->header = (SDL_Rect){0, 0, W, head_h};
  r->footer = (SDL_Rect){0, H - foot_h, W, foot_h};
  r->side = (SDL_Rect){W - side_w, head_h, side_w, H - head_h - foot_h};
  int pad = S(r, 6);
  r->charts = (SDL_Rect){pad, H - foot_h - chart_h - pad, W - side_w - 2 * pad, chart_h};
  r->map =
      (SDL_Rect){pad, head_h + pad, W - side_w - 2 * pad, H - head_h - foot_h - chart_h - 3 * pad};
  if (r->map.h < 0)
    r->map.h = 0;
  if (r->fitted || !r->scale)
    fit(r);
  else if (old_w != r->map.w || old_h != r->map.h)
    layout_fleet(r);
}

/* Takes the latest snapshot when there is a newer one (the frame and the map are then dirty);
 * notes which devices reported since. */
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
    layout_fleet(r);
    if (zc <= 0) {
      fit(r);
    } else {
      r->scale = zc / GUI_CELL;
      r->fitted = 0;
      if (zh >= 0 && (uint64_t)zh < r->fs->n_hubs)
        center_on_hub(r, (uint32_t)zh);
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

/* Writes the frame being drawn as a PNG through sim_wfile (a new temporary file created
 * exclusively, never through a link, then renamed), so a reader never sees a half-written file. */
static int write_png(struct gui_render *r, const char *path) {
  SDL_Surface *sf =
      SDL_CreateRGBSurfaceWithFormat(0, r->out_w, r->out_h, 32, SDL_PIXELFORMAT_ARGB8888);
  if (!sf)
    return SIM_ENOMEM;
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (rc) {
    fprintf(stderr, "hubsim gui: screenshot '%s': %s\n", path, sim_strerror(rc));
    SDL_FreeSurface(sf);
    return rc;
  }
  /* The stream stays the writer's: SDL frees its RWops (freedst) without closing the file. */
  SDL_RWops *rw = SDL_RWFromFP(w.fp, SDL_FALSE);
  int ok = rw &&
           SDL_RenderReadPixels(r->ren, NULL, SDL_PIXELFORMAT_ARGB8888, sf->pixels, sf->pitch) == 0;
  if (ok)
    ok = IMG_SavePNG_RW(sf, rw, 1) == 0;
  else if (rw)
    SDL_RWclose(rw);
  if (!ok) {
    fprintf(stderr, "hubsim gui: screenshot '%s': %s\n", path, SDL_GetError());
    rc = SIM_EIO;
    sim_wfile_abort(&w);
  } else {
    rc = sim_wfile_commit(&w);
  }
  SDL_FreeSurface(sf);
  return rc;
}

/* A screenshot is due with this snapshot: the frame must be drawn to be read back. */
static int shot_due(struct gui_render *r) {
  struct ui_gui *g = r->g;
  pthread_mutex_lock(&g->mu);
  int due = g->shot_pending && r->fs->seq > g->shot_after_seq;
  pthread_mutex_unlock(&g->mu);
  return due || (g->o.screenshot_path && !r->opt_shot_done &&
                 r->fs->hd.elapsed_s >= g->o.screenshot_after_s);
}

static void screenshots(struct gui_render *r) {
  struct ui_gui *g = r->g;
  char path[512] = "";
  pthread_mutex_lock(&g->mu);
  if (g->shot_pending && r->fs->seq > g->shot_after_seq)
    snprintf(path, sizeof path, "%s", g->shot_path);
  pthread_mutex_unlock(&g->mu);
  if (path[0]) {
    int rc = write_png(r, path);
    pthread_mutex_lock(&g->mu);
    g->shot_pending = 0;
    g->info.screenshots++;
    g->info.screenshot_rc = rc;
    pthread_mutex_unlock(&g->mu);
  }
  if (g->o.screenshot_path && !r->opt_shot_done && r->fs->hd.elapsed_s >= g->o.screenshot_after_s) {
    r->opt_shot_done = 1;
    int rc = write_png(r, g->o.screenshot_path);
    pthread_mutex_lock(&g->mu);
    g->info.screenshots++;
    g->info.screenshot_rc = rc;
    pthread_mutex_unlock(&g->mu);
    if (g->o.exit_after_screenshot)
      do_quit(r);
  }
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

/* The background around the map and under the charts. Every other part paints its whole
 * rectangle (header, side panel, footer: fills; the map: its texture), so only the gaps between
 * them are cleared, not the whole window once more per frame. Without a map texture (a window
 * too small, no memory) the whole window is cleared before anything else is drawn. */
static void clear_gaps(struct gui_render *r) {
  set_color(r, C_BG, 255);
  if (!r->map_tex || r->map.w <= 0 || r->map.h <= 0) {
    SDL_RenderClear(r->ren);
    return;
  }
  int top = r->header.y + r->header.h, right = r->side.x, bottom = r->footer.y;
  int mr = r->map.x + r->map.w, mb = r->map.y + r->map.h;
  SDL_Rect gaps[4] = {{0, top, right, r->map.y - top},
                      {0, r->map.y, r->map.x, bottom - r->map.y},
                      {mr, r->map.y, right - mr, bottom - r->map.y},
                      {r->map.x, mb, r->map.w, bottom - mb}};
  for (int i = 0; i < 4; i++)
    if (gaps[i].w > 0 && gaps[i].h > 0)
      SDL_RenderFillRect(r->ren, &gaps[i]);
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
    handle(r, &e);
  for (int i = 0; i < n_ev; i++)
    handle(r, &r->ev[i]);
  if (r->sel_hub >= (int64_t)r->fs->n_hubs)
    r->sel_hub = r->sel_slot = -1;
  if (r->force_draw) /* uncapped: every frame drawn in full, the map's pixels too */
    r->dirty = r->map_dirty = 1;
  map_check(r);
  if (r->n_fl > 0)
    r->dirty = 1; /* a command's path moving */
  if (r->msg_until > r->drawn_at && r->msg_until <= r->now)
    r->dirty = 1; /* the message gives way to the key hints */
  if (!r->dirty && shot_due(r))
    r->dirty = 1;
  r->ticks++;
  r->fps_ticks++;
  int drawn = r->dirty;
  if (drawn) {
    r->dirty = 0;
    r->drawn_at = r->now;
    r->frame++;
    r->fps_frames++;
    r->n_btn = 0;
    draw_map(r);
    clear_gaps(r);
    draw_charts(r);
    draw_header(r);
    draw_side(r);
    draw_footer(r);
    draw_tooltip(r);
    draw_modal(r);
    screenshots(r);
    SDL_RenderPresent(r->ren);
    /* Forget strings not drawn for a while (a log line scrolled away, an old value). */
    if (r->frame % 64 == 0)
      for (int i = 0; i < TC_SIZE; i++)
        if (r->tc[i].tex && r->frame - r->tc[i].used > 256) {
          SDL_DestroyTexture(r->tc[i].tex);
          r->tc[i].tex = NULL;
        }
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
  if (r->tc) {
    for (int i = 0; i < TC_SIZE; i++)
      if (r->tc[i].tex)
        SDL_DestroyTexture(r->tc[i].tex);
    free(r->tc);
  }
  if (r->map_tex)
    SDL_DestroyTexture(r->map_tex);
  for (int i = 0; i < F_N; i++)
    if (r->font[i])
      TTF_CloseFont(r->font[i]);
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
  r->tc = calloc(TC_SIZE, sizeof *r->tc);
  r->prev_act = calloc(nd ? nd : 1, 1);
  r->dev_pulse = calloc(nd ? nd : 1, sizeof(float));
  r->hub_pulse = calloc(ss->n_hubs ? ss->n_hubs : 1, sizeof(float));
  if (!r->fs || !r->tc || !r->prev_act || !r->dev_pulse || !r->hub_pulse)
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
  fade_tables(r);
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
  if (!r->font[F_NORMAL] || !r->font[F_SMALL] || !r->font[F_BIG]) {
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
