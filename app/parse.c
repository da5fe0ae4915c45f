/* Parsing of command-line values: see parse.h. */
#include "app/parse.h"

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
