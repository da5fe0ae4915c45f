#include "platform/store.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/core/htab.h"
#include "sim/core/log.h"

enum {
  Q_BEGIN,
  Q_COMMIT,
  Q_HUB_SEEN,
  Q_HUB_PROGRESS,
  Q_DEV_SEEN,
  Q_JOINED,
  Q_LEFT,
  Q_CMD_ISSUED,
  Q_CMD_RESULT,
  Q_CMD_UNKNOWN,
  Q_BOOT_KEEP,
  Q_BOOT_PRUNE,
  Q_BOOT_FORGET,
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
    [Q_BOOT_KEEP] = "INSERT INTO hub_boots(hub_id, boot_id, stored_seq, last_seen_ms) "
                    "VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET stored_seq = ?3, "
                    "last_seen_ms = ?4",
    [Q_BOOT_PRUNE] = "DELETE FROM hub_boots WHERE hub_id = ?1 AND boot_id NOT IN (SELECT boot_id "
                     "FROM hub_boots WHERE hub_id = ?1 ORDER BY last_seen_ms DESC LIMIT ?2)",
    [Q_BOOT_FORGET] = "DELETE FROM hub_boots WHERE hub_id = ?1 AND boot_id = ?2",
};

/* The schema version this code writes, and the oldest it upgrades. Version 2 added hub_boots. */
#define SCHEMA_VERSION 2
#define SCHEMA_OLDEST 1

static const char schema_v1[] =
    "CREATE TABLE hubs(hub_id TEXT PRIMARY KEY, boot_id INTEGER NOT NULL, "
    "stored_seq INTEGER NOT NULL, last_seen_ms INTEGER, model TEXT, firmware TEXT);"
    "CREATE TABLE devices(eui64 INTEGER PRIMARY KEY, hub_id TEXT, model TEXT, "
    "manufacturer TEXT, joined INTEGER, left INTEGER, last_seen_ms INTEGER);"
    "CREATE TABLE device_state(eui64 INTEGER NOT NULL, endpoint INTEGER NOT NULL, "
    "cluster INTEGER NOT NULL, attr INTEGER NOT NULL, member INTEGER NOT NULL, zcl_type INTEGER, "
    "value, ts_ms INTEGER, PRIMARY KEY(eui64, endpoint, cluster, attr, member)) WITHOUT ROWID;"
    "CREATE TABLE reports(hub_id TEXT NOT NULL, boot_id INTEGER NOT NULL, "
    "seq INTEGER NOT NULL, eui64 INTEGER, endpoint INTEGER, cluster INTEGER, zcl_frame BLOB, "
    "ts_ms INTEGER, received_ms INTEGER, PRIMARY KEY(hub_id, boot_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE commands(cmd_id INTEGER PRIMARY KEY, eui64 INTEGER, hub_id TEXT, "
    "cluster INTEGER, command INTEGER, issued_ms INTEGER, result_status INTEGER, "
    "zcl_status INTEGER, device_latency_ms INTEGER, done_ms INTEGER);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
    "INSERT INTO meta(key, value) VALUES('schema_version', 1);";

/* Version 2: the sequence state of a hub's boots other than its current one (docs/protocol.md
 * 7.4), so that a hub that returns to an earlier boot_id resumes its sequence. */
static const char schema_v2[] =
    "CREATE TABLE hub_boots(hub_id TEXT NOT NULL, boot_id INTEGER NOT NULL, "
    "stored_seq INTEGER NOT NULL, last_seen_ms INTEGER, PRIMARY KEY(hub_id, boot_id)) "
    "WITHOUT ROWID;"
    "UPDATE meta SET value = 2 WHERE key = 'schema_version';";

/* Every table and column the statements above use, by the version that introduced it: a file
 * that lacks one is not ours (or was changed by something else), and saying which is more use
 * than SQLite's "no such column" from a prepared statement. */
static const struct {
  int since;
  const char *table;
  const char *cols[11];
} expected[] = {
    {1, "hubs", {"hub_id", "boot_id", "stored_seq", "last_seen_ms", "model", "firmware"}},
    {1, "devices", {"eui64", "hub_id", "model", "manufacturer", "joined", "left", "last_seen_ms"}},
    {1,
     "device_state",
     {"eui64", "endpoint", "cluster", "attr", "member", "zcl_type", "value", "ts_ms"}},
    {1,
     "reports",
     {"hub_id", "boot_id", "seq", "eui64", "endpoint", "cluster", "zcl_frame", "ts_ms",
      "received_ms"}},
    {1,
     "commands",
     {"cmd_id", "eui64", "hub_id", "cluster", "command", "issued_ms", "result_status", "zcl_status",
      "device_latency_ms", "done_ms"}},
    {1, "meta", {"key", "value"}},
    {2, "hub_boots", {"hub_id", "boot_id", "stored_seq", "last_seen_ms"}},
};

/* Statements that write many rows at once (batch_stmt): a Report's row, a latest value. An
 * UPDATE of many rows (UPDATE ... FROM (VALUES ...)) is not among them: SQLite builds a
 * temporary table for each, which costs more than the statements it saves. */
enum { B_REPORT, B_STATE, B_COUNT };
#define BATCH_MAX 32
/* Pending rows are written within the group once their bytes pass this: a hub sending large
 * frames must not make the platform hold a whole group of them in memory. */
#define PEND_BYTES_MAX (1u << 20)

static const struct {
  const char *head, *row, *tail;
} batch_sql[B_COUNT] = {
    [B_REPORT] = {"INSERT INTO reports(hub_id, boot_id, seq, eui64, endpoint, cluster, zcl_frame, "
                  "ts_ms, received_ms) VALUES",
                  "(?,?,?,?,?,?,?,?,?)", ""},
    [B_STATE] =
        {"INSERT INTO device_state(eui64, endpoint, cluster, attr, member, zcl_type, value, "
         "ts_ms) VALUES",
         "(?,?,?,?,?,?,?,?)",
         " ON CONFLICT DO UPDATE SET zcl_type = excluded.zcl_type, value = excluded.value, "
         "ts_ms = excluded.ts_ms"},
};

/* A Report of the open group not written yet; hub id (NUL-terminated) and frame in pbytes. */
struct pend_report {
  uint64_t boot_id, seq, eui64, ts_ms, received_ms;
  int64_t endpoint, cluster;
  size_t hub_off, frame_off, frame_len;
};

/* A latest value of the open group not written yet, as SQLite will store it (kind
 * PLAT_CELL_*; TEXT and BLOB bytes at off in pbytes). */
struct pend_state {
  uint64_t eui64, ts_ms;
  int64_t endpoint, cluster, attr, member, zcl_type;
  int kind;
  int64_t i;
  double r;
  size_t off, n;
};

/* One device's last_seen_ms noted in the open group. */
struct plat_store_seen {
  uint64_t eui64, ms;
};

struct plat_store {
  sqlite3 *db;
  sqlite3_stmt *q[Q_COUNT];
  size_t pending; /* rows written in the open group */
  int in_txn;
  /* A write of the open group failed: the group was rolled back and takes no more writes;
   * the next plat_store_commit reports the failure and starts afresh. */
  int group_failed;
  /* The files opened, to notice when they are deleted or replaced (plat_store_moved). */
  char *path, *wal;
  dev_t dev, wal_dev;
  ino_t ino, wal_ino;
  int have_ino, have_wal_ino;
  struct sim_log_limit log_limit;
  /* devices.last_seen_ms of the open group, written once per device when the group commits
   * rather than once per Report: under load a device reports several times within a group.
   * seen holds struct plat_store_seen entries; seen_at maps an EUI-64 to its index + 1 there.
   * Both keep their memory from group to group, so a steady load allocates nothing here. */
  struct sim_buf seen;
  struct sim_htab seen_at;
  /* The open group's Reports and latest values, written in batches of up to BATCH_MAX rows
   * per statement before the COMMIT (or before a read, or once PEND_BYTES_MAX bytes wait):
   * one statement for many rows instead of one per row. prep holds struct pend_report,
   * pstate struct pend_state, pbytes their hub ids, frames and values. Kept from group to
   * group, so a steady load allocates nothing here. */
  struct sim_buf prep, pstate, pbytes;
  sqlite3_stmt *bq[B_COUNT][BATCH_MAX + 1]; /* prepared on first use: kind, rows */
};

/* Failures of a store that stopped writing repeat with every write (thousands a second under
 * load): one line per 10 s, with the count of the others. */
static int db_fail(struct plat_store *st, const char *what) {
  sim_log_limited(&st->log_limit, 10000, SIM_LOG_ERROR, "platform store: %s: %s", what,
                  sqlite3_errmsg(st->db));
  return SIM_EDB;
}

/* A write of the open group failed. SQLite may already have rolled the whole transaction back
 * (it does for SQLITE_FULL and I/O errors) and would then run the group's later statements in
 * autocommit mode, storing rows whose sequence state is not stored: so the group is abandoned
 * here, whatever SQLite did, and the server treats all of it as not stored. */
static void seen_clear(struct plat_store *st);
static int pend_write(struct plat_store *st);
static int seen_write(struct plat_store *st);

static int group_fail(struct plat_store *st, int rc) {
  seen_clear(st);
  st->prep.len = st->pstate.len = st->pbytes.len = 0;
  if (st->in_txn)
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  st->in_txn = 0;
  st->pending = 0;
  st->group_failed = 1;
  return rc;
}

/* Collects the names of the file's own tables as "a, b, c" into buf. 0 or SQLite's code. */
static int table_names(sqlite3 *db, char *buf, size_t cap, int *count, int *has_meta) {
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                              "LIKE 'sqlite_%' ORDER BY name",
                              -1, &q, NULL);
  size_t o = 0;
  buf[0] = 0;
  *count = *has_meta = 0;
  if (rc != SQLITE_OK)
    return rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    const char *n = (const char *)sqlite3_column_text(q, 0);
    if (!n)
      continue;
    if (strcmp(n, "meta") == 0)
      *has_meta = 1;
    if (o + 1 < cap)
      o += (size_t)snprintf(buf + o, cap - o, "%s%s", (*count)++ ? ", " : "", n);
  }
  sqlite3_finalize(q);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* 1 when table has column. */
static int has_column(sqlite3 *db, const char *table, const char *col) {
  sqlite3_stmt *q = NULL;
  int found = 0;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &q, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, col, -1, SQLITE_STATIC);
    found = sqlite3_step(q) == SQLITE_ROW;
  }
  sqlite3_finalize(q);
  return found;
}

/* Decides whether the file at path is one this code can use, and which schema version it has
 * (0: empty, a new file). Every refusal is one sentence naming the file and what is wrong, and
 * SIM_EINVAL: the file given is unusable, which the caller reports as bad input. */
static int schema_check(struct plat_store *st, const char *path, long long *version) {
  char names[512];
  int count, has_meta;
  int rc = table_names(st->db, names, sizeof names, &count, &has_meta);
  if (rc == SQLITE_NOTADB) {
    SIM_LOGE("platform store: %s is not an SQLite database (or it is encrypted); give --db a "
             "new file or one this platform wrote",
             path);
    return SIM_EINVAL;
  }
  if (rc != SQLITE_OK) {
    SIM_LOGE("platform store: cannot read %s: %s", path, sqlite3_errmsg(st->db));
    return rc == SQLITE_CANTOPEN ? SIM_EINVAL : SIM_EDB;
  }
  *version = 0;
  if (count == 0)
    return 0;
  if (!has_meta) {
    SIM_LOGE("platform store: %s is not a hubsim platform database: it has tables (%s) but no "
             "'meta' table; give --db a new file or one this platform wrote",
             path, names);
    return SIM_EINVAL;
  }
  sqlite3_stmt *q = NULL;
  int typed = 0;
  if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &q,
                         NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_INTEGER) {
    *version = sqlite3_column_int64(q, 0);
    typed = 1;
  }
  sqlite3_finalize(q);
  if (!typed) {
    SIM_LOGE("platform store: %s is not a hubsim platform database: its 'meta' table has no "
             "integer schema_version (tables: %s)",
             path, names);
    return SIM_EINVAL;
  }
  if (*version > SCHEMA_VERSION || *version < SCHEMA_OLDEST) {
    SIM_LOGE("platform store: %s has schema version %lld, and this hubsim reads versions %d to "
             "%d%s; give --db another file",
             path, *version, SCHEMA_OLDEST, SCHEMA_VERSION,
             *version > SCHEMA_VERSION ? " (it was written by a newer hubsim)" : "");
    return SIM_EINVAL;
  }
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
    if (expected[i].since > *version)
      continue;
    for (int k = 0; k < 11 && expected[i].cols[k]; k++) {
      if (has_column(st->db, expected[i].table, expected[i].cols[k]))
        continue;
      if (k == 0 && !has_column(st->db, expected[i].table, expected[i].cols[1]))
        SIM_LOGE("platform store: %s (schema version %lld) has no table '%s': it was changed by "
                 "something other than hubsim, or is not a hubsim platform database",
                 path, *version, expected[i].table);
      else
        SIM_LOGE("platform store: %s (schema version %lld): table '%s' has no column '%s': it "
                 "was changed by something other than hubsim, or is not a hubsim platform "
                 "database",
                 path, *version, expected[i].table, expected[i].cols[k]);
      return SIM_EINVAL;
    }
  }
  return 0;
}

/* Runs sql (several statements) in one transaction. SQLITE_OK or SQLite's code, with its
 * message in err: taken before the ROLLBACK, whose own message ("no transaction is active"
 * when SQLite already rolled back) would hide the cause (EFBIG, a full disk). */
static int exec_txn(sqlite3 *db, const char *sql, char *err, size_t cap) {
  int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    int e = sqlite3_system_errno(db);
    snprintf(err, cap, "%s%s%s%s", sqlite3_errmsg(db), e ? " (" : "", e ? strerror(e) : "",
             e ? ")" : "");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
  return rc;
}

/* Remembers which files were opened: their device and inode, to compare later. */
static void note_files(struct plat_store *st) {
  const char *f = sqlite3_db_filename(st->db, "main");
  struct stat sb;
  if (!f || !*f || stat(f, &sb) != 0)
    return; /* in memory, or a temporary database: nothing to lose by a path */
  size_t n = strlen(f);
  st->path = malloc(n + 1);
  st->wal = malloc(n + 5);
  if (!st->path || !st->wal)
    return;
  memcpy(st->path, f, n + 1);
  snprintf(st->wal, n + 5, "%s-wal", f);
  st->dev = sb.st_dev;
  st->ino = sb.st_ino;
  st->have_ino = 1;
  if (stat(st->wal, &sb) == 0) {
    st->wal_dev = sb.st_dev;
    st->wal_ino = sb.st_ino;
    st->have_wal_ino = 1;
  }
}

int plat_store_open(const char *path, struct plat_store **out) {
  struct plat_store *st = calloc(1, sizeof(*st));
  if (!st)
    return SIM_ENOMEM;
  int rc = SIM_EDB;
  int orc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (orc != SQLITE_OK) {
    SIM_LOGE("platform store: cannot open %s: %s", path,
             st->db ? sqlite3_errmsg(st->db) : "out of memory");
    rc = orc == SQLITE_CANTOPEN ? SIM_EINVAL : SIM_EDB;
    goto fail;
  }
  sqlite3_busy_timeout(st->db, 2000);
  long long version = 0;
  if ((rc = schema_check(st, path, &version)))
    goto fail;
  rc = SIM_EDB;
  /* WAL + NORMAL: a COMMIT is durable against a process crash (kill -9); only a power cut may
   * lose the last transactions, which is the trade every real platform makes for throughput. */
  if (sqlite3_exec(st->db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;",
                   NULL, NULL, NULL) != SQLITE_OK) {
    SIM_LOGE("platform store: cannot use %s: %s", path, sqlite3_errmsg(st->db));
    goto fail;
  }
  /* Under steady load each Report dirties pages all over the file (its hub's part of reports,
   * its device's rows), and every checkpoint copies them into the file and syncs it twice:
   * a longer WAL (40 MB of 4 KiB pages) copies a page written by many groups once, with a
   * tenth of the syncs. Pages are read through a mapping of the file rather than a pread(2)
   * each. Neither changes what a COMMIT guarantees. Failures are harmless (the defaults). */
  sqlite3_exec(st->db, "PRAGMA wal_autocheckpoint=10000; PRAGMA mmap_size=268435456;", NULL, NULL,
               NULL);
  char why[256] = "";
  if (version == 0 && (orc = exec_txn(st->db, schema_v1, why, sizeof why)) == SQLITE_OK)
    version = 1;
  if (version == 1 && orc == SQLITE_OK &&
      (orc = exec_txn(st->db, schema_v2, why, sizeof why)) == SQLITE_OK)
    version = 2;
  if (orc != SQLITE_OK) {
    SIM_LOGE("platform store: cannot write the schema (version %d) into %s: %s", SCHEMA_VERSION,
             path, why);
    goto fail;
  }
  for (int i = 0; i < Q_COUNT; i++) {
    if (sqlite3_prepare_v3(st->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &st->q[i], NULL) !=
        SQLITE_OK) {
      SIM_LOGE("platform store: %s: %s: %s", path, sql_text[i], sqlite3_errmsg(st->db));
      goto fail;
    }
  }
  note_files(st);
  *out = st;
  return 0;
fail:
  plat_store_close(st);
  return rc;
}

int plat_store_moved(struct plat_store *st) {
  struct stat sb;
  if (!st->have_ino)
    return 0;
  if (stat(st->path, &sb) != 0 || sb.st_dev != st->dev || sb.st_ino != st->ino)
    return 1;
  if (!st->have_wal_ino) {
    if (stat(st->wal, &sb) == 0) {
      st->wal_dev = sb.st_dev;
      st->wal_ino = sb.st_ino;
      st->have_wal_ino = 1;
    }
    return 0;
  }
  /* SQLite removes the WAL only when its last connection closes, and this one is open. */
  return stat(st->wal, &sb) != 0 || sb.st_dev != st->wal_dev || sb.st_ino != st->wal_ino;
}

void plat_store_close(struct plat_store *st) {
  if (!st)
    return;
  if (st->in_txn && st->db)
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  for (int i = 0; i < Q_COUNT; i++)
    sqlite3_finalize(st->q[i]);
  for (int k = 0; k < B_COUNT; k++)
    for (int i = 0; i <= BATCH_MAX; i++)
      sqlite3_finalize(st->bq[k][i]);
  sqlite3_close(st->db);
  sim_buf_fini(&st->prep);
  sim_buf_fini(&st->pstate);
  sim_buf_fini(&st->pbytes);
  sim_htab_fini(&st->seen_at);
  sim_buf_fini(&st->seen);
  free(st->path);
  free(st->wal);
  free(st);
}

/* Runs a prepared statement of the group that returns no rows and resets it. A failure
 * abandons the group (group_fail). */
static int run(struct plat_store *st, int q) {
  int rc = sqlite3_step(st->q[q]);
  sqlite3_reset(st->q[q]);
  sqlite3_clear_bindings(st->q[q]);
  if (rc != SQLITE_DONE)
    return group_fail(st, db_fail(st, sql_text[q]));
  return 0;
}

/* Opens the group transaction on the first write. A group that failed takes no more writes
 * until plat_store_commit has reported it. */
static int begin(struct plat_store *st) {
  if (st->group_failed)
    return SIM_EDB;
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
  int rc;
  if (st->group_failed) {
    st->group_failed = 0;
    return SIM_EDB;
  }
  if (!st->in_txn)
    return 0;
  if ((rc = pend_write(st)) || (rc = seen_write(st)))
    return plat_store_commit(st); /* the group failed: reported and cleared */
  /* A failed COMMIT leaves nothing durable; run() rolls back so the next group starts clean.
   * The caller does not acknowledge anything of this group. */
  rc = run(st, Q_COMMIT);
  st->group_failed = 0;
  st->in_txn = 0;
  st->pending = 0;
  return rc;
}

/* Two commits: the 64 KiB row must reach the WAL (a full disk refuses it), and it is gone
 * again afterwards. */
int plat_store_probe(struct plat_store *st) {
  int rc = plat_store_commit(st);
  if (rc)
    return rc;
  static const char *const steps[] = {
      "INSERT OR REPLACE INTO meta(key, value) VALUES('probe', zeroblob(65536))",
      "DELETE FROM meta WHERE key = 'probe'"};
  for (int i = 0; i < 2; i++) {
    if ((rc = begin(st)))
      break;
    if (sqlite3_exec(st->db, steps[i], NULL, NULL, NULL) != SQLITE_OK) {
      rc = group_fail(st, db_fail(st, "test write"));
      break;
    }
    st->pending++;
    if ((rc = plat_store_commit(st)))
      break;
  }
  if (rc)
    plat_store_commit(st); /* reports and clears the failed group */
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

/* Binds the arguments to s in order, one per character of fmt: 't' text (const char *; NULL
 * binds NULL), 'u' uint64_t, 'i' int64_t. */
static void bind_args(sqlite3_stmt *s, const char *fmt, va_list ap) {
  for (int i = 0; fmt[i]; i++) {
    if (fmt[i] == 't')
      bind_text(s, i + 1, va_arg(ap, const char *));
    else if (fmt[i] == 'u')
      bind_u64(s, i + 1, va_arg(ap, uint64_t));
    else
      sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
  }
}

/* One row of the group through statement q, with its arguments (bind_args): opens the group,
 * counts the row, runs q. */
static int group_row(struct plat_store *st, int q, const char *fmt, ...) {
  int rc = begin(st);
  if (rc)
    return rc;
  va_list ap;
  va_start(ap, fmt);
  bind_args(st->q[q], fmt, ap);
  va_end(ap);
  st->pending++;
  return run(st, q);
}

/* Runs statement q with its arguments (bind_args) in the group open already, as a part of the
 * row written before it (not counted). */
static int group_also(struct plat_store *st, int q, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  bind_args(st->q[q], fmt, ap);
  va_end(ap);
  return run(st, q);
}

/* Forgets the open group's last_seen updates (written, or abandoned with the group). Keys are
 * deleted one by one so that the table keeps its slots for the next group. */
static void seen_clear(struct plat_store *st) {
  const struct plat_store_seen *e = (const struct plat_store_seen *)st->seen.data;
  for (size_t i = 0; i < st->seen.len / sizeof *e; i++)
    sim_htab_del(&st->seen_at, e[i].eui64);
  st->seen.len = 0;
}

/* Notes that eui64 was seen at ms in the open group (the latest note wins). 0 or SIM_ENOMEM. */
static int seen_note(struct plat_store *st, uint64_t eui64, uint64_t ms) {
  uintptr_t at = (uintptr_t)sim_htab_get(&st->seen_at, eui64);
  if (at) {
    ((struct plat_store_seen *)st->seen.data)[at - 1].ms = ms;
    return 0;
  }
  struct plat_store_seen n = {eui64, ms};
  if (sim_buf_append(&st->seen, &n, sizeof n))
    return SIM_ENOMEM;
  if (sim_htab_put(&st->seen_at, eui64, (void *)(uintptr_t)(st->seen.len / sizeof n))) {
    st->seen.len -= sizeof n;
    return SIM_ENOMEM;
  }
  return 0;
}

/* A join or a leave writes last_seen_ms itself, after any Report of the group before it: the
 * note of those Reports must not overwrite it at the commit. */
static void seen_forget(struct plat_store *st, uint64_t eui64) {
  struct plat_store_seen *e = (struct plat_store_seen *)st->seen.data;
  uintptr_t at = (uintptr_t)sim_htab_del(&st->seen_at, eui64);
  if (!at)
    return;
  size_t last = st->seen.len / sizeof *e - 1;
  st->seen.len -= sizeof *e;
  if (at - 1 != last) {
    e[at - 1] = e[last];
    (void)sim_htab_put(&st->seen_at, e[at - 1].eui64, (void *)at); /* replaces: no growth */
  }
}

/* Writes the open group's last_seen updates into it (before its COMMIT, or before a read of
 * the devices). 0, or the failure that abandoned the group. */
static int seen_write(struct plat_store *st) {
  const struct plat_store_seen *e = (const struct plat_store_seen *)st->seen.data;
  for (size_t i = 0; i < st->seen.len / sizeof *e; i++) {
    int rc = group_also(st, Q_DEV_SEEN, "uu", e[i].eui64, e[i].ms);
    if (rc)
      return rc; /* group_fail cleared the notes */
  }
  seen_clear(st);
  return 0;
}

/* Runs sql (rows of hub_id, boot_id, stored_seq) and hands every row to cb; what names the
 * step in an error. */
static int load_hub_rows(struct plat_store *st, const char *sql, const char *what,
                         plat_store_hub_cb cb, void *arg) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_fail(st, what);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(s, 0);
    if (id)
      cb(arg, id, (uint64_t)sqlite3_column_int64(s, 1), (uint64_t)sqlite3_column_int64(s, 2));
  }
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? 0 : db_fail(st, what);
}

int plat_store_load_hubs(struct plat_store *st, plat_store_hub_cb cb, void *arg) {
  return load_hub_rows(st, "SELECT hub_id, boot_id, stored_seq FROM hubs", "load hubs", cb, arg);
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
  return group_row(st, Q_HUB_SEEN, "tuuutt", hub_id, boot_id, stored_seq, now_ms, model, firmware);
}

int plat_store_hub_progress(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                            uint64_t stored_seq, uint64_t now_ms) {
  return group_row(st, Q_HUB_PROGRESS, "tuuu", hub_id, boot_id, stored_seq, now_ms);
}

int plat_store_load_boots(struct plat_store *st, plat_store_hub_cb cb, void *arg) {
  return load_hub_rows(st,
                       "SELECT hub_id, boot_id, stored_seq FROM hub_boots ORDER BY hub_id, "
                       "last_seen_ms",
                       "load boots", cb, arg);
}

int plat_store_boot_keep(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                         uint64_t stored_seq, uint64_t now_ms, unsigned keep) {
  int rc = group_row(st, Q_BOOT_KEEP, "tuuu", hub_id, boot_id, stored_seq, now_ms);
  if (rc)
    return rc;
  return group_also(st, Q_BOOT_PRUNE, "ti", hub_id, (int64_t)keep);
}

int plat_store_boot_forget(struct plat_store *st, const char *hub_id, uint64_t boot_id) {
  return group_row(st, Q_BOOT_FORGET, "tu", hub_id, boot_id);
}

/* The statement writing k rows of kind (1 <= k <= BATCH_MAX), prepared on first use and kept. */
static sqlite3_stmt *batch_stmt(struct plat_store *st, int kind, size_t k) {
  if (st->bq[kind][k])
    return st->bq[kind][k];
  char sql[2048];
  size_t o = (size_t)snprintf(sql, sizeof sql, "%s", batch_sql[kind].head);
  for (size_t i = 0; i < k && o < sizeof sql; i++)
    o += (size_t)snprintf(sql + o, sizeof sql - o, "%s%s", i ? "," : "", batch_sql[kind].row);
  if (o < sizeof sql)
    o += (size_t)snprintf(sql + o, sizeof sql - o, "%s", batch_sql[kind].tail);
  if (o >= sizeof sql || sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                            &st->bq[kind][k], NULL) != SQLITE_OK)
    return NULL;
  return st->bq[kind][k];
}

/* Binds a pending value at parameter i as SQLite stores it. */
static void bind_cell(struct plat_store *st, sqlite3_stmt *s, int i, const struct pend_state *v) {
  const void *p = v->n ? (const void *)(st->pbytes.data + v->off) : "";
  switch (v->kind) {
  case PLAT_CELL_INT:
    sqlite3_bind_int64(s, i, v->i);
    break;
  case PLAT_CELL_REAL:
    sqlite3_bind_double(s, i, v->r);
    break;
  case PLAT_CELL_TEXT:
    sqlite3_bind_text(s, i, p, (int)v->n, SQLITE_STATIC);
    break;
  case PLAT_CELL_BLOB:
    sqlite3_bind_blob(s, i, p, (int)v->n, SQLITE_STATIC);
    break;
  default:
    sqlite3_bind_null(s, i);
    break;
  }
}

/* Binds row r of kind at parameters base+1.. of s. */
static void batch_bind(struct plat_store *st, sqlite3_stmt *s, int kind, int base, size_t r) {
  if (kind == B_REPORT) {
    const struct pend_report *p = (const struct pend_report *)st->prep.data + r;
    bind_text(s, base + 1, (const char *)st->pbytes.data + p->hub_off);
    bind_u64(s, base + 2, p->boot_id);
    bind_u64(s, base + 3, p->seq);
    bind_u64(s, base + 4, p->eui64);
    sqlite3_bind_int64(s, base + 5, p->endpoint);
    sqlite3_bind_int64(s, base + 6, p->cluster);
    sqlite3_bind_blob(s, base + 7,
                      p->frame_len ? (const void *)(st->pbytes.data + p->frame_off) : "",
                      (int)p->frame_len, SQLITE_STATIC);
    bind_u64(s, base + 8, p->ts_ms);
    bind_u64(s, base + 9, p->received_ms);
  } else if (kind == B_STATE) {
    const struct pend_state *v = (const struct pend_state *)st->pstate.data + r;
    bind_u64(s, base + 1, v->eui64);
    sqlite3_bind_int64(s, base + 2, v->endpoint);
    sqlite3_bind_int64(s, base + 3, v->cluster);
    sqlite3_bind_int64(s, base + 4, v->attr);
    sqlite3_bind_int64(s, base + 5, v->member);
    sqlite3_bind_int64(s, base + 6, v->zcl_type);
    bind_cell(st, s, base + 7, v);
    bind_u64(s, base + 8, v->ts_ms);
  }
}

/* Writes n rows of kind into the open group, BATCH_MAX per statement, in the order noted (an
 * upsert of a key noted twice keeps the later value, as one statement per row did). A failure
 * abandons the group. */
static int batch_write(struct plat_store *st, int kind, size_t n) {
  static const int params[B_COUNT] = {[B_REPORT] = 9, [B_STATE] = 8};
  static const char *const what[B_COUNT] = {"write reports", "write latest values"};
  for (size_t done = 0; done < n;) {
    size_t k = n - done < BATCH_MAX ? n - done : BATCH_MAX;
    sqlite3_stmt *s = batch_stmt(st, kind, k);
    if (!s)
      return group_fail(st, db_fail(st, what[kind]));
    for (size_t r = 0; r < k; r++)
      batch_bind(st, s, kind, (int)r * params[kind], done + r);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
      return group_fail(st, db_fail(st, what[kind]));
    done += k;
  }
  return 0;
}

/* Writes the open group's pending Reports and latest values into it (before its COMMIT, a
 * read, or when their bytes pass PEND_BYTES_MAX). 0, or the failure that abandoned the group
 * (group_fail cleared them). */
static int pend_write(struct plat_store *st) {
  int rc = batch_write(st, B_REPORT, st->prep.len / sizeof(struct pend_report));
  if (!rc)
    rc = batch_write(st, B_STATE, st->pstate.len / sizeof(struct pend_state));
  if (rc)
    return rc;
  st->prep.len = st->pstate.len = st->pbytes.len = 0;
  return 0;
}

/* Appends n bytes to pbytes; *off gets where. 0 or SIM_ENOMEM. */
static int pend_bytes(struct plat_store *st, const void *p, size_t n, size_t *off) {
  *off = st->pbytes.len;
  return n ? sim_buf_append(&st->pbytes, p, n) : 0;
}

/* Notes an attribute's latest value with the SQLite type that keeps it exactly: integers as
 * INTEGER (uint64 above INT64_MAX as text), floats as REAL, strings as TEXT, octets as BLOB. */
static int pend_state(struct plat_store *st, const Hubrpc__V1__Report *r,
                      const Hubrpc__V1__Attribute *a, uint32_t attr, int64_t member, uint64_t ts) {
  struct pend_state v = {.eui64 = r->device,
                         .ts_ms = ts,
                         .endpoint = r->endpoint,
                         .cluster = r->cluster,
                         .attr = attr,
                         .member = member,
                         .zcl_type = a->zcl_type,
                         .kind = PLAT_CELL_NULL};
  char t[24];
  int rc = 0;
  switch (a->value_case) {
  case HUBRPC__V1__ATTRIBUTE__VALUE_INT_VALUE:
    v.kind = PLAT_CELL_INT;
    v.i = a->int_value;
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_UINT_VALUE:
    if (a->uint_value > INT64_MAX) {
      v.kind = PLAT_CELL_TEXT;
      v.n = (size_t)snprintf(t, sizeof(t), "%llu", (unsigned long long)a->uint_value);
      rc = pend_bytes(st, t, v.n, &v.off);
    } else {
      v.kind = PLAT_CELL_INT;
      v.i = (int64_t)a->uint_value;
    }
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_FLOAT_VALUE:
    v.kind = PLAT_CELL_REAL;
    v.r = a->float_value;
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_BOOL_VALUE:
    v.kind = PLAT_CELL_INT;
    v.i = a->bool_value ? 1 : 0;
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_STRING_VALUE:
    if (a->string_value) {
      v.kind = PLAT_CELL_TEXT;
      v.n = strlen(a->string_value);
      rc = pend_bytes(st, a->string_value, v.n, &v.off);
    }
    break;
  case HUBRPC__V1__ATTRIBUTE__VALUE_BYTES_VALUE:
    v.kind = PLAT_CELL_BLOB;
    v.n = a->bytes_value.len;
    rc = pend_bytes(st, a->bytes_value.data, v.n, &v.off);
    break;
  default:
    break;
  }
  if (rc || sim_buf_append(&st->pstate, &v, sizeof v))
    return SIM_ENOMEM;
  return 0;
}

/* Notes a Report's row and its latest values in the open group. */
static int pend_report(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                       const Hubrpc__V1__Report *r, uint64_t now_ms) {
  uint64_t ts = r->ts_ms ? r->ts_ms : now_ms;
  struct pend_report p = {.boot_id = boot_id,
                          .seq = r->seq,
                          .eui64 = r->device,
                          .ts_ms = r->ts_ms,
                          .received_ms = now_ms,
                          .endpoint = r->endpoint,
                          .cluster = r->cluster,
                          .frame_len = r->zcl_frame.len};
  if (pend_bytes(st, hub_id, strlen(hub_id) + 1, &p.hub_off) ||
      pend_bytes(st, r->zcl_frame.data, p.frame_len, &p.frame_off) ||
      sim_buf_append(&st->prep, &p, sizeof p))
    return SIM_ENOMEM;
  for (size_t i = 0; i < r->n_attributes; i++) {
    const Hubrpc__V1__Attribute *a = r->attributes[i];
    if (pend_state(st, r, a, a->id, -1, ts))
      return SIM_ENOMEM;
    for (size_t k = 0; k < a->n_members; k++)
      if (pend_state(st, r, a->members[k], a->id, a->members[k]->id, ts))
        return SIM_ENOMEM;
  }
  return 0;
}

int plat_store_report(struct plat_store *st, const char *hub_id, uint64_t boot_id,
                      const Hubrpc__V1__Report *r, uint64_t now_ms) {
  int rc = begin(st);
  if (rc)
    return rc;
  /* What was noted of this Report before memory ran out goes with the group's failure: the
   * hub resends the whole group. */
  if (pend_report(st, hub_id, boot_id, r, now_ms))
    return group_fail(st, SIM_ENOMEM);
  st->pending++;
  if (st->pbytes.len + st->pstate.len + st->prep.len > PEND_BYTES_MAX && (rc = pend_write(st)))
    return rc;
  if (seen_note(st, r->device, now_ms)) /* no memory for the note: written now instead */
    return group_also(st, Q_DEV_SEEN, "uu", r->device, now_ms);
  return 0;
}

int plat_store_joined(struct plat_store *st, const char *hub_id, const Hubrpc__V1__DeviceJoined *j,
                      uint64_t now_ms) {
  seen_forget(st, j->device);
  return group_row(st, Q_JOINED, "utttuu", j->device, hub_id, j->model, j->manufacturer,
                   j->ts_ms ? j->ts_ms : now_ms, now_ms);
}

int plat_store_left(struct plat_store *st, const char *hub_id, const Hubrpc__V1__DeviceLeft *l,
                    uint64_t now_ms) {
  (void)hub_id;
  seen_forget(st, l->device);
  return group_row(st, Q_LEFT, "uu", l->device, l->ts_ms ? l->ts_ms : now_ms);
}

int plat_store_cmd_issued(struct plat_store *st, uint64_t cmd_id, uint64_t eui64,
                          const char *hub_id, uint32_t cluster, uint32_t command,
                          uint64_t issued_ms) {
  return group_row(st, Q_CMD_ISSUED, "uutiiu", cmd_id, eui64, hub_id, (int64_t)cluster,
                   (int64_t)command, issued_ms);
}

int plat_store_cmd_result(struct plat_store *st, const char *hub_id,
                          const Hubrpc__V1__CommandResult *r, uint64_t now_ms, int *known) {
  int rc = group_row(st, Q_CMD_RESULT, "uiiiu", r->cmd_id, (int64_t)r->status,
                     (int64_t)r->zcl_status, (int64_t)r->device_latency_ms, now_ms);
  if (rc)
    return rc;
  *known = sqlite3_changes(st->db) > 0;
  if (*known)
    return 0;
  return group_also(st, Q_CMD_UNKNOWN, "uiiiuut", r->cmd_id, (int64_t)r->status,
                    (int64_t)r->zcl_status, (int64_t)r->device_latency_ms, now_ms, r->device,
                    hub_id);
}

/* Column i of the row s stands at, as it is stored. Borrowed: valid until the next step. */
static void column_cell(sqlite3_stmt *s, int i, struct plat_store_cell *c) {
  *c = (struct plat_store_cell){0};
  switch (sqlite3_column_type(s, i)) {
  case SQLITE_INTEGER:
    c->kind = PLAT_CELL_INT;
    c->i = sqlite3_column_int64(s, i);
    break;
  case SQLITE_FLOAT:
    c->kind = PLAT_CELL_REAL;
    c->r = sqlite3_column_double(s, i);
    break;
  case SQLITE_TEXT:
    c->kind = PLAT_CELL_TEXT;
    c->p = sqlite3_column_text(s, i);
    c->n = (size_t)sqlite3_column_bytes(s, i);
    break;
  case SQLITE_BLOB:
    c->kind = PLAT_CELL_BLOB;
    c->p = sqlite3_column_blob(s, i); /* before _bytes, as SQLite asks */
    c->n = (size_t)sqlite3_column_bytes(s, i);
    break;
  default:
    c->kind = PLAT_CELL_NULL;
    break;
  }
}

int plat_store_device_read(struct plat_store *st, uint64_t eui64, plat_store_device_cb dev_cb,
                           plat_store_latest_cb state_cb, void *arg) {
  sqlite3_stmt *d = NULL, *a = NULL;
  int rc = SIM_EDB;
  /* The open group's last_seen notes first: the reply shows what the group holds. */
  if (st->in_txn && (pend_write(st) || seen_write(st)))
    return SIM_EDB;
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
  int found = 0;
  if (sqlite3_step(d) == SQLITE_ROW) {
    found = 1;
    struct plat_store_cell col[PLAT_STORE_DEVICE_COLS];
    for (int i = 0; i < PLAT_STORE_DEVICE_COLS; i++)
      column_cell(d, i, &col[i]);
    dev_cb(arg, col);
  }
  while (sqlite3_step(a) == SQLITE_ROW) {
    found = 1;
    struct plat_store_latest row = {
        .endpoint = sqlite3_column_int64(a, 0),
        .cluster = sqlite3_column_int64(a, 1),
        .attr = sqlite3_column_int64(a, 2),
        .member = sqlite3_column_int64(a, 3),
        .zcl_type = sqlite3_column_int64(a, 4),
        .ts_ms = sqlite3_column_int64(a, 6),
    };
    column_cell(a, 5, &row.value);
    state_cb(arg, &row);
  }
  rc = found ? 0 : SIM_ENOTFOUND;
done:
  sqlite3_finalize(d);
  sqlite3_finalize(a);
  return rc;
}
