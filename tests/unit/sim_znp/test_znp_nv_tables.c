/* The coordinator's NV tables of joined devices (sim/znp/coord_tables.c), frame by frame: the
 * extended items a host reads for its backup with their capacities and empty entries, their
 * writes, creates and deletes with every bound checked, a device's address manager and TCLK
 * entries written when it joins and emptied when it leaves, a restarted coordinator bringing
 * it back without joining, a reset clearing the tables, and files without the tables (as
 * written before) loading. */
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

/* SYS_NV_LENGTH of (sys, item, sub): the u32 length of the answer. */
static uint32_t xlength(struct fixture *fx, uint8_t sys, uint16_t item, uint16_t sub) {
  assert_int_equal(SREQ(fx, SIM_ZNP_SYS, 0x32, sys, (uint8_t)item, (uint8_t)(item >> 8),
                        (uint8_t)sub, (uint8_t)(sub >> 8)),
                   1);
  const struct sim_znp_frame *f = got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_SYS, 0x32);
  assert_int_equal(f->len, 4);
  return (uint32_t)f->data[0] | (uint32_t)f->data[1] << 8 | (uint32_t)f->data[2] << 16 |
         (uint32_t)f->data[3] << 24;
}

/* SYS_NV_READ of n bytes at off: the answer frame (status, length, value). */
static const struct sim_znp_frame *xread(struct fixture *fx, uint16_t item, uint16_t sub,
                                         uint16_t off, uint8_t n) {
  assert_int_equal(SREQ(fx, SIM_ZNP_SYS, 0x33, 1, (uint8_t)item, (uint8_t)(item >> 8), (uint8_t)sub,
                        (uint8_t)(sub >> 8), (uint8_t)off, (uint8_t)(off >> 8), n),
                   1);
  return got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_SYS, 0x33);
}

/* Whether the NV file has a line starting with prefix. */
static int file_has(const struct fixture *fx, const char *prefix) {
  FILE *fp = fopen(fx->nv, "r");
  assert_non_null(fp);
  char line[4096];
  int found = 0;
  for (int guard = 0; guard < 10000 && fgets(line, sizeof line, fp); guard++)
    found |= strncmp(line, prefix, strlen(prefix)) == 0;
  fclose(fp);
  return found;
}

/* A factory NV: the four extended tables with their capacities (one past the last entry does
 * not exist), empty entries as Z-Stack writes them, the security manager table as a legacy
 * item, a legacy item reached through item 0, and nothing else. */
static void test_tables_capacity(void **state) {
  struct fixture *fx = *state;
  static const struct {
    uint16_t item, cap;
    uint32_t len;
  } t[] = {{0x0001, SIM_ZNP_ADDRMGR_CAP, 11},
           {0x0004, SIM_ZNP_TCLK_CAP, 19},
           {0x0006, SIM_ZNP_APS_KEY_CAP, 24},
           {0x0007, SIM_ZNP_SEC_MATERIAL_CAP, 12}};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(xlength(fx, 1, t[i].item, 0), t[i].len);
    assert_int_equal(xlength(fx, 1, t[i].item, (uint16_t)(t[i].cap - 1)), t[i].len);
    assert_int_equal(xlength(fx, 1, t[i].item, t[i].cap), 0);
    assert_int_equal(xlength(fx, 2, t[i].item, 0), 0); /* another system */
  }
  assert_int_equal(xlength(fx, 1, 0x0002, 0), 0);
  const struct sim_znp_frame *f = xread(fx, 0x0001, 7, 0, 11);
  assert_memory_equal(
      f->data,
      ((const uint8_t[]){0, 11, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}),
      13);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_APS_LINK_KEY_TABLE), 2 + 5 * SIM_ZNP_APS_KEY_CAP);
  assert_int_equal(xlength(fx, 1, 0x0000, SIM_ZNP_NV_NWKKEY), 21);
  assert_int_equal(xlength(fx, 1, 0x0000, 0x1234), 0);
  /* Reads past the entry, or of an entry that is not there, are refused. */
  assert_int_equal(xread(fx, 0x0001, 0, 5, 7)->data[0], SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  assert_int_equal(xread(fx, 0x0001, 0, 12, 0)->data[0], SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  assert_int_equal(xread(fx, 0x0001, 256, 0, 1)->data[0], SIM_ZNP_ST_NV_ITEM_UNINIT);
  f = xread(fx, 0x0004, 255, 8, 8);
  assert_int_equal(f->data[0], 0);
  assert_int_equal(f->data[1], 8);
}

/* Writes, creates and deletes: within the entry only; a table entry written back empty is not
 * kept in the file; an item of another system created, kept across a restart, deleted;
 * malformed requests answered with the RPC length error. */
static void test_tables_write(void **state) {
  struct fixture *fx = *state;
  SREQ(fx, SIM_ZNP_SYS, 0x34, 1, 0x04, 0, 3, 0, 8, 0, 2, 0x11, 0x22);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x34), 0);
  SREQ(fx, SIM_ZNP_SYS, 0x34, 1, 0x04, 0, 3, 0, 18, 0, 2, 0x11, 0x22);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x34), SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  SREQ(fx, SIM_ZNP_SYS, 0x34, 1, 0x04, 0, 3, 0, 0xFF, 0xFF, 1, 0x11);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x34), SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  SREQ(fx, SIM_ZNP_SYS, 0x34, 1, 0x04, 0, 0, 1, 0, 0, 1, 0x11); /* sub 256: none */
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x34), SIM_ZNP_ST_NV_ITEM_UNINIT);
  const struct sim_znp_frame *f = xread(fx, 0x0004, 3, 7, 3);
  assert_memory_equal(f->data, ((const uint8_t[]){0, 3, 0, 0x11, 0x22}), 5);
  assert_true(file_has(fx, "01.0004.0003 "));
  SREQ(fx, SIM_ZNP_SYS, 0x34, 1, 0x04, 0, 3, 0, 8, 0, 2, 0, 0);
  assert_false(file_has(fx, "01.0004.0003 "));
  /* Create (len u32), create again, another length, too long; delete twice. */
  SREQ(fx, SIM_ZNP_SYS, 0x30, 2, 5, 0, 9, 0, 10, 0, 0, 0);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x30), 0);
  SREQ(fx, SIM_ZNP_SYS, 0x30, 2, 5, 0, 9, 0, 10, 0, 0, 0);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x30), 0);
  SREQ(fx, SIM_ZNP_SYS, 0x30, 2, 5, 0, 9, 0, 11, 0, 0, 0);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x30), SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  SREQ(fx, SIM_ZNP_SYS, 0x30, 2, 6, 0, 9, 0, 0, 0, 1, 0);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x30), SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  SREQ(fx, SIM_ZNP_SYS, 0x30, 2, 6, 0, 9, 0, 0xFF, 0xFF, 0xFF, 0xFF);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x30), SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  SREQ(fx, SIM_ZNP_SYS, 0x34, 2, 5, 0, 9, 0, 9, 0, 1, 0x77);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x34), 0);
  close_coord(fx);
  open_coord(fx);
  assert_int_equal(xlength(fx, 2, 5, 9), 10);
  SREQ(fx, SIM_ZNP_SYS, 0x33, 2, 5, 0, 9, 0, 9, 0, 1);
  assert_memory_equal(got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_SYS, 0x33)->data,
                      ((const uint8_t[]){0, 1, 0x77}), 3);
  SREQ(fx, SIM_ZNP_SYS, 0x31, 2, 5, 0, 9, 0);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x31), 0);
  SREQ(fx, SIM_ZNP_SYS, 0x31, 2, 5, 0, 9, 0);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x31), SIM_ZNP_ST_NV_ITEM_UNINIT);
  assert_int_equal(xlength(fx, 2, 5, 9), 0);
  /* A legacy item through item 0: created (at most the legacy bound), then read by its id. */
  SREQ(fx, SIM_ZNP_SYS, 0x30, 1, 0, 0, 0x34, 0x12, 4, 0, 0, 0);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x30), 0);
  assert_int_equal(nv_length(fx, 0x1234), 4);
  SREQ(fx, SIM_ZNP_SYS, 0x30, 1, 0, 0, 0x35, 0x12, 0x01, 0x04, 0, 0);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x30), SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  SREQ(fx, SIM_ZNP_SYS, 0x30, 3, 0, 0, 0x35, 0x12, 0x01, 0x01, 0, 0); /* another system: 256 */
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x30), SIM_ZNP_ST_NV_BAD_ITEM_LEN);
  /* A table entry deleted stays, empty: the tables keep their capacity. */
  SREQ(fx, SIM_ZNP_SYS, 0x31, 1, 1, 0, 0, 0);
  assert_int_equal(status_of(fx, SIM_ZNP_SYS, 0x31), 0);
  assert_int_equal(xlength(fx, 1, 1, 0), 11);
  /* Short, trailing bytes, a value shorter than its length: RPC length errors. */
  SREQ(fx, SIM_ZNP_SYS, 0x32, 1, 1, 0, 0);
  got(fx, 0, SIM_ZNP_SRSP, 0, 0);
  SREQ(fx, SIM_ZNP_SYS, 0x32, 1, 1, 0, 0, 0, 0);
  got(fx, 0, SIM_ZNP_SRSP, 0, 0);
  SREQ(fx, SIM_ZNP_SYS, 0x34, 1, 0x04, 0, 3, 0, 8, 0, 3, 0x11, 0x22);
  got(fx, 0, SIM_ZNP_SRSP, 0, 0);
  SREQ(fx, SIM_ZNP_SYS, 0x30, 2, 5, 0, 9, 0, 10, 0);
  got(fx, 0, SIM_ZNP_SRSP, 0, 0);
}

static const uint16_t tb_in[] = {0x0000, 0x0006};
static const struct sim_model_endpoint tb_ep = {1, 0x0104, 0x0100, tb_in, 2, NULL, 0};
static int tb_joins;
static void tb_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                    int rejoin) {
  (void)m;
  (void)d;
  tb_joins++;
  static const uint8_t zcl[] = {0x18, 0x01, 0x0A, 0x00, 0x00, 0x10, 0x01};
  env->emit(env, 1, 0x0006, zcl, sizeof zcl);
  assert_true(rejoin == 0 || rejoin == 1);
}
static const struct sim_model_ops tb_ops = {.join = tb_join};
static const struct sim_model tb_model = {.model_id = "lumi.tables.test",
                                          .power_source = SIM_POWER_MAINS,
                                          .logical_type = SIM_LOGICAL_ROUTER,
                                          .manufacturer_code = 0x115F,
                                          .ieee_oui = 0x00158D,
                                          .endpoints = &tb_ep,
                                          .n_endpoints = 1,
                                          .ops = &tb_ops};

/* The address manager and TCLK entries of a device that joined: (user, nwk, IEEE) and (frame
 * counters, IEEE, attributes, type, seed shift). */
static void assert_listed(struct fixture *fx, uint16_t sub, uint64_t ieee, uint16_t nwk) {
  uint8_t le[8];
  for (int i = 0; i < 8; i++)
    le[i] = (uint8_t)(ieee >> (8 * i));
  const struct sim_znp_frame *f = xread(fx, 0x0001, sub, 0, 11);
  assert_int_equal(f->data[2], 0x03); /* associated, with a key */
  assert_int_equal(f->data[3] | f->data[4] << 8, nwk);
  assert_memory_equal(f->data + 5, le, 8);
  f = xread(fx, 0x0004, sub, 0, 19);
  assert_memory_equal(f->data + 2, ((const uint8_t[]){0, 0, 0, 0, 0, 0, 0, 0}), 8);
  assert_memory_equal(f->data + 10, le, 8);
  assert_int_equal(f->data[18], 0x03); /* joined as a device before R21 */
  assert_true(f->data[20] < 16);
}

static void start_network(struct fixture *fx) {
  assert_int_equal(SREQ(fx, SIM_ZNP_APP_CNF, 0x05, 0x04), 4);
}

/* A device joins: its entries are written (a rejoin writes nothing new); the coordinator
 * restarts on the file and, once its network runs, the device is back with its address and
 * no frame to the host, and its behaviour starts after the join delay; a device the table
 * does not list is not brought back. It leaves: its entries are emptied and a restart no
 * longer knows it. */
static void test_tables_join_restart_leave(void **state) {
  struct fixture *fx = *state;
  start_network(fx);
  SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 0xFF, 1);
  uint64_t a = 0x00158D00000000A1ull, b = 0x00158D00000000B2ull;
  uint16_t na = 0, nb = 0;
  fx->sink.n = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &tb_model, a, 10, &na), 0);
  assert_int_equal(sim_znp_coord_join(fx->c, &tb_model, b, 10, &nb), 0);
  assert_listed(fx, 0, a, na);
  assert_listed(fx, 1, b, nb);
  assert_true(file_has(fx, "01.0001.0000 03"));
  assert_true(file_has(fx, "01.0004.0001 "));
  assert_int_equal(sim_znp_coord_join(fx->c, &tb_model, a, 20, NULL), 0);
  assert_listed(fx, 0, a, na);
  assert_int_equal(xread(fx, 0x0001, 2, 0, 1)->data[2], 0x00);

  close_coord(fx);
  open_coord(fx);
  fx->c->join_delay_ms = 100;
  assert_int_equal(sim_znp_coord_resume(fx->c, &tb_model, a, 1000), SIM_EUNEXPECTED);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x40, 100, 0), 3);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, 0x40), 0);
  assert_null(sim_znp_coord_device(fx->c, na));
  fx->sink.n = 0;
  tb_joins = 0;
  assert_int_equal(sim_znp_coord_resume(fx->c, &tb_model, a, 1000), 0);
  assert_int_equal(sim_znp_coord_resume(fx->c, &tb_model, a, 1000), 0); /* already there */
  assert_int_equal(sim_znp_coord_resume(fx->c, &tb_model, 0x00158D00000000C3ull, 1000),
                   SIM_ENOTFOUND);
  assert_int_equal(fx->sink.n, 0); /* no indication, no announcement */
  const struct sim_znp_dev *d = sim_znp_coord_device(fx->c, na);
  assert_non_null(d);
  assert_int_equal(d->ieee, a);
  assert_int_equal(sim_znp_coord_next_due(fx->c), 1100);
  sim_znp_coord_tick(fx->c, 1099);
  assert_int_equal(tb_joins, 0);
  sim_znp_coord_tick(fx->c, 1100);
  assert_int_equal(tb_joins, 1);
  assert_int_equal(fx->sink.n, 1);
  got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_AF, 0x81); /* its first report, not an announcement */
  /* The host's commands reach it: an IEEE address request names it. */
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x01, (uint8_t)na, (uint8_t)(na >> 8), 0, 0), 2);

  /* It leaves: entries emptied, and gone after a restart. */
  uint8_t le[8];
  for (int i = 0; i < 8; i++)
    le[i] = (uint8_t)(a >> (8 * i));
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, 0x34, (uint8_t)na, (uint8_t)(na >> 8), le[0], le[1], le[2],
                        le[3], le[4], le[5], le[6], le[7], 0),
                   3);
  assert_int_equal(xread(fx, 0x0001, 0, 0, 1)->data[2], 0x00);
  assert_int_equal(xread(fx, 0x0004, 0, 8, 8)->data[2], 0x00);
  assert_false(file_has(fx, "01.0001.0000 "));
  assert_true(file_has(fx, "01.0001.0001 03"));
  close_coord(fx);
  open_coord(fx);
  SREQ(fx, SIM_ZNP_ZDO, 0x40, 100, 0);
  assert_int_equal(sim_znp_coord_resume(fx->c, &tb_model, a, 2000), SIM_ENOTFOUND);
  assert_int_equal(sim_znp_coord_resume(fx->c, &tb_model, b, 2000), 0);
  assert_non_null(sim_znp_coord_device(fx->c, nb));
}

/* A reset with startup option 2 (network state) empties the tables; so does option 1. */
static void test_tables_reset(void **state) {
  struct fixture *fx = *state;
  start_network(fx);
  SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 0xFF, 1);
  uint16_t nwk = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &tb_model, 0x00158D00000000A1ull, 10, &nwk), 0);
  SREQ(fx, SIM_ZNP_SYS, 0x30, 2, 5, 0, 9, 0, 10, 0, 0, 0);
  assert_true(file_has(fx, "01.0001.0000 03"));
  SREQ(fx, SIM_ZNP_SYS, 0x1D, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02);
  req(fx, SIM_ZNP_AREQ, SIM_ZNP_SYS, 0x00, (const uint8_t[]){1}, 1);
  assert_int_equal(xread(fx, 0x0001, 0, 0, 1)->data[2], 0x00);
  assert_int_equal(xlength(fx, 2, 5, 9), 0);
  assert_int_equal(xlength(fx, 1, 1, SIM_ZNP_ADDRMGR_CAP - 1), 11);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_APS_LINK_KEY_TABLE), 2 + 5 * SIM_ZNP_APS_KEY_CAP);
  assert_false(file_has(fx, "01."));
}

/* A file written before the tables existed loads, and gets an empty security manager table;
 * a malformed extended line is refused with its line named, the file left as it was. */
static void put_nv(const struct fixture *fx, const char *text) {
  FILE *fp = fopen(fx->nv, "w");
  assert_non_null(fp);
  assert_true(fputs(text, fp) >= 0);
  assert_int_equal(fclose(fp), 0);
}

static void test_tables_old_and_bad_files(void **state) {
  struct fixture *fx = *state;
  close_coord(fx);
  put_nv(fx, "# hubsim ZNP coordinator NV items: id and value in hex, one a line\n"
             "0001 26d15599004b1200\n0003 00\n0082 000102030405060708090a0b0c0d0e0f1000000000\n");
  open_coord(fx);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_APS_LINK_KEY_TABLE), 2 + 5 * SIM_ZNP_APS_KEY_CAP);
  assert_int_equal(xlength(fx, 1, 1, 0), 11);
  assert_int_equal(nv_length(fx, SIM_ZNP_NV_NWKKEY), 21);
  assert_true(file_has(fx, "004c 0000feff000000"));
  close_coord(fx);
  static const char *bad[] = {"0001 26d15599004b1200\n01.0001 03\n",
                              "0001 26d15599004b1200\n01.0001.000g 03\n",
                              "0001 26d15599004b1200\n01.0001.0000x03\n",
                              "0001 26d15599004b1200\n01.0001.0000 0\n",
                              "0001 26d15599004b1200\nzz.0001.0000 00\n",
                              "0001 26d15599004b1200\n01.0001.0000 00\n01.0001.0000 00\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    put_nv(fx, bad[i]);
    struct sim_znp_coord *c = calloc(1, sizeof *c);
    assert_non_null(c);
    char why[256];
    assert_int_equal(sim_znp_coord_init(c, fx->nv, sink_cb, &fx->sink, why, sizeof why),
                     SIM_EMALFORMED);
    assert_non_null(strstr(why, i == 5 ? "line 3: item 01.0001.0000 appears twice" : "line 2: "));
    free(c);
    char first[32]; /* the bad line: the file is left as it was */
    snprintf(first, sizeof first, "%.*s", (int)strcspn(bad[i] + 22, "\n"), bad[i] + 22);
    assert_true(file_has(fx, first));
  }
  put_nv(fx, "0001 26d15599004b1200\n");
  open_coord(fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_tables_capacity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tables_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tables_join_restart_leave, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tables_reset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tables_old_and_bad_files, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
