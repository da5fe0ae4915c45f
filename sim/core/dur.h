/* Durations as people write them, one grammar for every flag (and any other text input):
 *
 *   duration = part { part }          no spaces, no sign, no exponent
 *   part     = number unit            "30s", "1.5m", "250ms", "1h30m", "2d", "500us"
 *   number   = digit { digit } [ "." digit { digit } ]
 *   unit     = "us" | "ms" | "s" | "m" | "h" | "d"
 *
 * A lone number without a unit ("30", "0.5") is also accepted and counts in plain_unit_s
 * seconds (1 for flags in seconds, 0.001 for flags in milliseconds). Numbers are read as
 * decimal text only: "1e308", "0x10", "inf", "nan", "-5s" and " 5s" are refused, so a value
 * that parses is finite and at most about 1e30 seconds; callers check their own range. */
#ifndef SIM_CORE_DUR_H
#define SIM_CORE_DUR_H

/* 0 and *seconds, or SIM_EINVAL (nothing written). */
int sim_dur_parse(const char *text, double plain_unit_s, double *seconds);

/* A time of day, one grammar for the admin lines ("timer add 07:00 ...") and scenario scripts
 * (platform.timer{at = "07:00"}):
 *
 *   time = hour ":" minute     hour: 1 or 2 digits, 0..23; minute: exactly 2 digits, 0..59
 *
 * "7:05" and "07:05" are the same time; "7:5", "0700", " 7:05", "+7:05" and "24:00" are refused.
 * 0 and *hour, *minute, or SIM_EINVAL (nothing written). */
int sim_dur_parse_hhmm(const char *text, unsigned *hour, unsigned *minute);

#endif
