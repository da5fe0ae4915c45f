/* The network map frame by frame (sim/znp/coord_map.c): ZDO_MGMT_LQI_REQ and ZDO_MGMT_RTG_REQ
 * for the coordinator, a joined router, a joined end device and an unknown address, in pages
 * from the host's start index, byte by byte as Zigbee's Mgmt_Lqi_rsp and Mgmt_Rtg_rsp carry
 * them. */
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

#include "sim/fleet/model.h"
#include "tests/unit/sim_znp/znp_test_util.h"

static const uint16_t map_in[] = {0x0000};
static const struct sim_model_endpoint map_ep = {1, 0x0104, 0x0100, map_in, 1, NULL, 0};
static const struct sim_model router = {.model_id = "lumi.map.router",
                                        .power_source = SIM_POWER_MAINS,
                                        .logical_type = SIM_LOGICAL_ROUTER,
                                        .ieee_oui = 0x00158D,
                                        .endpoints = &map_ep,
                                        .n_endpoints = 1};
static const struct sim_model sleepy = {.model_id = "lumi.map.sleepy",
                                        .power_source = SIM_POWER_BATTERY,
                                        .logical_type = SIM_LOGICAL_END_DEVICE,
                                        .sleepy = 1,
                                        .ieee_oui = 0x00158D,
                                        .endpoints = &map_ep,
                                        .n_endpoints = 1};

/* A request for node's table from start: the SRSP and the answer (2 frames), whose data
 * is returned. */
static const struct sim_znp_frame *table(struct fixture *fx, uint8_t cmd, uint16_t node,
                                         uint8_t start) {
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, cmd, (uint8_t)node, (uint8_t)(node >> 8), start), 2);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, cmd), 0);
  const struct sim_znp_frame *f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, (uint8_t)(cmd | 0x80));
  assert_int_equal(f->data[0] | f->data[1] << 8, node);
  return f;
}

static void le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Three routers and a sleepy end device join. The coordinator's neighbour table lists the
 * four as children in pages of three (an index past the end gives none); a router's lists the
 * coordinator as its parent; the routing tables hold a route to each router, and a router's
 * the many-to-one route to the coordinator; an end device answers NOT_SUPPORTED; an unknown
 * address finds no route; a short request is a length error. */
static void test_network_map(void **state) {
  struct fixture *fx = *state;
  SREQ(fx, SIM_ZNP_SYS, 0x1D, 0x2D, 0x00, 0x00, 0x00, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8);
  SREQ(fx, SIM_ZNP_APP_CNF, 0x05, 0x04);
  SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 0xFF, 1);
  uint16_t nwk[4];
  uint64_t ieee[4] = {0x00158D00000000A1ull, 0x00158D00000000A2ull, 0x00158D00000000A3ull,
                      0x00158D00000000E4ull};
  for (int i = 0; i < 4; i++)
    assert_int_equal(sim_znp_coord_join(fx->c, i < 3 ? &router : &sleepy, ieee[i], 10, &nwk[i]), 0);
  const struct sim_znp_frame *f = table(fx, 0x31, 0x0000, 0);
  assert_int_equal(f->len, 6 + 3 * 22);
  assert_memory_equal(f->data + 2, ((const uint8_t[]){0, 4, 0, 3}), 4);
  uint8_t want[22] = {1, 2, 3, 4, 5, 6, 7, 8};
  le(want + 8, ieee[0], 8);
  le(want + 16, nwk[0], 2);
  want[18] = 0x15; /* router, receiver on, child */
  want[19] = 2;    /* permit joining not known */
  want[20] = 1;    /* depth */
  want[21] = 0xFF;
  assert_memory_equal(f->data + 6, want, 22);
  f = table(fx, 0x31, 0x0000, 3);
  assert_int_equal(f->len, 6 + 22);
  assert_memory_equal(f->data + 2, ((const uint8_t[]){0, 4, 3, 1}), 4);
  le(want + 8, ieee[3], 8);
  le(want + 16, nwk[3], 2);
  want[18] = 0x12; /* end device, receiver off when idle, child */
  assert_memory_equal(f->data + 6, want, 22);
  f = table(fx, 0x31, 0x0000, 4);
  assert_memory_equal(f->data + 2, ((const uint8_t[]){0, 4, 4, 0}), 4);
  f = table(fx, 0x31, 0x0000, 0xFF);
  assert_int_equal(f->len, 6);

  /* A router: its parent, the coordinator, which permits joining now. */
  f = table(fx, 0x31, nwk[1], 0);
  assert_memory_equal(f->data + 2, ((const uint8_t[]){0, 1, 0, 1}), 4);
  le(want + 8, fx->c->ieee, 8);
  le(want + 16, 0, 2);
  want[18] = 0x04; /* coordinator, receiver on, parent */
  want[19] = 1;
  want[20] = 0;
  assert_memory_equal(f->data + 6, want, 22);

  f = table(fx, 0x32, 0x0000, 0);
  assert_memory_equal(f->data + 2, ((const uint8_t[]){0, 3, 0, 3}), 4);
  for (int i = 0; i < 3; i++) {
    const uint8_t *e = f->data + 6 + 5 * i;
    assert_int_equal(e[0] | e[1] << 8, nwk[i]);
    assert_int_equal(e[2], 0); /* active */
    assert_int_equal(e[3] | e[4] << 8, nwk[i]);
  }
  f = table(fx, 0x32, nwk[2], 0);
  assert_int_equal(f->len, 11);
  assert_memory_equal(f->data + 2, ((const uint8_t[]){0, 1, 0, 1, 0, 0, 0x10, 0, 0}), 9);

  for (uint8_t cmd = 0x31; cmd <= 0x32; cmd++) {
    f = table(fx, cmd, nwk[3], 0);
    assert_int_equal(f->len, 3);
    assert_int_equal(f->data[2], 0x84);
    assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, cmd, 0x34, 0x12, 0), 1);
    assert_int_equal(status_of(fx, SIM_ZNP_ZDO, cmd), SIM_ZNP_ST_NWK_NO_ROUTE);
    assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, cmd, 0x00, 0x00), 1);
    got(fx, 0, SIM_ZNP_SRSP, 0, 0);
  }
}

/* A host's paging loop (zigbee-herdsman's lqi(): ask from the count received so far until
 * the table's size is reached) ends with every device listed once, for tables that fill a
 * last page exactly and for ones that do not. */
static void test_network_map_paging(void **state) {
  struct fixture *fx = *state;
  SREQ(fx, SIM_ZNP_APP_CNF, 0x05, 0x04);
  SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 0xFF, 1);
  for (int n = 1; n <= 7; n++) {
    assert_int_equal(
        sim_znp_coord_join(fx->c, &sleepy, 0x00158D0000001000ull + (uint64_t)n, 10, NULL), 0);
    int listed = 0, total = -1;
    for (int guard = 0; guard < 16 && listed != total; guard++) {
      const struct sim_znp_frame *f = table(fx, 0x31, 0x0000, (uint8_t)listed);
      total = f->data[3];
      assert_int_equal(f->data[4], listed);
      assert_true(f->data[5] > 0);
      listed += f->data[5];
    }
    assert_int_equal(listed, n);
    assert_int_equal(total, n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_network_map, setup, teardown),
      cmocka_unit_test_setup_teardown(test_network_map_paging, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
