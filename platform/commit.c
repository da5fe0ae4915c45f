/* Group commit and store failures.
 *
 * One group transaction is open in the store; every write of every session goes into it. A
 * timer commits it commit_ms after its first write (or at once at PLAT_COMMIT_ROWS rows) and
 * then acknowledges every hub that had data in it.
 *
 * The platform acknowledges only what a COMMIT stored in the file it opened. When a write or a
 * commit fails, or the file was deleted, the hubs with data in that group are told to resend
 * (Error, close), every other open session stops being read (backpressure: the hubs keep their
 * data and their sessions; a Heartbeat every heartbeat_s keeps their idle timers quiet), and a
 * test write now and then finds out when the store works again. */
#include "platform/platform.h"
#include "platform/server_internal.h"
#include "platform/store.h"
#include "sim/core/err.h"
#include "sim/core/log.h"
#include "sim/wire/hubrpc.h"

/* Test writes of a failing store: every PROBE_MS, and twice as long after each failure that
 * follows a resume within RELAPSE_MS (a store that works only for a moment), up to PROBE_MAX_MS. */
#define PROBE_MS 1000u
#define PROBE_MAX_MS 60000u
#define RELAPSE_MS 10000u

void plat__arm_commit(struct plat_server *srv) {
  if (!srv->started || srv->finishing || plat__timer_pending(srv, PLAT_T_COMMIT))
    return;
  plat__timer_set(srv, PLAT_T_COMMIT, srv->cfg.commit_ms, 0);
}

void plat__mark_dirty(struct plat_server *srv, struct plat_hub *h) {
  if (!h->dirty) {
    h->dirty = 1;
    h->dnext = srv->dirty;
    srv->dirty = h;
  }
  if (plat_store_pending(srv->store) >= PLAT_COMMIT_ROWS)
    plat__flush(srv);
  else
    plat__arm_commit(srv);
}

/* ---------------------------------------------------------------- store failures */

/* Stops reading s: its hub's bytes wait in the kernel and TCP flow control stops the hub. A
 * transport that cannot pause leaves the session read, as before. */
void plat__sess_pause(struct plat_session *s) {
  struct plat_server *srv = s->srv;
  if (s->paused || s->state != PLAT_S_OPEN || sim_conn_pause(s->conn, 1))
    return;
  s->paused = 1;
  srv->c.sessions_paused++;
  s->deadline_ms = plat__mono_ms(srv) + plat__hb_ms(srv);
}

static void sess_resume(struct plat_session *s) {
  struct plat_server *srv = s->srv;
  if (!s->paused)
    return;
  s->paused = 0;
  srv->c.sessions_paused--;
  s->last_rx_ms = plat__mono_ms(srv); /* it could not send us anything meanwhile */
  if (sim_conn_pause(s->conn, 0))
    plat__sess_close(s);
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
  uint64_t now = plat__mono_ms(srv);
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
    sim_log_limited(&srv->log_store, PLAT_LOG_EVERY_MS, SIM_LOG_ERROR,
                    "platform: the store %s cannot write: nothing is acknowledged and no hub is "
                    "read until a test write succeeds (the first in %u ms); hubs keep their data",
                    srv->db_path, probe_delay(srv));
  }
  if (was == PLAT_STORE_OK)
    srv->c.store_failures++;
  srv->c.store_state = (uint64_t)srv->store_state;
  for (struct plat_session *s = srv->live.head; s; s = s->next)
    plat__sess_pause(s);
}

/* A failing store's test write (from the sweep, when it is due): success resumes reading. */
void plat__store_probe(struct plat_server *srv, uint64_t now) {
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
    plat__timer_clear(srv, PLAT_T_COMMIT);
  uint64_t now = plat__wall_ms(srv);
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
        plat__sess_fail(s, HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED, "store failure, resend");
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
    if (plat__sess_send(s, &env)) {
      plat__sess_close(s);
      continue;
    }
    s->acked = up;
    srv->c.acks_sent++;
  }
  if (rc)
    store_trouble(srv, lost);
}

void plat__commit_timer_cb(uv_timer_t *t) {
  plat__flush(t->data);
}
