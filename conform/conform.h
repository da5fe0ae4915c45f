/* The conformance suite of hubrpc v1: one named case per normative rule of docs/protocol.md,
 * run against any platform (hubsim conform, docs/conformance.md).
 *
 * A case drives raw frames over its own connections (driver.h) as a fresh hub of its own
 * (a random hub_id and boot_id), so that cases never share state on the platform, and ends
 * with a verdict: pass, fail with what was sent, what was expected and what came back, or
 * skipped with the reason (a missing --restart-cmd, a wait longer than --max-wait).
 *
 * Threading: one thread. Ownership: the case table is static; results are the caller's. */
#ifndef CONFORM_CONFORM_H
#define CONFORM_CONFORM_H

#include <stddef.h>
#include <stdint.h>

#include "conform/driver.h"

enum conform_verdict { CONFORM_PASS = 0, CONFORM_FAIL, CONFORM_SKIP };

/* What a case sees while it runs. */
struct conform_ctx {
  struct conform_drv *d;
  const struct conform_opts *o;
  enum conform_verdict verdict;
  char why[1024];  /* the reason of a fail or a skip */
  uint64_t rng;    /* the case's own random stream (hub ids, boot ids) */
  const void *arg; /* the case's arg */
};

struct conform_case {
  const char *name;    /* "group.rule" */
  const char *section; /* "3.4" */
  const char *what;    /* one line: what it sends and expects */
  void (*run)(struct conform_ctx *x);
  const void *arg; /* for run (x->arg): lets one function serve cases that differ in data */
};

/* The case tables, one per spec area, each ending with a zeroed entry. */
extern const struct conform_case conform_cases_frame[];
extern const struct conform_case conform_cases_auth[];
extern const struct conform_case conform_cases_seq[];
extern const struct conform_case conform_cases_session[];
extern const struct conform_case conform_cases_cmd[];

/* Every case in order: the i-th, or NULL past the end. */
const struct conform_case *conform_case_at(size_t i);
const struct conform_case *conform_case_find(const char *name);

struct conform_result {
  const struct conform_case *c;
  enum conform_verdict verdict;
  char why[1024];
  double time_s;
};

/* Runs one case on its own driver. 0, or a negative code when the driver could not start
 * (*why then names the problem). */
int conform_run_case(const struct conform_opts *o, const struct conform_case *c,
                     struct conform_result *r, const char **why);

/* The verdict of a case: the first one set stands, so a step's reason is never overwritten by
 * a later, vaguer one. Returns -1 so that a step can `return conform_fail(...)`. */
int conform_verdict(struct conform_ctx *x, enum conform_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define conform_fail(x, ...) conform_verdict((x), CONFORM_FAIL, __VA_ARGS__)
#define conform_skip(x, ...) conform_verdict((x), CONFORM_SKIP, __VA_ARGS__)

/* ---- steps shared by the cases (steps.c) ---- */

/* A fresh hub on c: hub_id "cf-TAG-XXXXXXXX", a random boot_id and client nonce. */
void conform_hub_init(struct conform_ctx *x, struct conform_conn *c, const char *tag);
/* Copies the hub identity (hub_id, boot_id) of from into to, with a new client nonce. */
void conform_hub_copy(struct conform_ctx *x, struct conform_conn *to,
                      const struct conform_conn *from);
/* Connects c; on failure fails the case. 0 or -1. */
int conform_step_connect(struct conform_ctx *x, struct conform_conn *c);
/* The Hello of c's hub (proto_version 1, its hub_id, client nonce and boot_id). */
void conform_hello_init(const struct conform_conn *c, Hubrpc__V1__Hello *h);
/* Sends the Hello of c's hub, or Auth{mac}, as they are. 0 or SIM_ECLOSED. */
int conform_send_hello(struct conform_conn *c);
int conform_send_auth(struct conform_conn *c, const uint8_t *mac, size_t len);
/* After a send that returned send_rc: fails the case when it failed, else expects Error{code}
 * as conform_expect_error() does within --timeout. 0 or -1. */
int conform_answer_error(struct conform_ctx *x, struct conform_conn *c, int send_rc, int code,
                         const char *sent);
/* Sends the Hello of c's hub and reads the Challenge (16-byte nonce, kept in c). 0 or -1. */
int conform_step_hello(struct conform_ctx *x, struct conform_conn *c);
/* The right mac for c's hub and nonces. */
void conform_mac(struct conform_ctx *x, const struct conform_conn *c, uint8_t mac[32]);
/* Sends Auth{mac} and reads the Welcome (fields checked, kept in c). 0 or -1. */
int conform_step_auth(struct conform_ctx *x, struct conform_conn *c, const uint8_t *mac,
                      size_t len);
/* connect + Hello + Auth with the right mac: an OPEN session of a fresh hub. 0, or -1 with c
 * closed. */
int conform_open(struct conform_ctx *x, struct conform_conn *c, const char *tag);
/* The same for prev's hub_id with boot_id (a reconnect, or a new boot). 0 or -1. */
int conform_open_as(struct conform_ctx *x, struct conform_conn *c, const struct conform_conn *prev,
                    uint64_t boot_id);
/* Sends frames as one write. */
int conform_send_frames(struct conform_ctx *x, struct conform_conn *c, const struct sim_buf *b,
                        const char *what);
/* Heartbeat{time_ms = 1700000000000} exactly as docs/protocol.md 3.3 writes it. */
extern const uint8_t conform_heartbeat_frame[10];
/* Appends a Report{seq} frame to b (a small on/off report of device 0x00158d00c0ffee01). */
void conform_put_report(struct sim_buf *b, uint64_t seq);
/* Appends a DeviceJoined{seq} frame to b: device, a mains-powered on/off plug
 * (lumi.plug.maeu01, endpoint 1 with the Basic and On/Off clusters). */
void conform_put_joined(struct sim_buf *b, uint64_t seq, uint64_t device);
/* Sends Reports from..to in one write (sent_top follows). 0 or -1. */
int conform_send_reports(struct conform_ctx *x, struct conform_conn *c, uint64_t from, uint64_t to);
/* Reads until an Ack covers seq: every Ack must be cumulative (never below an earlier one)
 * and capped (never above sent_top, 4.9); Heartbeats are skipped; anything else fails. 0 or -1. */
int conform_wait_ack(struct conform_ctx *x, struct conform_conn *c, uint64_t seq, const char *sent);
/* Expects Error{code} (after any Acks and Heartbeats: c->acked follows them) within ms and
 * then the close. 0 or -1. */
int conform_expect_error(struct conform_ctx *x, struct conform_conn *c, int code, uint32_t ms,
                         const char *sent);
/* Expects the platform to close c within ms without sending anything but Acks and Heartbeats
 * (an answer to an Error or a Goodbye). 0 or -1. */
int conform_expect_silent_close(struct conform_ctx *x, struct conform_conn *c, uint32_t ms,
                                const char *sent);
/* One line naming env ("Error{AUTH_FAILED, \"wrong mac\"}", "Ack{up_to_seq=3}"), or the recv
 * code when env is NULL. */
void conform_describe(const sim_envelope *env, int rc, char *out, size_t cap);
/* The name of an ErrorCode ("AUTH_FAILED"), or "code N". Static storage for known codes. */
const char *conform_error_name(int code);
/* Runs --restart-cmd and waits for it, bounded by max_wait. 0 or -1 (the case failed). */
int conform_restart(struct conform_ctx *x);
/* Runs cmd with /bin/sh -c (stdin /dev/null), bounded by --max-wait; its stdout and stderr,
 * up to cap - 1 bytes as one printable line, land in out. 0 when it exited 0; else -1 with the
 * case failed, its reason naming flag, cmd, the exit status and the output. */
int conform_hook(struct conform_ctx *x, const char *flag, const char *cmd, char *out, size_t cap);
/* tmpl with every {hub} replaced by hub and every {eui64} by the 16 lower-case hex digits of
 * eui64, each single-quoted for /bin/sh. 0, or -1 when out (cap bytes) is too small. */
int conform_hook_expand(const char *tmpl, const char *hub, uint64_t eui64, char *out, size_t cap);

#endif
