/* Cases of docs/protocol.md sections 4.12, 4.13 and 10 that need a Command from the platform.
 * hubrpc gives a hub no way to ask for one, so the suite asks the platform's own way: the
 * --command-cmd hook, run after the case announced a device (DeviceJoined), with {hub} and
 * {eui64} naming the device. Without the hook these cases are skipped, never passed. */
#include <stdio.h>
#include <string.h>

#include "conform/conform.h"
#include "sim/core/err.h"

/* One case's hub, the device it announced and the command line that asks for a Command. */
struct cmd_hub {
  struct conform_conn c;
  uint64_t eui;
  char argv[2048];
};

static int seq_send(struct conform_ctx *x, struct cmd_hub *h, sim_envelope *env, uint64_t seq,
                    const char *what) {
  if (conform_send(&h->c, env))
    return conform_fail(x, "could not send %s", what);
  h->c.sent_top = seq;
  return conform_wait_ack(x, &h->c, seq, what);
}

/* An OPEN session of a fresh hub that announced one device, its join acknowledged. 0 or -1. */
static int cmd_open(struct conform_ctx *x, struct cmd_hub *h, const char *tag) {
  conform_conn_init(&h->c, x->d);
  if (!x->o->command_cmd)
    return conform_skip(x, "needs --command-cmd (a command that makes the platform send a "
                           "Command to a device behind a hub)");
  if (conform_open(x, &h->c, tag))
    return -1;
  /* A device of its own per case, so that cases never share one on the platform. */
  x->rng = x->rng * 6364136223846793005ull + 1442695040888963407ull;
  h->eui = 0x00158d00c0000000ull | (x->rng >> 36);
  if (conform_hook_expand(x->o->command_cmd, h->c.hub_id, h->eui, h->argv, sizeof(h->argv)))
    return conform_fail(x,
                        "--command-cmd: longer than %zu bytes once {hub} and {eui64} are "
                        "replaced",
                        sizeof(h->argv) - 1);
  struct sim_buf b;
  sim_buf_init(&b);
  uint64_t seq = h->c.welcome_acked + 1;
  conform_put_joined(&b, seq, h->eui);
  int rc = conform_send_frames(x, &h->c, &b, "DeviceJoined of a mains-powered plug");
  sim_buf_fini(&b);
  if (rc)
    return -1;
  h->c.sent_top = seq;
  return conform_wait_ack(x, &h->c, seq, "DeviceJoined of a mains-powered plug");
}

/* Runs the hook and reads the Command it caused (Acks and Heartbeats may come first); checks
 * the fields 4.12 fixes. 0 and *cmd_id, or -1. */
static int cmd_ask(struct conform_ctx *x, struct cmd_hub *h, uint64_t *cmd_id) {
  char out[400];
  if (conform_hook(x, "--command-cmd", h->argv, out, sizeof(out)))
    return -1;
  uint64_t end = conform_now_ms() + x->o->timeout_ms;
  for (;;) {
    uint64_t now = conform_now_ms();
    sim_envelope *in = NULL;
    int rc = conform_recv(&h->c, now < end ? (uint32_t)(end - now) : 0, &in);
    int ack = !rc && in->body_case == HUBRPC__V1__ENVELOPE__BODY_ACK &&
              in->ack->up_to_seq >= h->c.acked && in->ack->up_to_seq <= h->c.sent_top;
    if (!rc && (ack || in->body_case == HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT)) {
      if (ack)
        h->c.acked = in->ack->up_to_seq; /* cumulative and capped (4.9): anything else fails */
      sim_hubrpc_free(in);
      continue;
    }
    if (rc || in->body_case != HUBRPC__V1__ENVELOPE__BODY_COMMAND) {
      char got[300];
      conform_describe(in, rc, got, sizeof(got));
      sim_hubrpc_free(in);
      return conform_fail(x,
                          "ran --command-cmd for device %016llx (its output: '%s'); expected "
                          "a Command within --timeout (10, 4.12); got %s",
                          (unsigned long long)h->eui, out, got);
    }
    const Hubrpc__V1__Command *m = in->command;
    int bad = m->cmd_id == 0 || m->device != h->eui || m->command > 255 || m->issued_ms == 0;
    if (bad)
      conform_fail(x,
                   "ran --command-cmd for device %016llx; got Command{cmd_id=%llu, "
                   "device=%016llx, command=%u, issued_ms=%llu}: expected a non-zero cmd_id "
                   "(0 is the absent value, 4.12, 14), the device asked for, command 0..255 "
                   "and the platform's clock in issued_ms (4.12)",
                   (unsigned long long)h->eui, (unsigned long long)m->cmd_id,
                   (unsigned long long)m->device, m->command, (unsigned long long)m->issued_ms);
    *cmd_id = m->cmd_id;
    sim_hubrpc_free(in);
    return bad ? -1 : 0;
  }
}

/* Sends CommandResult{cmd_id, status} as the next seq and waits for the Ack covering it. */
static int cmd_result(struct conform_ctx *x, struct cmd_hub *h, uint64_t cmd_id, int status,
                      const char *what) {
  Hubrpc__V1__CommandResult r = HUBRPC__V1__COMMAND_RESULT__INIT;
  r.seq = h->c.sent_top + 1;
  r.cmd_id = cmd_id;
  r.status = (Hubrpc__V1__CommandStatus)status;
  r.zcl_status = 0;
  r.device_latency_ms = 20;
  r.device = h->eui;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT;
  env.command_result = &r;
  return seq_send(x, h, &env, r.seq, what);
}

static void delivered(struct conform_ctx *x) {
  struct cmd_hub h;
  uint64_t id;
  if (!cmd_open(x, &h, "cmd") && !cmd_ask(x, &h, &id))
    cmd_result(x, &h, id, HUBRPC__V1__COMMAND_STATUS__COMMAND_OK,
               "CommandResult{COMMAND_OK} for the Command received (sequenced: 4.13, 7.3)");
  conform_close(&h.c);
}

static void id_unique(struct conform_ctx *x) {
  struct cmd_hub h;
  uint64_t a, b;
  if (cmd_open(x, &h, "cmdid") || cmd_ask(x, &h, &a) || cmd_ask(x, &h, &b))
    goto out;
  if (a == b) {
    conform_fail(x,
                 "ran --command-cmd twice; got two Commands with the same cmd_id %llu: "
                 "cmd_id is unique per platform (4.12, 10)",
                 (unsigned long long)a);
    goto out;
  }
  if (!cmd_result(x, &h, a, HUBRPC__V1__COMMAND_STATUS__COMMAND_OK, "the first CommandResult"))
    cmd_result(x, &h, b, HUBRPC__V1__COMMAND_STATUS__COMMAND_OK, "the second CommandResult");
out:
  conform_close(&h.c);
}

/* Holds the session for ms, a Heartbeat every half heartbeat_s as a hub sends them (8): only
 * Heartbeats and Acks may arrive meanwhile. 0 or -1. */
static int hold(struct conform_ctx *x, struct cmd_hub *h, uint64_t ms, const char *what) {
  uint64_t end = conform_now_ms() + ms, step = (uint64_t)h->c.heartbeat_s * 500u;
  for (;;) {
    uint64_t now = conform_now_ms();
    if (now >= end)
      return 0;
    if (conform_send_raw(&h->c, conform_heartbeat_frame, sizeof(conform_heartbeat_frame)))
      return conform_fail(x, "%s: the platform closed the session", what);
    uint64_t until = now + step < end ? now + step : end;
    for (;;) {
      now = conform_now_ms();
      sim_envelope *in = NULL;
      int rc = conform_recv(&h->c, now < until ? (uint32_t)(until - now) : 0, &in);
      if (rc == SIM_ETIMEOUT)
        break;
      int ok = !rc && (in->body_case == HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT ||
                       in->body_case == HUBRPC__V1__ENVELOPE__BODY_ACK);
      char got[300];
      conform_describe(in, rc, got, sizeof(got));
      sim_hubrpc_free(in);
      if (!ok)
        return conform_fail(x, "%s, sending Heartbeats; expected only Heartbeats; got %s", what,
                            got);
    }
  }
}

static void result_late(struct conform_ctx *x) {
  struct cmd_hub h;
  uint64_t id, late = (uint64_t)x->o->cmd_deadline_ms + 1000u;
  conform_conn_init(&h.c, x->d);
  if (x->o->command_cmd && late + 2u * x->o->timeout_ms > x->o->max_wait_ms) {
    conform_skip(x,
                 "waits the platform's result deadline (--command-deadline %u s, 10) and 1 s "
                 "more, longer than --max-wait %u s",
                 x->o->cmd_deadline_ms / 1000u, x->o->max_wait_ms / 1000u);
    goto out;
  }
  if (cmd_open(x, &h, "late") || cmd_ask(x, &h, &id) ||
      hold(x, &h, late, "held the Command past the platform's result deadline"))
    goto out;
  if (cmd_result(x, &h, id, HUBRPC__V1__COMMAND_STATUS__COMMAND_OK,
                 "CommandResult{COMMAND_OK} after the platform's result deadline (late, still "
                 "stored and acknowledged: 10)"))
    goto out;
  sim_envelope *in = NULL;
  int rc = conform_send_raw(&h.c, conform_heartbeat_frame, sizeof(conform_heartbeat_frame));
  if (!rc)
    rc = conform_recv(&h.c, x->o->timeout_ms, &in);
  char got[300];
  conform_describe(in, rc, got, sizeof(got));
  if (rc || in->body_case != HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT)
    conform_fail(x,
                 "after the late CommandResult was acknowledged, sent a Heartbeat; expected "
                 "a Heartbeat (the session goes on, 10); got %s",
                 got);
  sim_hubrpc_free(in);
out:
  conform_close(&h.c);
}

/* The device leaves with its command outstanding; the hub answers COMMAND_UNKNOWN_DEVICE. */
static void result_left(struct conform_ctx *x) {
  struct cmd_hub h;
  uint64_t id;
  if (cmd_open(x, &h, "cmdleft") || cmd_ask(x, &h, &id))
    goto out;
  Hubrpc__V1__DeviceLeft l = HUBRPC__V1__DEVICE_LEFT__INIT;
  l.seq = h.c.sent_top + 1;
  l.device = h.eui;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT;
  env.device_left = &l;
  if (!seq_send(x, &h, &env, l.seq, "DeviceLeft of the device with a Command outstanding"))
    cmd_result(x, &h, id, HUBRPC__V1__COMMAND_STATUS__COMMAND_UNKNOWN_DEVICE,
               "CommandResult{COMMAND_UNKNOWN_DEVICE} for a device that left (10)");
out:
  conform_close(&h.c);
}

const struct conform_case conform_cases_cmd[] = {
    {"cmd.delivered", "10, 4.12, 4.13",
     "DeviceJoined, --command-cmd -> Command{cmd_id != 0, that device}; CommandResult{OK} -> Ack",
     delivered, NULL},
    {"cmd.id_unique", "4.12, 10",
     "--command-cmd twice -> two Commands with different cmd_id; both results -> Ack", id_unique,
     NULL},
    {"cmd.result_late", "10, 7.3",
     "CommandResult after the platform's deadline (--command-deadline) -> Ack, session goes on",
     result_late, NULL},
    {"cmd.result_left", "10, 11, 4.11",
     "Command, DeviceLeft, CommandResult{UNKNOWN_DEVICE} -> Ack covering both", result_left, NULL},
    {0},
};
