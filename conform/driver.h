/* The conformance suite's driver: raw hubrpc frames over one connection at a time, each wait
 * bounded by a timeout, in a synchronous style that reads like the rule it checks.
 *
 * It runs on its own libuv loop with hubsim's transports (sim/transport: tcp, and tls for
 * hubrpcs://), so that the suite speaks TLS with the same code as hubsim's hubs and needs no
 * second TLS client. A call that waits runs the loop until its condition holds or its timeout
 * passes; bytes of every open connection are gathered meanwhile, so a case may hold several
 * connections and read them in any order.
 *
 * Threading: one thread, the caller's; nothing here is shared. Ownership: the caller owns struct
 * conform_drv and every struct conform_conn (storage), the driver owns what they hold. */
#ifndef CONFORM_DRIVER_H
#define CONFORM_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/core/buf.h"
#include "sim/transport/transport.h"
#include "sim/wire/hubrpc.h"

#define CONFORM_KEY_MAX 128u

/* What a run is given (the flags of hubsim conform); strings are borrowed for the run. */
struct conform_opts {
  const char *url; /* hubrpc://host:port or hubrpcs://host:port */
  struct sim_addr addr;
  int tls;
  const char *ca; /* hubrpcs://: PEM trust anchors; NULL: the system's */
  int insecure;   /* hubrpcs://: no certificate check */
  uint8_t key[CONFORM_KEY_MAX];
  size_t key_len;
  uint32_t timeout_ms;      /* one wait for an answer the platform owes at once */
  uint32_t max_wait_ms;     /* the longest wait for a timer of the platform (idle timeouts) */
  const char *restart_cmd;  /* NULL: cases that need a restart are skipped */
  const char *command_cmd;  /* NULL: cases that need a Command are skipped */
  const char *stop_cmd;     /* NULL: the case of an orderly stop is skipped */
  uint32_t cmd_deadline_ms; /* the platform's deadline for a CommandResult (10) */
};

struct conform_drv {
  uv_loop_t loop;
  uv_timer_t timer;
  int fired;
  struct sim_transport *t;
  const struct conform_opts *o;
};

enum conform_conn_state { CONFORM_CONNECTING = 0, CONFORM_OPEN, CONFORM_CLOSED };

/* One connection and what a case learnt on it. */
struct conform_conn {
  struct conform_drv *d;
  struct sim_conn *c; /* NULL once closed by either side */
  enum conform_conn_state state;
  int err;           /* the connect status, or why the transport ended the connection */
  struct sim_buf in; /* bytes received and not yet taken as frames */
  /* The hub this connection speaks for (conform_hub_init) and its handshake. */
  char hub_id[SIM_HUBRPC_HUB_ID_MAX + 1];
  uint64_t boot_id;
  uint8_t client_nonce[SIM_HUBRPC_NONCE_LEN], server_nonce[SIM_HUBRPC_NONCE_LEN];
  uint32_t heartbeat_s, max_window;
  uint64_t welcome_acked; /* the Welcome's acked_seq */
  uint64_t sent_top;      /* highest seq sent in this session */
  uint64_t acked;         /* highest Ack received in this session (or the Welcome's) */
};

/* Creates the loop and the transport (tls for hubrpcs://). 0, or a negative code with *why a
 * sentence (static storage) when the TLS files cannot be used. */
int conform_drv_init(struct conform_drv *d, const struct conform_opts *o, const char **why);
void conform_drv_fini(struct conform_drv *d);

/* Connects c (initialized by conform_conn_init or conform_hub_init, whose hub fields stay) to
 * the platform within the timeout. 0, or the connect's error (c is then closed). */
int conform_connect(struct conform_drv *d, struct conform_conn *c);
/* Sends bytes as they are. 0 or SIM_ECLOSED. */
int conform_send_raw(struct conform_conn *c, const void *p, size_t n);
/* Sends env as one frame. */
int conform_send(struct conform_conn *c, const sim_envelope *env);
/* The next frame within ms. 0 and *out (free with sim_hubrpc_free); SIM_ECLOSED: the platform
 * closed first; SIM_ETIMEOUT; SIM_EMALFORMED, SIM_ETOOBIG, SIM_EUNKNOWN_MSG: the platform sent
 * a frame that is not valid hubrpc. */
int conform_recv(struct conform_conn *c, uint32_t ms, sim_envelope **out);
/* Waits ms for the platform to close c; 0 when it did, SIM_ETIMEOUT when not; any frame that
 * arrives meanwhile is returned in *out (then 1) so the caller can name it. */
int conform_wait_closed(struct conform_conn *c, uint32_t ms, sim_envelope **out);
/* Runs the loop for ms (bytes keep arriving), for pacing a case that drips bytes. */
void conform_pause(struct conform_drv *d, uint32_t ms);
/* Closes c (if still open) and frees its buffer; c may be reused after conform_conn_init. */
void conform_close(struct conform_conn *c);
void conform_conn_init(struct conform_conn *c, struct conform_drv *d);

/* Milliseconds of a monotonic clock. */
uint64_t conform_now_ms(void);

#endif
