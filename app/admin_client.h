/* A scenario's platform operations over an external platform's admin line protocol
 * (`--platform-admin HOST:PORT`; docs/platform.md describes the lines). */
#ifndef APP_ADMIN_CLIENT_H
#define APP_ADMIN_CLIENT_H

#include "scenarios/scn.h"
#include "sim/transport/transport.h"

struct app_admin {
  struct sim_addr addr;
};

/* Parses "HOST:PORT" (an IPv4 literal). 0 or SIM_EINVAL. */
int app_admin_init(struct app_admin *a, const char *hostport);
/* Fills ops with operations that talk to a; a must outlive them. */
void app_admin_ops(struct app_admin *a, struct scn_platform_ops *ops);

#endif
