#include "hubclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim/core/err.h"
#include "sim/wire/auth.h"
#include "sim/wire/frame.h"

int hubclient_connect(struct hubclient *c, uint16_t port, uv_loop_t *pump) {
  memset(c, 0, sizeof(*c));
  c->fd = -1;
  c->pump = pump;
  sim_buf_init(&c->in);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
    int e = -errno;
    close(fd);
    return e;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  /* Non-blocking reads; writes of test-sized frames always fit the socket buffer. */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  c->fd = fd;
  return 0;
}

void hubclient_close(struct hubclient *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  sim_buf_fini(&c->in);
}

/* Lets the pump loop run once, so a server in this thread can act. */
static void pump(struct hubclient *c) {
  if (c->pump)
    uv_run(c->pump, UV_RUN_NOWAIT);
}

int hubclient_send_raw(struct hubclient *c, const void *p, size_t n) {
  const uint8_t *b = p;
  uint64_t deadline = uv_hrtime() + 5000000000ull;
  while (n) {
    ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
    if (w > 0) {
      b += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR)
      return -errno;
    if (uv_hrtime() > deadline)
      return SIM_ETIMEOUT;
    pump(c);
    struct pollfd pfd = {c->fd, POLLOUT, 0};
    poll(&pfd, 1, c->pump ? 1 : 100);
  }
  return 0;
}

int hubclient_send(struct hubclient *c, const sim_envelope *env) {
  struct sim_buf b;
  sim_buf_init(&b);
  int rc = sim_hubrpc_encode(&b, env);
  if (rc == 0)
    rc = hubclient_send_raw(c, b.data, b.len);
  sim_buf_fini(&b);
  return rc;
}

/* Takes one complete frame out of c->in, if there is one. */
static int take_frame(struct hubclient *c, sim_envelope **out) {
  size_t hdr, body;
  int rc = sim_frame_peek(c->in.data, c->in.len, SIM_FRAME_MAX, &hdr, &body);
  if (rc)
    return rc;
  if (c->in.len - hdr < body)
    return SIM_EAGAIN;
  rc = sim_hubrpc_decode(c->in.data + hdr, body, out);
  sim_buf_consume(&c->in, hdr + body);
  return rc;
}

int hubclient_recv(struct hubclient *c, int timeout_ms, sim_envelope **out) {
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000ull;
  for (;;) {
    int rc = take_frame(c, out);
    if (rc != SIM_EAGAIN)
      return rc;
    if (c->eof)
      return SIM_ECLOSED;
    uint8_t buf[16384];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n > 0) {
      if (sim_buf_append(&c->in, buf, (size_t)n))
        return SIM_ENOMEM;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      c->eof = 1; /* orderly close or reset: either way the platform is gone */
      continue;
    }
    if (uv_hrtime() > deadline)
      return SIM_ETIMEOUT;
    pump(c);
    struct pollfd pfd = {c->fd, POLLIN, 0};
    poll(&pfd, 1, c->pump ? 1 : 50);
  }
}

int hubclient_expect(struct hubclient *c, Hubrpc__V1__Envelope__BodyCase kind, int timeout_ms,
                     sim_envelope **out, int *err_code) {
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000ull;
  for (;;) {
    uint64_t now = uv_hrtime();
    if (now >= deadline)
      return SIM_ETIMEOUT;
    sim_envelope *env = NULL;
    int rc = hubclient_recv(c, (int)((deadline - now) / 1000000ull) + 1, &env);
    if (rc)
      return rc;
    if (env->body_case == kind) {
      if (out)
        *out = env;
      else
        sim_hubrpc_free(env);
      return 0;
    }
    if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_ERROR) {
      if (err_code)
        *err_code = env->error->code;
      sim_hubrpc_free(env);
      return SIM_EPEER;
    }
    sim_hubrpc_free(env);
  }
}

int hubclient_expect_error(struct hubclient *c, int timeout_ms) {
  sim_envelope *env = NULL;
  int rc = hubclient_expect(c, HUBRPC__V1__ENVELOPE__BODY_ERROR, timeout_ms, &env, NULL);
  if (rc)
    return rc;
  int code = env->error->code;
  sim_hubrpc_free(env);
  return code;
}

int hubclient_wait_closed(struct hubclient *c, int timeout_ms) {
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000ull;
  for (;;) {
    uint64_t now = uv_hrtime();
    if (now >= deadline)
      return SIM_ETIMEOUT;
    sim_envelope *env = NULL;
    int rc = hubclient_recv(c, (int)((deadline - now) / 1000000ull) + 1, &env);
    if (rc == 0) {
      sim_hubrpc_free(env);
      continue;
    }
    if (rc == SIM_ECLOSED)
      return 0;
    if (rc == SIM_ETIMEOUT)
      return rc;
    /* Undecodable bytes: drop them and keep waiting for the close. */
    c->in.len = 0;
  }
}

int hubclient_hello(struct hubclient *c, const char *hub_id, uint64_t boot_id, int timeout_ms) {
  snprintf(c->hub_id, sizeof(c->hub_id), "%s", hub_id);
  c->boot_id = boot_id;
  sim_auth_random(c->client_nonce, sizeof(c->client_nonce));
  Hubrpc__V1__Hello h = HUBRPC__V1__HELLO__INIT;
  h.proto_version = SIM_HUBRPC_VERSION;
  h.hub_id = c->hub_id;
  h.model = "lumi.gateway.aqhm01";
  h.firmware = "test-1.0";
  h.client_nonce.data = c->client_nonce;
  h.client_nonce.len = sizeof(c->client_nonce);
  h.boot_id = boot_id;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HELLO;
  env.hello = &h;
  int rc = hubclient_send(c, &env);
  if (rc)
    return rc;
  sim_envelope *ch = NULL;
  rc = hubclient_expect(c, HUBRPC__V1__ENVELOPE__BODY_CHALLENGE, timeout_ms, &ch, NULL);
  if (rc)
    return rc;
  if (ch->challenge->server_nonce.len != sizeof(c->server_nonce)) {
    sim_hubrpc_free(ch);
    return SIM_EMALFORMED;
  }
  memcpy(c->server_nonce, ch->challenge->server_nonce.data, sizeof(c->server_nonce));
  sim_hubrpc_free(ch);
  return 0;
}

int hubclient_auth(struct hubclient *c, const void *fleet_key, size_t key_len,
                   const uint8_t *mac32) {
  uint8_t secret[32], mac[32];
  if (mac32) {
    memcpy(mac, mac32, sizeof(mac));
  } else if (sim_auth_hub_secret(fleet_key, key_len, c->hub_id, secret) ||
             sim_auth_mac(secret, c->client_nonce, c->server_nonce, mac)) {
    return SIM_EIO;
  }
  Hubrpc__V1__Auth a = HUBRPC__V1__AUTH__INIT;
  a.mac.data = mac;
  a.mac.len = sizeof(mac);
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_AUTH;
  env.auth = &a;
  return hubclient_send(c, &env);
}

int hubclient_handshake(struct hubclient *c, const char *hub_id, const void *fleet_key,
                        size_t key_len, uint64_t boot_id, int timeout_ms) {
  int rc = hubclient_hello(c, hub_id, boot_id, timeout_ms);
  if (rc)
    return rc;
  if ((rc = hubclient_auth(c, fleet_key, key_len, NULL)))
    return rc;
  sim_envelope *w = NULL;
  rc = hubclient_expect(c, HUBRPC__V1__ENVELOPE__BODY_WELCOME, timeout_ms, &w, NULL);
  if (rc)
    return rc;
  c->session_id = w->welcome->session_id;
  c->acked_seq = w->welcome->acked_seq;
  c->heartbeat_s = w->welcome->heartbeat_s;
  c->max_window = w->welcome->max_window;
  c->next_seq = c->acked_seq + 1;
  sim_hubrpc_free(w);
  return 0;
}

int hubclient_report(struct hubclient *c, uint64_t seq, uint64_t device, uint32_t cluster,
                     uint64_t value) {
  if (seq == 0)
    seq = c->next_seq++;
  /* ZCL Report Attributes, server to client: fc, tsn, cmd 0x0A, attr 0x0000 uint16. */
  uint8_t zcl[] = {0x18, (uint8_t)seq, 0x0A,           0x00,
                   0x00, 0x21,         (uint8_t)value, (uint8_t)(value >> 8)};
  Hubrpc__V1__Attribute a = HUBRPC__V1__ATTRIBUTE__INIT;
  a.id = 0;
  a.zcl_type = 0x21;
  a.value_case = HUBRPC__V1__ATTRIBUTE__VALUE_UINT_VALUE;
  a.uint_value = value;
  Hubrpc__V1__Attribute *attrs[1] = {&a};
  Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
  r.seq = seq;
  r.device = device;
  r.endpoint = 1;
  r.cluster = cluster;
  r.n_attributes = 1;
  r.attributes = attrs;
  r.zcl_frame.data = zcl;
  r.zcl_frame.len = sizeof(zcl);
  r.lqi = 200;
  r.ts_ms = 1700000000000ull + seq;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &r;
  return hubclient_send(c, &env);
}

int hubclient_wait_ack(struct hubclient *c, uint64_t up_to, int timeout_ms, uint64_t *got) {
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000ull;
  for (;;) {
    uint64_t now = uv_hrtime();
    if (now >= deadline)
      return SIM_ETIMEOUT;
    sim_envelope *env = NULL;
    int rc = hubclient_expect(c, HUBRPC__V1__ENVELOPE__BODY_ACK,
                              (int)((deadline - now) / 1000000ull) + 1, &env, NULL);
    if (rc)
      return rc;
    uint64_t v = env->ack->up_to_seq;
    sim_hubrpc_free(env);
    if (v >= up_to) {
      if (got)
        *got = v;
      return 0;
    }
  }
}
