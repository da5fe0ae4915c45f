/* The terminal dashboard (ncurses): watch and steer a running fleet from a terminal.
 *
 * The dashboard runs on the host's loop (ui/ui.h): a libuv timer redraws refresh_hz times a
 * second, a libuv poll handle reads the keyboard without blocking (ncurses in nodelay mode),
 * and a SIGWINCH watcher plus a size check at every frame follow terminal resizes. A frame
 * reads one stats snapshot and draws only what is visible (the hub list reads the visible hubs
 * only, the device list one hub's devices): it never walks every device.
 *
 * Threading: every call from the loop's thread. Output: the dashboard owns the terminal between
 * ui_tui_start() and ui_tui_stop(); anything else written to it meanwhile (progress lines on
 * stderr) garbles the screen, so the app keeps quiet while the dashboard runs.
 *
 * Loop: the dashboard's handles are unreferenced (uv_unref): they never keep the loop alive on
 * their own, so the app's run ends as without a UI; the app calls ui_tui_stop() when it ends.
 *
 * Signals: ncurses installs its own SIGINT/SIGTERM/SIGTSTP handlers at start only where the
 * disposition is still the default: an app that handles SIGINT itself installs its handler
 * (uv_signal) before ui_tui_start(). SIGWINCH is watched with a uv_signal handle.
 *
 * Ownership: the host and the FILEs in the options are borrowed and must outlive the dashboard
 * (until ui_tui_stop()). */
#ifndef UI_TUI_TUI_H
#define UI_TUI_TUI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ui/ui.h"

enum ui_tui_color {
  UI_TUI_COLOR_AUTO = 0, /* colour when the terminal has it and NO_COLOR is unset or empty */
  UI_TUI_COLOR_NEVER,
  UI_TUI_COLOR_ALWAYS, /* even with NO_COLOR set (still none on a terminal without colour) */
};

struct ui_tui_opts {
  double refresh_hz; /* redraws per second, 0: 4 (clamped to 0.5 .. 60) */
  int color;         /* enum ui_tui_color */
  FILE *in;          /* the keyboard: NULL for stdin */
  FILE *out;         /* the screen: NULL for stdout */
  const char *term;  /* terminal type: NULL for $TERM */
};

struct ui_tui;

/* Takes over the terminal (ncurses newterm on out/in: cbreak, no echo, keypad, hidden cursor),
 * draws the first frame and starts the redraw timer and the keyboard watcher on h->loop.
 * o may be NULL (defaults). On success *out is the dashboard, to be ended by ui_tui_stop().
 * SIM_EINVAL when the terminal cannot be set up (unknown TERM, out not a terminal the
 * terminfo database knows), SIM_ENOMEM, or a libuv error; on any failure the terminal is left
 * as it was found. */
int ui_tui_start(const struct ui_host *h, const struct ui_tui_opts *o, struct ui_tui **out);

/* Stops the timer and watchers and restores the terminal at once (endwin). The memory is freed
 * once the loop has run the handles' close callbacks: the loop must run at least once more
 * (uv_run(loop, UV_RUN_NOWAIT) is enough) before uv_loop_close(). t may be NULL. */
void ui_tui_stop(struct ui_tui *t);

/* Redraws now (the timer does it on its own; for tests and for the app after a change). */
void ui_tui_draw(struct ui_tui *t);

/* The current screen as text, as ncurses holds it (what the terminal shows once refreshed):
 * one line per row, trailing blanks removed, '\n' after each; characters the locale cannot
 * encode become '?'. Writes at most cap bytes including the NUL; returns the text's length
 * (possibly truncated). For tests and for docs. */
size_t ui_tui_dump(struct ui_tui *t, char *buf, size_t cap);

/* Figures about the dashboard itself, for tests and the performance note. */
struct ui_tui_info {
  int rows, cols;
  int color;             /* 1: drawing in colour */
  uint64_t frames;       /* frames drawn */
  uint64_t last_draw_ns; /* cost of the last frame (snapshot, layout and ncurses refresh) */
  uint64_t max_draw_ns;
};
void ui_tui_info(const struct ui_tui *t, struct ui_tui_info *out);

#endif
