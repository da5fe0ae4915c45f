/* Parsing of command-line values (durations, whole and decimal numbers), shared by the
 * commands: every parser names nothing itself and returns 0 or SIM_EINVAL; the caller reports
 * the flag and the value. Every number is plain decimal text: no sign, no exponent, no hex, no
 * spaces, no "inf" or "nan" (the grammar of sim/core/num.h, which `hubsim platform` uses too). */
#ifndef APP_PARSE_H
#define APP_PARSE_H

#include <stdint.h>

/* The longest duration any flag accepts: a year is beyond any run, and far from the overflow
 * of engine microseconds and libuv's millisecond timers. */
#define APP_PARSE_DURATION_MAX_S (365.0 * 86400)

/* A duration in the one grammar of sim/core/dur.h ("30s", "5m", "1h30m", "250ms", "1d"); a
 * plain number counts in plain_unit_s seconds (1 for flags in seconds, 0.001 for flags in
 * milliseconds). The result, in seconds, must be in [0, max_s]. */
int app_parse_duration(const char *s, double plain_unit_s, double max_s, double *seconds);
/* A whole number in [min, max]. */
int app_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A decimal number ("12", "0.25") in [min, max] (min >= 0: no sign is accepted). */
int app_parse_double(const char *s, double min, double max, double *out);

/* The radio flags (--radio-hops N, --radio-delay MS, --radio-loss P, --sleepy-hold D) of the
 * commands that put a radio between devices and what they talk to. */
enum { APP_RADIO_HOPS, APP_RADIO_DELAY, APP_RADIO_LOSS, APP_RADIO_SLEEPY_HOLD };
struct app_radio_flags {
  uint64_t hops;
  double delay_ms, loss, sleepy_hold_s;
};
/* Parses the value s of radio flag `flag` (APP_RADIO_*) into its field of r: NULL, or why not
 * (a sentence for the caller's message naming the flag and the value). */
const char *app_parse_radio_flag(int flag, const char *s, struct app_radio_flags *r);
/* The flag of each APP_RADIO_*, as the messages name it ("--radio-hops"). */
extern const char *const app_radio_flag_name[4];

#endif
