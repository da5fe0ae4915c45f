/* Fuzzes scenario loading: the input is a script, run by scn_load as `hubsim run` runs a
 * scenario's top level (the sandbox, the declarations, the timeline, expectations, the pattern
 * matcher), then what the app reads of a loaded one (its configuration, the devices of a few
 * hubs, the expectations as a dashboard and as the end of a run see them).
 *
 * The script's limits are on, smaller than the app's so that an input that loops or allocates
 * costs little (the fuzzing build is unoptimised and sanitised: a step of the pattern matcher
 * costs some 300 ns there): a hanging input ends with the budget or the time limit long before
 * libFuzzer's -timeout (fuzz_scenario.args). */
#include <stddef.h>
#include <stdint.h>

#include "scenarios/scn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct scn_limits lim;
  scn_limits_default(&lim);
  lim.memory_bytes = (size_t)8 << 20;
  lim.instructions_per_call = 300000;
  lim.seconds_per_call = 2;
  struct scn *s = NULL;
  struct scn_error err;
  if (scn_load("fuzz.lua", (const char *)data, size, &lim, &s, &err) != 0) {
    char msg[1024];
    scn_error_format(&err, msg, sizeof msg);
    return 0;
  }
  const struct scn_config *c = scn_config(s);
  for (uint32_t g = 0; g < 4 && c->has_fleet; g++)
    (void)scn_devices_of_hub(s, scn_seed(s), g);
  struct scn_results r;
  scn_peek(s, &r);
  scn_finish(s, &r);
  scn_peek(s, &r);
  const char *const *lines;
  (void)scn_log(s, &lines);
  scn_free(s);
  return 0;
}
