/* The radio between the emulated coordinator and its devices (sim/znp/coord_radio.c), driven
 * on a virtual clock without sockets: a hop's delay in both directions (nothing before it, then
 * the frame), losses after every retry (the device's frame never reaches the host and is
 * counted; the host's gets AF_DATA_CONFIRM MAC_NO_ACK), retries (each attempt costs the delay),
 * and a sleepy device's indirect delivery: answered after one poll while awake, held until it
 * next transmits, or expired with MAC_TRANSACTION_EXPIRED when it does not within the hold; a
 * reset empties the queues. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/fleet/fleet.h"
#include "sim/fleet/model.h"
#include "sim/znp/coord.h"

/* Every frame the coordinator sent since the last look, in order. */
struct host {
  struct sim_znp_reader rd;
  struct sim_znp_frame seen[64];
  int n;
  uint64_t now;
  struct sim_znp_coord *c;
};

static int host_receive(void *ctx, const uint8_t *p, size_t n) {
  struct host *h = ctx;
  while (n > 0) {
    assert_true(h->n < 64);
    int rc = sim_znp_reader_next(&h->rd, &p, &n, &h->seen[h->n], NULL);
    if (rc == SIM_EAGAIN)
      break;
    assert_int_equal(rc, 0);
    h->n++;
  }
  return 0;
}

/* The host sends one frame (type: SREQ or AREQ) built with the MT writer; what it got back is
 * in h->seen. */
static void host_send(struct host *h, uint8_t type, uint8_t subsys, uint8_t cmd, const uint8_t *d,
                      size_t len) {
  struct sim_znp_frame f;
  struct sim_znp_wr w;
  sim_znp_wr_start(&w, &f, type, subsys, cmd);
  sim_znp_wr_bytes(&w, d, len);
  assert_int_equal(w.err, 0);
  uint8_t wire[SIM_ZNP_MAX_FRAME];
  size_t wn = 0;
  assert_int_equal(sim_znp_frame_encode(&f, wire, sizeof wire, &wn), 0);
  h->n = 0;
  sim_znp_coord_input(h->c, wire, wn, h->now);
}
static void host_sreq(struct host *h, uint8_t subsys, uint8_t cmd, const uint8_t *d, size_t len) {
  host_send(h, SIM_ZNP_SREQ, subsys, cmd, d, len);
}

/* The clock moves to t ms and the coordinator handles what is due; returns how many frames. */
static int host_wait(struct host *h, uint64_t t) {
  h->n = 0;
  h->now = t;
  sim_znp_coord_tick(h->c, t);
  return h->n;
}

/* How many of the frames seen are (AREQ) AF command cmd; the last one's data in *last. */
static int count_af(const struct host *h, uint8_t cmd, const uint8_t **last) {
  int k = 0;
  for (int i = 0; i < h->n; i++)
    if (h->seen[i].type == SIM_ZNP_AREQ && h->seen[i].subsys == SIM_ZNP_AF &&
        h->seen[i].cmd == cmd) {
      k++;
      if (last)
        *last = h->seen[i].data;
    }
  return k;
}
#define CONFIRMS(h, last) count_af(h, 0x80, last)
#define INCOMING(h) count_af(h, 0x81, NULL)

/* A device that reports every 20 s from its join on, and answers a command with one frame
 * (or, on cluster 0xFC00, with nothing). */
static void rep_join(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                     int rejoin) {
  (void)m;
  (void)rejoin;
  const uint8_t rep[] = {0x18, d->tsn++, 0x0A, 0x00, 0x00, 0x20, 1};
  env->emit(env, 1, 0x0402, rep, sizeof rep);
  env->next = env->due + SIM_SEC(20);
}
static void rep_tick(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env) {
  rep_join(m, d, env, 0);
}
static int rep_command(const struct sim_model *m, struct sim_device *d, struct sim_dev_env *env,
                       const struct sim_dev_cmd *cmd, uint32_t *latency_us) {
  (void)m;
  *latency_us = 0;
  if (cmd->cluster == 0xFC00)
    return 0;
  const uint8_t rsp[] = {0x18, d->tsn, 0x0B, cmd->command, 0x00};
  env->emit(env, cmd->endpoint, cmd->cluster, rsp, sizeof rsp);
  return 0;
}
static const struct sim_model_ops rep_ops = {
    .join = rep_join, .tick = rep_tick, .command = rep_command};
static const uint16_t ep_in[] = {0x0000, 0x0402};
static const struct sim_model_endpoint rep_ep = {
    .id = 1, .profile = 0x0104, .device_id = 0x0302, .in = ep_in, .n_in = 2};
static const struct sim_model router_model = {.model_id = "lumi.radio.router",
                                              .power_source = SIM_POWER_MAINS,
                                              .logical_type = SIM_LOGICAL_ROUTER,
                                              .endpoints = &rep_ep,
                                              .n_endpoints = 1,
                                              .ops = &rep_ops};
static const struct sim_model sleepy_model = {.model_id = "lumi.radio.sleepy",
                                              .power_source = SIM_POWER_BATTERY,
                                              .logical_type = SIM_LOGICAL_END_DEVICE,
                                              .sleepy = 1,
                                              .endpoints = &rep_ep,
                                              .n_endpoints = 1,
                                              .ops = &rep_ops};

static int setup(void **state) {
  struct host *h = calloc(1, sizeof *h);
  assert_non_null(h);
  sim_znp_reader_init(&h->rd);
  h->c = calloc(1, sizeof *h->c);
  assert_non_null(h->c);
  char why[256];
  if (sim_znp_coord_init(h->c, NULL, host_receive, h, why, sizeof why) != 0)
    fail_msg("init: %s", why);
  /* A network (BDB formation), joining permitted, the host's endpoint 1. */
  host_sreq(h, SIM_ZNP_APP_CNF, 0x05, (const uint8_t[]){0x04}, 1);
  host_sreq(h, SIM_ZNP_ZDO, 0x36, (const uint8_t[]){0x0F, 0xFC, 0xFF, 0xFF, 1}, 5);
  host_sreq(h, SIM_ZNP_AF, 0x00, (const uint8_t[]){1, 0x04, 0x01, 0x05, 0x00, 0, 0, 0, 0}, 9);
  *state = h;
  return 0;
}

static int teardown(void **state) {
  struct host *h = *state;
  sim_znp_coord_fini(h->c);
  free(h->c);
  free(h);
  return 0;
}

/* AF_DATA_REQUEST from the host's endpoint 1 to device nwk's endpoint 1: a one-attribute read
 * on cluster (ZCL tsn = transid). */
static void af_request(struct host *h, uint16_t nwk, uint16_t cluster, uint8_t transid) {
  const uint8_t d[] = {(uint8_t)nwk,
                       (uint8_t)(nwk >> 8),
                       1,
                       1,
                       (uint8_t)cluster,
                       (uint8_t)(cluster >> 8),
                       transid,
                       0,
                       30,
                       5,
                       0x00,
                       transid,
                       0x00,
                       0x00,
                       0x00};
  host_sreq(h, SIM_ZNP_AF, 0x01, d, sizeof d);
  assert_true(h->n >= 1);
  assert_int_equal(h->seen[0].type, SIM_ZNP_SRSP);
  assert_int_equal(h->seen[0].data[0], 0); /* accepted */
}

/* The radio r, with its losses drawn from a fixed seed (a fresh coordinator's IEEE address,
 * which seeds them otherwise, is random). */
static void set_radio(struct host *h, const struct sim_znp_radio *r) {
  sim_znp_coord_set_radio(h->c, r);
  sim_rng_seed(&h->c->radio_rng, 0x7E57, 2);
}

static uint16_t join(struct host *h, const struct sim_model *m, uint64_t ieee, uint64_t at) {
  uint16_t nwk = 0;
  h->n = 0;
  h->now = at;
  assert_int_equal(sim_znp_coord_join(h->c, m, ieee, at, &nwk), 0);
  return nwk;
}

/* With a hop delay, a device frame reaches the host only after its hops' delay, and a host
 * frame reaches the device (confirmed then) after it; the device's answer crosses back. */
static void test_radio_delay(void **state) {
  struct host *h = *state;
  const uint64_t ieee = 0x00158D00000000A1ull;
  set_radio(h, &(struct sim_znp_radio){.hops = 3, .hop_delay = SIM_MS(20)});
  uint64_t hops = 1 + sim_hash_mix64(ieee ^ 0x40905ull) % 3, d = 20 * hops;
  uint16_t nwk = join(h, &router_model, ieee, 1000);
  assert_int_equal(h->n, 2); /* the indication and the announcement; the report is in the air */
  assert_int_equal(INCOMING(h), 0);
  assert_int_equal(sim_znp_coord_next_due(h->c), 1000 + d);
  assert_int_equal(host_wait(h, 1000 + d - 1), 0);
  assert_int_equal(host_wait(h, 1000 + d), 1);
  assert_int_equal(INCOMING(h), 1);
  h->now = 2000;
  af_request(h, nwk, 0x0000, 7);
  assert_int_equal(h->n, 1); /* only the SRSP */
  assert_int_equal(host_wait(h, 2000 + d - 1), 0);
  const uint8_t *cf = NULL;
  assert_int_equal(host_wait(h, 2000 + d), 1);
  assert_int_equal(CONFIRMS(h, &cf), 1);
  assert_memory_equal(cf, ((const uint8_t[]){0x00, 1, 7}), 3); /* success, ep 1, transid 7 */
  assert_int_equal(host_wait(h, 2000 + 2 * d - 1), 0);
  assert_int_equal(host_wait(h, 2000 + 2 * d), 1);
  assert_int_equal(INCOMING(h), 1);
  assert_int_equal(h->c->stats.radio_lost + h->c->stats.radio_lost_host, 0);
}

/* With every attempt failing (P 0.99 and the radio's fixed seed), a device frame never reaches
 * the host and is counted, and the host's frame is confirmed MAC_NO_ACK once the MAC has tried
 * 1 + SIM_RADIO_RETRIES times, each attempt costing the delay. */
static void test_radio_loss(void **state) {
  struct host *h = *state;
  set_radio(h, &(struct sim_znp_radio){.hops = 1, .hop_delay = SIM_MS(10), .loss = 0.99});
  uint16_t nwk = join(h, &router_model, 0x00158D00000000A2ull, 1000);
  assert_int_equal(h->n, 2);
  assert_int_equal(h->c->stats.radio_lost, 1);
  assert_int_equal(h->c->stats.radio_retries, SIM_RADIO_RETRIES);
  assert_int_equal(sim_znp_coord_next_due(h->c), 21000); /* its next report; nothing in the air */
  h->now = 2000;
  af_request(h, nwk, 0x0000, 9);
  assert_int_equal(h->n, 1);
  uint64_t gave_up = 2000 + 10 * (1 + SIM_RADIO_RETRIES);
  assert_int_equal(host_wait(h, gave_up - 1), 0);
  const uint8_t *cf = NULL;
  assert_int_equal(host_wait(h, gave_up), 1);
  assert_int_equal(CONFIRMS(h, &cf), 1);
  assert_memory_equal(cf, ((const uint8_t[]){SIM_ZNP_ST_MAC_NO_ACK, 1, 9}), 3);
  assert_int_equal(h->c->stats.radio_lost_host, 1);
  assert_int_equal(h->c->stats.radio_retries, 2 * SIM_RADIO_RETRIES);
  /* The device's reports stay lost; nothing reaches the host. */
  assert_int_equal(host_wait(h, 61000), 0);
  assert_int_equal(h->c->stats.radio_lost, 4);
}

/* Retries: with P 0.5 each host frame takes 1 to 4 attempts (10 ms each) and is confirmed
 * after them, or MAC_NO_ACK after 4; the counted retries are exactly the extra attempts. */
static void test_radio_retries(void **state) {
  struct host *h = *state;
  set_radio(h, &(struct sim_znp_radio){.hops = 1, .hop_delay = SIM_MS(10), .loss = 0.5});
  uint16_t nwk = join(h, &router_model, 0x00158D00000000A3ull, 0);
  host_wait(h, 100400); /* its reports up to 100000, sent now (late) ... */
  host_wait(h, 100450); /* ... have crossed (40 ms at most); the next comes at 120000 */
  uint64_t before = h->c->stats.radio_retries, extra = 0;
  int ok = 0, lost = 0, tries_seen[5] = {0};
  for (int i = 0; i < 200; i++) {
    uint64_t t0 = 100500 + (uint64_t)i * 90; /* before the device's next report */
    h->now = t0;
    af_request(h, nwk, 0xFC00, (uint8_t)i); /* the device answers nothing on 0xFC00 */
    int tries = 0;
    for (int k = 1; k <= 1 + SIM_RADIO_RETRIES && !tries; k++)
      if (host_wait(h, t0 + 10u * (unsigned)k) > 0)
        tries = k;
    assert_true(tries >= 1);
    const uint8_t *cf = NULL;
    assert_int_equal(CONFIRMS(h, &cf), 1);
    assert_int_equal(cf[2], (uint8_t)i);
    if (cf[0] == SIM_ZNP_ST_SUCCESS) {
      ok++;
      tries_seen[tries]++;
      extra += (uint64_t)tries - 1;
    } else {
      assert_int_equal(cf[0], SIM_ZNP_ST_MAC_NO_ACK);
      assert_int_equal(tries, 1 + SIM_RADIO_RETRIES);
      lost++;
      extra += SIM_RADIO_RETRIES;
    }
  }
  assert_int_equal(h->c->stats.radio_retries - before, extra);
  assert_int_equal((uint64_t)lost, h->c->stats.radio_lost_host);
  /* Every number of attempts occurs (P 0.5 over 200 frames), and some are lost. */
  assert_true(tries_seen[1] > 0 && tries_seen[2] > 0 && tries_seen[3] > 0 && tries_seen[4] > 0);
  assert_true(lost > 0 && ok > lost);
}

/* A sleepy device: awake after joining, a frame reaches it one fast poll later; asleep, a frame
 * waits until the device next transmits (within the hold) and goes out on its poll; without a
 * transmission within the hold, the host gets MAC_TRANSACTION_EXPIRED and the device nothing. */
static void test_sleepy_hold(void **state) {
  struct host *h = *state;
  set_radio(h, &(struct sim_znp_radio){.sleepy_hold_ms = 7680,
                                       .awake_join_ms = 30000,
                                       .awake_tx_ms = 1000,
                                       .awake_poll_ms = 100,
                                       .pairing_poll_ms = 100});
  uint16_t nwk = join(h, &sleepy_model, 0x00158D00000000A4ull, 0);
  assert_int_equal(INCOMING(h), 1); /* its join report, at once (no hop delay) */
  /* Awake (interview): answered one poll later. */
  h->now = 1000;
  af_request(h, nwk, 0x0000, 1);
  assert_int_equal(h->n, 1);
  assert_int_equal(host_wait(h, 1099), 0);
  const uint8_t *cf = NULL;
  assert_int_equal(host_wait(h, 1100), 2);
  assert_int_equal(CONFIRMS(h, &cf), 1);
  assert_int_equal(cf[0], SIM_ZNP_ST_SUCCESS);
  assert_int_equal(INCOMING(h), 1);
  assert_int_equal(host_wait(h, 20000), 1); /* its report; awake until 21000 */
  /* Asleep: its next transmission (40000) comes after the hold (31000 + 7680): expired. */
  h->now = 31000;
  af_request(h, nwk, 0x0000, 2);
  assert_int_equal(h->n, 1);
  assert_int_equal(sim_znp_coord_next_due(h->c), 38680);
  assert_int_equal(host_wait(h, 38679), 0);
  assert_int_equal(host_wait(h, 38680), 1);
  assert_int_equal(CONFIRMS(h, &cf), 1);
  assert_memory_equal(cf, ((const uint8_t[]){SIM_ZNP_ST_MAC_TRANSACTION_EXPIRED, 1, 2}), 3);
  assert_int_equal(h->c->stats.sleepy_expired, 1);
  assert_int_equal(host_wait(h, 40000), 1); /* its report only: it never got the frame */
  assert_int_equal(INCOMING(h), 1);
  /* Asleep at 55000; it transmits at 60000, within the hold: the frame waits until then. */
  h->now = 55000;
  af_request(h, nwk, 0x0000, 3);
  assert_int_equal(host_wait(h, 59999), 0);
  assert_int_equal(host_wait(h, 60000), 1); /* its report; it polls right after */
  assert_int_equal(CONFIRMS(h, NULL), 0);
  assert_int_equal(host_wait(h, 60100), 2);
  assert_int_equal(CONFIRMS(h, &cf), 1);
  assert_memory_equal(cf, ((const uint8_t[]){SIM_ZNP_ST_SUCCESS, 1, 3}), 3);
  assert_int_equal(INCOMING(h), 1); /* its answer */
  assert_int_equal(h->c->stats.sleepy_held, 3);
  assert_int_equal(h->c->stats.sleepy_expired, 1);
  assert_int_equal(host_wait(h, 70000), 0);
  /* A reset empties the radio's queues: a held frame is neither confirmed nor delivered. */
  h->now = 71000;
  af_request(h, nwk, 0x0000, 4);
  host_send(h, SIM_ZNP_AREQ, SIM_ZNP_SYS, 0x00, (const uint8_t[]){0x01}, 1); /* SYS_RESET_REQ */
  assert_int_equal(sim_znp_coord_next_due(h->c), 80000); /* the device's report, nothing else */
  assert_int_equal(host_wait(h, 79999), 0);
}

/* Held awake while it is paired (pairing_poll_ms 0, hubsim znp's default), a sleepy device
 * answers at once in its join window; after it, a frame waits for its poll as above. */
static void test_sleepy_pairing(void **state) {
  struct host *h = *state;
  set_radio(h, &(struct sim_znp_radio){.sleepy_hold_ms = 7680,
                                       .awake_join_ms = 30000,
                                       .awake_tx_ms = 1000,
                                       .awake_poll_ms = 100});
  uint16_t nwk = join(h, &sleepy_model, 0x00158D00000000A5ull, 0);
  h->now = 29000;
  af_request(h, nwk, 0x0000, 1);
  assert_int_equal(h->n, 3); /* the SRSP, the confirm and the answer, at once */
  assert_int_equal(h->c->stats.sleepy_held, 0);
  assert_int_equal(host_wait(h, 30100), 1); /* its report of 20000, late */
  h->now = 30100; /* past its join window; that report keeps it awake for 1 s, until 31100 */
  assert_int_equal(host_wait(h, 31100), 0);
  h->now = 31100; /* asleep: its next report comes at 40000, after the hold */
  af_request(h, nwk, 0x0000, 2);
  assert_int_equal(h->n, 1);
  assert_int_equal(h->c->stats.sleepy_held, 1);
  assert_int_equal(host_wait(h, 38779), 0);
  const uint8_t *cf = NULL;
  assert_int_equal(host_wait(h, 38780), 1);
  assert_int_equal(CONFIRMS(h, &cf), 1);
  assert_int_equal(cf[0], SIM_ZNP_ST_MAC_TRANSACTION_EXPIRED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_radio_delay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_radio_loss, setup, teardown),
      cmocka_unit_test_setup_teardown(test_radio_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sleepy_hold, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sleepy_pairing, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
