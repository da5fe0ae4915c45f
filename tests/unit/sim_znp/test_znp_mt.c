/* MT encoders and decoders (sim/znp/mt.h) against byte vectors.
 *
 * Where the vectors come from: each field list is the one of zigbee-herdsman's MT definitions
 * (src/adapter/z-stack/znp/definition.ts, 10.9.5) and of TI's Z-Stack Monitor and Test API;
 * the frames marked [zh] were parsed back by zigbee-herdsman's own unpi/zpiObject code (the
 * ping, version, reset, state, confirm and descriptor frames of the device research notes'
 * section 4.2), the requests marked [zh-out] are bytes zigbee-herdsman 10.9.5 wrote to hubsim
 * (its debug log of a network start), and the rest were laid out by hand from the field lists
 * with the FCS computed separately. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/err.h"
#include "sim/znp/mt.h"

#define V(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static const struct sim_znp_version zstack3x0 = {2, 1, 2, 7, 1, 20230507};

/* Encodes f and compares the whole frame with want. */
static void frame_is(const struct sim_znp_frame *f, const uint8_t *want, size_t n) {
  uint8_t out[SIM_ZNP_MAX_FRAME];
  size_t got = 0;
  assert_int_equal(sim_znp_frame_encode(f, out, sizeof out, &got), 0);
  if (got != n || memcmp(out, want, n) != 0) {
    char hex[3 * SIM_ZNP_MAX_FRAME + 1] = "";
    for (size_t i = 0; i < got; i++)
      snprintf(hex + 3 * i, 4, "%02X ", out[i]);
    fail_msg("frame differs: got %s", hex);
  }
}

/* A frame from wire bytes (SOF..FCS), for the decoders. */
static struct sim_znp_frame from_wire(const uint8_t *p, size_t n) {
  struct sim_znp_frame f;
  assert_true(n >= 5 && p[1] == n - 5);
  f.len = p[1];
  f.type = p[2] >> 5;
  f.subsys = p[2] & 0x1F;
  f.cmd = p[3];
  memcpy(f.data, p + 4, f.len);
  return f;
}

static void test_sys_frames(void **state) {
  (void)state;
  struct sim_znp_frame f;
  sim_znp_mt_ping_rsp(&f, 0x0659); /* [zh] */
  frame_is(&f, V(0xFE, 0x02, 0x61, 0x01, 0x59, 0x06, 0x3D));
  sim_znp_mt_version_rsp(&f, &zstack3x0); /* [zh] product 1 = Z-Stack 3.x.0, 20230507 */
  frame_is(&f,
           V(0xFE, 0x09, 0x61, 0x02, 0x02, 0x01, 0x02, 0x07, 0x01, 0x6B, 0xB1, 0x34, 0x01, 0x82));
  sim_znp_mt_reset_ind(&f, 0, &zstack3x0); /* [zh] */
  frame_is(&f, V(0xFE, 0x06, 0x41, 0x80, 0x00, 0x02, 0x01, 0x02, 0x07, 0x01, 0xC0));
  uint8_t v = 0x55;
  sim_znp_mt_nv_read_rsp(&f, 0x1C, 0, &v, 1); /* SYS_OSAL_NV_READ_EXT: status, len, value */
  frame_is(&f, V(0xFE, 0x03, 0x61, 0x1C, 0x00, 0x01, 0x55, 0x2A));
  sim_znp_mt_rpc_error(&f, SIM_ZNP_RPC_ERR_COMMAND_ID, 0x21, 0x55); /* RES0: code, cmd0, cmd1 */
  frame_is(&f, V(0xFE, 0x03, 0x60, 0x00, 0x02, 0x21, 0x55, 0x15));
}

static void test_zdo_util_frames(void **state) {
  (void)state;
  struct sim_znp_frame f;
  sim_znp_mt_state_change_ind(&f, SIM_ZNP_DEV_ZB_COORD); /* [zh] */
  frame_is(&f, V(0xFE, 0x01, 0x45, 0xC0, 0x09, 0x8D));
  const uint8_t eps[] = {1};
  sim_znp_mt_active_ep_rsp(&f, 0x1A2B, 0, 0x1A2B, eps, 1); /* [zh] */
  frame_is(&f, V(0xFE, 0x07, 0x45, 0x85, 0x2B, 0x1A, 0x00, 0x2B, 0x1A, 0x01, 0x01, 0xC7));
  struct sim_znp_ep ep = {.ep = 1,
                          .profile = 0x0104,
                          .device = 0x0402,
                          .version = 1,
                          .nin = 3,
                          .nout = 1,
                          .in = {0x0000, 0x0003, 0x0001},
                          .out = {0x0019}};
  sim_znp_mt_simple_desc_rsp(&f, 0x1A2B, 0, 0x1A2B, &ep); /* [zh] */
  frame_is(&f, V(0xFE, 0x16, 0x45, 0x84, 0x2B, 0x1A, 0x00, 0x2B, 0x1A, 0x10, 0x01, 0x04, 0x01, 0x02,
                 0x04, 0x01, 0x03, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x01, 0x19, 0x00, 0xDD));
  sim_znp_mt_permit_join_rsp(&f, 0x0000, 0);
  frame_is(&f, V(0xFE, 0x03, 0x45, 0xB6, 0x00, 0x00, 0x00, 0xF0));
  sim_znp_mt_permit_join_ind(&f, 60);
  frame_is(&f, V(0xFE, 0x01, 0x45, 0xCB, 0x3C, 0xB3));
  struct sim_znp_node_desc coord = {0, 0x8F, 0x0000, 0x50, 0x00A0, 0x2C01, 0x00A0};
  sim_znp_mt_node_desc_rsp(&f, 0, 0, 0, &coord);
  frame_is(&f, V(0xFE, 0x12, 0x45, 0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x8F, 0x00, 0x00,
                 0x50, 0xA0, 0x00, 0x01, 0x2C, 0xA0, 0x00, 0x00, 0x67));
  sim_znp_mt_device_info_rsp(&f, 0x00124B00D56748D0ull, 0x0000, 9);
  frame_is(&f, V(0xFE, 0x0E, 0x67, 0x00, 0x00, 0xD0, 0x48, 0x67, 0xD5, 0x00, 0x4B, 0x12, 0x00, 0x00,
                 0x00, 0x07, 0x09, 0x00, 0x14));
  struct sim_znp_nwk_info ni = {.nwk = 0,
                                .state = 9,
                                .pan = 0x1A62,
                                .parent = 0xFFFE,
                                .ext_pan = 0xDDDDDDDDDDDDDDDDull,
                                .parent_ieee = 0,
                                .channel = 15};
  sim_znp_mt_ext_nwk_info_rsp(&f, &ni);
  frame_is(&f, V(0xFE, 0x18, 0x65, 0x50, 0x00, 0x00, 0x09, 0x62, 0x1A, 0xFE, 0xFF, 0xDD, 0xDD, 0xDD,
                 0xDD, 0xDD, 0xDD, 0xDD, 0xDD, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0F,
                 0x52));
}

/* A legacy Aqara end device joining: [zh] frames for nwk 0x1A2B, IEEE 0x00158d0001a2b3c4. */
static void test_join_frames(void **state) {
  (void)state;
  struct sim_znp_frame f;
  sim_znp_mt_tc_dev_ind(&f, 0x1A2B, 0x00158D0001A2B3C4ull, 0x0000);
  frame_is(&f, V(0xFE, 0x0C, 0x45, 0xCA, 0x2B, 0x1A, 0xC4, 0xB3, 0xA2, 0x01, 0x00, 0x8D, 0x15, 0x00,
                 0x00, 0x00, 0xFE));
  sim_znp_mt_device_annce_ind(&f, 0x1A2B, 0x1A2B, 0x00158D0001A2B3C4ull, 0x80);
  frame_is(&f, V(0xFE, 0x0D, 0x45, 0xC1, 0x2B, 0x1A, 0x2B, 0x1A, 0xC4, 0xB3, 0xA2, 0x01, 0x00, 0x8D,
                 0x15, 0x00, 0x80, 0x45));
  /* logical type 2, 2.4 GHz, MAC 0x80, manufacturer 0x1037 */
  struct sim_znp_node_desc ed = {2, 0x80, 0x1037, 0x7F, 0x0064, 0x0000, 0x0064};
  sim_znp_mt_node_desc_rsp(&f, 0x1A2B, 0, 0x1A2B, &ed);
  frame_is(&f, V(0xFE, 0x12, 0x45, 0x82, 0x2B, 0x1A, 0x00, 0x2B, 0x1A, 0x02, 0x40, 0x80, 0x37, 0x10,
                 0x7F, 0x64, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x4F));
}

static void test_af_frames(void **state) {
  (void)state;
  struct sim_znp_frame f;
  /* [zh] AF_INCOMING_MSG header: group 0, cluster 0, from 0x1A2B ep 1 to ep 1, not broadcast,
   * LQI 0x6E, no security, timestamp 0x0001E240, sequence 0, 67 bytes of ZCL */
  uint8_t zcl[67];
  memset(zcl, 0x18, sizeof zcl);
  struct sim_znp_af_in in = {.cluster = 0,
                             .src = 0x1A2B,
                             .src_ep = 1,
                             .dst_ep = 1,
                             .lqi = 0x6E,
                             .timestamp = 0x0001E240,
                             .data = zcl,
                             .len = sizeof zcl};
  assert_int_equal(sim_znp_mt_af_incoming(&f, &in), 0);
  uint8_t out[SIM_ZNP_MAX_FRAME];
  size_t n = 0;
  assert_int_equal(sim_znp_frame_encode(&f, out, sizeof out, &n), 0);
  assert_int_equal(n, 5 + 0x54);
  assert_memory_equal(
      out, ((const uint8_t[]){0xFE, 0x54, 0x44, 0x81, 0x00, 0x00, 0x00, 0x00, 0x2B, 0x1A, 0x01,
                              0x01, 0x00, 0x6E, 0x00, 0x40, 0xE2, 0x01, 0x00, 0x00, 0x43}),
      21);
  in.len = SIM_ZNP_AF_IN_MAX + 1;
  assert_int_equal(sim_znp_mt_af_incoming(&f, &in), SIM_ETOOBIG);
  sim_znp_mt_af_data_confirm(&f, 0, 1, 5); /* [zh] */
  frame_is(&f, V(0xFE, 0x03, 0x44, 0x80, 0x00, 0x01, 0x05, 0xC3));
  sim_znp_mt_status_rsp(&f, SIM_ZNP_AF, SIM_ZNP_AF_REGISTER, SIM_ZNP_ST_APS_DUPLICATE_ENTRY);
  frame_is(&f, V(0xFE, 0x01, 0x64, 0x00, 0xB8, 0xDD));
  sim_znp_mt_bdb_notification(&f, 0, 4, 0);
  frame_is(&f, V(0xFE, 0x03, 0x4F, 0x80, 0x00, 0x04, 0x00, 0xC8));
}

static void test_af_register_decode(void **state) {
  (void)state;
  /* [zh-out] endpoint 11, profile 0x0104, device 0x0400, in 0x0501 0x000a, out 0x0500 0x0502 */
  struct sim_znp_frame f =
      from_wire(V(0xFE, 0x11, 0x24, 0x00, 0x0B, 0x04, 0x01, 0x00, 0x04, 0x00, 0x00, 0x02, 0x01,
                  0x05, 0x0A, 0x00, 0x02, 0x00, 0x05, 0x02, 0x05, 0x33));
  struct sim_znp_ep ep;
  assert_int_equal(sim_znp_mt_parse_af_register(&f, &ep), 0);
  assert_int_equal(ep.ep, 11);
  assert_int_equal(ep.profile, 0x0104);
  assert_int_equal(ep.device, 0x0400);
  assert_int_equal(ep.nin, 2);
  assert_int_equal(ep.in[0], 0x0501);
  assert_int_equal(ep.in[1], 0x000A);
  assert_int_equal(ep.nout, 2);
  assert_int_equal(ep.out[1], 0x0502);
  /* Every truncation is refused as malformed, and so is a trailing byte. */
  for (uint8_t n = 0; n < 17; n++) {
    struct sim_znp_frame t = f;
    t.len = n;
    assert_int_equal(sim_znp_mt_parse_af_register(&t, &ep), SIM_EMALFORMED);
  }
  f.data[f.len++] = 0;
  assert_int_equal(sim_znp_mt_parse_af_register(&f, &ep), SIM_EMALFORMED);
  /* 118 clusters cannot come back in one simple descriptor answer. */
  struct sim_znp_frame big = {.type = SIM_ZNP_SREQ, .subsys = SIM_ZNP_AF, .len = 9 + 2 * 118};
  big.data[0] = 1;
  big.data[7] = 60;
  big.data[8 + 120] = 58;
  assert_int_equal(sim_znp_mt_parse_af_register(&big, &ep), SIM_ETOOBIG);
}

static void test_af_data_decode(void **state) {
  (void)state;
  /* [zh-out] AF_DATA_REQUEST_EXT: broadcast 0xFFFD, ep 242 -> 242, cluster 0x0021 (Green
   * Power proxy), transid 1, radius 30, 6 bytes of ZCL */
  struct sim_znp_frame f = from_wire(V(0xFE, 26, 36, 2, 2, 253, 255, 0, 0, 0, 0, 0, 0, 242, 0, 0,
                                       242, 33, 0, 1, 0, 30, 6, 0, 25, 0, 2, 11, 60, 0, 40));
  struct sim_znp_af_req r;
  assert_int_equal(sim_znp_mt_parse_af_data(&f, &r), 0);
  assert_int_equal(r.mode, 2);
  assert_int_equal(r.dst, 0xFFFD);
  assert_int_equal(r.dst_ep, 242);
  assert_int_equal(r.src_ep, 242);
  assert_int_equal(r.cluster, 0x21);
  assert_int_equal(r.transid, 1);
  assert_int_equal(r.radius, 30);
  assert_int_equal(r.len, 6);
  assert_memory_equal(r.data, ((const uint8_t[]){25, 0, 2, 11, 60, 0}), 6);
  f.len--; /* len says 6, 5 follow */
  assert_int_equal(sim_znp_mt_parse_af_data(&f, &r), SIM_EMALFORMED);
}

static void test_command_table(void **state) {
  (void)state;
  const struct sim_znp_cmd_info *c = sim_znp_mt_find(SIM_ZNP_SYS, SIM_ZNP_SYS_PING, SIM_ZNP_SREQ);
  assert_non_null(c);
  assert_string_equal(c->name, "SYS_PING");
  assert_null(sim_znp_mt_find(SIM_ZNP_SYS, SIM_ZNP_SYS_PING, SIM_ZNP_AREQ));
  assert_string_equal(sim_znp_subsys_name(SIM_ZNP_APP_CNF), "APP_CNF");
  assert_string_equal(sim_znp_subsys_name(30), "?");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sys_frames),         cmocka_unit_test(test_zdo_util_frames),
      cmocka_unit_test(test_join_frames),        cmocka_unit_test(test_af_frames),
      cmocka_unit_test(test_af_register_decode), cmocka_unit_test(test_af_data_decode),
      cmocka_unit_test(test_command_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
