/* Input on the render thread: the mouse and the keys, SDL's events and the ones tests inject
 * (ui_gui_inject()), handled alike. What only the view needs (select, zoom, pan, open a picker)
 * happens here at once; what the host must do (pause, step, speed, trigger, command, fault,
 * quit) is queued for the loop (struct ui_gui.actions, under the mutex), whose timer applies it
 * and shows the result in the next snapshot's message. */
#include <math.h>
#include <stdio.h>

#include "ui/common/ui_offer.h"
#include "ui/gui/gui_internal.h"

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

static void do_speed(struct gui_render *r, int up) {
  if (!r->fs->hd.virtual_clock || !(r->fs->controls & GUI_HAVE_SPEED)) {
    local_msg(r, 1, "speed changes need the virtual clock (--clock virtual)");
    return;
  }
  act_simple(r, GUI_ACT_SPEED, ui_next_speed(r->fs->hd.speed, up));
}

const struct gui_detail *gui__detail(const struct gui_render *r) {
  const struct gui_detail *d = &r->fs->det;
  if (r->sel_hub < 0 || d->hub != r->sel_hub || d->slot != r->sel_slot)
    return NULL;
  return d;
}

static void do_trigger(struct gui_render *r, int i) {
  const struct gui_detail *d = gui__detail(r);
  if (!d || !d->has_dev || i < 0 || i >= d->n_trig)
    return;
  struct gui_action a = {
      .kind = GUI_ACT_TRIGGER, .hub = (uint32_t)d->hub, .slot = (uint32_t)d->slot};
  snprintf(a.name, sizeof a.name, "%s", d->trig[i]);
  push_action(r, &a);
}

static void do_command(struct gui_render *r, int i) {
  const struct gui_detail *d = gui__detail(r);
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

static void do_fault(struct gui_render *r, int i) {
  if (r->sel_hub < 0 || i < 0 || i >= UI_N_FAULTS)
    return;
  struct gui_action a = {.kind = GUI_ACT_FAULT, .hub = (uint32_t)r->sel_hub};
  snprintf(a.name, sizeof a.name, "%s", ui_faults[i][0]);
  push_action(r, &a);
}

void gui__quit(struct gui_render *r) {
  if (!(r->fs->controls & GUI_HAVE_QUIT)) {
    local_msg(r, 1, "quitting is not available in this run");
    return;
  }
  r->quit_asked = 1;
  act_simple(r, GUI_ACT_QUIT, 0);
}

/* ---- selection, pickers, clicks and keys ----------------------------------------------------- */

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
    gui__view_center(r, (uint32_t)hub);
}

static void open_picker(struct gui_render *r, int which) {
  const struct gui_detail *d = gui__detail(r);
  if (which == GUI_MODAL_FAULT) {
    if (r->sel_hub < 0) {
      local_msg(r, 1, "select a hub first");
      return;
    }
    if (!(r->fs->controls & GUI_HAVE_FAULT)) {
      local_msg(r, 1, "injecting faults is not available in this run");
      return;
    }
    r->modal = GUI_MODAL_FAULT;
    return;
  }
  if (!d || !d->has_dev || r->sel_slot < 0) {
    local_msg(r, 1, "select a device first: click it on the map, or enter on a hub");
    return;
  }
  if (which == GUI_MODAL_TRIGGER && !d->n_trig) {
    local_msg(r, 1, "this model has no events to trigger");
    return;
  }
  if (which == GUI_MODAL_COMMAND && !d->n_cmd) {
    local_msg(r, 1, "this model takes no commands without arguments");
    return;
  }
  r->modal = which;
}

static void pick(struct gui_render *r, int i) {
  int m = r->modal;
  r->modal = GUI_MODAL_NONE;
  if (m == GUI_MODAL_TRIGGER)
    do_trigger(r, i);
  else if (m == GUI_MODAL_COMMAND)
    do_command(r, i);
  else if (m == GUI_MODAL_FAULT)
    do_fault(r, i);
  else if (m == GUI_MODAL_QUIT && i == 1)
    gui__quit(r);
}

static void click_button(struct gui_render *r, const struct gui_btn *b) {
  if (!b->enabled) {
    local_msg(r, 1, "not available in this run");
    return;
  }
  switch (b->act) {
  case GUI_BTN_PAUSE:
    act_simple(r, GUI_ACT_PAUSE, 0);
    break;
  case GUI_BTN_STEP:
    act_simple(r, GUI_ACT_STEP, 0);
    break;
  case GUI_BTN_SLOWER:
    do_speed(r, 0);
    break;
  case GUI_BTN_FASTER:
    do_speed(r, 1);
    break;
  case GUI_BTN_FIT:
    gui__view_fit(r);
    break;
  case GUI_BTN_QUIT:
    r->modal = GUI_MODAL_QUIT;
    break;
  case GUI_BTN_TRIGGER:
    do_trigger(r, b->arg);
    break;
  case GUI_BTN_COMMAND:
    do_command(r, b->arg);
    break;
  case GUI_BTN_FAULT:
    do_fault(r, b->arg);
    break;
  case GUI_BTN_PICK:
    pick(r, b->arg);
    break;
  case GUI_BTN_BACK:
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
    if (r->modal == GUI_MODAL_HELP)
      r->modal = GUI_MODAL_NONE;
    return;
  }
  int64_t hub, slot;
  if (gui__view_hit(r, x, y, &hub, &slot))
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
  if (r->modal == GUI_MODAL_HELP) {
    r->modal = GUI_MODAL_NONE;
    return;
  }
  if (r->modal == GUI_MODAL_QUIT) {
    r->modal = GUI_MODAL_NONE;
    if (c == SDLK_y)
      gui__quit(r);
    else
      local_msg(r, 0, "quit cancelled");
    return;
  }
  if (r->modal) {
    if (c >= SDLK_1 && c <= SDLK_9)
      pick(r, (int)(c - SDLK_1));
    else if (c == SDLK_ESCAPE || c == SDLK_q || c == SDLK_BACKSPACE || c == SDLK_LEFT)
      r->modal = GUI_MODAL_NONE;
    return;
  }
  long page = 10;
  switch (c) {
  case SDLK_SLASH:
    if (shift)
      r->modal = GUI_MODAL_HELP;
    break;
  case SDLK_QUESTION:
    r->modal = GUI_MODAL_HELP;
    break;
  case SDLK_q:
    if (!(r->fs->controls & GUI_HAVE_QUIT))
      local_msg(r, 1, "quitting is not available in this run");
    else if (r->quit_asked)
      local_msg(r, 0, "already quitting: waiting for the drain");
    else
      r->modal = GUI_MODAL_QUIT;
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
    open_picker(r, GUI_MODAL_TRIGGER);
    break;
  case SDLK_c:
    open_picker(r, GUI_MODAL_COMMAND);
    break;
  case SDLK_f:
    open_picker(r, GUI_MODAL_FAULT);
    break;
  case SDLK_0:
    gui__view_fit(r);
    break;
  default:
    break;
  }
}

void gui__handle(struct gui_render *r, const SDL_Event *e) {
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
      gui__quit(r);
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
      if (!r->dragging && dx * dx + dy * dy > gui__px(r, 4) * gui__px(r, 4))
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
      gui__view_zoom(r, r->scale * pow(1.25, e->wheel.y), r->mx - r->map.x, r->my - r->map.y);
    break;
  case SDL_KEYDOWN:
    key(r, &e->key);
    break;
  default:
    break;
  }
}
