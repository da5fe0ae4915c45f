/* Figures and labels as both dashboards print them, so that the terminal and the window say the
 * same thing in the same words. Pure functions; every output is NUL-terminated within cap and
 * truncated, never overrun. */
#ifndef UI_COMMON_UI_FMT_H
#define UI_COMMON_UI_FMT_H

#include <stddef.h>

#include "ui/ui.h"

/* Seconds as "MM:SS", or "H:MM:SS" from an hour on; negative or NaN is 00:00, and anything
 * longer than 99:59:59 is shown as that. */
void ui_fmt_dur(char *out, size_t cap, double s);
/* A rate per second in at most 6 characters: "12.3", "450", "12.5k", "1.25M"; NaN is "-". */
void ui_fmt_rate(char *out, size_t cap, double v);
/* The header's clock: "real", "virtual max" or "virtual xSPEED". */
void ui_fmt_clock(char *out, size_t cap, const struct ui_header *hd);
/* A hub state (enum sim_hub_state) in one word: idle, connecting, auth, online, backoff,
 * offline; "?" for any other value. A static string. */
const char *ui_hub_state_label(int state);

#endif
