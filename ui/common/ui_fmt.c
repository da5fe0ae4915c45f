/* Figures and labels shared by the dashboards (ui_fmt.h). */
#include "ui/common/ui_fmt.h"

#include <stdio.h>

#include "sim/fleet/fleet.h"

void ui_fmt_dur(char *out, size_t cap, double s) {
  if (!(s >= 0))
    s = 0;
  if (s > 359999)
    s = 359999; /* 99:59:59 */
  unsigned v = (unsigned)s;
  if (v >= 3600)
    snprintf(out, cap, "%u:%02u:%02u", v / 3600, v / 60 % 60, v % 60);
  else
    snprintf(out, cap, "%02u:%02u", v / 60, v % 60);
}

void ui_fmt_rate(char *out, size_t cap, double v) {
  if (!(v == v))
    snprintf(out, cap, "-"); /* no sample yet */
  else if (v >= 1e6)
    snprintf(out, cap, "%.2fM", v / 1e6);
  else if (v >= 1e4)
    snprintf(out, cap, "%.1fk", v / 1e3);
  else if (v >= 100)
    snprintf(out, cap, "%.0f", v);
  else
    snprintf(out, cap, "%.1f", v);
}

void ui_fmt_clock(char *out, size_t cap, const struct ui_header *hd) {
  if (!hd->virtual_clock)
    snprintf(out, cap, "real");
  else if (hd->speed > 0)
    snprintf(out, cap, "virtual x%g", hd->speed);
  else
    snprintf(out, cap, "virtual max");
}

const char *ui_hub_state_label(int state) {
  switch (state) {
  case SIM_HUB_IDLE:
    return "idle";
  case SIM_HUB_CONNECTING:
    return "connecting";
  case SIM_HUB_HANDSHAKE:
    return "auth";
  case SIM_HUB_OPEN:
    return "online";
  case SIM_HUB_BACKOFF:
    return "backoff";
  case SIM_HUB_STOPPED:
    return "offline";
  default:
    return "?";
  }
}
