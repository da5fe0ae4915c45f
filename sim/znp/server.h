/* One emulated ZNP coordinator served on a TCP listener, as networked Zigbee adapters are
 * (zigbee-herdsman opens "tcp://HOST:PORT" as the adapter's serial port), or on a
 * pseudo-terminal, as USB radios are (sim_znp_server_new_pty). One host at a time, like a
 * serial line: a second connection while one is open is closed at once (and logged).
 *
 * Ownership: sim_znp_server_new() allocates; sim_znp_server_close() starts closing the
 * handles and frees the server when they are closed (the loop must run on). Loop thread only. */
#ifndef SIM_ZNP_SERVER_H
#define SIM_ZNP_SERVER_H

#include <stddef.h>
#include <uv.h>

#include "sim/znp/coord.h"

struct sim_znp_server;

/* Listens on host (an IPv4 address) and port (0: any free one) with the coordinator of NV file
 * nv_path. 0 and *out, or SIM_E* / a libuv error with a sentence in why (cap bytes). */
int sim_znp_server_new(uv_loop_t *loop, const char *host, int port, const char *nv_path,
                       struct sim_znp_server **out, char *why, size_t cap);
/* Serves the coordinator of NV file nv_path on a pseudo-terminal linked at path instead (see
 * sim/znp/pty.h): 0 and *out, or SIM_EEXISTS when path exists (and is not a link a stopped
 * hubsim left) or another SIM_E*, with a sentence in why. */
int sim_znp_server_new_pty(uv_loop_t *loop, const char *path, const char *nv_path,
                           struct sim_znp_server **out, char *why, size_t cap);
/* The slave device (/dev/pts/N) of a server on a pseudo-terminal, or NULL. Borrowed. */
const char *sim_znp_server_pty(const struct sim_znp_server *s);
/* Queues a device of model m (borrowed: the registry outlives the server) with address ieee
 * to join once the host permits joining (the queued devices one after the other). 0, or SIM_EFULL
 * past SIM_ZNP_SERVER_MAX_PENDING. */
#define SIM_ZNP_SERVER_MAX_PENDING 256
/* A joining device's announcement follows the coordinator's indication, and its first frames
 * its announcement, this much later (sim_znp_coord's join_delay_ms), so the host has taken
 * each step in when the next arrives. */
#define SIM_ZNP_SERVER_JOIN_DELAY_MS 100
/* Queued devices join one after the other, this far apart. */
#define SIM_ZNP_SERVER_JOIN_GAP_MS 100
int sim_znp_server_add_device(struct sim_znp_server *s, const struct sim_model *m, uint64_t ieee);
/* The i-th device queued (0 <= i < the count returned), in queue order: model and address.
 * Returns how many are queued (joined ones included). */
size_t sim_znp_server_queued(const struct sim_znp_server *s, size_t i, const struct sim_model **m,
                             uint64_t *ieee);
/* After the coordinator was changed outside the host's input (sim_znp_coord_ctl_*): the queued
 * devices join if joining is now permitted, and the devices' timer follows the change. */
void sim_znp_server_kick(struct sim_znp_server *s);
/* The bound port. */
int sim_znp_server_port(const struct sim_znp_server *s);
/* The coordinator, for counters and (later) devices. Borrowed. */
struct sim_znp_coord *sim_znp_server_coord(struct sim_znp_server *s);
void sim_znp_server_close(struct sim_znp_server *s);

#endif
