/* Worker processes of `hubsim run --workers N`: one process holds at most as many sockets as
 * its open-file limit allows (~20k here), so a large fleet runs as N shards, each a
 * `hubsim run --worker K/N` child of the control process. A worker writes snapshots of its
 * figures (struct app_worker_msg, binary: parent and child are the same build) to fd 3 once a
 * second and once more, marked final, before it exits; the control process merges them.
 *
 * The fleet key never goes on a worker's command line, which every local user can read (ps,
 * /proc/PID/cmdline): the control process writes it into a pipe that the worker inherits as
 * fd 4 and reads to its end before it starts.
 *
 * Threading: the control side belongs to one libuv loop. */
#ifndef APP_WORKERS_H
#define APP_WORKERS_H

#include <stdint.h>
#include <uv.h>

#include "recorders/capture.h"
#include "sim/fleet/fleet.h"
#include "sim/transport/tls.h"

#define APP_WORKER_FD 3
#define APP_WORKER_KEY_FD 4
#define APP_WORKER_MAGIC 0x31575348u /* "HSW1" */

struct app_worker_msg {
  uint32_t magic;
  uint32_t final;
  double cpu_user_s; /* the worker's fleet thread */
  double cpu_sys_s;
  uint64_t max_rss_bytes; /* the worker process */
  uint64_t max_pss_bytes; /* the worker process, sampled (sim_proc_pss_sample) */
  uint32_t has_tls;       /* the worker's transport is tls: tls holds its counts */
  struct sim_fleet_stats st;
  struct sim_tls_stats tls;
  uint32_t has_record;         /* --record: rec holds the worker's capture figures */
  struct rec_capture_info rec; /* (rec.path is not sent: NULL) */
};

/* Worker side: writes one snapshot to fd (blocking). tls: the counts of the worker's tls
 * transport, or NULL when it runs plain hubrpc://; rec: its capture's figures, or NULL without
 * --record. 0 or -errno. */
int app_worker_send(int fd, const struct sim_fleet_stats *st, const struct sim_tls_stats *tls,
                    const struct rec_capture_info *rec, double cpu_user_s, double cpu_sys_s,
                    int final);

struct app_workers;

/* Worker side: reads the fleet key from fd APP_WORKER_KEY_FD to its end and closes the fd.
 * 0 with the key in out and its length in *len (no terminator added; 0 when the run has no
 * fleet key: its hubs authenticate with client certificates alone); SIM_ENOTFOUND when fd 4
 * is not open; SIM_EINVAL when it holds more than cap bytes; or -errno. */
int app_worker_read_key(char *out, size_t cap, size_t *len);

/* Spawns n workers: argv_of(k, arg) returns worker k's argv (NULL-terminated; argv[0] is the
 * executable path). Each worker gets key (key_len bytes, at most 4096; borrowed) on fd
 * APP_WORKER_KEY_FD. all_exited runs once, when every worker has exited. */
int app_workers_start(uv_loop_t *loop, int n, const char *const *(*argv_of)(int k, void *arg),
                      void *arg, const void *key, size_t key_len, void (*all_exited)(void *arg),
                      struct app_workers **out);
/* The merged figures of the latest snapshots (of the final ones once every worker ended),
 * with the summed CPU and peak RSS of the workers. */
void app_workers_merged(const struct app_workers *w, struct sim_fleet_stats *out,
                        double *cpu_user_s, double *cpu_sys_s, uint64_t *max_rss_bytes,
                        uint64_t *max_pss_bytes);
/* The TLS counts of the latest snapshots merged exactly (sim_tls_stats_merge). 1 when some
 * worker reported TLS counts, 0 (and *out zeroed) when none did. */
int app_workers_merged_tls(const struct app_workers *w, struct sim_tls_stats *out);
/* The capture figures of the latest snapshots added up (truncated and write_error: any
 * worker's); out->path is left NULL. 1 when some worker reported a capture, else 0. */
int app_workers_merged_record(const struct app_workers *w, struct rec_capture_info *out);
/* The first worker that ended without a final snapshot or with a non-zero status (its index),
 * or -1 when all ended well. *status gets its exit status (or 128 + signal). */
int app_workers_failed(const struct app_workers *w, int *status);
void app_workers_signal(struct app_workers *w, int signum);
/* Frees the workers after all_exited (or a failed start) and after their handles closed. */
void app_workers_free(struct app_workers *w);

#endif
