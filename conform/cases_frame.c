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

static void varint_noncanonical(struct conform_ctx *x) {
  struct conform_conn c;
  conform_hub_init(x, &c, "varint");
  if (conform_step_connect(x, &c))
    return;
  struct sim_buf body, f;
  sim_buf_init(&body);
  sim_buf_init(&f);
  hello_body(&c, &body);
  /* The length in 3 bytes where 1 or 2 would do: L's 7-bit groups, then padding groups of 0. */
  uint8_t pre[3] = {(uint8_t)((body.len & 0x7f) | 0x80), (uint8_t)(((body.len >> 7) & 0x7f) | 0x80),
                    0x00};
  sim_buf_append(&f, pre, sizeof(pre));
  sim_buf_append(&f, body.data, body.len);
  if (!conform_send_frames(x, &c, &f, "a Hello"))
    expect_challenge(x, &c, "a valid Hello whose length prefix is 3 bytes long (not minimal)");
  sim_buf_fini(&body);
  sim_buf_fini(&f);
  conform_close(&c);
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
  if (conform_open(x, &c, "batch")) {
    conform_close(&c);
    return;
  }
  struct sim_buf b;
  sim_buf_init(&b);
  for (int i = 0; i < 3; i++) {
    Hubrpc__V1__Heartbeat hb = HUBRPC__V1__HEARTBEAT__INIT;
    hb.time_ms = 1700000000000ull + (uint64_t)i;
    sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    sim_hubrpc_encode(&b, &env);
  }
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

/* Sends raw bytes on a fresh connection and expects Error{code}. */
static void raw_expect(struct conform_ctx *x, const char *tag, const uint8_t *p, size_t n, int code,
                       const char *sent) {
  struct conform_conn c;
  conform_hub_init(x, &c, tag);
  if (conform_step_connect(x, &c))
    return;
  if (conform_send_raw(&c, p, n))
    conform_fail(x, "could not send %s", sent);
  else
    conform_expect_error(x, &c, code, x->o->timeout_ms, sent);
  conform_close(&c);
}

static void prefix_5_bytes(struct conform_ctx *x) {
  static const uint8_t p[] = {0x80, 0x80, 0x80, 0x80, 0x80};
  raw_expect(x, "pre5", p, sizeof(p), HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME,
             "80 80 80 80 80 (a length prefix not ended within 5 bytes) and no sixth byte");
}

static void prefix_32_bits(struct conform_ctx *x) {
  static const uint8_t p[] = {0x80, 0x80, 0x80, 0x80, 0x10};
  raw_expect(x, "pre32", p, sizeof(p), HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME,
             "80 80 80 80 10 (a length prefix of 2^32)");
}

static void too_large(struct conform_ctx *x) {
  static const uint8_t p[] = {0x81, 0x80, 0x04};
  raw_expect(x, "big", p, sizeof(p), HUBRPC__V1__ERROR_CODE__ERROR_FRAME_TOO_LARGE,
             "81 80 04 (a declared length of 65537) and no body");
}

static void bad_protobuf(struct conform_ctx *x) {
  static const uint8_t p[] = {0x03, 0x0a, 0x05, 0x08};
  raw_expect(x, "proto", p, sizeof(p), HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME,
             "03 0a 05 08 (an Envelope whose hello runs past the body)");
}

static void empty_body(struct conform_ctx *x) {
  static const uint8_t p[] = {0x00};
  raw_expect(x, "empty", p, sizeof(p), HUBRPC__V1__ERROR_CODE__ERROR_UNKNOWN_MESSAGE,
             "00 (a frame of length 0)");
}

static void unknown_body(struct conform_ctx *x) {
  /* Envelope field 100, wire type 2, empty: the tag is varint (100 << 3) | 2 = a2 06. */
  static const uint8_t p[] = {0x03, 0xa2, 0x06, 0x00};
  raw_expect(x, "unknown", p, sizeof(p), HUBRPC__V1__ERROR_CODE__ERROR_UNKNOWN_MESSAGE,
             "03 a2 06 00 (an Envelope holding only an unknown field 100)");
}

static void max_body(struct conform_ctx *x) {
  struct conform_conn c;
  conform_hub_init(x, &c, "max");
  if (conform_step_connect(x, &c))
    return;
  struct sim_buf body, f;
  sim_buf_init(&body);
  sim_buf_init(&f);
  hello_body(&c, &body);
  /* Pad the Envelope to exactly 65536 bytes with an unknown field 100 (bytes): its tag (2 bytes)
   * and a 3-byte length, so the padding is 65536 - len - 5 bytes. */
  size_t pad = SIM_FRAME_MAX - body.len - 5;
  uint8_t hdr[5] = {0xa2, 0x06, (uint8_t)((pad & 0x7f) | 0x80),
                    (uint8_t)(((pad >> 7) & 0x7f) | 0x80), (uint8_t)(pad >> 14)};
  sim_buf_append(&body, hdr, sizeof(hdr));
  sim_buf_reserve(&body, pad);
  memset(body.data + body.len, 0x55, pad);
  body.len += pad;
  uint8_t pre[5];
  sim_buf_append(&f, pre, sim_frame_put_len(pre, body.len));
  sim_buf_append(&f, body.data, body.len);
  if (body.len != SIM_FRAME_MAX)
    conform_fail(x, "internal: the padded Hello is %zu bytes, not 65536", body.len);
  else if (!conform_send_frames(x, &c, &f, "a 65536-byte Hello"))
    expect_challenge(x, &c,
                     "a valid Hello padded with an unknown field to a body of exactly 65536 bytes");
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
     "Hello with a 3-byte length prefix (not minimal) -> Challenge", varint_noncanonical},
    {"frame.split", "2", "Hello sent one byte per write -> Challenge", split_bytes},
    {"frame.batched", "2, 8", "three Heartbeats in one write (OPEN) -> three Heartbeats", batched},
    {"frame.prefix_5_bytes", "3.4 (1), 13",
     "80 80 80 80 80, no sixth byte -> Error{MALFORMED_FRAME}", prefix_5_bytes},
    {"frame.prefix_32_bits", "3.4 (2), 13", "80 80 80 80 10 -> Error{MALFORMED_FRAME}",
     prefix_32_bits},
    {"frame.too_large", "3.4 (3), 13", "81 80 04 (65537), no body -> Error{FRAME_TOO_LARGE}",
     too_large},
    {"frame.max_body", "3.4, 14",
     "Hello padded by an unknown field to exactly 65536 bytes -> Challenge", max_body},
    {"frame.bad_protobuf", "3.4 (4)", "03 0a 05 08 -> Error{MALFORMED_FRAME}", bad_protobuf},
    {"frame.empty_body", "3.4 (5)", "00 -> Error{UNKNOWN_MESSAGE}", empty_body},
    {"frame.unknown_body", "3.4 (5), 14", "Envelope with only field 100 -> Error{UNKNOWN_MESSAGE}",
     unknown_body},
    {"frame.nesting_8", "3.4, 4.8", "Report with Attributes 8 levels deep (OPEN) -> Ack",
     nesting_8},
    {"frame.nesting_9", "3.4, 4.8",
     "Report with Attributes 9 levels deep -> Error{MALFORMED_FRAME}", nesting_9},
    {"frame.nesting_deep", "3.4",
     "Report nested 8800 levels (30 KB) -> Error{MALFORMED_FRAME}, and the platform still serves",
     nesting_deep},
    {0},
};
