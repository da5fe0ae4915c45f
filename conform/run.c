/* The case list and the running of one case. */
#include <string.h>

#include "conform/conform.h"
#include "sim/core/rng.h"

static const struct conform_case *const groups[] = {conform_cases_frame, conform_cases_auth,
                                                    conform_cases_seq, conform_cases_session,
                                                    conform_cases_cmd};

const struct conform_case *conform_case_at(size_t i) {
  for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
    for (const struct conform_case *c = groups[g]; c->name; c++)
      if (i-- == 0)
        return c;
  return NULL;
}

const struct conform_case *conform_case_find(const char *name) {
  const struct conform_case *c;
  for (size_t i = 0; (c = conform_case_at(i)); i++)
    if (strcmp(c->name, name) == 0)
      return c;
  return NULL;
}

/* Each case gets a driver of its own, so that nothing a case left behind (a connection, bytes
 * in flight) reaches the next one. */
int conform_run_case(const struct conform_opts *o, const struct conform_case *c,
                     struct conform_result *r, const char **why) {
  struct conform_drv d;
  int rc = conform_drv_init(&d, o, why);
  if (rc)
    return rc;
  struct conform_ctx x = {.d = &d, .o = o, .verdict = CONFORM_PASS, .arg = c->arg};
  x.rng = conform_now_ms() ^ (uint64_t)(uintptr_t)c;
  uint64_t t0 = conform_now_ms();
  c->run(&x);
  r->c = c;
  r->verdict = x.verdict;
  memcpy(r->why, x.why, sizeof(r->why));
  r->time_s = (double)(conform_now_ms() - t0) / 1000.0;
  conform_drv_fini(&d);
  return 0;
}
