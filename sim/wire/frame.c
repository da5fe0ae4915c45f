#include "sim/wire/frame.h"

#include "sim/core/err.h"

size_t sim_frame_put_len(uint8_t out[5], size_t len) {
  size_t i = 0;
  while (len >= 0x80) {
    out[i++] = (uint8_t)(len | 0x80);
    len >>= 7;
  }
  out[i++] = (uint8_t)len;
  return i;
}

int sim_frame_peek(const uint8_t *p, size_t n, size_t max, size_t *hdr, size_t *body) {
  uint64_t v = 0;
  for (size_t i = 0; i < 5; i++) {
    if (i >= n)
      return SIM_EAGAIN;
    v |= (uint64_t)(p[i] & 0x7F) << (7 * i);
    if (!(p[i] & 0x80)) {
      if (v > UINT32_MAX)
        return SIM_EMALFORMED;
      if (v > max)
        return SIM_ETOOBIG;
      *hdr = i + 1;
      *body = (size_t)v;
      return 0;
    }
  }
  return SIM_EMALFORMED;
}

void sim_frame_reader_init(struct sim_frame_reader *r, size_t max) {
  sim_buf_init(&r->pending);
  r->max = max;
}

void sim_frame_reader_fini(struct sim_frame_reader *r) {
  sim_buf_fini(&r->pending);
}

/* Hands out every complete frame at the start of p[0..n) and sets *used to the bytes they took.
 * Returns 0, or the callback's error (*used then counts the frame that returned it), or a framing
 * error (*used is not written: the caller abandons the stream). */
static int drain(struct sim_frame_reader *r, const uint8_t *p, size_t n, size_t *used,
                 sim_frame_cb cb, void *arg) {
  size_t off = 0;
  for (;;) {
    size_t hdr, body;
    int rc = sim_frame_peek(p + off, n - off, r->max, &hdr, &body);
    if (rc == SIM_EAGAIN)
      break;
    if (rc)
      return rc;
    if (n - off - hdr < body)
      break;
    rc = cb(arg, p + off + hdr, body);
    off += hdr + body;
    if (rc) {
      *used = off;
      return rc;
    }
  }
  *used = off;
  return 0;
}

int sim_frame_reader_feed(struct sim_frame_reader *r, const uint8_t *p, size_t n, sim_frame_cb cb,
                          void *arg) {
  size_t used = 0;
  int rc;
  if (r->pending.len == 0) {
    rc = drain(r, p, n, &used, cb, arg);
    if (rc)
      return rc;
    return used < n ? sim_buf_append(&r->pending, p + used, n - used) : 0;
  }
  /* A partial frame is waiting: the whole read is appended to it and drained from pending, so
   * everything read while a frame is split gets copied once. What is left (a new partial frame)
   * stays in pending. */
  rc = sim_buf_append(&r->pending, p, n);
  if (rc)
    return rc;
  rc = drain(r, r->pending.data, r->pending.len, &used, cb, arg);
  sim_buf_consume(&r->pending, used);
  if (r->pending.len == 0 && r->pending.cap > 4096)
    sim_buf_fini(&r->pending); /* do not keep a large buffer per idle connection */
  return rc;
}
