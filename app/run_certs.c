/* --hub-certs DIR: every hub's client certificate and key, from a hubsim provision folder
 * (DIR/hubs/ID.crt, DIR/hubs/ID.key), loaded once before the run and presented by the tls
 * transport on each of the hub's connects.
 *
 * What is kept: one certificate and one key object per hub, parsed once (docs/tls.md section 8
 * gives the memory measured per hub). Each connection's SSL object takes a reference to them,
 * not a copy. Parsing the files on every connect instead would save that memory only while a
 * hub is offline, and cost a key decode per connect in every reconnect storm. */
#include "app/run_certs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/core/err.h"
#include "sim/fleet/fleet.h"
#include "sim/transport/tls.h"

struct app_hub_certs {
  const struct sim_fleet *f;
  uint32_t n;
  struct sim_tls_identity **ids;
};

int app_hub_certs_new(struct app_hub_certs **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : SIM_ENOMEM;
}

/* Loads the pair of hub id from dir into *out. 0, or the exit code after a line on stderr. */
static int load_one(const char *dir, const char *id, struct sim_tls_identity **out) {
  char crt[PATH_MAX], key[PATH_MAX];
  if ((size_t)snprintf(crt, sizeof crt, "%s/hubs/%s.crt", dir, id) >= sizeof crt ||
      (size_t)snprintf(key, sizeof key, "%s/hubs/%s.key", dir, id) >= sizeof key) {
    fprintf(stderr, "hubsim run: --hub-certs %s: the path is too long\n", dir);
    return 2;
  }
  const char *why = NULL;
  int rc = sim_tls_identity_load(crt, key, out, &why);
  if (rc) {
    fprintf(stderr, "hubsim run: --hub-certs: hub %s: %s\n", id, why ? why : sim_strerror(rc));
    return 2;
  }
  return 0;
}

int app_hub_certs_load(struct app_hub_certs *c, const char *dir, const struct sim_fleet *f) {
  uint32_t n = sim_fleet_hub_count(f);
  c->f = f;
  if (!(c->ids = calloc(n ? n : 1, sizeof *c->ids))) {
    fprintf(stderr, "hubsim run: --hub-certs: %s\n", sim_strerror(SIM_ENOMEM));
    return 3;
  }
  c->n = n;
  for (uint32_t i = 0; i < n; i++) {
    char id[80];
    sim_fleet_hub_id(f, i, id, sizeof id);
    int code = load_one(dir, id, &c->ids[i]);
    if (code)
      return code;
  }
  return 0;
}

int app_hub_certs_check(const char *dir, const struct sim_fleet_config *cfg) {
  for (uint32_t i = 0; i < cfg->hubs; i++) {
    char id[80];
    struct sim_tls_identity *one = NULL;
    sim_fleet_config_hub_id(cfg, i, id, sizeof id);
    int code = load_one(dir, id, &one);
    sim_tls_identity_free(one);
    if (code)
      return code;
  }
  return 0;
}

const struct sim_tls_identity *app_hub_certs_get(void *ctx, void *user) {
  const struct app_hub_certs *c = ctx;
  uint32_t i;
  if (!c->f || sim_fleet_hub_of(c->f, user, &i) || i >= c->n)
    return NULL;
  return c->ids[i];
}

void app_hub_certs_free(struct app_hub_certs *c) {
  if (!c)
    return;
  for (uint32_t i = 0; i < c->n; i++)
    sim_tls_identity_free(c->ids[i]);
  free(c->ids);
  free(c);
}
