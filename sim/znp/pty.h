/* A pseudo-terminal for a ZNP coordinator: the host opens a serial path (PATH, a symlink to the
 * slave side) as it opens a USB radio, at any baud rate; the coordinator reads and writes the
 * master side in raw mode. The host closing the path and opening it again is seen, like a TCP
 * host reconnecting: opened() is called when a host is there again. What the coordinator writes
 * while no host holds the path open is dropped, as a serial line drops it.
 *
 * Ownership: sim_znp_pty_open() allocates; sim_znp_pty_close() removes the symlink (when it is
 * still ours), starts closing the handles and frees the pty once they are closed (the loop must
 * run on); no callback runs after it. Loop thread only. */
#ifndef SIM_ZNP_PTY_H
#define SIM_ZNP_PTY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct sim_znp_pty;

/* Bytes from the host (borrowed for the call). */
typedef void (*sim_znp_pty_read_fn)(void *ctx, const uint8_t *p, size_t n);
/* A host opened the path again after one closed it. */
typedef void (*sim_znp_pty_open_fn)(void *ctx);

/* Opens a pseudo-terminal in raw mode and links path to its slave device: a symlink made under
 * a temporary name and renamed over path, so path is never half made. path must not exist,
 * unless it is a symlink into /dev/pts/ whose target is gone or is the new slave (left by a
 * process that died: its number is free again). 0
 * and *out, or SIM_EEXISTS (path is something else) or another SIM_E* with a sentence in why. */
int sim_znp_pty_open(uv_loop_t *loop, const char *path, sim_znp_pty_read_fn on_read,
                     sim_znp_pty_open_fn on_open, void *ctx, struct sim_znp_pty **out, char *why,
                     size_t cap);
/* Queues n bytes for the host. 0; SIM_ECLOSED while no host holds the path open (dropped);
 * SIM_EFULL when SIM_ZNP_PTY_QUEUE_MAX bytes wait already (the host reads nothing; dropped). */
#define SIM_ZNP_PTY_QUEUE_MAX (1u << 20)
int sim_znp_pty_write(struct sim_znp_pty *p, const uint8_t *d, size_t n);
/* The slave device's name (/dev/pts/N). Borrowed. */
const char *sim_znp_pty_slave(const struct sim_znp_pty *p);
void sim_znp_pty_close(struct sim_znp_pty *p);

#endif
