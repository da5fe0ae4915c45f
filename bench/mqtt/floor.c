/* bench_mqtt_floor: the lower bound of bench/mqtt. MQTT 3.1.1 by hand over non-blocking
 * sockets and one epoll: CONNECT, PUBLISH at QoS 1 and PINGREQ encoded in place, CONNACK, PUBACK
 * and PINGRESP read; nothing kept per hub beyond the socket, a few counters and the unsent tail
 * of a short write. No MQTT library, no retry, no session state: whatever an MQTT client must
 * do, it costs at least this much. The phases and the JSON line are gen.c's. */
#include "gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { FL_IDLE, FL_CONNECTING, FL_WAIT_CONNACK, FL_UP, FL_DEAD };

struct fl_hub {
  int fd;
  uint8_t state;
  uint8_t have; /* bytes of a partial packet held in part */
  uint8_t part[6];
  uint16_t next_id;
  uint32_t outstanding; /* PUBLISHes not yet PUBACKed */
  double last_tx;       /* for PINGREQ at keepalive */
  uint8_t *out;         /* unsent tail of a short write (heap), or NULL */
  size_t out_len;
};

struct fl {
  const struct gen_opts *o;
  struct gen_stats *s;
  struct fl_hub *hubs;
  struct sockaddr_in addr;
  int ep;
  double last_ping_scan;
};

static void fl_kill(struct fl *f, struct fl_hub *h) {
  if (h->state == FL_UP)
    f->s->closed++;
  else if (h->state == FL_CONNECTING || h->state == FL_WAIT_CONNACK)
    f->s->connect_failed++;
  if (h->fd >= 0)
    close(h->fd);
  h->fd = -1;
  h->state = FL_DEAD;
  free(h->out);
  h->out = NULL;
  h->out_len = 0;
}

static void fl_watch(struct fl *f, struct fl_hub *h, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = h};
  epoll_ctl(f->ep, EPOLL_CTL_MOD, h->fd, &ev);
}

/* Writes a whole packet or keeps its tail for EPOLLOUT; packets queued behind a tail wait. */
static int fl_send(struct fl *f, struct fl_hub *h, const uint8_t *p, size_t n) {
  ssize_t w = 0;
  if (!h->out) {
    w = send(h->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) {
      fl_kill(f, h);
      return -1;
    }
    if (w < 0)
      w = 0;
  }
  h->last_tx = gen_mono();
  if ((size_t)w == n)
    return 0;
  uint8_t *grown = realloc(h->out, h->out_len + n - (size_t)w);
  if (!grown) {
    f->s->errors++;
    fl_kill(f, h);
    return -1;
  }
  memcpy(grown + h->out_len, p + w, n - (size_t)w);
  h->out = grown;
  h->out_len += n - (size_t)w;
  fl_watch(f, h, EPOLLIN | EPOLLOUT);
  return 0;
}

static size_t fl_remlen(uint8_t *p, size_t n) {
  size_t i = 0;
  do {
    p[i++] = (uint8_t)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>= 7;
  } while (n);
  return i;
}

static void fl_send_connect(struct fl *f, struct fl_hub *h, int hub) {
  uint8_t p[128];
  char id[96];
  int idn = snprintf(id, sizeof(id), "%s-%d", f->o->name, hub);
  size_t rem = 10 + 2 + (size_t)idn, at = 1;
  p[0] = 0x10;
  at += fl_remlen(p + at, rem);
  memcpy(p + at, "\0\4MQTT\4\2", 8); /* protocol name, level 4, clean session */
  at += 8;
  p[at++] = (uint8_t)(f->o->keepalive >> 8);
  p[at++] = (uint8_t)f->o->keepalive;
  p[at++] = 0;
  p[at++] = (uint8_t)idn;
  memcpy(p + at, id, (size_t)idn);
  if (fl_send(f, h, p, at + (size_t)idn) == 0)
    h->state = FL_WAIT_CONNACK;
}

static int fl_connect(void *ctx, int hub) {
  struct fl *f = ctx;
  struct fl_hub *h = &f->hubs[hub];
  int one = 1;
  h->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (h->fd < 0) {
    h->state = FL_DEAD;
    gen_note_error(f->s, strerror(errno));
    return -1;
  }
  setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  h->state = FL_CONNECTING;
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = h};
  if ((connect(h->fd, (struct sockaddr *)&f->addr, sizeof(f->addr)) != 0 && errno != EINPROGRESS) ||
      epoll_ctl(f->ep, EPOLL_CTL_ADD, h->fd, &ev) != 0) {
    gen_note_error(f->s, strerror(errno));
    fl_kill(f, h);
    return 0; /* counted by fl_kill */
  }
  return 0;
}

static int fl_publish(void *ctx, int hub, const char *topic, const char *payload, size_t len) {
  struct fl *f = ctx;
  struct fl_hub *h = &f->hubs[hub];
  uint8_t buf[256], *p = len + 128 <= sizeof(buf) ? buf : malloc(len + 128);
  size_t tl = strlen(topic), at = 1;
  int rc = -1;
  if (h->state != FL_UP || !p || tl > 100)
    goto done;
  if (++h->next_id == 0)
    h->next_id = 1;
  p[0] = 0x32; /* PUBLISH, QoS 1 */
  at += fl_remlen(p + at, 2 + tl + 2 + len);
  p[at++] = (uint8_t)(tl >> 8);
  p[at++] = (uint8_t)tl;
  memcpy(p + at, topic, tl);
  at += tl;
  p[at++] = (uint8_t)(h->next_id >> 8);
  p[at++] = (uint8_t)h->next_id;
  memcpy(p + at, payload, len);
  rc = fl_send(f, h, p, at + len);
  if (rc == 0)
    h->outstanding++;
done:
  if (p != buf)
    free(p);
  return rc;
}

/* One packet from the broker: `p` holds the fixed header and `rem` bytes after it. */
static int fl_packet(struct fl *f, struct fl_hub *h, const uint8_t *p, size_t hdr, size_t rem) {
  uint8_t type = p[0] & 0xf0;
  if (type == 0x20 && rem == 2 && h->state == FL_WAIT_CONNACK) {
    if (p[hdr + 1] != 0)
      return -1;
    h->state = FL_UP;
    f->s->connected++;
    return 0;
  }
  if (type == 0x40 && rem == 2 && h->state == FL_UP && h->outstanding > 0) {
    h->outstanding--;
    f->s->acked++;
    return 0;
  }
  if (type == 0xd0 && rem == 0)
    return 0;
  return -1;
}

/* Splits what arrived into packets; a partial packet of at most sizeof(part) bytes waits in
 * part. The broker sends a publisher nothing longer (CONNACK, PUBACK, PINGRESP: 2-4 bytes). */
static void fl_read(struct fl *f, struct fl_hub *h) {
  uint8_t buf[16384];
  memcpy(buf, h->part, h->have);
  ssize_t r = recv(h->fd, buf + h->have, sizeof(buf) - h->have, 0);
  if (r <= 0) {
    if (r == 0 || errno != EAGAIN)
      fl_kill(f, h);
    return;
  }
  size_t n = h->have + (size_t)r, at = 0;
  while (at < n) {
    size_t rem = 0, hdr = 1;
    for (int shift = 0; at + hdr < n && hdr <= 4; shift += 7) {
      rem |= (size_t)(buf[at + hdr] & 0x7f) << shift;
      if (!(buf[at + hdr++] & 0x80))
        goto have_len;
    }
    if (hdr > 4)
      goto bad;
    break; /* length incomplete */
  have_len:
    if (at + hdr + rem > n)
      break;
    if (fl_packet(f, h, buf + at, hdr, rem) != 0)
      goto bad;
    at += hdr + rem;
  }
  if (n - at > sizeof(h->part))
    goto bad;
  h->have = (uint8_t)(n - at);
  memcpy(h->part, buf + at, h->have);
  return;
bad:
  f->s->errors++;
  fl_kill(f, h);
}

static void fl_writable(struct fl *f, struct fl_hub *h) {
  if (h->state == FL_CONNECTING) {
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
      gen_note_error(f->s, strerror(err ? err : errno));
      fl_kill(f, h);
      return;
    }
    fl_watch(f, h, EPOLLIN);
    fl_send_connect(f, h, (int)(h - f->hubs));
    return;
  }
  ssize_t w = send(h->fd, h->out, h->out_len, MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN) {
    fl_kill(f, h);
    return;
  }
  if (w > 0) {
    memmove(h->out, h->out + w, h->out_len - (size_t)w);
    h->out_len -= (size_t)w;
  }
  if (h->out_len == 0) {
    free(h->out);
    h->out = NULL;
    fl_watch(f, h, EPOLLIN);
  }
}

static void fl_ping_scan(struct fl *f) {
  static const uint8_t ping[2] = {0xc0, 0};
  double now = gen_mono();
  if (f->o->keepalive == 0 || now - f->last_ping_scan < 1.0)
    return;
  f->last_ping_scan = now;
  for (int i = 0; i < f->o->hubs; i++)
    if (f->hubs[i].state == FL_UP && now - f->hubs[i].last_tx >= f->o->keepalive)
      fl_send(f, &f->hubs[i], ping, sizeof(ping));
}

static void fl_poll(void *ctx) {
  struct fl *f = ctx;
  struct epoll_event ev[256];
  int n = epoll_wait(f->ep, ev, 256, 10);
  for (int i = 0; i < n; i++) {
    struct fl_hub *h = ev[i].data.ptr;
    if (h->state == FL_DEAD)
      continue;
    if ((ev[i].events & EPOLLOUT) || (h->state == FL_CONNECTING && ev[i].events))
      fl_writable(f, h);
    if (h->state != FL_DEAD && h->state != FL_CONNECTING &&
        (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
      fl_read(f, h);
  }
  fl_ping_scan(f);
}

int main(int argc, char **argv) {
  struct gen_opts o;
  struct gen_stats s = {0};
  struct fl f = {.o = &o, .s = &s};
  gen_opts_parse(&o, argc, argv, "bench_mqtt_floor");
  signal(SIGPIPE, SIG_IGN);
  f.addr.sin_family = AF_INET;
  f.addr.sin_port = htons((uint16_t)o.port);
  if (inet_pton(AF_INET, o.host, &f.addr.sin_addr) != 1) {
    fprintf(stderr, "bench_mqtt_floor: --host %s: not a numeric IPv4 address\n", o.host);
    return 2;
  }
  /* Left untouched here: the pages of a hub's slot count in its memory when it connects. */
  f.hubs = calloc((size_t)o.hubs, sizeof(*f.hubs));
  f.ep = epoll_create1(EPOLL_CLOEXEC);
  if (!f.hubs || f.ep < 0) {
    perror("bench_mqtt_floor");
    return 3;
  }
  struct gen_ops ops = {.connect = fl_connect, .publish = fl_publish, .poll = fl_poll};
  int rc = gen_run("floor", &o, &s, &ops, &f);
  for (int i = 0; i < o.hubs; i++)
    if (f.hubs[i].state != FL_IDLE && f.hubs[i].state != FL_DEAD)
      fl_kill(&f, &f.hubs[i]);
  free(f.hubs);
  close(f.ep);
  return rc;
}
