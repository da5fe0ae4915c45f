/* A fake platform on loopback TCP for hostile-peer tests of hubsim's hubs.
 *
 * It serves two hubs, named by their hub_id: the victim and a well-behaved neighbour. The
 * neighbour always gets a correct session (every sequenced message acknowledged, nothing ever
 * refused). One connection of the victim (its first, unless the case says otherwise) meets one
 * hostile case (struct fp_case) at a chosen point of the handshake; its other connections are
 * served correctly, so a test can check that the victim answered as docs/protocol.md says,
 * reconnected, and lost nothing.
 *
 * Besides sequencing (no gap), the fake platform checks what docs/protocol.md 11 promises: a
 * device's DeviceJoined comes before any Report of it (in a hub's first boot; a boot the hub
 * starts because the platform lost acknowledged messages carries only what the hub still held).
 *
 * The hubs may run in the test's own process (a fleet on the same loop) or in a child process
 * (`hubsim run --platform hubrpc://127.0.0.1:PORT`): the fake platform only sees bytes.
 *
 * Threading: one loop, the test's. Ownership: the caller owns struct fakeplat and the loop;
 * fp_stop() closes what fp_start() opened. Cases are borrowed for the fake platform's life. */
#ifndef TESTS_HOSTILE_HUB_FAKEPLAT_H
#define TESTS_HOSTILE_HUB_FAKEPLAT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/core/buf.h"
#include "sim/transport/transport.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"

/* Where, on the victim's hostile connection (its first, or see act_on_reconnect_after), the case
 * acts. */
enum fp_when {
  FP_AT_HELLO, /* instead of the Challenge */
  FP_AT_AUTH,  /* instead of the Welcome (the act sends its own, or none) */
  FP_AT_OPEN,  /* right after a correct Welcome */
};

struct fp_conn;

struct fp_case {
  const char *name;
  enum fp_when when;
  void (*act)(struct fp_conn *p); /* NULL: nothing at `when` (see forget_after) */
  /* The Error code the victim must send on its first connection, or -1: none. */
  int want_code;
  /* A name the fleet must count among its errors (struct sim_fleet_stats.errors), or NULL. */
  const char *want_reason;
  /* 1: the victim must close its first connection and connect again. */
  int reconnects;
  /* > 0: on the victim's first connection, acknowledge this many sequenced messages, then
   * close and forget them (the next Welcome says acked_seq 0: a platform whose store went back
   * in time). */
  unsigned forget_after;
  /* > 0: the victim's first connection is served correctly and closed by the fake platform
   * once it has acknowledged this many sequenced messages; the case acts on the second one. */
  unsigned act_on_reconnect_after;
  /* Non-NULL: an extra condition on the victim for the case to be done (e.g. a CommandResult
   * arrived), besides the error and the reconnect. */
  int (*done)(const struct fp_conn *victim_first);
};

/* What the fake platform saw of one hub. */
struct fp_hub {
  char id[65];
  uint64_t boot;           /* boot_id of the current sequence */
  uint64_t received;       /* highest seq received in order (= acknowledged) for boot */
  uint64_t reports;        /* Reports received the first time (duplicates not counted) */
  uint64_t duplicates;     /* sequenced messages received again */
  uint64_t gaps;           /* sequenced messages that skipped a seq: a bug in the hub */
  unsigned hellos;         /* connections that sent a Hello */
  unsigned opens;          /* Welcomes sent */
  unsigned errors_rx;      /* Error frames received from it */
  int first_error;         /* code of the first Error it sent on the hostile connection, -1 */
  int first_closed_by_hub; /* the hostile connection was closed by the hub */
  uint64_t joined[16];     /* devices announced (DeviceJoined) in the first boot */
  unsigned n_joined;
  unsigned boots;       /* boot_ids seen */
  uint64_t results;     /* CommandResults received the first time */
  uint64_t last_cmd_id; /* cmd_id of the latest CommandResult */
  int last_cmd_status;
  struct fp_conn *live; /* its current connection, NULL while none */
};

struct fakeplat {
  uv_loop_t *loop;
  struct sim_transport *t;
  struct sim_listener *l;
  uint16_t port;
  const struct fp_case *c;
  struct fp_hub hub[2]; /* [0] the victim, [1] the neighbour */
  const uint8_t *key;
  size_t key_len;
  uv_timer_t tick;           /* trickled writes and their Acks, one byte a millisecond */
  struct fp_conn *conn_list; /* every open connection */
  unsigned conns;            /* connections open now */
  char fail[256];            /* the first protocol violation by a hub, empty when none */
};

/* Listens on 127.0.0.1:0 (read fp->port) for the hubs victim_id and good_id. 0 or < 0. */
int fp_start(struct fakeplat *fp, uv_loop_t *loop, const struct fp_case *c, const char *victim_id,
             const char *good_id);
/* Closes the listener, every connection and the timer; run the loop afterwards. */
void fp_stop(struct fakeplat *fp);

/* For the cases' acts: p is the victim's hostile connection. */
void fp_send(struct fp_conn *p, const void *bytes, size_t n);
void fp_send_env(struct fp_conn *p, const sim_envelope *env);
void fp_send_challenge(struct fp_conn *p, size_t nonce_len);
void fp_send_welcome(struct fp_conn *p, uint32_t heartbeat_s, uint64_t acked_seq,
                     uint32_t max_window);
void fp_send_ack(struct fp_conn *p, uint64_t up_to);
/* A correct Welcome (acked_seq = what the hub has delivered) with heartbeat_s; p is OPEN. */
void fp_open_session(struct fp_conn *p, uint32_t heartbeat_s);
/* The fake platform closes p once it has handled what it is reading now. */
void fp_close_soon(struct fp_conn *p);
/* From now on every byte for p leaves alone, one a millisecond (Acks coalesce meanwhile). */
void fp_trickle(struct fp_conn *p);
/* From now on the fake platform sends p nothing of its own: no Acks, no Heartbeat answers. */
void fp_mute(struct fp_conn *p);
/* The hub behind p, and p's ordinal among that hub's connections (1, 2, ...). */
struct fp_hub *fp_hub_of(const struct fp_conn *p);
unsigned fp_conn_no(const struct fp_conn *p);
/* Whether hub h has a connection with an open session now. */
int fp_hub_online(const struct fp_hub *h);

#endif
