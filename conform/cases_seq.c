/* Cases of docs/protocol.md section 7: sequence numbers, acknowledgements only after storage
 * (across a disconnect and a restart), cumulative and capped Acks, the window, resending and
 * de-duplication, and boot ids. */
#include <stdio.h>
#include <string.h>

#include "conform/conform.h"

/* The most Reports a window case sends in one burst; a larger max_window is skipped. */
#define WINDOW_CASE_MAX 20000u

/* Each sequenced type with seq 0 (the field absent, as proto3 writes 0), on its own session. */
static void seq_zero(struct conform_ctx *x) {
  static const struct {
    uint8_t tag, dev; /* the Envelope field (wire type 2), the device field (fixed64) */
    const char *sent;
  } types[] = {{0x32, 0x11, "Report{seq 0}"},
               {0x42, 0x11, "DeviceJoined{seq 0}"},
               {0x4a, 0x11, "DeviceLeft{seq 0}"},
               {0x5a, 0x31, "CommandResult{seq 0}"}};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && x->verdict == CONFORM_PASS; i++) {
    /* The message holds only device = 00158d00c0ffee01. */
    const uint8_t f[] = {11,   types[i].tag, 9,    types[i].dev, 0x01, 0xee,
                         0xff, 0xc0,         0x00, 0x8d,         0x15, 0x00};
    struct conform_conn c;
    if (!conform_open(x, &c, "seq0"))
      conform_answer_error(x, &c, conform_send_raw(&c, f, sizeof(f)),
                           HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD, types[i].sent);
    conform_close(&c);
  }
}

static void seq_gap(struct conform_ctx *x) {
  struct conform_conn c;
  if (!conform_open(x, &c, "gap") && !conform_send_reports(x, &c, 1, 1) &&
      !conform_wait_ack(x, &c, 1, "Report{seq 1}") && !conform_send_reports(x, &c, 3, 3))
    conform_answer_error(x, &c, 0, HUBRPC__V1__ERROR_CODE__ERROR_BAD_SEQUENCE,
                         "Report{seq 1}, then Report{seq 3} (a gap)");
  conform_close(&c);
}

static void cumulative(struct conform_ctx *x) {
  struct conform_conn c;
  if (!conform_open(x, &c, "cumul") && !conform_send_reports(x, &c, 1, 10))
    conform_wait_ack(x, &c, 10, "Reports seq 1..10 in one write");
  conform_close(&c);
}

/* Reconnects as the hub of `prev` (same hub_id and boot_id) on c and checks that the Welcome's
 * acked_seq is at least what was acknowledged and at most what was sent. */
static int reconnect_same_boot(struct conform_ctx *x, struct conform_conn *c,
                               const struct conform_conn *prev, const char *after) {
  if (conform_open_as(x, c, prev, prev->boot_id))
    return -1;
  if (c->welcome_acked < prev->acked || c->welcome_acked > prev->sent_top)
    return conform_fail(x,
                        "%s, the same hub and boot_id connected again; expected Welcome "
                        "acked_seq from %llu (acknowledged before: acknowledged means stored, "
                        "7.3, 7.4) to %llu (sent, 4.5); got acked_seq %llu",
                        after, (unsigned long long)prev->acked, (unsigned long long)prev->sent_top,
                        (unsigned long long)c->welcome_acked);
  return 0;
}

static void after_store(struct conform_ctx *x) {
  struct conform_conn a, b;
  conform_conn_init(&b, x->d);
  if (!conform_open(x, &a, "store") && !conform_send_reports(x, &a, 1, 3) &&
      !conform_wait_ack(x, &a, 3, "Reports seq 1..3")) {
    conform_close(&a);
    reconnect_same_boot(x, &b, &a, "after Ack{3} the hub closed at once, and");
  }
  conform_close(&a);
  conform_close(&b);
}

static void survives_restart(struct conform_ctx *x) {
  if (!x->o->restart_cmd) {
    conform_skip(x, "needs --restart-cmd (a command that restarts the platform)");
    return;
  }
  struct conform_conn a, b;
  conform_conn_init(&b, x->d);
  if (!conform_open(x, &a, "restart") && !conform_send_reports(x, &a, 1, 3) &&
      !conform_wait_ack(x, &a, 3, "Reports seq 1..3")) {
    conform_close(&a);
    if (!conform_restart(x))
      reconnect_same_boot(x, &b, &a,
                          "after Ack{3} the platform was restarted (--restart-cmd), and");
  }
  conform_close(&a);
  conform_close(&b);
}

/* Sends one burst of max_window + over Reports. 0: done (the verdict may be set), 1: the
 * platform acknowledged during the burst, so the window moved and the try says nothing. */
static int window_burst(struct conform_ctx *x, uint32_t over) {
  struct conform_conn c;
  int rc = 0;
  char sent[200];
  if (conform_open(x, &c, "window"))
    goto out;
  if (c.max_window > WINDOW_CASE_MAX) {
    conform_skip(x, "max_window %u: more than %u Reports in one burst", c.max_window,
                 WINDOW_CASE_MAX);
    goto out;
  }
  uint64_t from = c.welcome_acked + 1, to = c.welcome_acked + c.max_window + over;
  snprintf(sent, sizeof(sent),
           "Reports seq %llu..%llu in one write (max_window %u, acked_seq %llu)",
           (unsigned long long)from, (unsigned long long)to, c.max_window,
           (unsigned long long)c.welcome_acked);
  if (conform_send_reports(x, &c, from, to))
    goto out;
  if (!over) {
    conform_wait_ack(x, &c, to, sent);
    goto out;
  }
  /* The first frame back decides: an Ack below `to` came before the platform read the last
   * Report (the window moved: try again); one covering `to` means it accepted a Report beyond
   * the window. */
  sim_envelope *in = NULL;
  int r = conform_recv(&c, x->o->timeout_ms, &in);
  while (r == 0 && in->body_case == HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT) {
    sim_hubrpc_free(in);
    r = conform_recv(&c, x->o->timeout_ms, &in);
  }
  char got[300];
  conform_describe(in, r, got, sizeof(got));
  if (r == 0 && in->body_case == HUBRPC__V1__ENVELOPE__BODY_ACK && in->ack->up_to_seq < to)
    rc = 1;
  else if (r || in->body_case != HUBRPC__V1__ENVELOPE__BODY_ERROR ||
           in->error->code != HUBRPC__V1__ERROR_CODE__ERROR_WINDOW_EXCEEDED)
    conform_fail(x, "sent %s; expected Error{WINDOW_EXCEEDED} (7.3); got %s", sent, got);
  sim_hubrpc_free(in);
out:
  conform_close(&c);
  return rc;
}

static void window_full(struct conform_ctx *x) {
  window_burst(x, 0);
}

static void window_exceeded(struct conform_ctx *x) {
  for (int i = 0; i < 3; i++)
    if (!window_burst(x, 1))
      return;
  conform_skip(x, "on 3 tries the platform acknowledged while a burst of max_window + 1 Reports "
                  "arrived, so the window moved and could not be overrun: not checked");
}

static void dedup(struct conform_ctx *x) {
  struct conform_conn c;
  if (!conform_open(x, &c, "dedup") && !conform_send_reports(x, &c, 1, 3) &&
      !conform_wait_ack(x, &c, 3, "Reports seq 1..3") && !conform_send_reports(x, &c, 2, 2) &&
      !conform_send_reports(x, &c, 4, 4))
    conform_wait_ack(x, &c, 4,
                     "Reports seq 1..3, Ack{3}, then seq 2 again (a duplicate) and seq 4");
  conform_close(&c);
}

static void resend(struct conform_ctx *x) {
  struct conform_conn a, b;
  conform_conn_init(&b, x->d);
  if (conform_open(x, &a, "resend") || conform_send_reports(x, &a, 1, 3) ||
      conform_wait_ack(x, &a, 3, "Reports seq 1..3") || conform_send_reports(x, &a, 4, 5))
    goto out;
  conform_close(&a); /* 4 and 5 may or may not be stored: 7.6 */
  if (reconnect_same_boot(x, &b, &a, "after Ack{3} and Reports 4, 5 the hub closed, and"))
    goto out;
  char sent[160];
  snprintf(sent, sizeof(sent), "after Welcome{acked_seq %llu}, Reports seq %llu..5 again and 6",
           (unsigned long long)b.welcome_acked, (unsigned long long)b.welcome_acked + 1);
  if (!conform_send_reports(x, &b, b.welcome_acked + 1, 6))
    conform_wait_ack(x, &b, 6, sent);
out:
  conform_close(&a);
  conform_close(&b);
}

static void new_boot(struct conform_ctx *x) {
  struct conform_conn a, b;
  conform_conn_init(&b, x->d);
  if (conform_open(x, &a, "boot") || conform_send_reports(x, &a, 1, 2) ||
      conform_wait_ack(x, &a, 2, "Reports seq 1..2"))
    goto out;
  conform_close(&a);
  if (conform_open_as(x, &b, &a, a.boot_id ^ 0x5a5a5a5a5a5a5a5aull))
    goto out;
  if (b.welcome_acked != 0) {
    conform_fail(x,
                 "after seq 1..2 of one boot_id were acknowledged, the hub came back with a "
                 "new boot_id; expected Welcome acked_seq 0 (7.4); got %llu",
                 (unsigned long long)b.welcome_acked);
    goto out;
  }
  if (!conform_send_reports(x, &b, 1, 1))
    conform_wait_ack(x, &b, 1, "Report{seq 1} of a new boot_id");
out:
  conform_close(&a);
  conform_close(&b);
}

/* A hub returns to a boot it left (two devices sharing its hub_id, 6.1): the platform MAY have
 * forgotten it (acked_seq 0) or kept it (acked_seq 2, what it acknowledged); either way the
 * next seq of that answer must be accepted. */
static void boot_return(struct conform_ctx *x) {
  struct conform_conn a, b, r;
  conform_conn_init(&b, x->d);
  conform_conn_init(&r, x->d);
  if (conform_open(x, &a, "return") || conform_send_reports(x, &a, 1, 2) ||
      conform_wait_ack(x, &a, 2, "Reports seq 1..2"))
    goto out;
  conform_close(&a);
  if (conform_open_as(x, &b, &a, a.boot_id ^ 0x0f0f0f0f0f0f0f0full) ||
      conform_send_reports(x, &b, 1, 1) || conform_wait_ack(x, &b, 1, "Report{seq 1} of boot B"))
    goto out;
  conform_close(&b);
  if (conform_open_as(x, &r, &a, a.boot_id))
    goto out;
  if (r.welcome_acked != 0 && r.welcome_acked != 2) {
    conform_fail(x,
                 "boot A acknowledged up to 2, boot B up to 1, then the hub came back with "
                 "boot A; expected Welcome acked_seq 2 (boot A kept) or 0 (forgotten, 7.4); "
                 "got %llu",
                 (unsigned long long)r.welcome_acked);
    goto out;
  }
  char sent[120];
  snprintf(sent, sizeof(sent), "after the return to boot A (acked_seq %llu), Report{seq %llu}",
           (unsigned long long)r.welcome_acked, (unsigned long long)r.welcome_acked + 1);
  if (!conform_send_reports(x, &r, r.welcome_acked + 1, r.welcome_acked + 1))
    conform_wait_ack(x, &r, r.welcome_acked + 1, sent);
out:
  conform_close(&a);
  conform_close(&b);
  conform_close(&r);
}

const struct conform_case conform_cases_seq[] = {
    {"seq.zero", "7.3, 4.7, 4.10-13",
     "Report, DeviceJoined, DeviceLeft, CommandResult with seq 0 -> Error{INVALID_FIELD} each",
     seq_zero, NULL},
    {"seq.gap", "7.3", "Report seq 1, then seq 3 -> Error{BAD_SEQUENCE}", seq_gap, NULL},
    {"ack.cumulative", "7.3, 4.9",
     "Reports 1..10 in one write -> Acks up to 10, never going back, never above what was sent",
     cumulative, NULL},
    {"ack.after_store", "7.3, 7.4, 4.5",
     "Reports 1..3, Ack{3}, close, reconnect with the same boot_id -> Welcome acked_seq 3",
     after_store, NULL},
    {"ack.survives_restart", "7.3, 7.4",
     "Reports 1..3, Ack{3}, --restart-cmd, reconnect -> Welcome acked_seq 3", survives_restart,
     NULL},
    {"window.full", "7.2, 7.3", "max_window Reports in one write -> accepted and acknowledged",
     window_full, NULL},
    {"window.exceeded", "7.3, 12", "max_window + 1 Reports in one write -> Error{WINDOW_EXCEEDED}",
     window_exceeded, NULL},
    {"dedup.resend", "7.3, 7.5",
     "Reports 1..3, Ack{3}, seq 2 again, then seq 4 -> Ack{4}, no error", dedup, NULL},
    {"resend.after_reconnect", "7.6, 7.2",
     "Reports 1..5, close after Ack{3}, reconnect, resend after acked_seq and 6 -> Ack{6}", resend,
     NULL},
    {"boot.new", "7.4, 7.1",
     "a known hub with a new boot_id -> Welcome acked_seq 0, seq 1 accepted", new_boot, NULL},
    {"boot.return", "7.4, 6.1",
     "back to a boot left for another -> acked_seq of that boot (or 0: MAY forget), then "
     "its next seq accepted",
     boot_return, NULL},
    {0},
};
