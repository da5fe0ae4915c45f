/* The reference platform's store: one SQLite database (WAL, synchronous=NORMAL) with prepared
 * statements. Internal to platform/.
 *
 * Writes are grouped: the first write of a group opens a transaction (BEGIN), every write
 * runs inside it, and plat_store_commit() ends it. Reports (their row and their latest values)
 * and devices' last_seen_ms are noted in memory and written into the group by
 * plat_store_commit before its COMMIT, a few rows per statement (or earlier: before a
 * plat_store_device_read, or once 1 MiB of notes waits); a failure of those writes is
 * plat_store_commit's. The server commits every few
 * milliseconds and acknowledges hubs only after the COMMIT returned, so an Ack means the data
 * is in the database file (WAL) and survives a kill -9.
 *
 * Schema (see plat_store_open):
 *   hubs(hub_id PK, boot_id, stored_seq, last_seen_ms, model, firmware)
 *   devices(eui64 PK, hub_id, model, manufacturer, joined, left, last_seen_ms)
 *   device_state(eui64, endpoint, cluster, attr, member, zcl_type, value, ts_ms,
 *                PK(eui64, endpoint, cluster, attr, member))
 *     the latest value of every attribute; member is -1 for the attribute itself and the TLV
 *     tag for a member of a decoded Xiaomi TLV list (0xFF01 / 0x00F7).
 *   reports(hub_id, boot_id, seq, eui64, endpoint, cluster, zcl_frame, ts_ms, received_ms,
 *           PK(hub_id, boot_id, seq)), an append log
 *   commands(cmd_id PK, eui64, hub_id, cluster, command, issued_ms, result_status, zcl_status,
 *            device_latency_ms, done_ms)
 *   hub_boots(hub_id, boot_id, stored_seq, last_seen_ms, PK(hub_id, boot_id)): the stored seq
 *     of a hub's recent boots other than its current one (schema version 2)
 *   meta(key PK, value), with schema_version (2; a version-1 file is upgraded at open)
 * eui64 and boot_id are stored as signed 64-bit integers (the bit pattern of the uint64).
 *
 * A failed write abandons the whole open group (SQLite may have rolled it back already): later
 * writes of the group fail at once, and plat_store_commit reports the failure and starts a new
 * group. Error lines are rate limited (one per 10 s, with the count of the others).
 *
 * Threading: one store per loop thread. Every call returns 0 or a negative SIM_E* code
 * (SIM_EDB for a database error, logged with SQLite's message). */
#ifndef PLATFORM_STORE_H
#define PLATFORM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/hubrpc.pb-c.h"

struct plat_store;

/* Opens (creating when missing) the database at path. SIM_EINVAL when the file is not one this
 * code can use (not SQLite, another application's tables, a schema version it does not know,
 * a missing table or column), after one log line that names the file and the problem;
 * SIM_EDB for other failures. */
int plat_store_open(const char *path, struct plat_store **out);
/* 1 when the database file or its WAL at the path opened is no longer the file open here
 * (deleted, renamed, replaced): what is committed from now on is lost at the next start.
 * Two stat(2) calls; 0 for an in-memory database. */
int plat_store_moved(struct plat_store *st);
/* Commits the open group, then writes and commits a 64 KiB row and deletes it again: 0 when
 * the store can write again after failures. */
int plat_store_probe(struct plat_store *st);
/* Rolls back an open group (callers commit first) and closes. NULL is allowed. */
void plat_store_close(struct plat_store *st);

/* Loading at start. The callbacks borrow their strings for the call. */
typedef void (*plat_store_hub_cb)(void *arg, const char *hub_id, uint64_t boot_id,
                                  uint64_t stored_seq);
int plat_store_load_hubs(struct plat_store *st, plat_store_hub_cb cb, void *arg);
/* Every device of the given model that has not left, with its hub. */
typedef void (*plat_store_dev_cb)(void *arg, uint64_t eui64, const char *hub_id);
int plat_store_load_devices(struct plat_store *st, const char *model, plat_store_dev_cb cb,
                            void *arg);
/* The hubs' other boots (hub_boots), oldest first per hub. */
int plat_store_load_boots(struct plat_store *st, plat_store_hub_cb cb, void *arg);
/* The highest cmd_id ever issued (0 when none). */
int plat_store_max_cmd_id(struct plat_store *st, uint64_t *out);

/* Rows written in the open group (0: no group open). */
size_t plat_store_pending(const struct plat_store *st);
/* Commits the open group; no-op when none is open. */
int plat_store_commit(struct plat_store *st);

/* Group writes. Strings may be NULL (stored as NULL). */
int plat_store_hub_seen(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                        uint64_t stored_seq, const char *model, const char *firmware,
                        uint64_t now_ms);
int plat_store_hub_progress(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                            uint64_t stored_seq, uint64_t now_ms);
/* Keeps (boot_id, stored_seq) of a boot the hub left, and only its keep most recent boots. */
int plat_store_boot_keep(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                         uint64_t stored_seq, uint64_t now_ms, unsigned keep);
/* Forgets a kept boot (it is the hub's current one again). */
int plat_store_boot_forget(struct plat_store *st, const char *hub_id, uint64_t boot_id);
int plat_store_report(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                      const Hubrpc__V1__Report *r, uint64_t now_ms);
int plat_store_joined(struct plat_store *st, const char *hub_id, const Hubrpc__V1__DeviceJoined *j,
                      uint64_t now_ms);
int plat_store_left(struct plat_store *st, const char *hub_id, const Hubrpc__V1__DeviceLeft *l,
                    uint64_t now_ms);
int plat_store_cmd_issued(struct plat_store *st, uint64_t cmd_id, uint64_t eui64,
                          const char *hub_id, uint32_t cluster, uint32_t command,
                          uint64_t issued_ms);
/* Records a result. *known is set to 1 when a command row with that id existed (it is
 * updated), 0 when not (a row is inserted with what the result says). */
int plat_store_cmd_result(struct plat_store *st, const char *hub_id,
                          const Hubrpc__V1__CommandResult *r, uint64_t now_ms, int *known);

/* One stored value as SQLite holds it. p (TEXT: not NUL-terminated; BLOB: may be NULL when n is
 * 0) is borrowed for the callback it is given to. */
enum { PLAT_CELL_NULL = 0, PLAT_CELL_INT, PLAT_CELL_REAL, PLAT_CELL_TEXT, PLAT_CELL_BLOB };
struct plat_store_cell {
  int kind; /* PLAT_CELL_* */
  int64_t i;
  double r;
  const void *p;
  size_t n;
};
/* A device's row: hub_id, model, manufacturer, joined (ms), left (ms), last_seen_ms. */
#define PLAT_STORE_DEVICE_COLS 6
typedef void (*plat_store_device_cb)(void *arg, const struct plat_store_cell *col);
/* One latest value of a device (device_state): member is -1 for a plain attribute. */
struct plat_store_latest {
  int64_t endpoint, cluster, attr, member, zcl_type, ts_ms;
  struct plat_store_cell value;
};
typedef void (*plat_store_latest_cb)(void *arg, const struct plat_store_latest *row);
/* Latest state of one device: dev_cb once with its row (when it has one), then state_cb per
 * latest value in (endpoint, cluster, attr, member) order. SIM_ENOTFOUND when there is
 * neither; SIM_EDB. Reads see the open group's writes. */
int plat_store_device_read(struct plat_store *st, uint64_t eui64, plat_store_device_cb dev_cb,
                           plat_store_latest_cb state_cb, void *arg);

#endif
