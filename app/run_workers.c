/* Launching the worker processes of `hubsim run --workers N`. A worker is the same command line
 * again, so that every flag reaches it as the user wrote it (no flag is re-spelled from parsed
 * values, and a new flag needs no code here): what the control process keeps for itself is
 * left out (app_run_worker_args), and each worker is told its shard and the platform. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "app/run_internal.h"
#include "app/workers.h"
#include "sim/core/err.h"

#define WA_MAX_ARGS 256

/* The argv of every worker: the same but for the shard (workers are spawned one after the
 * other on the loop thread, and uv_spawn copies the argv). */
static struct {
  int n_workers;
  char exe[4096];
  char shard[24];
  char platform[96];
  const char *argv[WA_MAX_ARGS + 8];
  int shard_at; /* where the shard's "K/N" is in argv */
} WA;

static const char *const *worker_argv(int k, void *arg) {
  (void)arg;
  snprintf(WA.shard, sizeof WA.shard, "%d/%d", k, WA.n_workers);
  WA.argv[WA.shard_at] = WA.shard;
  return WA.argv;
}

int app_run_workers_start(uv_loop_t *loop, const struct run_opts *o,
                          const struct sim_addr *platform, void (*done)(void *arg), void *arg,
                          struct app_workers **out) {
  size_t len = sizeof WA.exe;
  int rc = uv_exepath(WA.exe, &len);
  if (rc)
    return rc;
  WA.n_workers = (int)o->workers;
  const char *scheme = o->mq.on ? (o->tls ? "mqtts" : "mqtt") : (o->tls ? "hubrpcs" : "hubrpc");
  snprintf(WA.platform, sizeof WA.platform, "%s://%s:%u", scheme, platform->host, platform->port);
  int n = 0;
  WA.argv[n++] = WA.exe;
  WA.argv[n++] = "run";
  WA.argv[n++] = "--worker";
  WA.shard_at = n++;
  /* The platform as this process resolved it: the embedded one's port exists only now. An
   * external --platform is left out of the given flags, so it is passed once. */
  WA.argv[n++] = "--platform";
  WA.argv[n++] = WA.platform;
  int given = app_run_worker_args(o, WA.argv + n, WA_MAX_ARGS);
  if (given < 0)
    return given;
  n += given;
  WA.argv[n] = NULL;
  /* The fleet key is not on the command line: it goes through fd 4 (app_worker_read_key), off
   * the command line that every local user can read. */
  return app_workers_start(loop, (int)o->workers, worker_argv, arg, o->key, strlen(o->key), done,
                           out);
}
