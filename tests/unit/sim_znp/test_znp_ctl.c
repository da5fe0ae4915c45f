/* The coordinator's radio side under a script's control (sim_znp_coord_ctl_*, coord_ctl.c),
 * driven frame by frame as a host would see it: the radio's own permit-join window, a device
 * leaving and rejoining on its own, link loss (frames lost, data requests failing with
 * MAC_NO_ACK, then recovery), a reset the host did not ask for (RAM state lost, devices kept),
 * and interview requests left unanswered exactly n times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/fleet/model.h"
#include "tests/unit/sim_znp/znp_test_util.h"

#define IEEE_A 0x00158D00C0FFEE01ull
#define IEEE_B 0x00158D00C0FFEE02ull

/* A device that says hello when it joins, reports every second and answers any command. */
static void hello_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                       int rejoin) {
  (void)m;
  const uint8_t hello[] = {0x18, d->tsn++, 0x0A, 0x05, 0x00, 0x42, 0x01, (uint8_t)('h' + rejoin)};
  env->emit(env, 1, 0x0000, hello, sizeof hello);
  env->next = env->due + SIM_SEC(1);
}
static void second_tick(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env) {
  (void)m;
  const uint8_t rep[] = {0x18, d->tsn++, 0x0A, 0x00, 0x00, 0x20, 0x07};
  env->emit(env, 1, 0x0402, rep, sizeof rep);
  env->next = env->due + SIM_SEC(1);
}
static int echo_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                        const struct sim_dev_cmd *cmd, uint32_t *latency_us) {
  (void)m;
  (void)d;
  *latency_us = 0;
  const uint8_t rsp[] = {0x18, 0x00, 0x0B, cmd->command, 0x00};
  env->emit(env, cmd->endpoint, cmd->cluster, rsp, sizeof rsp);
  return 0;
}
static const struct sim_model_ops ctl_ops = {
    .join = hello_join, .tick = second_tick, .command = echo_command};
static const uint16_t ctl_in[] = {0x0000, 0x0402}, ctl_out[] = {0x0019};
static const struct sim_model_endpoint ctl_ep = {1, 0x0104, 0x0302, ctl_in, 2, ctl_out, 1};
/* A sleepy battery end device of no vendor in particular (the descriptors are not asserted). */
static const struct sim_model ctl_model = {
    .model_id = "lumi.ctl.test", .endpoints = &ctl_ep, .n_endpoints = 1, .ops = &ctl_ops};

/* A running network with endpoint 1 registered and the host's window open for 60 s. */
static void network(struct fixture *fx) {
  SREQ(fx, SIM_ZNP_APP_CNF, SIM_ZNP_APP_CNF_BDB_START_COMMISSIONING, 0x04);
  SREQ(fx, SIM_ZNP_AF, SIM_ZNP_AF_REGISTER, 0x01, 0x04, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00);
  SREQ(fx, SIM_ZNP_ZDO, 0x36, 0x0F, 0xFC, 0xFF, 60, 1);
  assert_int_equal(fx->c->state, SIM_ZNP_DEV_ZB_COORD);
  assert_int_equal(fx->c->neps, 1);
}

static uint16_t join(struct fixture *fx, uint64_t ieee) {
  uint16_t nwk = 0;
  fx->sink.n = 0;
  assert_int_equal(sim_znp_coord_join(fx->c, &ctl_model, ieee, fx->now, &nwk), 0);
  assert_int_equal(fx->sink.n, 3); /* indication, announcement, hello */
  return nwk;
}

/* A node descriptor request to nwk: the number of frames that came back. */
static int node_desc(struct fixture *fx, uint16_t nwk) {
  uint8_t lo = (uint8_t)nwk, hi = (uint8_t)(nwk >> 8);
  return SREQ(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_NODE_DESC_REQ, lo, hi, lo, hi);
}

/* A genBasic Read Attributes to nwk with transaction id 9: the number of frames back. */
static int read_basic(struct fixture *fx, uint16_t nwk) {
  uint8_t lo = (uint8_t)nwk, hi = (uint8_t)(nwk >> 8);
  return SREQ(fx, SIM_ZNP_AF, SIM_ZNP_AF_DATA_REQUEST, lo, hi, 1, 1, 0x00, 0x00, 9, 0, 30, 5, 0x00,
              0x42, 0x00, 0x05, 0x00);
}

static void tick(struct fixture *fx, uint64_t now) {
  fx->now = now;
  fx->sink.n = 0;
  sim_znp_coord_tick(fx->c, now);
}

/* The radio opens its network on its own: the host hears ZDO_PERMIT_JOIN_IND with the time, a
 * device may join within it and not after; a window of 0 closes it, and nothing opens without
 * a network or for longer than a byte of seconds holds short of "for ever". */
static void test_ctl_permit(void **state) {
  struct fixture *fx = *state;
  assert_int_equal(sim_znp_coord_ctl_permit(fx->c, 30, 0), SIM_EUNEXPECTED);
  SREQ(fx, SIM_ZNP_APP_CNF, SIM_ZNP_APP_CNF_BDB_START_COMMISSIONING, 0x04);
  assert_false(sim_znp_coord_permit_open(fx->c, 1000));
  fx->sink.n = 0;
  assert_int_equal(sim_znp_coord_ctl_permit(fx->c, 5, 1000), 0);
  assert_int_equal(fx->sink.n, 1);
  assert_int_equal(got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_PERMIT_JOIN_IND)->data[0], 5);
  assert_true(sim_znp_coord_permit_open(fx->c, 5999));
  assert_false(sim_znp_coord_permit_open(fx->c, 6000));
  fx->now = 2000;
  join(fx, IEEE_A);
  assert_int_equal(sim_znp_coord_join(fx->c, &ctl_model, IEEE_B, 6000, NULL), SIM_EUNEXPECTED);
  fx->sink.n = 0;
  assert_int_equal(sim_znp_coord_ctl_permit(fx->c, 200, 7000), 0);
  assert_int_equal(sim_znp_coord_ctl_permit(fx->c, 0, 7000), 0);
  assert_int_equal(fx->sink.n, 2);
  assert_int_equal(got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_PERMIT_JOIN_IND)->data[0], 0);
  assert_int_equal(sim_znp_coord_join(fx->c, &ctl_model, IEEE_B, 7000, NULL), SIM_EUNEXPECTED);
  assert_int_equal(sim_znp_coord_ctl_permit(fx->c, 255, 7000), SIM_EINVAL);
  assert_int_equal(fx->c->ndevs, 1);
}

/* A device leaves on its own: ZDO_LEAVE_IND with its addresses, request 0, remove children 0,
 * rejoin 0 (what makes zigbee-herdsman emit deviceLeave), and it is forgotten. */
static void test_ctl_leave(void **state) {
  struct fixture *fx = *state;
  network(fx);
  uint16_t nwk = join(fx, IEEE_A);
  join(fx, IEEE_B);
  fx->sink.n = 0;
  assert_int_equal(sim_znp_coord_ctl_leave(fx->c, IEEE_A, 3000), 0);
  assert_int_equal(fx->sink.n, 1);
  const struct sim_znp_frame *f = got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_LEAVE_IND);
  assert_int_equal(f->len, 13);
  assert_int_equal(f->data[0] | f->data[1] << 8, nwk);
  uint64_t ieee = 0;
  for (int i = 7; i >= 0; i--)
    ieee = ieee << 8 | f->data[2 + i];
  assert_true(ieee == IEEE_A);
  assert_memory_equal(f->data + 10, ((const uint8_t[]){0, 0, 0}), 3);
  assert_null(sim_znp_coord_device_ieee(fx->c, IEEE_A));
  assert_non_null(sim_znp_coord_device_ieee(fx->c, IEEE_B));
  assert_int_equal(fx->c->ndevs, 1);
  /* forgotten: a request to its address finds no route, and it cannot leave twice */
  assert_int_equal(node_desc(fx, nwk), 1);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_NODE_DESC_REQ), SIM_ZNP_ST_NWK_NO_ROUTE);
  assert_int_equal(sim_znp_coord_ctl_leave(fx->c, IEEE_A, 3000), SIM_ENOTFOUND);
}

/* A known device rejoins with the window closed (a trust-centre rejoin needs no permit): the
 * indication, its announcement and its join frames as a rejoin, its address kept; the window
 * stays closed. A device that left comes back only through a new join. */
static void test_ctl_rejoin(void **state) {
  struct fixture *fx = *state;
  network(fx);
  uint16_t nwk = join(fx, IEEE_A);
  sim_znp_coord_ctl_permit(fx->c, 0, 2000);
  assert_false(sim_znp_coord_permit_open(fx->c, 2000));
  fx->sink.n = 0;
  assert_int_equal(sim_znp_coord_ctl_rejoin(fx->c, IEEE_A, 2000), 0);
  assert_int_equal(fx->sink.n, 3);
  const struct sim_znp_frame *f = got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_TC_DEV_IND);
  assert_int_equal(f->data[0] | f->data[1] << 8, nwk);
  got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_END_DEVICE_ANNCE_IND);
  f = got(fx, 2, SIM_ZNP_AREQ, SIM_ZNP_AF, SIM_ZNP_AF_INCOMING_MSG);
  assert_int_equal(f->data[17 + 7], 'i'); /* the join ran as a rejoin */
  assert_false(sim_znp_coord_permit_open(fx->c, 2000));
  assert_int_equal(fx->c->ndevs, 1);
  sim_znp_coord_ctl_leave(fx->c, IEEE_A, 2000);
  assert_int_equal(sim_znp_coord_ctl_rejoin(fx->c, IEEE_A, 2000), SIM_ENOTFOUND);
  sim_znp_coord_ctl_permit(fx->c, 10, 3000);
  fx->now = 3000;
  assert_int_equal(join(fx, IEEE_A), nwk); /* the same address again */
}

/* Out of range: the device's reports are lost (counted), the host's data request gets its
 * SRSP and AF_DATA_CONFIRM MAC_NO_ACK (0xE9) and reaches no behaviour, a ZDO request gets its
 * SRSP and no answer. When the time is up, the next report arrives and requests succeed. */
static void test_ctl_link_loss(void **state) {
  struct fixture *fx = *state;
  network(fx);
  fx->now = 1000;
  uint16_t nwk = join(fx, IEEE_A);
  tick(fx, 2000);
  assert_int_equal(fx->sink.n, 1); /* the report of its first second */
  assert_int_equal(sim_znp_coord_ctl_link_loss(fx->c, IEEE_A, 5000), 0);
  assert_int_equal(sim_znp_coord_ctl_link_loss(fx->c, IEEE_B, 5000), SIM_ENOTFOUND);
  tick(fx, 3000);
  assert_int_equal(fx->sink.n, 0);
  assert_int_equal(fx->c->stats.device_frames_lost, 1);
  fx->now = 3500;
  assert_int_equal(read_basic(fx, nwk), 2);
  assert_int_equal(status_of(fx, SIM_ZNP_AF, SIM_ZNP_AF_DATA_REQUEST), SIM_ZNP_ST_SUCCESS);
  const struct sim_znp_frame *f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_AF, SIM_ZNP_AF_DATA_CONFIRM);
  assert_memory_equal(f->data, ((const uint8_t[]){0xE9, 1, 9}), 3);
  assert_int_equal(node_desc(fx, nwk), 1);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_NODE_DESC_REQ), SIM_ZNP_ST_SUCCESS);
  tick(fx, 4000);
  assert_int_equal(fx->sink.n, 0);
  tick(fx, 5000); /* back in range: the report of that second arrives */
  assert_int_equal(fx->sink.n, 1);
  got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_AF, SIM_ZNP_AF_INCOMING_MSG);
  assert_int_equal(read_basic(fx, nwk), 3);
  f = got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_AF, SIM_ZNP_AF_DATA_CONFIRM);
  assert_int_equal(f->data[0], SIM_ZNP_ST_SUCCESS);
  got(fx, 2, SIM_ZNP_AREQ, SIM_ZNP_AF, SIM_ZNP_AF_INCOMING_MSG);
  assert_int_equal(node_desc(fx, nwk), 2);
  assert_int_equal(fx->c->stats.device_frames_lost, 2);
}

/* A reset the host did not ask for: SYS_RESET_IND with the reason, the network down (frames
 * of devices lost), AF registrations, groups and the window gone; NV and the joined devices
 * stay, so the host's ZDO_STARTUP_FROM_APP restores the network (status 0) and the device
 * answers at its old address. */
static void test_ctl_reset(void **state) {
  struct fixture *fx = *state;
  network(fx);
  SREQ(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_EXT_ADD_GROUP, 0x01, 0x34, 0x12);
  assert_int_equal(fx->c->ngroups, 1);
  fx->now = 1000;
  uint16_t nwk = join(fx, IEEE_A);
  fx->sink.n = 0;
  sim_znp_coord_ctl_reset(fx->c, 0x02, 1500);
  assert_int_equal(fx->sink.n, 1);
  const struct sim_znp_frame *f = got(fx, 0, SIM_ZNP_AREQ, SIM_ZNP_SYS, SIM_ZNP_SYS_RESET_IND);
  assert_int_equal(f->data[0], 0x02);
  assert_int_equal(fx->c->state, SIM_ZNP_DEV_HOLD);
  assert_int_equal(fx->c->neps, 0);
  assert_int_equal(fx->c->ngroups, 0);
  assert_false(sim_znp_coord_permit_open(fx->c, 1500));
  assert_int_equal(fx->c->ndevs, 1);
  tick(fx, 2000);
  assert_int_equal(fx->sink.n, 0); /* the network is down: nobody hears the device */
  assert_int_equal(fx->c->stats.device_frames_lost, 1);
  fx->now = 2500;
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_STARTUP_FROM_APP, 0x64, 0x00), 3);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_STARTUP_FROM_APP), 0); /* restored */
  assert_int_equal(fx->c->state, SIM_ZNP_DEV_ZB_COORD);
  assert_int_equal(node_desc(fx, nwk), 2);
  tick(fx, 3000);
  assert_int_equal(fx->sink.n, 1);
}

/* Interview failures: exactly the next n descriptor requests get their SRSP and no answer;
 * the one after is answered. Asked for before the device joined, the count waits for it. */
static void test_ctl_fail_interview(void **state) {
  struct fixture *fx = *state;
  network(fx);
  assert_int_equal(sim_znp_coord_ctl_drop_zdo(fx->c, IEEE_B, 1), 0);
  uint16_t nwk = join(fx, IEEE_A);
  assert_int_equal(sim_znp_coord_ctl_drop_zdo(fx->c, IEEE_A, 2), 0);
  uint8_t lo = (uint8_t)nwk, hi = (uint8_t)(nwk >> 8);
  assert_int_equal(node_desc(fx, nwk), 1);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_ACTIVE_EP_REQ, lo, hi, lo, hi), 1);
  assert_int_equal(status_of(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_ACTIVE_EP_REQ), SIM_ZNP_ST_SUCCESS);
  assert_int_equal(node_desc(fx, nwk), 2);
  got(fx, 1, SIM_ZNP_AREQ, SIM_ZNP_ZDO, SIM_ZNP_ZDO_NODE_DESC_RSP);
  assert_int_equal(SREQ(fx, SIM_ZNP_ZDO, SIM_ZNP_ZDO_SIMPLE_DESC_REQ, lo, hi, lo, hi, 1), 2);
  uint16_t nwk_b = join(fx, IEEE_B);
  assert_int_equal(node_desc(fx, nwk_b), 1);
  assert_int_equal(node_desc(fx, nwk_b), 2);
  assert_int_equal(fx->c->ndrop_pending, 0);
  for (uint64_t i = 0; i < SIM_ZNP_MAX_DROP_PENDING; i++)
    assert_int_equal(sim_znp_coord_ctl_drop_zdo(fx->c, 0x00158D0000A00000ull + i, 1), 0);
  assert_int_equal(sim_znp_coord_ctl_drop_zdo(fx->c, 0x00158D0000B00000ull, 1), SIM_EFULL);
}

#define CTL_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {CTL_TEST(test_ctl_permit), CTL_TEST(test_ctl_leave),
                                     CTL_TEST(test_ctl_rejoin), CTL_TEST(test_ctl_link_loss),
                                     CTL_TEST(test_ctl_reset),  CTL_TEST(test_ctl_fail_interview)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
