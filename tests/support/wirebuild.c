#include "wirebuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/wfile.h"
#include "sim/wire/frame.h"

/* The bytes are built from the innermost message outwards, backwards from the end of a
 * scratch area, so that each level's length is known when its key is written: no copying, linear
 * in the size. */
struct back {
  uint8_t *p;
  size_t pos; /* first byte written; the message ends at cap */
  size_t cap;
};

static int put_byte(struct back *b, uint8_t v) {
  if (b->pos == 0)
    return SIM_ETOOBIG;
  b->p[--b->pos] = v;
  return 0;
}

/* Prepends the varint of v. */
static int put_varint(struct back *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
    v >>= 7;
  } while (v);
  for (size_t i = n; i > 0; i--)
    if (put_byte(b, tmp[i - 1]))
      return SIM_ETOOBIG;
  return 0;
}

/* Wraps everything written so far (from pos to `end`) as a length-delimited field with key
 * bytes key[0..nk). */
static int wrap(struct back *b, size_t end, const uint8_t *key, size_t nk) {
  int rc = put_varint(b, end - b->pos);
  for (size_t i = nk; i > 0 && !rc; i--)
    rc = put_byte(b, key[i - 1]);
  return rc;
}

static int chain(struct back *b, unsigned depth, int long_keys) {
  static const uint8_t k_members[] = {0x4A}, k_members_long[] = {0xCA, 0x00};
  /* The innermost Attribute is empty; each level above holds only the one below. */
  int rc = 0;
  for (unsigned i = 1; i < depth && !rc; i++)
    rc = long_keys ? wrap(b, b->cap, k_members_long, 2) : wrap(b, b->cap, k_members, 1);
  return rc;
}

static int finish(struct back *b, struct sim_buf *out) {
  size_t body = b->cap - b->pos;
  if (body > SIM_FRAME_MAX)
    return SIM_ETOOBIG;
  uint8_t hdr[5];
  size_t nh = sim_frame_put_len(hdr, body);
  int rc = sim_buf_reserve(out, nh + body);
  if (rc)
    return rc;
  memcpy(out->data + out->len, hdr, nh);
  memcpy(out->data + out->len + nh, b->p + b->pos, body);
  out->len += nh + body;
  return 0;
}

static int build(struct sim_buf *out, unsigned depth, int long_keys, int unknown, uint64_t seq) {
  static const uint8_t k_attributes[] = {0x2A}, k_report[] = {0x32}, k_unknown[] = {0x7A};
  enum { CAP = SIM_FRAME_MAX + 64 };
  struct back b = {malloc(CAP), CAP, CAP};
  if (!b.p)
    return SIM_ENOMEM;
  int rc = depth ? chain(&b, depth, long_keys) : SIM_EINVAL;
  if (!rc && unknown)
    rc = wrap(&b, b.cap, k_unknown, 1);
  if (!rc && !unknown)
    rc = wrap(&b, b.cap, k_attributes, 1);
  if (!rc && !unknown && seq) { /* Report.seq, field 1, ahead of the attributes */
    rc = put_varint(&b, seq);
    if (!rc)
      rc = put_byte(&b, 0x08);
  }
  if (!rc && !unknown)
    rc = wrap(&b, b.cap, k_report, 1);
  if (!rc)
    rc = finish(&b, out);
  free(b.p);
  return rc;
}

int wb_deep_report(struct sim_buf *out, unsigned depth, int long_keys, uint64_t seq) {
  return build(out, depth, long_keys, 0, seq);
}

int wb_deep_unknown(struct sim_buf *out, unsigned depth) {
  return build(out, depth, 0, 1, 0);
}

size_t wb_deep_report_size(unsigned depth) {
  struct sim_buf b;
  sim_buf_init(&b);
  size_t n = wb_deep_report(&b, depth, 0, 0) == 0 ? b.len : 0;
  sim_buf_fini(&b);
  return n;
}

void wb_put_seed(const char *dir, const char *name, uint8_t first, const struct sim_buf *b) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (!rc) {
    if (fwrite(&first, 1, 1, w.fp) == 1 && fwrite(b->data, 1, b->len, w.fp) == b->len) {
      rc = sim_wfile_commit(&w);
    } else {
      sim_wfile_abort(&w);
      rc = SIM_EIO;
    }
  }
  if (rc) {
    fprintf(stderr, "cannot write the seed %s: %s\n", path, sim_strerror(rc));
    exit(1);
  }
}
