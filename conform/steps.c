/* Steps shared by the conformance cases: the handshake, Reports, and the expectations that
 * turn what came back into a verdict with its reason. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conform/conform.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/core/rng.h"
#include "sim/wire/auth.h"

int conform_verdict(struct conform_ctx *x, enum conform_verdict v, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (x->verdict == CONFORM_PASS) {
    x->verdict = v;
    vsnprintf(x->why, sizeof(x->why), fmt, ap);
  }
  va_end(ap);
  return -1;
}

const char *conform_error_name(int code) {
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&hubrpc__v1__error_code__descriptor, code);
  if (!v)
    return "an unknown code";
  return v->name + strlen("ERROR_");
}

void conform_describe(const sim_envelope *env, int rc, char *out, size_t cap) {
  if (!env) {
    if (rc == SIM_ECLOSED)
      snprintf(out, cap, "the connection closed");
    else if (rc == SIM_ETIMEOUT)
      snprintf(out, cap, "nothing (timed out)");
    else
      snprintf(out, cap, "bytes that are not a valid frame (%s)", sim_strerror(rc));
    return;
  }
  char reason[201] = "";
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_ERROR:
    /* The platform's text goes to a terminal: no control characters of its choosing. */
    snprintf(reason, sizeof(reason), "%s", env->error->reason ? env->error->reason : "");
    for (char *p = reason; *p; p++)
      if ((unsigned char)*p < 0x20 || *p == 0x7f)
        *p = '?';
    snprintf(out, cap, "Error{%s (%d), \"%s\"}", conform_error_name(env->error->code),
             (int)env->error->code, reason);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_ACK:
    snprintf(out, cap, "Ack{up_to_seq=%llu}", (unsigned long long)env->ack->up_to_seq);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_WELCOME:
    snprintf(out, cap, "Welcome{heartbeat_s=%u, acked_seq=%llu, max_window=%u}",
             env->welcome->heartbeat_s, (unsigned long long)env->welcome->acked_seq,
             env->welcome->max_window);
    break;
  default:
    snprintf(out, cap, "%s", sim_hubrpc_body_name(env->body_case));
  }
}

/* A random value of the case's own stream, mixed with the system's generator so that two
 * runs against one platform never reuse a hub id. */
static uint64_t rand64(struct conform_ctx *x) {
  uint64_t r = 0;
  if (sim_auth_random(&r, sizeof(r)))
    r = 0;
  return r ^ sim_splitmix64(&x->rng);
}

void conform_hub_init(struct conform_ctx *x, struct conform_conn *c, const char *tag) {
  conform_conn_init(c, x->d);
  snprintf(c->hub_id, sizeof(c->hub_id), "cf-%s-%08llx", tag,
           (unsigned long long)(rand64(x) & 0xffffffffu));
  c->boot_id = rand64(x);
  for (size_t i = 0; i < sizeof(c->client_nonce); i += 8) {
    uint64_t r = rand64(x);
    memcpy(c->client_nonce + i, &r, 8);
  }
}

void conform_hub_copy(struct conform_ctx *x, struct conform_conn *to,
                      const struct conform_conn *from) {
  conform_hub_init(x, to, "copy");
  memcpy(to->hub_id, from->hub_id, sizeof(to->hub_id));
  to->boot_id = from->boot_id;
}

int conform_step_connect(struct conform_ctx *x, struct conform_conn *c) {
  int rc = conform_connect(x->d, c);
  if (rc)
    return conform_fail(x, "could not connect to %s: %s", x->o->url, sim_strerror(rc));
  return 0;
}

void conform_hello_init(const struct conform_conn *c, Hubrpc__V1__Hello *h) {
  hubrpc__v1__hello__init(h);
  h->proto_version = SIM_HUBRPC_VERSION;
  h->hub_id = (char *)c->hub_id;
  h->model = "hubsim.conform";
  h->firmware = "1";
  h->client_nonce.data = (uint8_t *)c->client_nonce;
  h->client_nonce.len = sizeof(c->client_nonce);
  h->boot_id = c->boot_id;
}

/* Reads the next frame that is not a Heartbeat. */
static int recv_skip_hb(struct conform_conn *c, uint32_t ms, sim_envelope **out) {
  for (;;) {
    int rc = conform_recv(c, ms, out);
    if (rc || (*out)->body_case != HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT)
      return rc;
    sim_hubrpc_free(*out);
  }
}

int conform_send_hello(struct conform_conn *c) {
  Hubrpc__V1__Hello h;
  conform_hello_init(c, &h);
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HELLO;
  env.hello = &h;
  return conform_send(c, &env);
}

int conform_send_auth(struct conform_conn *c, const uint8_t *mac, size_t len) {
  Hubrpc__V1__Auth a = HUBRPC__V1__AUTH__INIT;
  a.mac.data = (uint8_t *)mac;
  a.mac.len = len;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_AUTH;
  env.auth = &a;
  return conform_send(c, &env);
}

int conform_answer_error(struct conform_ctx *x, struct conform_conn *c, int send_rc, int code,
                         const char *sent) {
  if (send_rc)
    return conform_fail(x, "could not send %s: the platform had closed the connection", sent);
  return conform_expect_error(x, c, code, x->o->timeout_ms, sent);
}

/* Sends what send_rc reports on and reads one frame, which must be of body case want. 0 and
 * *in, or -1 (the case failed, naming sent and what came back). */
static int answer(struct conform_ctx *x, struct conform_conn *c, int send_rc, int want,
                  const char *sent, const char *expected, sim_envelope **in) {
  *in = NULL;
  if (send_rc)
    return conform_fail(x, "could not send %s: the connection closed", sent);
  int rc = conform_recv(c, x->o->timeout_ms, in);
  if (rc == 0 && (int)(*in)->body_case == want)
    return 0;
  char got[300];
  conform_describe(*in, rc, got, sizeof(got));
  sim_hubrpc_free(*in);
  *in = NULL;
  return conform_fail(x, "sent %s (hub_id %s); expected %s; got %s", sent, c->hub_id, expected,
                      got);
}

int conform_step_hello(struct conform_ctx *x, struct conform_conn *c) {
  sim_envelope *in;
  if (answer(x, c, conform_send_hello(c), HUBRPC__V1__ENVELOPE__BODY_CHALLENGE, "a valid Hello",
             "a Challenge (5.1)", &in))
    return -1;
  size_t n = in->challenge->server_nonce.len;
  if (n == SIM_HUBRPC_NONCE_LEN)
    memcpy(c->server_nonce, in->challenge->server_nonce.data, n);
  sim_hubrpc_free(in);
  if (n != SIM_HUBRPC_NONCE_LEN)
    return conform_fail(x,
                        "sent a valid Hello; expected a Challenge with a 16-byte server_nonce "
                        "(4.3); got one of %zu bytes",
                        n);
  return 0;
}

void conform_mac(struct conform_ctx *x, const struct conform_conn *c, uint8_t mac[32]) {
  uint8_t secret[32];
  sim_auth_hub_secret(x->o->key, x->o->key_len, c->hub_id, secret);
  sim_auth_mac(secret, c->client_nonce, c->server_nonce, mac);
}

int conform_step_auth(struct conform_ctx *x, struct conform_conn *c, const uint8_t *mac,
                      size_t len) {
  sim_envelope *in;
  if (answer(x, c, conform_send_auth(c, mac, len), HUBRPC__V1__ENVELOPE__BODY_WELCOME,
             "an Auth with the right mac", "a Welcome (5.1; is --fleet-key the platform's?)", &in))
    return -1;
  const Hubrpc__V1__Welcome *w = in->welcome;
  char got[300];
  conform_describe(in, 0, got, sizeof(got));
  c->heartbeat_s = w->heartbeat_s;
  c->max_window = w->max_window;
  c->welcome_acked = c->acked = w->acked_seq;
  c->sent_top = w->acked_seq; /* resends start above it */
  sim_hubrpc_free(in);
  if (c->heartbeat_s == 0 || c->max_window == 0)
    return conform_fail(x,
                        "expected a Welcome with heartbeat_s >= 1 and max_window >= 1 (4.5); "
                        "got %s",
                        got);
  return 0;
}

int conform_open(struct conform_ctx *x, struct conform_conn *c, const char *tag) {
  uint8_t mac[32];
  conform_hub_init(x, c, tag);
  if (conform_step_connect(x, c) || conform_step_hello(x, c))
    goto fail;
  conform_mac(x, c, mac);
  if (conform_step_auth(x, c, mac, sizeof(mac)))
    goto fail;
  return 0;
fail:
  conform_close(c);
  return -1;
}

int conform_open_as(struct conform_ctx *x, struct conform_conn *c, const struct conform_conn *prev,
                    uint64_t boot_id) {
  uint8_t mac[32];
  conform_hub_copy(x, c, prev);
  c->boot_id = boot_id;
  if (conform_step_connect(x, c) || conform_step_hello(x, c))
    return -1;
  conform_mac(x, c, mac);
  return conform_step_auth(x, c, mac, sizeof(mac));
}

int conform_send_frames(struct conform_ctx *x, struct conform_conn *c, const struct sim_buf *b,
                        const char *what) {
  if (conform_send_raw(c, b->data, b->len))
    return conform_fail(x, "could not send %s: the platform had closed the connection", what);
  return 0;
}

const uint8_t conform_heartbeat_frame[10] = {0x09, 0x2a, 0x07, 0x08, 0x80,
                                             0xd0, 0x95, 0xff, 0xbc, 0x31};

void conform_put_report(struct sim_buf *b, uint64_t seq) {
  Hubrpc__V1__Attribute a = HUBRPC__V1__ATTRIBUTE__INIT, *ap = &a;
  a.id = 0;
  a.zcl_type = 0x10;
  a.value_case = HUBRPC__V1__ATTRIBUTE__VALUE_BOOL_VALUE;
  a.bool_value = seq & 1;
  Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
  r.seq = seq;
  r.device = 0x00158d00c0ffee01ull;
  r.endpoint = 1;
  r.cluster = 6;
  r.n_attributes = 1;
  r.attributes = &ap;
  r.lqi = 200;
  r.ts_ms = 1700000000000ull + seq;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &r;
  sim_hubrpc_encode(b, &env);
}

void conform_put_joined(struct sim_buf *b, uint64_t seq, uint64_t device) {
  uint32_t in_clusters[] = {0x0000, 0x0006};
  Hubrpc__V1__Endpoint ep = HUBRPC__V1__ENDPOINT__INIT, *epp = &ep;
  ep.id = 1;
  ep.profile = 0x0104;
  ep.device_id = 0x0100;
  ep.n_in_clusters = 2;
  ep.in_clusters = in_clusters;
  Hubrpc__V1__DeviceJoined j = HUBRPC__V1__DEVICE_JOINED__INIT;
  j.seq = seq;
  j.device = device;
  j.nwk = 0x1234;
  j.model = "lumi.plug.maeu01";
  j.manufacturer = "LUMI";
  j.power_source = HUBRPC__V1__POWER_SOURCE__POWER_MAINS;
  j.n_endpoints = 1;
  j.endpoints = &epp;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED;
  env.device_joined = &j;
  sim_hubrpc_encode(b, &env);
}

int conform_send_reports(struct conform_ctx *x, struct conform_conn *c, uint64_t from,
                         uint64_t to) {
  struct sim_buf b;
  sim_buf_init(&b);
  for (uint64_t s = from; s <= to; s++)
    conform_put_report(&b, s);
  int rc = conform_send_frames(x, c, &b, "Reports");
  sim_buf_fini(&b);
  if (!rc && to > c->sent_top)
    c->sent_top = to;
  return rc;
}

int conform_wait_ack(struct conform_ctx *x, struct conform_conn *c, uint64_t seq,
                     const char *sent) {
  uint64_t end = conform_now_ms() + x->o->timeout_ms;
  while (c->acked < seq) {
    uint64_t now = conform_now_ms();
    sim_envelope *in = NULL;
    int rc = recv_skip_hb(c, now < end ? (uint32_t)(end - now) : 0, &in);
    char got[300];
    conform_describe(in, rc, got, sizeof(got));
    if (rc || in->body_case != HUBRPC__V1__ENVELOPE__BODY_ACK) {
      sim_hubrpc_free(in);
      return conform_fail(x,
                          "sent %s; expected an Ack covering seq %llu (7.3); got %s after "
                          "Acks up to %llu",
                          sent, (unsigned long long)seq, got, (unsigned long long)c->acked);
    }
    uint64_t up = in->ack->up_to_seq;
    sim_hubrpc_free(in);
    if (up < c->acked)
      return conform_fail(x,
                          "sent %s; got Ack{up_to_seq=%llu} after Ack %llu: Acks are "
                          "cumulative and never go back (7.3)",
                          sent, (unsigned long long)up, (unsigned long long)c->acked);
    if (up > c->sent_top)
      return conform_fail(x,
                          "sent %s; got Ack{up_to_seq=%llu}, above the highest seq sent in "
                          "this session (%llu): an Ack is capped by the session (4.9)",
                          sent, (unsigned long long)up, (unsigned long long)c->sent_top);
    c->acked = up;
  }
  return 0;
}

int conform_expect_error(struct conform_ctx *x, struct conform_conn *c, int code, uint32_t ms,
                         const char *sent) {
  uint64_t end = conform_now_ms() + ms;
  sim_envelope *in = NULL;
  int rc;
  char got[300];
  for (;;) {
    uint64_t now = conform_now_ms();
    rc = recv_skip_hb(c, now < end ? (uint32_t)(end - now) : 0, &in);
    if (rc || in->body_case != HUBRPC__V1__ENVELOPE__BODY_ACK)
      break;
    if (in->ack->up_to_seq > c->acked) /* kept for a case that checks the final Acks */
      c->acked = in->ack->up_to_seq;
    sim_hubrpc_free(in); /* Acks of what came before stay allowed */
  }
  conform_describe(in, rc, got, sizeof(got));
  if (rc || in->body_case != HUBRPC__V1__ENVELOPE__BODY_ERROR || (int)in->error->code != code) {
    sim_hubrpc_free(in);
    return conform_fail(x, "sent %s; expected Error{%s} and a close; got %s", sent,
                        conform_error_name(code), got);
  }
  sim_hubrpc_free(in);
  in = NULL;
  rc = conform_wait_closed(c, x->o->timeout_ms, &in);
  conform_describe(in, rc, got, sizeof(got));
  sim_hubrpc_free(in);
  if (rc)
    return conform_fail(x, "sent %s; got Error{%s} but then %s instead of the close (4.15)", sent,
                        conform_error_name(code), rc == 1 ? got : "no close");
  return 0;
}

int conform_expect_silent_close(struct conform_ctx *x, struct conform_conn *c, uint32_t ms,
                                const char *sent) {
  uint64_t end = conform_now_ms() + ms;
  for (;;) {
    uint64_t now = conform_now_ms();
    sim_envelope *in = NULL;
    int rc = conform_wait_closed(c, now < end ? (uint32_t)(end - now) : 0, &in);
    if (rc == 0)
      return 0;
    if (rc == 1 && (in->body_case == HUBRPC__V1__ENVELOPE__BODY_ACK ||
                    in->body_case == HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT)) {
      sim_hubrpc_free(in);
      continue;
    }
    char got[300];
    conform_describe(in, rc == 1 ? 0 : rc, got, sizeof(got));
    sim_hubrpc_free(in);
    return conform_fail(x,
                        "sent %s; expected the platform to close without answering (5.1); "
                        "got %s",
                        sent, got);
  }
}

/* Runs --restart-cmd with /bin/sh, bounded by --max-wait: a hook that hangs fails the case
 * rather than the run. */
/* Reads what the hook writes, up to cap - 1 bytes (the rest is read and dropped), until it
 * exits. A hook that leaves a daemon holding the pipe (a restarted platform) ends all the same:
 * its exit, not the pipe's end, ends the wait. */
static int hook_wait(pid_t pid, int fd, uint64_t end, char *out, size_t cap, int *st) {
  size_t n = 0;
  int done = 0, eof = 0, drain = 64; /* reads after the exit: a daemon that keeps writing */
  for (;;) {
    int got = 0;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (eof && !done)
      nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    else if (poll(&pf, 1, done ? 0 : 20) > 0) {
      char tmp[512];
      ssize_t r = read(fd, tmp, sizeof(tmp));
      eof = r == 0;
      if (r > 0) {
        size_t k = (size_t)r < cap - 1 - n ? (size_t)r : cap - 1 - n;
        memcpy(out + n, tmp, k);
        n += k;
        got = 1;
      }
    }
    if (done) {
      if (!got || eof || --drain == 0)
        break;
      continue;
    }
    if (waitpid(pid, st, WNOHANG) == pid) {
      done = 1; /* read what is already in the pipe, then stop */
      continue;
    }
    if (conform_now_ms() >= end) {
      kill(pid, SIGKILL);
      waitpid(pid, st, 0);
      out[n] = 0;
      return -1;
    }
  }
  out[n] = 0;
  /* The hook's text goes into a reason printed on a terminal: one line, no control characters. */
  for (char *p = out; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  while (n && out[n - 1] == ' ')
    out[--n] = 0;
  return 0;
}

int conform_hook(struct conform_ctx *x, const char *flag, const char *cmd, char *out, size_t cap) {
  int p[2];
  out[0] = 0;
  fflush(NULL);
  if (pipe2(p, O_CLOEXEC))
    return conform_fail(x, "%s: cannot make a pipe", flag);
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return conform_fail(x, "%s: cannot fork", flag);
  }
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
      dup2(null, 0);
    dup2(p[1], 1);
    dup2(p[1], 2);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  int st = 0;
  int rc = hook_wait(pid, p[0], conform_now_ms() + x->o->max_wait_ms, out, cap, &st);
  close(p[0]);
  if (rc)
    return conform_fail(x, "%s '%s' did not end within --max-wait %u s (its output: '%s')", flag,
                        cmd, x->o->max_wait_ms / 1000u, out);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return conform_fail(x, "%s '%s' failed (exit status %d; its output: '%s')", flag, cmd,
                        WIFEXITED(st) ? WEXITSTATUS(st) : -1, out);
  return 0;
}

int conform_restart(struct conform_ctx *x) {
  if (!x->o->restart_cmd)
    return conform_skip(x, "needs --restart-cmd (a command that restarts the platform)");
  char out[256];
  return conform_hook(x, "--restart-cmd", x->o->restart_cmd, out, sizeof(out));
}

/* Appends s to out[*n] single-quoted for /bin/sh ('\'' for a quote). 0, or -1 when full. */
static int put_quoted(char *out, size_t cap, size_t *n, const char *s) {
  char q[4 * SIM_HUBRPC_HUB_ID_MAX + 8];
  size_t k = 0;
  q[k++] = '\'';
  for (; *s && k + 6 < sizeof(q); s++) {
    if (*s == '\'') {
      memcpy(q + k, "'\\''", 4);
      k += 4;
    } else {
      q[k++] = *s;
    }
  }
  if (*s)
    return -1;
  q[k++] = '\'';
  if (*n + k >= cap)
    return -1;
  memcpy(out + *n, q, k);
  *n += k;
  out[*n] = 0;
  return 0;
}

int conform_hook_expand(const char *tmpl, const char *hub, uint64_t eui64, char *out, size_t cap) {
  char eui[17];
  snprintf(eui, sizeof(eui), "%016llx", (unsigned long long)eui64);
  size_t n = 0;
  out[0] = 0;
  while (*tmpl) {
    if (strncmp(tmpl, "{hub}", 5) == 0 || strncmp(tmpl, "{eui64}", 7) == 0) {
      int is_hub = tmpl[1] == 'h';
      if (put_quoted(out, cap, &n, is_hub ? hub : eui))
        return -1;
      tmpl += is_hub ? 5 : 7;
      continue;
    }
    if (n + 1 >= cap)
      return -1;
    out[n++] = *tmpl++;
    out[n] = 0;
  }
  return 0;
}
