/* ui/common: the figures and labels both dashboards print (exact text, edges included) and the
 * choices they offer: every catalogue model's commands, each once, on/off/toggle first where
 * the model has On/Off, capped without reordering; the speed ladder both ways. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"
#include "sim/fleet/fleet.h"
#include "ui/common/ui_fmt.h"
#include "ui/common/ui_offer.h"

static const char *dur(double s) {
  static char b[32];
  ui_fmt_dur(b, sizeof b, s);
  return b;
}

static const char *rate(double v) {
  static char b[32];
  ui_fmt_rate(b, sizeof b, v);
  return b;
}

static void test_figures(void **state) {
  (void)state;
  assert_string_equal(dur(0), "00:00");
  assert_string_equal(dur(-5), "00:00");
  assert_string_equal(dur(NAN), "00:00");
  assert_string_equal(dur(59.9), "00:59");
  assert_string_equal(dur(3599), "59:59");
  assert_string_equal(dur(3600), "1:00:00");
  assert_string_equal(dur(86399), "23:59:59");
  assert_string_equal(dur(1e9), "99:59:59");
  assert_string_equal(rate(NAN), "-");
  assert_string_equal(rate(0), "0.0");
  assert_string_equal(rate(12.34), "12.3");
  assert_string_equal(rate(450.4), "450");
  assert_string_equal(rate(12500), "12.5k");
  assert_string_equal(rate(1.25e6), "1.25M");
  char small[4];
  ui_fmt_dur(small, sizeof small, 3600); /* truncated, terminated */
  assert_string_equal(small, "1:0");
}

static void test_labels(void **state) {
  (void)state;
  char b[32];
  struct ui_header hd;
  memset(&hd, 0, sizeof hd);
  ui_fmt_clock(b, sizeof b, &hd);
  assert_string_equal(b, "real");
  hd.virtual_clock = 1;
  ui_fmt_clock(b, sizeof b, &hd);
  assert_string_equal(b, "virtual max");
  hd.speed = 2.5;
  ui_fmt_clock(b, sizeof b, &hd);
  assert_string_equal(b, "virtual x2.5");
  assert_string_equal(ui_hub_state_label(SIM_HUB_IDLE), "idle");
  assert_string_equal(ui_hub_state_label(SIM_HUB_CONNECTING), "connecting");
  assert_string_equal(ui_hub_state_label(SIM_HUB_HANDSHAKE), "auth");
  assert_string_equal(ui_hub_state_label(SIM_HUB_OPEN), "online");
  assert_string_equal(ui_hub_state_label(SIM_HUB_BACKOFF), "backoff");
  assert_string_equal(ui_hub_state_label(SIM_HUB_STOPPED), "offline");
  assert_string_equal(ui_hub_state_label(-1), "?");
  for (int i = 0; i < UI_N_FAULTS; i++)
    assert_true(ui_faults[i][0] && *ui_faults[i][0] && ui_faults[i][1] && *ui_faults[i][1]);
}

static void test_speed_ladder(void **state) {
  (void)state;
  static const double ladder[] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 1000};
  const size_t n = sizeof ladder / sizeof ladder[0];
  double s = ladder[0];
  for (size_t i = 1; i < n; i++) {
    s = ui_next_speed(s, 1);
    assert_true(s == ladder[i]);
  }
  assert_true(ui_next_speed(s, 1) == 0);     /* above the top: as fast as it can */
  assert_true(ui_next_speed(0, 1) == 0);     /* and it stays there */
  assert_true(ui_next_speed(0, 0) == 1000);  /* down from it: the top */
  assert_true(ui_next_speed(0.1, 0) == 0.1); /* the bottom holds */
  assert_true(ui_next_speed(3, 1) == 5);     /* off the ladder: the next step */
  assert_true(ui_next_speed(3, 0) == 2);
}

static int has_onoff(const struct sim_model_endpoint *ep) {
  for (int i = 0; i < ep->n_in; i++)
    if (ep->in[i] == 0x0006)
      return 1;
  return 0;
}

/* Every catalogue model: each (ep, cluster, command) once; on/off/toggle first for the first
 * On/Off endpoint; a smaller cap gives the same list's start. */
static void test_commands_offered(void **state) {
  (void)state;
  size_t n_models = 0;
  const struct sim_model *const *models = dev_catalog_models(&n_models);
  assert_true(n_models > 0);
  size_t with_cmds = 0, with_onoff = 0;
  for (size_t k = 0; k < n_models; k++) {
    const struct sim_model *m = models[k];
    struct ui_command all[64], few[2];
    int n = ui_offer_commands(m, all, 64);
    assert_true(n >= 0 && n < 64);
    with_cmds += n > 0;
    for (int i = 0; i < n; i++) {
      assert_non_null(all[i].label);
      for (int j = 0; j < i; j++)
        assert_false(all[i].ep == all[j].ep && all[i].cluster == all[j].cluster &&
                     all[i].command == all[j].command);
    }
    for (int e = 0; e < m->n_endpoints; e++) {
      if (!has_onoff(&m->endpoints[e]))
        continue;
      with_onoff++;
      assert_true(n >= 3);
      assert_string_equal(all[0].label, "on");
      assert_int_equal(all[0].command, 0x01);
      assert_string_equal(all[1].label, "off");
      assert_string_equal(all[2].label, "toggle");
      assert_int_equal(all[0].ep, m->endpoints[e].id);
      break;
    }
    int nf = ui_offer_commands(m, few, 2);
    assert_int_equal(nf, n < 2 ? n : 2);
    for (int i = 0; i < nf; i++)
      assert_true(few[i].ep == all[i].ep && few[i].cluster == all[i].cluster &&
                  few[i].command == all[i].command && strcmp(few[i].label, all[i].label) == 0);
  }
  assert_true(with_cmds > 0);
  assert_true(with_onoff > 0);
}

static int setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_figures),
      cmocka_unit_test(test_labels),
      cmocka_unit_test(test_speed_ladder),
      cmocka_unit_test(test_commands_offered),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
