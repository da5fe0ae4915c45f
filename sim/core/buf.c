#include "sim/core/buf.h"

#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"

void sim_buf_init(struct sim_buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void sim_buf_fini(struct sim_buf *b) {
  free(b->data);
  sim_buf_init(b);
}

int sim_buf_reserve(struct sim_buf *b, size_t extra) {
  if (b->len + extra <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra)
    cap *= 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p)
    return SIM_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int sim_buf_append(struct sim_buf *b, const void *p, size_t n) {
  int rc = sim_buf_reserve(b, n);
  if (rc)
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

void sim_buf_consume(struct sim_buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}
