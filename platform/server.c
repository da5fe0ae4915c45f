/* The reference platform server: hubrpc v1 sessions, group commit, acks, commands.
 *
 * Shape of the state:
 *   - a hub record (struct plat_hub) per hub_id ever seen, loaded from the store at start, in
 *     a hash table; it carries the sequence state of the hub's current boot (received: highest
 *     seq accepted into the open transaction; stored: highest committed) because a sequence
 *     continues across sessions of the same boot;
 *   - a session (struct plat_session) per connection, small: no buffers besides the frame
 *     reader's partial frame, and the decoded Hello while the handshake is under way;
 *   - one group transaction in the store; a timer commits it every commit_ms (or at once at
 *     PLAT_COMMIT_ROWS rows) and then acknowledges every hub that had data in it.
 *
 * Closing: a session that must end (protocol error, timeout, replaced) is moved to the closing
 * list after its Error frame is queued; a check handle closes it once the transport has handed
 * the Error to the kernel (sim_conn_pending() == 0), or after a short cap. Sessions are never
 * freed inside the frame callback, so the frame reader is never freed under its own feet.
 *
 * Hostile peers: connections still in their handshake are few and short-lived for real hubs,
 * so they are capped (the oldest gives way to a new one), and a descriptor reserve keeps the
 * store and the admin port working when sockets run out; a hub that does not read is cut off
 * after a small send queue; the idle timer counts complete frames only.
 *
 * Store failures: the platform acknowledges only what a COMMIT stored in the file it opened. When
 * a write or a commit fails, or the file was deleted, the hubs with data in that group are told
 * to resend (Error, close), every other open session stops being read (backpressure: the hubs
 * keep their data and their sessions; a Heartbeat every heartbeat_s keeps their idle timers
 * quiet), and a test write now and then finds out when the store works again. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "platform/automation.h"
#include "platform/platform.h"
#include "platform/server_internal.h"
#include "platform/store.h"
#include "sim/core/err.h"
#include "sim/core/log.h"
#include "sim/core/rng.h"
#include "sim/wire/auth.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"

#define CLOSE_CAP_MS 1000u
#define STOP_CAP_MS 500u
#define SWEEP_MS 250u
/* Test writes of a failing store: every PROBE_MS, and twice as long after each failure that
 * follows a resume within RELAPSE_MS (a store that works only for a moment), up to PROBE_MAX_MS. */
#define PROBE_MS 1000u
#define PROBE_MAX_MS 60000u
#define RELAPSE_MS 10000u
/* One line per this many ms for each recurring condition (sim_log_limited). */
#define LOG_EVERY_MS 10000u

/* ---------------------------------------------------------------- time and sending */

static uint64_t mono_ms(struct plat_server *srv) {
  if (srv->is_virtual)
    return sim_sched_now(&srv->vsched) / 1000u;
  return uv_now(srv->loop);
}

static uint64_t wall_ms(struct plat_server *srv) {
  if (srv->is_virtual)
    return sim_clock_wall_ms(&srv->vsched.clock, sim_sched_now(&srv->vsched));
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv))
    return 0;
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

uint64_t plat__mono_ms(struct plat_server *srv) {
  return mono_ms(srv);
}

uint64_t plat__wall_ms(struct plat_server *srv) {
  return wall_ms(srv);
}

static void begin_close(struct plat_session *s);
static void sess_fail(struct plat_session *s, int code, const char *reason);

/* Encodes env into the server's scratch buffer and queues it on s. A hub that lets more than
 * sendq_max bytes pile up does not read (Acks, Heartbeat answers and commands all wait for it):
 * it is cut off with an Error rather than let it hold the platform's memory (SIM_EFULL). */
static int sess_send(struct plat_session *s, const sim_envelope *env) {
  struct plat_server *srv = s->srv;
  if (sim_conn_pending(s->conn) > srv->cfg.sendq_max) {
    srv->c.sendq_overflows++;
    sim_log_limited(&srv->log_sendq, LOG_EVERY_MS, SIM_LOG_WARN,
                    "platform: hub %s does not read: more than %u bytes wait for it; session "
                    "closed",
                    s->hub ? s->hub->id : "-", srv->cfg.sendq_max);
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED,
              "send queue full: the hub does not read");
    return SIM_EFULL;
  }
  srv->out.len = 0;
  int rc = sim_hubrpc_encode(&srv->out, env);
  if (rc)
    return rc;
  rc = sim_conn_send(s->conn, srv->out.data, srv->out.len);
  if (rc)
    return rc;
  srv->c.frames_out++;
  srv->c.bytes_out += srv->out.len;
  return 0;
}

/* Sends Error{code, reason} (when code >= 0) and starts closing s. Idempotent. */
static void sess_fail(struct plat_session *s, int code, const char *reason) {
  struct plat_server *srv = s->srv;
  if (s->state == PLAT_S_CLOSING)
    return;
  if (code >= 0) {
    srv->out.len = 0;
    if (sim_hubrpc_put_error(&srv->out, (Hubrpc__V1__ErrorCode)code, reason) == 0 &&
        sim_conn_send(s->conn, srv->out.data, srv->out.len) == 0) {
      srv->c.frames_out++;
      srv->c.bytes_out += srv->out.len;
    }
    if (code < PLAT_ERROR_CODES)
      srv->c.errors_sent[code]++;
    SIM_LOGD("platform: session %s: error %d: %s", s->hub ? s->hub->id : "-", code, reason);
  }
  begin_close(s);
}

static void list_remove(struct plat_slist *l, struct plat_session *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    l->head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    l->tail = s->prev;
  s->prev = s->next = NULL;
  l->n--;
}

/* At the tail: the head is the oldest. */
static void list_push(struct plat_slist *l, struct plat_session *s) {
  s->next = NULL;
  s->prev = l->tail;
  if (l->tail)
    l->tail->next = s;
  else
    l->head = s;
  l->tail = s;
  l->n++;
}

static struct plat_slist *list_of(struct plat_server *srv, const struct plat_session *s) {
  return s->state == PLAT_S_CLOSING ? &srv->closing
         : s->state == PLAT_S_OPEN  ? &srv->live
                                    : &srv->hs;
}

/* Detaches s from its hub and from the bookkeeping of open sessions. */
static void sess_detach(struct plat_session *s) {
  struct plat_server *srv = s->srv;
  if (s->state == PLAT_S_OPEN)
    srv->c.sessions_open--;
  if (s->paused) {
    s->paused = 0;
    srv->c.sessions_paused--;
  }
  if (s->hub && s->hub->sess == s)
    s->hub->sess = NULL;
  s->hub = NULL;
  sim_hubrpc_free(s->hello);
  s->hello = NULL;
}

static void begin_close(struct plat_session *s) {
  struct plat_server *srv = s->srv;
  if (s->state == PLAT_S_CLOSING)
    return;
  list_remove(list_of(srv, s), s);
  sess_detach(s);
  s->state = PLAT_S_CLOSING;
  list_push(&srv->closing, s);
  s->deadline_ms = mono_ms(srv) + (srv->stopping ? STOP_CAP_MS : CLOSE_CAP_MS);
  if (srv->started && !uv_is_active((uv_handle_t *)&srv->reaper))
    uv_check_start(&srv->reaper, plat__reap_cb);
}

static void sess_free(struct plat_session *s) {
  s->srv->c.sessions_closed++;
  sim_frame_reader_fini(&s->reader);
  free(s);
}

/* Closes the connections of closing sessions whose Error has left (or whose cap expired). */
void plat__reap_cb(uv_check_t *h) {
  struct plat_server *srv = h->data;
  uint64_t now = mono_ms(srv);
  struct plat_session *s = srv->closing.head, *next;
  for (; s; s = next) {
    next = s->next;
    if (sim_conn_pending(s->conn) == 0 || now >= s->deadline_ms) {
      list_remove(&srv->closing, s);
      sim_conn_close(s->conn);
      sess_free(s);
    }
  }
  if (!srv->closing.head) {
    uv_check_stop(&srv->reaper);
    if (srv->stopping)
      plat__stop_finish(srv);
  }
}

/* ---------------------------------------------------------------- hubs */

static const char *hub_id_of(const void *h) {
  return ((const struct plat_hub *)h)->id;
}

struct plat_hub *plat__hub_find(struct plat_server *srv, const char *id) {
  return sim_htab_get_str(&srv->hubs, id);
}

static struct plat_hub *hub_add(struct plat_server *srv, const char *id) {
  size_t n = strlen(id);
  struct plat_hub *h = calloc(1, sizeof(*h) + n + 1);
  if (!h)
    return NULL;
  memcpy(h->id, id, n + 1);
  if (sim_htab_put_str(&srv->hubs, h->id, h)) {
    free(h);
    return NULL;
  }
  srv->c.hubs_known = srv->hubs.n;
  return h;
}

static void load_hub_cb(void *arg, const char *id, uint64_t boot_id, uint64_t stored) {
  struct plat_server *srv = arg;
  struct plat_hub *h = plat__hub_find(srv, id);
  if (!h)
    h = hub_add(srv, id);
  if (h) {
    h->boot_id = boot_id;
    h->stored = h->received = stored;
  }
}

/* Index of boot_id among h's other boots, or -1. */
static int boots_find(const struct plat_hub *h, uint64_t boot_id) {
  for (int i = 0; h->boots && i < h->boots->n; i++)
    if (h->boots->b[i].boot_id == boot_id)
      return i;
  return -1;
}

static void boots_remove(struct plat_hub *h, int i) {
  struct plat_boots *b = h->boots;
  memmove(&b->b[i], &b->b[i + 1], (size_t)(b->n - i - 1) * sizeof(b->b[0]));
  b->n--;
}

/* Keeps (boot_id, stored) as h's newest other boot; the oldest goes when all slots are used. */
static void boots_put(struct plat_hub *h, uint64_t boot_id, uint64_t stored) {
  if (!h->boots && !(h->boots = calloc(1, sizeof(*h->boots))))
    return; /* forgotten: a return to that boot starts from 0, as before boots were kept */
  int i = boots_find(h, boot_id);
  if (i >= 0)
    boots_remove(h, i);
  else if (h->boots->n == PLAT_BOOTS_KEPT)
    boots_remove(h, 0);
  h->boots->b[h->boots->n].boot_id = boot_id;
  h->boots->b[h->boots->n].stored = stored;
  h->boots->n++;
}

static void load_boot_cb(void *arg, const char *id, uint64_t boot_id, uint64_t stored) {
  struct plat_hub *h = plat__hub_find(arg, id);
  if (h && h->boot_id != boot_id)
    boots_put(h, boot_id, stored);
}

/* ---------------------------------------------------------------- plugs (toggle targets) */

/* Adds or re-targets a plug. The map never deletes: a plug that left keeps its entry with
 * hub == NULL, so a rejoin reuses it. */
static void plug_set(struct plat_server *srv, uint64_t eui64, struct plat_hub *hub,
                     uint8_t endpoint) {
  struct plat_plug *p = sim_htab_get(&srv->plug_by_eui, eui64);
  if (p) {
    p->hub = hub;
    p->endpoint = endpoint;
    return;
  }
  if (!hub)
    return;
  if (srv->nplugs == srv->plugs_cap) {
    size_t ncap = srv->plugs_cap ? srv->plugs_cap * 2 : 256;
    struct plat_plug **np = realloc(srv->plugs, ncap * sizeof(*np));
    if (!np)
      return;
    srv->plugs = np;
    srv->plugs_cap = ncap;
  }
  if (!(p = malloc(sizeof(*p))))
    return;
  *p = (struct plat_plug){eui64, hub, endpoint};
  if (sim_htab_put(&srv->plug_by_eui, eui64, p)) {
    free(p);
    return;
  }
  srv->plugs[srv->nplugs++] = p;
}

static void load_plug_cb(void *arg, uint64_t eui64, const char *hub_id) {
  struct plat_server *srv = arg;
  struct plat_hub *h = plat__hub_find(srv, hub_id);
  if (h)
    plug_set(srv, eui64, h, 1);
}

/* ---------------------------------------------------------------- group commit */

/* The server's timers (PLAT_T_*, server_internal.h): libuv timers on a real clock, wheel timers
 * on a virtual one. */
static void commit_timer_cb(uv_timer_t *t);
static void sweep_cb(uv_timer_t *t);
static void toggle_timer_cb(uv_timer_t *t);
static void auto_timer_cb(uv_timer_t *t);

static uv_timer_t *timer_handle(struct plat_server *srv, int id) {
  return id == PLAT_T_COMMIT   ? &srv->commit_timer
         : id == PLAT_T_SWEEP  ? &srv->sweep_timer
         : id == PLAT_T_TOGGLE ? &srv->toggle_timer
                               : &srv->auto_timer;
}

static uv_timer_cb timer_cb_of(int id) {
  return id == PLAT_T_COMMIT   ? commit_timer_cb
         : id == PLAT_T_SWEEP  ? sweep_cb
         : id == PLAT_T_TOGGLE ? toggle_timer_cb
                               : auto_timer_cb;
}

static void timer_start(struct plat_server *srv, int id, uint64_t ms, uint64_t repeat_ms) {
  if (srv->is_virtual) {
    srv->vrepeat_ms[id] = repeat_ms;
    sim_wheel_add(&srv->vsched.wheel, (uint32_t)id, sim_sched_now(&srv->vsched) + ms * 1000u);
    return;
  }
  uv_timer_start(timer_handle(srv, id), timer_cb_of(id), ms, repeat_ms);
}

static void timer_stop(struct plat_server *srv, int id) {
  if (srv->is_virtual)
    sim_wheel_cancel(&srv->vsched.wheel, (uint32_t)id);
  else
    uv_timer_stop(timer_handle(srv, id));
}

static int timer_active(struct plat_server *srv, int id) {
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
  uint64_t wall = wall_ms(srv);
  uint64_t ms = at_ms > wall ? at_ms - wall : 0;
  if (cap_ms && ms > cap_ms)
    ms = cap_ms;
  timer_start(srv, id, ms, 0);
}

void plat__timer_stop(struct plat_server *srv, int id) {
  if (plat__timers_live(srv))
    timer_stop(srv, id);
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

/* Random bytes: from the seed when the run must repeat, else from the system. */
static int plat_random(struct plat_server *srv, void *p, size_t n) {
  if (!srv->cfg.seed)
    return sim_auth_random(p, n);
  uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)sim_rng_u32(&srv->rng);
  return 0;
}

static void arm_commit(struct plat_server *srv) {
  if (!srv->started || srv->finishing || timer_active(srv, PLAT_T_COMMIT))
    return;
  timer_start(srv, PLAT_T_COMMIT, srv->cfg.commit_ms, 0);
}

void plat__flush(struct plat_server *srv);

static void mark_dirty(struct plat_server *srv, struct plat_hub *h) {
  if (!h->dirty) {
    h->dirty = 1;
    h->dnext = srv->dirty;
    srv->dirty = h;
  }
  if (plat_store_pending(srv->store) >= PLAT_COMMIT_ROWS)
    plat__flush(srv);
  else
    arm_commit(srv);
}

/* ---------------------------------------------------------------- store failures */

static uint64_t hb_ms(const struct plat_server *srv) {
  return (uint64_t)srv->cfg.heartbeat_s * 1000u;
}

/* Stops reading s: its hub's bytes wait in the kernel and TCP flow control stops the hub. A
 * transport that cannot pause leaves the session read, as before. */
static void sess_pause(struct plat_session *s) {
  struct plat_server *srv = s->srv;
  if (s->paused || s->state != PLAT_S_OPEN || sim_conn_pause(s->conn, 1))
    return;
  s->paused = 1;
  srv->c.sessions_paused++;
  s->deadline_ms = mono_ms(srv) + hb_ms(srv);
}

static void sess_resume(struct plat_session *s) {
  struct plat_server *srv = s->srv;
  if (!s->paused)
    return;
  s->paused = 0;
  srv->c.sessions_paused--;
  s->last_rx_ms = mono_ms(srv); /* it could not send us anything meanwhile */
  if (sim_conn_pause(s->conn, 0))
    begin_close(s);
}

static unsigned probe_delay(const struct plat_server *srv) {
  unsigned d = PROBE_MS;
  for (unsigned i = 0; i < srv->relapses && d < PROBE_MAX_MS; i++)
    d *= 2;
  return d < PROBE_MAX_MS ? d : PROBE_MAX_MS;
}

/* The store failed to write or commit a group (lost: its file was deleted or replaced). Says so
 * once, loudly, and stops reading every open session until a test write works (never, once
 * lost). The hubs whose data was in the group have been told to resend already. */
static void store_trouble(struct plat_server *srv, int lost) {
  uint64_t now = mono_ms(srv);
  int was = srv->store_state;
  if (was == PLAT_STORE_LOST)
    return;
  if (lost) {
    srv->store_state = PLAT_STORE_LOST;
    SIM_LOGE("platform: the database file %s was deleted or replaced while in use: what is "
             "committed now would be lost at the next start, so from now on nothing is "
             "acknowledged and no hub is read (hubs keep what they have); restart the platform",
             srv->db_path);
  } else if (was == PLAT_STORE_OK) {
    srv->store_state = PLAT_STORE_FAILING;
    if (srv->resumed_ms && now - srv->resumed_ms < RELAPSE_MS)
      srv->relapses++;
    else
      srv->relapses = 0;
    srv->probe_at_ms = now + probe_delay(srv);
    sim_log_limited(&srv->log_store, LOG_EVERY_MS, SIM_LOG_ERROR,
                    "platform: the store %s cannot write: nothing is acknowledged and no hub is "
                    "read until a test write succeeds (the first in %u ms); hubs keep their data",
                    srv->db_path, probe_delay(srv));
  }
  if (was == PLAT_STORE_OK)
    srv->c.store_failures++;
  srv->c.store_state = (uint64_t)srv->store_state;
  for (struct plat_session *s = srv->live.head; s; s = s->next)
    sess_pause(s);
}

/* A failing store's test write (from the sweep, when it is due): success resumes reading. */
static void store_probe(struct plat_server *srv, uint64_t now) {
  if (srv->store_state != PLAT_STORE_FAILING || now < srv->probe_at_ms)
    return;
  plat__flush(srv); /* what the handshakes wrote meanwhile */
  if (srv->store_state != PLAT_STORE_FAILING)
    return;
  int rc = plat_store_probe(srv->store);
  if (rc == 0 && plat_store_moved(srv->store)) {
    store_trouble(srv, 1);
    return;
  }
  if (rc) {
    srv->probe_at_ms = now + probe_delay(srv);
    return;
  }
  srv->store_state = PLAT_STORE_OK;
  srv->c.store_state = PLAT_STORE_OK;
  srv->resumed_ms = now;
  SIM_LOGI("platform: the store %s writes again: reading %zu sessions again", srv->db_path,
           srv->live.n);
  struct plat_session *s = srv->live.head, *next;
  for (; s; s = next) {
    next = s->next;
    sess_resume(s);
  }
}

/* Commits the open group and acknowledges every hub that had data (or duplicates) in it, once
 * the COMMIT succeeded and the file committed to is still the one at the database's path.
 * Otherwise nothing of the group is acknowledged: the hubs' received seq falls back to stored
 * and their sessions are closed, so they reconnect and resend from their last Ack, and the
 * store is in trouble (store_trouble). */
void plat__flush(struct plat_server *srv) {
  if (srv->started && !srv->finishing)
    timer_stop(srv, PLAT_T_COMMIT);
  uint64_t now = wall_ms(srv);
  int rc = 0, lost = 0;
  for (struct plat_hub *h = srv->dirty; h && !rc; h = h->dnext)
    if (h->received > h->stored)
      rc = plat_store_hub_progress(srv->store, h->id, h->boot_id, h->received, now);
  size_t rows = plat_store_pending(srv->store);
  int crc = plat_store_commit(srv->store); /* whatever rc is, the group is over */
  if (!rc)
    rc = crc;
  /* Cheap (two stat calls per group), and the only way to learn of a deleted file: SQLite
   * goes on writing into the unlinked inode without an error. */
  if (!rc && rows && plat_store_moved(srv->store)) {
    rc = SIM_EIO;
    lost = 1;
  }
  if (!rc && rows && srv->store_state == PLAT_STORE_LOST)
    rc = SIM_EIO; /* once lost, never trusted again before a restart */
  if (rc) {
    srv->c.commit_failures++;
  } else if (rows) {
    srv->c.commits++;
    srv->c.rows_committed += rows;
    srv->c.reports_committed += srv->group_reports;
  }
  srv->group_reports = 0;
  struct plat_hub *h = srv->dirty, *next;
  srv->dirty = NULL;
  for (; h; h = next) {
    next = h->dnext;
    h->dnext = NULL;
    h->dirty = 0;
    struct plat_session *s = h->sess;
    if (rc) {
      h->received = h->stored;
      if (s)
        sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, "store failure, resend");
      continue;
    }
    h->stored = h->received;
    if (!s || s->state != PLAT_S_OPEN)
      continue;
    /* Data an earlier session delivered and this group stored is acknowledged once this
     * session's hub has sent it again: a hub refuses an Ack above what it sent in the session. */
    uint64_t up = h->stored < s->rx_top ? h->stored : s->rx_top;
    if (up == 0)
      continue; /* nothing this session sent is stored yet */
    Hubrpc__V1__Ack ack = HUBRPC__V1__ACK__INIT;
    ack.up_to_seq = up;
    sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
    env.body_case = HUBRPC__V1__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    if (sess_send(s, &env)) {
      begin_close(s);
      continue;
    }
    s->acked = up;
    srv->c.acks_sent++;
  }
  if (rc)
    store_trouble(srv, lost);
}

static void commit_timer_cb(uv_timer_t *t) {
  plat__flush(t->data);
}

/* ---------------------------------------------------------------- commands */

static void cmd_track(struct plat_server *srv, uint64_t id, uint64_t deadline) {
  if (srv->cmd_head > 0 && srv->cmd_head >= srv->cmd_len / 2) {
    memmove(srv->cmds, srv->cmds + srv->cmd_head,
            (srv->cmd_len - srv->cmd_head) * sizeof(*srv->cmds));
    srv->cmd_len -= srv->cmd_head;
    srv->cmd_head = 0;
  }
  if (srv->cmd_len == srv->cmd_cap) {
    size_t ncap = srv->cmd_cap ? srv->cmd_cap * 2 : 64;
    struct plat_pcmd *n = realloc(srv->cmds, ncap * sizeof(*n));
    if (!n)
      return; /* untracked: its result will count as late/unknown, never crash */
    srv->cmds = n;
    srv->cmd_cap = ncap;
  }
  srv->cmds[srv->cmd_len++] = (struct plat_pcmd){id, deadline, 0};
}

/* Pending commands are in cmd_id order (ids are issued monotonically): binary search. */
static struct plat_pcmd *cmd_find(struct plat_server *srv, uint64_t id) {
  size_t lo = srv->cmd_head, hi = srv->cmd_len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (srv->cmds[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < srv->cmd_len && srv->cmds[lo].id == id ? &srv->cmds[lo] : NULL;
}

static void cmd_sweep(struct plat_server *srv, uint64_t now) {
  while (srv->cmd_head < srv->cmd_len) {
    struct plat_pcmd *p = &srv->cmds[srv->cmd_head];
    if (!p->done && p->deadline > now)
      break;
    if (!p->done)
      srv->c.commands_timed_out++;
    srv->cmd_head++;
  }
  if (srv->cmd_head == srv->cmd_len)
    srv->cmd_head = srv->cmd_len = 0;
}

int plat_server_command(struct plat_server *srv, const char *hub_id, uint64_t eui64,
                        uint32_t endpoint, uint32_t cluster, uint32_t command,
                        const uint8_t *payload, size_t len, int global, uint32_t mfr_code,
                        uint64_t *cmd_id_out) {
  if (!hub_id || endpoint > 0xFF || cluster > 0xFFFF || command > 0xFF || mfr_code > 0xFFFF ||
      len > 1024 || (len && !payload))
    return SIM_EINVAL;
  if (srv->stopping)
    return SIM_ECLOSED;
  struct plat_hub *h = plat__hub_find(srv, hub_id);
  if (!h || !h->sess || h->sess->state != PLAT_S_OPEN)
    return SIM_ENOTFOUND;
  uint64_t id = srv->next_cmd_id + 1;
  uint64_t issued = wall_ms(srv);
  Hubrpc__V1__Command cmd = HUBRPC__V1__COMMAND__INIT;
  cmd.cmd_id = id;
  cmd.device = eui64;
  cmd.endpoint = endpoint;
  cmd.cluster = cluster;
  cmd.command = command;
  cmd.zcl_payload.data = (uint8_t *)payload;
  cmd.zcl_payload.len = len;
  cmd.global = global ? 1 : 0;
  cmd.manufacturer_code = mfr_code;
  cmd.issued_ms = issued;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_COMMAND;
  env.command = &cmd;
  struct plat_session *s = h->sess; /* a failed send detaches it from the hub */
  int rc = sess_send(s, &env);
  if (rc) {
    begin_close(s);
    return SIM_ECLOSED;
  }
  srv->next_cmd_id = id;
  srv->c.commands_sent++;
  /* The row persists the id (its max is reloaded at start) and is where the result lands. A
   * failed write abandoned the group: the commit timer reports it. */
  plat_store_cmd_issued(srv->store, id, eui64, h->id, cluster, command, issued);
  arm_commit(srv);
  cmd_track(srv, id, mono_ms(srv) + PLAT_COMMAND_TIMEOUT_MS);
  if (cmd_id_out)
    *cmd_id_out = id;
  return 0;
}

/* Background toggles: every 1/rate s one on/off Toggle (cluster 0x0006, command 0x02) to a
 * random plug behind an online hub. Rates above the timer resolution send several per tick,
 * keeping the average. */
static void toggle_timer_cb(uv_timer_t *t) {
  struct plat_server *srv = t->data;
  uint64_t now = mono_ms(srv);
  double due = (double)(now - srv->toggle_start_ms) * srv->cfg.command_rate / 1000.0;
  uint64_t n = due > (double)srv->toggles ? (uint64_t)(due - (double)srv->toggles) : 0;
  if (n > 10000)
    n = 10000;
  for (uint64_t i = 0; i < n; i++) {
    srv->toggles++;
    if (!srv->nplugs)
      continue;
    for (int tries = 0; tries < 16; tries++) {
      struct plat_plug *p = srv->plugs[sim_rng_below(&srv->rng, (uint32_t)srv->nplugs)];
      if (p->hub && p->hub->sess && p->hub->sess->state == PLAT_S_OPEN) {
        plat_server_command(srv, p->hub->id, p->eui64, p->endpoint, 0x0006, 0x02, NULL, 0, 0, 0,
                            NULL);
        break;
      }
    }
  }
}

/* ---------------------------------------------------------------- protocol */

static int valid_hub_id(const char *id) {
  size_t n = strlen(id);
  if (n < 1 || n > SIM_HUBRPC_HUB_ID_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = id[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == ':' || ch == '-'))
      return 0;
  }
  return 1;
}

/* Handles Hello. Returns 1 when env is kept by the session (until Auth). */
static int on_hello(struct plat_session *s, sim_envelope *env) {
  const Hubrpc__V1__Hello *h = env->hello;
  if (h->proto_version != SIM_HUBRPC_VERSION) {
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSUPPORTED_VERSION, "supported: 1");
    return 0;
  }
  if (!h->hub_id || !valid_hub_id(h->hub_id)) {
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD,
              "hub_id: 1..64 bytes of [A-Za-z0-9._:-]");
    return 0;
  }
  if (h->client_nonce.len != SIM_HUBRPC_NONCE_LEN) {
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD, "client_nonce: exactly 16 bytes");
    return 0;
  }
  if (plat_random(s->srv, s->server_nonce, sizeof(s->server_nonce))) {
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, "no random bytes");
    return 0;
  }
  Hubrpc__V1__Challenge ch = HUBRPC__V1__CHALLENGE__INIT;
  ch.server_nonce.data = s->server_nonce;
  ch.server_nonce.len = sizeof(s->server_nonce);
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_CHALLENGE;
  out.challenge = &ch;
  if (sess_send(s, &out)) {
    begin_close(s);
    return 0;
  }
  s->hello = env;
  s->state = PLAT_S_AUTH;
  return 1;
}

static void on_auth(struct plat_session *s, const Hubrpc__V1__Auth *a) {
  struct plat_server *srv = s->srv;
  const Hubrpc__V1__Hello *hello = s->hello->hello;
  uint8_t secret[32], mac[32];
  int ok = a->mac.len == SIM_HUBRPC_MAC_LEN &&
           sim_auth_hub_secret(srv->fleet_key, srv->fleet_key_len, hello->hub_id, secret) == 0 &&
           sim_auth_mac(secret, hello->client_nonce.data, s->server_nonce, mac) == 0 &&
           sim_auth_equal(mac, a->mac.data, sizeof(mac));
  if (!ok) {
    srv->c.auth_failed++;
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED, "wrong mac");
    return;
  }
  srv->c.auth_ok++;
  struct plat_hub *h = plat__hub_find(srv, hello->hub_id);
  int known = h != NULL;
  if (!h && !(h = hub_add(srv, hello->hub_id))) {
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, "out of memory");
    return;
  }
  uint64_t now = wall_ms(srv);
  if (known && h->boot_id != hello->boot_id && h->dirty)
    plat__flush(srv); /* settle the boot being left: its Ack, or its resend */
  if (h->sess && h->sess != s) {
    srv->c.duplicate_sessions++;
    sess_fail(h->sess, HUBRPC__V1__ERROR_CODE__ERROR_DUPLICATE_SESSION,
              "a newer session of this hub replaced this one");
  }
  if (!known) {
    h->boot_id = hello->boot_id;
    h->received = h->stored = 0;
  } else if (h->boot_id != hello->boot_id) {
    /* A new boot starts a new sequence; the boot left keeps its stored seq, so that a hub that
     * comes back with it (a second device with this hub's credentials: docs/protocol.md 6.1)
     * resumes where it was instead of losing what it sent. */
    int back = boots_find(h, hello->boot_id);
    uint64_t resume = back >= 0 ? h->boots->b[back].stored : 0;
    if (back >= 0) {
      boots_remove(h, back);
      plat_store_boot_forget(srv->store, h->id, hello->boot_id);
      srv->c.boot_returns++;
      sim_log_limited(&srv->log_boot, LOG_EVERY_MS, SIM_LOG_WARN,
                      "platform: hub %s came back with boot %016llx after boot %016llx: two "
                      "devices seem to hold this hub's credentials",
                      h->id, (unsigned long long)hello->boot_id, (unsigned long long)h->boot_id);
    }
    boots_put(h, h->boot_id, h->stored);
    plat_store_boot_keep(srv->store, h->id, h->boot_id, h->stored, now, PLAT_BOOTS_KEPT);
    h->boot_id = hello->boot_id;
    h->received = h->stored = resume;
  }
  h->sess = s;
  s->hub = h;
  s->acked = s->rx_top = h->stored;
  /* A failed write abandoned the group: the commit timer reports it. */
  plat_store_hub_seen(srv->store, h->id, h->boot_id, h->stored, hello->model, hello->firmware, now);
  arm_commit(srv);
  if (plat_random(srv, &s->session_id, sizeof(s->session_id)))
    s->session_id = sim_rng_u32(&srv->rng);
  Hubrpc__V1__Welcome w = HUBRPC__V1__WELCOME__INIT;
  w.session_id = s->session_id;
  w.heartbeat_s = srv->cfg.heartbeat_s;
  w.server_time_ms = now;
  w.acked_seq = h->stored;
  w.max_window = srv->cfg.max_window;
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_WELCOME;
  out.welcome = &w;
  sim_hubrpc_free(s->hello);
  s->hello = NULL;
  list_remove(&srv->hs, s);
  s->state = PLAT_S_OPEN;
  list_push(&srv->live, s);
  srv->c.sessions_open++;
  s->last_rx_ms = mono_ms(srv);
  if (sess_send(s, &out)) {
    begin_close(s);
    return;
  }
  if (srv->store_state != PLAT_STORE_OK)
    sess_pause(s); /* its Welcome is honest (acked_seq = stored); its data must wait */
}

/* Applies the sequencing rules to seq. Returns 1: new, 0: duplicate (acked, not stored),
 * -1: the session failed. */
static int seq_check(struct plat_session *s, uint64_t seq) {
  struct plat_server *srv = s->srv;
  struct plat_hub *h = s->hub;
  char why[96];
  if (seq == 0) {
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD, "seq: starts at 1");
    return -1;
  }
  if (seq > s->rx_top)
    s->rx_top = seq;
  if (seq <= h->received) {
    srv->c.seq_duplicate++;
    mark_dirty(srv, h); /* a resend of stored data still gets its Ack */
    return 0;
  }
  if (seq > h->received + 1) {
    snprintf(why, sizeof(why), "expected seq %llu, got %llu", (unsigned long long)h->received + 1,
             (unsigned long long)seq);
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_BAD_SEQUENCE, why);
    return -1;
  }
  if (seq > s->acked + srv->cfg.max_window) {
    snprintf(why, sizeof(why), "seq %llu beyond acked %llu + window %u", (unsigned long long)seq,
             (unsigned long long)s->acked, srv->cfg.max_window);
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_WINDOW_EXCEEDED, why);
    return -1;
  }
  return 1;
}

/* Ends the handling of a new sequenced message after its store write. */
static void seq_accept(struct plat_session *s, uint64_t seq, int store_rc) {
  if (store_rc) {
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, "store failure, resend");
    /* The whole group was abandoned (store.h): settle it now, so that every hub with data in
     * it is told, and the store's trouble begins. */
    plat__flush(s->srv);
    return;
  }
  s->hub->received = seq;
  mark_dirty(s->srv, s->hub);
}

static void on_open_msg(struct plat_session *s, const sim_envelope *env) {
  struct plat_server *srv = s->srv;
  struct plat_hub *h = s->hub;
  uint64_t now = wall_ms(srv);
  int r;
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT: {
    srv->c.heartbeats++;
    Hubrpc__V1__Heartbeat hb = HUBRPC__V1__HEARTBEAT__INIT;
    hb.time_ms = now;
    sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
    out.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
    out.heartbeat = &hb;
    if (sess_send(s, &out))
      begin_close(s);
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_REPORT:
    r = seq_check(s, env->report->seq);
    if (r == 0)
      srv->c.reports_duplicate++;
    if (r == 1) {
      srv->c.reports_new++;
      int src = plat_store_report(srv->store, h->id, h->boot_id, env->report, now);
      if (src == 0)
        srv->group_reports++; /* before seq_accept: it may commit the group */
      seq_accept(s, env->report->seq, src);
      /* Automations see the Report once it is accepted into the store's group. */
      if (src == 0 && srv->autom)
        plat__auto_report(srv, env->report);
    }
    break;
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED: {
    const Hubrpc__V1__DeviceJoined *j = env->device_joined;
    if (seq_check(s, j->seq) != 1)
      break;
    srv->c.joined++;
    if (j->model && strcmp(j->model, PLAT_TOGGLE_MODEL) == 0) {
      uint8_t ep = 1;
      for (size_t i = 0; i < j->n_endpoints; i++)
        for (size_t k = 0; k < j->endpoints[i]->n_in_clusters; k++)
          if (j->endpoints[i]->in_clusters[k] == 0x0006 && ep == 1 && j->endpoints[i]->id <= 0xFF)
            ep = (uint8_t)j->endpoints[i]->id;
      plug_set(srv, j->device, h, ep);
    }
    seq_accept(s, j->seq, plat_store_joined(srv->store, h->id, j, now));
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT: {
    const Hubrpc__V1__DeviceLeft *l = env->device_left;
    if (seq_check(s, l->seq) != 1)
      break;
    srv->c.left++;
    plug_set(srv, l->device, NULL, 0);
    seq_accept(s, l->seq, plat_store_left(srv->store, h->id, l, now));
    break;
  }
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT: {
    const Hubrpc__V1__CommandResult *cr = env->command_result;
    if (seq_check(s, cr->seq) != 1)
      break;
    int known = 0;
    int rc = plat_store_cmd_result(srv->store, h->id, cr, now, &known);
    struct plat_pcmd *p = cmd_find(srv, cr->cmd_id);
    if (p && !p->done) {
      p->done = 1;
      if (cr->status == HUBRPC__V1__COMMAND_STATUS__COMMAND_OK)
        srv->c.commands_ok++;
      else
        srv->c.commands_failed++;
    } else if (known) {
      srv->c.command_results_late++;
    } else {
      srv->c.command_results_unknown++;
    }
    seq_accept(s, cr->seq, rc);
    break;
  }
  default:
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE,
              sim_hubrpc_body_name(env->body_case));
    break;
  }
}

/* Handles one decoded envelope. Returns 1 when the session keeps env. */
static int dispatch(struct plat_session *s, sim_envelope *env) {
  struct plat_server *srv = s->srv;
  char why[64];
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_ERROR: {
    uint32_t code = (uint32_t)env->error->code;
    srv->c.errors_received[code < PLAT_ERROR_CODES ? code : 0]++;
    SIM_LOGD("platform: hub error %u: %s", code, env->error->reason ? env->error->reason : "");
    begin_close(s);
    return 0;
  }
  case HUBRPC__V1__ENVELOPE__BODY_GOODBYE:
    begin_close(s);
    return 0;
  case HUBRPC__V1__ENVELOPE__BODY_CHALLENGE:
  case HUBRPC__V1__ENVELOPE__BODY_WELCOME:
  case HUBRPC__V1__ENVELOPE__BODY_ACK:
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND:
  case HUBRPC__V1__ENVELOPE__BODY_PERMIT_JOIN:
    snprintf(why, sizeof(why), "%s is a platform message", sim_hubrpc_body_name(env->body_case));
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE, why);
    return 0;
  default:
    break;
  }
  switch (s->state) {
  case PLAT_S_HELLO:
    if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_HELLO)
      return on_hello(s, env);
    break;
  case PLAT_S_AUTH:
    if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_AUTH) {
      on_auth(s, env->auth);
      return 0;
    }
    break;
  case PLAT_S_OPEN:
    if (env->body_case != HUBRPC__V1__ENVELOPE__BODY_HELLO &&
        env->body_case != HUBRPC__V1__ENVELOPE__BODY_AUTH) {
      on_open_msg(s, env);
      return 0;
    }
    break;
  default:
    return 0;
  }
  snprintf(why, sizeof(why), "%s not allowed %s", sim_hubrpc_body_name(env->body_case),
           s->state == PLAT_S_OPEN ? "after the handshake" : "before the handshake ends");
  sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE, why);
  return 0;
}

static int on_frame(void *arg, const uint8_t *body, size_t len) {
  struct plat_session *s = arg;
  struct plat_server *srv = s->srv;
  srv->c.frames_in++;
  /* Only a complete frame shows the hub alive: bytes dripped one at a time must not keep a
   * session (and its descriptor) forever. */
  s->last_rx_ms = mono_ms(srv);
  sim_envelope *env = NULL;
  int rc = sim_hubrpc_decode(body, len, &env);
  if (rc) {
    sess_fail(s, sim_hubrpc_error_code(rc),
              rc == SIM_EUNKNOWN_MSG ? "envelope without a known body" : "undecodable envelope");
    return rc;
  }
  if (!dispatch(s, env))
    sim_hubrpc_free(env);
  /* Stop feeding once the session ends: later bytes of a failed peer are not ours to read. */
  return s->state == PLAT_S_CLOSING ? SIM_ECLOSED : 0;
}

static void conn_data_cb(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  struct plat_session *s = user;
  struct plat_server *srv = s->srv;
  srv->c.bytes_in += n;
  if (s->state == PLAT_S_CLOSING)
    return;
  int rc = sim_frame_reader_feed(&s->reader, p, n, on_frame, s);
  if (rc && s->state != PLAT_S_CLOSING) {
    /* A framing error: the frame callback fails the session itself for everything else. */
    sess_fail(s, sim_hubrpc_error_code(rc),
              rc == SIM_ETOOBIG      ? "declared frame length above 65536"
              : rc == SIM_EMALFORMED ? "bad frame length varint"
                                     : "frame reader failure");
  }
}

static void conn_closed_cb(struct sim_conn *c, int err, void *user) {
  struct plat_session *s = user;
  struct plat_server *srv = s->srv;
  list_remove(list_of(srv, s), s);
  if (s->state != PLAT_S_CLOSING)
    sess_detach(s);
  sess_free(s);
  if (srv->stopping && !srv->closing.head && !srv->live.head && !srv->hs.head)
    plat__stop_finish(srv);
}

static const struct sim_conn_cbs conn_cbs = {
    .connect_cb = NULL,
    .data_cb = conn_data_cb,
    .closed_cb = conn_closed_cb,
};

/* The lowest free descriptor number, -1 when unknown. Descriptors are handed out lowest first,
 * so when it is at or above (limit - reserve) at most reserve of them are left. */
static long lowest_free_fd(struct plat_server *srv) {
  int fd = fcntl(uv_backend_fd(srv->loop), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return errno == EMFILE ? LONG_MAX : -1;
  close(fd);
  return fd;
}

static void read_fd_limit(struct plat_server *srv) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    srv->fd_limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* Closes a connection still in its handshake at once, to free its descriptor and its place for
 * a new one. The oldest goes first: a real hub finishes its handshake within a round trip or
 * two, so the oldest are the idle and the slow; an attacker filling the handshakes with idle
 * sockets only pushes out its own. (Refusing the new connection instead would let idle sockets
 * lock every hub out for the 10 s handshake time.) */
static void sess_evict(struct plat_session *s, const char *why) {
  struct plat_server *srv = s->srv;
  srv->c.handshakes_evicted++;
  sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, why);
  list_remove(&srv->closing, s);
  sim_conn_close(s->conn); /* the Error went to the kernel if it could: tcp writes at once */
  sess_free(s);
}

static void accept_cb(struct sim_listener *l, struct sim_conn *c, void *user) {
  struct plat_server *srv = user;
  if (srv->stopping) {
    sim_conn_close(c);
    return;
  }
  if (srv->check_fds) {
    uint64_t reserve = srv->cfg.fd_reserve;
    long low = lowest_free_fd(srv);
    if (low >= 0 && srv->fd_limit > reserve && (uint64_t)low >= srv->fd_limit - reserve) {
      if (!srv->hs.head) {
        srv->c.conns_refused++;
        sim_log_limited(&srv->log_fd, LOG_EVERY_MS, SIM_LOG_WARN,
                        "platform: connection refused: descriptors are down to the %llu kept "
                        "for the store and the admin port (limit %llu, --fd-reserve)",
                        (unsigned long long)reserve, (unsigned long long)srv->fd_limit);
        sim_conn_close(c);
        return;
      }
      sess_evict(srv->hs.head, "too many connections: the oldest handshake gives way");
    }
  }
  if (srv->hs.n >= srv->cfg.max_unauth) {
    sim_log_limited(&srv->log_evict, LOG_EVERY_MS, SIM_LOG_WARN,
                    "platform: %zu connections in their handshake (--max-unauth): the oldest "
                    "is closed for each new one",
                    srv->hs.n);
    sess_evict(srv->hs.head, "too many connections in their handshake: the oldest gives way");
  }
  struct plat_session *s = calloc(1, sizeof(*s));
  if (!s) {
    sim_conn_close(c);
    return;
  }
  s->srv = srv;
  s->conn = c;
  s->state = PLAT_S_HELLO;
  s->accepted_ms = s->last_rx_ms = mono_ms(srv);
  sim_frame_reader_init(&s->reader, SIM_FRAME_MAX);
  if (sim_conn_start(c, &conn_cbs, s)) {
    sim_frame_reader_fini(&s->reader);
    free(s);
    sim_conn_close(c);
    return;
  }
  list_push(&srv->hs, s);
  srv->c.sessions_accepted++;
}

/* Sends Heartbeat{platform time} on s. */
static void send_heartbeat(struct plat_session *s) {
  Hubrpc__V1__Heartbeat hb = HUBRPC__V1__HEARTBEAT__INIT;
  hb.time_ms = wall_ms(s->srv);
  sim_envelope out = HUBRPC__V1__ENVELOPE__INIT;
  out.body_case = HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT;
  out.heartbeat = &hb;
  if (sess_send(s, &out))
    begin_close(s);
}

/* Timeouts (handshake, idle), heartbeats of paused sessions, the store's test writes, command
 * deadlines, admin clients' silence and the cap of lingering closes. */
static void sweep_cb(uv_timer_t *t) {
  struct plat_server *srv = t->data;
  uint64_t now = mono_ms(srv);
  uint64_t idle = hb_ms(srv) * 3u;
  struct plat_session *s, *next;
  /* In age order: the first that is not due ends the walk. */
  for (s = srv->hs.head; s && now - s->accepted_ms >= PLAT_HANDSHAKE_MS; s = next) {
    next = s->next;
    srv->c.handshake_timeouts++;
    sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT, "handshake not completed in 10 s");
  }
  for (s = srv->live.head; s; s = next) {
    next = s->next;
    if (s->paused) {
      /* Not read, so its Heartbeats are not answered: ours keep its idle timer quiet. */
      if (now >= s->deadline_ms) {
        s->deadline_ms = now + hb_ms(srv);
        send_heartbeat(s);
      }
    } else if (now - s->last_rx_ms >= idle) {
      srv->c.idle_timeouts++;
      sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT,
                "no complete frame received for 3 heartbeats");
    }
  }
  store_probe(srv, now);
  if (srv->check_fds)
    read_fd_limit(srv);
  cmd_sweep(srv, now);
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
  sim_htab_init_str(&srv->hubs, hub_id_of);
  srv->cfg = *cfg;
  srv->listen_addr = addr;
  if (!srv->cfg.heartbeat_s)
    srv->cfg.heartbeat_s = PLAT_DEFAULT_HEARTBEAT_S;
  if (!srv->cfg.max_window)
    srv->cfg.max_window = PLAT_DEFAULT_WINDOW;
  if (!srv->cfg.commit_ms)
    srv->cfg.commit_ms = PLAT_DEFAULT_COMMIT_MS;
  if (!srv->cfg.max_unauth)
    srv->cfg.max_unauth = PLAT_DEFAULT_MAX_UNAUTH;
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
  srv->check_fds = strcmp(t->ops->name, "tcp") == 0;
  const uint8_t *key = cfg->fleet_key;
  size_t klen = cfg->fleet_key_len;
  if (!key) {
    key = (const uint8_t *)PLAT_DEFAULT_FLEET_KEY;
    klen = strlen(PLAT_DEFAULT_FLEET_KEY);
  }
  int rc = SIM_ENOMEM;
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
  if ((rc = plat_store_load_hubs(srv->store, load_hub_cb, srv)) ||
      (rc = plat_store_load_boots(srv->store, load_boot_cb, srv)) ||
      (rc = plat_store_load_devices(srv->store, PLAT_TOGGLE_MODEL, load_plug_cb, srv)) ||
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
  int rc = sim_transport_listen(srv->t, &srv->listen_addr, accept_cb, srv, &srv->listener);
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
  timer_start(srv, PLAT_T_SWEEP, SWEEP_MS, SWEEP_MS);
  uv_check_init(srv->loop, &srv->reaper);
  srv->reaper.data = srv;
  uv_timer_init(srv->loop, &srv->toggle_timer);
  srv->toggle_timer.data = srv;
  if (srv->cfg.command_rate > 0) {
    double period = 1000.0 / srv->cfg.command_rate;
    uint64_t ms = period < 1 ? 1 : (uint64_t)period;
    srv->toggle_start_ms = mono_ms(srv);
    timer_start(srv, PLAT_T_TOGGLE, ms, ms);
  }
  uv_timer_init(srv->loop, &srv->auto_timer);
  srv->auto_timer.data = srv;
  srv->handles = 5;
  if (srv->autom)
    plat__auto_arm(srv, 1); /* timers added before the start */
  return 0;
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
    timer_stop(srv, PLAT_T_COMMIT);
    timer_stop(srv, PLAT_T_SWEEP);
    timer_stop(srv, PLAT_T_TOGGLE);
    timer_stop(srv, PLAT_T_AUTO);
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
  timer_stop(srv, PLAT_T_TOGGLE);
  timer_stop(srv, PLAT_T_AUTO);
  plat__admin_stop(srv);
  /* Commit and acknowledge first, so hubs learn what is stored before they are told to go. */
  plat__flush(srv);
  uint64_t now = mono_ms(srv);
  for (struct plat_session *s = srv->closing.head; s; s = s->next)
    if (s->deadline_ms > now + STOP_CAP_MS)
      s->deadline_ms = now + STOP_CAP_MS;
  while (srv->hs.head)
    sess_fail(srv->hs.head, HUBRPC__V1__ERROR_CODE__ERROR_SHUTTING_DOWN, "platform stopping");
  while (srv->live.head)
    sess_fail(srv->live.head, HUBRPC__V1__ERROR_CODE__ERROR_SHUTTING_DOWN, "platform stopping");
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
  size_t it = 0;
  for (struct plat_hub *h; (h = sim_htab_next(&srv->hubs, &it));) {
    free(h->boots);
    free(h);
  }
  sim_htab_fini(&srv->hubs);
  free(srv->db_path);
  free(srv->admin_token);
  for (size_t i = 0; i < srv->nplugs; i++)
    free(srv->plugs[i]);
  free(srv->plugs);
  sim_htab_fini(&srv->plug_by_eui);
  free(srv->cmds);
  plat__auto_free(srv->autom);
  free(srv->fleet_key);
  sim_buf_fini(&srv->out);
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
