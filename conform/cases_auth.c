/* Cases of docs/protocol.md sections 4.2 to 4.5, 5.1 (handshake states) and 6 (authentication):
 * the Hello's fields, the Challenge, good and bad macs, a replayed Auth, messages out of order,
 * and the handshake timeout. */
#include <stdio.h>
#include <string.h>

#include "conform/conform.h"

#define HS_TIMEOUT_MS 10000u /* 5.1, 8: the platform's handshake timer */

static void welcome(struct conform_ctx *x) {
  struct conform_conn c;
  if (!conform_open(x, &c, "welcome") && c.welcome_acked != 0)
    conform_fail(x,
                 "opened a session for a hub the platform never saw; expected Welcome "
                 "acked_seq 0 (7.4); got acked_seq %llu",
                 (unsigned long long)c.welcome_acked);
  conform_close(&c);
}

static void challenge_fresh(struct conform_ctx *x) {
  struct conform_conn a, b;
  conform_conn_init(&b, x->d);
  conform_hub_init(x, &a, "nonce");
  if (!conform_step_connect(x, &a) && !conform_step_hello(x, &a)) {
    conform_hub_copy(x, &b, &a);
    memcpy(b.client_nonce, a.client_nonce, sizeof(a.client_nonce));
    if (!conform_step_connect(x, &b) && !conform_step_hello(x, &b) &&
        memcmp(a.server_nonce, b.server_nonce, sizeof(a.server_nonce)) == 0)
      conform_fail(x, "sent the same Hello on two connections; expected two different "
                      "server_nonce (4.3: new for every Challenge); got the same twice");
  }
  conform_close(&a);
  conform_close(&b);
}

/* Sends a Hello altered by `edit` on a fresh connection and expects Error{code}. */
static void bad_hello(struct conform_ctx *x, void (*edit)(Hubrpc__V1__Hello *h, void *arg),
                      void *arg, int code, const char *sent) {
  struct conform_conn c;
  conform_hub_init(x, &c, "hello");
  if (conform_step_connect(x, &c))
    return;
  Hubrpc__V1__Hello h;
  conform_hello_init(&c, &h);
  edit(&h, arg);
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HELLO;
  env.hello = &h;
  conform_answer_error(x, &c, conform_send(&c, &env), code, sent);
  conform_close(&c);
}

static void edit_version(Hubrpc__V1__Hello *h, void *arg) {
  (void)arg;
  h->proto_version = 2;
}

static void version(struct conform_ctx *x) {
  bad_hello(x, edit_version, NULL, HUBRPC__V1__ERROR_CODE__ERROR_UNSUPPORTED_VERSION,
            "a Hello with proto_version 2");
}

static void edit_hub_id(Hubrpc__V1__Hello *h, void *arg) {
  h->hub_id = arg;
}

static void hub_id(struct conform_ctx *x) {
  static char long_id[66];
  memset(long_id, 'a', 65);
  static const struct {
    char *id;
    const char *sent;
  } bad[] = {{"bad id", "a Hello with hub_id \"bad id\" (a space)"},
             {long_id, "a Hello with a hub_id of 65 bytes"},
             {"", "a Hello with an empty hub_id"}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) && x->verdict == CONFORM_PASS; i++)
    bad_hello(x, edit_hub_id, bad[i].id, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD, bad[i].sent);
}

/* The other side of the hub_id rule: 64 bytes using every kind of character allowed. */
static void hub_id_edge(struct conform_ctx *x) {
  struct conform_conn c;
  conform_hub_init(x, &c, "edge");
  char id[SIM_HUBRPC_HUB_ID_MAX + 1];
  int n = snprintf(id, sizeof(id), "cf.Edge_9:-%s", c.hub_id + 8); /* keep its random part */
  memset(id + n, 'Z', SIM_HUBRPC_HUB_ID_MAX - (size_t)n);
  id[SIM_HUBRPC_HUB_ID_MAX] = '\0';
  memcpy(c.hub_id, id, sizeof(id));
  uint8_t mac[32];
  if (!conform_step_connect(x, &c) && !conform_step_hello(x, &c)) {
    conform_mac(x, &c, mac);
    conform_step_auth(x, &c, mac, sizeof(mac));
  }
  conform_close(&c);
}

static void edit_nonce(Hubrpc__V1__Hello *h, void *arg) {
  h->client_nonce.len = (size_t)(uintptr_t)arg;
}

static void client_nonce(struct conform_ctx *x) {
  bad_hello(x, edit_nonce, (void *)(uintptr_t)15, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD,
            "a Hello with a client_nonce of 15 bytes");
  if (x->verdict == CONFORM_PASS)
    bad_hello(x, edit_nonce, (void *)(uintptr_t)0, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD,
              "a Hello without client_nonce");
}

/* A frame of one body case with an empty message (Envelope field `field`, length 0). */
static int send_empty(struct conform_conn *c, unsigned field) {
  uint8_t f[3] = {0x02, (uint8_t)((field << 3) | 2), 0x00};
  return conform_send_raw(c, f, sizeof(f));
}

static void first_not_hello(struct conform_ctx *x) {
  static const struct {
    unsigned field;
    const char *sent;
  } first[] = {{5, "a Heartbeat as the first frame"},
               {3, "an Auth as the first frame"},
               {6, "a Report as the first frame"}};
  for (size_t i = 0; i < 3 && x->verdict == CONFORM_PASS; i++) {
    struct conform_conn c;
    conform_hub_init(x, &c, "first");
    if (conform_step_connect(x, &c))
      return;
    conform_answer_error(x, &c, send_empty(&c, first[i].field),
                         HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE, first[i].sent);
    conform_close(&c);
  }
}

static void second_hello(struct conform_ctx *x) {
  struct conform_conn c;
  conform_hub_init(x, &c, "again");
  if (!conform_step_connect(x, &c) && !conform_step_hello(x, &c))
    conform_answer_error(x, &c, conform_send_hello(&c),
                         HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE,
                         "a second Hello after the Challenge");
  conform_close(&c);
}

/* An OPEN session sends an empty message of Envelope field `field` -> UNEXPECTED_MESSAGE. */
static void open_unexpected(struct conform_ctx *x, unsigned field, const char *sent) {
  struct conform_conn c;
  if (!conform_open(x, &c, "dir"))
    conform_answer_error(x, &c, send_empty(&c, field),
                         HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE, sent);
  conform_close(&c);
}

static void wrong_direction(struct conform_ctx *x) {
  open_unexpected(x, 7, "an Ack (a platform-to-hub message) in OPEN");
  if (x->verdict == CONFORM_PASS)
    open_unexpected(x, 2, "a Challenge (a platform-to-hub message) in OPEN");
}

static void hello_in_open(struct conform_ctx *x) {
  struct conform_conn c;
  if (!conform_open(x, &c, "reopen"))
    conform_answer_error(x, &c, conform_send_hello(&c),
                         HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE, "a Hello in OPEN");
  conform_close(&c);
}

/* Hello, Challenge, then Auth{mac of len bytes} (the right one with bit flip when flip) ->
 * AUTH_FAILED. */
static void bad_auth(struct conform_ctx *x, size_t len, int flip, const char *sent) {
  struct conform_conn c;
  conform_hub_init(x, &c, "auth");
  if (!conform_step_connect(x, &c) && !conform_step_hello(x, &c)) {
    uint8_t mac[40] = {0};
    conform_mac(x, &c, mac);
    if (flip)
      mac[7] ^= 0x01;
    conform_answer_error(x, &c, conform_send_auth(&c, mac, len),
                         HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED, sent);
  }
  conform_close(&c);
}

static void bad_mac(struct conform_ctx *x) {
  bad_auth(x, 32, 1, "an Auth whose 32-byte mac has one bit wrong");
}

static void short_mac(struct conform_ctx *x) {
  bad_auth(x, 31, 0, "an Auth with the first 31 bytes of the right mac");
}

static void long_mac(struct conform_ctx *x) {
  bad_auth(x, 33, 0, "an Auth with the right mac and one byte more (33 bytes)");
}

static void empty_mac(struct conform_ctx *x) {
  bad_auth(x, 0, 0, "an Auth with an empty mac on a session without a client certificate");
}

static void replay(struct conform_ctx *x) {
  struct conform_conn a, b;
  conform_conn_init(&b, x->d);
  uint8_t mac[32];
  if (conform_open(x, &a, "replay"))
    goto out;
  conform_mac(x, &a, mac);
  conform_close(&a);
  /* Another connection replays the recorded Hello (same client_nonce) and the recorded Auth. */
  conform_hub_copy(x, &b, &a);
  memcpy(b.client_nonce, a.client_nonce, sizeof(a.client_nonce));
  if (conform_step_connect(x, &b) || conform_step_hello(x, &b))
    goto out;
  conform_answer_error(x, &b, conform_send_auth(&b, mac, sizeof(mac)),
                       HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED,
                       "a recorded Hello and Auth of an earlier session again (a replay)");
out:
  conform_close(&a);
  conform_close(&b);
}

/* Waits for Error{TIMEOUT} on c, connected at t0: not before 9 s (the hub has 10 s), and
 * within 10 s plus --timeout. */
static void expect_hs_timeout(struct conform_ctx *x, struct conform_conn *c, uint64_t t0,
                              const char *sent) {
  uint64_t end = t0 + HS_TIMEOUT_MS + x->o->timeout_ms, now = conform_now_ms();
  if (conform_expect_error(x, c, HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT,
                           now < end ? (uint32_t)(end - now) : 0, sent))
    return;
  uint64_t took = conform_now_ms() - t0;
  if (took < HS_TIMEOUT_MS - 1000)
    conform_fail(x, "sent %s; got Error{TIMEOUT} after %.1f s; the handshake may take 10 s (5.1)",
                 sent, (double)took / 1000.0);
}

static void hs_timeout(struct conform_ctx *x) {
  if (x->o->max_wait_ms < HS_TIMEOUT_MS + x->o->timeout_ms) {
    conform_skip(x, "waits 10 s + --timeout, more than --max-wait");
    return;
  }
  struct conform_conn a, b;
  conform_conn_init(&b, x->d);
  conform_hub_init(x, &a, "hsto");
  /* Both at once, so the case waits 10 s, not 20. */
  uint64_t t0 = conform_now_ms();
  if (!conform_step_connect(x, &a)) {
    conform_hub_init(x, &b, "hsto");
    uint64_t t1 = conform_now_ms();
    if (!conform_step_connect(x, &b) && !conform_step_hello(x, &b)) {
      expect_hs_timeout(x, &a, t0, "nothing after the connect");
      expect_hs_timeout(x, &b, t1, "a Hello and nothing after the Challenge");
    }
  }
  conform_close(&a);
  conform_close(&b);
}

const struct conform_case conform_cases_auth[] = {
    {"hs.welcome", "4.5, 5.1, 7.4",
     "valid Hello and Auth of a new hub -> Challenge (16-byte nonce), Welcome{heartbeat_s >= 1, "
     "max_window >= 1, acked_seq 0}",
     welcome, NULL},
    {"hs.challenge_fresh", "4.3", "the same Hello twice -> two different server_nonce",
     challenge_fresh, NULL},
    {"hs.version", "4.2, 14", "Hello{proto_version 2} -> Error{UNSUPPORTED_VERSION}", version,
     NULL},
    {"hs.hub_id", "4.2, 13",
     "Hello with hub_id \"bad id\", 65 bytes, empty -> Error{INVALID_FIELD} each", hub_id, NULL},
    {"hs.hub_id_edge", "4.2, 13",
     "Hello with a 64-byte hub_id of letters, digits and . _ : - -> Challenge and Welcome",
     hub_id_edge, NULL},
    {"hs.client_nonce", "4.2, 13",
     "Hello with a 15-byte or no client_nonce -> Error{INVALID_FIELD}", client_nonce, NULL},
    {"hs.first_not_hello", "5.1",
     "Heartbeat, Auth or Report as the first frame -> Error{UNEXPECTED_MESSAGE}", first_not_hello,
     NULL},
    {"hs.second_hello", "5.1", "Hello after the Challenge -> Error{UNEXPECTED_MESSAGE}",
     second_hello, NULL},
    {"hs.hello_in_open", "5.1", "Hello in OPEN -> Error{UNEXPECTED_MESSAGE}", hello_in_open, NULL},
    {"hs.wrong_direction", "5.1",
     "Ack or Challenge sent by the hub in OPEN -> "
     "Error{UNEXPECTED_MESSAGE}",
     wrong_direction, NULL},
    {"auth.bad_mac", "6.1, 4.4", "Auth with one bit of the mac wrong -> Error{AUTH_FAILED}",
     bad_mac, NULL},
    {"auth.short_mac", "4.4, 13", "Auth with a 31-byte mac -> Error{AUTH_FAILED}", short_mac, NULL},
    {"auth.long_mac", "4.4, 13", "Auth with a 33-byte mac -> Error{AUTH_FAILED}", long_mac, NULL},
    {"auth.empty_mac", "6.1", "Auth with an empty mac, no client certificate -> Error{AUTH_FAILED}",
     empty_mac, NULL},
    {"auth.replay", "6.1, 4.3",
     "an earlier session's Hello and Auth replayed -> a new nonce, Error{AUTH_FAILED}", replay,
     NULL},
    {"timeout.handshake", "5.1, 8, 12",
     "silence after the connect, and after the Challenge -> Error{TIMEOUT} 10 s after the accept",
     hs_timeout, NULL},
    {0},
};
