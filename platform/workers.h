/* hubsim platform --workers N: N platform processes behind one listening address.
 *
 * The process started by the user (the front) binds the address once to learn its port, starts
 * N workers (this executable again, told its place by PLAT_WORKER_ENV), waits until each
 * listens on that port with SO_REUSEPORT, then serves the admin port and supervises them. Each
 * worker is a whole platform with its own store shard (DB.wI) and no admin port; the front
 * talks to each over a socketpair (the worker's descriptor 3): one admin request line out, one
 * JSON reply line back, in order.
 *
 * Threading: one loop per process; the front blocks on a worker's reply (bounded by
 * PLAT_WORKER_REPLY_MS) while it answers an admin line. Not an API. */
#ifndef PLATFORM_WORKERS_H
#define PLATFORM_WORKERS_H

#include <stdint.h>

#include "platform/platform.h"

/* The most workers --workers takes, and the environment variable that makes a process one of
 * them ("I/N/PORT": its index, their number, the port every worker listens on). */
#define PLAT_WORKERS_MAX 64u
#define PLAT_WORKER_ENV "HUBSIM_PLATFORM_WORKER"
/* The descriptor of a worker's end of its socketpair to the front. */
#define PLAT_WORKER_FD 3
/* How long the front waits for one worker's reply, and for every worker to listen. */
#define PLAT_WORKER_REPLY_MS 10000u
#define PLAT_WORKER_START_MS 60000u

struct plat_workers_opts {
  int argc; /* the platform's command line, argv[0] "platform": each worker gets it too */
  char **argv;
  unsigned n;
  const char *host; /* --listen's IPv4 host and port (0: any free port) */
  uint16_t port;
  const char *db_path; /* as given; workers use db_path.wI (":memory:" stays) */
  const char *ready;   /* --ready-file, NULL: none */
  /* The admin port's configuration (admin, admin_token, admin_idle_s); admin NULL: no port. */
  const struct plat_config *cfg;
};

/* The front: starts, serves and supervises the workers until SIGINT/SIGTERM or until one of
 * them ends. Returns the exit code: 0 when every worker stopped cleanly on request, 3 when one
 * ended on its own (stderr names it and how it ended) or could not start, 2 when a worker
 * refused its store shard. */
int plat__workers_run(const struct plat_workers_opts *o);

/* Reads PLAT_WORKER_ENV: 0 when this process is no worker, 1 with *index, *n and *port set,
 * SIM_EINVAL when the variable is malformed. */
int plat__worker_env(unsigned *index, unsigned *n, uint16_t *port);

/* A worker's side of its socketpair: once srv listens, tells the front the port, then answers
 * every request line with plat_server_admin. When the front goes away (end of stream), gone(arg)
 * runs once: the worker must stop. 0 or a negative SIM_E* code. */
int plat__worker_attach(struct plat_server *srv, void (*gone)(void *arg), void *arg);
/* Stops reading requests (from the stop callback: the loop can then end). */
void plat__worker_detach(struct plat_server *srv);
/* After the loop ended: sends the final counters to the front ("final JSON"). */
void plat__worker_final(struct plat_server *srv);

/* cli.c: writes port to path through the crash-safe writer (sim/core/wfile.h). 0 or SIM_E*. */
int plat__write_ready(const char *path, uint16_t port);

#endif
