/* Cases of docs/protocol.md sections 2, 3 and 14: reassembly, the varint length prefix, the
 * frame limit, protobuf errors, unknown bodies and fields, and the nesting depth of
 * Attributes. */
#include <stdio.h>
#include <string.h>

#include "conform/conform.h"
#include "sim/wire/frame.h"

/* The Hello of c's hub as a body (no prefix) in b. */
static void hello_body(const struct conform_conn *c, struct sim_buf *b) {
  Hubrpc__V1__Hello h;
  conform_hello_init(c, &h);
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HELLO;
  env.hello = &h;
  size_t n = hubrpc__v1__envelope__get_packed_size(&env);
  sim_buf_reserve(b, n);
  b->len += hubrpc__v1__envelope__pack(&env, b->data + b->len);
}

/* Expects a Challenge (the platform read the Hello) after bytes sent as `sent`. */
static void expect_challenge(struct conform_ctx *x, struct conform_conn *c, const char *sent) {
  sim_envelope *in = NULL;
  int rc = conform_recv(c, x->o->timeout_ms, &in);
  char got[300];
  conform_describe(in, rc, got, sizeof(got));
  if (rc || in->body_case != HUBRPC__V1__ENVELOPE__BODY_CHALLENGE)
    conform_fail(x, "sent %s; expected a Challenge; got %s", sent, got);
  sim_hubrpc_free(in);
}

static void split_bytes(struct conform_ctx *x) {
  struct conform_conn c;
  conform_hub_init(x, &c, "split");
  if (conform_step_connect(x, &c))
    return;
  struct sim_buf body;
  sim_buf_init(&body);
  hello_body(&c, &body);
  uint8_t pre[5];
  size_t pl = sim_frame_put_len(pre, body.len);
  int rc = 0;
  for (size_t i = 0; i < pl && !rc; i++) {
    rc = conform_send_raw(&c, pre + i, 1);
    conform_pause(x->d, 5);
  }
  for (size_t i = 0; i < body.len && !rc; i++) {
    rc = conform_send_raw(&c, body.data + i, 1);
    if (i % 8 == 0)
      conform_pause(x->d, 5);
  }
  if (rc)
    conform_fail(x, "sent a Hello one byte per write; the platform closed before its end");
  else
    expect_challenge(x, &c, "a valid Hello one byte per write, 5 ms apart every 8 bytes");
  sim_buf_fini(&body);
  conform_close(&c);
}

static void batched(struct conform_ctx *x) {
  struct conform_conn c;
  if (conform_open(x, &c, "batch"))
    return;
  struct sim_buf b;
  sim_buf_init(&b);
  for (int i = 0; i < 3; i++) /* the Heartbeat frame of 3.3, three times */
    sim_buf_append(&b, conform_heartbeat_frame, sizeof(conform_heartbeat_frame));
  if (!conform_send_frames(x, &c, &b, "three Heartbeats")) {
    for (int i = 0; i < 3; i++) {
      sim_envelope *in = NULL;
      int rc = conform_recv(&c, x->o->timeout_ms, &in);
      char got[300];
      conform_describe(in, rc, got, sizeof(got));
      int ok = rc == 0 && in->body_case == HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
      sim_hubrpc_free(in);
      if (!ok) {
        conform_fail(x,
                     "sent three Heartbeats in one write; expected three Heartbeats back (8); "
                     "answer %d was %s",
                     i + 1, got);
        break;
      }
    }
  }
  sim_buf_fini(&b);
  conform_close(&c);
}

/* A case that sends fixed bytes as the first thing on a connection and expects an Error. */
struct raw_case {
  uint8_t bytes[8];
  size_t len;
  int code;
  const char *sent;
};

static const struct raw_case raw_prefix_5 = {
    {0x80, 0x80, 0x80, 0x80, 0x80},
    5,
    HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME,
    "80 80 80 80 80 (a length prefix not ended within 5 bytes) and no sixth byte"};
static const struct raw_case raw_prefix_32 = {{0x80, 0x80, 0x80, 0x80, 0x10},
                                              5,
                                              HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME,
                                              "80 80 80 80 10 (a length prefix of 2^32)"};
static const struct raw_case raw_too_large = {{0x81, 0x80, 0x04},
                                              3,
                                              HUBRPC__V1__ERROR_CODE__ERROR_FRAME_TOO_LARGE,
                                              "81 80 04 (a declared length of 65537) and no body"};
static const struct raw_case raw_bad_protobuf = {
    {0x03, 0x0a, 0x05, 0x08},
    4,
    HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME,
    "03 0a 05 08 (an Envelope whose hello runs past the body)"};
static const struct raw_case raw_empty = {
    {0x00}, 1, HUBRPC__V1__ERROR_CODE__ERROR_UNKNOWN_MESSAGE, "00 (a frame of length 0)"};
/* Envelope field 100, wire type 2, empty: the tag is varint (100 << 3) | 2 = a2 06. */
static const struct raw_case raw_unknown = {
    {0x03, 0xa2, 0x06, 0x00},
    4,
    HUBRPC__V1__ERROR_CODE__ERROR_UNKNOWN_MESSAGE,
    "03 a2 06 00 (an Envelope holding only an unknown field 100)"};

static void raw(struct conform_ctx *x) {
  const struct raw_case *r = x->arg;
  struct conform_conn c;
  conform_hub_init(x, &c, "raw");
  if (!conform_step_connect(x, &c))
    conform_answer_error(x, &c, conform_send_raw(&c, r->bytes, r->len), r->code, r->sent);
  conform_close(&c);
}

/* A valid Hello framed at an edge of 3.2 and 3.4: with a length prefix of 3 bytes where 1 or 2
 * would do (x->arg NULL), or padded with an unknown field (14) to a body of exactly 65536
 * bytes. Either must be read: the platform answers with a Challenge. */
static void hello_edge(struct conform_ctx *x) {
  int max = x->arg != NULL;
  struct conform_conn c;
  conform_hub_init(x, &c, max ? "max" : "varint");
  if (conform_step_connect(x, &c))
    return;
  struct sim_buf body, f;
  sim_buf_init(&body);
  sim_buf_init(&f);
  hello_body(&c, &body);
  if (max) {
    /* Field 100 (bytes): its tag (2 bytes) and a 3-byte length, then the padding. */
    size_t pad = SIM_FRAME_MAX - body.len - 5;
    uint8_t hdr[5] = {0xa2, 0x06, (uint8_t)((pad & 0x7f) | 0x80),
                      (uint8_t)(((pad >> 7) & 0x7f) | 0x80), (uint8_t)(pad >> 14)};
    sim_buf_append(&body, hdr, sizeof(hdr));
    sim_buf_reserve(&body, pad);
    memset(body.data + body.len, 0x55, pad);
    body.len += pad;
  }
  uint8_t pre[5];
  size_t pl = sim_frame_put_len(pre, body.len);
  if (!max) {
    /* L's 7-bit groups, then a padding group of 0: 3 bytes for a value below 16384. */
    pre[0] = (uint8_t)((body.len & 0x7f) | 0x80);
    pre[1] = (uint8_t)(((body.len >> 7) & 0x7f) | 0x80);
    pre[2] = 0x00;
    pl = 3;
  }
  sim_buf_append(&f, pre, pl);
  sim_buf_append(&f, body.data, body.len);
  const char *sent = max ? "a valid Hello padded with an unknown field to a body of exactly "
                           "65536 bytes"
                         : "a valid Hello whose length prefix is 3 bytes long (not minimal)";
  if (!conform_send_frames(x, &c, &f, sent))
    expect_challenge(x, &c, sent);
  sim_buf_fini(&body);
  sim_buf_fini(&f);
  conform_close(&c);
}

/* Appends the varint of v to b. */
static void put_varint(struct sim_buf *b, uint64_t v) {
  uint8_t t[10];
  size_t n = 0;
  while (v >= 0x80) {
    t[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  t[n++] = (uint8_t)v;
  sim_buf_append(b, t, n);
}

/* A Report{seq} frame whose one Attribute nests `levels` levels (members of members ...). Built
 * inside out: the deepest is Attribute{id 1, type 0x10, bool}, each level above holds only its
 * members (2 to 4 bytes a level, so 8800 levels fit in the frame limit, as in 3.4). */
static void deep_report(struct sim_buf *f, uint64_t seq, size_t levels) {
  struct sim_buf in, out;
  sim_buf_init(&in);
  sim_buf_init(&out);
  static const uint8_t leaf[] = {0x08, 0x01, 0x10, 0x10, 0x30, 0x01};
  sim_buf_append(&in, leaf, sizeof(leaf));
  for (size_t l = 1; l < levels; l++) {
    out.len = 0;
    sim_buf_append(&out, (const uint8_t[]){0x4a}, 1); /* members: field 9, wire type 2 */
    put_varint(&out, in.len);
    sim_buf_append(&out, in.data, in.len);
    struct sim_buf t = in;
    in = out;
    out = t;
  }
  struct sim_buf rep;
  sim_buf_init(&rep);
  sim_buf_append(&rep, (const uint8_t[]){0x08}, 1); /* Report.seq */
  put_varint(&rep, seq);
  sim_buf_append(&rep, (const uint8_t[]){0x20, 0x06, 0x2a}, 3); /* cluster 6; attributes */
  put_varint(&rep, in.len);
  sim_buf_append(&rep, in.data, in.len);
  out.len = 0;
  sim_buf_append(&out, (const uint8_t[]){0x32}, 1); /* Envelope.report */
  put_varint(&out, rep.len);
  sim_buf_append(&out, rep.data, rep.len);
  put_varint(f, out.len);
  sim_buf_append(f, out.data, out.len);
  sim_buf_fini(&in);
  sim_buf_fini(&out);
  sim_buf_fini(&rep);
}

/* An OPEN session sends Report{seq 1} nested `levels` deep: accepted (Ack) or refused. */
static void nesting(struct conform_ctx *x, size_t levels, int accept) {
  struct conform_conn c;
  char sent[160];
  if (conform_open(x, &c, "nest")) {
    conform_close(&c);
    return;
  }
  uint64_t seq = c.welcome_acked + 1;
  struct sim_buf f;
  sim_buf_init(&f);
  deep_report(&f, seq, levels);
  snprintf(sent, sizeof(sent), "Report{seq %llu} with Attributes nested %zu levels (%zu bytes)",
           (unsigned long long)seq, levels, f.len);
  if (!conform_send_frames(x, &c, &f, sent)) {
    c.sent_top = seq;
    if (accept)
      conform_wait_ack(x, &c, seq, sent);
    else
      conform_expect_error(x, &c, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME, x->o->timeout_ms,
                           sent);
  }
  sim_buf_fini(&f);
  conform_close(&c);
}

static void nesting_8(struct conform_ctx *x) {
  nesting(x, 8, 1);
}

static void nesting_9(struct conform_ctx *x) {
  nesting(x, 9, 0);
}

static void nesting_deep(struct conform_ctx *x) {
  nesting(x, 8800, 0);
  if (x->verdict != CONFORM_PASS)
    return;
  /* The platform must still be there: a parser without a depth limit dies on this frame. */
  struct conform_conn c;
  if (conform_open(x, &c, "after")) {
    char t[sizeof(x->why)];
    snprintf(t, sizeof(t), "after a Report nested 8800 levels, a new session did not open: %.900s",
             x->why);
    memcpy(x->why, t, sizeof(t));
  }
  conform_close(&c);
}

const struct conform_case conform_cases_frame[] = {
    {"frame.varint_noncanonical", "3.2",
     "Hello with a 3-byte length prefix (not minimal) -> Challenge", hello_edge, NULL},
    {"frame.split", "2", "Hello sent one byte per write -> Challenge", split_bytes, NULL},
    {"frame.batched", "2, 8", "three Heartbeats in one write (OPEN) -> three Heartbeats", batched,
     NULL},
    {"frame.prefix_5_bytes", "3.4 (1), 13",
     "80 80 80 80 80, no sixth byte -> Error{MALFORMED_FRAME}", raw, &raw_prefix_5},
    {"frame.prefix_32_bits", "3.4 (2), 13", "80 80 80 80 10 -> Error{MALFORMED_FRAME}", raw,
     &raw_prefix_32},
    {"frame.too_large", "3.4 (3), 13", "81 80 04 (65537), no body -> Error{FRAME_TOO_LARGE}", raw,
     &raw_too_large},
    {"frame.max_body", "3.4, 14",
     "Hello padded by an unknown field to exactly 65536 bytes -> Challenge", hello_edge, "max"},
    {"frame.bad_protobuf", "3.4 (4)", "03 0a 05 08 -> Error{MALFORMED_FRAME}", raw,
     &raw_bad_protobuf},
    {"frame.empty_body", "3.4 (5)", "00 -> Error{UNKNOWN_MESSAGE}", raw, &raw_empty},
    {"frame.unknown_body", "3.4 (5), 14", "Envelope with only field 100 -> Error{UNKNOWN_MESSAGE}",
     raw, &raw_unknown},
    {"frame.nesting_8", "3.4, 4.8", "Report with Attributes 8 levels deep (OPEN) -> Ack", nesting_8,
     NULL},
    {"frame.nesting_9", "3.4, 4.8",
     "Report with Attributes 9 levels deep -> Error{MALFORMED_FRAME}", nesting_9, NULL},
    {"frame.nesting_deep", "3.4",
     "Report nested 8800 levels (30 KB) -> Error{MALFORMED_FRAME}, and the platform still serves",
     nesting_deep, NULL},
    {0},
};
