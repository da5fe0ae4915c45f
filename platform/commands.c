/* Commands to devices: plat_server_command() sends one to an online hub and keeps it, by cmd_id,
 * until its CommandResult arrives or its deadline (--command-timeout, PLAT_COMMAND_TIMEOUT_MS by
 * default) passes. Ids are
 * issued in order, so the pending ones are a sorted array consumed from its head. */
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "platform/server_internal.h"
#include "platform/store.h"
#include "sim/core/err.h"
#include "sim/wire/hubrpc.h"

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

/* Drops the commands answered or past their deadline from the head (the latter counted). */
void plat__cmd_sweep(struct plat_server *srv, uint64_t now) {
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
  if (srv->cfg.workers > 1) { /* the next id of this worker's residue class */
    uint64_t n = srv->cfg.workers, want = (srv->cfg.worker + 1u) % n;
    id += (want + n - id % n) % n;
  }
  uint64_t issued = plat__wall_ms(srv);
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
  int rc = plat__sess_send(s, &env);
  if (rc) {
    plat__sess_close(s);
    return SIM_ECLOSED;
  }
  srv->next_cmd_id = id;
  srv->c.commands_sent++;
  /* The row persists the id (its max is reloaded at start) and is where the result lands. A
   * failed write abandoned the group: the commit timer reports it. */
  plat_store_cmd_issued(srv->store, id, eui64, h->id, cluster, command, issued);
  plat__arm_commit(srv);
  uint64_t deadline_ms = srv->cfg.command_timeout_s ? (uint64_t)srv->cfg.command_timeout_s * 1000u
                                                    : PLAT_COMMAND_TIMEOUT_MS;
  cmd_track(srv, id, plat__mono_ms(srv) + deadline_ms);
  if (cmd_id_out)
    *cmd_id_out = id;
  return 0;
}

/* Counts the CommandResult cr: in time (ok or failed), late (its row exists: known) or for a
 * command never issued. */
void plat__cmd_result(struct plat_server *srv, const Hubrpc__V1__CommandResult *cr, int known) {
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
}
