/* The worked examples of docs/protocol.md, checked against the codec and the auth code.
 *
 * The hex strings below are copied from the document. When one of these tests fails, either the
 * code changed the wire format (a compatibility break: see "Versioning") or the document is
 * wrong; fix one of them in the same change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/wire/auth.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"

/* docs/protocol.md, "Authentication", worked example. */
#define DOC_FLEET_KEY "hubsim-demo-fleet-key"
#define DOC_HUB_ID "hub-000001"
#define DOC_HUB_SECRET "b716ac6f60a7f2fc77f065c2dd3887044aa39eaf6bfa2aea173e9f8b02aaeb14"
#define DOC_MAC "06ca25756664943b3c248418dfb97f811a0ed56f97781e7161d1e284ae953d33"

/* docs/protocol.md, framed examples (length prefix included). */
#define DOC_HEARTBEAT "092a070880d095ffbc31"
#define DOC_ACK "053a0308ac02"
#define DOC_HELLO                                                                                  \
  "490a470801120a6875622d3030303030311a136c756d692e676174657761792e6171686d30312205312e302e30"     \
  "2a10000102030405060708090a0b0c0d0e0f31efcdab8967452301381e"
#define DOC_CHALLENGE "1412120a10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
#define DOC_AUTH "241a220a2006ca25756664943b3c248418dfb97f811a0ed56f97781e7161d1e284ae953d33"
#define DOC_AUTH_EMPTY "021a00" /* section 6.1: the certificate alone, an empty mac */
#define DOC_WELCOME "172215098877665544332211101e18fbd095ffbc31288002"
#define DOC_ERROR "0d6a0b08051207626164206d6163"

static uint8_t client_nonce[16];
static uint8_t server_nonce[16];

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < 16; i++) {
    client_nonce[i] = (uint8_t)i;
    server_nonce[i] = (uint8_t)(0xf0 + i);
  }
  return 0;
}

/* Lower-case hex of p[0..n) into out (2n+1 bytes). */
static void to_hex(const uint8_t *p, size_t n, char *out) {
  sim_hex_encode(out, p, n, 0);
}

/* Decodes hex into out (room for cap bytes); returns the byte count. */
static size_t from_hex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  assert_int_equal(sim_hex_decode(hex, strlen(hex), 0, out, cap, &n), 0);
  return n;
}

static void assert_frame(const sim_envelope *env, const char *want) {
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(sim_hubrpc_encode(&b, env), 0);
  char got[512];
  assert_true(b.len * 2 + 1 <= sizeof(got));
  to_hex(b.data, b.len, got);
  assert_string_equal(got, want);
  sim_buf_fini(&b);
}

static void test_auth_example(void **state) {
  (void)state;
  uint8_t secret[32], mac[32];
  char hex[65];
  assert_int_equal(sim_auth_hub_secret(DOC_FLEET_KEY, strlen(DOC_FLEET_KEY), DOC_HUB_ID, secret),
                   0);
  to_hex(secret, 32, hex);
  assert_string_equal(hex, DOC_HUB_SECRET);
  assert_int_equal(sim_auth_mac(secret, client_nonce, server_nonce, mac), 0);
  to_hex(mac, 32, hex);
  assert_string_equal(hex, DOC_MAC);
  /* The order of the nonces matters: swapped, the MAC differs. */
  uint8_t swapped[32];
  assert_int_equal(sim_auth_mac(secret, server_nonce, client_nonce, swapped), 0);
  assert_false(sim_auth_equal(mac, swapped, 32));
}

static void test_heartbeat_and_ack_frames(void **state) {
  (void)state;
  Hubrpc__V1__Heartbeat hb = HUBRPC__V1__HEARTBEAT__INIT;
  hb.time_ms = 1700000000000ull;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
  env.heartbeat = &hb;
  assert_frame(&env, DOC_HEARTBEAT);

  Hubrpc__V1__Ack ack = HUBRPC__V1__ACK__INIT;
  ack.up_to_seq = 300;
  sim_envelope env2 = HUBRPC__V1__ENVELOPE__INIT;
  env2.body_case = HUBRPC__V1__ENVELOPE__BODY_ACK;
  env2.ack = &ack;
  assert_frame(&env2, DOC_ACK);
}

static void test_handshake_frames(void **state) {
  (void)state;
  Hubrpc__V1__Hello hello = HUBRPC__V1__HELLO__INIT;
  hello.proto_version = 1;
  hello.hub_id = DOC_HUB_ID;
  hello.model = "lumi.gateway.aqhm01";
  hello.firmware = "1.0.0";
  hello.client_nonce.data = client_nonce;
  hello.client_nonce.len = 16;
  hello.boot_id = 0x0123456789abcdefull;
  hello.device_count = 30;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HELLO;
  env.hello = &hello;
  assert_frame(&env, DOC_HELLO);

  Hubrpc__V1__Challenge ch = HUBRPC__V1__CHALLENGE__INIT;
  ch.server_nonce.data = server_nonce;
  ch.server_nonce.len = 16;
  sim_envelope env2 = HUBRPC__V1__ENVELOPE__INIT;
  env2.body_case = HUBRPC__V1__ENVELOPE__BODY_CHALLENGE;
  env2.challenge = &ch;
  assert_frame(&env2, DOC_CHALLENGE);

  uint8_t mac[32];
  assert_int_equal(from_hex(DOC_MAC, mac, sizeof(mac)), 32);
  Hubrpc__V1__Auth auth = HUBRPC__V1__AUTH__INIT;
  auth.mac.data = mac;
  auth.mac.len = 32;
  sim_envelope env3 = HUBRPC__V1__ENVELOPE__INIT;
  env3.body_case = HUBRPC__V1__ENVELOPE__BODY_AUTH;
  env3.auth = &auth;
  assert_frame(&env3, DOC_AUTH);
  Hubrpc__V1__Auth empty = HUBRPC__V1__AUTH__INIT;
  sim_envelope env3e = HUBRPC__V1__ENVELOPE__INIT;
  env3e.body_case = HUBRPC__V1__ENVELOPE__BODY_AUTH;
  env3e.auth = &empty;
  assert_frame(&env3e, DOC_AUTH_EMPTY);

  Hubrpc__V1__Welcome w = HUBRPC__V1__WELCOME__INIT;
  w.session_id = 0x1122334455667788ull;
  w.heartbeat_s = 30;
  w.server_time_ms = 1700000000123ull;
  w.acked_seq = 0;
  w.max_window = 256;
  sim_envelope env4 = HUBRPC__V1__ENVELOPE__INIT;
  env4.body_case = HUBRPC__V1__ENVELOPE__BODY_WELCOME;
  env4.welcome = &w;
  assert_frame(&env4, DOC_WELCOME);
}

static void test_error_frame(void **state) {
  (void)state;
  struct sim_buf b;
  sim_buf_init(&b);
  assert_int_equal(sim_hubrpc_put_error(&b, HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED, "bad mac"),
                   0);
  char got[64];
  to_hex(b.data, b.len, got);
  assert_string_equal(got, DOC_ERROR);
  sim_buf_fini(&b);
}

/* The Hello of the document, read back as a receiver would. */
static void test_decode_hello(void **state) {
  (void)state;
  uint8_t f[128];
  size_t n = from_hex(DOC_HELLO, f, sizeof(f));
  size_t hdr = 0, body = 0;
  assert_int_equal(sim_frame_peek(f, n, SIM_FRAME_MAX, &hdr, &body), 0);
  assert_int_equal(hdr, 1);
  assert_int_equal(hdr + body, n);
  sim_envelope *env = NULL;
  assert_int_equal(sim_hubrpc_decode(f + hdr, body, &env), 0);
  assert_int_equal(env->body_case, HUBRPC__V1__ENVELOPE__BODY_HELLO);
  assert_int_equal(env->hello->proto_version, 1);
  assert_string_equal(env->hello->hub_id, DOC_HUB_ID);
  assert_int_equal(env->hello->client_nonce.len, 16);
  assert_memory_equal(env->hello->client_nonce.data, client_nonce, 16);
  assert_true(env->hello->boot_id == 0x0123456789abcdefull);
  assert_int_equal(env->hello->device_count, 30);
  sim_hubrpc_free(env);
}

/* docs/protocol.md, "Maximum frame size" and "Framing errors". */
static void test_frame_limits(void **state) {
  (void)state;
  size_t hdr = 0, body = 0;
  const uint8_t max_ok[] = {0x80, 0x80, 0x04};  /* 65536 */
  const uint8_t too_big[] = {0x81, 0x80, 0x04}; /* 65537 */
  const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  const uint8_t partial[] = {0x80, 0x80};
  assert_int_equal(sim_frame_peek(max_ok, sizeof(max_ok), SIM_FRAME_MAX, &hdr, &body), 0);
  assert_int_equal(hdr, 3);
  assert_int_equal(body, 65536);
  assert_int_equal(sim_frame_peek(too_big, sizeof(too_big), SIM_FRAME_MAX, &hdr, &body),
                   SIM_ETOOBIG);
  assert_int_equal(sim_frame_peek(six, sizeof(six), SIM_FRAME_MAX, &hdr, &body), SIM_EMALFORMED);
  assert_int_equal(sim_frame_peek(partial, sizeof(partial), SIM_FRAME_MAX, &hdr, &body),
                   SIM_EAGAIN);
  /* An empty body is a valid Envelope with no body: UNKNOWN_MESSAGE. */
  sim_envelope *env = NULL;
  assert_int_equal(sim_hubrpc_decode((const uint8_t *)"", 0, &env), SIM_EUNKNOWN_MSG);
  /* Field 15 is not a body of v1: UNKNOWN_MESSAGE, not MALFORMED. */
  const uint8_t unknown[] = {0x7a, 0x00};
  assert_int_equal(sim_hubrpc_decode(unknown, sizeof(unknown), &env), SIM_EUNKNOWN_MSG);
  /* A length running past the end of the body does not decode: MALFORMED_FRAME. */
  const uint8_t cut[] = {0x2a, 0x05, 0x08};
  assert_int_equal(sim_hubrpc_decode(cut, sizeof(cut), &env), SIM_EMALFORMED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_auth_example, setup),
      cmocka_unit_test(test_heartbeat_and_ack_frames),
      cmocka_unit_test_setup(test_handshake_frames, setup),
      cmocka_unit_test(test_error_frame),
      cmocka_unit_test_setup(test_decode_hello, setup),
      cmocka_unit_test(test_frame_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
