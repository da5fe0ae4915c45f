/* The dashboards of `hubsim run`: the terminal one (ui/tui) and the SDL2 window (ui/gui),
 * started once the fleet exists and stopped before the summary is printed. */
#include <locale.h>
#include <stddef.h>

#include "app/run_internal.h"
#include "app/ui_host.h"
#include "ui/gui/gui.h"
#include "ui/tui/tui.h"

/* The terminal dashboard (ui/tui), started once the fleet exists and stopped before the
 * summary is printed. */
static int tui_start(struct app_ui *u) {
  setlocale(LC_ALL, "");
  struct ui_tui_opts to = {.refresh_hz = 4, .color = UI_TUI_COLOR_AUTO};
  struct ui_tui *t;
  int rc = ui_tui_start(&u->host, &to, &t);
  if (rc)
    return rc;
  u->ui = t;
  return 0;
}

static void tui_stop(struct app_ui *u) {
  ui_tui_stop(u->ui);
  u->ui = NULL;
}

static const struct run_opts *gui_opts; /* the flags gui_start reads */

static int gui_start(struct app_ui *u) {
  struct ui_gui_opts go = {.screenshot_path = gui_opts->screenshot,
                           .screenshot_after_s = gui_opts->screenshot_after_s,
                           .exit_after_screenshot = gui_opts->exit_after_screenshot,
                           .title = "hubsim"};
  struct ui_gui *g;
  int rc = ui_gui_start(&u->host, &go, &g);
  if (rc)
    return rc;
  u->ui = g;
  return 0;
}

static void gui_stop(struct app_ui *u) {
  ui_gui_stop(u->ui);
  u->ui = NULL;
}

void app_run_ui_bind(struct app_ui *u, const struct run_opts *o) {
  gui_opts = o;
  u->start = o->ui == RUN_UI_GUI ? gui_start : tui_start;
  u->stop = o->ui == RUN_UI_GUI ? gui_stop : tui_stop;
}
