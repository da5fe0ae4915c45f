/* `hubsim replay FILE --platform URL [--speed X]`: re-sends the upstream traffic of a capture
 * (hubsim run --record) against a platform, each hub in a fresh session of the engine's own
 * (sim/fleet), and compares what the platform answers with what it answered in the capture.
 * docs/recorders.md section 8 describes the command.
 *
 * The files: replay.c (flags, reading the capture into messages), replay_live.c (the sessions
 * and the pacing), replay_out.c (the comparison, the summary on stdout and in --json).
 * Internal to app/: nothing here is an API. */
#ifndef APP_REPLAY_H
#define APP_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "recorders/capture_read.h"
#include "sim/core/htab.h"
#include "sim/fleet/fleet.h"
#include "sim/wire/hubrpc.h"

int app_replay_main(int argc, char **argv);

/* One sequenced message of the capture, re-sent once (resends of the capture are left out). */
struct rp_msg {
  sim_envelope *env; /* decoded from the capture, owned */
  uint64_t us;       /* when the capture took it (run clock, µs) */
  uint64_t boot;     /* the boot_id of the session that carried it */
  uint64_t orig_seq; /* its seq in the capture */
  uint64_t new_seq;  /* its seq in the replay (0: not handed over) */
  uint32_t hub;      /* index into struct replay.hubs */
  uint8_t kind;      /* enum sim_seq_kind */
  uint8_t orig_acked;
};

/* A multiset of text keys (commands, errors the platform sent), compared after sorting. */
struct rp_keys {
  char **v; /* n of them, in buf */
  size_t n;
  struct sim_buf buf;
};

struct rp_boot {
  uint64_t boot;
  uint64_t up_to;   /* the highest seq of this boot the capture's platform acknowledged */
  uint64_t max_seq; /* the highest seq of this boot the hubs sent */
};

struct rp_hub {
  uint32_t g;
  char id[SIM_HUBRPC_HUB_ID_MAX + 1];
  uint32_t conns;
  struct rp_boot *boots;
  size_t n_boots;
  struct rp_keys cmd[2], err[2]; /* [0] the capture, [1] the replay */
  uint64_t up_to;                /* replay: highest seq acknowledged */
  uint64_t last_seq;             /* replay: highest seq handed over */
  int waiting;                   /* replay: handed over more than is acknowledged */
  size_t n_msgs;
};

struct rp_opts {
  const char *file, *platform, *json, *ca;
  int insecure, quiet;
  double speed;  /* 0: everything at once, as fast as the window allows */
  double wait_s; /* after the last message: how long answers are waited for */
  char key[129];
  size_t key_len;
};

struct replay {
  struct rp_opts o;
  struct rec_capread *cap;
  struct rp_hub *hubs;
  size_t n_hubs;
  struct sim_htab by_g; /* hub number -> struct rp_hub */
  struct rp_msg *msgs;  /* n_msgs of them, in msg_buf */
  size_t n_msgs;
  struct sim_buf msg_buf;
  size_t *order;  /* msgs by capture time */
  uint64_t t0_us; /* the capture's first packet */
  /* What the capture holds beside the re-sent messages. */
  uint64_t resends_skipped; /* a seq of the same boot seen before: the hub's own resend */
  uint64_t results_skipped; /* CommandResults: they answer the capture platform's commands */
  uint64_t session_msgs;    /* Hello, Auth, Heartbeat, Goodbye, Error from the hubs */
  uint64_t unreadable;      /* connections whose stream stopped on bytes that are not frames */
  uint64_t partial_tail;    /* connections that end inside a frame */
  uint64_t gaps;            /* streams with missing segments */
  /* The live side (replay_live.c). */
  uv_loop_t loop;
  uv_timer_t pace, deadline;
  struct sim_transport *t;
  struct sim_fleet *fleet;
  size_t next;       /* order[next] is the next message to hand over */
  uint64_t start_ms; /* loop time when pacing started */
  size_t n_waiting;  /* hubs with messages not yet acknowledged */
  int finished, timed_out;
  int oom; /* a key of the comparison could not be kept */
  uint64_t platform_errors;
  struct sim_fleet_stats *st; /* the fleet's final figures */
};

/* replay.c */
int app_replay_keys_add(struct rp_keys *k, const char *s);
/* replay_live.c: runs the sessions until every message is acknowledged or the wait ends.
 * 0, or 3 after a message (transport, fleet). */
int app_replay_live(struct replay *r);
/* A frame env the platform sent to hub h (which: 0 in the capture, 1 in the replay): Commands
 * and Errors are kept as keys for the comparison; returns the seq an Ack or a Welcome says is
 * stored (0 for any other frame). */
uint64_t app_replay_down(struct replay *r, struct rp_hub *h, int which, const sim_envelope *env);
/* replay_out.c: the comparison and the summaries; the exit code (0 or 1, 2 when --json fails). */
int app_replay_report(struct replay *r);

#endif
