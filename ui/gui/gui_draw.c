/* Drawing on the render thread: one frame from the snapshot being drawn (r->fs) and the view.
 *
 * The fleet map is drawn into a streaming texture's pixels directly (tiles, discs, rings): at
 * 10,000 hubs the software renderer would spend most of a frame in per-primitive overhead
 * otherwise. Its pixels are drawn anew only when gui__map_check() says so; otherwise the texture
 * is copied as it is. Text goes through the cache of gui_text.c.
 *
 * Layout (gui_render.c; pixels, scaled with the renderer's output size): a header bar with the
 * timeline, the map, the charts under it, a side panel on the right (scenario controls, fleet
 * figures, the selection with its buttons, expectations, recent events), a footer with the last
 * message or the key hints, and a modal on top (help, the quit question, a picker). Buttons are
 * registered as they are drawn (r->btn), for clicks and ui_gui_locate(). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ui/common/ui_fmt.h"
#include "ui/common/ui_offer.h"
#include "ui/gui/gui_internal.h"

/* ---- colours ----------------------------------------------------------------------------- */

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

/* ---- SDL primitives ----------------------------------------------------------------------- */

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

/* A button: drawn, and registered for clicks and ui_gui_locate(). */
static int button(struct gui_render *r, int x, int y, const char *label, const char *id, int act,
                  int arg, int enabled, uint32_t accent) {
  int pad = gui__px(r, 7), h = gui__line_h(r, GUI_FONT_SMALL) + gui__px(r, 6);
  int w = gui__text_w(r, GUI_FONT_SMALL, label) + 2 * pad;
  SDL_Rect rc = {x, y, w, h};
  int hot = enabled && r->mx >= x && r->mx < x + w && r->my >= y && r->my < y + h;
  fill(r, rc, hot ? C_BTN_HOT : C_BTN);
  frame_rect(r, rc, enabled ? accent : C_BORDER);
  gui__text(r, GUI_FONT_SMALL, x + pad, y + gui__px(r, 3), w, enabled ? C_TEXT : C_DIM, label);
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
  int w = gui__text_w(r, GUI_FONT_SMALL, label) + 2 * gui__px(r, 7);
  int h = gui__line_h(r, GUI_FONT_SMALL) + gui__px(r, 6);
  if (f->x > f->x0 && f->x + w > f->x1) {
    f->x = f->x0;
    f->y += h + gui__px(r, 4);
  }
  f->x += button(r, f->x, f->y, label, id, act, arg, enabled, accent) + gui__px(r, 5);
  f->h = f->y + h;
}

/* ---- the map ------------------------------------------------------------------------------ */

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
void gui__draw_init(struct gui_render *r) {
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
      double dr = gui__view_dot_radius(s->dph) * r->scale;
      for (uint32_t k = 0; k < s->dph; k++) {
        const struct gui_dev *e = &s->dev[hub * s->dph + k];
        if (!(e->flags & GUI_DEV_PRESENT))
          continue;
        double dx, dy;
        gui__view_dev_pos(r, (uint32_t)hub, k, &dx, &dy);
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
      double dx, dy, dr = gui__view_dot_radius(s->dph) * r->scale;
      gui__view_dev_pos(r, hub, (uint32_t)r->sel_slot, &dx, &dy);
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
    double px = r->map.x + gui__px(r, 18), py = r->map.y + gui__px(r, 18);
    double hx = r->map.x + ((r->fl[i].hub % r->cols + 0.5) * GUI_CELL - r->ox) * r->scale;
    double hy = r->map.y + ((r->fl[i].hub / r->cols + 0.5) * GUI_CELL - r->oy) * r->scale;
    double dx, dy;
    gui__view_dev_pos(r, r->fl[i].hub, r->fl[i].slot, &dx, &dy);
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
      SDL_Rect b = {(int)bx - gui__px(r, 4), (int)by - gui__px(r, 4), gui__px(r, 8), gui__px(r, 8)};
      set_color(r, 0xffffff, 255);
      SDL_RenderFillRect(r->ren, &b);
    }
    SDL_SetRenderDrawBlendMode(r->ren, SDL_BLENDMODE_NONE);
  }
  r->n_fl = keep;
}

/* Notes whether the map's pixels must be drawn anew: the view or the selection moved since they
 * were drawn, or their halos are still fading and GUI_ANIM_S has passed. A new snapshot sets
 * map_dirty itself. */
#define GUI_ANIM_S 0.1
void gui__map_check(struct gui_render *r) {
  r->level = gui__view_level(r);
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

/* The map's texture, made for the map's size, its pixels drawn anew when gui__map_check() said
 * so, copied to the window. 0 when there is none to copy (no memory, a texture that would not
 * lock). */
static int map_texture(struct gui_render *r) {
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
    return 0;
  if (r->map_dirty) {
    void *pixels;
    int pitch;
    if (SDL_LockTexture(r->map_tex, NULL, &pixels, &pitch) != 0)
      return 0;
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
  return 1;
}

/* Hub ids, at full detail (a cell is large enough to hold one). */
static void map_labels(struct gui_render *r) {
  const struct gui_snap *s = r->fs;
  double cs = GUI_CELL * r->scale;
  if (r->level != 2 || !s->n_hubs)
    return;
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
      int x = r->map.x + (int)((col * GUI_CELL - r->ox) * r->scale) + gui__px(r, 4);
      int y = r->map.y + (int)((row * GUI_CELL - r->oy) * r->scale) + gui__px(r, 2);
      gui__text(r, GUI_FONT_SMALL, x, y, (int)(cs * 0.42), C_DIM, id);
    }
  SDL_RenderSetClipRect(r->ren, NULL);
}

/* The platform's anchor (where command paths start) and the legend along the map's bottom. */
static void map_legend(struct gui_render *r) {
  const struct gui_snap *s = r->fs;
  SDL_Rect pa = {r->map.x + gui__px(r, 12), r->map.y + gui__px(r, 12), gui__px(r, 12),
                 gui__px(r, 12)};
  fill(r, pa, C_ACCENT);
  gui__text(r, GUI_FONT_SMALL, pa.x + gui__px(r, 16), pa.y - gui__px(r, 2), gui__px(r, 80),
            C_ACCENT, "platform");
  /* Legend. */
  static const struct {
    uint32_t c;
    const char *t;
  } leg[] = {{C_OK, "online"},   {C_WARN, "connecting"}, {C_BAD, "backoff"},
             {C_OFF, "offline"}, {C_IDLE, "idle/left"},  {C_WEAK, "weak link"}};
  int lx = r->map.x + gui__px(r, 10),
      ly = r->map.y + r->map.h - gui__line_h(r, GUI_FONT_SMALL) - gui__px(r, 6);
  SDL_Rect lb = {r->map.x + 1, ly - gui__px(r, 3), r->map.w - 2,
                 r->map.y + r->map.h - ly + gui__px(r, 2)};
  fill(r, lb, 0x101317);
  for (size_t i = 0; i < sizeof leg / sizeof leg[0]; i++) {
    SDL_Rect sw = {lx, ly + gui__px(r, 4), gui__px(r, 10), gui__px(r, 10)};
    fill(r, sw, leg[i].c);
    lx += gui__px(r, 14);
    lx += gui__text(r, GUI_FONT_SMALL, lx, ly, gui__px(r, 120), C_DIM, leg[i].t) + gui__px(r, 12);
  }
  const char *lvl = r->level == 0   ? "tiles by health (zoom in for devices)"
                    : r->level == 1 ? "hubs and devices"
                                    : "hubs, devices, ids";
  gui__textf(r, GUI_FONT_SMALL, lx + gui__px(r, 10), ly, r->map.x + r->map.w - lx, C_DIM,
             "%s  ·  %u hubs x %u", lvl, s->n_hubs, s->dph);
}

/* The map: its pixels, then on top of them the hub ids, command paths, anchor and legend. */
static void draw_map(struct gui_render *r) {
  if (r->map.w <= 0 || r->map.h <= 0 || !map_texture(r))
    return;
  map_labels(r);
  draw_flashes(r);
  map_legend(r);
  frame_rect(r, r->map, C_BORDER);
}

/* ---- header, charts, side panel, footer, tooltip, modal ----------------------------------- */

static void draw_header(struct gui_render *r) {
  const struct ui_header *hd = &r->fs->hd;
  fill(r, r->header, C_PANEL);
  char clock[48], el[16], du[16];
  ui_fmt_clock(clock, sizeof clock, hd);
  ui_fmt_dur(el, sizeof el, hd->elapsed_s);
  ui_fmt_dur(du, sizeof du, hd->duration_s);
  int x = r->header.x + gui__px(r, 10), y = r->header.y + gui__px(r, 5);
  x += gui__text(r, GUI_FONT_BIG, x, y - gui__px(r, 2), gui__px(r, 100), C_ACCENT, "hubsim") +
       gui__px(r, 14);
  if (hd->paused) {
    int w = gui__text_w(r, GUI_FONT_NORMAL, "PAUSED") + gui__px(r, 12);
    SDL_Rect p = {x, y - gui__px(r, 1), w, gui__line_h(r, GUI_FONT_NORMAL) + gui__px(r, 2)};
    fill(r, p, C_BAD);
    gui__text(r, GUI_FONT_NORMAL, x + gui__px(r, 6), y, w, 0xffffff, "PAUSED");
    x += w + gui__px(r, 12);
  }
  x += gui__textf(r, GUI_FONT_NORMAL, x, y, r->header.w - x, C_TEXT,
                  "%s   phase %s   clock %s   seed %llu   %s / %s%s",
                  *hd->scenario ? hd->scenario : "(no scenario)", *hd->phase ? hd->phase : "-",
                  clock, (unsigned long long)hd->seed, el, du, hd->draining ? "   draining" : "");
  int fx = r->header.x + r->header.w - gui__px(r, 110);
  if (fx > x + gui__px(r, 10))
    gui__textf(r, GUI_FONT_SMALL, fx, y + gui__px(r, 2), gui__px(r, 105), C_DIM, "%.0f fps",
               r->fps);
  /* The timeline: elapsed over the duration. */
  SDL_Rect tl = {r->header.x, r->header.y + r->header.h - gui__px(r, 4), r->header.w,
                 gui__px(r, 4)};
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
  int tx = rc.x + gui__px(r, 8), ty = rc.y + gui__px(r, 4);
  tx += gui__text(r, GUI_FONT_SMALL, tx, ty, rc.w / 2, C_TEXT, title) + gui__px(r, 10);
  for (int i = 0; i < n; i++) {
    char v[24];
    ui_fmt_rate(v, sizeof v, s->ring_n ? s->rate[ser[i]] : NAN);
    tx += gui__textf(r, GUI_FONT_SMALL, tx, ty, rc.x + rc.w - tx, colors[i], "%s %s%s", names[i], v,
                     unit) +
          gui__px(r, 10);
  }
  SDL_Rect pl = {rc.x + gui__px(r, 8), rc.y + gui__line_h(r, GUI_FONT_SMALL) + gui__px(r, 8),
                 rc.w - gui__px(r, 16), rc.h - gui__line_h(r, GUI_FONT_SMALL) - gui__px(r, 14)};
  if (pl.w < 4 || pl.h < 4)
    return;
  int np = (int)s->ring_n, maxp = pl.w / gui__px(r, 3);
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
  ui_fmt_rate(mx, sizeof mx, max);
  gui__textf(r, GUI_FONT_SMALL, pl.x + pl.w - gui__px(r, 70), pl.y - gui__px(r, 2), gui__px(r, 70),
             C_DIM, "max %s", mx);
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
  int gap = gui__px(r, 6), w = (r->charts.w - 2 * gap) / 3;
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
  int x = r->side.x + gui__px(r, 10);
  set_color(r, C_BORDER, 255);
  SDL_RenderDrawLine(r->ren, r->side.x, y, r->side.x + r->side.w, y);
  gui__text(r, GUI_FONT_NORMAL, x, y + gui__px(r, 3), r->side.w - gui__px(r, 20), C_ACCENT, title);
  return y + gui__line_h(r, GUI_FONT_NORMAL) + gui__px(r, 6);
}

static int side_line(struct gui_render *r, int y, uint32_t c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int side_line(struct gui_render *r, int y, uint32_t c, const char *fmt, ...) {
  char buf[GUI_TEXT_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (y + gui__line_h(r, GUI_FONT_SMALL) <= r->side.y + r->side.h)
    gui__text(r, GUI_FONT_SMALL, r->side.x + gui__px(r, 12), y, r->side.w - gui__px(r, 24), c, buf);
  return y + gui__line_h(r, GUI_FONT_SMALL);
}

/* Scenario controls: pause, step, speed, fit, quit; the phase, speed and time; the platform. */
static int side_scenario(struct gui_render *r, int y) {
  const struct gui_snap *s = r->fs;
  int x0 = r->side.x + gui__px(r, 10), x1 = r->side.x + r->side.w - gui__px(r, 10);
  char sp[32];
  y = section(r, y, "Scenario");
  int vc = s->hd.virtual_clock;
  struct flow f = {x0, x1, x0, y, y};
  flow_button(r, &f, s->hd.paused ? "Resume (p)" : "Pause (p)", "pause", GUI_BTN_PAUSE, 0,
              (s->controls & GUI_HAVE_PAUSE) != 0, C_ACCENT);
  flow_button(r, &f, "Step (s)", "step", GUI_BTN_STEP, 0, vc && (s->controls & GUI_HAVE_STEP),
              C_ACCENT);
  flow_button(r, &f, "- slower", "slower", GUI_BTN_SLOWER, 0, vc && (s->controls & GUI_HAVE_SPEED),
              C_ACCENT);
  if (vc && s->hd.speed > 0)
    snprintf(sp, sizeof sp, "x%g", s->hd.speed);
  else
    snprintf(sp, sizeof sp, vc ? "max" : "real");
  flow_button(r, &f, "+ faster", "faster", GUI_BTN_FASTER, 0, vc && (s->controls & GUI_HAVE_SPEED),
              C_ACCENT);
  flow_button(r, &f, "Fit (0)", "fit", GUI_BTN_FIT, 0, 1, C_ACCENT);
  flow_button(r, &f, "Quit (q)", "quit", GUI_BTN_QUIT, 0, (s->controls & GUI_HAVE_QUIT) != 0,
              C_BAD);
  y = f.h + gui__px(r, 6);
  char el[16], du[16];
  ui_fmt_dur(el, sizeof el, s->hd.elapsed_s);
  ui_fmt_dur(du, sizeof du, s->hd.duration_s);
  y = side_line(r, y, C_TEXT, "phase %s   speed %s   %s / %s", *s->phase ? s->phase : "-", sp, el,
                du);
  y = side_line(r, y, C_DIM, "%s", s->platform);
  return y + gui__px(r, 6);
}

/* Fleet figures: hubs by state, devices, reports, commands, disconnects. */
static int side_fleet(struct gui_render *r, int y) {
  const struct sim_fleet_stats *st = &r->fs->st;
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
  return y + gui__px(r, 6);
}

/* A selected hub: its state, its joined devices, a button per fault. */
static int side_hub(struct gui_render *r, const struct gui_detail *d, int y) {
  int x0 = r->side.x + gui__px(r, 10), x1 = r->side.x + r->side.w - gui__px(r, 10);
  char t[64];
  snprintf(t, sizeof t, "Hub %s", r->g->hub_ids[d->hub]);
  y = section(r, y, t);
  y = side_line(r, y, hub_color(d->hub_state), "%s   devices %u joined of %u slots",
                ui_hub_state_label(d->hub_state), d->joined, d->slots);
  y += gui__px(r, 4);
  struct flow ff = {x0, x1, x0, y, y};
  for (int i = 0; i < UI_N_FAULTS; i++) {
    char id[48];
    snprintf(id, sizeof id, "fault:%s", ui_faults[i][0]);
    flow_button(r, &ff, ui_faults[i][0], id, GUI_BTN_FAULT, i,
                (r->fs->controls & GUI_HAVE_FAULT) != 0, C_WARN);
  }
  return ff.h + gui__px(r, 6);
}

/* A selected device's channel values, two per line, as far as the panel has room. */
static int side_values(struct gui_render *r, const struct gui_detail *d, int y) {
  int x0 = r->side.x + gui__px(r, 10), x1 = r->side.x + r->side.w - gui__px(r, 10);
  for (int i = 0; i < d->n_ch; i += 2) {
    char a[64], b[64] = "";
    snprintf(a, sizeof a, "%s %.4g%s%s", d->ch[i].name, d->ch[i].v, d->ch[i].unit[0] ? " " : "",
             d->ch[i].unit);
    if (i + 1 < d->n_ch)
      snprintf(b, sizeof b, "%s %.4g%s%s", d->ch[i + 1].name, d->ch[i + 1].v,
               d->ch[i + 1].unit[0] ? " " : "", d->ch[i + 1].unit);
    if (y + gui__line_h(r, GUI_FONT_SMALL) > r->side.y + r->side.h)
      break;
    gui__text(r, GUI_FONT_SMALL, x0 + gui__px(r, 2), y, (x1 - x0) / 2 - gui__px(r, 4), C_TEXT, a);
    if (b[0])
      gui__text(r, GUI_FONT_SMALL, x0 + (x1 - x0) / 2, y, (x1 - x0) / 2, C_TEXT, b);
    y += gui__line_h(r, GUI_FONT_SMALL);
  }
  return y;
}

/* A selected device: its identity and state, its values, a button per trigger and per command,
 * and the way back to its hub. */
static int side_device(struct gui_render *r, const struct gui_detail *d, int y) {
  const struct gui_snap *s = r->fs;
  int x0 = r->side.x + gui__px(r, 10), x1 = r->side.x + r->side.w - gui__px(r, 10);
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
  y = side_values(r, d, y);
  y += gui__px(r, 4);
  struct flow ff = {x0, x1, x0, y, y};
  for (int i = 0; i < d->n_trig; i++) {
    char id[48];
    snprintf(id, sizeof id, "trigger:%s", d->trig[i]);
    flow_button(r, &ff, d->trig[i], id, GUI_BTN_TRIGGER, i, (s->controls & GUI_HAVE_TRIGGER) != 0,
                C_OK);
  }
  if (d->n_trig) {
    ff.x = ff.x0;
    ff.y = ff.h + gui__px(r, 4);
  }
  for (int i = 0; i < d->n_cmd; i++) {
    char id[48], label[48];
    snprintf(id, sizeof id, "command:%s:%u", d->cmd[i].label, d->cmd[i].ep);
    snprintf(label, sizeof label, "%s ep%u", d->cmd[i].label, d->cmd[i].ep);
    flow_button(r, &ff, label, id, GUI_BTN_COMMAND, i, (s->controls & GUI_HAVE_COMMAND) != 0,
                C_FLASH);
  }
  y = (d->n_trig || d->n_cmd ? ff.h : y) + gui__px(r, 4);
  struct flow fb = {x0, x1, x0, y, y};
  flow_button(r, &fb, "< hub (esc)", "back", GUI_BTN_BACK, 0, 1, C_BORDER);
  return fb.h + gui__px(r, 6);
}

/* The selection: a hint when there is none, a wait while its detail is read on the loop, then
 * the hub or the device. */
static int side_selection(struct gui_render *r, int y) {
  const struct gui_detail *d = gui__detail(r);
  if (r->sel_hub < 0) {
    y = section(r, y, "Selection");
    return side_line(r, y, C_DIM, "click a hub or a device on the map");
  }
  if (!d) {
    y = section(r, y, "Selection");
    return side_line(r, y, C_DIM, "reading %s...", r->g->hub_ids[r->sel_hub]);
  }
  if (!d->has_dev || r->sel_slot < 0)
    return side_hub(r, d, y);
  return side_device(r, d, y);
}

/* Expectations: failures (no data at the end is one) first, then the pending ones, then the
 * passed. A pending one says when it is judged. */
static int side_expectations(struct gui_render *r, int y) {
  const struct gui_snap *s = r->fs;
  if (!s->n_exp)
    return y;
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
        ui_fmt_dur(from, sizeof from, s->exp[i].after_s);
        if (s->exp[i].after_s <= 0)
          snprintf(note, sizeof note, "   (at the end)");
        else if (s->hd.elapsed_s < s->exp[i].after_s)
          snprintf(note, sizeof note, "   (from %s)", from);
        else
          snprintf(note, sizeof note, "   (no data yet)");
      }
      y = side_line(r, y, c, "%s  %s   now %s%s", tag, s->exp[i].title, val, note);
    }
  return y + gui__px(r, 6);
}

/* Recent events, as many as fit: the selected hub's when it has some, else everything. */
static void side_events(struct gui_render *r, int y) {
  const struct gui_snap *s = r->fs;
  int bottom = r->side.y + r->side.h;
  if (y + gui__line_h(r, GUI_FONT_NORMAL) + gui__line_h(r, GUI_FONT_SMALL) >= bottom)
    return;
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
  int room = (bottom - y) / gui__line_h(r, GUI_FONT_SMALL);
  if (room > n)
    room = n;
  for (int k = room - 1; k >= 0; k--)
    y = side_line(r, y, C_DIM, "%s", s->log[idx[k]]);
}

/* The side panel, top to bottom; each part starts where the one above it ended. */
static void draw_side(struct gui_render *r) {
  fill(r, r->side, C_PANEL);
  int y = r->side.y + gui__px(r, 4);
  y = side_scenario(r, y);
  y = side_fleet(r, y);
  y = side_selection(r, y);
  y = side_expectations(r, y);
  side_events(r, y);
  set_color(r, C_BORDER, 255);
  SDL_RenderDrawLine(r->ren, r->side.x, r->side.y, r->side.x, r->side.y + r->side.h);
}

static void draw_footer(struct gui_render *r) {
  fill(r, r->footer, C_PANEL);
  int x = r->footer.x + gui__px(r, 10), y = r->footer.y + gui__px(r, 3);
  if (r->now < r->msg_until)
    gui__text(r, GUI_FONT_SMALL, x, y, r->footer.w - gui__px(r, 20), r->msg_bad ? C_BAD : C_OK,
              r->msg);
  else
    gui__text(
        r, GUI_FONT_SMALL, x, y, r->footer.w - gui__px(r, 20), C_DIM,
        "? help   q quit   p pause   s step   +/- speed   arrows/jk select   enter open   esc "
        "back   t trigger   c command   f fault   0 fit   drag pan   wheel zoom");
}

static void draw_tooltip(struct gui_render *r) {
  int64_t hub, slot;
  if (r->dragging || r->modal || !r->mouse_in || !gui__view_hit(r, r->mx, r->my, &hub, &slot))
    return;
  const struct gui_snap *s = r->fs;
  char l1[96], l2[96];
  int st = s->hub_state[hub];
  if (slot < 0) {
    uint32_t joined = 0;
    for (uint32_t k = 0; k < s->dph; k++)
      joined += (s->dev[(uint64_t)hub * s->dph + k].flags & GUI_DEV_JOINED) != 0;
    snprintf(l1, sizeof l1, "%s", r->g->hub_ids[hub]);
    snprintf(l2, sizeof l2, "%s, %u/%u devices joined", ui_hub_state_label(st), joined, s->dph);
  } else {
    const struct gui_dev *e = &s->dev[(uint64_t)hub * s->dph + (uint64_t)slot];
    snprintf(l1, sizeof l1, "%s slot %lld", r->g->hub_ids[hub], (long long)slot);
    snprintf(l2, sizeof l2, "%s, %s, lqi %u",
             e->model < r->g->n_models ? r->g->model_ids[e->model] : "?",
             (e->flags & GUI_DEV_JOINED) ? "joined" : "left", e->lqi);
  }
  int w = (int)fmax(gui__text_w(r, GUI_FONT_SMALL, l1), gui__text_w(r, GUI_FONT_SMALL, l2)) +
          gui__px(r, 16);
  int h = 2 * gui__line_h(r, GUI_FONT_SMALL) + gui__px(r, 8);
  int x = r->mx + gui__px(r, 14), y = r->my + gui__px(r, 14);
  if (x + w > r->out_w)
    x = r->mx - w - gui__px(r, 4);
  if (y + h > r->out_h)
    y = r->my - h - gui__px(r, 4);
  SDL_Rect rc = {x, y, w, h};
  fill(r, rc, 0x0c0e11);
  frame_rect(r, rc, C_SEL);
  gui__text(r, GUI_FONT_SMALL, x + gui__px(r, 8), y + gui__px(r, 4), w, C_TEXT, l1);
  gui__text(r, GUI_FONT_SMALL, x + gui__px(r, 8),
            y + gui__px(r, 4) + gui__line_h(r, GUI_FONT_SMALL), w, C_DIM, l2);
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
  int lh = gui__line_h(r, GUI_FONT_NORMAL);
  int w = gui__px(r, 560), x = (r->out_w - w) / 2, y0 = r->out_h / 4;
  const struct gui_detail *d = gui__detail(r);
  int n = 0;
  const char *title = "";
  switch (r->modal) {
  case GUI_MODAL_HELP:
    n = (int)(sizeof help_lines / sizeof help_lines[0]);
    title = "Keys";
    break;
  case GUI_MODAL_QUIT:
    n = 1;
    title = "Quit the run? (y / n)";
    break;
  case GUI_MODAL_TRIGGER:
    n = d ? d->n_trig : 0;
    title = "Trigger an event (1-9, esc)";
    break;
  case GUI_MODAL_COMMAND:
    n = d ? d->n_cmd : 0;
    title = "Send a command (1-9, esc)";
    break;
  case GUI_MODAL_FAULT:
    n = UI_N_FAULTS;
    title = "Inject a fault (1-9, esc)";
    break;
  default:
    break;
  }
  SDL_Rect box = {x, y0, w, (n + 2) * (lh + gui__px(r, 8)) + gui__px(r, 10)};
  fill(r, box, C_PANEL);
  frame_rect(r, box, C_ACCENT);
  gui__text(r, GUI_FONT_NORMAL, x + gui__px(r, 12), y0 + gui__px(r, 8), w - gui__px(r, 24),
            C_ACCENT, title);
  int y = y0 + gui__px(r, 8) + lh + gui__px(r, 10);
  for (int i = 0; i < n; i++) {
    char label[96], id[24];
    snprintf(id, sizeof id, "pick:%d", i + 1);
    switch (r->modal) {
    case GUI_MODAL_HELP:
      gui__text(r, GUI_FONT_SMALL, x + gui__px(r, 16), y, w - gui__px(r, 32), C_TEXT,
                help_lines[i]);
      y += gui__line_h(r, GUI_FONT_SMALL) + gui__px(r, 2);
      continue;
    case GUI_MODAL_QUIT:
      button(r, x + gui__px(r, 16), y, "yes, quit", "pick:1", GUI_BTN_PICK, 1, 1, C_BAD);
      button(r, x + gui__px(r, 140), y, "no", "pick:2", GUI_BTN_PICK, 0, 1, C_BORDER);
      continue;
    case GUI_MODAL_TRIGGER:
      snprintf(label, sizeof label, "%d  %s", i + 1, d->trig[i]);
      break;
    case GUI_MODAL_COMMAND:
      snprintf(label, sizeof label, "%d  %s  ep %u  0x%04x/0x%02x", i + 1, d->cmd[i].label,
               d->cmd[i].ep, d->cmd[i].cluster, d->cmd[i].command);
      break;
    default:
      snprintf(label, sizeof label, "%d  %-10s %s", i + 1, ui_faults[i][0], ui_faults[i][1]);
      break;
    }
    button(r, x + gui__px(r, 16), y, label, id, GUI_BTN_PICK, i, 1, C_ACCENT);
    y += lh + gui__px(r, 8);
  }
}

/* ---- the frame ---------------------------------------------------------------------------- */

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

void gui__draw(struct gui_render *r) {
  r->n_btn = 0;
  draw_map(r);
  clear_gaps(r);
  draw_charts(r);
  draw_header(r);
  draw_side(r);
  draw_footer(r);
  draw_tooltip(r);
  draw_modal(r);
}
