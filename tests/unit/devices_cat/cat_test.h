/* What the catalogue loader's tests (tests/unit/devices_cat/test_cat_*.c) share: the headers,
 * loading a text, expecting an exact error, and a minimal valid model. */
#ifndef TESTS_UNIT_DEVICES_CAT_CAT_TEST_H
#define TESTS_UNIT_DEVICES_CAT_CAT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/cat_global.h"
#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "devices/generic.h"
#include "sim/core/err.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static inline int add(struct dev_cat *c, const char *name, const char *text,
                      struct dev_cat_error *e) {
  return dev_cat_add_text(c, name, text, strlen(text), e);
}

/* Loads text into a fresh catalogue, expects it refused with exactly `want` ("file:line: reason")
 * and the catalogue left empty. */
static inline void expect_error(const char *name, const char *text, const char *want) {
  struct dev_cat *c = dev_cat_new();
  assert_non_null(c);
  struct dev_cat_error e;
  int r = add(c, name, text, &e);
  char got[600];
  snprintf(got, sizeof(got), "%s:%d: %s", e.file, e.line, e.reason);
  if (r != SIM_EINVAL || strcmp(got, want) != 0)
    print_error("got  r=%d \"%s\"\nwant r=%d \"%s\"\n", r, got, SIM_EINVAL, want);
  assert_int_equal(r, SIM_EINVAL);
  assert_string_equal(got, want);
  assert_int_equal(c->n_models, 0);
  assert_int_equal(c->n_hubs, 0);
  dev_cat_free(c);
}

/* A minimal valid mains model; lines 1-15. Tests append model keys from line 16. */
#define MIN_HEAD                                                                                   \
  "models:\n"                                                                                      \
  "  - id: t.min\n"                                                                                \
  "    vendor: V\n"                                                                                \
  "    vendor_model: VM\n"                                                                         \
  "    description: D\n"                                                                           \
  "    category: c\n"                                                                              \
  "    manufacturer: LUMI\n"                                                                       \
  "    manufacturer_code: 0x115F\n"                                                                \
  "    ieee_oui: 0x54EF44\n"                                                                       \
  "    power: mains\n"                                                                             \
  "    logical_type: router\n"                                                                     \
  "    sleepy: false\n"                                                                            \
  "    join: announce\n"                                                                           \
  "    endpoints:\n"                                                                               \
  "      - {id: 1, profile: 0x0104, device_id: 0x0100, in: [0x0000, 0x0006], out: []}\n"

#endif
