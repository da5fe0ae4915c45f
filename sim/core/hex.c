#include "sim/core/hex.h"

#include <stdlib.h>

#include "sim/core/err.h"

size_t sim_hex_size(size_t n, unsigned flags) {
  return (flags & SIM_HEX_SPACED) && n ? 3 * n : 2 * n + 1;
}

size_t sim_hex_encode(char *out, const uint8_t *p, size_t n, unsigned flags) {
  const char *d = (flags & SIM_HEX_UPPER) ? "0123456789ABCDEF" : "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if ((flags & SIM_HEX_SPACED) && i)
      out[o++] = ' ';
    out[o++] = d[p[i] >> 4];
    out[o++] = d[p[i] & 15];
  }
  out[o] = 0;
  return o;
}

char *sim_hex_dup(const uint8_t *p, size_t n, unsigned flags) {
  char *s = malloc(sim_hex_size(n, flags));
  if (s)
    sim_hex_encode(s, p, n, flags);
  return s;
}

int sim_hex_digit(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Two passes: the first checks the whole text and counts its digits, so that a text that
 * breaks a rule is reported by the first rule it breaks whatever its length, and nothing is
 * written for it; the second decodes. */
int sim_hex_decode(const char *s, size_t len, unsigned flags, uint8_t *out, size_t cap, size_t *n) {
  size_t digits = 0;
  for (size_t i = 0; i < len; i++) {
    if (sim_hex_digit((unsigned char)s[i]) >= 0)
      digits++;
    else if (!(flags & SIM_HEX_SPACED) || s[i] != ' ' || digits % 2)
      return SIM_EMALFORMED;
  }
  if (digits % 2)
    return SIM_EINVAL;
  if (digits / 2 > cap)
    return SIM_ETOOBIG;
  size_t k = 0;
  int hi = -1;
  for (size_t i = 0; i < len; i++) {
    int v = sim_hex_digit((unsigned char)s[i]);
    if (v < 0)
      continue;
    if (hi < 0) {
      hi = v;
    } else {
      out[k++] = (uint8_t)(hi << 4 | v);
      hi = -1;
    }
  }
  *n = k;
  return 0;
}
