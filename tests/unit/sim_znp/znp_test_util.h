/* What the ZNP coordinator tests share: a coordinator on an NV file in a temporary folder,
 * driven frame by frame without sockets, and what it sent parsed back into frames. Included
 * by the test files of tests/unit/sim_znp after <cmocka.h>; the functions are static inline
 * so a file that uses only some of them builds without warnings. */
#ifndef TESTS_UNIT_SIM_ZNP_ZNP_TEST_UTIL_H
#define TESTS_UNIT_SIM_ZNP_ZNP_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/core/err.h"
#include "sim/znp/coord.h"

/* What the coordinator sent, parsed back into frames. */
struct sink {
  struct sim_znp_reader rd;
  struct sim_znp_frame got[16];
  int n;
};

static inline int sink_cb(void *ctx, const uint8_t *p, size_t n) {
  struct sink *s = ctx;
  for (int guard = 0; guard < 4; guard++) {
    assert_true(s->n < 16);
    int rc = sim_znp_reader_next(&s->rd, &p, &n, &s->got[s->n], NULL);
    if (rc == SIM_EAGAIN)
      return 0;
    assert_int_equal(rc, 0);
    s->n++;
  }
  fail_msg("one send held more than one frame");
  return 0;
}

struct fixture {
  char dir[64];
  char nv[96];
  struct sink sink;
  struct sim_znp_coord *c;
  uint64_t now;
};

static inline void open_coord(struct fixture *fx) {
  char why[256];
  fx->c = calloc(1, sizeof *fx->c);
  assert_non_null(fx->c);
  int rc = sim_znp_coord_init(fx->c, fx->nv, sink_cb, &fx->sink, why, sizeof why);
  if (rc != 0)
    fail_msg("init: %s", why);
}

static inline void close_coord(struct fixture *fx) {
  sim_znp_coord_fini(fx->c);
  free(fx->c);
  fx->c = NULL;
}

static inline int setup(void **state) {
  struct fixture *fx = calloc(1, sizeof *fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/hubsim-znp-XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  snprintf(fx->nv, sizeof fx->nv, "%s/nv.txt", fx->dir);
  sim_znp_reader_init(&fx->sink.rd);
  open_coord(fx);
  *state = fx;
  return 0;
}

static inline int teardown(void **state) {
  struct fixture *fx = *state;
  if (fx->c)
    close_coord(fx);
  unlink(fx->nv);
  rmdir(fx->dir);
  free(fx);
  return 0;
}

/* Sends one request (type, subsystem, command, data) and returns the number of frames that
 * came back; they are in fx->sink.got. */
static inline int req(struct fixture *fx, uint8_t type, uint8_t subsys, uint8_t cmd,
                      const uint8_t *d, size_t n) {
  struct sim_znp_frame f = {.type = type, .subsys = subsys, .cmd = cmd, .len = (uint8_t)n};
  if (n > 0)
    memcpy(f.data, d, n);
  uint8_t wire[SIM_ZNP_MAX_FRAME];
  size_t w = 0;
  assert_int_equal(sim_znp_frame_encode(&f, wire, sizeof wire, &w), 0);
  fx->sink.n = 0;
  sim_znp_coord_input(fx->c, wire, w, fx->now);
  return fx->sink.n;
}
#define SREQ(fx, sub, cmd, ...)                                                                    \
  req(fx, SIM_ZNP_SREQ, sub, cmd, (const uint8_t[]){0, __VA_ARGS__} + 1,                           \
      sizeof((const uint8_t[]){0, __VA_ARGS__}) - 1)

static inline const struct sim_znp_frame *got(struct fixture *fx, int i, uint8_t type,
                                              uint8_t subsys, uint8_t cmd) {
  const struct sim_znp_frame *f = &fx->sink.got[i];
  if (f->type != type || f->subsys != subsys || f->cmd != cmd)
    fail_msg("frame %d: got %u/%u/0x%02x, want %u/%u/0x%02x", i, f->type, f->subsys, f->cmd, type,
             subsys, cmd);
  return f;
}

static inline uint16_t nv_length(struct fixture *fx, uint16_t id) {
  assert_int_equal(SREQ(fx, SIM_ZNP_SYS, 0x13, (uint8_t)id, (uint8_t)(id >> 8)), 1);
  const struct sim_znp_frame *f = got(fx, 0, SIM_ZNP_SRSP, SIM_ZNP_SYS, 0x13);
  return (uint16_t)(f->data[0] | f->data[1] << 8);
}

static inline uint8_t status_of(struct fixture *fx, uint8_t subsys, uint8_t cmd) {
  return got(fx, 0, SIM_ZNP_SRSP, subsys, cmd)->data[0];
}

#endif
