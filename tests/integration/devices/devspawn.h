/* Helpers of the `hubsim devices` tests: run the real binary ($HUBSIM_BIN) and capture its
 * output.
 *
 * Ownership: struct devspawn_out owns its two heap buffers; devspawn_free() releases them. */
#ifndef TESTS_INTEGRATION_DEVICES_DEVSPAWN_H
#define TESTS_INTEGRATION_DEVICES_DEVSPAWN_H

#include <stddef.h>

struct devspawn_out {
  char *out; /* stdout, NUL-terminated */
  size_t out_len;
  char *err; /* stderr, NUL-terminated */
  size_t err_len;
  int status; /* exit code 0..255, or -1 (killed, timed out, could not start) */
};

/* Runs `$HUBSIM_BIN args...` (args NULL-terminated, at most 62) with stdin closed, waits at
 * most timeout_s seconds (then kills it: status -1). Returns r->status. */
int devspawn_run(const char *const *args, double timeout_s, struct devspawn_out *r);
void devspawn_free(struct devspawn_out *r);

#endif
