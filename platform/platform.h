/* The reference platform: the server side of hubrpc v1 (docs/protocol.md) with a SQLite store.
 *
 * It is the embedded default platform of `hubsim run`, runs alone as `hubsim platform`, and is
 * the peer of hubsim's own tests and benchmarks. It accepts hub sessions on a transport,
 * authenticates them with the fleet key, stores what they send (group commit), acknowledges
 * only committed data, and sends commands (on demand, and optionally a background rate of
 * on/off toggles to plugs).
 *
 * Threading: a server belongs to one libuv loop; every call is made from that loop's thread.
 * Ownership: the caller owns the loop and the transport; both must outlive the server
 * (until the stop callback has run and plat_server_free returned). */
#ifndef PLATFORM_PLATFORM_H
#define PLATFORM_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/loop/sched.h"

#include "sim/transport/transport.h"

#define PLAT_DEFAULT_LISTEN "hubrpc://127.0.0.1:7800"
#define PLAT_DEFAULT_DB "hubsim-platform.db"
#define PLAT_DEFAULT_FLEET_KEY "hubsim-demo-fleet-key"
#define PLAT_DEFAULT_HEARTBEAT_S 30u
#define PLAT_DEFAULT_WINDOW 256u
#define PLAT_DEFAULT_COMMIT_MS 5u
/* A group commits early once this many rows are pending. */
#define PLAT_COMMIT_ROWS 2000u
/* Handshake deadline from accept, and the time a command waits for its result. */
#define PLAT_HANDSHAKE_MS 10000u
#define PLAT_COMMAND_TIMEOUT_MS 30000u
/* The model that receives the background on/off toggles. */
#define PLAT_TOGGLE_MODEL "lumi.plug.maeu01"
/* Limits against hostile or broken peers (docs/platform.md, "Limits"); each is a field of
 * struct plat_config where 0 means this default. */
/* Connections still in their handshake: a plain hubrpc handshake holds a few hundred bytes, so
 * the bound is above the largest burst one process can hold descriptors for (a whole fleet
 * powering up at once); one still in its TLS handshake holds its TLS state, tens of KiB. */
#define PLAT_DEFAULT_MAX_UNAUTH 16384u
#define PLAT_DEFAULT_MAX_UNAUTH_TLS 4096u
#define PLAT_DEFAULT_FD_RESERVE 64u    /* descriptors no hub connection may take */
#define PLAT_DEFAULT_SENDQ_MAX 262144u /* bytes queued for one hub that does not read */
#define PLAT_DEFAULT_ADMIN_IDLE_S 300u /* an admin client silent this long is closed */
#define PLAT_DEFAULT_MAX_RULES 100000u /* rules in memory */
#define PLAT_DEFAULT_MAX_TIMERS 10000u /* timers in memory */
#define PLAT_DEFAULT_RULE_RATE 5.0     /* firings per second one rule may make, on average */
/* Admin clients at once, and the time an unauthenticated one has to send its token. */
#define PLAT_ADMIN_CLIENTS_MAX 32u
#define PLAT_ADMIN_AUTH_MS 10000u
/* The most a token (--admin-token-file) may hold: printable ASCII without spaces. */
#define PLAT_ADMIN_TOKEN_MAX 256u

/* How a hub may authenticate (docs/protocol.md section 6). ANY: with the fleet-key mac, or, on a
 * session bound to its verified client certificate, with the certificate alone (an empty mac).
 * KEY: the mac is always required. CERT: every hub must present a client certificate of its
 * own hub id; a hub without one is refused at its Hello. */
enum plat_auth { PLAT_AUTH_ANY = 0, PLAT_AUTH_KEY, PLAT_AUTH_CERT };

/* Deliberate defects, for proving a conformance suite (hubsim conform, docs/conformance.md):
 * each breaks one rule of docs/protocol.md. Never for real use. */
enum plat_defect {
  PLAT_DEFECT_ACK_BEFORE_COMMIT = 1u << 0, /* Ack each sequenced message on receipt (7.3) */
  PLAT_DEFECT_NO_DEDUP = 1u << 1,          /* a resent seq rewinds received to it (7.3, 7.5) */
  PLAT_DEFECT_ACCEPT_BAD_MAC = 1u << 2,    /* any 32-byte mac opens the session (6.1) */
  PLAT_DEFECT_IGNORE_WINDOW = 1u << 3,     /* no WINDOW_EXCEEDED (7.3) */
  PLAT_DEFECT_NO_TIMEOUT = 1u << 4,        /* no handshake or idle timeout (8) */
};

struct plat_config {
  const char *listen;       /* "hubrpc://host:port" (port 0: any free port); borrowed */
  const char *db_path;      /* SQLite file, created when missing; ":memory:" works; borrowed */
  const uint8_t *fleet_key; /* borrowed; copied by plat_server_new */
  size_t fleet_key_len;
  uint32_t heartbeat_s;       /* 0: PLAT_DEFAULT_HEARTBEAT_S */
  uint32_t command_timeout_s; /* a Command's result deadline; 0: PLAT_COMMAND_TIMEOUT_MS */
  uint32_t max_window;        /* 0: PLAT_DEFAULT_WINDOW */
  uint32_t commit_ms;         /* 0: PLAT_DEFAULT_COMMIT_MS */
  double command_rate;        /* background toggles per second; 0: none */
  /* "HOST:PORT" for the admin line protocol (tcp), NULL: none. A host outside 127.0.0.0/8 is
   * refused (SIM_EINVAL) unless admin_token is set. */
  const char *admin;
  /* The token every admin client must send first ("auth TOKEN"); NULL: none. 1..256 bytes of
   * printable ASCII without spaces; borrowed, copied by plat_server_new. */
  const char *admin_token;
  uint32_t admin_idle_s; /* 0: PLAT_DEFAULT_ADMIN_IDLE_S */
  uint32_t max_unauth;   /* 0: PLAT_DEFAULT_MAX_UNAUTH */
  uint32_t fd_reserve;   /* 0: PLAT_DEFAULT_FD_RESERVE */
  uint32_t sendq_max;    /* 0: PLAT_DEFAULT_SENDQ_MAX */
  uint32_t max_rules;    /* 0: PLAT_DEFAULT_MAX_RULES */
  uint32_t max_timers;   /* 0: PLAT_DEFAULT_MAX_TIMERS */
  double rule_rate;      /* 0: PLAT_DEFAULT_RULE_RATE; bursts up to twice this (at least 1) */
  /* 1: the server's time is virtual: its timers live in a scheduler (plat_server_sched())
   * that a sim_vdriver moves, and nothing reads the real clock. */
  int virtual_clock;
  /* Non-zero: every random choice (nonces, session ids, background command targets) comes from
   * this seed, so a virtual run repeats byte for byte. 0: fresh randomness. */
  uint64_t seed;
  enum plat_auth auth; /* PLAT_AUTH_ANY by default */
  unsigned defects;    /* enum plat_defect bits; 0 for every real use */
  /* One of several processes serving one listening address (hubsim platform --workers):
   * workers is their number, worker this one's index (0..workers-1). The cmd_ids this server
   * issues are then those equal to worker + 1 modulo workers, so that no two workers issue the
   * same one. 0 (or 1): alone, ids 1, 2, 3, ... */
  uint32_t workers, worker;
};

/* Every counter since the server started. Errors are indexed by hubrpc ErrorCode (0..15). */
#define PLAT_ERROR_CODES 16
struct plat_counters {
  uint64_t sessions_accepted, sessions_open, sessions_closed;
  uint64_t auth_ok, auth_failed, handshake_timeouts, idle_timeouts, duplicate_sessions;
  /* Sessions bound to their client certificate's hub id; Hellos refused because the hub had a
   * certificate for another hub, or none while it had authenticated with one before. */
  uint64_t sessions_cert_bound, cert_refused;
  /* Of auth_ok: hubs that authenticated with their certificate alone (an empty mac). */
  uint64_t auth_cert_only;
  uint64_t frames_in, frames_out, bytes_in, bytes_out;
  uint64_t reports_new, reports_duplicate; /* Reports accepted (new) and recognised as resent */
  uint64_t reports_committed;              /* new Reports whose group COMMIT succeeded */
  uint64_t seq_duplicate;                  /* duplicates of every sequenced type */
  uint64_t joined, left;
  uint64_t rows_committed, commits, commit_failures, acks_sent;
  uint64_t heartbeats;
  uint64_t commands_sent, commands_ok, commands_failed, commands_timed_out;
  uint64_t command_results_unknown, command_results_late;
  uint64_t errors_sent[PLAT_ERROR_CODES], errors_received[PLAT_ERROR_CODES];
  uint64_t hubs_known;
  /* Automations (plat_server_rule_add, plat_server_timer_add). A rule "fires" once per new
   * Report that matches it; its command is then sent (rule_commands, also counted in
   * commands_sent) or not, because the target hub has no open session (rule_target_offline).
   * Timers likewise, once per day each. */
  uint64_t rules_fired, rule_commands, rule_target_offline;
  uint64_t timers_fired, timer_commands, timer_target_offline;
  /* Matches of a rule beyond its rate (PLAT_DEFAULT_RULE_RATE): not acted upon, not in
   * rules_fired. */
  uint64_t rules_limited;
  /* Hostile peers. conns_refused: connections closed at accept because only the descriptor
   * reserve was left and no handshake could make room; handshakes_evicted: connections still
   * in their handshake closed to make room for a new one (the oldest first); sendq_overflows:
   * sessions closed because more than sendq_max bytes waited for a hub that does not read;
   * boot_returns: a hub authenticated with a boot_id it had left for another one (two devices
   * holding its credentials, docs/protocol.md 6.1). */
  uint64_t conns_refused, handshakes_evicted, sendq_overflows, boot_returns;
  /* The store. store_state: 0 writes, 1 failing (nothing acknowledged, hubs not read, a test
   * write every so often), 2 lost (the file was deleted or replaced: until a restart).
   * store_failures: times it went from 0 to 1 or 2. sessions_paused: open sessions not read now. */
  uint64_t store_state, store_failures, sessions_paused;
  /* The admin port: clients refused (too many), closed for silence, failed token checks. */
  uint64_t admin_refused, admin_idle_closed, admin_auth_failed;
};

struct plat_server;

/* Creates a server: opens the store and loads hubs and the highest cmd_id. Nothing listens
 * yet. On success *out is the server (freed by plat_server_free). SIM_EINVAL for a bad config
 * (the log names the field), SIM_EDB when the store cannot be opened. */
int plat_server_new(uv_loop_t *loop, struct sim_transport *t, const struct plat_config *cfg,
                    struct plat_server **out);
/* Listens on cfg->listen (and cfg->admin). 0 or the transport's error. */
int plat_server_start(struct plat_server *srv);
/* The scheduler of a virtual-clock server (register it with the sim_vdriver), NULL for a
 * real-clock one. Valid from plat_server_new to plat_server_free. */
struct sim_sched *plat_server_sched(struct plat_server *srv);
/* The port the hubrpc listener is bound to (0 before start). */
uint16_t plat_server_port(const struct plat_server *srv);
/* The hubrpc listener (NULL before start or after stop); borrowed. */
const struct sim_listener *plat_server_listener(const struct plat_server *srv);
/* The admin listener's port (0: none). */
uint16_t plat_server_admin_port(const struct plat_server *srv);

/* Stops: closes the listeners, commits and acknowledges what was received, sends
 * Error{SHUTTING_DOWN} to every session and closes them, then runs cb once every handle is
 * closed. cb may be NULL. Calling it twice is an error (SIM_EINVAL). */
typedef void (*plat_stop_cb)(struct plat_server *srv, void *arg);
int plat_server_stop(struct plat_server *srv, plat_stop_cb cb, void *arg);
/* Frees a stopped (or never started) server and closes the store. */
void plat_server_free(struct plat_server *srv);

void plat_server_counters(const struct plat_server *srv, struct plat_counters *out);
/* The counters as one JSON object text (malloc'ed, freed by the caller), NULL on no memory. */
char *plat_counters_json(const struct plat_counters *c);

/* Sends a command to a device behind an online hub, as an app would. payload (len bytes) is
 * borrowed. On success *cmd_id_out (may be NULL) is the new command's id. SIM_ENOTFOUND when
 * the hub has no open session, SIM_EINVAL for a bad argument, SIM_ECLOSED when the send failed. */
int plat_server_command(struct plat_server *srv, const char *hub_id, uint64_t eui64,
                        uint32_t endpoint, uint32_t cluster, uint32_t command,
                        const uint8_t *payload, size_t len, int global, uint32_t mfr_code,
                        uint64_t *cmd_id_out);

/* ---- automations: IFTTT-style rules and daily timers, as an app defines them -------------- *
 * They live in memory only (not in the SQLite store): a restarted platform has none. Their
 * commands go out exactly as plat_server_command's do (same ids, tracking, timeouts, counts). */

/* What an automation does: a cluster-specific (global = 0) or global ZCL command to a device
 * behind a hub. Every pointer is borrowed and copied by the call that takes the action. */
struct plat_action {
  const char *hub_id; /* 1..64 bytes of [A-Za-z0-9._:-]; the hub need not be known yet */
  uint64_t eui64;
  uint32_t endpoint; /* 0..255 */
  uint32_t cluster;  /* 0..0xFFFF */
  uint32_t command;  /* 0..0xFF */
  const uint8_t *payload;
  size_t len; /* 0..1024 */
  int global;
  uint32_t mfr_code; /* 0..0xFFFF, 0: not manufacturer specific */
};

/* How a rule compares the reported attribute value: not at all, ==, < or >. The comparison is
 * numeric on the value hubrpc decoded (Report.attributes: int, uint, float, bool as 0/1);
 * string and bytes values never match a comparison. == on an integer value is exact (no
 * rounding through double) when the rule's value is an integer. */
enum plat_rule_op { PLAT_RULE_ANY = 0, PLAT_RULE_EQ, PLAT_RULE_LT, PLAT_RULE_GT };

/* "When device when_eui64 reports attribute attr of cluster (top-level attributes of the
 * Report, not TLV members) [op value], do then". It fires at most once per Report, when the
 * platform accepts the Report as new (a resent duplicate never fires it). */
struct plat_rule {
  uint64_t when_eui64;
  uint32_t cluster; /* 0..0xFFFF */
  uint32_t attr;    /* 0..0xFFFF */
  enum plat_rule_op op;
  double value; /* finite; ignored for PLAT_RULE_ANY */
  struct plat_action then;
};

/* "Every day at hour:minute UTC (by the platform's wall clock: virtual time on a virtual
 * clock), do then". Occurrences are strictly after the moment the timer is added; if the clock
 * jumps past several, the timer fires once and waits for the next. */
struct plat_timer {
  uint32_t hour;   /* 0..23 */
  uint32_t minute; /* 0..59 */
  struct plat_action then;
};

/* Adds a rule (or timer). On success *id (may be NULL) is its id (1, 2, ... per kind, never
 * reused). SIM_EINVAL for a field out of range, or a rule that would trigger itself through
 * rules without a condition (the log says which); SIM_EFULL at max_rules (max_timers);
 * SIM_ENOMEM. Allowed before plat_server_start; timers are armed from the start on. */
int plat_server_rule_add(struct plat_server *srv, const struct plat_rule *r, uint64_t *id);
int plat_server_timer_add(struct plat_server *srv, const struct plat_timer *t, uint64_t *id);
/* Removes one. 0 or SIM_ENOTFOUND. */
int plat_server_rule_remove(struct plat_server *srv, uint64_t id);
int plat_server_timer_remove(struct plat_server *srv, uint64_t id);
/* Every rule (timer) as JSON text, in id order, with what each did so far:
 * {"rules":[{"id":1,"when":{...},"then":{...},"fired":N,"sent":N,"offline":N}]}. Malloc'ed,
 * freed by the caller; NULL on no memory. docs/platform.md shows the exact shape. */
char *plat_server_rules_json(struct plat_server *srv);
char *plat_server_timers_json(struct plat_server *srv);

/* Runs one admin request line (without its newline) and returns the JSON reply text
 * (malloc'ed, no newline, freed by the caller); never NULL unless out of memory.
 *   stats                                            -> counters
 *   command HUB_ID EUI64HEX ENDPOINT CLUSTERHEX COMMANDHEX [PAYLOADHEX] -> {"cmd_id":N}
 *   device EUI64HEX                                  -> latest state
 *   rule add WHEN_EUI64HEX CLUSTERHEX ATTRHEX [=VALUE|<VALUE|>VALUE|*] THEN_HUB THEN_EUI64HEX
 *            ENDPOINT CLUSTERHEX COMMANDHEX [PAYLOADHEX]  -> {"rule_id":N}
 *   timer add HH:MM THEN_HUB THEN_EUI64HEX ENDPOINT CLUSTERHEX COMMANDHEX [PAYLOADHEX]
 *                                                    -> {"timer_id":N}
 *   rule del ID | timer del ID                       -> {"removed":ID}
 *   rules | timers                                   -> plat_server_rules_json / timers_json
 * Anything else gets {"error":"..."}. The token check ("auth TOKEN") belongs to the admin port,
 * not to this in-process call. */
char *plat_server_admin(struct plat_server *srv, const char *line);

/* The whole `hubsim platform` command: argv[0] is "platform". Returns the exit code. */
int plat_main(int argc, char **argv);

#endif
