/* Internals of the graphical dashboard shared by its files. Not part of the interface.
 *
 * The loop's side: gui.c (life cycle, the snapshot timer, actions applied through the host).
 * The render thread's side, one job per file: gui_render.c (the thread, its loop, the frame and
 * its layout, taking snapshots in and publishing what was drawn), gui_draw.c (drawing: the map's
 * pixels, the panels, the modal), gui_view.c (the map's grid, zoom, pan and hit tests),
 * gui_text.c (text through SDL2_ttf and its cache of rendered strings), gui_input.c (mouse and
 * keys, and the actions they queue for the loop), gui_shot.c (PNG screenshots). */
#ifndef UI_GUI_GUI_INTERNAL_H
#define UI_GUI_GUI_INTERNAL_H

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include <SDL.h>
#include <SDL_ttf.h>

#include "sim/fleet/fleet.h"
#include "ui/gui/gui.h"
#include "ui/ui.h"

#define GUI_RING 300 /* seconds of chart history */
#define GUI_MAX_EXP 32
#define GUI_LOG 48 /* log lines in a snapshot (the newest) */
#define GUI_MAX_CH 24
#define GUI_MAX_TRIG 16
#define GUI_MAX_CMD 16
#define GUI_MAX_FLASH 16
#define GUI_MAX_ACTIONS 64
#define GUI_MAX_INJECT 256
#define GUI_MAX_BTN 160

enum gui_series {
  GUI_SER_REPORTS = 0, /* reports sent /s */
  GUI_SER_CMDS,        /* commands received by hubs /s */
  GUI_SER_P50,         /* report ack latency over the last second, ms */
  GUI_SER_P90,
  GUI_SER_P99,
  GUI_SER_ONLINE, /* hubs online */
  GUI_SER_N
};

/* Host controls present (bits). */
enum {
  GUI_HAVE_PAUSE = 1,
  GUI_HAVE_STEP = 2,
  GUI_HAVE_SPEED = 4,
  GUI_HAVE_TRIGGER = 8,
  GUI_HAVE_COMMAND = 16,
  GUI_HAVE_FAULT = 32,
  GUI_HAVE_QUIT = 64,
};

/* One device in a snapshot: 4 bytes. */
#define GUI_DEV_PRESENT 1 /* a model in this slot */
#define GUI_DEV_JOINED 2
struct gui_dev {
  uint8_t activity;
  uint8_t flags;
  uint8_t model; /* registry index (SIM_MODEL_MAX is 256) */
  uint8_t lqi;
};

struct gui_cmd {
  char label[24]; /* "toggle" */
  uint8_t ep;
  uint16_t cluster;
  uint8_t command;
};

/* The selected hub or device, read on the loop (values need the device's state). */
struct gui_detail {
  int64_t hub, slot; /* -1: none */
  int hub_state;
  uint32_t joined, slots;
  int has_dev;
  char model_id[48], vendor[40], vendor_model[32], manufacturer[32];
  char category[32];
  uint64_t eui64;
  int joined_dev;
  uint8_t lqi;
  int battery, sleepy, router;
  int n_ch;
  struct {
    char name[32];
    char unit[12];
    double v;
  } ch[GUI_MAX_CH];
  int n_trig;
  char trig[GUI_MAX_TRIG][32];
  int n_cmd;
  struct gui_cmd cmd[GUI_MAX_CMD];
};

struct gui_flash {
  uint32_t hub, slot;
  uint64_t id; /* increasing: the render thread starts each flash once */
};

/* A snapshot: written on the loop, copied to the render thread under the mutex. */
struct gui_snap {
  uint64_t seq;
  struct sim_fleet_stats st;
  struct ui_header hd; /* strings point into the arrays below (fixed up after each copy) */
  char scenario[64], phase[64], platform[160];
  unsigned controls; /* GUI_HAVE_* */
  struct {
    char title[96];
    char unit[16];
    double value;
    int verdict;
    double after_s;
  } exp[GUI_MAX_EXP];
  int n_exp;
  char log[GUI_LOG][160];
  int n_log;
  float ring[GUI_SER_N][GUI_RING];
  unsigned ring_head, ring_n;
  double rate[GUI_SER_N];
  struct gui_detail det;
  char msg[200];
  int msg_bad;
  uint64_t msg_seq;
  struct gui_flash flash[GUI_MAX_FLASH];
  int n_flash;
  uint64_t flash_id;
  int quit_sent;
  /* The fleet: sized once at start (a fleet's shape never changes). */
  uint32_t n_hubs, dph;
  uint8_t *hub_state;  /* n_hubs */
  struct gui_dev *dev; /* n_hubs * dph */
};

enum gui_act {
  GUI_ACT_PAUSE = 1, /* toggle */
  GUI_ACT_STEP,
  GUI_ACT_SPEED, /* d: the new speed */
  GUI_ACT_TRIGGER,
  GUI_ACT_COMMAND,
  GUI_ACT_FAULT,
  GUI_ACT_QUIT,
};

struct gui_action {
  int kind;
  uint32_t hub, slot;
  char name[32];
  uint8_t ep;
  uint16_t cluster;
  uint8_t command;
  double d;
};

/* A clickable rectangle of the last frame (pixels). */
struct gui_btn {
  int x, y, w, h;
  char id[48];
  int enabled;
  int act; /* what a click does: enum gui_btn_act */
  int arg; /* index into the detail's triggers / commands, a fault, a picker row */
};

/* The map's transform of the last frame, published for ui_gui_locate(). */
struct gui_view {
  double scale;       /* pixels per world unit */
  double ox, oy;      /* world coordinates at the map's top-left */
  int mx, my, mw, mh; /* the map's rectangle, pixels */
  uint32_t cols;
  double dpi; /* pixels per window point */
};

#define GUI_CELL 100.0 /* a hub's cell in world units */

struct ui_gui {
  struct ui_host h; /* a copy: the members are borrowed */
  struct ui_gui_opts o;
  char font_path[512];
  char title[128];
  char opt_shot[512];    /* opts.screenshot_path, copied */
  char (*hub_ids)[24];   /* every hub's id, filled at start (read only afterwards) */
  char (*model_ids)[48]; /* by registry index, filled at start */
  uint32_t n_models;

  /* ---- the loop's side (loop thread only) ---- */
  uv_timer_t timer;
  int timer_open;
  int stopping;
  struct gui_snap *ls;       /* the snapshot being built */
  uint64_t prev_cnt[2];      /* reports, commands at the last second */
  struct sim_hist *prev_ack; /* ack latency histogram at the last second */
  uint64_t prev_ms;
  int have_prev;
  uint64_t dev_cursor; /* next device of the rotation */

  /* ---- shared under mu ---- */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct gui_snap *ss; /* the latest snapshot */
  struct gui_action actions[GUI_MAX_ACTIONS];
  int n_actions;
  SDL_Event *inject; /* GUI_MAX_INJECT */
  int n_inject;
  int64_t req_hub, req_slot; /* the selection, for the detail */
  uint32_t view_h0, view_h1; /* hubs in view: their devices are copied first */
  char shot_path[512];
  int shot_pending; /* 1: requested, for a frame of a newer snapshot than shot_after_seq */
  uint64_t shot_after_seq;
  struct gui_btn pub_btn[GUI_MAX_BTN];
  int pub_n_btn;
  struct gui_view pub_view;
  int pub_ok;
  double zoom_req_cell;
  int64_t zoom_req_hub;
  int zoom_req;
  struct ui_gui_info info;
  int stop_flag;
  int init_done, init_rc;

  /* ---- the render thread ---- */
  pthread_t thread;
  int thread_started;
};

/* gui.c */
void gui__snap_copy(struct gui_snap *dst, const struct gui_snap *src);
uint64_t gui__now_ns(void);

/* ---- the render thread ------------------------------------------------------------------------
 * Everything below is the render thread's own: struct gui_render is created, used and freed on
 * that thread only; it reaches the shared part of struct ui_gui under g->mu. */

enum gui_font { GUI_FONT_NORMAL = 0, GUI_FONT_SMALL, GUI_FONT_BIG, GUI_FONT_N };

enum gui_modal {
  GUI_MODAL_NONE = 0,
  GUI_MODAL_HELP,
  GUI_MODAL_QUIT,
  GUI_MODAL_TRIGGER,
  GUI_MODAL_COMMAND,
  GUI_MODAL_FAULT
};

/* What a click on a button does (struct gui_btn.act). */
enum gui_btn_act {
  GUI_BTN_PAUSE = 1,
  GUI_BTN_STEP,
  GUI_BTN_SLOWER,
  GUI_BTN_FASTER,
  GUI_BTN_FIT,
  GUI_BTN_QUIT,
  GUI_BTN_TRIGGER,
  GUI_BTN_COMMAND,
  GUI_BTN_FAULT,
  GUI_BTN_PICK,
  GUI_BTN_BACK,
};

#define GUI_PULSE_S 0.6  /* a report's halo (or tile flash) fades over this */
#define GUI_FADE 32      /* steps of the fade */
#define GUI_TEXT_MAX 160 /* bytes of one string drawn, with its NUL; longer ones are cut */

struct gui_text_entry; /* gui_text.c */

struct gui_render {
  struct ui_gui *g;
  SDL_Window *win;
  SDL_Renderer *ren;
  TTF_Font *font[GUI_FONT_N];
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
  int modal; /* enum gui_modal */
  uint64_t msg_seq;
  char msg[200];
  int msg_bad;
  double msg_until;

  struct gui_btn btn[GUI_MAX_BTN];
  int n_btn;

  struct gui_text_entry *tc; /* the text cache */
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

/* v window points in pixels of the renderer's output (high-DPI windows have more). */
static inline int gui__px(const struct gui_render *r, double v) {
  return (int)lround(v * r->dpi);
}

/* gui_render.c: the render thread's body (its argument is the struct ui_gui). */
void *gui__render_main(void *arg);

/* gui_draw.c */
void gui__draw_init(struct gui_render *r); /* the fade tables */
/* Decides whether the map's pixels must be drawn anew (sets map_dirty and dirty). */
void gui__map_check(struct gui_render *r);
/* Draws every part of a frame into the renderer (not presented); registers its buttons. */
void gui__draw(struct gui_render *r);

/* gui_view.c: the map's grid of hub cells (GUI_CELL world units each) and its transform. */
void gui__view_grid(struct gui_render *r); /* columns and rows for the map's shape */
void gui__view_fit(struct gui_render *r);  /* the whole fleet in view */
/* Zooms to new_scale (pixels per world unit) keeping the world point under map pixel (sx, sy). */
void gui__view_zoom(struct gui_render *r, double new_scale, double sx, double sy);
void gui__view_center(struct gui_render *r, uint32_t hub);
int gui__view_level(const struct gui_render *r); /* 0 tiles, 1 hubs and devices, 2 with ids */
double gui__view_dot_radius(uint32_t dph);       /* a device's dot, world units */
/* A device's place on the map, in pixels relative to the map's top-left. */
void gui__view_dev_pos(const struct gui_render *r, uint32_t hub, uint32_t slot, double *x,
                       double *y);
/* The hub and slot under window pixel (x, y), slot -1 for the hub itself: 1 when there is one,
 * else 0 (then *hub and *slot mean nothing). */
int gui__view_hit(const struct gui_render *r, int x, int y, int64_t *hub, int64_t *slot);

/* gui_text.c: strings drawn through a cache of rendered textures. */
int gui__text_new(struct gui_render *r); /* 0 or SIM_ENOMEM */
void gui__text_free(struct gui_render *r);
/* Opens the fonts for the scale dpi when their size changes (and empties the cache). */
void gui__text_fonts(struct gui_render *r, double dpi);
/* Forgets strings not drawn for a while; after each frame drawn. */
void gui__text_age(struct gui_render *r);
/* Draws s with its top-left at (x, y), cut at maxw pixels; returns the width drawn. */
int gui__text(struct gui_render *r, int font, int x, int y, int maxw, uint32_t color,
              const char *s);
int gui__textf(struct gui_render *r, int font, int x, int y, int maxw, uint32_t color,
               const char *fmt, ...) __attribute__((format(printf, 7, 8)));
int gui__text_w(struct gui_render *r, int font, const char *s);
int gui__line_h(const struct gui_render *r, int font);

/* gui_input.c */
void gui__handle(struct gui_render *r, const SDL_Event *e);
void gui__quit(struct gui_render *r); /* asks the host to end the run */
/* The snapshot's detail when it is the current selection's, else NULL. */
const struct gui_detail *gui__detail(const struct gui_render *r);

/* gui_shot.c */
int gui__shot_due(struct gui_render *r); /* a screenshot wants this frame drawn */
void gui__shots(struct gui_render *r);   /* writes the screenshots due, from the frame drawn */

#endif
