/* A raw hubrpc test client: a plain socket to a platform, frames in and out, the handshake,
 * and helpers for the common messages. It does exactly what it is told, so tests can also
 * send garbage, truncated frames and messages out of order.
 *
 * Waiting: every receive has a timeout. When pump is not NULL, the client runs that libuv
 * loop (UV_RUN_NOWAIT) while it waits, so a server on the test's own loop makes progress in
 * the same thread; with pump NULL it simply polls the socket (server in another thread or
 * process).
 *
 * Ownership: the caller owns struct hubclient; hubclient_close() releases what it holds.
 * Received envelopes are owned by the caller and freed with sim_hubrpc_free(). */
#ifndef TESTS_SUPPORT_HUBCLIENT_H
#define TESTS_SUPPORT_HUBCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/core/buf.h"
#include "sim/wire/hubrpc.h"

struct hubclient {
  int fd;
  uv_loop_t *pump;
  struct sim_buf in; /* bytes received, not yet a complete frame */
  int eof;           /* the peer closed (or reset) the connection */
  char hub_id[65];
  uint64_t boot_id;
  uint8_t client_nonce[16], server_nonce[16];
  /* From Welcome. */
  uint64_t session_id, acked_seq;
  uint32_t heartbeat_s, max_window;
  /* The next seq hubclient_report() uses. */
  uint64_t next_seq;
};

/* Connects to 127.0.0.1:port (blocking connect; loopback completes it at once). 0 or <0. */
int hubclient_connect(struct hubclient *c, uint16_t port, uv_loop_t *pump);
void hubclient_close(struct hubclient *c);

int hubclient_send_raw(struct hubclient *c, const void *p, size_t n);
int hubclient_send(struct hubclient *c, const sim_envelope *env);

/* Waits up to timeout_ms for one frame. 0 and *out; SIM_ETIMEOUT; SIM_ECLOSED when the peer
 * closed with no complete frame left; SIM_EMALFORMED / SIM_ETOOBIG for a bad frame. */
int hubclient_recv(struct hubclient *c, int timeout_ms, sim_envelope **out);
/* Waits for a frame of body case kind, skipping others (heartbeats, commands...) unless it is
 * an Error and kind is not Error. 0 and *out (may be NULL to discard), or the error of
 * hubclient_recv, or SIM_EPEER when an unexpected Error arrived (its code in *err_code when
 * err_code is not NULL). */
int hubclient_expect(struct hubclient *c, Hubrpc__V1__Envelope__BodyCase kind, int timeout_ms,
                     sim_envelope **out, int *err_code);
/* Waits for an Error frame and returns its code (>= 0), or < 0 on timeout/close without one. */
int hubclient_expect_error(struct hubclient *c, int timeout_ms);
/* Reads and discards until the peer closes. 0 when it closed in time, SIM_ETIMEOUT else. */
int hubclient_wait_closed(struct hubclient *c, int timeout_ms);

/* Sends Hello (boot_id, a fresh client nonce) and waits for Challenge. */
int hubclient_hello(struct hubclient *c, const char *hub_id, uint64_t boot_id, int timeout_ms);
/* Sends Auth with the MAC from fleet_key (or the given wrong one when mac is not NULL). */
int hubclient_auth(struct hubclient *c, const void *fleet_key, size_t key_len,
                   const uint8_t *mac32);
/* Hello, Challenge, Auth, Welcome. On success next_seq = acked_seq + 1. */
int hubclient_handshake(struct hubclient *c, const char *hub_id, const void *fleet_key,
                        size_t key_len, uint64_t boot_id, int timeout_ms);

/* Sends one Report with seq (0: use and advance next_seq) for device/endpoint/cluster, with one
 * uint attribute (id 0x0000, type 0x21, value) and a small ZCL frame. */
int hubclient_report(struct hubclient *c, uint64_t seq, uint64_t device, uint32_t cluster,
                     uint64_t value);
/* Waits for an Ack with up_to_seq >= up_to (skipping smaller ones). Returns 0 and the
 * acknowledged seq in *got (may be NULL). */
int hubclient_wait_ack(struct hubclient *c, uint64_t up_to, int timeout_ms, uint64_t *got);

#endif
