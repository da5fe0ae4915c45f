#include "platform/store.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/log.h"

enum {
  Q_BEGIN,
  Q_COMMIT,
  Q_HUB_SEEN,
  Q_HUB_PROGRESS,
  Q_REPORT,
  Q_STATE,
  Q_DEV_SEEN,
  Q_JOINED,
  Q_LEFT,
  Q_CMD_ISSUED,
  Q_CMD_RESULT,
  Q_CMD_UNKNOWN,
  Q_COUNT
};

/* Upserts keep the latest value per key; the append log (reports) never replaces, so a
 * primary key conflict there would be a bug of the de-duplication and fails the write. */
static const char *const sql_text[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_HUB_SEEN] = "INSERT INTO hubs(hub_id, boot_id, stored_seq, last_seen_ms, model, firmware) "
                   "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(hub_id) DO UPDATE SET boot_id = ?2, "
                   "stored_seq = ?3, last_seen_ms = ?4, model = ?5, firmware = ?6",
    [Q_HUB_PROGRESS] = "UPDATE hubs SET stored_seq = ?3, last_seen_ms = ?4 "
                       "WHERE hub_id = ?1 AND boot_id = ?2",
    [Q_REPORT] = "INSERT INTO reports(hub_id, boot_id, seq, eui64, endpoint, cluster, zcl_frame, "
                 "ts_ms, received_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [Q_STATE] = "INSERT INTO device_state(eui64, endpoint, cluster, attr, member, zcl_type, value, "
                "ts_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO UPDATE SET "
                "zcl_type = ?6, value = ?7, ts_ms = ?8",
    [Q_DEV_SEEN] = "UPDATE devices SET last_seen_ms = ?2 WHERE eui64 = ?1",
    [Q_JOINED] = "INSERT INTO devices(eui64, hub_id, model, manufacturer, joined, left, "
                 "last_seen_ms) VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6) ON CONFLICT(eui64) DO UPDATE "
                 "SET hub_id = ?2, model = ?3, manufacturer = ?4, joined = ?5, left = 0, "
                 "last_seen_ms = ?6",
    [Q_LEFT] = "UPDATE devices SET left = ?2, last_seen_ms = ?2 WHERE eui64 = ?1",
    [Q_CMD_ISSUED] = "INSERT OR REPLACE INTO commands(cmd_id, eui64, hub_id, cluster, command, "
                     "issued_ms) VALUES(?, ?, ?, ?, ?, ?)",
    [Q_CMD_RESULT] = "UPDATE commands SET result_status = ?2, zcl_status = ?3, "
                     "device_latency_ms = ?4, done_ms = ?5 WHERE cmd_id = ?1",
    [Q_CMD_UNKNOWN] = "INSERT INTO commands(cmd_id, eui64, hub_id, result_status, zcl_status, "
                      "device_latency_ms, done_ms) VALUES(?1, ?6, ?7, ?2, ?3, ?4, ?5)",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS hubs(hub_id TEXT PRIMARY KEY, boot_id INTEGER NOT NULL, "
    "stored_seq INTEGER NOT NULL, last_seen_ms INTEGER, model TEXT, firmware TEXT);"
    "CREATE TABLE IF NOT EXISTS devices(eui64 INTEGER PRIMARY KEY, hub_id TEXT, model TEXT, "
    "manufacturer TEXT, joined INTEGER, left INTEGER, last_seen_ms INTEGER);"
    "CREATE TABLE IF NOT EXISTS device_state(eui64 INTEGER NOT NULL, endpoint INTEGER NOT NULL, "
    "cluster INTEGER NOT NULL, attr INTEGER NOT NULL, member INTEGER NOT NULL, zcl_type INTEGER, "
    "value, ts_ms INTEGER, PRIMARY KEY(eui64, endpoint, cluster, attr, member)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS reports(hub_id TEXT NOT NULL, boot_id INTEGER NOT NULL, "
    "seq INTEGER NOT NULL, eui64 INTEGER, endpoint INTEGER, cluster INTEGER, zcl_frame BLOB, "
    "ts_ms INTEGER, received_ms INTEGER, PRIMARY KEY(hub_id, boot_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS commands(cmd_id INTEGER PRIMARY KEY, eui64 INTEGER, hub_id TEXT, "
    "cluster INTEGER, command INTEGER, issued_ms INTEGER, result_status INTEGER, "
    "zcl_status INTEGER, device_latency_ms INTEGER, done_ms INTEGER);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', 1);";

struct plat_store {
  sqlite3 *db;
  sqlite3_stmt *q[Q_COUNT];
  size_t pending; /* rows written in the open group */
  int in_txn;
};

static int db_fail(struct plat_store *st, const char *what) {
  SIM_LOGE("platform store: %s: %s", what, sqlite3_errmsg(st->db));
  return SIM_EDB;
}

int plat_store_open(const char *path, struct plat_store **out) {
  struct plat_store *st = calloc(1, sizeof(*st));
  if (!st)
    return SIM_ENOMEM;
  if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK) {
    SIM_LOGE("platform store: cannot open %s: %s", path,
             st->db ? sqlite3_errmsg(st->db) : "out of memory");
    goto fail;
  }
  sqlite3_busy_timeout(st->db, 2000);
  /* WAL + NORMAL: a COMMIT is durable against a process crash (kill -9); only a power cut may
   * lose the last transactions, which is the trade every real platform makes for throughput. */
  if (sqlite3_exec(st->db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;",
                   NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(st->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
    db_fail(st, path);
    goto fail;
  }
  for (int i = 0; i < Q_COUNT; i++) {
    if (sqlite3_prepare_v3(st->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &st->q[i], NULL) !=
        SQLITE_OK) {
      db_fail(st, sql_text[i]);
      goto fail;
    }
  }
  *out = st;
  return 0;
fail:
  plat_store_close(st);
  return SIM_EDB;
}

void plat_store_close(struct plat_store *st) {
  if (!st)
    return;
  if (st->in_txn && st->db)
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  for (int i = 0; i < Q_COUNT; i++)
    sqlite3_finalize(st->q[i]);
  sqlite3_close(st->db);
  free(st);
}

/* Runs a prepared statement that returns no rows and resets it. */
static int run(struct plat_store *st, int q) {
  int rc = sqlite3_step(st->q[q]);
  sqlite3_reset(st->q[q]);
  sqlite3_clear_bindings(st->q[q]);
  if (rc != SQLITE_DONE)
    return db_fail(st, sql_text[q]);
  return 0;
}

/* Opens the group transaction on the first write. */
static int begin(struct plat_store *st) {
  if (st->in_txn)
    return 0;
  int rc = run(st, Q_BEGIN);
  if (rc)
    return rc;
  st->in_txn = 1;
  st->pending = 0;
  return 0;
}

size_t plat_store_pending(const struct plat_store *st) {
  return st->in_txn ? st->pending : 0;
}

int plat_store_commit(struct plat_store *st) {
  if (!st->in_txn)
    return 0;
  int rc = run(st, Q_COMMIT);
  if (rc) {
    /* A failed COMMIT leaves nothing durable: roll back so the next group starts clean. The
     * caller does not acknowledge anything of this group. */
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  }
  st->in_txn = 0;
  st->pending = 0;
  return rc;
}

static void bind_text(sqlite3_stmt *s, int i, const char *t) {
  if (t)
    sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, i);
}

static void bind_u64(sqlite3_stmt *s, int i, uint64_t v) {
  sqlite3_bind_int64(s, i, (int64_t)v);
}

int plat_store_load_hubs(struct plat_store *st, plat_store_hub_cb cb, void *arg) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db, "SELECT hub_id, boot_id, stored_seq FROM hubs", -1, &s, NULL) !=
      SQLITE_OK)
    return db_fail(st, "load hubs");
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(s, 0);
    if (id)
      cb(arg, id, (uint64_t)sqlite3_column_int64(s, 1), (uint64_t)sqlite3_column_int64(s, 2));
  }
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? 0 : db_fail(st, "load hubs");
}

int plat_store_load_devices(struct plat_store *st, const char *model, plat_store_dev_cb cb,
                            void *arg) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db, "SELECT eui64, hub_id FROM devices WHERE model = ? AND left = 0",
                         -1, &s, NULL) != SQLITE_OK)
    return db_fail(st, "load devices");
  sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *hub = (const char *)sqlite3_column_text(s, 1);
    if (hub)
      cb(arg, (uint64_t)sqlite3_column_int64(s, 0), hub);
  }
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? 0 : db_fail(st, "load devices");
}

int plat_store_max_cmd_id(struct plat_store *st, uint64_t *out) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db,
                         "SELECT max(coalesce((SELECT max(cmd_id) FROM commands), 0), "
                         "coalesce((SELECT value FROM meta WHERE key = 'max_cmd_id'), 0))",
                         -1, &s, NULL) != SQLITE_OK)
    return db_fail(st, "max cmd_id");
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    *out = (uint64_t)sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return rc == SQLITE_ROW ? 0 : db_fail(st, "max cmd_id");
}

int plat_store_hub_seen(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                        uint64_t stored_seq, const char *model, const char *firmware,
                        uint64_t now_ms) {
  int rc = begin(st);
  if (rc)
    return rc;
  sqlite3_stmt *s = st->q[Q_HUB_SEEN];
  bind_text(s, 1, hub_id);
  bind_u64(s, 2, boot_id);
  bind_u64(s, 3, stored_seq);
  bind_u64(s, 4, now_ms);
  bind_text(s, 5, model);
  bind_text(s, 6, firmware);
  st->pending++;
  return run(st, Q_HUB_SEEN);
}

int plat_store_hub_progress(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                            uint64_t stored_seq, uint64_t now_ms) {
  int rc = begin(st);
  if (rc)
    return rc;
  sqlite3_stmt *s = st->q[Q_HUB_PROGRESS];
  bind_text(s, 1, hub_id);
  bind_u64(s, 2, boot_id);
  bind_u64(s, 3, stored_seq);
  bind_u64(s, 4, now_ms);
  st->pending++;
  return run(st, Q_HUB_PROGRESS);
}

/* Binds an attribute's value with the SQLite type that keeps it exactly: integers as
 * INTEGER (uint64 above INT64_MAX as text), floats as REAL, strings as TEXT, octets as BLOB. */
static void bind_value(sqlite3_stmt *s, int i, const Hubrpc__V1__Attribute *a) {
  switch (a->value_case) {
  case HUBRPC__V1__ATTRIBUTE__VALUE_INT_VALUE:
    sqlite3_bind_int64(s, i, a->int_value);
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_UINT_VALUE:
    if (a->uint_value > INT64_MAX) {
      char t[24];
      snprintf(t, sizeof(t), "%llu", (unsigned long long)a->uint_value);
      sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_int64(s, i, (int64_t)a->uint_value);
    }
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_FLOAT_VALUE:
    sqlite3_bind_double(s, i, a->float_value);
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_BOOL_VALUE:
    sqlite3_bind_int(s, i, a->bool_value ? 1 : 0);
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_STRING_VALUE:
    bind_text(s, i, a->string_value);
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_BYTES_VALUE:
    sqlite3_bind_blob(s, i, a->bytes_value.data ? (const void *)a->bytes_value.data : "",
                      (int)a->bytes_value.len, SQLITE_STATIC);
    break;
  default:
    sqlite3_bind_null(s, i);
    break;
  }
}

static int put_state(struct plat_store *st, const Hubrpc__V1__Report *r,
                     const Hubrpc__V1__Attribute *a, uint32_t attr, int64_t member, uint64_t ts) {
  sqlite3_stmt *s = st->q[Q_STATE];
  bind_u64(s, 1, r->device);
  sqlite3_bind_int64(s, 2, r->endpoint);
  sqlite3_bind_int64(s, 3, r->cluster);
  sqlite3_bind_int64(s, 4, attr);
  sqlite3_bind_int64(s, 5, member);
  sqlite3_bind_int64(s, 6, a->zcl_type);
  bind_value(s, 7, a);
  bind_u64(s, 8, ts);
  return run(st, Q_STATE);
}

int plat_store_report(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                      const Hubrpc__V1__Report *r, uint64_t now_ms) {
  int rc = begin(st);
  if (rc)
    return rc;
  uint64_t ts = r->ts_ms ? r->ts_ms : now_ms;
  sqlite3_stmt *s = st->q[Q_REPORT];
  bind_text(s, 1, hub_id);
  bind_u64(s, 2, boot_id);
  bind_u64(s, 3, r->seq);
  bind_u64(s, 4, r->device);
  sqlite3_bind_int64(s, 5, r->endpoint);
  sqlite3_bind_int64(s, 6, r->cluster);
  sqlite3_bind_blob(s, 7, r->zcl_frame.data ? (const void *)r->zcl_frame.data : "",
                    (int)r->zcl_frame.len, SQLITE_STATIC);
  bind_u64(s, 8, r->ts_ms);
  bind_u64(s, 9, now_ms);
  st->pending++;
  if ((rc = run(st, Q_REPORT)))
    return rc;
  for (size_t i = 0; i < r->n_attributes; i++) {
    const Hubrpc__V1__Attribute *a = r->attributes[i];
    if ((rc = put_state(st, r, a, a->id, -1, ts)))
      return rc;
    for (size_t k = 0; k < a->n_members; k++)
      if ((rc = put_state(st, r, a->members[k], a->id, a->members[k]->id, ts)))
        return rc;
  }
  s = st->q[Q_DEV_SEEN];
  bind_u64(s, 1, r->device);
  bind_u64(s, 2, now_ms);
  return run(st, Q_DEV_SEEN);
}

int plat_store_joined(struct plat_store *st, const char *hub_id, const Hubrpc__V1__DeviceJoined *j,
                      uint64_t now_ms) {
  int rc = begin(st);
  if (rc)
    return rc;
  sqlite3_stmt *s = st->q[Q_JOINED];
  bind_u64(s, 1, j->device);
  bind_text(s, 2, hub_id);
  bind_text(s, 3, j->model);
  bind_text(s, 4, j->manufacturer);
  bind_u64(s, 5, j->ts_ms ? j->ts_ms : now_ms);
  bind_u64(s, 6, now_ms);
  st->pending++;
  return run(st, Q_JOINED);
}

int plat_store_left(struct plat_store *st, const char *hub_id, const Hubrpc__V1__DeviceLeft *l,
                    uint64_t now_ms) {
  (void)hub_id;
  int rc = begin(st);
  if (rc)
    return rc;
  sqlite3_stmt *s = st->q[Q_LEFT];
  bind_u64(s, 1, l->device);
  bind_u64(s, 2, l->ts_ms ? l->ts_ms : now_ms);
  st->pending++;
  return run(st, Q_LEFT);
}

int plat_store_cmd_issued(struct plat_store *st, uint64_t cmd_id, uint64_t eui64,
                          const char *hub_id, uint32_t cluster, uint32_t command,
                          uint64_t issued_ms) {
  int rc = begin(st);
  if (rc)
    return rc;
  sqlite3_stmt *s = st->q[Q_CMD_ISSUED];
  bind_u64(s, 1, cmd_id);
  bind_u64(s, 2, eui64);
  bind_text(s, 3, hub_id);
  sqlite3_bind_int64(s, 4, cluster);
  sqlite3_bind_int64(s, 5, command);
  bind_u64(s, 6, issued_ms);
  st->pending++;
  return run(st, Q_CMD_ISSUED);
}

int plat_store_cmd_result(struct plat_store *st, const char *hub_id,
                          const Hubrpc__V1__CommandResult *r, uint64_t now_ms, int *known) {
  int rc = begin(st);
  if (rc)
    return rc;
  sqlite3_stmt *s = st->q[Q_CMD_RESULT];
  bind_u64(s, 1, r->cmd_id);
  sqlite3_bind_int64(s, 2, r->status);
  sqlite3_bind_int64(s, 3, r->zcl_status);
  sqlite3_bind_int64(s, 4, r->device_latency_ms);
  bind_u64(s, 5, now_ms);
  st->pending++;
  if ((rc = run(st, Q_CMD_RESULT)))
    return rc;
  *known = sqlite3_changes(st->db) > 0;
  if (*known)
    return 0;
  s = st->q[Q_CMD_UNKNOWN];
  bind_u64(s, 1, r->cmd_id);
  sqlite3_bind_int64(s, 2, r->status);
  sqlite3_bind_int64(s, 3, r->zcl_status);
  sqlite3_bind_int64(s, 4, r->device_latency_ms);
  bind_u64(s, 5, now_ms);
  bind_u64(s, 6, r->device);
  bind_text(s, 7, hub_id);
  return run(st, Q_CMD_UNKNOWN);
}

static json_t *column_json(sqlite3_stmt *s, int i) {
  switch (sqlite3_column_type(s, i)) {
  case SQLITE_INTEGER:
    return json_integer(sqlite3_column_int64(s, i));
  case SQLITE_FLOAT:
    return json_real(sqlite3_column_double(s, i));
  case SQLITE_TEXT:
    return json_stringn((const char *)sqlite3_column_text(s, i),
                        (size_t)sqlite3_column_bytes(s, i));
  case SQLITE_BLOB: {
    /* Octet strings as lower-case hex, the form the admin protocol takes them in. */
    const uint8_t *p = sqlite3_column_blob(s, i);
    int n = sqlite3_column_bytes(s, i);
    char *hex = malloc((size_t)n * 2 + 1);
    if (!hex)
      return json_null();
    for (int k = 0; k < n; k++)
      snprintf(hex + 2 * k, 3, "%02x", p[k]);
    hex[2 * n] = 0;
    json_t *j = json_string(hex);
    free(hex);
    return j;
  }
  default:
    return json_null();
  }
}

int plat_store_device_json(struct plat_store *st, uint64_t eui64, char **out) {
  sqlite3_stmt *d = NULL, *a = NULL;
  json_t *root = NULL;
  int rc = SIM_EDB;
  if (sqlite3_prepare_v2(st->db,
                         "SELECT hub_id, model, manufacturer, joined, left, last_seen_ms FROM "
                         "devices WHERE eui64 = ?",
                         -1, &d, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(st->db,
                         "SELECT endpoint, cluster, attr, member, zcl_type, value, ts_ms FROM "
                         "device_state WHERE eui64 = ? ORDER BY endpoint, cluster, attr, member",
                         -1, &a, NULL) != SQLITE_OK) {
    db_fail(st, "device query");
    goto done;
  }
  bind_u64(d, 1, eui64);
  bind_u64(a, 1, eui64);
  char eui[17];
  snprintf(eui, sizeof(eui), "%016llx", (unsigned long long)eui64);
  root = json_object();
  json_object_set_new(root, "eui64", json_string(eui));
  int found = 0;
  if (sqlite3_step(d) == SQLITE_ROW) {
    found = 1;
    static const char *const names[] = {"hub_id",    "model",   "manufacturer",
                                        "joined_ms", "left_ms", "last_seen_ms"};
    for (int i = 0; i < 6; i++)
      json_object_set_new(root, names[i], column_json(d, i));
  }
  json_t *attrs = json_array();
  json_object_set_new(root, "attributes", attrs);
  while (sqlite3_step(a) == SQLITE_ROW) {
    found = 1;
    json_t *o = json_object();
    json_object_set_new(o, "endpoint", json_integer(sqlite3_column_int64(a, 0)));
    json_object_set_new(o, "cluster", json_integer(sqlite3_column_int64(a, 1)));
    json_object_set_new(o, "attr", json_integer(sqlite3_column_int64(a, 2)));
    if (sqlite3_column_int64(a, 3) >= 0)
      json_object_set_new(o, "member", json_integer(sqlite3_column_int64(a, 3)));
    json_object_set_new(o, "zcl_type", json_integer(sqlite3_column_int64(a, 4)));
    json_object_set_new(o, "value", column_json(a, 5));
    json_object_set_new(o, "ts_ms", json_integer(sqlite3_column_int64(a, 6)));
    json_array_append_new(attrs, o);
  }
  if (!found) {
    rc = SIM_ENOTFOUND;
    goto done;
  }
  *out = json_dumps(root, JSON_COMPACT);
  rc = *out ? 0 : SIM_ENOMEM;
done:
  json_decref(root);
  sqlite3_finalize(d);
  sqlite3_finalize(a);
  return rc;
}
