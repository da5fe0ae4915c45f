/* A scenario's platform operations over an external platform's admin line protocol
 * (`--platform-admin HOST:PORT`; docs/platform.md describes the lines). */
#ifndef APP_ADMIN_CLIENT_H
#define APP_ADMIN_CLIENT_H

#include "scenarios/scn.h"
#include "sim/transport/transport.h"

struct app_admin {
  struct sim_addr addr;
  /* From the file named by HUBSIM_ADMIN_TOKEN_FILE: sent first on every connection as
   * "auth TOKEN". Empty: none. token_bad: that file was unusable (said once): requests fail. */
  char token[260];
  int token_bad;
};

/* Parses "HOST:PORT" (an IPv4 literal). 0 or SIM_EINVAL. Reads the admin token when
 * HUBSIM_ADMIN_TOKEN_FILE is set; a file that is missing, empty, not a token or readable by
 * other users is reported on stderr, and every request then fails. */
int app_admin_init(struct app_admin *a, const char *hostport);
/* Fills ops with operations that talk to a; a must outlive them. */
void app_admin_ops(struct app_admin *a, struct scn_platform_ops *ops);

#endif
