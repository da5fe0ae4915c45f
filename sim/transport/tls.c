/* The tls transport: OpenSSL over an inner tcp transport (see tls.h for the contract).
 *
 * Bytes move through one BIO of ours per connection instead of a pair of memory BIOs: OpenSSL's
 * writes go straight to sim_conn_send() of the inner connection (which hands them to the kernel
 * or queues what it does not take), and its reads come from the bytes of the inner data
 * callback, borrowed for the call. Only bytes OpenSSL has not read when the call ends (the owner
 * paused reading) are copied, into a spill buffer freed once read. A quiet connection therefore
 * holds the SSL object (with SSL_MODE_RELEASE_BUFFERS, no record buffers) and nothing else: no
 * memory BIO keeps its high-water mark.
 *
 * The handshake is timed by one timer per transport over a list of the connections still in
 * it, kept in the order they started (uv_now only grows), so the ones that timed out are always
 * at the head. A resumed connection with bytes waiting is read from a zero-delay timer, never
 * from inside sim_conn_pause(): the owner's data callback must not run from within its own call.
 *
 * Both timers are opened when the first connection or listener is made and closed when the
 * last one goes, so a transport with nothing open holds no libuv handle, and the loop has
 * nothing of ours left once every connection is closed and the loop ran once more (the
 * contract of transport.h). */
#include "sim/transport/tls.h"

#include <arpa/inet.h>
#include <assert.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/htab.h"
#include "sim/core/log.h"
#include "sim/transport/internal.h"
#include "sim/transport/tls_internal.h"

#define TLS_HS_TIMEOUT_DEFAULT_MS 10000
#define TLS_HS_TICK_MS 250
#define TLS_READ_CHUNK (16 * 1024)
/* Handshakes ended between two returns of freed heap to the system (tls_heap_trim), and the
 * least time between two. */
#define TLS_TRIM_HANDSHAKES 256
#define TLS_TRIM_EVERY_MS 1000
/* Bytes an owner may send before the handshake ends: a bound, as tcp bounds its queue. */
#define TLS_EARLY_MAX ((size_t)1 << 30)
/* The ciphers a TLS 1.2 peer may choose: forward secret, authenticated encryption only. TLS 1.3
 * suites are all of that kind and keep OpenSSL's default list. */
#define TLS_CIPHERS_12 "ECDHE+AESGCM:ECDHE+CHACHA20"

struct tls_side; /* the timers, opened while anything is open (see the top of the file) */

struct tls_transport {
  struct sim_transport base;
  struct sim_transport *inner;
  SSL_CTX *cctx; /* connecting */
  SSL_CTX *sctx; /* listening; NULL without a certificate */
  BIO_METHOD *bm;
  uint32_t hs_timeout_ms;
  int insecure;
  const struct sim_tls_identity *(*identity)(void *ctx, void *user);
  void *identity_ctx;
  size_t live; /* connections and listeners not freed yet */
  struct tls_side *side;
  struct tls_conn *hs_head, *hs_tail; /* in the handshake, oldest first */
  size_t hs_accepted;                 /* of those, accepted ones (the server side) */
  size_t hs_since_trim;               /* handshakes ended since tls_heap_trim() last ran */
  uint64_t trim_ms;                   /* when it last ran (uv_now) */
  int (*admit)(void *ctx);            /* sim_transport_tls_set_admit() */
  void *admit_ctx;
  struct tls_conn *kick_head; /* resumed with bytes waiting */
  /* The client's last session per owner user pointer (SSL_SESSION *, one reference each). */
  struct sim_htab sessions;
  struct sim_tls_stats st;
  struct sim_log_limit lim[SIM_TLS_R_COUNT];
};

struct tls_side {
  uv_timer_t hs;
  uv_timer_t kick;
  struct tls_transport *tp; /* NULL once closing */
  int open;                 /* handles not closed yet */
};

enum tls_state {
  TLSC_CONNECTING, /* the inner tcp connect is in flight */
  TLSC_HANDSHAKE,
  TLSC_ACCEPTED, /* handshake done, handed to the accept callback, not started yet */
  TLSC_OPEN,
  TLSC_DEAD, /* closed or ended: no owner callback any more; freed when nothing holds it */
};

struct tls_listener {
  struct sim_listener base;
  struct sim_listener *inner;
  sim_accept_cb cb;
  void *user;
  size_t refs; /* itself until closed, plus each connection still in its handshake */
  uint8_t closing;
};

struct tls_conn {
  struct sim_conn base;
  struct sim_conn *inner; /* NULL once the inner connection is closed or ended */
  SSL *ssl;
  const struct sim_conn_cbs *cbs;
  void *user;
  struct tls_listener *l; /* the server side, until the handshake ends */
  struct tls_conn *hs_prev, *hs_next, *kick_next;
  uint64_t hs_start_ms;
  uint64_t hs_start_ns; /* the same start, finer, for the duration histograms */
  const uint8_t *in;    /* the inner data callback's bytes, borrowed during the call */
  size_t in_len;
  struct sim_buf spill; /* bytes OpenSSL had not read when a data callback returned */
  struct sim_buf early; /* the owner's bytes sent before the handshake ended (client side) */
  char peer[72];        /* "127.0.0.1:4433" (client side) or "a client" */
  uint8_t state;        /* enum tls_state */
  uint8_t paused;
  uint8_t busy; /* inside a call that runs owner callbacks: free later */
  uint8_t kicked;
  uint8_t server;
  uint8_t got_any; /* a byte came from the peer */
  uint8_t first;   /* the first such byte */
  int send_err;    /* what the inner send said when the BIO's write failed */
};

static struct tls_transport *tls_tp(struct sim_transport *t) {
  return (struct tls_transport *)t;
}

const char *sim_tls_reason_name(enum sim_tls_reason r) {
  static const char *const names[SIM_TLS_R_COUNT] = {"verify", "protocol", "timeout", "not_tls"};
  return r < SIM_TLS_R_COUNT ? names[r] : "?";
}

static int tls_reason_code(enum sim_tls_reason r) {
  switch (r) {
  case SIM_TLS_R_VERIFY:
    return SIM_ETLS_VERIFY;
  case SIM_TLS_R_TIMEOUT:
    return SIM_ETLS_TIMEOUT;
  case SIM_TLS_R_NOT_TLS:
    return SIM_ETLS_NOT_TLS;
  default:
    return SIM_ETLS_PROTOCOL;
  }
}

/* ---- the timers' lifetime ---- */

static void tls_side_close_cb(uv_handle_t *h) {
  struct tls_side *s = h->data;
  if (--s->open == 0)
    free(s);
}

static void tls_hs_tick(uv_timer_t *h);
static void tls_kick_cb(uv_timer_t *h);

/* One more connection or listener: the timers open with the first. */
static int tls_live_inc(struct tls_transport *tp) {
  if (!tp->side) {
    struct tls_side *s = calloc(1, sizeof *s);
    if (!s)
      return SIM_ENOMEM;
    uv_timer_init(tp->base.loop, &s->hs);
    uv_timer_init(tp->base.loop, &s->kick);
    s->hs.data = s->kick.data = s;
    s->tp = tp;
    s->open = 2;
    tp->side = s;
  }
  tp->live++;
  return 0;
}

static void tls_live_dec(struct tls_transport *tp) {
  assert(tp->live > 0);
  if (--tp->live > 0)
    return;
  struct tls_side *s = tp->side;
  tp->side = NULL;
  s->tp = NULL;
  uv_close((uv_handle_t *)&s->hs, tls_side_close_cb);
  uv_close((uv_handle_t *)&s->kick, tls_side_close_cb);
}

/* ---- the BIO between OpenSSL and the inner connection ---- */

static int tls_bio_write(BIO *b, const char *p, size_t n, size_t *written) {
  struct tls_conn *tc = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (!tc->inner) {
    tc->send_err = SIM_ECLOSED;
    return 0;
  }
  int rc = sim_conn_send(tc->inner, p, n);
  if (rc < 0) {
    tc->send_err = rc;
    return 0;
  }
  *written = n;
  return 1;
}

static int tls_bio_read(BIO *b, char *out, size_t n, size_t *got) {
  struct tls_conn *tc = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  const uint8_t *src = tc->spill.len ? tc->spill.data : tc->in;
  size_t avail = tc->spill.len ? tc->spill.len : tc->in_len;
  if (avail == 0) {
    BIO_set_retry_read(b);
    *got = 0;
    return 0;
  }
  size_t k = n < avail ? n : avail;
  memcpy(out, src, k);
  if (tc->spill.len) {
    sim_buf_consume(&tc->spill, k);
    if (tc->spill.len == 0)
      sim_buf_fini(&tc->spill); /* the memory goes with the bytes */
  } else {
    tc->in += k;
    tc->in_len -= k;
  }
  *got = k;
  return 1;
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* writes are never held here */
}

/* ---- freeing and ending ---- */

/* A handshake allocates and frees far more than the connection keeps (record buffers, the
 * handshake messages and hashes, the peer's certificates, the key exchange), interleaved with
 * what every connection keeps; after a burst of them glibc holds the freed pages (about as much
 * again as the connections use: docs/performance.md section I) until something at the top of
 * its heap is freed, which a long-lived fleet never does. So once no handshake is under way and
 * many have ended since the last time, the freed pages go back to the system (malloc_trim):
 * at most once a second, so that a steady stream of handshakes does not pay for a walk of the
 * heap every few hundred. 1 when nothing is left to do, 0 when a trim is due but too soon (the
 * handshake timer, kept running, asks again). */
static int tls_heap_trim(struct tls_transport *tp) {
#if defined(__GLIBC__)
  if (tp->hs_since_trim < TLS_TRIM_HANDSHAKES)
    return 1;
  uint64_t now = uv_now(tp->base.loop);
  if (tp->trim_ms && now - tp->trim_ms < TLS_TRIM_EVERY_MS)
    return 0;
  tp->trim_ms = now;
  tp->hs_since_trim = 0;
  malloc_trim(0);
#else
  (void)tp;
#endif
  return 1;
}

static void tls_hs_unlink(struct tls_transport *tp, struct tls_conn *tc) {
  if (!tc->hs_start_ms)
    return;
  if (tc->hs_prev)
    tc->hs_prev->hs_next = tc->hs_next;
  else
    tp->hs_head = tc->hs_next;
  if (tc->hs_next)
    tc->hs_next->hs_prev = tc->hs_prev;
  else
    tp->hs_tail = tc->hs_prev;
  tc->hs_prev = tc->hs_next = NULL;
  tc->hs_start_ms = 0;
  if (tc->server)
    tp->hs_accepted--;
  tp->hs_since_trim++;
  if (!tp->hs_head && tp->side && tls_heap_trim(tp))
    uv_timer_stop(&tp->side->hs);
}

static void tls_listener_unref(struct tls_listener *l) {
  if (--l->refs > 0)
    return;
  struct tls_transport *tp = tls_tp(l->base.t);
  free(l);
  tls_live_dec(tp);
}

static void tls_conn_free(struct tls_conn *tc) {
  struct tls_transport *tp = tls_tp(tc->base.t);
  SSL_free(tc->ssl);
  sim_buf_fini(&tc->spill);
  sim_buf_fini(&tc->early);
  free(tc);
  tls_live_dec(tp);
}

/* Frees tc unless a call up the stack or the kick list still holds it. */
static void tls_conn_release(struct tls_conn *tc) {
  if (tc->state == TLSC_DEAD && !tc->busy && !tc->kicked)
    tls_conn_free(tc);
}

/* Marks tc dead and closes what is below it; no owner callback runs for it after this. */
static void tls_conn_kill(struct tls_conn *tc) {
  struct tls_transport *tp = tls_tp(tc->base.t);
  tls_hs_unlink(tp, tc);
  tc->state = TLSC_DEAD;
  if (tc->inner) {
    sim_conn_close(tc->inner);
    tc->inner = NULL;
  }
  if (tc->l) {
    struct tls_listener *l = tc->l;
    tc->l = NULL;
    tls_listener_unref(l);
  }
}

/* The open connection ended under the owner: closed_cb once. */
static void tls_conn_end(struct tls_conn *tc, int err) {
  if (tc->state == TLSC_DEAD)
    return;
  int was_open = tc->state == TLSC_OPEN;
  tls_conn_kill(tc);
  if (was_open && tc->cbs && tc->cbs->closed_cb)
    tc->cbs->closed_cb(&tc->base, err, tc->user);
}

/* A failed handshake: counted by reason, its message kept and logged (at most once a second
 * per reason), then the client's connect_cb gets the reason's code; a server-side connection
 * just goes (its owner never saw it). */
static void tls_hs_fail(struct tls_conn *tc, enum sim_tls_reason r, const char *msg) {
  struct tls_transport *tp = tls_tp(tc->base.t);
  tp->st.failed[r]++;
  snprintf(tp->st.last[r], sizeof tp->st.last[r], "%s", msg);
  sim_log_limited(&tp->lim[r], 1000, SIM_LOG_WARN, "tls: %s", msg);
  int client = !tc->server;
  tls_conn_kill(tc);
  if (client && tc->cbs && tc->cbs->connect_cb)
    tc->cbs->connect_cb(&tc->base, tls_reason_code(r), tc->user);
}

/* ---- the handshake ---- */

/* 1 when err is an alert by which a server refuses the client's certificate. */
static int tls_cert_alert(unsigned long err) {
  if (!err || ERR_GET_LIB(err) != ERR_LIB_SSL)
    return 0;
  switch (ERR_GET_REASON(err)) {
  case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
  case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
  case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
  case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    return 1;
  default:
    return 0;
  }
}

/* Why OpenSSL gave up, as a failure reason and a sentence naming the peer. */
static enum sim_tls_reason tls_hs_classify(struct tls_conn *tc, int e, char *msg, size_t cap) {
  unsigned long err = ERR_peek_last_error();
  const char *what = err ? ERR_reason_error_string(err) : NULL;
  if (!what)
    what = e == SSL_ERROR_SYSCALL ? sim_strerror(tc->send_err ? tc->send_err : SIM_ECLOSED)
                                  : "handshake failure";
  if (tc->server) {
    long vr = SSL_get_verify_result(tc->ssl);
    if (vr != X509_V_OK) {
      snprintf(msg, cap, "a client: client certificate verify failed: %s",
               X509_verify_cert_error_string(vr));
      return SIM_TLS_R_VERIFY;
    }
    /* The client's alert is all this side learns of why our certificate did not verify there
     * (expired, unknown CA, wrong name or purpose): name it, as the client names its reason. */
    if (tls_cert_alert(err)) {
      snprintf(msg, cap, "a client refused our certificate: %s", what);
      return SIM_TLS_R_VERIFY;
    }
  } else {
    if (tls_cert_alert(err)) {
      snprintf(msg, cap, "%s refused our client certificate: %s", tc->peer, what);
      return SIM_TLS_R_VERIFY;
    }
    long vr = SSL_get_verify_result(tc->ssl);
    if (vr != X509_V_OK) {
      snprintf(msg, cap, "%s: certificate verify failed: %s", tc->peer,
               X509_verify_cert_error_string(vr));
      return SIM_TLS_R_VERIFY;
    }
    /* Every TLS record starts with a content type from 20 to 23: anything else is a peer that
     * answered in plaintext. */
    if (tc->got_any && (tc->first < 20 || tc->first > 23)) {
      snprintf(
          msg, cap,
          "%s answered in plaintext, not TLS (first byte 0x%02x): a plain hubrpc:// port? (%s)",
          tc->peer, tc->first, what);
      return SIM_TLS_R_NOT_TLS;
    }
  }
  snprintf(msg, cap, "%s: handshake failed: %s", tc->peer, what);
  return SIM_TLS_R_PROTOCOL;
}

static int tls_send(struct sim_conn *sc, const void *p, size_t n);

/* A completed handshake into the counts: full or resumed, and how long it took. */
static void tls_hs_count(struct tls_transport *tp, struct tls_conn *tc) {
  uint64_t us = (uv_hrtime() - tc->hs_start_ns) / 1000u;
  tp->st.handshakes++;
  if (SSL_session_reused(tc->ssl)) {
    tp->st.resumed++;
    sim_hist_record(&tp->st.resumed_us, us);
  } else {
    sim_hist_record(&tp->st.full_us, us);
  }
}

static void tls_hs_done(struct tls_conn *tc) {
  struct tls_transport *tp = tls_tp(tc->base.t);
  tls_hs_unlink(tp, tc);
  if (!tc->server) {
    tls_hs_count(tp, tc);
    tc->state = TLSC_OPEN;
    /* What the owner sent while connecting goes first, as tcp would have sent it. */
    if (tc->early.len) {
      int rc = tls_send(&tc->base, tc->early.data, tc->early.len);
      sim_buf_fini(&tc->early);
      if (rc) {
        tls_conn_kill(tc);
        if (tc->cbs && tc->cbs->connect_cb)
          tc->cbs->connect_cb(&tc->base, rc, tc->user);
        return;
      }
    }
    if (tc->cbs && tc->cbs->connect_cb)
      tc->cbs->connect_cb(&tc->base, 0, tc->user);
    return;
  }
  struct tls_listener *l = tc->l;
  tc->l = NULL;
  tc->state = TLSC_ACCEPTED;
  tls_hs_count(tp, tc);
  if (l->closing)
    tls_conn_kill(tc); /* no accept callback after listener_close */
  else
    l->cb(&l->base, &tc->base, l->user);
  /* The callee must have started or closed it; anything else leaks a silent connection. */
  assert(tc->state != TLSC_ACCEPTED);
  tls_listener_unref(l);
}

static void tls_hs_step(struct tls_conn *tc) {
  ERR_clear_error();
  int r = SSL_do_handshake(tc->ssl);
  if (r == 1) {
    tls_hs_done(tc);
    return;
  }
  int e = SSL_get_error(tc->ssl, r);
  if (e == SSL_ERROR_WANT_READ)
    return; /* what it wrote is with the inner connection already */
  char msg[200];
  enum sim_tls_reason reason = tls_hs_classify(tc, e, msg, sizeof msg);
  tls_hs_fail(tc, reason, msg);
}

/* Decrypts what has arrived and hands it to the owner until nothing is left, the owner pauses,
 * or the connection ends. The plaintext buffer is on the stack so that a callback that makes
 * another connection read cannot overwrite bytes the owner still holds. */
static void tls_read_step(struct tls_conn *tc) {
  uint8_t buf[TLS_READ_CHUNK];
  while (tc->state == TLSC_OPEN && !tc->paused) {
    size_t got = 0;
    ERR_clear_error();
    if (SSL_read_ex(tc->ssl, buf, sizeof buf, &got)) {
      if (tc->cbs && tc->cbs->data_cb)
        tc->cbs->data_cb(&tc->base, buf, got, tc->user);
      continue;
    }
    int e = SSL_get_error(tc->ssl, 0);
    if (e == SSL_ERROR_WANT_READ)
      return;
    if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify: an orderly end */
      tls_conn_end(tc, 0);
      return;
    }
    struct tls_transport *tp = tls_tp(tc->base.t);
    unsigned long err = ERR_peek_last_error();
    const char *what = err ? ERR_reason_error_string(err) : NULL;
    /* TLS 1.3: a server refuses a client certificate after the client's handshake ended. */
    enum sim_tls_reason r =
        !tc->server && tls_cert_alert(err) ? SIM_TLS_R_VERIFY : SIM_TLS_R_PROTOCOL;
    tp->st.failed[r]++;
    snprintf(tp->st.last[r], sizeof tp->st.last[0], "%s%s%s", tc->peer,
             r == SIM_TLS_R_VERIFY ? " refused our client certificate: " : ": ",
             what ? what : "record layer failure");
    sim_log_limited(&tp->lim[r], 1000, SIM_LOG_WARN, "tls: %s", tp->st.last[r]);
    tls_conn_end(tc, tls_reason_code(r));
    return;
  }
}

/* Runs the handshake or the reading, whichever is due, then frees tc if it died meanwhile. */
static void tls_pump(struct tls_conn *tc) {
  tc->busy++;
  if (tc->state == TLSC_HANDSHAKE)
    tls_hs_step(tc);
  if (tc->state == TLSC_OPEN && !tc->paused)
    tls_read_step(tc);
  tc->busy--;
  tls_conn_release(tc);
}

static void tls_hs_begin(struct tls_conn *tc) {
  struct tls_transport *tp = tls_tp(tc->base.t);
  tc->state = TLSC_HANDSHAKE;
  tc->hs_start_ms = uv_now(tp->base.loop) + 1; /* never 0: 0 means "not in the list" */
  tc->hs_start_ns = uv_hrtime();
  tc->hs_prev = tp->hs_tail;
  tc->hs_next = NULL;
  if (tp->hs_tail)
    tp->hs_tail->hs_next = tc;
  else
    tp->hs_head = tc;
  tp->hs_tail = tc;
  if (tc->server)
    tp->hs_accepted++;
  if (!uv_is_active((uv_handle_t *)&tp->side->hs))
    uv_timer_start(&tp->side->hs, tls_hs_tick, TLS_HS_TICK_MS, TLS_HS_TICK_MS);
}

static void tls_hs_tick(uv_timer_t *h) {
  struct tls_side *s = h->data;
  struct tls_transport *tp = s->tp;
  if (!tp)
    return;
  uint64_t now = uv_now(tp->base.loop) + 1;
  /* Oldest first: stop at the first that still has time. Each failure unlinks the head. */
  while (tp->hs_head && now - tp->hs_head->hs_start_ms >= tp->hs_timeout_ms) {
    struct tls_conn *tc = tp->hs_head;
    char msg[200];
    snprintf(msg, sizeof msg, "%s: no complete handshake within %u ms", tc->peer,
             (unsigned)tp->hs_timeout_ms);
    tc->busy++;
    tls_hs_fail(tc, SIM_TLS_R_TIMEOUT, msg);
    tc->busy--;
    tls_conn_release(tc);
    if (!s->tp)
      return; /* that was the last thing open: the timers are closing */
  }
  /* Still ticking with no handshake: a heap trim was due but too soon (tls_heap_trim). */
  if (!tp->hs_head && tls_heap_trim(tp))
    uv_timer_stop(h);
}

static void tls_kick_cb(uv_timer_t *h) {
  struct tls_side *s = h->data;
  struct tls_transport *tp = s->tp;
  if (!tp)
    return;
  struct tls_conn *list = tp->kick_head;
  tp->kick_head = NULL;
  while (list) {
    struct tls_conn *tc = list;
    list = tc->kick_next;
    tc->kick_next = NULL;
    tc->kicked = 0;
    if (tc->state == TLSC_DEAD)
      tls_conn_release(tc);
    else
      tls_pump(tc);
  }
}

/* ---- the inner connection's callbacks ---- */

static void tls_inner_connect_cb(struct sim_conn *c, int status, void *user) {
  struct tls_conn *tc = user;
  (void)c;
  if (status < 0) { /* the inner connection is gone; no closed_cb follows, here as there */
    tc->inner = NULL;
    tc->state = TLSC_DEAD;
    tc->busy++;
    if (tc->cbs && tc->cbs->connect_cb)
      tc->cbs->connect_cb(&tc->base, status, tc->user);
    tc->busy--;
    tls_conn_release(tc);
    return;
  }
  tls_hs_begin(tc);
  tls_pump(tc);
}

static void tls_inner_data_cb(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  struct tls_conn *tc = user;
  (void)c;
  if (tc->state == TLSC_DEAD || n == 0)
    return;
  if (!tc->got_any) {
    tc->got_any = 1;
    tc->first = p[0];
    /* A ClientHello is a handshake record (22): anything else is a client speaking plaintext
     * to the TLS port, worth naming rather than leaving to OpenSSL's "wrong version". */
    if (tc->server && p[0] != 22) {
      char msg[200];
      snprintf(msg, sizeof msg,
               "a client sent plaintext to the TLS port (first byte 0x%02x), not a TLS "
               "ClientHello: it should connect with hubrpcs://",
               p[0]);
      /* A fatal unexpected_message alert in a TLS record, as OpenSSL would answer: a client
       * that knows TLS (hubsim's hubs do) can tell the peer from it, whatever it speaks. */
      static const uint8_t alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a};
      (void)sim_conn_send(tc->inner, alert, sizeof alert);
      tc->busy++;
      tls_hs_fail(tc, SIM_TLS_R_NOT_TLS, msg);
      tc->busy--;
      tls_conn_release(tc);
      return;
    }
  }
  if (tc->spill.len) {
    if (sim_buf_append(&tc->spill, p, n)) {
      tls_conn_end(tc, SIM_ENOMEM);
      tls_conn_release(tc);
      return;
    }
  } else {
    tc->in = p;
    tc->in_len = n;
  }
  tc->busy++;
  tls_pump(tc);
  /* Keep what OpenSSL did not read (a paused owner) past the borrowed bytes' lifetime. */
  if (tc->state != TLSC_DEAD && tc->in_len && sim_buf_append(&tc->spill, tc->in, tc->in_len))
    tls_conn_end(tc, SIM_ENOMEM);
  tc->in = NULL;
  tc->in_len = 0;
  tc->busy--;
  tls_conn_release(tc);
}

static void tls_inner_closed_cb(struct sim_conn *c, int err, void *user) {
  struct tls_conn *tc = user;
  (void)c;
  tc->inner = NULL; /* the inner transport frees it */
  tc->busy++;
  if (tc->state == TLSC_HANDSHAKE) {
    char msg[320]; /* the stats keep its first 199 bytes; the log line gets all of it */
    if (!tc->server && !tc->got_any)
      snprintf(msg, sizeof msg,
               "%s closed the connection without answering the TLS handshake (a plain hubrpc:// "
               "port, or a TLS server that refused or shed the connection?)",
               tc->peer);
    else
      snprintf(msg, sizeof msg, "%s closed the connection during the TLS handshake (%s)", tc->peer,
               err ? sim_strerror(err) : "end of stream");
    tls_hs_fail(tc, SIM_TLS_R_PROTOCOL, msg);
  } else {
    tls_conn_end(tc, err);
  }
  tc->busy--;
  tls_conn_release(tc);
}

static const struct sim_conn_cbs tls_inner_cbs = {
    .connect_cb = tls_inner_connect_cb,
    .data_cb = tls_inner_data_cb,
    .closed_cb = tls_inner_closed_cb,
};

/* ---- the ops ---- */

/* A connection with its SSL object and BIO; not linked anywhere yet. */
static int tls_conn_new(struct tls_transport *tp, SSL_CTX *ctx, struct tls_conn **out) {
  struct tls_conn *tc = calloc(1, sizeof *tc);
  if (!tc)
    return SIM_ENOMEM;
  tc->base.t = &tp->base;
  BIO *b = NULL;
  if (!(tc->ssl = SSL_new(ctx)) || !(b = BIO_new(tp->bm))) {
    SSL_free(tc->ssl);
    free(tc);
    return SIM_ENOMEM;
  }
  BIO_set_data(b, tc);
  BIO_set_init(b, 1);
  SSL_set_bio(tc->ssl, b, b); /* one BIO both ways; the SSL object owns it */
  int rc = tls_live_inc(tp);
  if (rc) {
    SSL_free(tc->ssl);
    free(tc);
    return rc;
  }
  *out = tc;
  return 0;
}

/* The name check: an IP literal against the certificate's IP addresses, a name against its
 * DNS names (and sent as SNI). 0, or SIM_ENOMEM. */
static int tls_set_peer_name(struct tls_conn *tc, const char *host) {
  unsigned char ip[16];
  if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tc->ssl), host) == 1 ? 0 : SIM_ENOMEM;
  if (SSL_set1_host(tc->ssl, host) != 1 || SSL_set_tlsext_host_name(tc->ssl, host) != 1)
    return SIM_ENOMEM;
  return 0;
}

static int tls_connect(struct sim_transport *t, const struct sim_addr *dst,
                       const struct sim_addr *src, const struct sim_conn_cbs *cbs, void *user,
                       struct sim_conn **out) {
  struct tls_transport *tp = tls_tp(t);
  struct tls_conn *tc;
  int rc = tls_conn_new(tp, tp->cctx, &tc);
  if (rc)
    return rc;
  tc->cbs = cbs;
  tc->user = user;
  tc->state = TLSC_CONNECTING;
  snprintf(tc->peer, sizeof tc->peer, "%s:%u", dst->host, (unsigned)dst->port);
  SSL_set_connect_state(tc->ssl);
  SSL_set_app_data(tc->ssl, tc);
  if (!tp->insecure && (rc = tls_set_peer_name(tc, dst->host)))
    goto fail;
  const struct sim_tls_identity *id = tp->identity ? tp->identity(tp->identity_ctx, user) : NULL;
  if (id &&
      (SSL_use_certificate(tc->ssl, id->cert) != 1 || SSL_use_PrivateKey(tc->ssl, id->key) != 1)) {
    rc = SIM_ENOMEM;
    goto fail;
  }
  SSL_SESSION *sess = sim_htab_get(&tp->sessions, (uint64_t)(uintptr_t)user);
  if (sess)
    SSL_set_session(tc->ssl, sess); /* a session the server no longer knows means a full one */
  rc = sim_conn_connect(tp->inner, dst, src, &tls_inner_cbs, tc, &tc->inner);
  if (rc)
    goto fail;
  *out = &tc->base;
  return 0;
fail:
  tls_conn_free(tc);
  return rc;
}

static void tls_inner_accept_cb(struct sim_listener *il, struct sim_conn *ic, void *user) {
  struct tls_listener *l = user;
  struct tls_transport *tp = tls_tp(l->base.t);
  (void)il;
  struct tls_conn *tc;
  /* The owner bounds connections still in their handshake (it may close the oldest now), or
   * refuses this one: before any TLS state exists for it. */
  if (tp->admit && tp->admit(tp->admit_ctx)) {
    sim_conn_close(ic);
    return;
  }
  if (tls_conn_new(tp, tp->sctx, &tc)) {
    sim_conn_close(ic);
    return;
  }
  tc->server = 1;
  tc->inner = ic;
  snprintf(tc->peer, sizeof tc->peer, "a client");
  SSL_set_accept_state(tc->ssl);
  if (sim_conn_start(ic, &tls_inner_cbs, tc)) {
    sim_conn_close(ic);
    tc->inner = NULL;
    tc->state = TLSC_DEAD;
    tls_conn_free(tc);
    return;
  }
  tc->l = l;
  l->refs++;
  tls_hs_begin(tc);
}

static int tls_listen(struct sim_transport *t, const struct sim_addr *addr, sim_accept_cb cb,
                      void *user, struct sim_listener **out) {
  struct tls_transport *tp = tls_tp(t);
  if (!tp->sctx)
    return SIM_EINVAL; /* no certificate: this transport only connects */
  struct tls_listener *l = calloc(1, sizeof *l);
  if (!l)
    return SIM_ENOMEM;
  l->base.t = t;
  l->cb = cb;
  l->user = user;
  l->refs = 1;
  int rc = tls_live_inc(tp);
  if (rc) {
    free(l);
    return rc;
  }
  rc = sim_transport_listen(tp->inner, addr, tls_inner_accept_cb, l, &l->inner);
  if (rc) {
    tls_listener_unref(l);
    return rc;
  }
  *out = &l->base;
  return 0;
}

static int tls_start(struct sim_conn *sc, const struct sim_conn_cbs *cbs, void *user) {
  struct tls_conn *tc = (struct tls_conn *)sc;
  if (tc->state != TLSC_ACCEPTED)
    return SIM_EINVAL;
  tc->cbs = cbs;
  tc->user = user;
  tc->state = TLSC_OPEN;
  /* Bytes that came with the end of the handshake are read by the pump that is running. */
  return 0;
}

static int tls_send(struct sim_conn *sc, const void *p, size_t n) {
  struct tls_conn *tc = (struct tls_conn *)sc;
  if (tc->state == TLSC_DEAD || !tc->inner)
    return SIM_ECLOSED;
  if (n == 0)
    return 0;
  if (tc->state == TLSC_CONNECTING || tc->state == TLSC_HANDSHAKE) {
    if (tc->server)
      return SIM_EINVAL;
    if (n > TLS_EARLY_MAX || tc->early.len > TLS_EARLY_MAX - n)
      return SIM_EFULL;
    return sim_buf_append(&tc->early, p, n); /* sent when the handshake is done */
  }
  if (tc->state != TLSC_OPEN)
    return SIM_EINVAL;
  size_t w = 0;
  tc->send_err = 0;
  ERR_clear_error();
  if (SSL_write_ex(tc->ssl, p, n, &w) && w == n)
    return 0;
  /* A record cut short leaves the stream broken: the owner must close, as after a tcp send
   * that failed half way. */
  return tc->send_err ? tc->send_err : SIM_ETLS_PROTOCOL;
}

static void tls_kick(struct tls_conn *tc) {
  struct tls_transport *tp = tls_tp(tc->base.t);
  if (tc->kicked)
    return;
  tc->kicked = 1;
  tc->kick_next = tp->kick_head;
  tp->kick_head = tc;
  uv_timer_start(&tp->side->kick, tls_kick_cb, 0, 0);
}

static int tls_pause(struct sim_conn *sc, int paused) {
  struct tls_conn *tc = (struct tls_conn *)sc;
  if (tc->state != TLSC_OPEN)
    return tc->state == TLSC_DEAD ? SIM_ECLOSED : SIM_EINVAL;
  if (!paused == !tc->paused)
    return 0;
  if (tc->inner) {
    int rc = sim_conn_pause(tc->inner, paused);
    if (rc < 0)
      return rc;
  }
  tc->paused = paused ? 1 : 0;
  if (!paused && (tc->spill.len || SSL_pending(tc->ssl) > 0 || SSL_has_pending(tc->ssl)))
    tls_kick(tc);
  return 0;
}

static size_t tls_pending(const struct sim_conn *sc) {
  const struct tls_conn *tc = (const struct tls_conn *)sc;
  return tc->early.len + (tc->inner ? sim_conn_pending(tc->inner) : 0);
}

static void tls_close(struct sim_conn *sc) {
  struct tls_conn *tc = (struct tls_conn *)sc;
  if (tc->state == TLSC_DEAD)
    return;
  /* close_notify first when the session is up: the peer then sees an orderly end, not a
   * truncation. Best effort, as tcp's close. */
  if (tc->state == TLSC_OPEN && tc->inner) {
    ERR_clear_error();
    (void)SSL_shutdown(tc->ssl);
  }
  tls_conn_kill(tc);
  tls_conn_release(tc);
}

static void tls_listener_close(struct sim_listener *sl) {
  struct tls_listener *l = (struct tls_listener *)sl;
  if (l->closing)
    return;
  l->closing = 1;
  sim_listener_close(l->inner);
  tls_listener_unref(l);
}

static uint16_t tls_listener_port(const struct sim_listener *sl) {
  const struct tls_listener *l = (const struct tls_listener *)sl;
  return sim_listener_port(l->inner);
}

const struct sim_transport_ops sim__transport_tls_ops = {
    .name = "tls",
    .connect = tls_connect,
    .listen = tls_listen,
    .start = tls_start,
    .send = tls_send,
    .pause = tls_pause,
    .pending = tls_pending,
    .close = tls_close,
    .listener_close = tls_listener_close,
    .listener_port = tls_listener_port,
};

/* ---- creating ---- */

static SSL_CTX *tls_ctx_new(const SSL_METHOD *m) {
  SSL_CTX *ctx = SSL_CTX_new(m);
  if (!ctx)
    return NULL;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  /* The server's tickets and the client's sessions are set where each side is made. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  return ctx;
}

/* Mutual TLS on the server: client certificates asked for, and verified against
 * cfg->client_ca_file (and cfg->crl_file) when sent. */
static int tls_load_client_ca(struct tls_transport *tp, const struct sim_tls_config *cfg,
                              const char **why) {
  if (!cfg->client_ca_file)
    return 0;
  STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca_file);
  if (!names || SSL_CTX_load_verify_locations(tp->sctx, cfg->client_ca_file, NULL) != 1) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    *why = sim__tls_why("cannot read client CA certificates from", cfg->client_ca_file);
    return SIM_EINVAL;
  }
  SSL_CTX_set_client_CA_list(tp->sctx, names);
  /* Optional: a client without a certificate authenticates in the protocol instead. */
  SSL_CTX_set_verify(tp->sctx, SSL_VERIFY_PEER, NULL);
  /* Resumption with client verification needs a session id context (OpenSSL refuses to resume
   * without one); the ticket carries the client's certificate into the resumed session. */
  SSL_CTX_set_session_id_context(tp->sctx, (const unsigned char *)"hubsim", 6);
  if (!cfg->crl_file)
    return 0;
  X509_STORE *st = SSL_CTX_get_cert_store(tp->sctx);
  BIO *b = BIO_new_file(cfg->crl_file, "r");
  int n = 0;
  for (X509_CRL *crl; b && (crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)); n++) {
    int ok = X509_STORE_add_crl(st, crl);
    X509_CRL_free(crl);
    if (ok != 1)
      break;
  }
  BIO_free(b);
  if (n == 0) {
    *why = sim__tls_why("cannot read a PEM certificate revocation list from", cfg->crl_file);
    return SIM_EINVAL;
  }
  ERR_clear_error(); /* the end of the file */
  X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
  return 0;
}

/* The server's certificate chain and key (the key under the secret-file rules). */
static int tls_load_server(struct tls_transport *tp, const struct sim_tls_config *cfg,
                           const char **why) {
  int rc = SIM_EINVAL;
  EVP_PKEY *pk = NULL;
  if (!(tp->sctx = tls_ctx_new(TLS_server_method())))
    return SIM_ENOMEM;
  SSL_CTX_set_cipher_list(tp->sctx, TLS_CIPHERS_12);
  /* One stateless ticket per full handshake: a reconnecting client resumes without the server
   * keeping anything per session. */
  SSL_CTX_set_num_tickets(tp->sctx, 1);
  if (SSL_CTX_use_certificate_chain_file(tp->sctx, cfg->cert_file) != 1) {
    *why = sim__tls_why("cannot use the certificate file", cfg->cert_file);
    return SIM_EINVAL;
  }
  if (!(pk = sim__tls_read_key(cfg->key_file, why, &rc)))
    return rc;
  if (SSL_CTX_use_PrivateKey(tp->sctx, pk) != 1 || SSL_CTX_check_private_key(tp->sctx) != 1) {
    *why = sim__tls_why("the key does not match the certificate: key file", cfg->key_file);
    rc = SIM_EINVAL;
  } else {
    rc = tls_load_client_ca(tp, cfg, why);
  }
  EVP_PKEY_free(pk);
  return rc;
}

/* A session (a ticket) for the connection's owner: kept in place of the one before, so that its
 * next connect resumes. 1: the reference is ours. */
static int tls_new_session_cb(SSL *ssl, SSL_SESSION *sess) {
  struct tls_conn *tc = SSL_get_app_data(ssl);
  if (!tc || tc->state == TLSC_DEAD)
    return 0;
  struct tls_transport *tp = tls_tp(tc->base.t);
  uint64_t key = (uint64_t)(uintptr_t)tc->user;
  SSL_SESSION *old = sim_htab_get(&tp->sessions, key);
  if (sim_htab_put(&tp->sessions, key, sess))
    return 0; /* no memory: the next connect is a full handshake, nothing worse */
  SSL_SESSION_free(old);
  return 1;
}

static int tls_load_client(struct tls_transport *tp, const struct sim_tls_config *cfg,
                           const char **why) {
  if (!(tp->cctx = tls_ctx_new(TLS_client_method())))
    return SIM_ENOMEM;
  /* Sessions go to tp->sessions by owner, not to OpenSSL's cache by server address: every hub
   * of a fleet talks to the same server, and each must resume its own session. */
  SSL_CTX_set_session_cache_mode(tp->cctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(tp->cctx, tls_new_session_cb);
  if (cfg->insecure) {
    SSL_CTX_set_verify(tp->cctx, SSL_VERIFY_NONE, NULL);
    return 0;
  }
  SSL_CTX_set_verify(tp->cctx, SSL_VERIFY_PEER, NULL);
  if (cfg->ca_file) {
    if (SSL_CTX_load_verify_locations(tp->cctx, cfg->ca_file, NULL) != 1) {
      *why = sim__tls_why("cannot read CA certificates from", cfg->ca_file);
      return SIM_EINVAL;
    }
  } else if (SSL_CTX_set_default_verify_paths(tp->cctx) != 1) {
    *why = "cannot load the system's trust store (give --ca FILE)";
    return SIM_EINVAL;
  }
  return 0;
}

int sim_transport_tls_new(uv_loop_t *loop, const struct sim_tls_config *cfg,
                          struct sim_transport **out, const char **why) {
  assert(loop && cfg && out && why);
  *why = NULL;
  struct tls_transport *tp = calloc(1, sizeof *tp);
  if (!tp)
    return SIM_ENOMEM;
  tp->base.ops = &sim__transport_tls_ops;
  tp->base.loop = loop;
  tp->insecure = cfg->insecure ? 1 : 0;
  tp->identity = cfg->identity;
  tp->identity_ctx = cfg->identity_ctx;
  tp->hs_timeout_ms =
      cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : TLS_HS_TIMEOUT_DEFAULT_MS;
  sim_hist_init(&tp->st.full_us);
  sim_hist_init(&tp->st.resumed_us);
  int rc = SIM_ENOMEM;
  if (!(tp->bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hubsim conn")) ||
      !BIO_meth_set_write_ex(tp->bm, tls_bio_write) ||
      !BIO_meth_set_read_ex(tp->bm, tls_bio_read) || !BIO_meth_set_ctrl(tp->bm, tls_bio_ctrl))
    goto fail;
  if ((rc = tls_load_client(tp, cfg, why)))
    goto fail;
  if ((cfg->cert_file || cfg->key_file) && (!cfg->cert_file || !cfg->key_file)) {
    *why = "a certificate needs its key and a key its certificate";
    rc = SIM_EINVAL;
    goto fail;
  }
  if ((cfg->client_ca_file || cfg->crl_file) && !cfg->cert_file) {
    *why = "client certificates are verified by a server: give its certificate";
    rc = SIM_EINVAL;
    goto fail;
  }
  if (cfg->crl_file && !cfg->client_ca_file) {
    *why = "a revocation list needs the client CA it belongs to";
    rc = SIM_EINVAL;
    goto fail;
  }
  if (cfg->cert_file && (rc = tls_load_server(tp, cfg, why)))
    goto fail;
  if ((rc = sim_transport_tcp_new(loop, &tp->inner)))
    goto fail;
  *out = &tp->base;
  return 0;
fail:
  SSL_CTX_free(tp->sctx);
  SSL_CTX_free(tp->cctx);
  BIO_meth_free(tp->bm);
  free(tp);
  return rc;
}

void sim__transport_tls_free(struct sim_transport *t) {
  struct tls_transport *tp = tls_tp(t);
  /* Freeing with connections still open is the caller's bug: their memory points here. */
  assert(tp->live == 0);
  size_t it = 0;
  for (SSL_SESSION *s; (s = sim_htab_next(&tp->sessions, &it));)
    SSL_SESSION_free(s);
  sim_htab_fini(&tp->sessions);
  sim_transport_free(tp->inner);
  SSL_CTX_free(tp->sctx);
  SSL_CTX_free(tp->cctx);
  BIO_meth_free(tp->bm);
  free(tp);
}

void sim_transport_tls_stats(const struct sim_transport *t, struct sim_tls_stats *out) {
  assert(sim_transport_is_tls(t));
  *out = ((const struct tls_transport *)t)->st;
}

void sim_tls_stats_merge(struct sim_tls_stats *dst, const struct sim_tls_stats *src) {
  dst->handshakes += src->handshakes;
  dst->resumed += src->resumed;
  sim_hist_merge(&dst->full_us, &src->full_us);
  sim_hist_merge(&dst->resumed_us, &src->resumed_us);
  for (int r = 0; r < SIM_TLS_R_COUNT; r++) {
    dst->failed[r] += src->failed[r];
    if (!dst->last[r][0] && src->last[r][0])
      memcpy(dst->last[r], src->last[r], sizeof dst->last[r]);
  }
}

size_t sim_transport_tls_handshaking(const struct sim_transport *t) {
  return sim_transport_is_tls(t) ? ((const struct tls_transport *)t)->hs_accepted : 0;
}

int sim_transport_tls_evict_oldest(struct sim_transport *t) {
  if (!sim_transport_is_tls(t))
    return 0;
  struct tls_transport *tp = tls_tp(t);
  struct tls_conn *tc = tp->hs_head;
  while (tc && !tc->server)
    tc = tc->hs_next;
  if (!tc)
    return 0;
  /* Its owner never saw it: it just goes, as after a failed handshake, but it did not fail. */
  tc->busy++;
  tls_conn_kill(tc);
  tc->busy--;
  tls_conn_release(tc);
  return 1;
}

void sim_transport_tls_set_admit(struct sim_transport *t, int (*admit)(void *ctx), void *ctx) {
  if (!sim_transport_is_tls(t))
    return;
  struct tls_transport *tp = tls_tp(t);
  tp->admit = admit;
  tp->admit_ctx = ctx;
}

int sim_transport_is_tls(const struct sim_transport *t) {
  return t && t->ops == &sim__transport_tls_ops;
}

int sim_tls_conn_peer_hub(const struct sim_conn *c, char *out, size_t cap) {
  if (!c || !sim_transport_is_tls(c->t))
    return 0;
  const struct tls_conn *tc = (const struct tls_conn *)c;
  X509 *cert = SSL_get0_peer_certificate(tc->ssl);
  if (!tc->server || !cert || SSL_get_verify_result(tc->ssl) != X509_V_OK)
    return 0;
  return sim_tls_cert_hub_id(cert, out, cap) ? SIM_EINVAL : 1;
}
