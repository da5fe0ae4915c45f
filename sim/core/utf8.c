#include "sim/core/utf8.h"

#include <assert.h>
#include <string.h>

size_t sim_utf8_seq(const uint8_t *s, size_t n) {
  if (n == 0)
    return 0;
  uint8_t c = s[0];
  if (c < 0x80)
    return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07u;
  } else {
    return 0; /* a continuation byte, 0xC0/0xC1 (always overlong) or 0xF5.. */
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0; /* overlong, or beyond Unicode */
  if (cp >= 0xD800 && cp <= 0xDFFF)
    return 0; /* surrogates are not characters */
  return len;
}

size_t sim_utf8_copy(char *out, size_t cap, const char *in) {
  assert(out && cap >= 1);
  const uint8_t *p = (const uint8_t *)(in ? in : "");
  size_t n = strlen((const char *)p), i = 0, o = 0;
  while (i < n) {
    size_t l = sim_utf8_seq(p + i, n - i);
    if (l == 0) {
      if (o + 1 > cap - 1)
        break;
      out[o++] = '?';
      i++;
      continue;
    }
    if (o + l > cap - 1)
      break; /* the whole character, or nothing of it */
    memcpy(out + o, p + i, l);
    o += l;
    i += l;
  }
  out[o] = '\0';
  return o;
}
