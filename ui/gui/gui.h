/* The graphical dashboard (SDL2): a fleet map, live charts, a side panel to steer one hub or
 * device, and scenario controls, in a window.
 *
 * Threads: SDL runs in a thread of its own (the render thread): it creates the window, polls
 * SDL's events and draws. It never calls the host. On the host's loop thread a libuv timer
 * (10 Hz) takes a compact snapshot through the host (figures, header, expectations, log tail,
 * hub states and, per device, its activity byte, joined flag, model and lqi: all of them when the
 * fleet is small, else at most GUI_DEV_BUDGET a tick, the hubs in view first, the rest in
 * rotation) and hands it over under a mutex; the render thread draws the latest one. What the
 * user does (select, trigger, command, fault, pause, speed, quit) goes the other way through a
 * mutex-protected queue that the same timer drains and applies through the host. So every host
 * function is called from the loop's thread (ui/ui.h), and the engine never waits for a frame.
 *
 * Loop: the timer is unreferenced (uv_unref): it never keeps the loop alive on its own; the app
 * calls ui_gui_stop() when the run ends.
 *
 * SDL: one dashboard per process (SDL has one video subsystem). The renderer is SDL's software
 * renderer (no GPU needed); it runs under X11, Wayland, Xvfb or SDL's offscreen driver
 * (SDL_VIDEODRIVER=offscreen). SDL's own signal handlers are disabled (the app handles
 * SIGINT).
 *
 * Ownership: the host (and everything it points to) is borrowed and must outlive the dashboard
 * (until ui_gui_stop()); the options and their strings are copied by ui_gui_start(). */
#ifndef UI_GUI_GUI_H
#define UI_GUI_GUI_H

#include <stddef.h>
#include <stdint.h>

#include "ui/ui.h"

/* Devices copied per snapshot tick at most, when the fleet has more. */
#define GUI_DEV_BUDGET 20000

struct ui_gui_opts {
  int width, height;           /* window size in points; 0: 1280 x 800 */
  const char *font_path;       /* a TrueType font; NULL: DejaVuSans (fonts-dejavu-core) */
  const char *screenshot_path; /* --screenshot: a PNG of the window; NULL: none */
  double screenshot_after_s;   /* ... once engine time (ui_header.elapsed_s) reaches this */
  int exit_after_screenshot;   /* 1: then host->quit() (through the action queue) */
  double snapshot_hz;          /* snapshots per second on the loop; 0: 10 (clamped 1 .. 60) */
  double max_fps;              /* frames per second at most; 0: 60; < 0: as fast as it can */
  const char *title;           /* window title; NULL: "hubsim" */
};

struct ui_gui;

/* Starts the render thread, waits until it has opened the window (or failed), and starts the
 * snapshot timer on h->loop. o may be NULL (defaults). On success *out is the dashboard, to be
 * ended by ui_gui_stop(). SIM_EINVAL for a bad argument; SIM_EIO when SDL cannot open a window
 * (no display: the message is on stderr) or the font cannot be loaded; SIM_EEXISTS when a
 * dashboard is already running; SIM_ENOMEM; or a libuv error. Blocks the calling thread while
 * SDL initialises (tens of milliseconds, once). */
int ui_gui_start(const struct ui_host *h, const struct ui_gui_opts *o, struct ui_gui **out);

/* Ends the render thread (joins it: at most one frame and a screenshot being written), closes
 * the window and stops the timer. Actions still queued are dropped. The memory is freed once the
 * loop has run the timer's close callback: the loop must run at least once more
 * (uv_run(loop, UV_RUN_NOWAIT) is enough) before uv_loop_close(). g may be NULL. From the loop's
 * thread. */
void ui_gui_stop(struct ui_gui *g);

/* Asks for a PNG of the window at path (written through sim_wfile: a temporary file, then
 * renamed): the render thread writes it after its next frame drawn from a snapshot taken after
 * this call. Completion shows in ui_gui_info().screenshots. path is copied. 0, SIM_EINVAL,
 * SIM_EFULL (one pending already). */
int ui_gui_screenshot(struct ui_gui *g, const char *path);

/* Test hook: queues an SDL event (mouse, wheel, key, window) that the render thread handles as
 * if SDL had delivered it, in order, before its next frame. Mouse coordinates are in window
 * points, as SDL gives them. ev is copied. 0, SIM_EINVAL, SIM_EFULL. Any thread. */
union SDL_Event;
int ui_gui_inject(struct ui_gui *g, const union SDL_Event *ev);

/* Test hook: where something was drawn in the last frame, in window points (its centre), for
 * ui_gui_inject(). what is "hub:H", "device:H:S", or "button:ID" where ID names a button of the
 * last frame: "pause", "step", "slower", "faster", "fit", "quit", "trigger:NAME",
 * "command:LABEL" (e.g. "command:toggle:1": label and endpoint), "fault:KIND", "pick:N" (the
 * Nth item of an open picker, 1-based). 0, SIM_ENOTFOUND (not drawn in the last frame),
 * SIM_EINVAL. Any thread. */
int ui_gui_locate(struct ui_gui *g, const char *what, int *x, int *y);

/* Figures about the dashboard, for tests and the benchmark. Any thread. */
struct ui_gui_info {
  int win_w, win_h; /* window, points */
  int out_w, out_h; /* renderer output, pixels (high-DPI: larger than the window) */
  uint64_t frames;  /* frames drawn (and presented): only when something changed */
  double fps;       /* frames drawn over the last second */
  uint64_t last_frame_ns, max_frame_ns;       /* drawing one frame (without the pacing sleep) */
  uint64_t busy_ns;                           /* every frame's drawing, summed */
  uint64_t snapshots;                         /* taken on the loop */
  uint64_t snapshots_drawn;                   /* seq of the snapshot of the last frame */
  uint64_t last_snapshot_ns, max_snapshot_ns; /* cost on the loop's thread: the engine's share */
  uint64_t actions;                           /* user actions applied through the host */
  uint64_t screenshots;                       /* PNGs written */
  int screenshot_rc;                          /* of the last one: 0 or a SIM_E* code */
  int zoom_level; /* map drawing: 0 tiles by health, 1 hubs with device dots, 2 full detail */
  int64_t sel_hub, sel_slot; /* selection (-1: none) */
  /* The render loop wakes at the fps cap to handle input, but draws and presents a frame only
   * when something on screen changed: a new snapshot (10 Hz), input, an animation (a command's
   * path, the fade of a report's halo). A still screen costs neither drawing nor presenting. */
  uint64_t ticks;     /* render loop iterations (input handled; a frame drawn or skipped) */
  double tick_hz;     /* loop iterations over the last second */
  uint64_t map_draws; /* the map's pixels drawn anew (else the last ones are copied again) */
};
void ui_gui_info(struct ui_gui *g, struct ui_gui_info *out);

/* Test and benchmark hook: sets the map's zoom so that one hub cell is cell_px pixels wide,
 * centred on hub (or the fleet's centre when hub < 0), on the next frame. 0 fits the whole fleet.
 * Any thread. */
void ui_gui_zoom(struct ui_gui *g, double cell_px, int64_t hub);

#endif
