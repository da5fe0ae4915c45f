/* The reader of hubsim's captures: pcapng blocks (section header, interface description,
 * enhanced packet), the raw IPv4/TCP packets in them, and each connection's two byte streams.
 * What the writer makes (capture.c) is what is accepted: one section, interfaces of link type
 * 228 (raw IPv4), TCP over IPv4 in every packet. Other blocks a tool may add (name resolution,
 * statistics, a second section from mergecap) are stepped over; anything whose lengths do not
 * hold together is refused with its offset. */
#include "recorders/capture_read.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/core/err.h"
#include "sim/core/htab.h"
#include "sim/wire/frame.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_EPB 6u
#define LINKTYPE_IPV4 228u
#define MAX_IFACES 16u

struct rd {
  const uint8_t *p;
  size_t n;
  const char *name;
  int swap;
  uint32_t n_ifaces;
  uint64_t tsdiv[MAX_IFACES]; /* units per microsecond divisor, or 0: multiply by tsmul */
  uint64_t tsmul[MAX_IFACES];
  struct sim_htab by_flow;
  struct rec_capread *r;
  char *why;
  size_t cap;
};

static uint32_t get32(const struct rd *d, const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return d->swap ? __builtin_bswap32(v) : v;
}
static uint16_t get16(const struct rd *d, const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return d->swap ? __builtin_bswap16(v) : v;
}
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint16_t be16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

static int bad(struct rd *d, uint64_t off, const char *what) {
  snprintf(d->why, d->cap, "%s: not a hubsim capture at byte %" PRIu64 ": %s", d->name, off, what);
  return SIM_EMALFORMED;
}

/* Walks the options of a block body from p[0..n) (n is what remains after the fixed part):
 * calls back for each; a length that runs beyond the block is malformed. */
static int each_opt(struct rd *d, const uint8_t *p, size_t n, uint64_t off,
                    void (*cb)(void *arg, uint16_t code, const uint8_t *v, uint16_t len),
                    void *arg) {
  size_t i = 0;
  while (i + 4 <= n) {
    uint16_t code = get16(d, p + i), len = get16(d, p + i + 2);
    size_t padded = ((size_t)len + 3) & ~(size_t)3;
    if (padded > n - i - 4)
      return bad(d, off + i, "an option runs beyond its block");
    if (code == 0)
      return 0;
    cb(arg, code, p + i + 4, len);
    i += 4 + padded;
  }
  return 0;
}

static void shb_opt(void *arg, uint16_t code, const uint8_t *v, uint16_t len) {
  struct rec_capread *r = arg;
  if (code == 1 && !r->comment[0]) {
    size_t k = len < sizeof r->comment - 1 ? len : sizeof r->comment - 1;
    memcpy(r->comment, v, k);
    r->comment[k] = '\0';
  }
}

struct idb_opts {
  int resol; /* -1: default (microseconds) */
};
static void idb_opt(void *arg, uint16_t code, const uint8_t *v, uint16_t len) {
  struct idb_opts *o = arg;
  if (code == 9 && len >= 1)
    o->resol = v[0];
}

static int on_shb(struct rd *d, const uint8_t *b, uint32_t len, uint64_t off) {
  if (len < 28)
    return bad(d, off, "section header shorter than 28 bytes");
  uint32_t magic;
  memcpy(&magic, b + 8, 4);
  int swap = magic == 0x4D3C2B1Au;
  if (!swap && magic != 0x1A2B3C4Du)
    return bad(d, off + 8, "section header without the byte-order magic");
  if (d->r->blocks && swap != d->swap)
    return bad(d, off, "a second section in the other byte order");
  d->swap = swap;
  if (get16(d, b + 12) != 1)
    return bad(d, off + 12, "pcapng major version is not 1");
  d->n_ifaces = 0; /* interfaces are numbered per section */
  return each_opt(d, b + 24, len - 28, off + 24, shb_opt, d->r);
}

static int on_idb(struct rd *d, const uint8_t *b, uint32_t len, uint64_t off) {
  if (len < 20)
    return bad(d, off, "interface description shorter than 20 bytes");
  if (get16(d, b + 8) != LINKTYPE_IPV4)
    return bad(d, off + 8, "interface link type is not raw IPv4 (228), which hubsim writes");
  if (d->n_ifaces == MAX_IFACES)
    return bad(d, off, "more than 16 interfaces");
  struct idb_opts o = {.resol = -1};
  int rc = each_opt(d, b + 16, len - 20, off + 16, idb_opt, &o);
  if (rc)
    return rc;
  uint32_t i = d->n_ifaces++;
  d->tsdiv[i] = 1;
  d->tsmul[i] = 1;
  if (o.resol >= 0) {
    if (o.resol & 0x80 || o.resol > 12)
      return bad(d, off, "timestamp resolution other than 10^-0 .. 10^-12 s");
    uint64_t p10 = 1;
    for (int k = 0; k < (o.resol > 6 ? o.resol - 6 : 6 - o.resol); k++)
      p10 *= 10;
    if (o.resol > 6)
      d->tsdiv[i] = p10;
    else
      d->tsmul[i] = p10;
  }
  return 0;
}

static struct rec_capread_conn *conn_new(struct rd *d, uint32_t cip, uint16_t cport, uint32_t sip,
                                         uint16_t sport, uint64_t us) {
  struct rec_capread *r = d->r;
  struct rec_capread_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->cip = cip;
  c->cport = cport;
  c->sip = sip;
  c->sport = sport;
  c->hub = (cip & 0xFFFFFFu) - 1u;
  c->start_us = us;
  uint64_t key = (uint64_t)cip << 32 | (uint64_t)cport << 16 | sport;
  if (sim_htab_put(&d->by_flow, key, c)) {
    free(c);
    return NULL;
  }
  if (sim_buf_append(&r->conn_buf, &c, sizeof c)) {
    sim_htab_del(&d->by_flow, key);
    free(c);
    return NULL;
  }
  r->conns = (struct rec_capread_conn **)(void *)r->conn_buf.data;
  r->n_conns = r->conn_buf.len / sizeof c;
  return c;
}

/* Appends a segment's payload to its stream, in sequence order. A segment already seen (its
 * bytes are before next_seq) is skipped; one after a hole marks the stream as broken there. */
static int stream_add(struct rec_capread_stream *s, uint32_t seq, const uint8_t *p, size_t n,
                      uint64_t us) {
  if (s->gap || n == 0)
    return 0;
  uint32_t ahead = seq - s->next_seq;
  if (ahead != 0) {
    if (ahead < 0x80000000u) { /* bytes are missing before this segment */
      s->gap = 1;
      return 0;
    }
    uint32_t behind = s->next_seq - seq;
    if (behind >= n)
      return 0;
    p += behind;
    n -= behind;
  }
  struct rec_capread_mark mk = {.off = s->bytes.len, .us = us};
  if (sim_buf_append(&s->mark_buf, &mk, sizeof mk))
    return SIM_ENOMEM;
  s->marks = (const struct rec_capread_mark *)(const void *)s->mark_buf.data;
  s->n_marks = s->mark_buf.len / sizeof mk;
  int rc = sim_buf_append(&s->bytes, p, n);
  if (rc)
    return rc;
  s->next_seq += (uint32_t)n;
  return 0;
}

struct epb_opts {
  const uint8_t *comment;
  uint16_t len;
};
static void epb_opt(void *arg, uint16_t code, const uint8_t *v, uint16_t len) {
  struct epb_opts *o = arg;
  if (code == 1 && !o->comment) {
    o->comment = v;
    o->len = len;
  }
}

/* One IPv4/TCP packet of pkt[0..n) captured at us; opts: the comment of its block. */
static int on_packet(struct rd *d, const uint8_t *pkt, size_t n, uint64_t us, uint64_t off,
                     const struct epb_opts *opts) {
  if (n < 20 || pkt[0] >> 4 != 4)
    return bad(d, off, "a packet that is not IPv4");
  size_t ihl = (size_t)(pkt[0] & 15) * 4, tot = be16(pkt + 2);
  if (ihl < 20 || tot < ihl || tot > n)
    return bad(d, off, "an IPv4 header whose lengths do not fit the packet");
  if (pkt[9] != 6)
    return 0; /* not TCP: not a hub's, stepped over */
  const uint8_t *tcp = pkt + ihl;
  size_t tn = tot - ihl;
  if (tn < 20 || (size_t)(tcp[12] >> 4) * 4 < 20 || (size_t)(tcp[12] >> 4) * 4 > tn)
    return bad(d, off, "a TCP header whose lengths do not fit the packet");
  size_t doff = (size_t)(tcp[12] >> 4) * 4;
  uint32_t src = be32(pkt + 12), dst = be32(pkt + 16), seq = be32(tcp + 4);
  uint16_t sp = be16(tcp), dp = be16(tcp + 2);
  uint8_t flags = tcp[13];
  int dir = REC_CAPREAD_UP;
  uint64_t key = (uint64_t)src << 32 | (uint64_t)sp << 16 | dp;
  struct rec_capread_conn *c = NULL;
  if ((flags & 0x12) == 0x02) { /* a SYN: a new connection of the hub at src */
    c = conn_new(d, src, sp, dst, dp, us);
    if (!c)
      return SIM_ENOMEM;
    if (opts->comment) {
      size_t k = opts->len < sizeof c->hub_id - 1 ? opts->len : sizeof c->hub_id - 1;
      memcpy(c->hub_id, opts->comment, k);
      c->hub_id[k] = '\0';
    }
    c->dir[REC_CAPREAD_UP].next_seq = seq + 1;
    return 0;
  }
  c = sim_htab_get(&d->by_flow, key);
  if (!c || c->sip != dst) {
    c = sim_htab_get(&d->by_flow, (uint64_t)dst << 32 | (uint64_t)dp << 16 | sp);
    dir = REC_CAPREAD_DOWN;
    if (!c || c->sip != src)
      return 0; /* a conversation whose SYN is not in the file: nothing to start it from */
  }
  struct rec_capread_stream *s = &c->dir[dir];
  if ((flags & 0x12) == 0x12) { /* SYN/ACK: the server's first sequence number */
    s->next_seq = seq + 1;
    return 0;
  }
  if (flags & 0x05)
    c->closed = 1;
  return stream_add(s, seq, tcp + doff, tn - doff, us);
}

static int on_epb(struct rd *d, const uint8_t *b, uint32_t len, uint64_t off) {
  if (len < 32)
    return bad(d, off, "enhanced packet block shorter than 32 bytes");
  uint32_t ifc = get32(d, b + 8), caplen = get32(d, b + 20);
  if (ifc >= d->n_ifaces)
    return bad(d, off + 8, "a packet of an interface not described before it");
  if (caplen > len - 32)
    return bad(d, off + 20, "captured length runs beyond its block");
  uint64_t ts = (uint64_t)get32(d, b + 12) << 32 | get32(d, b + 16);
  uint64_t us = d->tsdiv[ifc] > 1 ? ts / d->tsdiv[ifc] : ts * d->tsmul[ifc];
  size_t padded = ((size_t)caplen + 3) & ~(size_t)3;
  struct epb_opts o = {0};
  if (padded <= len - 32) {
    int rc = each_opt(d, b + 28 + padded, len - 32 - padded, off + 28 + padded, epb_opt, &o);
    if (rc)
      return rc;
  }
  d->r->packets++;
  return on_packet(d, b + 28, caplen, us, off + 28, &o);
}

/* The blocks of the file, one after the other, until its end or the first that is not whole. */
static int read_blocks(struct rd *d) {
  uint64_t off = 0;
  while (off < d->n) {
    size_t left = d->n - off;
    const uint8_t *b = d->p + off;
    if (left < 12)
      break; /* cut inside a block's header */
    uint32_t type = get32(d, b), len;
    if (off == 0 && type != BT_SHB)
      return bad(d, 0, "the file does not begin with a pcapng section header");
    if (type == BT_SHB) {
      uint32_t magic;
      memcpy(&magic, b + 8, 4);
      d->swap = magic == 0x4D3C2B1Au;
    }
    len = get32(d, b + 4);
    if (len < 12 || len % 4)
      return bad(d, off + 4, "a block length below 12 or not a multiple of 4");
    if (len > REC_CAPREAD_BLOCK_MAX)
      return bad(d, off + 4, "a block longer than 128 KiB, more than hubsim writes");
    if (len > left)
      break; /* cut inside this block */
    if (get32(d, b + len - 4) != len)
      return bad(d, off + len - 4, "a block's trailing length differs from its leading one");
    int rc = 0;
    if (type == BT_SHB)
      rc = on_shb(d, b, len, off);
    else if (type == BT_IDB)
      rc = on_idb(d, b, len, off);
    else if (type == BT_EPB)
      rc = on_epb(d, b, len, off);
    if (rc)
      return rc;
    d->r->blocks++;
    off += len;
  }
  d->r->end_off = off;
  d->r->truncated = off < d->n;
  return 0;
}

int rec_capread_mem(const uint8_t *p, size_t n, const char *name, struct rec_capread **out,
                    char *why, size_t cap) {
  struct rd d = {.p = p, .n = n, .name = name, .why = why, .cap = cap};
  d.r = calloc(1, sizeof *d.r);
  if (!d.r) {
    snprintf(why, cap, "%s: %s", name, sim_strerror(SIM_ENOMEM));
    return SIM_ENOMEM;
  }
  d.r->size = n;
  int rc = n < 12 ? bad(&d, 0, "shorter than a pcapng section header") : read_blocks(&d);
  if (rc == 0 && d.r->blocks == 0)
    rc = bad(&d, 0, "no whole block: the file was cut inside its section header");
  sim_htab_fini(&d.by_flow);
  if (rc) {
    if (rc == SIM_ENOMEM)
      snprintf(why, cap, "%s: %s", name, sim_strerror(rc));
    rec_capread_free(d.r);
    return rc;
  }
  *out = d.r;
  return 0;
}

int rec_capread_file(const char *path, struct rec_capread **out, char *why, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  uint8_t *buf = NULL;
  int rc = 0;
  if (fd < 0 || fstat(fd, &st)) {
    snprintf(why, cap, "%s: cannot open it: %s", path, strerror(errno));
    rc = SIM_EIO;
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, cap, "%s: not a regular file", path);
    rc = SIM_EIO;
    goto done;
  }
  if ((uint64_t)st.st_size > REC_CAPREAD_FILE_MAX) {
    snprintf(why, cap, "%s: %" PRIu64 " bytes, above the 1 GiB a replay reads", path,
             (uint64_t)st.st_size);
    rc = SIM_ETOOBIG;
    goto done;
  }
  size_t n = (size_t)st.st_size, got = 0;
  buf = malloc(n ? n : 1);
  if (!buf) {
    snprintf(why, cap, "%s: %s", path, sim_strerror(SIM_ENOMEM));
    rc = SIM_ENOMEM;
    goto done;
  }
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break; /* a file that shrank while read: what was read is the file */
    got += (size_t)k;
  }
  rc = rec_capread_mem(buf, got, path, out, why, cap);
done:
  free(buf);
  if (fd >= 0)
    close(fd);
  return rc;
}

void rec_capread_free(struct rec_capread *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n_conns; i++) {
    for (int k = 0; k < 2; k++) {
      sim_buf_fini(&r->conns[i]->dir[k].bytes);
      sim_buf_fini(&r->conns[i]->dir[k].mark_buf);
    }
    free(r->conns[i]);
  }
  sim_buf_fini(&r->conn_buf);
  free(r);
}

/* The time of the packet that held byte off of s (marks are in increasing offset order). */
static uint64_t time_at(const struct rec_capread_stream *s, uint64_t off) {
  size_t lo = 0, hi = s->n_marks;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->marks[mid].off <= off)
      lo = mid;
    else
      hi = mid;
  }
  return s->n_marks ? s->marks[lo].us : 0;
}

int rec_capread_frames(const struct rec_capread_stream *s,
                       int (*cb)(void *arg, const struct rec_capread_frame *fr), void *arg,
                       size_t *tail, uint64_t *bad_off) {
  size_t off = 0, n = s->bytes.len;
  *tail = 0;
  while (off < n) {
    size_t hdr, body;
    int rc = sim_frame_peek(s->bytes.data + off, n - off, SIM_FRAME_MAX, &hdr, &body);
    if (rc == SIM_EAGAIN || (rc == 0 && body > n - off - hdr)) {
      *tail = n - off;
      return 0;
    }
    if (rc) {
      *bad_off = off;
      return rc;
    }
    struct rec_capread_frame fr = {
        .body = s->bytes.data + off + hdr, .len = body, .us = time_at(s, off), .off = off};
    rc = cb(arg, &fr);
    if (rc)
      return rc;
    off += hdr + body;
  }
  return 0;
}
