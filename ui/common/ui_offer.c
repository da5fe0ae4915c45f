/* The commands, faults and speeds the dashboards offer (ui_offer.h). */
#include "ui/common/ui_offer.h"

#include <stddef.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"

const char *const ui_faults[UI_N_FAULTS][2] = {
    {"drop", "close the connection"},        {"stall", "stop reading for 10 s"},
    {"delay", "writes 500 ms late, 30 s"},   {"malformed", "send a malformed frame"},
    {"power", "cut power (again: restore)"}, {"skew", "clock +5 min"},
};

/* The label of a catalogue command that takes no argument; NULL for one whose payload needs
 * one (the dashboards have nowhere to ask for it). */
static const char *action_label(uint8_t action) {
  /* A step's `follow` is never a command's action; `arg` needs its argument. */
  if (action == DEV_DO_ARG || action == DEV_DO_FOLLOW || action < DEV_DO_SET ||
      action > DEV_DO_FOLLOW)
    return NULL;
  return dev_cat_action_name(action);
}

static void add(struct ui_command *out, int *n, int cap, const char *label, uint8_t ep,
                uint16_t cluster, uint8_t command) {
  for (int i = 0; i < *n; i++)
    if (out[i].ep == ep && out[i].cluster == cluster && out[i].command == command)
      return;
  if (*n >= cap)
    return;
  out[(*n)++] =
      (struct ui_command){.label = label, .ep = ep, .cluster = cluster, .command = command};
}

int ui_offer_commands(const struct sim_model *m, struct ui_command *out, int cap) {
  int n = 0;
  for (int e = 0; e < m->n_endpoints; e++) {
    const struct sim_model_endpoint *ep = &m->endpoints[e];
    for (int i = 0; i < ep->n_in; i++) {
      if (ep->in[i] != 0x0006)
        continue;
      add(out, &n, cap, "on", ep->id, 0x0006, 0x01);
      add(out, &n, cap, "off", ep->id, 0x0006, 0x00);
      add(out, &n, cap, "toggle", ep->id, 0x0006, 0x02);
    }
  }
  const struct dev_cat *cat = dev_cat_global();
  const struct dev_cat_model *cm = cat ? dev_cat_find(cat, m->model_id) : NULL;
  for (int i = 0; cm && i < cm->n_cmd; i++) {
    const char *label = action_label(cm->cmd[i].action);
    if (!label)
      continue;
    uint8_t ep = cm->cmd[i].ep ? cm->cmd[i].ep : (m->n_endpoints ? m->endpoints[0].id : 1);
    add(out, &n, cap, label, ep, cm->cmd[i].cluster, cm->cmd[i].command);
  }
  return n;
}

static const double speeds[] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 1000};
#define N_SPEEDS (sizeof speeds / sizeof speeds[0])

double ui_next_speed(double cur, int up) {
  if (up) {
    if (cur == 0)
      return 0;
    for (size_t i = 0; i < N_SPEEDS; i++)
      if (speeds[i] > cur * 1.0001)
        return speeds[i];
    return 0;
  }
  if (cur == 0)
    return speeds[N_SPEEDS - 1];
  for (size_t i = N_SPEEDS; i-- > 0;)
    if (speeds[i] < cur * 0.9999)
      return speeds[i];
  return speeds[0];
}
