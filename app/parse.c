/* Parsing of command-line values: see parse.h. */
#include "app/parse.h"

#include <stddef.h>

#include "sim/core/dur.h"
#include "sim/core/err.h"
#include "sim/core/num.h"

int app_parse_duration(const char *s, double plain_unit_s, double max_s, double *seconds) {
  double v;
  if (sim_dur_parse(s, plain_unit_s, &v) || v > max_s)
    return SIM_EINVAL;
  *seconds = v;
  return 0;
}

/* The numbers' grammar lives in sim/core/num.c, shared with `hubsim platform` (which cannot
 * link app/). */
int app_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  return sim_num_parse_u64(s, min, max, out);
}

int app_parse_double(const char *s, double min, double max, double *out) {
  return sim_num_parse_double(s, min, max, out);
}

/* The radio flags: one grammar and one message each, for hubsim run (devices behind hubrpc
 * hubs) and hubsim znp (devices behind the coordinator). */
const char *const app_radio_flag_name[4] = {"--radio-hops", "--radio-delay", "--radio-loss",
                                            "--sleepy-hold"};

const char *app_parse_radio_flag(int flag, const char *s, struct app_radio_flags *r) {
  switch (flag) {
  case APP_RADIO_HOPS:
    return app_parse_u64(s, 1, 16, &r->hops) ? "expected a whole number from 1 to 16" : NULL;
  case APP_RADIO_DELAY: {
    double sec;
    if (app_parse_duration(s, 0.001, 10, &sec))
      return "expected milliseconds from 0 to 10000 (a plain number, or 15ms, 0.5s)";
    r->delay_ms = sec * 1000;
    return NULL;
  }
  case APP_RADIO_LOSS:
    return app_parse_double(s, 0, 0.99, &r->loss) ? "expected a probability from 0 to 0.99" : NULL;
  default: /* APP_RADIO_SLEEPY_HOLD */
    if (app_parse_duration(s, 1, APP_PARSE_DURATION_MAX_S, &r->sleepy_hold_s) ||
        r->sleepy_hold_s < 0.001)
      return "expected a duration from 1ms to 365d such as 10m";
    return NULL;
  }
}
