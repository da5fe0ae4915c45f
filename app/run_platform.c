/* The embedded reference platform of a real-clock `hubsim run`: its own thread and loop, a
 * store in a private temporary folder (or --db), and the scenario's platform operations carried
 * into its thread. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "app/run_internal.h"
#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/mqtt/stream.h"
#include "sim/transport/transport.h"

static void emb_stopped(struct plat_server *srv, void *arg) {
  struct app_run_emb *e = arg;
  plat_server_counters(srv, &e->final);
  uv_close((uv_handle_t *)&e->stop, NULL);
  uv_close((uv_handle_t *)&e->call, NULL);
}

static void emb_on_stop(uv_async_t *a) {
  struct app_run_emb *e = a->data;
  if (plat_server_stop(e->srv, emb_stopped, e)) {
    uv_close((uv_handle_t *)&e->stop, NULL);
    uv_close((uv_handle_t *)&e->call, NULL);
  }
}

static void emb_on_call(uv_async_t *a) {
  struct app_run_emb *e = a->data;
  uv_mutex_lock(&e->mu);
  if (e->call_fn && !e->call_done) {
    e->call_rc = e->call_fn(e, e->call_arg);
    e->call_done = 1;
    uv_cond_broadcast(&e->cv);
  }
  uv_mutex_unlock(&e->mu);
}

/* Runs fn in the platform's thread and waits for it: the control path only (a scenario's
 * platform operations), never per report. */
static int emb_call(struct app_run_emb *e, int (*fn)(struct app_run_emb *e, void *arg), void *arg) {
  uv_mutex_lock(&e->mu);
  e->call_fn = fn;
  e->call_arg = arg;
  e->call_done = 0;
  uv_mutex_unlock(&e->mu);
  uv_async_send(&e->call);
  uv_mutex_lock(&e->mu);
  while (!e->call_done)
    uv_cond_wait(&e->cv, &e->mu);
  int rc = e->call_rc;
  e->call_fn = NULL;
  uv_mutex_unlock(&e->mu);
  return rc;
}

/* The scenario's platform operations, run in the platform's thread: each packs its arguments
 * and runs the direct operation (run_virtual.c) there. */
struct emb_op {
  int which;
  const void *a;
  uint8_t ep, command;
  uint16_t cluster;
  const uint8_t *payload;
  size_t len;
  uint64_t *id;
  const char *name;
  double *out;
};

static int emb_op_run(struct app_run_emb *e, void *arg) {
  struct emb_op *op = arg;
  struct scn_platform_ops d;
  app_platform_ops_direct(&d, e->srv);
  switch (op->which) {
  case 0:
    return d.command(d.arg, op->a, op->ep, op->cluster, op->command, op->payload, op->len, op->id);
  case 1:
    return d.rule_add(d.arg, op->a, op->id);
  case 2:
    return d.timer_add(d.arg, op->a, op->id);
  default:
    return d.metric(d.arg, op->name, op->out);
  }
}

static int emb_command(void *arg, const struct scn_device_ref *dev, uint8_t ep, uint16_t cluster,
                       uint8_t command, const uint8_t *payload, size_t len, uint64_t *cmd_id) {
  struct emb_op op = {.which = 0,
                      .a = dev,
                      .ep = ep,
                      .command = command,
                      .cluster = cluster,
                      .payload = payload,
                      .len = len,
                      .id = cmd_id};
  return emb_call(arg, emb_op_run, &op);
}
static int emb_rule_add(void *arg, const struct scn_rule *r, uint64_t *id) {
  struct emb_op op = {.which = 1, .a = r, .id = id};
  return emb_call(arg, emb_op_run, &op);
}
static int emb_timer_add(void *arg, const struct scn_timer *t, uint64_t *id) {
  struct emb_op op = {.which = 2, .a = t, .id = id};
  return emb_call(arg, emb_op_run, &op);
}
static int emb_metric(void *arg, const char *name, double *out) {
  struct emb_op op = {.which = 3, .name = name, .out = out};
  return emb_call(arg, emb_op_run, &op);
}

/* Behind a broker the platform serves hubs only once its uplink subscription is acknowledged:
 * frames published before then would reach no one. Waits up to 10 s. 0 or SIM_ETIMEOUT. */
static int emb_wait_subscribed(struct app_run_emb *e) {
  uint64_t deadline = uv_hrtime() + 10 * (uint64_t)1000000000;
  while (!sim_mqtt_stream_listening(plat_server_listener(e->srv))) {
    if (uv_hrtime() > deadline)
      return SIM_ETIMEOUT;
    uv_run(&e->loop, UV_RUN_ONCE);
  }
  return 0;
}

static void emb_thread(void *arg) {
  struct app_run_emb *e = arg;
  int rc = uv_loop_init(&e->loop);
  if (rc == 0 && e->o->mq.on) {
    rc = app_run_mqtt_serve_new(&e->loop, e->o, &e->mq) ? SIM_EINVAL : 0;
    e->t = rc ? NULL : app_run_mqtt_transport(e->mq);
  } else if (rc == 0) {
    rc = sim_transport_tcp_new(&e->loop, &e->t);
  }
  if (rc == 0)
    rc = plat_server_new(&e->loop, e->t, &e->cfg, &e->srv);
  if (rc == 0)
    rc = plat_server_start(e->srv);
  if (rc == 0 && e->mq)
    rc = emb_wait_subscribed(e);
  if (rc == 0) {
    uv_async_init(&e->loop, &e->stop, emb_on_stop);
    e->stop.data = e;
    uv_async_init(&e->loop, &e->call, emb_on_call);
    e->call.data = e;
  }
  uv_mutex_lock(&e->mu);
  e->rc = rc;
  e->port = rc == 0 ? plat_server_port(e->srv) : 0;
  e->ready = 1;
  uv_cond_signal(&e->cv);
  uv_mutex_unlock(&e->mu);
  if (rc == 0)
    uv_run(&e->loop, UV_RUN_DEFAULT);
  if (e->srv)
    plat_server_free(e->srv);
  if (e->mq) {
    uv_run(&e->loop, UV_RUN_NOWAIT);
    app_run_mqtt_free(e->mq);
  } else if (e->t) {
    uv_run(&e->loop, UV_RUN_NOWAIT);
    sim_transport_free(e->t);
  }
  uv_loop_close(&e->loop);
}

/* Removes a temporary store and its folder (nothing with --db). */
static void emb_remove_store(struct app_run_emb *e) {
  if (!e->own_db)
    return;
  char p[PATH_MAX + 32];
  unlink(e->db);
  snprintf(p, sizeof(p), "%s-wal", e->db);
  unlink(p);
  snprintf(p, sizeof(p), "%s-shm", e->db);
  unlink(p);
  snprintf(p, sizeof(p), "%s-journal", e->db);
  unlink(p);
  rmdir(e->dir);
}

int app_run_emb_start(struct app_run_emb *e, const struct run_opts *o) {
  memset(e, 0, sizeof(*e));
  if (o->db) {
    snprintf(e->db, sizeof(e->db), "%s", o->db);
  } else {
    /* A folder of our own (mkdtemp: mode 0700, a new name): a store at a guessable name in a
     * shared /tmp could be a link planted by another user, and SQLite follows links for the
     * database and its -wal and -shm files. */
    const char *tmp = getenv("TMPDIR");
    snprintf(e->dir, sizeof(e->dir), "%s/hubsim-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(e->dir))
      return -errno;
    snprintf(e->db, sizeof(e->db), "%s/store.db", e->dir);
    e->own_db = 1;
  }
  e->o = o;
  e->cfg.listen = "hubrpc://127.0.0.1:0";
  if (o->mq.on) { /* the broker's address: the listener subscribes there */
    snprintf(e->listen, sizeof e->listen, "%s:%u", o->mq.broker.host, o->mq.broker.port);
    e->cfg.listen = e->listen;
  }
  e->cfg.db_path = e->db;
  e->cfg.fleet_key = (const uint8_t *)o->key;
  e->cfg.fleet_key_len = strlen(o->key);
  e->cfg.command_rate = o->command_rate;
  uv_mutex_init(&e->mu);
  uv_cond_init(&e->cv);
  int rc = uv_thread_create(&e->thread, emb_thread, e);
  if (rc) {
    emb_remove_store(e);
    return rc;
  }
  uv_mutex_lock(&e->mu);
  while (!e->ready)
    uv_cond_wait(&e->cv, &e->mu);
  uv_mutex_unlock(&e->mu);
  if (e->rc) {
    uv_thread_join(&e->thread);
    emb_remove_store(e);
    return e->rc;
  }
  return 0;
}

void app_run_emb_stop(struct app_run_emb *e) {
  uv_async_send(&e->stop);
  uv_thread_join(&e->thread);
  emb_remove_store(e);
}

void app_run_emb_ops(struct app_run_emb *e, struct scn_platform_ops *ops) {
  ops->arg = e;
  ops->command = emb_command;
  ops->rule_add = emb_rule_add;
  ops->timer_add = emb_timer_add;
  ops->metric = emb_metric;
}
