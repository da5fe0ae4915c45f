/* UNPI framing: see unpi.h. The reader keeps at most one frame's bytes, so its memory is fixed
 * whatever the peer sends; it resynchronises on the next SOF after any error, as Z-Stack's own
 * MT UART task does. */
#include "sim/znp/unpi.h"

#include <assert.h>
#include <string.h>

#include "sim/core/err.h"

uint8_t sim_znp_fcs(const uint8_t *p, size_t n) {
  uint8_t x = 0;
  for (size_t i = 0; i < n; i++)
    x ^= p[i];
  return x;
}

int sim_znp_frame_encode(const struct sim_znp_frame *f, uint8_t *out, size_t cap, size_t *n) {
  assert(f && out && n);
  assert(f->type <= 3 && f->subsys <= 31);
  if (f->len > SIM_ZNP_MAX_DATA || cap < (size_t)f->len + 5)
    return SIM_ETOOBIG;
  out[0] = SIM_ZNP_SOF;
  out[1] = f->len;
  out[2] = (uint8_t)(f->type << 5 | f->subsys);
  out[3] = f->cmd;
  memcpy(out + 4, f->data, f->len);
  out[4 + f->len] = sim_znp_fcs(out + 1, (size_t)f->len + 3);
  *n = (size_t)f->len + 5;
  return 0;
}

void sim_znp_reader_init(struct sim_znp_reader *r) {
  assert(r);
  memset(r, 0, sizeof *r);
}

/* Drops the SOF at buf[0] and keeps whatever followed it from the next SOF on: the bytes after
 * a refused SOF may hold the start of a good frame. */
static void resync(struct sim_znp_reader *r) {
  size_t i = 1;
  while (i < r->have && r->buf[i] != SIM_ZNP_SOF)
    i++;
  r->skipped += i - 1;
  memmove(r->buf, r->buf + i, r->have - i);
  r->have -= i;
}

/* Whether buf holds a whole frame or an error now; 1 = frame or error decided (rc set). */
static int judge(struct sim_znp_reader *r, struct sim_znp_frame *out, const char **why, int *rc) {
  if (r->have < 2)
    return 0;
  uint8_t len = r->buf[1];
  if (len > SIM_ZNP_MAX_DATA) {
    r->bad_len++;
    if (why)
      *why = "bad length: LEN above the MT limit of 250 data bytes";
    resync(r);
    *rc = SIM_ETOOBIG;
    return 1;
  }
  size_t total = (size_t)len + 5;
  if (r->have < total)
    return 0;
  if (sim_znp_fcs(r->buf + 1, total - 1) != 0) {
    /* XOR over LEN..FCS is zero exactly when the FCS matches. */
    r->bad_fcs++;
    if (why)
      *why = "bad FCS: the frame check byte does not match";
    resync(r);
    *rc = SIM_EMALFORMED;
    return 1;
  }
  out->len = len;
  out->type = r->buf[2] >> 5;
  out->subsys = r->buf[2] & 0x1F;
  out->cmd = r->buf[3];
  memcpy(out->data, r->buf + 4, len);
  r->frames++;
  /* Bytes after the frame (possible only after a resync inside a refused frame) stay, from
   * their first SOF on. */
  size_t i = total;
  while (i < r->have && r->buf[i] != SIM_ZNP_SOF)
    i++;
  r->skipped += i - total;
  memmove(r->buf, r->buf + i, r->have - i);
  r->have -= i;
  *rc = 0;
  return 1;
}

int sim_znp_reader_next(struct sim_znp_reader *r, const uint8_t **in, size_t *inlen,
                        struct sim_znp_frame *out, const char **why) {
  assert(r && in && inlen && out);
  int rc = SIM_EAGAIN;
  /* Bytes left from a resync may already hold a decision. */
  if (r->have > 0 && judge(r, out, why, &rc))
    return rc;
  while (*inlen > 0) {
    uint8_t b = **in;
    (*in)++;
    (*inlen)--;
    if (r->have == 0 && b != SIM_ZNP_SOF) {
      r->skipped++;
      continue;
    }
    r->buf[r->have++] = b;
    if (judge(r, out, why, &rc))
      return rc;
  }
  return SIM_EAGAIN;
}
