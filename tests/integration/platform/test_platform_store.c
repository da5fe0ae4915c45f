/* The reference platform's store and decoding under load-shaped traffic, over real loopback
 * tcp with raw hubrpc clients:
 *  - the latest state of a device, read back through the admin line `device`, after Reports
 *    of several attributes of every value type and Xiaomi TLV heartbeats (the answer is the
 *    one the platform gave when every value was written by its own statement);
 *  - rows of a schema-version-2 file as the platform wrote them before (one statement per
 *    value) read back the same, and are updated by new Reports;
 *  - the decode arena: a message larger than its first block decodes, the block grows and
 *    later messages of that size allocate nothing; a frame that fails half-way through its
 *    unpack and frames that are not hubrpc still get their Error (and nothing leaks: the
 *    sanitizer build runs this file too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <sqlite3.h>

#include "platform/arena.h"
#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/wire/frame.h"
#include "support/hubclient.h"

#define KEY "test-fleet-key"
#define T_MS 3000
#define EUI 0x00158d00000000bbull

/* One platform on the test's own loop, its database in a folder of its own. */
struct fx {
  char dir[64], db[128]; /* the folder and its p.db */
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv; /* NULL while stopped */
  uint16_t port;           /* the hub port, after server_up */
  int stopped;             /* set by stopped_cb */
  uint32_t commit_ms;      /* 0: the default */
};

static void stopped_cb(struct plat_server *srv, void *arg) {
  (void)srv;
  ((struct fx *)arg)->stopped = 1;
}

/* Starts the platform on f->db with the defaults of `hubsim platform` but the fleet key. */
static void server_up(struct fx *f) {
  const struct plat_config cfg = {.listen = "hubrpc://127.0.0.1:0",
                                  .db_path = f->db,
                                  .fleet_key = (const uint8_t *)KEY,
                                  .fleet_key_len = sizeof(KEY) - 1,
                                  .commit_ms = f->commit_ms};
  assert_int_equal(plat_server_new(&f->loop, f->t, &cfg, &f->srv), 0);
  assert_int_equal(plat_server_start(f->srv), 0);
  f->port = plat_server_port(f->srv);
  f->stopped = 0;
}

static void server_down(struct fx *f) {
  if (!f->srv)
    return;
  assert_int_equal(plat_server_stop(f->srv, stopped_cb, f), 0);
  uint64_t deadline = uv_hrtime() + 5000ull * 1000000ull;
  while (!f->stopped && uv_hrtime() < deadline)
    uv_run(&f->loop, UV_RUN_ONCE);
  assert_true(f->stopped);
  plat_server_free(f->srv);
  f->srv = NULL;
}

static int fx_setup(void **state) {
  struct fx *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/hubsim-pstore-XXXXXX");
  if (!f || !mkdtemp(f->dir))
    return -1;
  snprintf(f->db, sizeof(f->db), "%s/p.db", f->dir);
  uv_loop_init(&f->loop);
  if (sim_transport_tcp_new(&f->loop, &f->t))
    return -1;
  *state = f;
  return 0;
}

/* Removes the database and its WAL files, then the folder: nothing else is made in it. */
static void remove_dir(const struct fx *f) {
  static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
  char path[160];
  for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
    snprintf(path, sizeof path, "%s%s", f->db, suffix[i]);
    (void)unlink(path);
  }
  (void)rmdir(f->dir);
}

static int fx_teardown(void **state) {
  struct fx *f = *state;
  server_down(f);
  sim_transport_free(f->t);
  /* Every handle closed: their close callbacks run within a few turns (bounded all the same),
   * and then the loop has nothing left. */
  for (int i = 0; i < 200 && uv_loop_alive(&f->loop); i++)
    uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  remove_dir(f);
  free(f);
  return 0;
}

static void good_hub(struct fx *f, struct hubclient *c, const char *id) {
  assert_int_equal(hubclient_connect(c, f->port, &f->loop), 0);
  assert_int_equal(hubclient_handshake(c, id, KEY, strlen(KEY), 0x77, T_MS), 0);
}

/* The `device` reply for EUI holds needle. */
static void device_has(struct fx *f, const char *needle) {
  char *r = plat_server_admin(f->srv, "device 00158d00000000bb");
  if (!r || !strstr(r, needle))
    fail_msg("device reply %s lacks %s", r ? r : "(none)", needle);
  free(r);
}

/* The platform started on a new file, with one hub's session open. */
static void up_with_hub(struct fx *f, struct hubclient *c, const char *id) {
  server_up(f);
  good_hub(f, c, id);
}

/* Sends a Report of EUI, endpoint 1, cluster with the n attributes given, seq next_seq. */
static void send_report(struct hubclient *c, uint32_t cluster, Hubrpc__V1__Attribute **a, size_t n,
                        uint64_t ts_ms) {
  uint8_t zcl[] = {0x18, (uint8_t)c->next_seq, 0x0A};
  Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
  r.seq = c->next_seq++;
  r.device = EUI;
  r.endpoint = 1;
  r.cluster = cluster;
  r.n_attributes = n;
  r.attributes = a;
  r.zcl_frame.data = zcl;
  r.zcl_frame.len = sizeof(zcl);
  r.ts_ms = ts_ms;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &r;
  assert_int_equal(hubclient_send(c, &env), 0);
}

/* An Attribute with id, ZCL type and value kind; the value is set by the caller. */
static Hubrpc__V1__Attribute attr(uint32_t id, uint32_t type, Hubrpc__V1__Attribute__ValueCase k) {
  Hubrpc__V1__Attribute a = HUBRPC__V1__ATTRIBUTE__INIT;
  a.id = id;
  a.zcl_type = type;
  a.value_case = k;
  return a;
}
#define K_INT HUBRPC__V1__ATTRIBUTE__VALUE_INT_VALUE
#define K_UINT HUBRPC__V1__ATTRIBUTE__VALUE_UINT_VALUE
#define K_FLOAT HUBRPC__V1__ATTRIBUTE__VALUE_FLOAT_VALUE
#define K_BYTES HUBRPC__V1__ATTRIBUTE__VALUE_BYTES_VALUE

/* Reports of every value type and two TLV heartbeats (the second with fewer members and one
 * of them changed), some in one commit group and some in the next. */
static void send_state_traffic(struct hubclient *c) {
  static uint8_t oct[] = {0xde, 0xad, 0x00, 0xbe, 0xef};
  static char str[] = "lumi.weather \"x\"";
  Hubrpc__V1__Attribute i = attr(0x0000, 0x29, K_INT);
  i.int_value = -2150;
  Hubrpc__V1__Attribute u = attr(0x0001, 0x27, K_UINT);
  u.uint_value = 18446744073709551615ull; /* above INT64_MAX: stored as text */
  Hubrpc__V1__Attribute fl = attr(0x0002, 0x39, K_FLOAT);
  fl.float_value = 21.375;
  Hubrpc__V1__Attribute b = attr(0x0003, 0x10, HUBRPC__V1__ATTRIBUTE__VALUE_BOOL_VALUE);
  b.bool_value = 1;
  Hubrpc__V1__Attribute s = attr(0x0004, 0x42, HUBRPC__V1__ATTRIBUTE__VALUE_STRING_VALUE);
  s.string_value = str;
  Hubrpc__V1__Attribute o = attr(0x0005, 0x41, K_BYTES);
  o.bytes_value.data = oct;
  o.bytes_value.len = sizeof(oct);
  Hubrpc__V1__Attribute none = attr(0x0006, 0x00, HUBRPC__V1__ATTRIBUTE__VALUE__NOT_SET);
  Hubrpc__V1__Attribute u2 = attr(0x0007, 0x21, K_UINT);
  u2.uint_value = 3000;
  Hubrpc__V1__Attribute *first[] = {&i, &u, &fl, &b, &s, &o, &none, &u2};
  send_report(c, 0x0402, first, 8, 1700000000100ull);

  /* A Xiaomi heartbeat: attribute 0xFF01 (octets) with its TLV members. */
  static uint8_t tlv[] = {0x01, 0x21, 0xd1, 0x0b, 0x03, 0x28, 0x1e};
  Hubrpc__V1__Attribute x = attr(0xFF01, 0x42, K_BYTES);
  x.bytes_value.data = tlv;
  x.bytes_value.len = sizeof(tlv);
  Hubrpc__V1__Attribute m1 = attr(0x01, 0x21, K_UINT);
  m1.uint_value = 3025;
  Hubrpc__V1__Attribute m3 = attr(0x03, 0x28, K_INT);
  m3.int_value = 30;
  Hubrpc__V1__Attribute m5 = attr(0x05, 0x21, K_UINT);
  m5.uint_value = 17;
  Hubrpc__V1__Attribute m64 = attr(0x64, 0x29, K_INT);
  m64.int_value = 2150;
  Hubrpc__V1__Attribute m95 = attr(0x95, 0x39, K_FLOAT);
  m95.float_value = 0.25;
  Hubrpc__V1__Attribute *mem[] = {&m1, &m3, &m5, &m64, &m95};
  x.n_members = 5;
  x.members = mem;
  Hubrpc__V1__Attribute *hb[] = {&x};
  send_report(c, 0x0000, hb, 1, 1700000000200ull);
  /* The same attribute again right behind it (likely the same group): the later value wins. */
  u2.uint_value = 3100;
  Hubrpc__V1__Attribute *again[] = {&u2};
  send_report(c, 0x0402, again, 1, 1700000000300ull);
  uint64_t got = 0;
  assert_int_equal(hubclient_wait_ack(c, c->next_seq - 1, T_MS, &got), 0);

  /* Next group: a shorter heartbeat (members 0x01 and 0x64 only, one changed), and the int. */
  m1.uint_value = 2990;
  Hubrpc__V1__Attribute *mem2[] = {&m1, &m64};
  x.n_members = 2;
  x.members = mem2;
  x.bytes_value.len = 4;
  send_report(c, 0x0000, hb, 1, 1700000000400ull);
  i.int_value = -2100;
  Hubrpc__V1__Attribute *last[] = {&i};
  send_report(c, 0x0402, last, 1, 0); /* no ts_ms: the platform's receive time */
  assert_int_equal(hubclient_wait_ack(c, c->next_seq - 1, T_MS, &got), 0);
}

/* What `device` answered for send_state_traffic when every latest value had its own INSERT
 * (captured from that code). The last int has the receive time, replaced by RECV below. */
static const char golden[] =
    "{\"eui64\":\"00158d00000000bb\",\"attributes\":["
    "{\"endpoint\":1,\"cluster\":0,\"attr\":65281,\"zcl_type\":66,\"value\":\"0121d10b\","
    "\"ts_ms\":1700000000400},"
    "{\"endpoint\":1,\"cluster\":0,\"attr\":65281,\"member\":1,\"zcl_type\":33,\"value\":2990,"
    "\"ts_ms\":1700000000400},"
    "{\"endpoint\":1,\"cluster\":0,\"attr\":65281,\"member\":3,\"zcl_type\":40,\"value\":30,"
    "\"ts_ms\":1700000000200},"
    "{\"endpoint\":1,\"cluster\":0,\"attr\":65281,\"member\":5,\"zcl_type\":33,\"value\":17,"
    "\"ts_ms\":1700000000200},"
    "{\"endpoint\":1,\"cluster\":0,\"attr\":65281,\"member\":100,\"zcl_type\":41,\"value\":2150,"
    "\"ts_ms\":1700000000400},"
    "{\"endpoint\":1,\"cluster\":0,\"attr\":65281,\"member\":149,\"zcl_type\":57,\"value\":0.25,"
    "\"ts_ms\":1700000000200},"
    "{\"endpoint\":1,\"cluster\":1026,\"attr\":0,\"zcl_type\":41,\"value\":-2100,\"ts_ms\":RECV},"
    "{\"endpoint\":1,\"cluster\":1026,\"attr\":1,\"zcl_type\":39,\"value\":"
    "\"18446744073709551615\",\"ts_ms\":1700000000100},"
    "{\"endpoint\":1,\"cluster\":1026,\"attr\":2,\"zcl_type\":57,\"value\":21.375,"
    "\"ts_ms\":1700000000100},"
    "{\"endpoint\":1,\"cluster\":1026,\"attr\":3,\"zcl_type\":16,\"value\":1,"
    "\"ts_ms\":1700000000100},"
    "{\"endpoint\":1,\"cluster\":1026,\"attr\":4,\"zcl_type\":66,\"value\":"
    "\"lumi.weather \\\"x\\\"\",\"ts_ms\":1700000000100},"
    "{\"endpoint\":1,\"cluster\":1026,\"attr\":5,\"zcl_type\":65,\"value\":\"dead00beef\","
    "\"ts_ms\":1700000000100},"
    "{\"endpoint\":1,\"cluster\":1026,\"attr\":6,\"zcl_type\":0,\"value\":null,"
    "\"ts_ms\":1700000000100},"
    "{\"endpoint\":1,\"cluster\":1026,\"attr\":7,\"zcl_type\":33,\"value\":3100,"
    "\"ts_ms\":1700000000300}]}";

/* The reply with the receive time of the last int (a wall clock reading) replaced by RECV. */
static char *device_reply(struct fx *f) {
  char *r = plat_server_admin(f->srv, "device 00158d00000000bb");
  assert_non_null(r);
  const char *key = "\"value\":-2100,\"ts_ms\":";
  char *p = strstr(r, key);
  if (p) {
    p += strlen(key);
    char *e = p;
    while (*e >= '0' && *e <= '9')
      e++;
    assert_true(e > p);
    memmove(p + 4, e, strlen(e) + 1);
    memcpy(p, "RECV", 4);
  }
  return r;
}

static void test_latest_state_readback(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  up_with_hub(f, &c, "hub-state");
  send_state_traffic(&c);
  char *r = device_reply(f);
  if (strcmp(r, golden) != 0)
    fail_msg("device reply differs:\n got  %s\n want %s", r, golden);
  free(r);
  hubclient_close(&c);
  /* After a restart the file answers the same. */
  server_down(f);
  server_up(f);
  r = device_reply(f);
  assert_string_equal(r, golden);
  free(r);
}

/* A file of schema version 2 (this code writes that version) holding rows as the platform
 * wrote them with one statement per row before: made by the platform, the rows added by
 * SQL, opened again: the same answer, and a new Report updates the old state. */
static void test_v2_file_opens(void **state) {
  struct fx *f = *state;
  server_up(f);
  server_down(f);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
  const char *sql =
      "INSERT INTO hubs VALUES('hub-old', 9, 4, 0, 'm', 'f');"
      "INSERT INTO devices VALUES(0x00158d00000000bb, 'hub-old', 'lumi.weather', 'LUMI', 5, 0, "
      "6);"
      "INSERT INTO device_state VALUES(0x00158d00000000bb, 1, 1026, 0, -1, 41, 2150, 7);"
      "INSERT INTO device_state VALUES(0x00158d00000000bb, 1, 0, 65281, 1, 33, 3025, 8);"
      "INSERT INTO device_state VALUES(0x00158d00000000bb, 1, 0, 65281, -1, 66, x'0121', 8);";
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_stmt *q = NULL;
  assert_int_equal(
      sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &q, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), 2);
  sqlite3_finalize(q);
  sqlite3_close(db);
  server_up(f);
  char *r = plat_server_admin(f->srv, "device 00158d00000000bb");
  assert_string_equal(
      r, "{\"eui64\":\"00158d00000000bb\",\"hub_id\":\"hub-old\",\"model\":\"lumi.weather\","
         "\"manufacturer\":\"LUMI\",\"joined_ms\":5,\"left_ms\":0,\"last_seen_ms\":6,"
         "\"attributes\":["
         "{\"endpoint\":1,\"cluster\":0,\"attr\":65281,\"zcl_type\":66,\"value\":\"0121\","
         "\"ts_ms\":8},"
         "{\"endpoint\":1,\"cluster\":0,\"attr\":65281,\"member\":1,\"zcl_type\":33,"
         "\"value\":3025,\"ts_ms\":8},"
         "{\"endpoint\":1,\"cluster\":1026,\"attr\":0,\"zcl_type\":41,\"value\":2150,"
         "\"ts_ms\":7}]}");
  free(r);
  /* The hub resumes its sequence from the file, and a new Report updates the old state. */
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, f->port, &f->loop), 0);
  assert_int_equal(hubclient_handshake(&c, "hub-old", KEY, strlen(KEY), 9, T_MS), 0);
  assert_int_equal(c.acked_seq, 4);
  Hubrpc__V1__Attribute i = attr(0x0000, 0x29, K_INT);
  i.int_value = 2200;
  Hubrpc__V1__Attribute *a[] = {&i};
  send_report(&c, 0x0402, a, 1, 9);
  assert_int_equal(hubclient_wait_ack(&c, 5, T_MS, NULL), 0);
  device_has(f, "\"attr\":0,\"zcl_type\":41,\"value\":2200,\"ts_ms\":9}");
  hubclient_close(&c);
}

/* The arena alone: a request beyond the block comes from a further block, the reset grows
 * the block to what the message needed, and the same message then allocates nothing. */
static void test_arena_blocks(void **state) {
  (void)state;
  struct plat_arena a;
  assert_int_equal(plat_arena_init(&a, 1024), 0);
  assert_int_equal(a.mallocs, 1);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 100; i++) {
      unsigned char *p = plat_arena_alloc(&a, 100);
      assert_non_null(p);
      assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
      memset(p, i, 100); /* the sanitizer checks every byte is ours */
    }
    plat_arena_reset(&a);
  }
  /* First round: 1 + the further blocks + the grown block; the next two rounds: nothing. */
  size_t after = a.mallocs;
  for (int i = 0; i < 100; i++)
    assert_non_null(plat_arena_alloc(&a, 100));
  plat_arena_reset(&a);
  assert_int_equal(a.mallocs, after);
  assert_true(a.size >= 100 * 100);
  /* Beyond the most it keeps: served, and given back. */
  assert_non_null(plat_arena_alloc(&a, PLAT_ARENA_KEEP_MAX + 1));
  plat_arena_reset(&a);
  assert_true(a.size <= PLAT_ARENA_KEEP_MAX);
  assert_null(plat_arena_alloc(&a, SIZE_MAX - 8));
  plat_arena_fini(&a);
}

/* A Report whose decoded form is far larger than the arena's first block (16 KiB): stored
 * whole and acknowledged; the next one of that size too. */
static void test_large_report(void **state) {
  struct fx *f = *state;
  struct hubclient c;
  up_with_hub(f, &c, "hub-big");
  enum { N = 600 };
  Hubrpc__V1__Attribute *at = calloc(N, sizeof *at), **ap = calloc(N, sizeof *ap);
  assert_non_null(at);
  assert_non_null(ap);
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < N; i++) {
      hubrpc__v1__attribute__init(&at[i]);
      at[i].id = (uint32_t)i;
      at[i].zcl_type = 0x21;
      at[i].value_case = HUBRPC__V1__ATTRIBUTE__VALUE_UINT_VALUE;
      at[i].uint_value = (uint64_t)(i + round);
      ap[i] = &at[i];
    }
    send_report(&c, 0x0b04, ap, N, 1700000001000ull + (uint64_t)round);
    assert_int_equal(hubclient_wait_ack(&c, c.next_seq - 1, T_MS, NULL), 0);
  }
  hubclient_close(&c);
  device_has(f, "\"attr\":599,\"zcl_type\":33,\"value\":600,");
  free(at);
  free(ap);
}

/* After the handshake (messages decode into the arena): a Report cut inside its attributes
 * (protobuf-c gives up half-way, having taken memory from the arena), an Envelope with no
 * known body, and bytes that are no protobuf each get their Error and a close; a good hub
 * beside them keeps its Acks. */
static void test_bad_frames_in_session(void **state) {
  struct fx *f = *state;
  struct hubclient good;
  up_with_hub(f, &good, "hub-good");
  /* The cut Report: a valid one with three attributes, its body cut 3 bytes short. */
  Hubrpc__V1__Attribute a0 = attr(0, 0x21, K_UINT);
  a0.uint_value = 1;
  Hubrpc__V1__Attribute *as[] = {&a0, &a0, &a0};
  Hubrpc__V1__Report rep = HUBRPC__V1__REPORT__INIT;
  rep.seq = 1;
  rep.device = EUI;
  rep.n_attributes = 3;
  rep.attributes = as;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &rep;
  size_t blen = hubrpc__v1__envelope__get_packed_size(&env);
  uint8_t body[256], cut[260];
  assert_true(blen < sizeof body);
  hubrpc__v1__envelope__pack(&env, body);
  size_t h = sim_frame_put_len(cut, blen - 3);
  memcpy(cut + h, body, blen - 3);
  uint8_t unknown[] = {0x03, 0x98, 0x06, 0x01};
  uint8_t garbage[] = {0x05, 0xff, 0xff, 0xff, 0xff, 0xff};
  const struct {
    const uint8_t *p;
    size_t n;
    int code;
  } bad[] = {{cut, h + blen - 3, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME},
             {unknown, sizeof unknown, HUBRPC__V1__ERROR_CODE__ERROR_UNKNOWN_MESSAGE},
             {garbage, sizeof garbage, HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct hubclient c;
    char id[16];
    snprintf(id, sizeof id, "hub-bad%zu", i);
    good_hub(f, &c, id);
    assert_int_equal(hubclient_send_raw(&c, bad[i].p, bad[i].n), 0);
    assert_int_equal(hubclient_expect_error(&c, T_MS), bad[i].code);
    assert_int_equal(hubclient_wait_closed(&c, T_MS), 0);
    hubclient_close(&c);
    assert_int_equal(hubclient_report(&good, 0, EUI, 0x0402, 100 + i), 0);
    assert_int_equal(hubclient_wait_ack(&good, good.next_seq - 1, T_MS, NULL), 0);
  }
  hubclient_close(&good);
}

/* A `device` query while the group that holds a Report is still open (a 10 s group commit)
 * answers with that Report's values already, as it did when every value was written at once. */
static void test_read_sees_open_group(void **state) {
  struct fx *f = *state;
  f->commit_ms = 10000;
  struct hubclient c;
  up_with_hub(f, &c, "hub-open");
  Hubrpc__V1__Attribute i = attr(0x0000, 0x29, K_INT);
  i.int_value = 1234;
  Hubrpc__V1__Attribute *a[] = {&i};
  send_report(&c, 0x0402, a, 1, 42);
  struct plat_counters k = {0};
  uint64_t deadline = uv_hrtime() + (uint64_t)T_MS * 1000000ull;
  while (k.reports_new < 1 && uv_hrtime() < deadline) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    plat_server_counters(f->srv, &k);
  }
  assert_int_equal(k.reports_new, 1);
  assert_int_equal(k.commits, 0);
  device_has(f, "\"attr\":0,\"zcl_type\":41,\"value\":1234,\"ts_ms\":42}");
  hubclient_close(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_latest_state_readback, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_v2_file_opens, fx_setup, fx_teardown),
      cmocka_unit_test(test_arena_blocks),
      cmocka_unit_test_setup_teardown(test_large_report, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_bad_frames_in_session, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_read_sees_open_group, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
