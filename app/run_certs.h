/* --hub-certs: a client certificate per hub for mutual TLS (see run_certs.c). */
#ifndef APP_RUN_CERTS_H
#define APP_RUN_CERTS_H

#include <stdint.h>

struct app_hub_certs;
struct sim_fleet;
struct sim_fleet_config;
struct sim_tls_identity;

/* An empty set, to hand to the tls transport before the fleet exists. */
int app_hub_certs_new(struct app_hub_certs **out);
/* Loads DIR/hubs/ID.crt and DIR/hubs/ID.key for every hub of f (borrowed for the set's life).
 * 0, or the exit code after a line on stderr naming the file and what is wrong with it. */
int app_hub_certs_load(struct app_hub_certs *c, const char *dir, const struct sim_fleet *f);
/* Reads and checks the pair of every hub of a fleet configured by cfg (all shards) and frees
 * them again: for the control process of --workers, so that a bad folder is refused before any
 * worker starts, as without workers. 0, or the exit code after a line on stderr naming the
 * file. */
int app_hub_certs_check(const char *dir, const struct sim_fleet_config *cfg);
/* The tls transport's identity callback: ctx the set, user a connecting hub. */
const struct sim_tls_identity *app_hub_certs_get(void *ctx, void *user);
/* Frees c (NULL allowed); after the transport that used it is freed. */
void app_hub_certs_free(struct app_hub_certs *c);

#endif
