#include "sim/core/num.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"

int sim_num_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 20)
    return SIM_EINVAL;
  errno = 0;
  unsigned long long v = strtoull(s, NULL, 10);
  if (errno || v < min || v > max)
    return SIM_EINVAL;
  *out = v;
  return 0;
}

int sim_num_parse_double(const char *s, double min, double max, double *out) {
  if (!s || !*s)
    return SIM_EINVAL;
  /* Digits, then at most one point followed by digits: what strtod reads then is exactly the
   * decimal value written. */
  size_t i = strspn(s, "0123456789");
  if (i == 0 || i > 30)
    return SIM_EINVAL;
  if (s[i] == '.') {
    size_t f = strspn(s + i + 1, "0123456789");
    if (f == 0 || f > 30)
      return SIM_EINVAL;
    i += 1 + f;
  }
  if (s[i])
    return SIM_EINVAL;
  double v = strtod(s, NULL);
  if (v < min || v > max)
    return SIM_EINVAL;
  *out = v;
  return 0;
}
