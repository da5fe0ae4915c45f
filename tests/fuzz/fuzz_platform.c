/* Fuzzes the platform's side of hubrpc: a whole session of the reference platform (framing,
 * decoding, the state machine, sequencing, the store, acknowledgements) fed the bytes of a hub.
 *
 * The platform runs on a virtual clock over the mem transport, as in `hubsim run --clock
 * virtual`, with its store in memory. Each input is one connection:
 *
 *   byte 0, bit 0     1: the harness first authenticates as a hub (Hello, Challenge, Auth,
 *                     Welcome), so the input reaches the OPEN state; 0: the input is the
 *                     connection from its first byte
 *   byte 0, bits 1-3  the size of the writes the rest is cut into (1 byte .. all at once)
 *   byte 0, bit 4     virtual time moves 10 ms after each write (group commits and Acks
 *                     interleave with the input); else only once at the end
 *   the rest          the bytes the platform reads
 *
 * Every input gets a new boot_id, so the platform's sequence state for the hub restarts at 0 and
 * an input does not depend on the ones before it. The platform is recreated every few thousand
 * inputs to bound what its store holds. Inputs reach the frame limit (see fuzz_platform.args).
 *
 * With HUBSIM_FUZZ_SEEDS=DIR set, the target writes its seed inputs into DIR and exits (how
 * tests/fuzz/corpus/platform/ was made). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "platform/platform.h"
#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/loop/vdriver.h"
#include "sim/wire/auth.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"
#include "support/wirebuild.h"

#include "fuzz_seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HUB_ID "fz-000001"
#define RECREATE_EVERY 4000

static const uint8_t fleet_key[] = "hubsim-demo-fleet-key";

static struct {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_vdriver d;
  unsigned uses;
  uint64_t boot;
  /* The harness's connection: the hub side. */
  struct sim_conn *c;
  int closed;
  struct sim_buf in;
} F;

static int mem_busy(void *arg) {
  return sim_transport_mem_busy(arg);
}

static int pump(void *arg) {
  return sim_transport_mem_deliver(arg) != 0;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "fuzz_platform: %s: %s\n", what, sim_strerror(rc));
  abort();
}

static void plat_up(void) {
  int rc;
  if ((rc = uv_loop_init(&F.loop)))
    die("loop", rc);
  if ((rc = sim_transport_mem_new(&F.loop, &F.t)))
    die("transport", rc);
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = ":memory:",
                           .fleet_key = fleet_key,
                           .fleet_key_len = sizeof(fleet_key) - 1,
                           .max_window = 64,
                           .virtual_clock = 1,
                           .seed = 1};
  if ((rc = plat_server_new(&F.loop, F.t, &pc, &F.srv)) || (rc = plat_server_start(F.srv)))
    die("platform", rc);
  sim_vdriver_init(&F.d, &F.loop, mem_busy, F.t);
  sim_vdriver_set_pump(&F.d, pump, F.t);
  if ((rc = sim_vdriver_add(&F.d, plat_server_sched(F.srv))))
    die("vdriver", rc);
  F.uses = 0;
}

static void plat_stopped(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

static void plat_down(void) {
  int stopped = 0;
  if (plat_server_stop(F.srv, plat_stopped, &stopped) == 0)
    for (int i = 0; i < 1000 && !stopped; i++)
      if (sim_vdriver_step(&F.d, F.d.now + SIM_MS(100)) < 0)
        break;
  sim_vdriver_remove(&F.d, plat_server_sched(F.srv));
  plat_server_free(F.srv);
  uv_run(&F.loop, UV_RUN_NOWAIT);
  sim_transport_free(F.t);
  uv_run(&F.loop, UV_RUN_NOWAIT);
  uv_loop_close(&F.loop);
}

static void cli_connect(struct sim_conn *c, int status, void *user) {
  (void)c;
  (void)user;
  if (status < 0) {
    F.c = NULL;
    F.closed = 1;
  }
}

static void cli_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  (void)c;
  (void)user;
  if (F.in.len < 4 * SIM_FRAME_MAX) /* what the platform says is not checked beyond this */
    sim_buf_append(&F.in, p, n);
}

static void cli_closed(struct sim_conn *c, int err, void *user) {
  (void)c;
  (void)err;
  (void)user;
  F.c = NULL;
  F.closed = 1;
}

static const struct sim_conn_cbs cli_cbs = {cli_connect, cli_data, cli_closed};

static void settle(void) {
  if (sim_vdriver_settle(&F.d) < 0)
    die("settle", SIM_ELIVELOCK);
}

static void send_env(const sim_envelope *env) {
  struct sim_buf b;
  sim_buf_init(&b);
  if (sim_hubrpc_encode(&b, env) == 0 && F.c)
    sim_conn_send(F.c, b.data, b.len);
  sim_buf_fini(&b);
}

/* The first frame of what the platform sent, of body case kind, consumed with everything before
 * it. NULL when there is none (yet). */
static sim_envelope *take(Hubrpc__V1__Envelope__BodyCase kind) {
  size_t off = 0;
  while (off < F.in.len) {
    size_t hdr, body;
    if (sim_frame_peek(F.in.data + off, F.in.len - off, SIM_FRAME_MAX, &hdr, &body) ||
        F.in.len - off - hdr < body)
      return NULL;
    sim_envelope *env = NULL;
    int rc = sim_hubrpc_decode(F.in.data + off + hdr, body, &env);
    off += hdr + body;
    if (rc == 0 && env->body_case == kind) {
      sim_buf_consume(&F.in, off);
      return env;
    }
    sim_hubrpc_free(env);
  }
  return NULL;
}

/* Hello, Challenge, Auth, Welcome as a correct hub. 0 when the session is OPEN. */
static int handshake(void) {
  static const uint8_t cn[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  Hubrpc__V1__Hello hello = HUBRPC__V1__HELLO__INIT;
  hello.proto_version = SIM_HUBRPC_VERSION;
  hello.hub_id = HUB_ID;
  hello.client_nonce.data = (uint8_t *)cn;
  hello.client_nonce.len = sizeof(cn);
  hello.boot_id = F.boot;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HELLO;
  env.hello = &hello;
  send_env(&env);
  settle();
  sim_envelope *ch = take(HUBRPC__V1__ENVELOPE__BODY_CHALLENGE);
  if (!ch)
    return -1;
  uint8_t secret[32], mac[32];
  int rc = ch->challenge->server_nonce.len == 16 ? 0 : -1;
  if (rc == 0)
    rc = sim_auth_hub_secret(fleet_key, sizeof(fleet_key) - 1, HUB_ID, secret);
  if (rc == 0)
    rc = sim_auth_mac(secret, cn, ch->challenge->server_nonce.data, mac);
  sim_hubrpc_free(ch);
  if (rc)
    return -1;
  Hubrpc__V1__Auth auth = HUBRPC__V1__AUTH__INIT;
  auth.mac.data = mac;
  auth.mac.len = sizeof(mac);
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_AUTH;
  env.auth = &auth;
  send_env(&env);
  settle();
  sim_envelope *w = take(HUBRPC__V1__ENVELOPE__BODY_WELCOME);
  if (!w)
    return -1;
  sim_hubrpc_free(w);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t chunks[8] = {1, 2, 5, 64, 1000, 4096, 65536, SIZE_MAX};
  if (size == 0)
    return 0;
  if (!F.srv)
    plat_up();
  uint8_t mode = data[0];
  size_t chunk = chunks[(mode >> 1) & 7];
  data++;
  size--;
  F.boot++;
  F.closed = 0;
  sim_buf_init(&F.in);
  struct sim_addr a = {"platform", plat_server_port(F.srv)};
  if (sim_conn_connect(F.t, &a, NULL, &cli_cbs, NULL, &F.c))
    die("connect", SIM_EIO);
  settle();
  if (!(mode & 1) || handshake() == 0) {
    for (size_t off = 0; off < size && F.c && !F.closed; off += chunk) {
      size_t n = size - off < chunk ? size - off : chunk;
      sim_conn_send(F.c, data + off, n);
      settle();
      if (mode & 0x10)
        sim_vdriver_step(&F.d, F.d.now + SIM_MS(10));
    }
  }
  /* Commits, Acks, the reaper of closing sessions: what follows the last byte. */
  sim_vdriver_step(&F.d, F.d.now + SIM_MS(10));
  if (F.c) {
    sim_conn_close(F.c);
    F.c = NULL;
  }
  settle();
  sim_vdriver_step(&F.d, F.d.now + SIM_MS(1100));
  sim_buf_fini(&F.in);
  if (++F.uses == RECREATE_EVERY) {
    plat_down();
    F.srv = NULL;
  }
  return 0;
}

/* ---- seeds ---- */

static void report(struct sim_buf *b, uint64_t seq, size_t n_attrs, size_t zcl_len) {
  static Hubrpc__V1__Attribute at[2], *pat[2];
  static const Hubrpc__V1__Attribute init = HUBRPC__V1__ATTRIBUTE__INIT;
  for (int i = 0; i < 2; i++) {
    at[i] = init;
    at[i].id = (uint32_t)i;
    at[i].zcl_type = 0x21;
    at[i].value_case = HUBRPC__V1__ATTRIBUTE__VALUE_UINT_VALUE;
    at[i].uint_value = 100 + (uint64_t)i;
    pat[i] = &at[i];
  }
  at[0].n_members = 1; /* a TLV list with one member */
  at[0].members = &pat[1];
  Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
  r.seq = seq;
  r.device = 0x00158d0001a2b3c4ull;
  r.endpoint = 1;
  r.cluster = 0x0402;
  r.n_attributes = n_attrs ? 1 : 0;
  r.attributes = pat;
  uint8_t *zcl = calloc(1, zcl_len + 3);
  zcl[0] = 0x18;
  zcl[2] = 0x0A;
  r.zcl_frame.data = zcl;
  r.zcl_frame.len = zcl_len + 3;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &r;
  sim_hubrpc_encode(b, &env);
  free(zcl);
}

/* The frame limit is reached with one Report whose zcl_frame fills the body. */
static void report_at_limit(struct sim_buf *b, uint64_t seq) {
  size_t lo = 60000, hi = SIM_FRAME_MAX;
  while (lo < hi) { /* the largest zcl_frame that still encodes */
    size_t mid = (lo + hi + 1) / 2;
    struct sim_buf t;
    sim_buf_init(&t);
    report(&t, seq, 1, mid);
    if (t.len)
      lo = mid;
    else
      hi = mid - 1;
    sim_buf_fini(&t);
  }
  report(b, seq, 1, lo);
}

static void write_seeds(const char *dir) {
  struct sim_buf b;
  sim_buf_init(&b);
  /* Sequenced messages in order, a duplicate, a heartbeat, then a clean Goodbye. */
  for (uint64_t s = 1; s <= 3; s++)
    report(&b, s, 1, 8);
  report(&b, 2, 1, 8);
  static const uint8_t hb[] = {0x09, 0x2a, 0x07, 0x08, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31};
  sim_buf_append(&b, hb, sizeof(hb));
  wb_put_seed(dir, "open_reports", 0x01 | (3 << 1), &b);
  wb_put_seed(dir, "open_reports_bytewise", 0x01 | 0x10, &b);
  b.len = 0;
  report_at_limit(&b, 1);
  wb_put_seed(dir, "open_report_at_limit", 0x01 | (7 << 1), &b);
  wb_put_seed(dir, "open_report_at_limit_split", 0x01 | (4 << 1), &b);
  b.len = 0;
  wb_deep_report(&b, 8800, 0, 0);
  wb_put_seed(dir, "deep_before_auth", 7 << 1, &b);
  wb_put_seed(dir, "deep_after_auth", 0x01 | (7 << 1), &b);
  sim_buf_fini(&b);
}

FUZZ_SEEDS_ON_INIT(write_seeds)
