/* The dashboards of `hubsim run`: the terminal one (ui/tui) and the SDL2 window (ui/gui),
 * started once the fleet exists and stopped before the summary is printed. A build may leave
 * either out (cmake -DHUBSIM_TUI=OFF / -DHUBSIM_GUI=OFF): then nothing here names its library,
 * and the flags refuse --ui for it (app_run_ui_built). */
#include <stddef.h>

#include "app/run_internal.h"
#include "app/ui_host.h"

#if HUBSIM_HAVE_TUI
#include <locale.h>

#include "ui/tui/tui.h"

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
#endif

#if HUBSIM_HAVE_GUI
#include "ui/gui/gui.h"

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
#endif

int app_run_ui_built(int ui) {
  return ui == RUN_UI_TUI ? HUBSIM_HAVE_TUI : ui == RUN_UI_GUI ? HUBSIM_HAVE_GUI : 1;
}

void app_run_ui_bind(struct app_ui *u, const struct run_opts *o) {
  u->start = NULL;
  u->stop = NULL;
#if HUBSIM_HAVE_TUI
  if (o->ui == RUN_UI_TUI) {
    u->start = tui_start;
    u->stop = tui_stop;
  }
#endif
#if HUBSIM_HAVE_GUI
  gui_opts = o;
  if (o->ui == RUN_UI_GUI) {
    u->start = gui_start;
    u->stop = gui_stop;
  }
#endif
}
