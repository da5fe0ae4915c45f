#include "sim/core/dur.h"

#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"

/* Digits of one number: at most 30 before the point and 30 after, so that the value is far
 * from overflow and strtod() sees only plain decimal text. */
#define DUR_MAX_DIGITS 30

int sim_dur_parse(const char *text, double plain_unit_s, double *seconds) {
  if (!text || !*text)
    return SIM_EINVAL;
  const char *p = text;
  double total = 0;
  int parts = 0;
  while (*p) {
    const char *start = p;
    size_t intd = 0, fracd = 0;
    while (*p >= '0' && *p <= '9' && intd <= DUR_MAX_DIGITS) {
      p++;
      intd++;
    }
    if (intd == 0 || intd > DUR_MAX_DIGITS)
      return SIM_EINVAL;
    if (*p == '.') {
      p++;
      while (*p >= '0' && *p <= '9' && fracd <= DUR_MAX_DIGITS) {
        p++;
        fracd++;
      }
      if (fracd == 0 || fracd > DUR_MAX_DIGITS)
        return SIM_EINVAL;
    }
    char num[2 * DUR_MAX_DIGITS + 4];
    memcpy(num, start, (size_t)(p - start));
    num[p - start] = '\0';
    double v = strtod(num, NULL);
    double unit;
    if (strncmp(p, "us", 2) == 0) {
      unit = 1e-6;
      p += 2;
    } else if (strncmp(p, "ms", 2) == 0) {
      unit = 1e-3;
      p += 2;
    } else if (*p == 's') {
      unit = 1;
      p++;
    } else if (*p == 'm') {
      unit = 60;
      p++;
    } else if (*p == 'h') {
      unit = 3600;
      p++;
    } else if (*p == 'd') {
      unit = 86400;
      p++;
    } else if (*p == '\0' && parts == 0) {
      unit = plain_unit_s; /* a lone number */
    } else {
      return SIM_EINVAL;
    }
    total += v * unit;
    parts++;
  }
  *seconds = total;
  return 0;
}
