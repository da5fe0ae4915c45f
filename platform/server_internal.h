/* Internals of the reference platform shared by its files (server.c, session.c, hubs.c,
 * commit.c, commands.c, toggles.c, admin.c, automation.c, cli.c). Not an API. */
#ifndef PLATFORM_SERVER_INTERNAL_H
#define PLATFORM_SERVER_INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "sim/loop/sched.h"

#include "platform/arena.h"
#include "platform/platform.h"
#include "sim/core/buf.h"
#include "sim/core/htab.h"
#include "sim/core/log.h"
#include "sim/core/rng.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"

enum plat_sess_state { PLAT_S_HELLO = 0, PLAT_S_AUTH, PLAT_S_OPEN, PLAT_S_CLOSING };

/* What the store can do: write; failing (writes fail: nothing acknowledged, hubs not read, a
 * test write now and then); lost (its file was deleted or replaced: until a restart). */
enum plat_store_state { PLAT_STORE_OK = 0, PLAT_STORE_FAILING, PLAT_STORE_LOST };

/* A hub's boots other than its current one, oldest first, with their stored seq: a hub_id
 * that comes back with one of them resumes its sequence (docs/protocol.md 7.4). */
#define PLAT_BOOTS_KEPT 4
struct plat_boots {
  uint8_t n;
  struct {
    uint64_t boot_id, stored;
  } b[PLAT_BOOTS_KEPT];
};

/* One hub_id ever seen; lives as long as the server. */
struct plat_hub {
  struct plat_hub *dnext;    /* list of hubs with data in the open group */
  struct plat_session *sess; /* the open (authenticated) session, NULL when offline */
  struct plat_boots *boots;  /* NULL until the hub changes boot */
  uint64_t boot_id;
  uint64_t received; /* highest seq accepted into the store (committed or not) */
  uint64_t stored;   /* highest seq committed */
  uint8_t dirty;     /* on the dnext list */
  uint8_t cert;      /* authenticated with its client certificate: it must from now on */
  char id[];
};

/* One connection. Kept small: 100k of them is the target. */
struct plat_session {
  struct plat_session *prev, *next; /* handshake, live or closing list */
  struct plat_server *srv;
  struct sim_conn *conn;
  struct plat_hub *hub; /* after Auth */
  sim_envelope *hello;  /* the Hello, kept between Hello and Auth only */
  struct sim_frame_reader reader;
  /* Loop (monotonic) time. last_rx_ms: the last complete frame. deadline_ms: closing: when to
   * close anyway; paused: when to send the next Heartbeat. */
  uint64_t accepted_ms, last_rx_ms, deadline_ms;
  uint64_t acked;  /* last seq acknowledged to this session: the window base */
  uint64_t rx_top; /* highest seq the hub sent in this session (from the Welcome's acked_seq):
                      an Ack never goes above it (docs/protocol.md 4.9) */
  uint64_t session_id;
  uint8_t state;  /* enum plat_sess_state */
  uint8_t paused; /* not read while the store cannot write */
  uint8_t cert;   /* bound to the hub id of its verified client certificate */
  uint8_t server_nonce[16];
};

/* Sessions in age order (oldest at head), with their number. */
struct plat_slist {
  struct plat_session *head, *tail;
  size_t n;
};

struct plat_plug {
  uint64_t eui64;
  struct plat_hub *hub; /* NULL: left the network */
  uint8_t endpoint;
};

struct plat_pcmd {
  uint64_t id;
  uint64_t deadline; /* loop time */
  uint8_t done;
};

struct plat_admin;
struct plat_auto;

/* The server's timers: libuv timers on a real clock, wheel timers (these ids) on a virtual one. */
enum { PLAT_T_COMMIT = 0, PLAT_T_SWEEP, PLAT_T_TOGGLE, PLAT_T_AUTO, PLAT_T_COUNT };

struct plat_server {
  uv_loop_t *loop;
  struct sim_transport *t;
  struct plat_config cfg; /* borrowed pointers cleared; defaults applied */
  struct sim_addr listen_addr, admin_addr;
  int has_admin;
  uint8_t *fleet_key;
  size_t fleet_key_len;
  struct plat_store *store;
  struct sim_listener *listener;

  struct sim_htab hubs; /* hub_id -> struct plat_hub: every hub ever seen */
  struct plat_hub *dirty;
  uint64_t group_reports; /* new Reports written in the open group */

  /* Sessions in their handshake (HELLO, AUTH), open ones, and closing ones. */
  struct plat_slist hs, live, closing;
  uint64_t fd_limit; /* RLIMIT_NOFILE, read at start and by every sweep */
  int check_fds;     /* the transport uses descriptors (tcp) */

  struct plat_plug **plugs; /* every plug seen, in order: the toggles pick among them */
  size_t nplugs, plugs_cap;
  struct sim_htab plug_by_eui; /* eui64 -> the same struct plat_plug */

  struct plat_pcmd *cmds; /* commands awaiting a result, in cmd_id order, from cmd_head */
  size_t cmd_head, cmd_len, cmd_cap;
  uint64_t next_cmd_id; /* the last id issued */

  uv_timer_t commit_timer, sweep_timer, toggle_timer, auto_timer;
  /* Virtual clock: the timers above live in this wheel instead (ids PLAT_T_*). */
  int is_virtual;
  struct sim_sched vsched;
  uint64_t vrepeat_ms[PLAT_T_COUNT];
  uv_check_t reaper;
  int handles; /* our uv handles not yet closed after a stop */
  uint64_t toggle_start_ms, toggles;
  struct sim_rng rng;

  struct plat_admin *admin;
  int admin_handles; /* admin uv handles not yet closed */
  /* When set, the admin port's request lines go here instead of plat_server_admin: the front
   * process of hubsim platform --workers answers them from its workers (workers.c). Returns
   * the reply as plat_server_admin does. */
  char *(*admin_route)(void *arg, const char *line);
  void *admin_route_arg;

  struct plat_auto *autom; /* rules and timers (automation.c); NULL until the first is added */

  char *db_path;   /* for messages */
  int store_state; /* enum plat_store_state */
  uint64_t probe_at_ms, resumed_ms;
  unsigned relapses; /* failures soon after a resume, in a row: the next test waits longer */
  struct sim_log_limit log_fd, log_sendq, log_boot, log_store, log_evict, log_tls, log_auth;
  uint8_t admin_key[32]; /* HMAC key for comparing admin tokens in constant time */
  char *admin_token;     /* NULL: no token required */

  struct sim_buf out; /* scratch for encoding one frame */
  /* Holds the message being handled (session.c on_frame), reset after it; in_use while one is
   * (a nested decode, were there one, takes the heap instead). */
  struct plat_arena arena;
  int arena_in_use;
  struct plat_counters c;

  int started, stopping, finishing, stopped;
  plat_stop_cb stop_cb;
  void *stop_arg;
};

/* The arena's first block: a decoded Report with a Xiaomi TLV list of a dozen members takes
 * about 2 KiB, so steady traffic never leaves it. */
#define PLAT_ARENA_FIRST (16u * 1024u)

/* One log line per this many ms for each recurring condition (sim_log_limited). */
#define PLAT_LOG_EVERY_MS 10000u
/* During a stop, a closing session's Error gets at most this long to leave. */
#define PLAT_STOP_CAP_MS 500u

/* The heartbeat period in ms. */
static inline uint64_t plat__hb_ms(const struct plat_server *srv) {
  return (uint64_t)srv->cfg.heartbeat_s * 1000u;
}

/* 1 when host is an IPv4 literal in 127.0.0.0/8. */
int plat__addr_is_loopback(const char *host);
struct plat_hub *plat__hub_find(struct plat_server *srv, const char *id);
void plat__flush(struct plat_server *srv);
void plat__reap_cb(uv_check_t *h);
void plat__stop_finish(struct plat_server *srv);
void plat__maybe_stopped(struct plat_server *srv);
struct plat_store *plat__store(struct plat_server *srv);

/* The server's clocks (virtual-clock aware): loop time for deadlines, Unix ms for stamps. */
uint64_t plat__mono_ms(struct plat_server *srv);
uint64_t plat__wall_ms(struct plat_server *srv);
/* Starts timer id to fire once when the wall clock reads at_ms (at once if that is past): to the
 * µs on a virtual clock; on a real one within the loop's ms resolution, waiting at most cap_ms
 * (0: no cap) before firing anyway. */
void plat__timer_start_wall(struct plat_server *srv, int id, uint64_t at_ms, uint64_t cap_ms);
void plat__timer_stop(struct plat_server *srv, int id);
/* Timers may be (re)armed: between plat_server_start and plat_server_stop. */
int plat__timers_live(const struct plat_server *srv);

/* server.c: the timers as they are, whatever the server's state: arm id to fire in ms (then
 * every repeat_ms, 0: once), disarm it, 1 when it is armed. */
void plat__timer_set(struct plat_server *srv, int id, uint64_t ms, uint64_t repeat_ms);
void plat__timer_clear(struct plat_server *srv, int id);
int plat__timer_pending(struct plat_server *srv, int id);

/* session.c: connections and sessions. */
void plat__accept_cb(struct sim_listener *l, struct sim_conn *c, void *user);
/* The tls transport's admit hook (sim_transport_tls_set_admit): connections still in their TLS
 * handshake count against --max-unauth and the descriptor reserve as hubrpc handshakes do. */
int plat__tls_admit(void *arg);
/* Encodes env and queues it on s; SIM_EFULL (and s failed) when its hub does not read. */
int plat__sess_send(struct plat_session *s, const sim_envelope *env);
/* Sends Error{code, reason} (when code >= 0) and starts closing s. Idempotent. */
void plat__sess_fail(struct plat_session *s, int code, const char *reason);
/* Starts closing s without an Error. Idempotent. */
void plat__sess_close(struct plat_session *s);
void plat__sess_sweep(struct plat_server *srv, uint64_t now);
/* 1 when id is a valid hub_id: 1..SIM_HUBRPC_HUB_ID_MAX bytes of [A-Za-z0-9._:-]. */
int plat__valid_hub_id(const char *id);

/* hubs.c: the hub records. plat__hub_add returns NULL when out of memory. */
void plat__hubs_init(struct plat_server *srv);
int plat__hubs_load(struct plat_server *srv);
void plat__hubs_free(struct plat_server *srv);
struct plat_hub *plat__hub_add(struct plat_server *srv, const char *id);
void plat__hub_change_boot(struct plat_server *srv, struct plat_hub *h, uint64_t boot_id,
                           uint64_t now);

/* commit.c: the group commit and the store's trouble. */
void plat__arm_commit(struct plat_server *srv);
/* h has data (or duplicates) in the open group: commits at PLAT_COMMIT_ROWS, else arms the
 * commit timer. */
void plat__mark_dirty(struct plat_server *srv, struct plat_hub *h);
void plat__sess_pause(struct plat_session *s);
void plat__store_probe(struct plat_server *srv, uint64_t now);
void plat__commit_timer_cb(uv_timer_t *t);

/* commands.c: commands awaiting their result. */
void plat__cmd_sweep(struct plat_server *srv, uint64_t now);
void plat__cmd_result(struct plat_server *srv, const Hubrpc__V1__CommandResult *cr, int known);

/* toggles.c: the background toggles and their plugs. */
int plat__plugs_load(struct plat_server *srv);
void plat__plugs_free(struct plat_server *srv);
/* Adds or re-targets a plug (hub NULL: it left the network). */
void plat__plug_set(struct plat_server *srv, uint64_t eui64, struct plat_hub *hub,
                    uint8_t endpoint);
void plat__toggles_start(struct plat_server *srv);
void plat__toggle_timer_cb(uv_timer_t *t);

/* admin.c: the admin line protocol over tcp. */
int plat__admin_start(struct plat_server *srv);
void plat__admin_stop(struct plat_server *srv);
/* Closes admin clients silent too long (from the server's sweep). */
void plat__admin_sweep(struct plat_server *srv, uint64_t now_ms);

/* One admin conversation's state, whatever carries its bytes (a tcp client, a fuzzer).
 * Zero-initialise; plat__admin_conv_fini releases it. */
struct plat_admin_conv {
  struct sim_buf in; /* the bytes of a line not complete yet */
  uint8_t authed;    /* the token was given (or none is required) */
};
/* Receives each reply line (JSON, no newline; malloc'ed, taken; NULL when out of memory). */
typedef void (*plat_admin_reply_fn)(void *arg, char *json);
/* Feeds n bytes of a conversation: each complete line is answered through reply. Returns 0
 * to go on, 1 when the conversation must end once the replies given are sent (a line longer
 * than 4096 bytes, a wrong token, a request before the token), SIM_ENOMEM. *lines (may be
 * NULL) is set to the number of complete lines seen. */
int plat__admin_feed(struct plat_server *srv, struct plat_admin_conv *cv, const uint8_t *p,
                     size_t n, plat_admin_reply_fn reply, void *arg, unsigned *lines);
void plat__admin_conv_fini(struct plat_admin_conv *cv);

#endif
