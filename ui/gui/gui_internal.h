/* Internals of the graphical dashboard shared by gui.c (life cycle and the loop's side:
 * snapshots, actions) and gui_draw.c (the render thread: SDL, layout, drawing, input). Not part
 * of the interface. */
#ifndef UI_GUI_GUI_INTERNAL_H
#define UI_GUI_GUI_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <uv.h>

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
  int act; /* what a click does (gui_draw.c) */
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
  union SDL_Event *inject; /* GUI_MAX_INJECT */
  int n_inject;
  int64_t req_hub, req_slot; /* the selection, for the detail */
  uint32_t view_h0, view_h1; /* hubs in view: their devices are copied first */
  char shot_path[512];
  int shot_pending; /* 1: requested; 2: waiting for a newer snapshot than shot_after_seq */
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

/* gui_draw.c: the render thread's body. */
void *gui__render_main(void *arg);

/* gui.c */
void gui__snap_copy(struct gui_snap *dst, const struct gui_snap *src);
uint64_t gui__now_ns(void);

#endif
