/* Cases of docs/protocol.md sections 4.6, 4.16, 5.1, 8, 10, 11 and 12: heartbeats, the idle
 * timeout, duplicate sessions, Goodbye and Error from the hub, command results, and joins and
 * leaves. */
#include <stdio.h>
#include <string.h>

#include "conform/conform.h"
#include "sim/core/err.h"

static void hb_answer(struct conform_ctx *x) {
  struct conform_conn c;
  if (!conform_open(x, &c, "hb")) {
    sim_envelope *in = NULL;
    int rc = conform_send_raw(&c, conform_heartbeat_frame, sizeof(conform_heartbeat_frame));
    if (!rc)
      rc = conform_recv(&c, x->o->timeout_ms, &in);
    char got[300];
    conform_describe(in, rc, got, sizeof(got));
    if (rc || in->body_case != HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT)
      conform_fail(x, "sent Heartbeat{time_ms} in OPEN; expected a Heartbeat back (4.6, 8); got %s",
                   got);
    else if (in->heartbeat->time_ms == 0)
      conform_fail(x,
                   "sent a Heartbeat; got one back with time_ms 0, not the platform's clock (8)");
    sim_hubrpc_free(in);
  }
  conform_close(&c);
}

/* An OPEN session goes silent (drip: but for one byte of an unfinished frame every half
 * heartbeat) and must get Error{TIMEOUT} near 3 x heartbeat_s. */
static void idle(struct conform_ctx *x, int drip) {
  struct conform_conn c;
  sim_envelope *in = NULL;
  if (conform_open(x, &c, drip ? "drip" : "idle"))
    goto out;
  uint64_t t0 = conform_now_ms(), hb = (uint64_t)c.heartbeat_s * 1000u;
  uint64_t end = t0 + 3 * hb + x->o->timeout_ms;
  if (end - t0 > x->o->max_wait_ms) {
    conform_skip(x,
                 "heartbeat_s %u: the idle timeout (3 x heartbeat_s) and --timeout take "
                 "longer than --max-wait",
                 c.heartbeat_s);
    goto out;
  }
  const char *sent = drip ? "nothing but the bytes of an unfinished frame, one every half "
                            "heartbeat_s (only a complete frame resets the idle timer)"
                          : "nothing after the Welcome";
  /* A Report of 16383 bytes announced (ff 7f) and never finished. */
  static const uint8_t pre[] = {0xff, 0x7f}, zero[] = {0x00};
  if (drip)
    conform_send_raw(&c, pre, sizeof(pre));
  int rc;
  for (;;) {
    uint64_t now = conform_now_ms();
    uint32_t wait = now < end ? (uint32_t)(end - now) : 0;
    if (drip && wait > hb / 2)
      wait = (uint32_t)(hb / 2);
    rc = conform_recv(&c, wait, &in);
    if (rc != SIM_ETIMEOUT || conform_now_ms() >= end)
      break;
    if (drip)
      conform_send_raw(&c, zero, sizeof(zero)); /* closed meanwhile: the Error is read next */
  }
  char got[300];
  conform_describe(in, rc, got, sizeof(got));
  uint64_t took = conform_now_ms() - t0;
  if (rc || in->body_case != HUBRPC__V1__ENVELOPE__BODY_ERROR ||
      in->error->code != HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT)
    conform_fail(x,
                 "sent %s; expected Error{TIMEOUT} after 3 x heartbeat_s (%u s) and at most "
                 "--timeout more (8); got %s after %.1f s",
                 sent, 3 * c.heartbeat_s, got, (double)took / 1000.0);
  else if (took + 1000 < 3 * hb)
    conform_fail(x, "sent %s; got Error{TIMEOUT} after %.1f s, before 3 x heartbeat_s (%u s, 8)",
                 sent, (double)took / 1000.0, 3 * c.heartbeat_s);
out:
  sim_hubrpc_free(in);
  conform_close(&c);
}

static void idle_silent(struct conform_ctx *x) {
  idle(x, 0);
}

static void idle_drip(struct conform_ctx *x) {
  idle(x, 1);
}

static void duplicate(struct conform_ctx *x) {
  struct conform_conn a, b;
  conform_conn_init(&b, x->d);
  if (!conform_open(x, &a, "dup") && !conform_open_as(x, &b, &a, a.boot_id))
    conform_answer_error(x, &a, 0, HUBRPC__V1__ERROR_CODE__ERROR_DUPLICATE_SESSION,
                         "a second session of the same hub_id authenticated (to the first "
                         "session)");
  conform_close(&a);
  conform_close(&b);
}

/* An OPEN session sends a Goodbye (x->arg NULL) or an Error: the platform must close without
 * answering. */
static void silent_close(struct conform_ctx *x) {
  Hubrpc__V1__Goodbye g = HUBRPC__V1__GOODBYE__INIT;
  Hubrpc__V1__Error e = HUBRPC__V1__ERROR__INIT;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  const char *sent = "Goodbye{\"shutdown\"} in OPEN";
  g.reason = "shutdown";
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_GOODBYE;
  env.goodbye = &g;
  if (x->arg) {
    /* An unknown code is an Error all the same (12). */
    int unknown = strcmp(x->arg, "unknown") == 0;
    e.code = unknown ? 99 : HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT;
    e.reason = "conformance";
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_ERROR;
    env.error = &e;
    sent = unknown ? "Error{code 99, unknown to v1} from the hub in OPEN"
                   : "Error{TIMEOUT} from the hub in OPEN";
  }
  struct conform_conn c;
  if (!conform_open(x, &c, "bye")) {
    if (conform_send(&c, &env))
      conform_fail(x, "could not send %s", sent);
    else
      conform_expect_silent_close(x, &c, x->o->timeout_ms, sent);
  }
  conform_close(&c);
}

static void result_unknown(struct conform_ctx *x) {
  struct conform_conn c;
  if (!conform_open(x, &c, "cmd")) {
    Hubrpc__V1__CommandResult r = HUBRPC__V1__COMMAND_RESULT__INIT;
    r.seq = c.welcome_acked + 1;
    r.cmd_id = 0xc0f0c0f0c0f0c0f0ull; /* never issued by any sane platform */
    r.status = HUBRPC__V1__COMMAND_STATUS__COMMAND_OK;
    r.device = 0x00158d00c0ffee01ull;
    sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT;
    env.command_result = &r;
    if (conform_send(&c, &env)) {
      conform_fail(x, "could not send the CommandResult");
    } else {
      c.sent_top = r.seq;
      conform_wait_ack(x, &c, r.seq,
                       "CommandResult for a cmd_id never issued (10: stored and "
                       "acknowledged all the same)");
    }
  }
  conform_close(&c);
}

static void join_leave(struct conform_ctx *x) {
  struct conform_conn c;
  if (conform_open(x, &c, "join"))
    return;
  uint64_t seq = c.welcome_acked + 1, device = 0x00158d00c0ffee02ull;
  Hubrpc__V1__DeviceLeft l = HUBRPC__V1__DEVICE_LEFT__INIT;
  l.seq = seq + 1;
  l.device = device;
  struct sim_buf b;
  sim_buf_init(&b);
  conform_put_joined(&b, seq, device);
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT;
  env.device_left = &l;
  sim_hubrpc_encode(&b, &env);
  if (!conform_send_frames(x, &c, &b, "DeviceJoined and DeviceLeft")) {
    c.sent_top = l.seq;
    conform_wait_ack(x, &c, l.seq, "DeviceJoined{seq 1} and DeviceLeft{seq 2} in one write");
  }
  sim_buf_fini(&b);
  conform_close(&c);
}

/* The platform stops in order while the session holds unacknowledged Reports: the final
 * commit's Acks, then Error{SHUTTING_DOWN}; after a restart the Welcome shows them stored. */
static void orderly_stop(struct conform_ctx *x) {
  struct conform_conn c, r;
  char out[256];
  conform_conn_init(&c, x->d);
  conform_conn_init(&r, x->d);
  if (!x->o->stop_cmd || !x->o->restart_cmd) {
    conform_skip(x, "needs --stop-cmd (a command that stops the platform in order) and "
                    "--restart-cmd (one that starts it again)");
    goto out;
  }
  if (conform_open(x, &c, "stop") || conform_send_reports(x, &c, 1, 3) ||
      conform_hook(x, "--stop-cmd", x->o->stop_cmd, out, sizeof(out)))
    goto out;
  const char *sent = "Reports 1..3, then --stop-cmd stopped the platform";
  if (conform_expect_error(x, &c, HUBRPC__V1__ERROR_CODE__ERROR_SHUTTING_DOWN, x->o->timeout_ms,
                           sent))
    goto out;
  if (c.acked < 3) {
    conform_fail(x,
                 "sent %s; got Error{SHUTTING_DOWN} after Acks up to %llu only: a platform "
                 "that stops commits first and sends the Acks that allows (5.1)",
                 sent, (unsigned long long)c.acked);
    goto out;
  }
  if (conform_restart(x) || conform_open_as(x, &r, &c, c.boot_id))
    goto out;
  if (r.welcome_acked != 3)
    conform_fail(x,
                 "sent %s, got Ack{3} and Error{SHUTTING_DOWN}; after --restart-cmd the "
                 "Welcome of the same boot has acked_seq %llu, expected 3 (7.4)",
                 sent, (unsigned long long)r.welcome_acked);
out:
  conform_close(&c);
  conform_close(&r);
}

const struct conform_case conform_cases_session[] = {
    {"hb.answer", "4.6, 8", "Heartbeat in OPEN -> a Heartbeat with the platform's time", hb_answer,
     NULL},
    {"timeout.idle", "8, 5.1", "silence in OPEN -> Error{TIMEOUT} after 3 x heartbeat_s",
     idle_silent, NULL},
    {"timeout.idle_drip", "8",
     "one byte of an unfinished frame every heartbeat_s / 2 -> Error{TIMEOUT} after 3 x "
     "heartbeat_s",
     idle_drip, NULL},
    {"session.duplicate", "5.1, 12",
     "a second session of the same hub -> Error{DUPLICATE_SESSION} to the first", duplicate, NULL},
    {"session.goodbye", "4.16, 5.1", "Goodbye in OPEN -> the platform closes without answering",
     silent_close, NULL},
    {"session.error_from_hub", "4.15, 12", "Error in OPEN -> the platform closes without answering",
     silent_close, "error"},
    {"session.error_unknown_code", "12",
     "Error{code 99} in OPEN -> the platform closes without answering", silent_close, "unknown"},
    {"session.shutdown", "5.1, 12, 7.4",
     "Reports 1..3, --stop-cmd -> Acks up to 3, Error{SHUTTING_DOWN}; --restart-cmd -> "
     "acked_seq 3",
     orderly_stop, NULL},
    {"cmd.result_unknown", "10", "CommandResult for a cmd_id never issued -> Ack", result_unknown,
     NULL},
    {"join.joined_left", "11, 4.10, 4.11", "DeviceJoined then DeviceLeft -> Ack covering both",
     join_leave, NULL},
    {0},
};
