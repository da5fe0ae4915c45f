#include "app/opts.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"

int app_parse_duration(const char *s, double *seconds) {
  if (!s || !*s)
    return SIM_EINVAL;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !isfinite(v) || v < 0)
    return SIM_EINVAL;
  double mul;
  if (*end == 0 || strcmp(end, "s") == 0)
    mul = 1;
  else if (strcmp(end, "ms") == 0)
    mul = 0.001;
  else if (strcmp(end, "m") == 0)
    mul = 60;
  else if (strcmp(end, "h") == 0)
    mul = 3600;
  else if (strcmp(end, "d") == 0)
    mul = 86400;
  else
    return SIM_EINVAL;
  *seconds = v * mul;
  return 0;
}

int app_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (!s || !*s || *s == '-')
    return SIM_EINVAL;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v < min || v > max)
    return SIM_EINVAL;
  *out = v;
  return 0;
}

int app_parse_double(const char *s, double min, double max, double *out) {
  if (!s || !*s)
    return SIM_EINVAL;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v) || v < min || v > max)
    return SIM_EINVAL;
  *out = v;
  return 0;
}
