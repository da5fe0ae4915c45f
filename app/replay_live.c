/* hubsim replay, the live side: one fleet of the engine (sim/fleet) whose hubs are the
 * capture's, named as there, with no devices of their own. The fleet does what a hub does for
 * a session (connect, Hello with a new nonce and boot id, the mac from the fleet key, the
 * window, heartbeats, reconnects with backoff, answers to Commands); this file only hands it the
 * capture's messages at their time and watches what the platform answers (sim_fleet_observe_rx).
 * A second client would be a second implementation of docs/protocol.md to keep in step. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/replay.h"
#include "sim/core/err.h"
#include "sim/transport/tls.h"

/* The fleet's hub g is the capture's hub at index g of r->hubs (one shard: local = global). */
static void hub_name(void *arg, uint32_t g, char *out, size_t cap) {
  struct replay *r = arg;
  snprintf(out, cap, "%s", g < r->n_hubs ? r->hubs[g].id : "");
}

static uint32_t no_devices(void *arg, uint32_t g) {
  (void)arg;
  (void)g;
  return 0;
}

static void on_deadline(uv_timer_t *t);

/* Every message handed over and every one acknowledged: the end, at the next loop turn (not
 * from inside the fleet's read callback, which stopping the fleet would pull the floor from). */
static void maybe_done(struct replay *r) {
  if (!r->finished && r->next == r->n_msgs && r->n_waiting == 0) {
    r->finished = 1;
    uv_timer_start(&r->deadline, on_deadline, 0, 0);
  }
}

static void on_rx(void *arg, uint32_t hub, const sim_envelope *env) {
  struct replay *r = arg;
  if (hub >= r->n_hubs)
    return;
  struct rp_hub *h = &r->hubs[hub];
  uint64_t up_to = app_replay_down(r, h, 1, env);
  if (up_to > h->up_to) {
    h->up_to = up_to;
    if (h->waiting && up_to >= h->last_seq) {
      h->waiting = 0;
      r->n_waiting--;
    }
    maybe_done(r);
  }
}

/* When message i is due, in loop milliseconds after the start. */
static uint64_t due_ms(const struct replay *r, size_t i) {
  if (!(r->o.speed > 0))
    return 0;
  double ms = (double)(r->msgs[i].us - r->t0_us) / 1000.0 / r->o.speed;
  return ms > 1e12 ? (uint64_t)1e12 : (uint64_t)ms;
}

/* Hands over every message that is due, then sleeps until the next one. */
static void on_pace(uv_timer_t *t) {
  struct replay *r = t->data;
  uint64_t now = uv_now(&r->loop) - r->start_ms;
  while (r->next < r->n_msgs && due_ms(r, r->order[r->next]) <= now) {
    struct rp_msg *m = &r->msgs[r->order[r->next++]];
    struct rp_hub *h = &r->hubs[m->hub];
    uint64_t seq = 0;
    if (sim_fleet_hub_send(r->fleet, m->hub, m->env, sim_fleet_now(r->fleet), &seq))
      continue; /* not queued (counted by the fleet as dropped): new_seq stays 0 */
    m->new_seq = seq;
    h->last_seq = seq;
    if (!h->waiting) {
      h->waiting = 1;
      r->n_waiting++;
    }
  }
  /* The fleet writes what its hubs queued at the end of a loop turn (a check handle), which
   * runs after the loop polled: written now, not when the next event wakes the loop. */
  sim_fleet_flush(r->fleet);
  if (r->next < r->n_msgs) {
    uv_timer_start(&r->pace, on_pace, due_ms(r, r->order[r->next]) - now, 0);
    return;
  }
  uv_timer_start(&r->deadline, on_deadline, (uint64_t)(r->o.wait_s * 1000), 0);
  maybe_done(r);
}

static void on_timer_closed(uv_handle_t *h) {
  (void)h;
}

/* The end: everything acknowledged, or the wait is over. The figures are taken before the
 * sessions close (as hubsim run's final snapshot is). */
static void on_deadline(uv_timer_t *t) {
  struct replay *r = t->data;
  if (!r->finished)
    r->timed_out = 1;
  r->finished = 1;
  uv_timer_stop(&r->pace);
  if (r->st)
    sim_fleet_stats(r->fleet, r->st);
  sim_fleet_stop(r->fleet, NULL, NULL);
  uv_close((uv_handle_t *)&r->pace, on_timer_closed);
  uv_close((uv_handle_t *)&r->deadline, on_timer_closed);
}

static int make_transport(struct replay *r) {
  if (!sim_addr_is_tls(r->o.platform))
    return sim_transport_tcp_new(&r->loop, &r->t);
  struct sim_tls_config tc = {.ca_file = r->o.ca, .insecure = r->o.insecure};
  const char *why = NULL;
  int rc = sim_transport_tls_new(&r->loop, &tc, &r->t, &why);
  if (rc && why)
    fprintf(stderr, "hubsim replay: %s %s\n", r->o.ca ? "--ca:" : "TLS:", why);
  return rc;
}

static int fleet_config(struct replay *r, struct sim_fleet_config *cfg) {
  sim_fleet_config_default(cfg);
  cfg->hubs = (uint32_t)r->n_hubs;
  cfg->devices_per_hub = 1; /* a slot the fleet requires, left empty by no_devices */
  cfg->devices_of_hub = no_devices;
  cfg->mix_model[0] = 0;
  cfg->mix_weight[0] = 1;
  cfg->n_mix = 1;
  cfg->hub_name = hub_name;
  cfg->hub_name_arg = r;
  size_t most = 0;
  for (size_t i = 0; i < r->n_hubs; i++)
    if (r->hubs[i].n_msgs > most)
      most = r->hubs[i].n_msgs;
  /* Room for every message of the busiest hub: at --speed 0 they are all queued at once. */
  cfg->queue_max = most + 4096 > UINT32_MAX ? UINT32_MAX : (uint32_t)(most + 4096);
  memcpy(cfg->fleet_key, r->o.key, r->o.key_len);
  cfg->fleet_key_len = r->o.key_len;
  return sim_addr_parse(r->o.platform, &cfg->platform);
}

int app_replay_live(struct replay *r) {
  struct sim_fleet_config cfg;
  int rc = uv_loop_init(&r->loop);
  if (rc) {
    fprintf(stderr, "hubsim replay: event loop: %s\n", uv_strerror(rc));
    return 3;
  }
  r->st = calloc(1, sizeof *r->st);
  if (!r->st || (rc = fleet_config(r, &cfg)) != 0 || (rc = make_transport(r)) != 0 ||
      (rc = sim_fleet_new(&r->loop, r->t, &cfg, &r->fleet)) != 0) {
    fprintf(stderr, "hubsim replay: cannot set up the sessions: %s\n",
            sim_strerror(rc ? rc : SIM_ENOMEM));
    if (r->t)
      sim_transport_free(r->t);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    return 3;
  }
  sim_fleet_observe_rx(r->fleet, on_rx, r);
  uv_timer_init(&r->loop, &r->pace);
  uv_timer_init(&r->loop, &r->deadline);
  r->pace.data = r->deadline.data = r;
  sim_fleet_start(r->fleet);
  uv_update_time(&r->loop);
  r->start_ms = uv_now(&r->loop);
  uv_timer_start(&r->pace, on_pace, 0, 0);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  sim_fleet_free(r->fleet);
  r->fleet = NULL;
  sim_transport_free(r->t);
  r->t = NULL;
  uv_run(&r->loop, UV_RUN_DEFAULT);
  uv_loop_close(&r->loop);
  return 0;
}
