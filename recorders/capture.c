/* The pcapng file of a capture: the section header, one interface of raw IPv4 (linktype 228),
 * and Enhanced Packet Blocks holding synthesised IPv4/TCP packets. Blocks are collected in a
 * buffer and leave it whole, by one write() on an O_APPEND descriptor, so that the file is a
 * sequence of whole blocks after any write and a reader of a killed run's file stops cleanly at
 * the last one. The transport side (what is recorded when) is in capture_tap.c. */
#include "recorders/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/htab.h"
#include "sim/core/num.h"

#define FLUSH_BYTES (64u * 1024u)
#define FLUSH_US 200000u
#define SEG_MAX 65000u /* payload of one synthesised segment: an IPv4 packet holds < 64 KiB */
#define LINKTYPE_IPV4 228u
#define SNAPLEN 65535u

struct rec_capture {
  struct rec_capture_config cfg;
  char path[4096];
  char comment[256];
  int fd;
  struct sim_buf out;     /* whole blocks not yet written */
  uint64_t last_flush_us; /* run clock of the last write */
  uint64_t file_bytes;    /* written, plus what out holds */
  uint64_t frames, payload, dropped;
  int stopped; /* the limit was reached or a write failed */
  int truncated, write_error;
  uint16_t ip_id;
  uint32_t next_port;    /* the next client port, per capture (wraps in 20000..59999) */
  struct sim_htab conns; /* wrapped connections by address (rec_capture_user) */
  void *taps;            /* the transports of rec_capture_wrap() (capture_tap.c) */
  uint8_t pkt[20 + 20 + SEG_MAX];
};

/* ---- the hub filter ---- */

int rec_capture_hubs_parse(const char *text, struct rec_capture_hubs *out, char *why, size_t cap) {
  struct rec_capture_hubs f = {0};
  const char *p = text;
  if (!*p) {
    snprintf(why, cap, "empty list");
    return SIM_EINVAL;
  }
  while (*p) {
    char *end;
    if (f.n == REC_CAPTURE_MAX_RANGES) {
      snprintf(why, cap, "more than %d parts", REC_CAPTURE_MAX_RANGES);
      return SIM_EINVAL;
    }
    if (*p < '0' || *p > '9')
      goto bad;
    errno = 0;
    unsigned long lo = strtoul(p, &end, 10), hi = lo;
    if (errno || lo > UINT32_MAX - 1)
      goto bad;
    p = end;
    if (*p == '-') {
      p++;
      if (*p < '0' || *p > '9')
        goto bad;
      hi = strtoul(p, &end, 10);
      if (errno || hi > UINT32_MAX - 1 || hi < lo) {
        snprintf(why, cap, "range %lu-%lu runs backwards or is too large", lo, hi);
        return SIM_EINVAL;
      }
      p = end;
    }
    f.r[f.n].lo = (uint32_t)lo;
    f.r[f.n].hi = (uint32_t)hi;
    f.n++;
    if (*p == ',' && p[1])
      p++;
    else if (*p)
      goto bad;
  }
  *out = f;
  return 0;
bad:
  snprintf(why, cap, "expected hub numbers and ranges such as 0-9,20 (at '%.16s')", p);
  return SIM_EINVAL;
}

int rec_capture_hubs_has(const struct rec_capture_hubs *f, uint32_t g) {
  if (f->n == 0)
    return 1;
  for (size_t i = 0; i < f->n; i++)
    if (g >= f->r[i].lo && g <= f->r[i].hi)
      return 1;
  return 0;
}

/* ---- blocks ---- */

static void put16(uint8_t *p, uint16_t v) {
  memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
}
static void be16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void be32(uint8_t *p, uint32_t v) {
  be16(p, v >> 16);
  be16(p + 2, v);
}

/* An option (code, value padded to 4 bytes) appended to b. */
static int put_opt(struct sim_buf *b, uint16_t code, const void *v, size_t n) {
  uint8_t h[4];
  static const uint8_t zero[4];
  put16(h, code);
  put16(h + 2, (uint16_t)n);
  int rc = sim_buf_append(b, h, 4);
  if (!rc && n)
    rc = sim_buf_append(b, v, n);
  if (!rc && (n & 3))
    rc = sim_buf_append(b, zero, 4 - (n & 3));
  return rc;
}

/* Closes the block that starts at offset start of b: its two length fields. */
static int end_block(struct sim_buf *b, size_t start) {
  static const uint8_t t[4]; /* the trailing length, written below */
  int rc = sim_buf_append(b, t, 4);
  if (rc)
    return rc;
  uint32_t len = (uint32_t)(b->len - start);
  put32(b->data + start + 4, len);
  put32(b->data + b->len - 4, len);
  return 0;
}

/* The section header and the interface, as the first write of the file. */
static int header_blocks(struct rec_capture *cap, struct sim_buf *b) {
  uint8_t h[24];
  size_t start = b->len;
  put32(h, 0x0A0D0D0Au);
  put32(h + 8, 0x1A2B3C4Du);
  put16(h + 12, 1);
  put16(h + 14, 0);
  memset(h + 16, 0xff, 8); /* section length unknown: the file grows */
  int rc = sim_buf_append(b, h, 24);
  if (!rc && cap->comment[0])
    rc = put_opt(b, 1, cap->comment, strlen(cap->comment));
  if (!rc)
    rc = put_opt(b, 4, "hubsim", 6); /* shb_userappl */
  if (!rc)
    rc = put_opt(b, 0, NULL, 0);
  if (!rc)
    rc = end_block(b, start);
  if (rc)
    return rc;
  start = b->len;
  uint8_t i[16];
  put32(i, 1);
  put16(i + 8, LINKTYPE_IPV4);
  put16(i + 10, 0);
  put32(i + 12, SNAPLEN);
  uint8_t tsresol = 6; /* microseconds, the run clock's unit */
  rc = sim_buf_append(b, i, 16);
  if (!rc)
    rc = put_opt(b, 2, "hubsim", 6); /* if_name */
  if (!rc)
    rc = put_opt(b, 9, &tsresol, 1);
  if (!rc)
    rc = put_opt(b, 0, NULL, 0);
  if (!rc)
    rc = end_block(b, start);
  return rc;
}

static void stop_recording(struct rec_capture *cap, const char *why) {
  if (cap->stopped)
    return;
  cap->stopped = 1;
  fprintf(stderr, "hubsim run: --record %s: %s\n", cap->path, why);
}

/* One write of everything collected. A short write is retried for the rest; a failed one stops
 * the recording (the file keeps what it had). */
static void flush_out(struct rec_capture *cap) {
  size_t off = 0;
  while (off < cap->out.len) {
    ssize_t w = write(cap->fd, cap->out.data + off, cap->out.len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      char why[160];
      snprintf(why, sizeof why, "write failed (%s): recording stopped",
               w < 0 ? strerror(errno) : "no progress");
      cap->write_error = 1;
      stop_recording(cap, why);
      break;
    }
    off += (size_t)w;
  }
  cap->out.len = 0;
}

void rec_capture_flush(struct rec_capture *cap) {
  if (cap->out.len)
    flush_out(cap);
  cap->last_flush_us = cap->cfg.now_us(cap->cfg.ctx);
}

/* Appends one Enhanced Packet Block holding the packet in cap->pkt (n bytes), with an optional
 * comment. Checks the limit first: a block that would take the file beyond it is not written
 * and the recording stops. */
static void add_packet(struct rec_capture *cap, size_t n, size_t payload, const char *comment) {
  if (cap->stopped) {
    cap->dropped++;
    return;
  }
  size_t clen = comment ? strlen(comment) : 0;
  size_t block = 28 + ((n + 3) & ~(size_t)3) + 4 + (clen ? 4 + ((clen + 3) & ~(size_t)3) + 4 : 0);
  if (cap->cfg.limit && cap->file_bytes + block > cap->cfg.limit) {
    char why[160], lim[32];
    snprintf(lim, sizeof lim, "%" PRIu64, cap->cfg.limit);
    snprintf(why, sizeof why,
             "--record-limit of %s bytes reached: recording stopped after %" PRIu64 " packets", lim,
             cap->frames);
    cap->truncated = 1;
    cap->dropped++;
    stop_recording(cap, why);
    return;
  }
  uint64_t now = cap->cfg.now_us(cap->cfg.ctx);
  struct sim_buf *b = &cap->out;
  size_t start = b->len;
  uint8_t h[28];
  static const uint8_t zero[4];
  put32(h, 6);
  put32(h + 8, 0);
  put32(h + 12, (uint32_t)(now >> 32));
  put32(h + 16, (uint32_t)now);
  put32(h + 20, (uint32_t)n);
  put32(h + 24, (uint32_t)n);
  int rc = sim_buf_append(b, h, 28);
  if (!rc)
    rc = sim_buf_append(b, cap->pkt, n);
  if (!rc && (n & 3))
    rc = sim_buf_append(b, zero, 4 - (n & 3));
  if (!rc && clen) {
    rc = put_opt(b, 1, comment, clen);
    if (!rc)
      rc = put_opt(b, 0, NULL, 0);
  }
  if (!rc)
    rc = end_block(b, start);
  if (rc) {
    b->len = start;
    cap->dropped++;
    stop_recording(cap, "out of memory: recording stopped");
    return;
  }
  cap->frames++;
  cap->payload += payload;
  cap->file_bytes += b->len - start;
  if (b->len >= FLUSH_BYTES || now - cap->last_flush_us >= FLUSH_US || now < cap->last_flush_us) {
    flush_out(cap);
    cap->last_flush_us = now;
  }
}

/* ---- synthesised IPv4/TCP ---- */

static uint16_t ip_checksum(const uint8_t *p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2)
    s += (uint32_t)p[i] << 8 | p[i + 1];
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

/* The IPv4 and TCP headers of a segment of fl from dir into cap->pkt; the payload follows. TCP
 * checksums are left 0 (Wireshark does not check them unless asked: docs/recorders.md). */
static void headers(struct rec_capture *cap, const struct rec__flow *fl, int dir, unsigned flags,
                    size_t n) {
  uint8_t *ip = cap->pkt, *tcp = cap->pkt + 20;
  memset(ip, 0, 40);
  ip[0] = 0x45;
  be16(ip + 2, (uint32_t)(40 + n));
  be16(ip + 4, cap->ip_id++);
  ip[6] = 0x40; /* don't fragment */
  ip[8] = 64;
  ip[9] = 6;
  be32(ip + 12, dir == REC__UP ? fl->cip : fl->sip);
  be32(ip + 16, dir == REC__UP ? fl->sip : fl->cip);
  be16(ip + 10, ip_checksum(ip, 20));
  be16(tcp, dir == REC__UP ? fl->cport : fl->sport);
  be16(tcp + 2, dir == REC__UP ? fl->sport : fl->cport);
  be32(tcp + 4, dir == REC__UP ? fl->cseq : fl->sseq);
  be32(tcp + 8, flags & REC__ACK ? (dir == REC__UP ? fl->sseq : fl->cseq) : 0);
  tcp[12] = 5 << 4;
  tcp[13] = (uint8_t)flags;
  be16(tcp + 14, 65535);
}

void rec__flow_init(struct rec_capture *cap, struct rec__flow *fl, uint32_t g) {
  fl->cip = 0x0A000000u | ((g + 1) & 0xFFFFFFu);
  fl->sip = cap->cfg.server_ip;
  fl->sport = cap->cfg.server_port;
  fl->cport = (uint16_t)(20000 + cap->next_port);
  cap->next_port = (cap->next_port + 1) % 40000;
  fl->cseq = 1000;
  fl->sseq = 5000;
}

void rec__flow_ctl(struct rec_capture *cap, struct rec__flow *fl, int dir, unsigned flags) {
  headers(cap, fl, dir, flags, 0);
  add_packet(cap, 40, 0, NULL);
  if (flags & (REC__SYN | REC__FIN)) {
    if (dir == REC__UP)
      fl->cseq++;
    else
      fl->sseq++;
  }
}

void rec__flow_data(struct rec_capture *cap, struct rec__flow *fl, int dir, const void *p,
                    size_t n) {
  const uint8_t *b = p;
  while (n) {
    size_t k = n < SEG_MAX ? n : SEG_MAX;
    headers(cap, fl, dir, REC__ACK | REC__PSH, k);
    memcpy(cap->pkt + 40, b, k);
    add_packet(cap, 40 + k, k, NULL);
    if (dir == REC__UP)
      fl->cseq += (uint32_t)k;
    else
      fl->sseq += (uint32_t)k;
    b += k;
    n -= k;
  }
}

/* The SYN of a new conversation carries the hub's id as the packet's comment, so that a hub
 * is found in Wireshark by its name (pkt_comment contains "hub-000042"). */
void rec__flow_syn(struct rec_capture *cap, struct rec__flow *fl, const char *hub_id) {
  headers(cap, fl, REC__UP, REC__SYN, 0);
  add_packet(cap, 40, 0, hub_id);
  fl->cseq++;
}

/* ---- life cycle ---- */

int rec_capture_open(const struct rec_capture_config *cfg, struct rec_capture **out, char *why,
                     size_t cap_why) {
  struct rec_capture *cap = calloc(1, sizeof *cap);
  if (!cap) {
    snprintf(why, cap_why, "%s", sim_strerror(SIM_ENOMEM));
    return SIM_ENOMEM;
  }
  cap->cfg = *cfg;
  snprintf(cap->path, sizeof cap->path, "%s", cfg->path);
  snprintf(cap->comment, sizeof cap->comment, "%s", cfg->comment ? cfg->comment : "");
  cap->cfg.path = cap->path;
  cap->cfg.comment = cap->comment;
  /* O_APPEND: every write lands at the end whatever happened before; O_NOFOLLOW: a link
   * planted at the path is refused rather than followed. */
  cap->fd = open(cap->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (cap->fd < 0) {
    int e = errno;
    snprintf(why, cap_why, "cannot create it: %s", strerror(e));
    free(cap);
    return -e;
  }
  int rc = header_blocks(cap, &cap->out);
  if (rc == 0) {
    cap->file_bytes = cap->out.len;
    if (cfg->limit && cap->file_bytes > cfg->limit) {
      snprintf(why, cap_why, "--record-limit %" PRIu64 " is smaller than the file's header",
               cfg->limit);
      rc = SIM_EINVAL;
    } else {
      flush_out(cap);
      rc = cap->write_error ? SIM_EIO : 0;
      if (rc)
        snprintf(why, cap_why, "cannot write it");
    }
  } else {
    snprintf(why, cap_why, "%s", sim_strerror(rc));
  }
  if (rc) {
    close(cap->fd);
    unlink(cap->path);
    sim_buf_fini(&cap->out);
    free(cap);
    return rc;
  }
  cap->last_flush_us = cfg->now_us(cfg->ctx);
  *out = cap;
  return 0;
}

void rec_capture_info(const struct rec_capture *cap, struct rec_capture_info *out) {
  memset(out, 0, sizeof *out);
  out->path = cap->path;
  out->frames = cap->frames;
  out->payload = cap->payload;
  out->bytes = cap->file_bytes;
  out->truncated = cap->truncated;
  out->dropped = cap->dropped;
  out->write_error = cap->write_error;
}

int rec__capture_hub_of(struct rec_capture *cap, void *user, uint32_t *g, char *id, size_t n) {
  if (cap->cfg.hub_of(cap->cfg.ctx, user, g, id, n))
    return SIM_ENOTFOUND;
  return rec_capture_hubs_has(&cap->cfg.hubs, *g) ? 0 : SIM_ENOTFOUND;
}

struct sim_htab *rec__capture_conns(struct rec_capture *cap) {
  return &cap->conns;
}

void **rec__capture_taps(struct rec_capture *cap) {
  return &cap->taps;
}

int rec_capture_close(struct rec_capture *cap) {
  if (!cap)
    return 0;
  int rc = 0;
  if (cap->out.len)
    flush_out(cap);
  if (cap->write_error)
    rc = SIM_EIO;
  if (fsync(cap->fd) && !rc)
    rc = -errno;
  if (close(cap->fd) && !rc)
    rc = -errno;
  rec__capture_taps_free(cap);
  sim_buf_fini(&cap->out);
  free(cap);
  return rc;
}

/* ---- the summary's "record" ---- */

void rec_capture_print(FILE *out, const struct rec_capture_info *ri) {
  fprintf(out,
          "  record                 %s: %" PRIu64 " packets, %" PRIu64
          " bytes of traffic, file %" PRIu64 " bytes",
          ri->path, ri->frames, ri->payload, ri->bytes);
  if (ri->truncated)
    fprintf(out, "; truncated by --record-limit, %" PRIu64 " packets not written", ri->dropped);
  else if (ri->write_error)
    fprintf(out, "; a write failed, %" PRIu64 " packets not written", ri->dropped);
  fputc('\n', out);
}

json_t *rec_capture_json(const struct rec_capture_info *ri) {
  json_t *file = json_string(ri->path);
  return json_pack("{s:o,s:I,s:I,s:I,s:b,s:I,s:b}", "file", file ? file : json_null(), "frames",
                   (json_int_t)ri->frames, "payload_bytes", (json_int_t)ri->payload, "bytes",
                   (json_int_t)ri->bytes, "truncated", ri->truncated, "dropped",
                   (json_int_t)ri->dropped, "write_error", ri->write_error);
}
