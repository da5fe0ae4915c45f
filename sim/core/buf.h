/* A growable byte buffer. The caller owns the struct; the bytes are owned by the buffer and
 * freed by sim_buf_fini(). Pointers into data are invalidated by any call that grows it. */
#ifndef SIM_CORE_BUF_H
#define SIM_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct sim_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
};

void sim_buf_init(struct sim_buf *b);
void sim_buf_fini(struct sim_buf *b);
/* Makes room for at least extra more bytes. 0 or SIM_ENOMEM. */
int sim_buf_reserve(struct sim_buf *b, size_t extra);
int sim_buf_append(struct sim_buf *b, const void *p, size_t n);
/* Drops the first n bytes (n <= len). */
void sim_buf_consume(struct sim_buf *b, size_t n);

#endif
