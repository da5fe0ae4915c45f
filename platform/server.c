/* The reference platform server: its life (new, start, stop, free), its clocks and timers, and
 * the sweep that runs every SWEEP_MS. The rest lives in rooms of its own:
 *   - session.c: connections and hubrpc sessions (frames, handshake, sequencing, closing);
 *   - hubs.c: the hub records (sequence state per hub_id and boot);
 *   - commit.c: the group commit, its Acks, and what happens when the store cannot write;
 *   - commands.c: commands to devices and their results;
 *   - toggles.c: the background toggles (--command-rate) and the plugs they pick from;
 *   - automation.c and admin.c: rules and timers, the admin line protocol. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "platform/automation.h"
#include "platform/platform.h"
#include "platform/server_internal.h"
#include "platform/store.h"
#include "sim/core/err.h"
#include "sim/core/log.h"
#include "sim/core/rng.h"
#include "sim/transport/tls.h"
#include "sim/wire/auth.h"
#include "sim/wire/hubrpc.h"

#define SWEEP_MS 250u

/* ---------------------------------------------------------------- time */

uint64_t plat__mono_ms(struct plat_server *srv) {
  if (srv->is_virtual)
    return sim_sched_now(&srv->vsched) / 1000u;
  return uv_now(srv->loop);
}

uint64_t plat__wall_ms(struct plat_server *srv) {
  if (srv->is_virtual)
    return sim_clock_wall_ms(&srv->vsched.clock, sim_sched_now(&srv->vsched));
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv))
    return 0;
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* ---------------------------------------------------------------- timers */

/* The server's timers (PLAT_T_*, server_internal.h): libuv timers on a real clock, wheel timers
 * on a virtual one. */
static void sweep_cb(uv_timer_t *t);
static void auto_timer_cb(uv_timer_t *t);

static uv_timer_t *timer_handle(struct plat_server *srv, int id) {
  return id == PLAT_T_COMMIT   ? &srv->commit_timer
         : id == PLAT_T_SWEEP  ? &srv->sweep_timer
         : id == PLAT_T_TOGGLE ? &srv->toggle_timer
                               : &srv->auto_timer;
}

static uv_timer_cb timer_cb_of(int id) {
  return id == PLAT_T_COMMIT   ? plat__commit_timer_cb
         : id == PLAT_T_SWEEP  ? sweep_cb
         : id == PLAT_T_TOGGLE ? plat__toggle_timer_cb
                               : auto_timer_cb;
}

void plat__timer_set(struct plat_server *srv, int id, uint64_t ms, uint64_t repeat_ms) {
  if (srv->is_virtual) {
    srv->vrepeat_ms[id] = repeat_ms;
    sim_wheel_add(&srv->vsched.wheel, (uint32_t)id, sim_sched_now(&srv->vsched) + ms * 1000u);
    return;
  }
  uv_timer_start(timer_handle(srv, id), timer_cb_of(id), ms, repeat_ms);
}

void plat__timer_clear(struct plat_server *srv, int id) {
  if (srv->is_virtual)
    sim_wheel_cancel(&srv->vsched.wheel, (uint32_t)id);
  else
    uv_timer_stop(timer_handle(srv, id));
}

int plat__timer_pending(struct plat_server *srv, int id) {
  if (srv->is_virtual)
    return sim_wheel_pending(&srv->vsched.wheel, (uint32_t)id);
  return uv_is_active((uv_handle_t *)timer_handle(srv, id));
}

static void vtimer_fire(void *arg, uint32_t id, sim_time_t due) {
  struct plat_server *srv = arg;
  if (srv->vrepeat_ms[id])
    sim_wheel_add(&srv->vsched.wheel, id, due + srv->vrepeat_ms[id] * 1000u);
  timer_cb_of((int)id)(timer_handle(srv, (int)id));
}

void plat__timer_start_wall(struct plat_server *srv, int id, uint64_t at_ms, uint64_t cap_ms) {
  if (!plat__timers_live(srv))
    return;
  if (srv->is_virtual) {
    /* In µs from the clock's origin, not ms from now: now is rarely on a whole ms. */
    sim_time_t now = sim_sched_now(&srv->vsched), due = 0;
    uint64_t origin = srv->vsched.clock.start_wall_us;
    if (at_ms <= UINT64_MAX / 1000u && at_ms * 1000u > origin)
      due = at_ms * 1000u - origin;
    srv->vrepeat_ms[id] = 0;
    sim_wheel_add(&srv->vsched.wheel, (uint32_t)id, due > now ? due : now);
    return;
  }
  uint64_t wall = plat__wall_ms(srv);
  uint64_t ms = at_ms > wall ? at_ms - wall : 0;
  if (cap_ms && ms > cap_ms)
    ms = cap_ms;
  plat__timer_set(srv, id, ms, 0);
}

void plat__timer_stop(struct plat_server *srv, int id) {
  if (plat__timers_live(srv))
    plat__timer_clear(srv, id);
}

/* Between the start and the stop: a stopping server arms nothing new. */
int plat__timers_live(const struct plat_server *srv) {
  return srv->started && !srv->stopping;
}

static void auto_timer_cb(uv_timer_t *t) {
  plat__auto_timer_cb(t->data);
}

struct sim_sched *plat_server_sched(struct plat_server *srv) {
  return srv->is_virtual ? &srv->vsched : NULL;
}

/* The descriptor limit, for the reserve kept for the store and the admin port. */
static void read_fd_limit(struct plat_server *srv) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    srv->fd_limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* Timeouts (handshake, idle), heartbeats of paused sessions, the store's test writes, command
 * deadlines, admin clients' silence and the cap of lingering closes. */
static void sweep_cb(uv_timer_t *t) {
  struct plat_server *srv = t->data;
  uint64_t now = plat__mono_ms(srv);
  plat__sess_sweep(srv, now);
  plat__store_probe(srv, now);
  if (srv->check_fds)
    read_fd_limit(srv);
  plat__cmd_sweep(srv, now);
  if (srv->autom)
    plat__auto_check_clock(srv);
  plat__admin_sweep(srv, now);
  if (srv->closing.head)
    plat__reap_cb(&srv->reaper);
}

/* ---------------------------------------------------------------- lifecycle */

int plat_server_new(uv_loop_t *loop, struct sim_transport *t, const struct plat_config *cfg,
                    struct plat_server **out) {
  if (!loop || !t || !cfg)
    return SIM_EINVAL;
  struct sim_addr addr;
  const char *listen = cfg->listen ? cfg->listen : PLAT_DEFAULT_LISTEN;
  if (sim_addr_parse(listen, &addr)) {
    SIM_LOGE("platform: bad listen address '%s'", listen);
    return SIM_EINVAL;
  }
  if (cfg->command_rate < 0 || cfg->command_rate > 100000) {
    SIM_LOGE("platform: command rate %g out of range 0..100000", cfg->command_rate);
    return SIM_EINVAL;
  }
  struct plat_server *srv = calloc(1, sizeof(*srv));
  if (!srv)
    return SIM_ENOMEM;
  srv->loop = loop;
  srv->t = t;
  plat__hubs_init(srv);
  srv->cfg = *cfg;
  srv->listen_addr = addr;
  if (cfg->defects)
    SIM_LOGW("platform: --defect: this platform breaks docs/protocol.md on purpose (defects 0x%x), "
             "to prove a conformance suite; never use it for anything else",
             cfg->defects);
  if (!srv->cfg.heartbeat_s)
    srv->cfg.heartbeat_s = PLAT_DEFAULT_HEARTBEAT_S;
  if (!srv->cfg.max_window)
    srv->cfg.max_window = PLAT_DEFAULT_WINDOW;
  if (!srv->cfg.commit_ms)
    srv->cfg.commit_ms = PLAT_DEFAULT_COMMIT_MS;
  if (!srv->cfg.max_unauth)
    srv->cfg.max_unauth = strcmp(t->ops->name, "tls") == 0 ? PLAT_DEFAULT_MAX_UNAUTH_TLS
                                                            : PLAT_DEFAULT_MAX_UNAUTH;
  if (!srv->cfg.fd_reserve)
    srv->cfg.fd_reserve = PLAT_DEFAULT_FD_RESERVE;
  if (!srv->cfg.sendq_max)
    srv->cfg.sendq_max = PLAT_DEFAULT_SENDQ_MAX;
  if (!srv->cfg.admin_idle_s)
    srv->cfg.admin_idle_s = PLAT_DEFAULT_ADMIN_IDLE_S;
  if (!srv->cfg.max_rules)
    srv->cfg.max_rules = PLAT_DEFAULT_MAX_RULES;
  if (!srv->cfg.max_timers)
    srv->cfg.max_timers = PLAT_DEFAULT_MAX_TIMERS;
  if (!(srv->cfg.rule_rate > 0))
    srv->cfg.rule_rate = PLAT_DEFAULT_RULE_RATE;
  srv->check_fds = strcmp(t->ops->name, "tcp") == 0 || strcmp(t->ops->name, "tls") == 0;
  const uint8_t *key = cfg->fleet_key;
  size_t klen = cfg->fleet_key_len;
  if (!key) {
    key = (const uint8_t *)PLAT_DEFAULT_FLEET_KEY;
    klen = strlen(PLAT_DEFAULT_FLEET_KEY);
  }
  int rc = SIM_ENOMEM;
  if (cfg->workers > 1 && cfg->worker >= cfg->workers) {
    SIM_LOGE("platform: worker %u of %u: the index must be below the number", cfg->worker,
             cfg->workers);
    rc = SIM_EINVAL;
    goto fail;
  }
  srv->fleet_key = malloc(klen ? klen : 1);
  if (!srv->fleet_key)
    goto fail;
  memcpy(srv->fleet_key, key, klen);
  srv->fleet_key_len = klen;
  srv->cfg.fleet_key = NULL;
  srv->cfg.listen = NULL;
  srv->cfg.db_path = NULL;
  srv->cfg.admin_token = NULL;
  srv->db_path = strdup(cfg->db_path ? cfg->db_path : PLAT_DEFAULT_DB);
  if (!srv->db_path)
    goto fail;
  if (cfg->admin_token) {
    size_t tl = strlen(cfg->admin_token);
    int ok = tl >= 1 && tl <= PLAT_ADMIN_TOKEN_MAX;
    for (size_t i = 0; ok && i < tl; i++)
      ok = cfg->admin_token[i] > 0x20 && cfg->admin_token[i] < 0x7f;
    if (!ok) {
      SIM_LOGE("platform: the admin token must be 1..%u bytes of printable ASCII without spaces",
               PLAT_ADMIN_TOKEN_MAX);
      rc = SIM_EINVAL;
      goto fail;
    }
    if (!(srv->admin_token = strdup(cfg->admin_token)) ||
        sim_auth_random(srv->admin_key, sizeof(srv->admin_key)))
      goto fail;
  }
  if (cfg->admin) {
    if (sim_addr_parse(cfg->admin, &srv->admin_addr)) {
      SIM_LOGE("platform: bad admin address '%s'", cfg->admin);
      rc = SIM_EINVAL;
      goto fail;
    }
    /* The admin lines command every device and read every state: beyond this machine only
     * with a token. */
    if (!plat__addr_is_loopback(srv->admin_addr.host) && !srv->admin_token) {
      SIM_LOGE("platform: admin address '%s' is not a loopback address (127.0.0.0/8): give an "
               "admin token (--admin-token-file) to open the admin port to other machines",
               cfg->admin);
      rc = SIM_EINVAL;
      goto fail;
    }
    srv->has_admin = 1;
  }
  srv->cfg.admin = NULL;
  sim_buf_init(&srv->out);
  if ((rc = plat_arena_init(&srv->arena, PLAT_ARENA_FIRST)))
    goto fail;
  uint64_t seed = cfg->seed;
  if (!seed && sim_auth_random(&seed, sizeof(seed)))
    seed = uv_hrtime();
  sim_rng_seed(&srv->rng, seed, 0);
  if (cfg->virtual_clock) {
    rc = sim_sched_init(&srv->vsched, loop, 1, PLAT_T_COUNT, vtimer_fire, srv);
    if (rc)
      goto fail;
    srv->is_virtual = 1;
  }
  rc = plat_store_open(cfg->db_path ? cfg->db_path : PLAT_DEFAULT_DB, &srv->store);
  if (rc)
    goto fail;
  if ((rc = plat__hubs_load(srv)) || (rc = plat__plugs_load(srv)) ||
      (rc = plat_store_max_cmd_id(srv->store, &srv->next_cmd_id)))
    goto fail;
  *out = srv;
  return 0;
fail:
  plat_server_free(srv);
  return rc;
}

int plat_server_start(struct plat_server *srv) {
  if (srv->started)
    return SIM_EINVAL;
  sim_transport_tls_set_admit(srv->t, plat__tls_admit, srv); /* no effect on plain tcp */
  int rc = sim_transport_listen(srv->t, &srv->listen_addr, plat__accept_cb, srv, &srv->listener);
  if (rc) {
    SIM_LOGE("platform: cannot listen on %s:%u: %s", srv->listen_addr.host, srv->listen_addr.port,
             sim_strerror(rc));
    return rc;
  }
  if (srv->has_admin && (rc = plat__admin_start(srv))) {
    sim_listener_close(srv->listener);
    srv->listener = NULL;
    return rc;
  }
  srv->started = 1;
  read_fd_limit(srv);
  uv_timer_init(srv->loop, &srv->commit_timer);
  srv->commit_timer.data = srv;
  uv_timer_init(srv->loop, &srv->sweep_timer);
  srv->sweep_timer.data = srv;
  plat__timer_set(srv, PLAT_T_SWEEP, SWEEP_MS, SWEEP_MS);
  uv_check_init(srv->loop, &srv->reaper);
  srv->reaper.data = srv;
  uv_timer_init(srv->loop, &srv->toggle_timer);
  srv->toggle_timer.data = srv;
  plat__toggles_start(srv);
  uv_timer_init(srv->loop, &srv->auto_timer);
  srv->auto_timer.data = srv;
  srv->handles = 5;
  if (srv->autom)
    plat__auto_arm(srv, 1); /* timers added before the start */
  return 0;
}

const struct sim_listener *plat_server_listener(const struct plat_server *srv) {
  return srv->listener;
}

uint16_t plat_server_port(const struct plat_server *srv) {
  return srv->listener ? sim_listener_port(srv->listener) : 0;
}

/* Runs the stop callback once our handles and the admin's are all closed. */
void plat__maybe_stopped(struct plat_server *srv) {
  if (srv->finishing && srv->handles == 0 && srv->admin_handles == 0 && !srv->stopped) {
    srv->stopped = 1;
    if (srv->stop_cb) {
      plat_stop_cb cb = srv->stop_cb;
      srv->stop_cb = NULL;
      cb(srv, srv->stop_arg);
    }
  }
}

static void handle_closed_cb(uv_handle_t *h) {
  struct plat_server *srv = h->data;
  srv->handles--;
  plat__maybe_stopped(srv);
}

/* Runs once every session is gone during a stop: final commit, close our handles. */
void plat__stop_finish(struct plat_server *srv) {
  if (srv->finishing || srv->hs.head || srv->live.head || srv->closing.head)
    return;
  srv->finishing = 1;
  plat__flush(srv); /* nothing new arrives now; a last commit covers what is in the group */
  if (srv->is_virtual) {
    plat__timer_clear(srv, PLAT_T_COMMIT);
    plat__timer_clear(srv, PLAT_T_SWEEP);
    plat__timer_clear(srv, PLAT_T_TOGGLE);
    plat__timer_clear(srv, PLAT_T_AUTO);
  }
  uv_close((uv_handle_t *)&srv->auto_timer, handle_closed_cb);
  uv_close((uv_handle_t *)&srv->commit_timer, handle_closed_cb);
  uv_close((uv_handle_t *)&srv->sweep_timer, handle_closed_cb);
  uv_close((uv_handle_t *)&srv->reaper, handle_closed_cb);
  uv_close((uv_handle_t *)&srv->toggle_timer, handle_closed_cb);
}

int plat_server_stop(struct plat_server *srv, plat_stop_cb cb, void *arg) {
  if (srv->stopping || !srv->started)
    return SIM_EINVAL;
  srv->stopping = 1;
  srv->stop_cb = cb;
  srv->stop_arg = arg;
  if (srv->listener) {
    sim_listener_close(srv->listener);
    srv->listener = NULL;
  }
  plat__timer_clear(srv, PLAT_T_TOGGLE);
  plat__timer_clear(srv, PLAT_T_AUTO);
  plat__admin_stop(srv);
  /* Commit and acknowledge first, so hubs learn what is stored before they are told to go. */
  plat__flush(srv);
  uint64_t now = plat__mono_ms(srv);
  for (struct plat_session *s = srv->closing.head; s; s = s->next)
    if (s->deadline_ms > now + PLAT_STOP_CAP_MS)
      s->deadline_ms = now + PLAT_STOP_CAP_MS;
  while (srv->hs.head)
    plat__sess_fail(srv->hs.head, HUBRPC__V1__ERROR_CODE__ERROR_SHUTTING_DOWN, "platform stopping");
  while (srv->live.head)
    plat__sess_fail(srv->live.head, HUBRPC__V1__ERROR_CODE__ERROR_SHUTTING_DOWN,
                    "platform stopping");
  if (!srv->closing.head)
    plat__stop_finish(srv);
  return 0;
}

void plat_server_free(struct plat_server *srv) {
  if (!srv)
    return;
  /* Sessions remain only when the server was freed without a stop (caller's bug) or the
   * loop was not run to completion; release the memory anyway. */
  struct plat_session *lists[3] = {srv->hs.head, srv->live.head, srv->closing.head};
  for (int i = 0; i < 3; i++) {
    struct plat_session *s = lists[i], *next;
    for (; s; s = next) {
      next = s->next;
      sim_hubrpc_free(s->hello);
      sim_frame_reader_fini(&s->reader);
      free(s);
    }
  }
  if (srv->store) {
    plat_store_commit(srv->store);
    plat_store_close(srv->store);
  }
  if (srv->is_virtual)
    sim_sched_close(&srv->vsched, NULL); /* no handles on a virtual clock: frees the wheel */
  plat__hubs_free(srv);
  free(srv->db_path);
  free(srv->admin_token);
  plat__plugs_free(srv);
  free(srv->cmds);
  plat__auto_free(srv->autom);
  free(srv->fleet_key);
  sim_buf_fini(&srv->out);
  plat_arena_fini(&srv->arena);
  sim_transport_tls_set_admit(srv->t, NULL, NULL); /* the transport may outlive the server */
  free(srv);
}

void plat_server_counters(const struct plat_server *srv, struct plat_counters *out) {
  *out = srv->c;
}

int plat__addr_is_loopback(const char *host) {
  struct in_addr a;
  return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

struct plat_store *plat__store(struct plat_server *srv) {
  return srv->store;
}
