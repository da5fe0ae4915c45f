/* Internals of the terminal dashboard shared by tui.c (life cycle, keys, actions) and
 * tui_draw.c (layout and panels). Not part of the interface. */
#ifndef UI_TUI_TUI_INTERNAL_H
#define UI_TUI_TUI_INTERNAL_H

#include <curses.h>
#include <stdint.h>
#include <uv.h>

#include "sim/fleet/fleet.h"
#include "ui/tui/tui.h"
#include "ui/ui.h"

/* Seconds of per-second rates kept for the sparklines: five minutes. */
#define TUI_RING 300
#define TUI_MAX_EXP 64
#define TUI_MAX_CHOICES 24

enum tui_series { TUI_SER_REPORTS = 0, TUI_SER_ACKS, TUI_SER_CMD_DOWN, TUI_SER_CMD_UP, TUI_SER_N };

enum tui_focus { TUI_FOCUS_HUBS = 0, TUI_FOCUS_DEVICES, TUI_FOCUS_DETAIL, TUI_FOCUS_LOG };

enum tui_modal {
  TUI_MODAL_NONE = 0,
  TUI_MODAL_HELP,
  TUI_MODAL_QUIT,
  TUI_MODAL_TRIGGER,
  TUI_MODAL_COMMAND,
  TUI_MODAL_FAULT,
};

/* Colour pairs (or, without colour, the attributes standing in for them). */
enum tui_pair {
  TUI_C_NORMAL = 0,
  TUI_C_TITLE,  /* panel titles */
  TUI_C_HEADER, /* the header bar */
  TUI_C_OK,
  TUI_C_WARN,
  TUI_C_BAD,
  TUI_C_DIM, /* unavailable controls, empty values */
  TUI_C_SEL, /* the selected row */
};

/* One line of a picker: a trigger name, a command, a fault kind. */
struct tui_choice {
  char label[48];
  char name[32]; /* trigger or fault name */
  uint8_t ep;
  uint16_t cluster;
  uint8_t command;
};

struct ui_tui {
  struct ui_host h; /* a copy: the host's members are borrowed */
  SCREEN *scr;
  FILE *in, *out;
  int color;
  int utf8;

  uv_timer_t timer;
  uv_poll_t poll;
  uv_signal_t winch;
  int open_handles; /* the memory goes when the last close callback has run */
  int stopping;

  /* The snapshot of the current frame. */
  struct sim_fleet_stats *st; /* ~70 KiB: on the heap */
  struct ui_header hd;
  struct ui_proc pr;
  int have_proc;
  struct ui_expectation exp[TUI_MAX_EXP];
  size_t n_exp;

  /* Per-second rates, for the numbers and the sparklines. */
  float ring[TUI_SER_N][TUI_RING];
  unsigned ring_head; /* next slot to write */
  unsigned ring_n;
  uint64_t prev[TUI_SER_N];
  uint64_t prev_total[TUI_SER_N]; /* the counts of the current snapshot */
  uint64_t prev_ms;
  int have_prev;
  double rate[TUI_SER_N];

  /* Navigation. */
  int focus; /* enum tui_focus */
  uint32_t hub_sel, hub_top;
  uint32_t dev_sel, dev_top;
  size_t log_back; /* log lines scrolled back from the newest */

  int modal; /* enum tui_modal */
  struct tui_choice choices[TUI_MAX_CHOICES];
  int n_choices, choice_sel;
  char modal_title[64];

  char msg[200];
  int msg_bad;
  uint64_t msg_until_ms;
  int quit_sent;
  int empty_wakeups;

  uint64_t frames, last_draw_ns, max_draw_ns;
};

/* tui_draw.c */
void tui__snapshot(struct ui_tui *t);
void tui__render(struct ui_tui *t);

/* tui.c */
void tui__message(struct ui_tui *t, int bad, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
