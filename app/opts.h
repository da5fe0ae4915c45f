/* Command-line value parsing shared by the commands: every parser names nothing itself and
 * returns 0 or SIM_EINVAL; the caller reports the flag and the value. */
#ifndef APP_OPTS_H
#define APP_OPTS_H

#include <stdint.h>

/* "30s", "5m", "2h", "1d", "250ms", or a plain number of seconds (may have a fraction). */
int app_parse_duration(const char *s, double *seconds);
/* A whole number in [min, max]. */
int app_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A finite number in [min, max]. */
int app_parse_double(const char *s, double min, double max, double *out);

#endif
