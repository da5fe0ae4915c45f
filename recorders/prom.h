/* The Prometheus endpoint of a run (--prometheus): the page in the text exposition format
 * (version 0.0.4) made from the run's cumulative figures, and a small HTTP/1.x server that
 * serves it on GET /metrics from the run's libuv loop. docs/metrics.md lists every metric.
 *
 * The server is built for a scraper on loopback and must never stall or crash the run, whatever
 * a client does: one request per connection (Connection: close), a request head of at most
 * REC_PROM_REQ_MAX bytes (else 431), at most REC_PROM_MAX_CONNS connections at once (more are
 * closed at once), and each connection closed REC_PROM_TIMEOUT_MS after it opened, whether or
 * not its client sent a request or read the answer. Its handles do not keep the loop alive.
 *
 * Threading: the loop's thread only. Reading the figures is the page callback's business; the
 * server calls it once per GET /metrics. */
#ifndef REC_PROM_H
#define REC_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/core/buf.h"
#include "sim/fleet/fleet.h"

#define REC_PROM_REQ_MAX 8192
#define REC_PROM_MAX_CONNS 16
#define REC_PROM_TIMEOUT_MS 5000

/* What the page shows besides the fleet's figures. */
struct rec_prom_extra {
  int ended;    /* the run is over: the figures are final */
  int have_exp; /* a scenario runs: the expectations gauge */
  uint32_t exp_passed, exp_failed, exp_no_data, exp_pending;
};

/* Appends the exposition page of st to out. 0 or SIM_ENOMEM. */
int rec_prom_render(struct sim_buf *out, const struct sim_fleet_stats *st,
                    const struct rec_prom_extra *x);

/* Fills out with the page (out is empty on the call). 0, or an error (then 500). */
typedef int (*rec_prom_page_fn)(void *arg, struct sim_buf *out);

struct rec_prom;
/* Listens on ip:port (port 0: a free one) on loop. page and arg are borrowed until
 * rec_prom_stop. 0 with *out, or a negative error (SIM_E*, or libuv's for the bind). */
int rec_prom_start(uv_loop_t *loop, const char *ip, uint16_t port, rec_prom_page_fn page, void *arg,
                   struct rec_prom **out);
/* The port it listens on. */
uint16_t rec_prom_port(const struct rec_prom *p);
/* Requests answered with 200, and requests refused (4xx, closed at the cap or the timeout). */
void rec_prom_counts(const struct rec_prom *p, uint64_t *served, uint64_t *refused);
/* Closes the listener and every connection; p is freed once their handles have closed (the
 * loop must run). page is not called again. */
void rec_prom_stop(struct rec_prom *p);

#endif
