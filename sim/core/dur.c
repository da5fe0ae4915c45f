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

int sim_dur_parse_hhmm(const char *text, unsigned *hour, unsigned *minute) {
  if (!text)
    return SIM_EINVAL;
  const char *colon = strchr(text, ':');
  size_t hl = colon ? (size_t)(colon - text) : 0;
  if (hl < 1 || hl > 2 || strlen(colon + 1) != 2)
    return SIM_EINVAL;
  unsigned h = 0, m = 0;
  for (size_t i = 0; i < hl; i++) {
    if (text[i] < '0' || text[i] > '9')
      return SIM_EINVAL;
    h = h * 10 + (unsigned)(text[i] - '0');
  }
  for (size_t i = 1; i <= 2; i++) {
    if (colon[i] < '0' || colon[i] > '9')
      return SIM_EINVAL;
    m = m * 10 + (unsigned)(colon[i] - '0');
  }
  if (h > 23 || m > 59)
    return SIM_EINVAL;
  *hour = h;
  *minute = m;
  return 0;
}
