/* The HTTP side of the Prometheus endpoint: just enough HTTP/1.x for a scraper, and bounded
 * against any other client. Each connection reads one request head, answers it, and closes;
 * one timer per connection ends it REC_PROM_TIMEOUT_MS after it opened, so that a client that
 * sends nothing, sends slowly or never reads the answer holds a slot for a bounded time and
 * the run never waits for it. Every handle is unreferenced: the endpoint never keeps a run's
 * loop alive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "recorders/prom.h"
#include "sim/core/err.h"

struct rec_prom;

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wr;
  struct rec_prom *srv;
  struct conn *next, **pprev;
  int closing;
  int handles; /* handles not yet closed */
  size_t len;
  char req[REC_PROM_REQ_MAX];
  struct sim_buf resp;
};

struct rec_prom {
  uv_tcp_t listener;
  rec_prom_page_fn page;
  void *arg;
  uint16_t port;
  int stopping;
  int listener_open;
  unsigned n_conns;
  struct conn *conns;
  uint64_t served, refused;
};

static void maybe_free(struct rec_prom *p) {
  if (p->stopping && !p->listener_open && !p->conns)
    free(p);
}

static void conn_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  if (--c->handles > 0)
    return;
  struct rec_prom *p = c->srv;
  *c->pprev = c->next;
  if (c->next)
    c->next->pprev = c->pprev;
  p->n_conns--;
  sim_buf_fini(&c->resp);
  free(c);
  maybe_free(p);
}

static void conn_close(struct conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, conn_closed);
  uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void on_timeout(uv_timer_t *t) {
  struct conn *c = t->data;
  c->srv->refused++;
  conn_close(c);
}

static void on_written(uv_write_t *w, int status) {
  (void)status;
  conn_close(w->data);
}

/* Sends status with body (may be NULL: the response buffer's bytes already hold it) and
 * closes after. */
static void respond(struct conn *c, int code, const char *reason, const char *body, int head) {
  struct sim_buf page = c->resp;
  size_t body_len = body ? strlen(body) : page.len;
  char hdr[256];
  int n = snprintf(hdr, sizeof hdr,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   code, reason,
                   code == 200 && !body ? "text/plain; version=0.0.4; charset=utf-8"
                                        : "text/plain; charset=utf-8",
                   body_len);
  sim_buf_init(&c->resp);
  int rc = sim_buf_append(&c->resp, hdr, (size_t)n);
  if (!rc && !head)
    rc = body ? sim_buf_append(&c->resp, body, body_len)
              : sim_buf_append(&c->resp, page.data, page.len);
  sim_buf_fini(&page);
  if (code == 200)
    c->srv->served++;
  else
    c->srv->refused++;
  uv_read_stop((uv_stream_t *)&c->tcp);
  uv_buf_t b = uv_buf_init((char *)c->resp.data, (unsigned)c->resp.len);
  c->wr.data = c;
  if (rc || uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
    conn_close(c);
}

/* The request head is complete: its first line decides. */
static void handle(struct conn *c) {
  char *eol = memchr(c->req, '\n', c->len);
  size_t n = (size_t)(eol - c->req);
  char method[8], target[64], version[16];
  char line[128];
  if (n >= sizeof line) {
    respond(c, 414, "URI Too Long", "request line too long\n", 0);
    return;
  }
  memcpy(line, c->req, n);
  line[n] = '\0';
  if (sscanf(line, "%7s %63s %15s", method, target, version) != 3 ||
      strncmp(version, "HTTP/1.", 7) != 0) {
    respond(c, 400, "Bad Request", "expected GET /metrics HTTP/1.1\n", 0);
    return;
  }
  int head = strcmp(method, "HEAD") == 0;
  if (strcmp(method, "GET") != 0 && !head) {
    respond(c, 405, "Method Not Allowed", "only GET /metrics\n", 0);
    return;
  }
  /* The path alone: a query string (Prometheus sends none by default) is ignored. */
  char *q = strchr(target, '?');
  if (q)
    *q = '\0';
  if (strcmp(target, "/metrics") != 0) {
    respond(c, 404, "Not Found", "the metrics are at /metrics\n", head);
    return;
  }
  sim_buf_fini(&c->resp);
  sim_buf_init(&c->resp);
  if (c->srv->page(c->srv->arg, &c->resp) != 0) {
    sim_buf_fini(&c->resp);
    sim_buf_init(&c->resp);
    respond(c, 500, "Internal Server Error", "the figures could not be read\n", 0);
    return;
  }
  respond(c, 200, "OK", NULL, head);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)suggested;
  struct conn *c = h->data;
  *b = uv_buf_init(c->req + c->len, (unsigned)(sizeof c->req - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  (void)b;
  struct conn *c = s->data;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  size_t from = c->len > 3 ? c->len - 3 : 0; /* what was scanned before, less a split end */
  c->len += (size_t)nread;
  /* The end of the head: a blank line (CRLF, or LF from a lenient client). */
  for (size_t i = from; i + 1 < c->len; i++) {
    if ((c->req[i] == '\n' && c->req[i + 1] == '\n') ||
        (i + 3 < c->len && memcmp(c->req + i, "\r\n\r\n", 4) == 0)) {
      handle(c);
      return;
    }
  }
  if (c->len == sizeof c->req)
    respond(c, 431, "Request Header Fields Too Large", "request head over 8 KiB\n", 0);
}

static void drop_closed(uv_handle_t *h) {
  free(h);
}

static void on_connection(uv_stream_t *l, int status) {
  struct rec_prom *p = l->data;
  if (status < 0 || p->stopping)
    return;
  if (p->n_conns >= REC_PROM_MAX_CONNS) {
    /* Accepted and closed at once: a flood of connections costs the run one accept each. */
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t)
      return;
    uv_tcp_init(l->loop, t);
    uv_accept(l, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, drop_closed);
    p->refused++;
    return;
  }
  struct conn *c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->srv = p;
  uv_tcp_init(l->loop, &c->tcp);
  uv_timer_init(l->loop, &c->timer);
  uv_unref((uv_handle_t *)&c->tcp);
  uv_unref((uv_handle_t *)&c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->next = p->conns;
  c->pprev = &p->conns;
  if (p->conns)
    p->conns->pprev = &c->next;
  p->conns = c;
  p->n_conns++;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    conn_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_timeout, REC_PROM_TIMEOUT_MS, 0);
}

int rec_prom_start(uv_loop_t *loop, const char *ip, uint16_t port, rec_prom_page_fn page, void *arg,
                   struct rec_prom **out) {
  struct sockaddr_in sa;
  int rc = uv_ip4_addr(ip, port, &sa);
  if (rc)
    return rc;
  struct rec_prom *p = calloc(1, sizeof *p);
  if (!p)
    return SIM_ENOMEM;
  p->page = page;
  p->arg = arg;
  uv_tcp_init(loop, &p->listener);
  p->listener.data = p;
  p->listener_open = 1;
  rc = uv_tcp_bind(&p->listener, (const struct sockaddr *)&sa, 0);
  if (!rc)
    rc = uv_listen((uv_stream_t *)&p->listener, 64, on_connection);
  if (!rc) {
    struct sockaddr_in got;
    int len = sizeof got;
    rc = uv_tcp_getsockname(&p->listener, (struct sockaddr *)&got, &len);
    p->port = ntohs(got.sin_port);
  }
  if (rc) {
    rec_prom_stop(p);
    return rc;
  }
  uv_unref((uv_handle_t *)&p->listener);
  *out = p;
  return 0;
}

uint16_t rec_prom_port(const struct rec_prom *p) {
  return p->port;
}

void rec_prom_counts(const struct rec_prom *p, uint64_t *served, uint64_t *refused) {
  *served = p->served;
  *refused = p->refused;
}

static void listener_closed(uv_handle_t *h) {
  struct rec_prom *p = h->data;
  p->listener_open = 0;
  maybe_free(p);
}

void rec_prom_stop(struct rec_prom *p) {
  if (!p || p->stopping)
    return;
  p->stopping = 1;
  for (struct conn *c = p->conns; c; c = c->next)
    conn_close(c);
  uv_close((uv_handle_t *)&p->listener, listener_closed);
}
