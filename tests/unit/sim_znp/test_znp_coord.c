/* The emulated coordinator (sim/znp/coord.h) driven as a host drives it, frame by frame,
 * without sockets: NV items, reset with startup options, formation by BDB commissioning, a
 * restart on the same NV file that restores instead of forming, AF registration and the
 * coordinator's descriptors, permit join, and the answers to unknown and malformed requests.
 * The NV file's loader refuses malformed files naming the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/err.h"
#include "sim/fleet/model.h"
#include "sim/znp/coord.h"

#include "tests/unit/sim_znp/znp_test_util.h"

/* A factory-new coordinator: NWKKEY is 21 bytes (the unaligned layout), no NIB, not
 * configured; ping and version answer. */
static void test_fresh_nv(void **state) {
  struct fixture *fx = *state;
  assert_int_equal(SREQ(fx, SIM_ZNP_SYS, SIM_ZNP_SYS_PING), 1);
  assert_int_equal(got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_SYS, 1)->len, 2);
  assert_int_equal(SREQ(fx, SIM_ZNP_SYS, SIM_ZNP_SYS_VERSION), 1);
  /* Z-Stack 3.x.0 (product 1), 2.7.1, revision 20230507: what docs/hil.md says and
   * zigbee-herdsman's LED and association choices depend on. */
  const struct sim_znp_frame *v = got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_SYS, 2);
  assert_int_equal(v->len, 9);
  assert_memory_equal(v->data, ((const uint8_t[]){2, 1, 2, 7, 1, 0x6B, 0xB1, 0x34, 0x01}), 9);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_NWKKEY), 21);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_NIB), 0);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_HAS_CONFIGURED), 0);
  assert_int_equal(SREQ(fx, SIM_ZNP_UTIL, SIM_ZNP_UTIL_GET_DEVICE_INFO), 1);
  assert_int_equal(got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_UTIL, 0)->data[12], SIM_ZNP_DEV_HOLD);
}

/* OSAL NV: init (created 0x09, existing 0x00), write, read back at an offset, a write past the
 * end refused, delete with the wrong and the right length. */
static void test_nv_items(void **state) {
  struct fixture *fx = *state;
  SREQ(fx, SIM_ZNP_SYS, 0x07, 0x60, 0x00, 0x01, 0x00, 0x01, 0x55);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x07), SIM_ZNP_ST_NV_ITEM_UNINIT);
  SREQ(fx, SIM_ZNP_SYS, 0x07, 0x60, 0x00, 0x01, 0x00, 0x01, 0x55);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x07), SIM_ZNP_ST_SUCCESS);
  SREQ(fx, SIM_ZNP_SYS, 0x07, 0x34, 0x12, 0x04, 0x00, 0x00);
  SREQ(fx, SIM_ZNP_SYS, 0x1D, 0x34, 0x12, 0x01, 0x00, 0x03, 0x00, 0xAA, 0xBB, 0xCC);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x1D), 0);
  SREQ(fx, SIM_ZNP_SYS, 0x1D, 0x34, 0x12, 0x02, 0x00, 0x03, 0x00, 0xAA, 0xBB, 0xCC);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x1D), SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  SREQ(fx, SIM_ZNP_SYS, 0x1C, 0x34, 0x12, 0x02, 0x00);
  const struct sim_znp_frame *f = got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_SYS, 0x1C);
  assert_int_equal(f->len, 4);
  assert_memory_equal(f->data, ((const uint8_t[]){0, 2, 0xBB, 0xCC}), 4);
  SREQ(fx, SIM_ZNP_SYS, 0x12, 0x34, 0x12, 0x05, 0x00);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x12), SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  SREQ(fx, SIM_ZNP_SYS, 0x12, 0x34, 0x12, 0x04, 0x00);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x12), 0);
  assert_int_equal(nv_length(fx, 0x1234), 0);
  SREQ(fx, SIM_ZNP_SYS, 0x1D, 0x34, 0x12, 0x00, 0x00, 0x01, 0x00, 0xAA);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x1D), SIM_ZNP_ST_NV_ITEM_UNINIT);
  /* The extended tables exist with their entries (the TCLK table's first, 19 bytes). */
  SREQ(fx, SIM_ZNP_SYS, 0x32, 0x01, 0x04, 0x00, 0x00, 0x00);
  assert_int_equal(got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_SYS, 0x32)->data[0], 19);
}

/* Formation as zigbee-herdsman commissions: commissioning items, BDB channel, BDB formation;
 * then the NIB carries them; a second coordinator on the same file restores the network with
 * ZDO_STARTUP_FROM_APP (status 0) instead of forming one. */
static void test_form_and_restore(void **state) {
  struct fixture *fx = *state;
  /* startup option 3 and a reset: the configured flag goes */
  SREQ(fx, SIM_ZNP_SYS, 0x07, 0x60, 0x00, 0x01, 0x00, 0x01, 0x55);
  SREQ(fx, SIM_ZNP_SYS, 0x1D, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03);
  assert_int_equal(req(fx, SIM_ZNP_AREQ, SIM_ZNP_SYS, 0x00, (const uint8_t[]){1}, 1), 1);
  got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_SYS, SIM_ZNP_SYS_RESET_IND);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_HAS_CONFIGURED), 0);
  SREQ(fx, SIM_ZNP_SYS, 0x1D, 0x83, 0x00, 0x00, 0x00, 0x02, 0x00, 0x62, 0x1A); /* PANID */
  SREQ(fx, SIM_ZNP_APP_CNF, 0x08, 0x01, 0x00, 0x80, 0x00, 0x00);               /* channel 15 */
  assert_int_equal(SREQ(fx, SIM_ZNP_APP_CNF, 0x05, 0x04), 4);
  got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_APP_CNF, 0x05);
  assert_int_equal(got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xC0)->data[0], 8);
  assert_int_equal(got(fx, 2, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xC0)->data[0], 9);
  got(fx, 3, SIM_ZNP_AREQ, SIM_ZNP_APP_CNF, 0x80);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_NIB), SIM_ZNP_NIB_LEN);
  SREQ(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_EXT_NWK_INFO);
  const struct sim_znp_frame *f = got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_ZDO, 0x50);
  assert_int_equal(f->data[3] | f->data[4] << 8, 0x1A62);
  assert_int_equal(f->data[23], 15);
  SREQ(fx, SIM_ZNP_SYS, 0x07, 0x60, 0x00, 0x01, 0x00, 0x01, 0x55);

  close_coord(fx);
  open_coord(fx);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_HAS_CONFIGURED), 1);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_NWK_ACTIVE_KEY_INFO), 17);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x40, 100, 0), 3);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, 0x40), 0); /* restored, not new */
  assert_int_equal(got(fx, 2, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xC0)->data[0], 9);
  SREQ(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_EXT_NWK_INFO);
  f = got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_ZDO, 0x50);
  assert_int_equal(f->data[3] | f->data[4] << 8, 0x1A62);
}

/* AF registration, then the coordinator's active endpoints and simple descriptors; a second
 * registration of the same endpoint is a duplicate. */
static void test_endpoints(void **state) {
  struct fixture *fx = *state;
  SREQ(fx, SIM_ZNP_AF, 0x00, 0x0B, 0x04, 0x01, 0x00, 0x04, 0x00, 0x00, 0x02, 0x01, 0x05, 0x0A, 0x00,
       0x02, 0x00, 0x05, 0x02, 0x05);
  assert_int_equal(status_of(fx, SIM_ZNP_AF, 0), 0);
  SREQ(fx, SIM_ZNP_AF, 0x00, 0x0B, 0x04, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00);
  assert_int_equal(status_of(fx, SIM_ZNP_AF, 0), SIM_ZNP_ST_APS_DUPLICATE_ENTRY);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x05, 0, 0, 0, 0), 2);
  const struct sim_znp_frame *f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x85);
  assert_memory_equal(f->data, ((const uint8_t[]){0, 0, 0, 0, 0, 1, 11}), 7);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x04, 0, 0, 0, 0, 11), 2);
  f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x84);
  assert_int_equal(f->data[5], 16); /* 8 + 2 * 4 clusters */
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x04, 0, 0, 0, 0, 12), 2);
  assert_int_equal(got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x84)->data[2], 0x83);
  /* No device has joined: a request to another address finds no route. */
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x05, 0x2B, 0x1A, 0x2B, 0x1A), 1);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, 0x05), SIM_ZNP_ST_NWK_NO_ROUTE);
  /* An AF data request from the registered endpoint: SRSP, then the confirm with its id. */
  assert_int_equal(SREQ(fx, SIM_ZNP_AF, 0x01, 0xFC, 0xFF, 1, 11, 0x06, 0, 7, 0, 30, 1, 0xAB), 2);
  f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_AF, 0x80);
  assert_memory_equal(f->data, ((const uint8_t[]){0, 11, 7}), 3);
}

/* Permit join to the coordinator only (0xFFFC): SRSP, the ZDO answer, the indication; the
 * window closes after its duration. */
static void test_permit_join(void **state) {
  struct fixture *fx = *state;
  fx->now = 1000;
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x02, 0xFC, 0xFF, 60, 1), 3);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, 0x36), 0);
  got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xB6);
  assert_int_equal(got(fx, 2, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xCB)->data[0], 60);
  assert_true(sim_znp_coord_permit_open(fx->c, 60999));
  assert_false(sim_znp_coord_permit_open(fx->c, 61000));
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 0, 1), 2); /* broadcast close */
  assert_false(sim_znp_coord_permit_open(fx->c, 2000));
}

/* A command not served gets the RPC error SRSP (invalid command id, or subsystem) naming it;
 * a served command with a short payload gets the RPC length error; neither changes state. */
static void test_unknown_and_malformed(void **state) {
  struct fixture *fx = *state;
  assert_int_equal(SREQ(fx, SIM_ZNP_SYS, 0x55, 1, 2), 1);
  const struct sim_znp_frame *f = got(fx, 0, SIM_ZNP_SRSP, 0, 0);
  assert_memory_equal(f->data, ((const uint8_t[]){2, 0x21, 0x55}), 3);
  assert_int_equal(SREQ(fx, 0x1E, 0x01), 1);
  assert_int_equal(got(fx, 0, SIM_ZNP_SRSP, 0, 0)->data[0], 1);
  assert_int_equal(SREQ(fx, SIM_ZNP_SYS, 0x1D, 0x60, 0x00, 0x00, 0x00, 0x05, 0x00, 1), 1);
  assert_int_equal(got(fx, 0, SIM_ZNP_SRSP, 0, 0)->data[0], 4);
  assert_int_equal(req(fx, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x77, NULL, 0), 0);
  assert_int_equal(fx->c->stats.unsupported, 2);
  assert_int_equal(fx->c->stats.malformed, 1);
}

/* A malformed NV file is refused with its line named; nothing is written over it. */
static void test_nv_file_refused(void **state) {
  struct fixture *fx = *state;
  close_coord(fx);
  static const char *bad[] = {"0001 00124b0001020304\n0021 0g\n", "0001 00\n0001 01\n",
                              "# ok\nzz\n", "0001 0\n"};
  static const char *want[] = {"line 2", "line 2", "line 2", "line 1"};
  for (int i = 0; i < 4; i++) {
    FILE *fp = fopen(fx->nv, "w");
    fputs(bad[i], fp);
    fclose(fp);
    struct sim_znp_coord *c = calloc(1, sizeof *c);
    char why[256];
    int rc = sim_znp_coord_init(c, fx->nv, sink_cb, &fx->sink, why, sizeof why);
    assert_int_equal(rc, SIM_EMALFORMED);
    if (!strstr(why, want[i]))
      fail_msg("file %d: '%s' does not name %s", i, why, want[i]);
    free(c);
    fp = fopen(fx->nv, "r");
    char back[64] = "";
    size_t n = fread(back, 1, sizeof back - 1, fp);
    fclose(fp);
    back[n] = '\0';
    assert_string_equal(back, bad[i]);
  }
}

/* A legacy Aqara temperature sensor as the model registry describes one (sleepy battery end
 * device, manufacturer 0x1037, one endpoint). */
static const uint16_t ht_in[] = {0x0000, 0x0003, 0x0001};
static const uint16_t ht_out[] = {0x0019};
static const struct sim_model_endpoint ht_ep = {1, 0x0104, 0x0402, ht_in, 3, ht_out, 1};
static const struct sim_model ht_model = {.model_id = "lumi.test",
                                          .power_source = SIM_POWER_BATTERY,
                                          .logical_type = SIM_LOGICAL_END_DEVICE,
                                          .sleepy = 1,
                                          .manufacturer_code = 0x1037,
                                          .ieee_oui = 0x00158D,
                                          .endpoints = &ht_ep,
                                          .n_endpoints = 1};

/* A device joins only into a running network with joining permitted; the host then sees the
 * trust-centre indication and the announcement, and the device's descriptors come from its
 * model; a rejoin keeps its address. */
static void test_device_join(void **state) {
  struct fixture *fx = *state;
  const uint64_t ieee = 0x00158D0001A2B3C4ull;
  uint16_t nwk = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &ht_model, ieee, 0, &nwk), SIM_EUNEXPECTED);
  SREQ(fx, SIM_ZNP_APP_CNF, 0x05, 0x04); /* form */
  assert_int_equal(sim_znp_coord_join(fx->c, &ht_model, ieee, 0, &nwk), SIM_EUNEXPECTED);
  SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 60, 1);
  fx->sink.n = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &ht_model, ieee, 1000, &nwk), 0);
  assert_true(nwk > 0 && nwk < 0xFFF8);
  assert_int_equal(fx->sink.n, 2);
  const struct sim_znp_frame *f = got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xCA);
  assert_int_equal(f->data[0] | f->data[1] << 8, nwk);
  f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xC1);
  assert_int_equal(f->data[12], 0x80); /* sleepy battery end device */
  uint8_t lo = (uint8_t)nwk, hi = (uint8_t)(nwk >> 8);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x02, lo, hi, lo, hi), 2);
  f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x82);
  assert_memory_equal(f->data + 5, ((const uint8_t[]){0x02, 0x40, 0x80, 0x37, 0x10}), 5);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x05, lo, hi, lo, hi), 2);
  f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x85);
  assert_memory_equal(f->data + 5, ((const uint8_t[]){1, 1}), 2);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x04, lo, hi, lo, hi, 1), 2);
  f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x84);
  assert_memory_equal(f->data + 5,
                      ((const uint8_t[]){0x10, 0x01, 0x04, 0x01, 0x02, 0x04, 0x01, 0x03, 0x00, 0x00,
                                         0x03, 0x00, 0x01, 0x00, 0x01, 0x19, 0x00}),
                      17);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x04, lo, hi, lo, hi, 2), 2);
  assert_int_equal(got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x84)->data[2], 0x83);
  uint16_t again = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &ht_model, ieee, 2000, &again), 0);
  assert_int_equal(again, nwk);
  assert_int_equal(fx->c->ndevs, 1);
  assert_int_equal(sim_znp_coord_join(fx->c, &ht_model, ieee + 1, 61000, NULL), SIM_EUNEXPECTED);
}

/* A behaviour for the ZCL path: on join it reports one attribute; a command is answered with a
 * frame carrying the device's tsn at that moment and the command's payload. */
static int joins_seen;
static void fake_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                      int rejoin) {
  (void)m;
  joins_seen += 1 + rejoin * 10;
  const uint8_t report[] = {0x18, d->tsn++, 0x0A, 0x05, 0x00, 0x42, 0x01, 'x'};
  env->emit(env, 1, 0x0000, report, sizeof report);
}
static int fake_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                        const struct sim_dev_cmd *cmd, uint32_t *latency_us) {
  (void)m;
  *latency_us = 0;
  uint8_t rsp[8] = {0x18, d->tsn++, 0x01, cmd->command, (uint8_t)cmd->len, cmd->global};
  env->emit(env, cmd->endpoint, cmd->cluster, rsp, 6);
  return 0;
}
static const struct sim_model_ops fake_ops = {.join = fake_join, .command = fake_command};
static const struct sim_model zcl_model = {.model_id = "lumi.zcl.test",
                                           .power_source = SIM_POWER_MAINS,
                                           .logical_type = SIM_LOGICAL_ROUTER,
                                           .manufacturer_code = 0x115F,
                                           .endpoints = &ht_ep,
                                           .n_endpoints = 1,
                                           .ops = &fake_ops};

/* The device's behaviour: its join report arrives as AF_INCOMING_MSG after the announcement;
 * a Read Attributes from the host gets the data confirm, then the device's answer with the
 * request's sequence number; a rejoin runs the join again as a rejoin. */
static void test_device_zcl(void **state) {
  struct fixture *fx = *state;
  SREQ(fx, SIM_ZNP_APP_CNF, 0x05, 0x04);
  SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 60, 1);
  SREQ(fx, SIM_ZNP_AF, 0x00, 0x01, 0x04, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00);
  fx->sink.n = 0;
  joins_seen = 0;
  uint16_t nwk = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &zcl_model, 0x00158D0000000001ull, 10, &nwk), 0);
  assert_int_equal(fx->sink.n, 3);
  assert_int_equal(got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xC1)->data[12], 0x8E); /* router */
  const struct sim_znp_frame *f = got(fx, 2, SIM_ZNP_AREQ, SIM_ZNP_AF, 0x81);
  assert_int_equal(f->data[4] | f->data[5] << 8, nwk); /* from the device */
  assert_int_equal(f->data[6], 1);                     /* its endpoint 1 */
  assert_int_equal(f->data[7], 1);                     /* to the host's endpoint 1 */
  assert_int_equal(f->data[16], 8);
  assert_int_equal(f->data[17 + 7], 'x');
  uint8_t lo = (uint8_t)nwk, hi = (uint8_t)(nwk >> 8);
  /* AF_DATA_REQUEST: genBasic read of modelId (0x0005), tsn 0x42 */
  assert_int_equal(SREQ(fx, SIM_ZNP_AF, 0x01, lo, hi, 1, 1, 0x00, 0x00, 9, 0, 30, 5, 0x00, 0x42,
                        0x00, 0x05, 0x00),
                   3);
  got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_AF, 0x01);
  assert_memory_equal(got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_AF, 0x80)->data,
                      ((const uint8_t[]){0, 1, 9}), 3);
  f = got(fx, 2, SIM_ZNP_AREQ, SIM_ZNP_AF, 0x81);
  assert_memory_equal(f->data + 17, ((const uint8_t[]){0x18, 0x42, 0x01, 0x00, 2, 1}), 6);
  /* The device's own sequence continues where it was, not from the request's. */
  assert_int_equal(fx->c->devs[0].sd.tsn, 1);
  /* A manufacturer-specific cluster command (frame control 0x05: cluster specific, mfr code). */
  assert_int_equal(SREQ(fx, SIM_ZNP_AF, 0x01, lo, hi, 1, 1, 0x06, 0x00, 10, 0, 30, 6, 0x05, 0x5F,
                        0x11, 0x07, 0x02, 0xAA),
                   3);
  f = got(fx, 2, SIM_ZNP_AREQ, SIM_ZNP_AF, 0x81);
  assert_memory_equal(f->data + 17, ((const uint8_t[]){0x18, 0x07, 0x01, 0x02, 1, 0}), 6);
  /* A ZCL frame without a whole header reaches no behaviour: only the SRSP and the confirm. */
  assert_int_equal(SREQ(fx, SIM_ZNP_AF, 0x01, lo, hi, 1, 1, 0x06, 0x00, 11, 0, 30, 2, 0x05, 0x5F),
                   2);
  assert_int_equal(sim_znp_coord_join(fx->c, &zcl_model, 0x00158D0000000001ull, 20, NULL), 0);
  assert_int_equal(joins_seen, 12); /* a join, then a rejoin */
}

/* A behaviour with time: it reports a counter every second from its join on; a command (On)
 * takes 50 ms to act, and the state it then reports is the new one. */
static void timed_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                       int rejoin) {
  (void)m;
  (void)rejoin;
  d->state.b[0] = 0; /* reports sent */
  d->state.b[1] = 0; /* on/off */
  d->state.b[2] = 0; /* a command is acting */
  env->next = env->due + SIM_SEC(1);
  const uint8_t hello[] = {0x18, d->tsn++, 0x0A, 0x05, 0x00, 0x42, 0x01, 'j'};
  env->emit(env, 1, 0x0000, hello, sizeof hello);
}
static void timed_tick(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env) {
  (void)m;
  if (d->state.b[2]) { /* the command's actuation ends: the new state is reported */
    d->state.b[2] = 0;
    const uint8_t rep[] = {0x18, d->tsn++, 0x0A, 0x00, 0x00, 0x10, d->state.b[1]};
    env->emit(env, 1, 0x0006, rep, sizeof rep);
    env->next = env->due + SIM_SEC(1);
    return;
  }
  d->state.b[0]++;
  const uint8_t rep[] = {0x18, d->tsn++, 0x0A, 0x00, 0x00, 0x20, d->state.b[0]};
  env->emit(env, 1, 0x0402, rep, sizeof rep);
  env->next = env->due + SIM_SEC(1);
}
static int timed_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                         const struct sim_dev_cmd *cmd, uint32_t *latency_us) {
  (void)m;
  *latency_us = 50000;
  d->state.b[1] = cmd->command == 0x01;
  d->state.b[2] = 1;
  env->next = env->now + SIM_MS(50);
  return 0;
}
static const struct sim_model_ops timed_ops = {
    .join = timed_join, .tick = timed_tick, .command = timed_command};

/* The payload byte of an AF_INCOMING_MSG's ZCL frame at offset i, after checking its cluster. */
static uint8_t zcl_at(struct fixture *fx, int frame, uint16_t cluster, size_t i) {
  const struct sim_znp_frame *f = got(fx, frame, SIM_ZNP_AREQ, SIM_ZNP_AF, 0x81);
  assert_int_equal(f->data[2] | f->data[3] << 8, cluster);
  return f->data[17 + i];
}

static void tick(struct fixture *fx, uint64_t now) {
  fx->sink.n = 0;
  sim_znp_coord_tick(fx->c, now);
}

/* The devices' timers: nothing is due before the wakeup the join set; each wakeup sends its
 * report as AF_INCOMING_MSG; a late tick catches up with every wakeup missed; a command's
 * state change is reported when its actuation ends, not at once. With a join delay the
 * announcement and the device's first frames come in later steps. */
static void test_device_time(void **state) {
  struct fixture *fx = *state;
  struct sim_model timed_model = zcl_model; /* a router like it, with the timed behaviour */
  timed_model.model_id = "lumi.timed.test";
  timed_model.ops = &timed_ops;
  SREQ(fx, SIM_ZNP_APP_CNF, 0x05, 0x04);
  SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 0xFF, 1);
  SREQ(fx, SIM_ZNP_AF, 0x00, 0x01, 0x04, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00);
  assert_int_equal(sim_znp_coord_next_due(fx->c), UINT64_MAX);
  uint16_t nwk = 0;
  fx->sink.n = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &timed_model, 0x00158D0000000002ull, 10, &nwk), 0);
  assert_int_equal(fx->sink.n, 3); /* indication, announcement, the join frame */
  assert_int_equal(zcl_at(fx, 2, 0x0000, 7), 'j');
  assert_int_equal(sim_znp_coord_next_due(fx->c), 1010);
  tick(fx, 1009);
  assert_int_equal(fx->sink.n, 0);
  tick(fx, 1010);
  assert_int_equal(fx->sink.n, 1);
  assert_int_equal(zcl_at(fx, 0, 0x0402, 6), 1);
  assert_int_equal(sim_znp_coord_next_due(fx->c), 2010);
  tick(fx, 4500); /* late: the wakeups of 2010, 3010 and 4010 */
  assert_int_equal(fx->sink.n, 3);
  assert_int_equal(zcl_at(fx, 2, 0x0402, 6), 4);
  assert_int_equal(sim_znp_coord_next_due(fx->c), 5010);
  /* genOnOff On: SRSP and confirm, nothing from the device yet; its report 50 ms later. */
  uint8_t lo = (uint8_t)nwk, hi = (uint8_t)(nwk >> 8);
  fx->now = 4600;
  assert_int_equal(
      SREQ(fx, SIM_ZNP_AF, 0x01, lo, hi, 1, 1, 0x06, 0x00, 12, 0, 30, 3, 0x01, 0x33, 0x01), 2);
  assert_int_equal(sim_znp_coord_next_due(fx->c), 4650);
  tick(fx, 4649);
  assert_int_equal(fx->sink.n, 0);
  tick(fx, 4650);
  assert_int_equal(fx->sink.n, 1);
  assert_int_equal(zcl_at(fx, 0, 0x0006, 6), 1); /* onOff is now 1 */
  /* A join delay: the indication now, the announcement 100 ms later, the frames 100 ms after. */
  fx->c->join_delay_ms = 100;
  fx->sink.n = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &timed_model, 0x00158D0000000003ull, 5000, NULL), 0);
  assert_int_equal(fx->sink.n, 1);
  got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xCA);
  assert_int_equal(sim_znp_coord_next_due(fx->c), 5100); /* before the first one's 5650 */
  tick(fx, 5099);
  assert_int_equal(fx->sink.n, 0);
  tick(fx, 5100);
  assert_int_equal(fx->sink.n, 1);
  got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xC1);
  tick(fx, 5200);
  assert_int_equal(fx->sink.n, 1);
  assert_int_equal(zcl_at(fx, 0, 0x0000, 7), 'j');
}

/* ZDO requests about joined devices: IEEE and network address requests answered with both
 * addresses, bind and unbind accepted by the device, a leave request answered, the leave
 * announced and the device forgotten; unknown addresses find no route or no answer. */
static void test_device_zdo(void **state) {
  struct fixture *fx = *state;
  SREQ(fx, SIM_ZNP_APP_CNF, 0x05, 0x04);
  SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 0xFF, 1);
  uint64_t ieee = 0x00158D0000000004ull;
  uint16_t nwk = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &ht_model, ieee, 10, &nwk), 0);
  uint8_t lo = (uint8_t)nwk, hi = (uint8_t)(nwk >> 8);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x01, lo, hi, 0, 0), 2);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, 0x01), 0);
  const struct sim_znp_frame *f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x81);
  assert_memory_equal(f->data, ((const uint8_t[]){0, 4, 0, 0, 0, 0, 0x8D, 0x15, 0, lo, hi, 0, 0}),
                      13);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x01, (uint8_t)(lo + 1), hi, 0, 0), 1);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, 0x01), 0xCD);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x00, 4, 0, 0, 0, 0, 0x8D, 0x15, 0, 0, 0), 2);
  f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0x80);
  assert_int_equal(f->data[9] | f->data[10] << 8, nwk);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x00, 5, 0, 0, 0, 0, 0x8D, 0x15, 0, 0, 0), 1);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, 0x00), 0); /* a broadcast nobody answers */
  /* Bind genOnOff of endpoint 1 to the coordinator's endpoint 1, then unbind it. */
  for (uint8_t cmd = 0x21; cmd <= 0x22; cmd++) {
    assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, cmd, lo, hi, 4, 0, 0, 0, 0, 0x8D, 0x15, 0, 1, 6, 0, 3, 1,
                          2, 3, 4, 5, 6, 7, 8, 1),
                     2);
    f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, (uint8_t)(cmd | 0x80));
    assert_memory_equal(f->data, ((const uint8_t[]){lo, hi, 0}), 3);
  }
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x21, lo, hi, 4, 0), 1); /* short */
  got(fx, 0, SIM_ZNP_SRSP, 0, 0);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x34, lo, hi, 4, 0, 0, 0, 0, 0x8D, 0x15, 0, 0), 3);
  got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xB4);
  f = got(fx, 2, SIM_ZNP_AREQ, SIM_ZNP_ZDO, 0xC9);
  assert_int_equal(f->data[0] | f->data[1] << 8, nwk);
  assert_null(sim_znp_coord_device(fx->c, nwk));
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x34, lo, hi, 4, 0, 0, 0, 0, 0x8D, 0x15, 0, 0), 1);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, 0x34), 0xCD);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fresh_nv, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nv_items, setup, teardown),
      cmocka_unit_test_setup_teardown(test_form_and_restore, setup, teardown),
      cmocka_unit_test_setup_teardown(test_endpoints, setup, teardown),
      cmocka_unit_test_setup_teardown(test_permit_join, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_and_malformed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nv_file_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_device_join, setup, teardown),
      cmocka_unit_test_setup_teardown(test_device_zcl, setup, teardown),
      cmocka_unit_test_setup_teardown(test_device_time, setup, teardown),
      cmocka_unit_test_setup_teardown(test_device_zdo, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
