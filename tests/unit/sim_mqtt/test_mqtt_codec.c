/* The MQTT codec (sim/mqtt/codec.h): the non-normative examples of the MQTT 3.1.1 and 5.0
 * specifications byte for byte, round trips of every packet type, the stream reader across
 * every split of a stream, and one refused packet for every named decoding error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/err.h"
#include "sim/mqtt/codec.h"

#define BYTES(s) ((struct sim_mqtt_bytes){(const uint8_t *)(s), (uint16_t)strlen(s)})
#define V(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void mem_eq(const uint8_t *got, const uint8_t *want, size_t n) {
  assert_memory_equal(got, want, n);
}

static int bytes_eq(struct sim_mqtt_bytes b, const char *s) {
  return b.n == strlen(s) && memcmp(b.p, s, b.n) == 0;
}

/* Encodes pkt and returns the buffer (the caller finishes it). */
static struct sim_buf enc(const struct sim_mqtt_packet *pkt, int version) {
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(sim_mqtt_encode(&b, pkt, version), 0);
  return b;
}

/* Decodes p[0..n) and expects it refused for why. */
static void refused(const uint8_t *p, size_t n, int version, enum sim_mqtt_perr why) {
  struct sim_mqtt_packet pkt;
  enum sim_mqtt_perr got = SIM_MQTT_PE_NONE;
  int rc = sim_mqtt_decode(p, n, version, &pkt, &got);
  if (rc != SIM_EMALFORMED || got != why)
    fail_msg("expected '%s', got rc %d '%s'", sim_mqtt_perr_name(why), rc, sim_mqtt_perr_name(got));
}

static void decoded(const uint8_t *p, size_t n, int version, struct sim_mqtt_packet *pkt) {
  enum sim_mqtt_perr why = SIM_MQTT_PE_NONE;
  int rc = sim_mqtt_decode(p, n, version, pkt, &why);
  if (rc)
    fail_msg("refused: %s", sim_mqtt_perr_name(why));
}

/* 3.1.1 2.2.3 Table 2.4 and 5.0 1.5.5 Table 1-1: the remaining length's bounds per size. */
static void test_remaining_length_vectors(void **state) {
  (void)state;
  static const struct {
    uint8_t b[5];
    size_t n;
    size_t rem;
  } v[] = {
      {{0x30, 0x00}, 2, 0},
      {{0x30, 0x7F}, 2, 127},
      {{0x30, 0x80, 0x01}, 3, 128},
      {{0x30, 0xFF, 0x7F}, 3, 16383},
      {{0x30, 0x80, 0x80, 0x01}, 4, 16384},
      {{0x30, 0xFF, 0xFF, 0x7F}, 4, 2097151},
      {{0x30, 0x80, 0x80, 0x80, 0x01}, 5, 2097152},
      {{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 5, 268435455},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    size_t total = 0;
    enum sim_mqtt_perr why;
    assert_int_equal(sim_mqtt_peek(v[i].b, v[i].n, SIM_MQTT_PACKET_LIMIT, &total, &why), 0);
    assert_int_equal(total, v[i].n + v[i].rem);
    /* One byte short of the header: need more. */
    assert_int_equal(sim_mqtt_peek(v[i].b, v[i].n - 1, SIM_MQTT_PACKET_LIMIT, &total, &why),
                     SIM_EAGAIN);
  }
  /* The encoder writes the same bytes: a PUBLISH of remaining length 128 and 16384. */
  static uint8_t payload[16384];
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_PUBLISH, .topic = BYTES("t")};
  pkt.payload = payload;
  pkt.payload_len = 128 - 3;
  struct sim_buf b = enc(&pkt, SIM_MQTT_V311);
  assert_int_equal(b.len, 3 + 128);
  mem_eq(b.data, V(0x30, 0x80, 0x01));
  b.len = 0;
  pkt.payload_len = 16384 - 3;
  assert_int_equal(sim_mqtt_encode(&b, &pkt, SIM_MQTT_V311), 0);
  mem_eq(b.data, V(0x30, 0x80, 0x80, 0x01));
  sim_buf_fini(&b);
}

/* 3.1.1 3.1.2.10 Figure 3.6: the variable header of a CONNECT with user name, password, a QoS 1
 * will, clean session and a keep alive of 10 s; and 5.0 3.1.2.11 Figure 3-7, the same at level 5
 * with a Session Expiry Interval of 10. */
static void test_connect_spec_examples(void **state) {
  (void)state;
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_CONNECT};
  struct sim_mqtt_connect *c = &pkt.connect;
  c->clean = 1;
  c->will = 1;
  c->will_qos = 1;
  c->has_username = c->has_password = 1;
  c->keepalive = 10;
  c->client_id = BYTES("id");
  c->will_topic = BYTES("w");
  c->username = BYTES("u");
  c->password = BYTES("p");
  struct sim_buf b = enc(&pkt, SIM_MQTT_V311);
  assert_int_equal(b.data[0], 0x10);
  mem_eq(b.data + 2, V(0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xCE, 0x00, 0x0A));
  struct sim_mqtt_packet d;
  decoded(b.data, b.len, SIM_MQTT_V311, &d);
  assert_int_equal(d.connect.level, 4);
  assert_int_equal(d.connect.will_qos, 1);
  assert_true(bytes_eq(d.connect.client_id, "id") && bytes_eq(d.connect.will_topic, "w"));
  assert_true(bytes_eq(d.connect.username, "u") && bytes_eq(d.connect.password, "p"));
  sim_buf_fini(&b);

  sim_mqtt_set(&pkt.props, SIM_MQTT_P_SESSION_EXPIRY);
  pkt.props.session_expiry = 10;
  b = enc(&pkt, SIM_MQTT_V5);
  mem_eq(b.data + 2, V(0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0xCE, 0x00, 0x0A, 0x05, 0x11, 0x00,
                       0x00, 0x00, 0x0A));
  decoded(b.data, b.len, SIM_MQTT_V311, &d); /* a CONNECT names its own level */
  assert_int_equal(d.connect.level, 5);
  assert_int_equal(d.props.session_expiry, 10);
  assert_true(sim_mqtt_has(&d.props, SIM_MQTT_P_SESSION_EXPIRY));
  sim_buf_fini(&b);
}

/* 3.1.1 3.3.2.3 Figure 3.11 and 5.0 3.3.2.3 Figure 3-9: topic "a/b", packet identifier 10 (and
 * in 5 a property length of 0). */
static void test_publish_spec_examples(void **state) {
  (void)state;
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_PUBLISH, .qos = 1, .packet_id = 10};
  pkt.topic = BYTES("a/b");
  struct sim_buf b = enc(&pkt, SIM_MQTT_V311);
  assert_int_equal(b.len, 9);
  mem_eq(b.data, V(0x32, 0x07, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A));
  sim_buf_fini(&b);
  b = enc(&pkt, SIM_MQTT_V5);
  assert_int_equal(b.len, 10);
  mem_eq(b.data, V(0x32, 0x08, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 0x00));
  sim_buf_fini(&b);
}

/* 3.1.1 3.8.3.1 Figure 3.23 (SUBSCRIBE "a/b" QoS 1, "c/d" QoS 2), 3.9.3 Figure 3.26 (SUBACK
 * 0, 1, 2, 0x80), 3.10.3.1 Figure 3.30 (UNSUBSCRIBE "a/b", "c/d"). */
static void test_subscribe_spec_examples(void **state) {
  (void)state;
  struct sim_buf list;
  sim_buf_init(&list);
  assert_int_equal(sim_mqtt_list_add(&list, "a/b", 1), 0);
  assert_int_equal(sim_mqtt_list_add(&list, "c/d", 2), 0);
  mem_eq(list.data, V(0x00, 0x03, 'a', '/', 'b', 0x01, 0x00, 0x03, 'c', '/', 'd', 0x02));
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_SUBSCRIBE, .packet_id = 10};
  pkt.list = list.data;
  pkt.list_len = list.len;
  struct sim_buf b = enc(&pkt, SIM_MQTT_V311);
  mem_eq(b.data, V(0x82, 0x0E, 0x00, 0x0A));
  struct sim_mqtt_packet d;
  decoded(b.data, b.len, SIM_MQTT_V311, &d);
  assert_int_equal(d.count, 2);
  size_t off = 0;
  struct sim_mqtt_bytes f;
  uint8_t o;
  assert_true(sim_mqtt_list_next(&d, &off, &f, &o) && bytes_eq(f, "a/b") && o == 1);
  assert_true(sim_mqtt_list_next(&d, &off, &f, &o) && bytes_eq(f, "c/d") && o == 2);
  assert_false(sim_mqtt_list_next(&d, &off, &f, &o));
  sim_buf_fini(&b);

  static const uint8_t suback[] = {0x90, 0x06, 0x00, 0x0A, 0x00, 0x01, 0x02, 0x80};
  decoded(suback, sizeof suback, SIM_MQTT_V311, &d);
  assert_int_equal(d.count, 4);
  off = 0;
  for (int i = 0; i < 4; i++)
    assert_true(sim_mqtt_list_next(&d, &off, NULL, &o) && o == suback[4 + i]);
  assert_string_equal(sim_mqtt_reason_name(SIM_MQTT_SUBACK, 4, 0x80), "Failure");

  list.len = 0;
  assert_int_equal(sim_mqtt_list_add(&list, "a/b", -1), 0);
  assert_int_equal(sim_mqtt_list_add(&list, "c/d", -1), 0);
  pkt.type = SIM_MQTT_UNSUBSCRIBE;
  pkt.list = list.data;
  pkt.list_len = list.len;
  b = enc(&pkt, SIM_MQTT_V311);
  mem_eq(b.data, V(0xA2, 0x0C, 0x00, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x03, 'c', '/', 'd'));
  decoded(b.data, b.len, SIM_MQTT_V311, &d);
  assert_int_equal(d.count, 2);
  sim_buf_fini(&b);
  sim_buf_fini(&list);
}

/* 3.1.1 3.12-3.14 and 5.0 3.12-3.14: PINGREQ, PINGRESP and DISCONNECT are two bytes; a 5.0
 * DISCONNECT with reason 0 and no properties may be too (3.14.2.1). */
static void test_two_byte_packets(void **state) {
  (void)state;
  static const struct {
    uint8_t type, byte0;
  } v[] = {{SIM_MQTT_PINGREQ, 0xC0}, {SIM_MQTT_PINGRESP, 0xD0}, {SIM_MQTT_DISCONNECT, 0xE0}};
  for (size_t i = 0; i < 3; i++) {
    for (int ver = 4; ver <= 5; ver++) {
      struct sim_mqtt_packet pkt = {.type = v[i].type}, d;
      struct sim_buf b = enc(&pkt, ver);
      assert_int_equal(b.len, 2);
      assert_int_equal(b.data[0], v[i].byte0);
      assert_int_equal(b.data[1], 0);
      decoded(b.data, b.len, ver, &d);
      assert_int_equal(d.type, v[i].type);
      sim_buf_fini(&b);
    }
  }
  /* 5.0 3.15: AUTH too, and only in 5. */
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_AUTH}, d;
  struct sim_buf b = enc(&pkt, SIM_MQTT_V5);
  mem_eq(b.data, V(0xF0, 0x00));
  decoded(b.data, b.len, SIM_MQTT_V5, &d);
  refused(b.data, b.len, SIM_MQTT_V311, SIM_MQTT_PE_VERSION);
  b.len = 0;
  assert_int_equal(sim_mqtt_encode(&b, &pkt, SIM_MQTT_V311), SIM_EINVAL);
  sim_buf_fini(&b);
}

/* 3.1.1 3.2.2.3 Table 3.1: every CONNACK return code; 5.0 3.2.2.2: the CONNACK reason codes. */
static void test_connack_codes(void **state) {
  (void)state;
  static const char *const names311[] = {
      "Connection Accepted", "unacceptable protocol version", "identifier rejected",
      "server unavailable",  "bad user name or password",     "not authorized"};
  struct sim_mqtt_packet d;
  for (uint8_t code = 0; code <= 5; code++) {
    uint8_t p[] = {0x20, 0x02, 0x00, code};
    decoded(p, 4, SIM_MQTT_V311, &d);
    assert_int_equal(d.reason, code);
    assert_string_equal(sim_mqtt_reason_name(SIM_MQTT_CONNACK, 4, code), names311[code]);
  }
  refused(V(0x20, 0x02, 0x00, 0x06), SIM_MQTT_V311, SIM_MQTT_PE_REASON);
  static const uint8_t ok5[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
  int valid = 0;
  for (int code = 0; code < 256; code++) {
    uint8_t p[] = {0x20, 0x03, 0x00, (uint8_t)code, 0x00};
    enum sim_mqtt_perr why;
    int rc = sim_mqtt_decode(p, sizeof p, SIM_MQTT_V5, &d, &why);
    int expect = memchr(ok5, code, sizeof ok5) != NULL;
    assert_int_equal(rc == 0, expect);
    if (!expect)
      assert_int_equal(why, SIM_MQTT_PE_REASON);
    valid += rc == 0;
  }
  assert_int_equal(valid, (int)sizeof ok5);
  assert_string_equal(sim_mqtt_reason_name(SIM_MQTT_CONNACK, 5, 0x87), "Not authorized");
  assert_string_equal(sim_mqtt_reason_name(SIM_MQTT_CONNACK, 5, 0x86), "Bad User Name or Password");
  assert_string_equal(sim_mqtt_reason_name(SIM_MQTT_CONNACK, 5, 0x05), "unknown reason code");
  /* The CONNACK properties a broker announces its limits with (3.2.2.3). */
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_CONNACK, .session_present = 1};
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_RECEIVE_MAX);
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_TOPIC_ALIAS_MAX);
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_MAX_PACKET_SIZE);
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_MAX_QOS);
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_ASSIGNED_CLIENT_ID);
  pkt.props.receive_max = 20;
  pkt.props.topic_alias_max = 10;
  pkt.props.max_packet_size = 1000;
  pkt.props.max_qos = 1;
  pkt.props.assigned_client_id = BYTES("auto-1");
  struct sim_buf b = enc(&pkt, SIM_MQTT_V5);
  decoded(b.data, b.len, SIM_MQTT_V5, &d);
  assert_int_equal(d.session_present, 1);
  assert_int_equal(d.props.receive_max, 20);
  assert_int_equal(d.props.topic_alias_max, 10);
  assert_int_equal(d.props.max_packet_size, 1000);
  assert_int_equal(d.props.max_qos, 1);
  assert_true(bytes_eq(d.props.assigned_client_id, "auto-1"));
  assert_int_equal(d.props.present, pkt.props.present);
  sim_buf_fini(&b);
}

/* 5.0 3.4.2.1: PUBACK's reason code and properties may be left out; 3.1.1 3.4: two bytes. */
static void test_puback_forms(void **state) {
  (void)state;
  struct sim_mqtt_packet d;
  decoded(V(0x40, 0x02, 0x00, 0x0A), SIM_MQTT_V311, &d);
  assert_int_equal(d.packet_id, 10);
  decoded(V(0x40, 0x02, 0x00, 0x0A), SIM_MQTT_V5, &d);
  assert_int_equal(d.reason, 0);
  decoded(V(0x40, 0x03, 0x00, 0x0A, 0x10), SIM_MQTT_V5, &d);
  assert_int_equal(d.reason, 0x10);
  decoded(V(0x40, 0x08, 0x00, 0x0A, 0x87, 0x04, 0x1F, 0x00, 0x01, 'x'), SIM_MQTT_V5, &d);
  assert_int_equal(d.reason, 0x87);
  assert_true(bytes_eq(d.props.reason_string, "x"));
  refused(V(0x40, 0x03, 0x00, 0x0A, 0x00), SIM_MQTT_V311, SIM_MQTT_PE_TRAILING);
  /* The encoder writes the short form when it can, the reason when it must. */
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_PUBREL, .packet_id = 7};
  struct sim_buf b = enc(&pkt, SIM_MQTT_V5);
  mem_eq(b.data, V(0x62, 0x02, 0x00, 0x07));
  b.len = 0;
  pkt.reason = 0x92;
  assert_int_equal(sim_mqtt_encode(&b, &pkt, SIM_MQTT_V5), 0);
  mem_eq(b.data, V(0x62, 0x03, 0x00, 0x07, 0x92));
  b.len = 0;
  pkt.reason = 0x10; /* not a PUBREL reason */
  assert_int_equal(sim_mqtt_encode(&b, &pkt, SIM_MQTT_V5), SIM_EINVAL);
  assert_int_equal(b.len, 0);
  sim_buf_fini(&b);
}

/* A full MQTT 5 CONNECT and PUBLISH of every QoS decode to what was encoded. */
static void test_round_trips(void **state) {
  (void)state;
  struct sim_mqtt_packet pkt = {.type = SIM_MQTT_CONNECT}, d;
  struct sim_mqtt_connect *c = &pkt.connect;
  c->will = 1;
  c->will_qos = 2;
  c->will_retain = 1;
  c->keepalive = 60;
  c->client_id = BYTES("hub-00042");
  c->will_topic = BYTES("hubs/42/availability");
  c->will_payload = BYTES("offline");
  c->has_username = 1;
  c->username = BYTES("user \xC3\xA9");
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_SESSION_EXPIRY);
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_RECEIVE_MAX);
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_MAX_PACKET_SIZE);
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_TOPIC_ALIAS_MAX);
  sim_mqtt_set(&pkt.props, SIM_MQTT_P_USER);
  pkt.props.session_expiry = 3600;
  pkt.props.receive_max = 16;
  pkt.props.max_packet_size = 262144;
  pkt.props.topic_alias_max = 8;
  pkt.props.n_user = 2;
  pkt.props.user_key[0] = BYTES("k1");
  pkt.props.user_val[0] = BYTES("v1");
  pkt.props.user_key[1] = BYTES("k2");
  pkt.props.user_val[1] = BYTES("v2");
  sim_mqtt_set(&c->will_props, SIM_MQTT_P_WILL_DELAY);
  c->will_props.will_delay = 5;
  struct sim_buf b = enc(&pkt, SIM_MQTT_V5);
  decoded(b.data, b.len, SIM_MQTT_V5, &d);
  assert_int_equal(d.connect.keepalive, 60);
  assert_int_equal(d.connect.will_qos, 2);
  assert_int_equal(d.connect.will_retain, 1);
  assert_int_equal(d.connect.clean, 0);
  assert_int_equal(d.connect.has_password, 0);
  assert_true(bytes_eq(d.connect.will_payload, "offline"));
  assert_true(bytes_eq(d.connect.username, "user \xC3\xA9"));
  assert_int_equal(d.props.present, pkt.props.present);
  assert_int_equal(d.props.session_expiry, 3600);
  assert_int_equal(d.props.receive_max, 16);
  assert_int_equal(d.props.max_packet_size, 262144);
  assert_int_equal(d.props.topic_alias_max, 8);
  assert_int_equal(d.props.n_user, 2);
  assert_true(bytes_eq(d.props.user_key[1], "k2") && bytes_eq(d.props.user_val[1], "v2"));
  assert_int_equal(d.connect.will_props.will_delay, 5);
  sim_buf_fini(&b);

  for (uint8_t qos = 0; qos <= 2; qos++) {
    struct sim_mqtt_packet p = {.type = SIM_MQTT_PUBLISH, .qos = qos, .retain = 1};
    p.packet_id = qos ? 513 : 0;
    p.dup = qos == 2;
    p.topic = qos == 1 ? BYTES("") : BYTES("hubs/42/up");
    p.payload = (const uint8_t *)"\x00\x01payload";
    p.payload_len = 9;
    sim_mqtt_set(&p.props, SIM_MQTT_P_TOPIC_ALIAS);
    sim_mqtt_set(&p.props, SIM_MQTT_P_PAYLOAD_FORMAT);
    sim_mqtt_set(&p.props, SIM_MQTT_P_CORRELATION_DATA);
    p.props.topic_alias = 3;
    p.props.correlation_data = (struct sim_mqtt_bytes){(const uint8_t *)"\xff\x00", 2};
    b = enc(&p, SIM_MQTT_V5);
    decoded(b.data, b.len, SIM_MQTT_V5, &d);
    assert_int_equal(d.qos, qos);
    assert_int_equal(d.dup, p.dup);
    assert_int_equal(d.retain, 1);
    assert_int_equal(d.packet_id, p.packet_id);
    assert_int_equal(d.topic.n, p.topic.n);
    assert_int_equal(d.props.topic_alias, 3);
    assert_int_equal(d.props.correlation_data.n, 2);
    assert_int_equal(d.payload_len, 9);
    assert_memory_equal(d.payload, p.payload, 9);
    sim_buf_fini(&b);
  }
  /* DISCONNECT with a reason and a session expiry (5.0 3.14.2). */
  struct sim_mqtt_packet disc = {.type = SIM_MQTT_DISCONNECT, .reason = 0x04};
  sim_mqtt_set(&disc.props, SIM_MQTT_P_SESSION_EXPIRY);
  disc.props.session_expiry = 0;
  b = enc(&disc, SIM_MQTT_V5);
  mem_eq(b.data, V(0xE0, 0x07, 0x04, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00));
  decoded(b.data, b.len, SIM_MQTT_V5, &d);
  assert_int_equal(d.reason, 0x04);
  assert_string_equal(sim_mqtt_reason_name(SIM_MQTT_DISCONNECT, 5, d.reason),
                      "Disconnect with Will Message");
  sim_buf_fini(&b);
}

/* The caller's mistakes are SIM_EINVAL and write nothing. */
static void test_encoder_refusals(void **state) {
  (void)state;
  struct sim_buf b;
  sim_buf_init(&b);
  struct sim_mqtt_packet p = {.type = SIM_MQTT_PUBLISH, .topic = BYTES("a/#")};
  assert_int_equal(sim_mqtt_encode(&b, &p, 4), SIM_EINVAL);
  p.topic = BYTES("a/\xC0\x80");
  assert_int_equal(sim_mqtt_encode(&b, &p, 4), SIM_EINVAL);
  p.topic = BYTES("");
  assert_int_equal(sim_mqtt_encode(&b, &p, 5), SIM_EINVAL); /* no alias */
  p.topic = BYTES("a");
  p.qos = 3;
  assert_int_equal(sim_mqtt_encode(&b, &p, 4), SIM_EINVAL);
  p.qos = 0;
  p.dup = 1;
  assert_int_equal(sim_mqtt_encode(&b, &p, 4), SIM_EINVAL);
  p.dup = 0;
  p.qos = 1; /* packet id 0 */
  assert_int_equal(sim_mqtt_encode(&b, &p, 4), SIM_EINVAL);
  p.packet_id = 1;
  sim_mqtt_set(&p.props, SIM_MQTT_P_SESSION_EXPIRY); /* not a PUBLISH property */
  assert_int_equal(sim_mqtt_encode(&b, &p, 5), SIM_EINVAL);
  struct sim_mqtt_packet c = {.type = SIM_MQTT_CONNECT};
  c.connect.has_password = 1;
  assert_int_equal(sim_mqtt_encode(&b, &c, 4), SIM_EINVAL);
  assert_int_equal(sim_mqtt_encode(&b, &c, 6), SIM_EINVAL);
  assert_int_equal(b.len, 0);
  assert_int_equal(sim_mqtt_encode(&b, &c, 5), 0); /* a password alone is fine in 5 */
  assert_int_equal(sim_mqtt_list_add(&b, "", 0), SIM_EINVAL);
  sim_buf_fini(&b);
}

/* One packet for every reason the decoder names. */
static void test_every_decode_error(void **state) {
  (void)state;
  refused(V(0x00, 0x00), 4, SIM_MQTT_PE_TYPE);
  refused(V(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), 4, SIM_MQTT_PE_VARINT);
  refused(V(0x60, 0x02, 0x00, 0x01), 4, SIM_MQTT_PE_FLAGS);      /* PUBREL needs 0010 */
  refused(V(0xC1, 0x00), 4, SIM_MQTT_PE_FLAGS);                  /* PINGREQ needs 0000 */
  refused(V(0x38, 0x03, 0x00, 0x01, 'a'), 4, SIM_MQTT_PE_FLAGS); /* DUP on QoS 0 */
  refused(V(0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01), 4, SIM_MQTT_PE_QOS);
  refused(V(0x40, 0x01, 0x00), 4, SIM_MQTT_PE_SHORT);
  refused(V(0x40, 0x02, 0x00), 4, SIM_MQTT_PE_SHORT); /* fewer bytes than declared */
  refused(V(0xC0, 0x01, 0x00), 4, SIM_MQTT_PE_TRAILING);
  refused(V(0x20, 0x03, 0x00, 0x00, 0x00), 4, SIM_MQTT_PE_TRAILING);
  refused(V(0x30, 0x04, 0x00, 0x02, 0xC0, 0x80), 4, SIM_MQTT_PE_UTF8);       /* overlong NUL */
  refused(V(0x30, 0x03, 0x00, 0x01, 0x00), 4, SIM_MQTT_PE_UTF8);             /* U+0000 */
  refused(V(0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80), 4, SIM_MQTT_PE_UTF8); /* surrogate */
  refused(V(0x30, 0x05, 0x00, 0x03, 'a', '/', '+'), 4, SIM_MQTT_PE_TOPIC);
  refused(V(0x30, 0x02, 0x00, 0x00), 4, SIM_MQTT_PE_TOPIC);
  refused(V(0x30, 0x03, 0x00, 0x00, 0x00), 5, SIM_MQTT_PE_TOPIC); /* empty, no alias */
  refused(
      V(0x10, 0x0E, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x02, 0x00, 0x0A, 0x00, 0x00),
      4, SIM_MQTT_PE_PROTOCOL);
  refused(V(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x03, 0x00, 0x0A, 0x00, 0x00), 4,
          SIM_MQTT_PE_CONNECT_FLAGS); /* reserved bit */
  refused(V(0x10, 0x0C, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x22, 0x00, 0x0A, 0x00, 0x00), 4,
          SIM_MQTT_PE_CONNECT_FLAGS); /* will retain without a will */
  refused(V(0x20, 0x02, 0x02, 0x00), 4, SIM_MQTT_PE_ACK_FLAGS);
  refused(V(0x20, 0x02, 0x01, 0x05), 4, SIM_MQTT_PE_ACK_FLAGS); /* session present, refused */
  refused(V(0x40, 0x02, 0x00, 0x00), 4, SIM_MQTT_PE_PACKET_ID);
  refused(V(0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00), 4, SIM_MQTT_PE_PACKET_ID);
  refused(V(0x40, 0x03, 0x00, 0x01, 0x04), 5, SIM_MQTT_PE_REASON);
  refused(V(0x90, 0x03, 0x00, 0x01, 0x03), 4, SIM_MQTT_PE_REASON);
  refused(V(0x30, 0x06, 0x00, 0x01, 'a', 0x02, 0x05, 0x00), 5, SIM_MQTT_PE_PROP_UNKNOWN);
  refused(V(0x30, 0x0A, 0x00, 0x01, 'a', 0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02), 5,
          SIM_MQTT_PE_PROP_REPEATED);
  refused(V(0x30, 0x09, 0x00, 0x01, 'a', 0x05, 0x11, 0x00, 0x00, 0x00, 0x01), 5,
          SIM_MQTT_PE_PROP_PLACE);
  refused(V(0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00), 5, SIM_MQTT_PE_PROP_VALUE);
  refused(V(0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x23, 0x00, 0x00), 5, SIM_MQTT_PE_PROP_VALUE);
  /* A property length running past the packet, and a value running past the properties. */
  refused(V(0x30, 0x05, 0x00, 0x01, 'a', 0x09, 0x00), 5, SIM_MQTT_PE_SHORT);
  refused(V(0x30, 0x08, 0x00, 0x01, 'a', 0x02, 0x23, 0x00, 0x01, 0x00), 5, SIM_MQTT_PE_SHORT);
  refused(V(0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x04), 4, SIM_MQTT_PE_SUB_OPTIONS);
  refused(V(0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30), 5, SIM_MQTT_PE_SUB_OPTIONS);
  refused(V(0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x03), 4, SIM_MQTT_PE_QOS);
  refused(V(0x82, 0x02, 0x00, 0x01), 4, SIM_MQTT_PE_EMPTY_LIST);
  refused(V(0x90, 0x02, 0x00, 0x01), 4, SIM_MQTT_PE_EMPTY_LIST);
  refused(V(0xB0, 0x03, 0x00, 0x01, 0x00), 5, SIM_MQTT_PE_EMPTY_LIST);
  refused(V(0xF0, 0x00), 4, SIM_MQTT_PE_VERSION);
  /* TOOBIG comes from the size check (sim_mqtt_peek and the reader). */
  size_t total;
  enum sim_mqtt_perr why;
  assert_int_equal(sim_mqtt_peek(V(0x30, 0x80, 0x01), 100, &total, &why), SIM_ETOOBIG);
  assert_int_equal(why, SIM_MQTT_PE_TOOBIG);
  /* Every reason has its own name. */
  for (int i = 0; i < SIM_MQTT_PE_COUNT; i++)
    for (int j = i + 1; j < SIM_MQTT_PE_COUNT; j++)
      assert_string_not_equal(sim_mqtt_perr_name(i), sim_mqtt_perr_name(j));
}

struct seen {
  int n;
  uint8_t types[16];
  size_t payload[16];
  size_t oversized[16];
  uint16_t pid[16];
  uint8_t qos[16];
};

static int on_packet(void *arg, const struct sim_mqtt_packet *pkt) {
  struct seen *s = arg;
  if (s->n < 16) {
    s->types[s->n] = pkt->type;
    s->payload[s->n] = pkt->payload_len;
    s->oversized[s->n] = pkt->oversized;
    s->pid[s->n] = pkt->packet_id;
    s->qos[s->n] = pkt->qos;
  }
  s->n++;
  return 0;
}

/* A stream of six packets, one of them 3,000 bytes, split once at every point and also fed a
 * byte at a time, always yields the same six packets. */
static void test_reader_every_split(void **state) {
  (void)state;
  struct sim_buf s;
  sim_buf_init(&s);
  static uint8_t big[3000];
  struct sim_mqtt_packet pkts[] = {
      {.type = SIM_MQTT_CONNACK},
      {.type = SIM_MQTT_PINGRESP},
      {.type = SIM_MQTT_PUBLISH,
       .qos = 1,
       .packet_id = 1,
       .topic = BYTES("a"),
       .payload = big,
       .payload_len = sizeof big},
      {.type = SIM_MQTT_PUBACK, .packet_id = 9},
      {.type = SIM_MQTT_PUBLISH, .topic = BYTES("b")},
      {.type = SIM_MQTT_DISCONNECT},
  };
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(sim_mqtt_encode(&s, &pkts[i], SIM_MQTT_V5), 0);
  for (size_t cut = 0; cut <= s.len; cut++) {
    struct sim_mqtt_reader r;
    struct seen seen = {0};
    sim_mqtt_reader_init(&r, 0, SIM_MQTT_V5);
    assert_int_equal(sim_mqtt_reader_feed(&r, s.data, cut, on_packet, &seen), 0);
    assert_int_equal(sim_mqtt_reader_feed(&r, s.data + cut, s.len - cut, on_packet, &seen), 0);
    assert_int_equal(seen.n, 6);
    for (int i = 0; i < 6; i++)
      assert_int_equal(seen.types[i], pkts[i].type);
    assert_int_equal(seen.payload[2], sizeof big);
    assert_int_equal(r.pending.len, 0);
    sim_mqtt_reader_fini(&r);
  }
  struct sim_mqtt_reader r;
  struct seen seen = {0};
  sim_mqtt_reader_init(&r, 0, SIM_MQTT_V5);
  for (size_t i = 0; i < s.len; i++)
    assert_int_equal(sim_mqtt_reader_feed(&r, s.data + i, 1, on_packet, &seen), 0);
  assert_int_equal(seen.n, 6);
  sim_mqtt_reader_fini(&r);
  sim_buf_fini(&s);
}

/* The size is checked from the remaining length before the body is buffered: a header that
 * declares 200 MB is refused as soon as its last byte arrives, with nothing kept. */
static void test_reader_size_before_buffering(void **state) {
  (void)state;
  struct sim_mqtt_reader r;
  struct seen seen = {0};
  sim_mqtt_reader_init(&r, 1000, SIM_MQTT_V311);
  static const uint8_t hdr[] = {0x30, 0x80, 0x80, 0x80, 0x64};
  assert_int_equal(sim_mqtt_reader_feed(&r, hdr, 4, on_packet, &seen), 0);
  assert_int_equal(sim_mqtt_reader_feed(&r, hdr + 4, 1, on_packet, &seen), SIM_ETOOBIG);
  assert_int_equal(r.why, SIM_MQTT_PE_TOOBIG);
  assert_int_equal(r.type_seen, SIM_MQTT_PUBLISH);
  assert_true(r.pending.cap <= 64);
  sim_mqtt_reader_fini(&r);
  /* The same in one read, and a packet of exactly the limit passes. */
  sim_mqtt_reader_init(&r, 1000, SIM_MQTT_V311);
  assert_int_equal(sim_mqtt_reader_feed(&r, hdr, 5, on_packet, &seen), SIM_ETOOBIG);
  sim_mqtt_reader_fini(&r);
  static uint8_t pkt[1000];
  pkt[0] = 0x30;
  pkt[1] = 0xE5; /* 997 = 0x3E5 */
  pkt[2] = 0x07;
  pkt[4] = 1;
  pkt[5] = 'a';
  sim_mqtt_reader_init(&r, 1000, SIM_MQTT_V311);
  assert_int_equal(sim_mqtt_reader_feed(&r, pkt, 1000, on_packet, &seen), 0);
  assert_int_equal(seen.n, 1);
  assert_int_equal(seen.payload[0], 994);
  sim_mqtt_reader_fini(&r);
  pkt[1] = 0xE6; /* 998: one byte over */
  sim_mqtt_reader_init(&r, 1000, SIM_MQTT_V311);
  assert_int_equal(sim_mqtt_reader_feed(&r, pkt, 3, on_packet, &seen), SIM_ETOOBIG);
  sim_mqtt_reader_fini(&r);
  /* A limit above MQTT's own is lowered to it; 0 is the default. */
  sim_mqtt_reader_init(&r, (size_t)1 << 40, 4);
  assert_int_equal(r.max, SIM_MQTT_PACKET_LIMIT);
  sim_mqtt_reader_fini(&r);
  sim_mqtt_reader_init(&r, 0, 4);
  assert_int_equal(r.max, SIM_MQTT_PACKET_DEFAULT);
  sim_mqtt_reader_fini(&r);
  /* A malformed varint is refused by the reader too, with its reason. */
  sim_mqtt_reader_init(&r, 0, 4);
  assert_int_equal(sim_mqtt_reader_feed(&r, V(0x30, 0xFF, 0xFF, 0xFF, 0xFF), on_packet, &seen),
                   SIM_EMALFORMED);
  assert_int_equal(r.why, SIM_MQTT_PE_VARINT);
  sim_mqtt_reader_fini(&r);
}

/* A reader with limit max and skip_big refuses p[0..n) with rc and why, delivering nothing. */
static void skip_refused(const uint8_t *p, size_t n, size_t max, int rc, enum sim_mqtt_perr why) {
  struct sim_mqtt_reader r;
  struct seen seen = {0};
  sim_mqtt_reader_init(&r, max, SIM_MQTT_V311);
  r.skip_big = 1;
  assert_int_equal(sim_mqtt_reader_feed(&r, p, n, on_packet, &seen), rc);
  assert_int_equal(r.why, why);
  assert_int_equal(seen.n, 0);
  sim_mqtt_reader_fini(&r);
}

/* skip_big: PUBLISHes above the limit (QoS 1 of 5,000 bytes, QoS 0 of 70,000 with a topic of
 * 300 bytes) are delivered as their head alone, with oversized set, and the packets around them
 * still arrive, however the stream is cut; any other packet above the limit is still refused, as
 * is an oversized PUBLISH whose topic does not fit it or whose QoS is 3. */
static void test_reader_skips_oversized_publish(void **state) {
  (void)state;
  static uint8_t big[70000];
  static char topic[301];
  memset(topic, 't', 300);
  struct sim_mqtt_packet pkts[] = {
      {.type = SIM_MQTT_PINGRESP},
      {.type = SIM_MQTT_PUBLISH,
       .qos = 1,
       .packet_id = 7,
       .topic = BYTES("a/b"),
       .payload = big,
       .payload_len = 5000},
      {.type = SIM_MQTT_PUBACK, .packet_id = 9},
      {.type = SIM_MQTT_PUBLISH,
       .topic = {(const uint8_t *)topic, 300},
       .payload = big,
       .payload_len = sizeof big},
      {.type = SIM_MQTT_PUBLISH, .qos = 1, .packet_id = 3, .topic = BYTES("c")},
  };
  struct sim_buf s;
  sim_buf_init(&s);
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(sim_mqtt_encode(&s, &pkts[i], SIM_MQTT_V311), 0);
  /* Every cut point in the first 400 bytes and around each packet's edges, then a byte at a
   * time. */
  for (size_t cut = 0; cut <= s.len; cut += cut < 400 || cut > s.len - 400 ? 1 : 997) {
    for (int bytewise = 0; bytewise < 2; bytewise++) {
      if (bytewise && cut)
        break;
      struct sim_mqtt_reader r;
      struct seen seen = {0};
      sim_mqtt_reader_init(&r, 1024, SIM_MQTT_V311);
      r.skip_big = 1;
      if (bytewise) {
        for (size_t i = 0; i < s.len; i++)
          assert_int_equal(sim_mqtt_reader_feed(&r, s.data + i, 1, on_packet, &seen), 0);
      } else {
        assert_int_equal(sim_mqtt_reader_feed(&r, s.data, cut, on_packet, &seen), 0);
        assert_int_equal(sim_mqtt_reader_feed(&r, s.data + cut, s.len - cut, on_packet, &seen), 0);
      }
      assert_int_equal(seen.n, 5);
      for (int i = 0; i < 5; i++)
        assert_int_equal(seen.types[i], pkts[i].type);
      assert_int_equal(seen.oversized[0], 0);
      assert_int_equal(seen.oversized[1], 1 + 2 + 2 + 3 + 2 + 5000);
      assert_int_equal(seen.pid[1], 7);
      assert_int_equal(seen.qos[1], 1);
      assert_int_equal(seen.payload[1], 0);
      assert_int_equal(seen.oversized[3], 1 + 3 + 2 + 300 + sizeof big);
      assert_int_equal(seen.oversized[4], 0);
      assert_int_equal(seen.pid[4], 3);
      assert_int_equal(r.pending.len, 0);
      assert_true(r.pending.cap <= 4096);
      sim_mqtt_reader_fini(&r);
    }
  }
  sim_buf_fini(&s);
  /* Not a PUBLISH: refused. A topic longer than the packet, QoS 3, packet id 0 on QoS 1. */
  skip_refused(V(0x90, 0x80, 0x80, 0x01), 1000, SIM_ETOOBIG, SIM_MQTT_PE_TOOBIG);
  skip_refused(V(0x30, 0x14, 0xFF, 0xFF), 10, SIM_EMALFORMED, SIM_MQTT_PE_SHORT);
  skip_refused(V(0x36, 0x14, 0x00, 0x01), 10, SIM_EMALFORMED, SIM_MQTT_PE_QOS);
  skip_refused(V(0x32, 0x14, 0x00, 0x01, 'a', 0x00, 0x00), 10, SIM_EMALFORMED,
               SIM_MQTT_PE_PACKET_ID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_remaining_length_vectors),
      cmocka_unit_test(test_connect_spec_examples),
      cmocka_unit_test(test_publish_spec_examples),
      cmocka_unit_test(test_subscribe_spec_examples),
      cmocka_unit_test(test_two_byte_packets),
      cmocka_unit_test(test_connack_codes),
      cmocka_unit_test(test_puback_forms),
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_encoder_refusals),
      cmocka_unit_test(test_every_decode_error),
      cmocka_unit_test(test_reader_every_split),
      cmocka_unit_test(test_reader_size_before_buffering),
      cmocka_unit_test(test_reader_skips_oversized_publish),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
