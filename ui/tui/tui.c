/* The terminal dashboard: life cycle on the host's loop, keys, pickers and the actions they
 * take through the host. Drawing is in tui_draw.c. */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"
#include "sim/core/err.h"
#include "ui/common/ui_offer.h"
#include "ui/tui/tui_internal.h"

/* The dashboard whose terminal an exit() without ui_tui_stop() must still restore. One at a
 * time: ncurses has one current screen per process anyway. */
static struct ui_tui *tui_active;
static int tui_atexit_set;

static void tui_atexit(void) {
  if (tui_active && tui_active->scr) {
    set_term(tui_active->scr);
    endwin();
  }
}

void tui__message(struct ui_tui *t, int bad, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->msg, sizeof t->msg, fmt, ap);
  va_end(ap);
  t->msg_bad = bad;
  t->msg_until_ms = uv_now(t->h.loop) + 5000;
}

/* ncurses learns about a new size from SIGWINCH only inside getch(), which runs only when a key
 * arrives; the size is therefore checked at every frame as well (one ioctl), which also covers
 * terminals whose size changes without a signal reaching this process (a pty in a test). */
static void tui_check_size(struct ui_tui *t) {
  struct winsize ws;
  if (ioctl(fileno(t->out), TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
    return;
  if (ws.ws_row != LINES || ws.ws_col != COLS) {
    resizeterm(ws.ws_row, ws.ws_col);
    clearok(curscr, TRUE);
  }
}

void ui_tui_draw(struct ui_tui *t) {
  if (!t || !t->scr || t->stopping)
    return;
  uint64_t t0 = uv_hrtime();
  set_term(t->scr);
  tui_check_size(t);
  tui__snapshot(t);
  tui__render(t);
  uint64_t dt = uv_hrtime() - t0;
  t->frames++;
  t->last_draw_ns = dt;
  if (dt > t->max_draw_ns)
    t->max_draw_ns = dt;
}

static void tui_timer_cb(uv_timer_t *h) {
  ui_tui_draw(h->data);
}

static void tui_winch_cb(uv_signal_t *h, int sig) {
  (void)sig;
  ui_tui_draw(h->data);
}

/* ---- actions ------------------------------------------------------------------------------ */

static int tui_have_device(struct ui_tui *t, struct sim_device_info *di) {
  if (!t->h.fleet) {
    tui__message(t, 1, "per-device views need the fleet in this process (not with --workers)");
    return 0;
  }
  if (t->focus != TUI_FOCUS_DEVICES && t->focus != TUI_FOCUS_DETAIL) {
    tui__message(t, 1, "select a device first: enter opens the hub's devices");
    return 0;
  }
  if (sim_fleet_device_info(t->h.fleet, t->hub_sel, t->dev_sel, di) != 0 || !di->model) {
    tui__message(t, 1, "no device in this slot");
    return 0;
  }
  return 1;
}

static void tui_hub_name(struct ui_tui *t, uint32_t hub, char *out, size_t cap) {
  if (t->h.fleet)
    sim_fleet_hub_id(t->h.fleet, hub, out, cap);
  else
    snprintf(out, cap, "#%u", hub);
}

static void tui_open_trigger(struct ui_tui *t) {
  struct sim_device_info di;
  if (!t->h.trigger) {
    tui__message(t, 1, "triggering events is not available in this run");
    return;
  }
  if (!tui_have_device(t, &di))
    return;
  const struct dev_cat *cat = dev_cat_global();
  const struct dev_cat_model *cm = cat ? dev_cat_find(cat, di.model->model_id) : NULL;
  t->n_choices = 0;
  for (int i = 0; cm && i < cm->n_trig && t->n_choices < TUI_MAX_CHOICES; i++) {
    struct tui_choice *c = &t->choices[t->n_choices++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", cm->trig[i].name);
    snprintf(c->label, sizeof c->label, "%s", cm->trig[i].name);
  }
  if (t->n_choices == 0) {
    tui__message(t, 1, "%s has no events to trigger", di.model->model_id);
    return;
  }
  snprintf(t->modal_title, sizeof t->modal_title, "Trigger on slot %u", t->dev_sel);
  t->choice_sel = 0;
  t->modal = TUI_MODAL_TRIGGER;
}

/* The commands offered (ui_offer_commands: the GUI offers the same). */
static void tui_open_command(struct ui_tui *t) {
  struct sim_device_info di;
  if (!t->h.command) {
    tui__message(t, 1, "sending commands is not available in this run");
    return;
  }
  if (!tui_have_device(t, &di))
    return;
  const struct sim_model *m = di.model;
  struct ui_command cmd[TUI_MAX_CHOICES];
  t->n_choices = ui_offer_commands(m, cmd, TUI_MAX_CHOICES);
  for (int i = 0; i < t->n_choices; i++) {
    struct tui_choice *c = &t->choices[i];
    memset(c, 0, sizeof *c);
    snprintf(c->label, sizeof c->label, "%-8s ep %u  0x%04x/0x%02x", cmd[i].label, cmd[i].ep,
             cmd[i].cluster, cmd[i].command);
    c->ep = cmd[i].ep;
    c->cluster = cmd[i].cluster;
    c->command = cmd[i].command;
  }
  if (t->n_choices == 0) {
    tui__message(t, 1, "%s takes no commands without arguments", m->model_id);
    return;
  }
  snprintf(t->modal_title, sizeof t->modal_title, "Command to slot %u", t->dev_sel);
  t->choice_sel = 0;
  t->modal = TUI_MODAL_COMMAND;
}

static void tui_open_fault(struct ui_tui *t) {
  if (!t->h.fault) {
    tui__message(t, 1, "injecting faults is not available in this run");
    return;
  }
  if (t->h.fleet && t->hub_sel >= sim_fleet_hub_count(t->h.fleet)) {
    tui__message(t, 1, "no hub selected");
    return;
  }
  t->n_choices = 0;
  for (size_t i = 0; i < UI_N_FAULTS; i++) {
    struct tui_choice *c = &t->choices[t->n_choices++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", ui_faults[i][0]);
    snprintf(c->label, sizeof c->label, "%-10s %s", ui_faults[i][0], ui_faults[i][1]);
  }
  char id[40];
  tui_hub_name(t, t->hub_sel, id, sizeof id);
  snprintf(t->modal_title, sizeof t->modal_title, "Fault on %s", id);
  t->choice_sel = 0;
  t->modal = TUI_MODAL_FAULT;
}

static void tui_choose(struct ui_tui *t) {
  const struct tui_choice *c = &t->choices[t->choice_sel];
  int modal = t->modal;
  t->modal = TUI_MODAL_NONE;
  char id[40];
  tui_hub_name(t, t->hub_sel, id, sizeof id);
  int rc;
  switch (modal) {
  case TUI_MODAL_TRIGGER:
    rc = t->h.trigger(t->h.arg, t->hub_sel, t->dev_sel, c->name);
    if (rc == 0)
      tui__message(t, 0, "triggered '%s' on %s slot %u", c->name, id, t->dev_sel);
    else
      tui__message(t, 1, "trigger '%s': %s", c->name, sim_strerror(rc));
    break;
  case TUI_MODAL_COMMAND:
    rc = t->h.command(t->h.arg, t->hub_sel, t->dev_sel, c->ep, c->cluster, c->command, NULL, 0);
    if (rc == 0)
      tui__message(t, 0, "sent 0x%04x/0x%02x to %s slot %u", c->cluster, c->command, id,
                   t->dev_sel);
    else
      tui__message(t, 1, "command: %s", sim_strerror(rc));
    break;
  case TUI_MODAL_FAULT:
    rc = t->h.fault(t->h.arg, t->hub_sel, c->name);
    if (rc == 0)
      tui__message(t, 0, "fault '%s' injected on %s", c->name, id);
    else
      tui__message(t, 1, "fault '%s': %s", c->name, sim_strerror(rc));
    break;
  default:
    break;
  }
}

static void tui_speed(struct ui_tui *t, int up) {
  if (!t->h.set_speed) {
    tui__message(t, 1, "changing the speed is not available in this run");
    return;
  }
  if (!t->hd.virtual_clock) {
    tui__message(t, 1, "speed changes need the virtual clock (--clock virtual)");
    return;
  }
  double s = ui_next_speed(t->hd.speed, up);
  int rc = t->h.set_speed(t->h.arg, s);
  if (rc != 0) {
    tui__message(t, 1, "speed: %s", sim_strerror(rc));
    return;
  }
  t->hd.speed = s;
  if (s == 0)
    tui__message(t, 0, "speed: as fast as it can");
  else
    tui__message(t, 0, "speed: x%g", s);
}

static void tui_pause(struct ui_tui *t) {
  if (!t->h.pause) {
    tui__message(t, 1, "pausing is not available in this run");
    return;
  }
  int on = !t->hd.paused;
  int rc = t->h.pause(t->h.arg, on);
  if (rc != 0) {
    tui__message(t, 1, "%s: %s", on ? "pause" : "resume", sim_strerror(rc));
    return;
  }
  t->hd.paused = on;
  tui__message(t, 0, on ? "paused: device time stopped" : "resumed");
}

static void tui_step(struct ui_tui *t) {
  if (!t->h.step) {
    tui__message(t, 1, "stepping is not available in this run");
    return;
  }
  if (!t->hd.virtual_clock) {
    tui__message(t, 1, "stepping needs the virtual clock (--clock virtual)");
    return;
  }
  int rc = t->h.step(t->h.arg);
  if (rc != 0)
    tui__message(t, 1, "step: %s", sim_strerror(rc));
  else
    tui__message(t, 0, "stepped one second");
}

/* ---- navigation ----------------------------------------------------------------------------- */

static uint32_t tui_hub_count(const struct ui_tui *t) {
  return t->h.fleet ? sim_fleet_hub_count(t->h.fleet) : 0;
}

static uint32_t tui_slot_count(const struct ui_tui *t) {
  return t->h.fleet ? sim_fleet_devices_per_hub(t->h.fleet) : 0;
}

static uint32_t tui_move(uint32_t cur, long delta, uint32_t n) {
  if (n == 0)
    return 0;
  long v = (long)cur + delta;
  if (v < 0)
    v = 0;
  if (v >= (long)n)
    v = (long)n - 1;
  return (uint32_t)v;
}

/* Moves the selection of the focused list; page is the height of a list page. */
static void tui_nav(struct ui_tui *t, long delta) {
  switch (t->focus) {
  case TUI_FOCUS_HUBS:
    t->hub_sel = tui_move(t->hub_sel, delta, tui_hub_count(t));
    break;
  case TUI_FOCUS_DEVICES:
  case TUI_FOCUS_DETAIL:
    t->dev_sel = tui_move(t->dev_sel, delta, tui_slot_count(t));
    break;
  case TUI_FOCUS_LOG: {
    const char *const *lines = NULL;
    size_t n = t->h.log ? t->h.log(t->h.arg, &lines) : 0;
    long v = (long)t->log_back - delta; /* up (negative delta) goes back in time */
    if (v < 0)
      v = 0;
    if (n && v > (long)n - 1)
      v = (long)n - 1;
    t->log_back = n ? (size_t)v : 0;
    break;
  }
  default:
    break;
  }
}

static void tui_enter(struct ui_tui *t) {
  if (t->focus == TUI_FOCUS_HUBS) {
    if (!t->h.fleet) {
      tui__message(t, 1, "per-hub views need the fleet in this process (not with --workers)");
      return;
    }
    if (tui_hub_count(t) == 0)
      return;
    t->focus = TUI_FOCUS_DEVICES;
    t->dev_sel = 0;
    t->dev_top = 0;
  } else if (t->focus == TUI_FOCUS_DEVICES) {
    t->focus = TUI_FOCUS_DETAIL;
  }
}

static void tui_back(struct ui_tui *t) {
  if (t->focus == TUI_FOCUS_DETAIL)
    t->focus = TUI_FOCUS_DEVICES;
  else
    t->focus = TUI_FOCUS_HUBS;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static int tui_page(void) {
  return LINES > 30 ? LINES / 3 : 5;
}

static void tui_key_modal(struct ui_tui *t, int k) {
  if (t->modal == TUI_MODAL_HELP) {
    t->modal = TUI_MODAL_NONE;
    return;
  }
  if (t->modal == TUI_MODAL_QUIT) {
    t->modal = TUI_MODAL_NONE;
    if (k == 'y' || k == 'Y') {
      t->quit_sent = 1;
      tui__message(t, 0, "quitting: draining, then the summary");
      t->h.quit(t->h.arg);
    } else {
      tui__message(t, 0, "quit cancelled");
    }
    return;
  }
  switch (k) {
  case KEY_UP:
  case 'k':
    if (t->choice_sel > 0)
      t->choice_sel--;
    break;
  case KEY_DOWN:
  case 'j':
    if (t->choice_sel + 1 < t->n_choices)
      t->choice_sel++;
    break;
  case KEY_ENTER:
  case '\n':
  case '\r':
    tui_choose(t);
    break;
  case 27:
  case 'q':
  case KEY_LEFT:
  case KEY_BACKSPACE:
    t->modal = TUI_MODAL_NONE;
    break;
  default:
    if (k >= '1' && k <= '9' && k - '1' < t->n_choices) {
      t->choice_sel = k - '1';
      tui_choose(t);
    }
    break;
  }
}

static void tui_key(struct ui_tui *t, int k) {
  if (k == KEY_RESIZE) {
    clearok(curscr, TRUE);
    return;
  }
  if (t->modal != TUI_MODAL_NONE) {
    tui_key_modal(t, k);
    return;
  }
  switch (k) {
  case '?':
    t->modal = TUI_MODAL_HELP;
    break;
  case 'q':
  case 'Q':
    if (!t->h.quit)
      tui__message(t, 1, "quitting is not available in this run");
    else if (t->quit_sent)
      tui__message(t, 0, "already quitting: waiting for the drain");
    else
      t->modal = TUI_MODAL_QUIT;
    break;
  case 'p':
  case ' ':
    tui_pause(t);
    break;
  case 's':
    tui_step(t);
    break;
  case '+':
  case '=':
    tui_speed(t, 1);
    break;
  case '-':
  case '_':
    tui_speed(t, 0);
    break;
  case KEY_UP:
  case 'k':
    tui_nav(t, -1);
    break;
  case KEY_DOWN:
  case 'j':
    tui_nav(t, 1);
    break;
  case KEY_PPAGE:
    tui_nav(t, -tui_page());
    break;
  case KEY_NPAGE:
    tui_nav(t, tui_page());
    break;
  case KEY_HOME:
  case 'g':
    tui_nav(t, -(1L << 30));
    break;
  case KEY_END:
  case 'G':
    tui_nav(t, 1L << 30);
    break;
  case KEY_ENTER:
  case '\n':
  case '\r':
  case KEY_RIGHT:
  case 'l':
    tui_enter(t);
    break;
  case 27:
  case KEY_LEFT:
  case KEY_BACKSPACE:
  case 127:
  case 'h':
    tui_back(t);
    break;
  case '\t':
    t->focus = t->focus == TUI_FOCUS_HUBS  ? (t->h.fleet ? TUI_FOCUS_DEVICES : TUI_FOCUS_LOG)
               : t->focus == TUI_FOCUS_LOG ? TUI_FOCUS_HUBS
                                           : TUI_FOCUS_LOG;
    break;
  case 't':
    tui_open_trigger(t);
    break;
  case 'c':
    tui_open_command(t);
    break;
  case 'f':
    tui_open_fault(t);
    break;
  case 12: /* ^L */
    clearok(curscr, TRUE);
    break;
  default:
    break;
  }
}

static void tui_poll_cb(uv_poll_t *h, int status, int events) {
  struct ui_tui *t = h->data;
  (void)events;
  if (t->stopping)
    return;
  if (status < 0) {
    /* The terminal went away (hang-up): stop reading, keep drawing what can be drawn. */
    uv_poll_stop(h);
    return;
  }
  set_term(t->scr);
  /* Everything that arrived, at most a bounded number of keys per wakeup (a paste must not
   * hold the loop), then one frame. */
  int n = 0;
  for (int k; n < 256 && (k = wgetch(stdscr)) != ERR; n++) {
    tui_key(t, k);
    if (t->stopping)
      return; /* a host call stopped the dashboard */
  }
  if (n > 0) {
    t->empty_wakeups = 0;
  } else if (++t->empty_wakeups > 64) {
    /* Readable again and again with no key: the terminal hung up. Stop watching, or the poll
     * would spin; the screen keeps being drawn by the timer. */
    uv_poll_stop(h);
    tui__message(t, 1, "the keyboard is gone (terminal closed?): keys are ignored");
  }
  ui_tui_draw(t);
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static void tui_free(struct ui_tui *t) {
  free(t->st);
  free(t);
}

static void tui_closed_cb(uv_handle_t *h) {
  struct ui_tui *t = h->data;
  if (--t->open_handles == 0)
    tui_free(t);
}

/* Restores the terminal and forgets the screen. */
static void tui_end_screen(struct ui_tui *t) {
  if (!t->scr)
    return;
  set_term(t->scr);
  endwin();
  delscreen(t->scr);
  t->scr = NULL;
  if (tui_active == t)
    tui_active = NULL;
}

static void tui_close_handles(struct ui_tui *t) {
  uv_handle_t *hs[] = {(uv_handle_t *)&t->timer, (uv_handle_t *)&t->poll, (uv_handle_t *)&t->winch};
  int any = 0;
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
    if (hs[i]->data == t && !uv_is_closing(hs[i])) {
      any = 1;
      uv_close(hs[i], tui_closed_cb);
    }
  if (!any)
    tui_free(t);
}

static void tui_init_colors(struct ui_tui *t, int want) {
  const char *nc = getenv("NO_COLOR");
  int on = want == UI_TUI_COLOR_ALWAYS || (want == UI_TUI_COLOR_AUTO && !(nc && *nc));
  if (!on || !has_colors() || start_color() == ERR) {
    t->color = 0;
    return;
  }
  int bg = COLOR_BLACK;
  if (use_default_colors() == OK)
    bg = -1;
  init_pair(TUI_C_TITLE, COLOR_CYAN, bg);
  init_pair(TUI_C_HEADER, COLOR_BLACK, COLOR_CYAN);
  init_pair(TUI_C_OK, COLOR_GREEN, bg);
  init_pair(TUI_C_WARN, COLOR_YELLOW, bg);
  init_pair(TUI_C_BAD, COLOR_RED, bg);
  init_pair(TUI_C_DIM, COLORS >= 16 ? 8 : COLOR_WHITE, bg);
  init_pair(TUI_C_SEL, COLOR_BLACK, COLOR_WHITE);
  t->color = 1;
}

int ui_tui_start(const struct ui_host *h, const struct ui_tui_opts *o, struct ui_tui **out) {
  static const struct ui_tui_opts defaults = {0};
  if (!o)
    o = &defaults;
  if (!h || !h->loop || !out)
    return SIM_EINVAL;
  if (tui_active)
    return SIM_EEXISTS; /* one terminal dashboard per process */
  struct ui_tui *t = calloc(1, sizeof *t);
  if (!t)
    return SIM_ENOMEM;
  t->st = calloc(1, sizeof *t->st);
  if (!t->st) {
    free(t);
    return SIM_ENOMEM;
  }
  t->h = *h;
  t->in = o->in ? o->in : stdin;
  t->out = o->out ? o->out : stdout;
  t->utf8 = MB_CUR_MAX > 1;
  double hz = o->refresh_hz > 0 ? o->refresh_hz : 4;
  if (hz < 0.5)
    hz = 0.5;
  if (hz > 60)
    hz = 60;
  int rc;

  if (!isatty(fileno(t->out)) || !isatty(fileno(t->in))) {
    rc = SIM_EINVAL;
    goto fail;
  }
  /* newterm() prints to stderr and returns NULL for an unknown terminal; it does not exit. */
  t->scr = newterm(o->term ? o->term : getenv("TERM"), t->out, t->in);
  if (!t->scr) {
    rc = SIM_EINVAL;
    goto fail;
  }
  set_term(t->scr);
  tui_active = t;
  if (!tui_atexit_set && atexit(tui_atexit) == 0)
    tui_atexit_set = 1;
  cbreak();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  /* A lone Esc waits this long for the rest of an escape sequence inside wgetch: keep the
   * loop's stall short. */
  set_escdelay(25);
  curs_set(0);
  tui_init_colors(t, o->color);

  t->timer.data = t->poll.data = t->winch.data = NULL;
  if ((rc = uv_timer_init(h->loop, &t->timer)) != 0)
    goto fail;
  t->timer.data = t;
  t->open_handles++;
  if ((rc = uv_poll_init(h->loop, &t->poll, fileno(t->in))) != 0)
    goto fail;
  t->poll.data = t;
  t->open_handles++;
  if ((rc = uv_signal_init(h->loop, &t->winch)) != 0)
    goto fail;
  t->winch.data = t;
  t->open_handles++;
  uint64_t ms = (uint64_t)(1000.0 / hz + 0.5);
  if ((rc = uv_timer_start(&t->timer, tui_timer_cb, ms, ms)) != 0 ||
      (rc = uv_poll_start(&t->poll, UV_READABLE, tui_poll_cb)) != 0 ||
      (rc = uv_signal_start(&t->winch, tui_winch_cb, SIGWINCH)) != 0)
    goto fail;
  /* The handles must not keep the loop alive on their own: the run ends when the fleet does. */
  uv_unref((uv_handle_t *)&t->timer);
  uv_unref((uv_handle_t *)&t->poll);
  uv_unref((uv_handle_t *)&t->winch);
  ui_tui_draw(t);
  *out = t;
  return 0;

fail:
  tui_end_screen(t);
  t->stopping = 1;
  if (t->open_handles)
    tui_close_handles(t); /* frees t from the last close callback */
  else
    tui_free(t);
  return rc;
}

void ui_tui_stop(struct ui_tui *t) {
  if (!t || t->stopping)
    return;
  t->stopping = 1;
  uv_timer_stop(&t->timer);
  uv_poll_stop(&t->poll);
  uv_signal_stop(&t->winch);
  tui_end_screen(t);
  tui_close_handles(t);
}

size_t ui_tui_dump(struct ui_tui *t, char *buf, size_t cap) {
  if (!buf || cap == 0)
    return 0;
  buf[0] = '\0';
  if (!t || !t->scr)
    return 0;
  set_term(t->scr);
  size_t n = 0;
  wchar_t row[512];
  for (int y = 0; y < LINES; y++) {
    int w = COLS < 511 ? COLS : 511;
    int got = mvwinnwstr(stdscr, y, 0, row, w);
    if (got == ERR)
      got = 0;
    row[got] = 0;
    char line[512 * 4 + 2];
    size_t len = 0;
    mbstate_t ms;
    memset(&ms, 0, sizeof ms);
    for (int i = 0; i < got && row[i]; i++) {
      char mb[16];
      size_t k = wcrtomb(mb, row[i], &ms);
      if (k == (size_t)-1) {
        memset(&ms, 0, sizeof ms);
        mb[0] = '?';
        k = 1;
      }
      if (len + k >= sizeof line - 2)
        break;
      memcpy(line + len, mb, k);
      len += k;
    }
    while (len > 0 && line[len - 1] == ' ')
      len--;
    line[len++] = '\n';
    if (n + len >= cap)
      len = cap - 1 - n;
    memcpy(buf + n, line, len);
    n += len;
    if (n + 1 >= cap)
      break;
  }
  buf[n] = '\0';
  return n;
}

void ui_tui_info(const struct ui_tui *t, struct ui_tui_info *out) {
  memset(out, 0, sizeof *out);
  if (!t)
    return;
  if (t->scr) {
    set_term(t->scr);
    out->rows = LINES;
    out->cols = COLS;
  }
  out->color = t->color;
  out->frames = t->frames;
  out->last_draw_ns = t->last_draw_ns;
  out->max_draw_ns = t->max_draw_ns;
}
