/* Test certificates through mkcerts.sh (see tlscerts.h). */
#include "tlscerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HUBSIM_MKCERTS
#error "HUBSIM_MKCERTS must name tests/integration/tls/mkcerts.sh"
#endif

int tlscerts_make(struct tlscerts *c) {
  const char *tmp = getenv("TMPDIR");
  snprintf(c->dir, sizeof c->dir, "%s/hubsim-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(c->dir)) {
    perror("tlscerts: mkdtemp");
    c->dir[0] = '\0';
    return -1;
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "sh '%s' '%s'", HUBSIM_MKCERTS, c->dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "tlscerts: %s failed\n", cmd);
    return -1;
  }
  return 0;
}

const char *tlscerts_path(const struct tlscerts *c, const char *name) {
  static char p[400];
  snprintf(p, sizeof p, "%s/%s", c->dir, name);
  return p;
}

const char *tlscerts_path2(const struct tlscerts *c, const char *name) {
  static char p[400];
  snprintf(p, sizeof p, "%s/%s", c->dir, name);
  return p;
}

void tlscerts_rm(struct tlscerts *c) {
  if (!c->dir[0])
    return;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "tlscerts: cannot remove %s\n", c->dir);
  c->dir[0] = '\0';
}

struct tlscerts tlscerts_group;

int tlscerts_group_setup(void **state) {
  (void)state;
  return tlscerts_make(&tlscerts_group);
}

int tlscerts_group_teardown(void **state) {
  (void)state;
  tlscerts_rm(&tlscerts_group);
  return 0;
}
