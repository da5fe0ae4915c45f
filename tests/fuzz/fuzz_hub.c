/* Fuzzes the hub's side of hubrpc: a whole hub session (framing, decoding, the handshake, Acks,
 * Welcome checks, commands to real devices, the queue) fed the bytes of a platform.
 *
 * Each input gets a fresh fleet of one hub with three devices (a plug, a sleepy TRV, a Xiaomi
 * climate sensor) on a virtual clock over the mem transport; the harness is the platform.
 *
 *   byte 0, bits 0-1  where the input starts: 0 right after the hub's Hello; 1 after the
 *                     harness's Challenge (the input supplies the Welcome); 2 and 3 after a
 *                     complete handshake (Welcome{heartbeat 30 s, acked_seq 0, window 64})
 *   byte 0, bits 2-4  the size of the writes the rest is cut into (1 byte .. all at once)
 *   byte 0, bit 5     virtual time moves 100 ms after each write (devices report, held
 *                     commands reach sleepy devices, the window moves); else only at the end
 *   the rest          the bytes the hub reads
 *
 * The oracle, beyond the sanitizers: every frame the hub writes must decode, and every Error
 * reason it writes must be well-formed UTF-8 (docs/protocol.md 4.15).
 *
 * With HUBSIM_FUZZ_SEEDS=DIR set, the target writes its seed inputs into DIR and exits (how
 * tests/fuzz/corpus/hub/ was made); tests/fuzz/fuzz_hub.dict holds the devices' addresses. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "devices/cat_global.h"
#include "sim/core/buf.h"
#include "sim/core/err.h"
#include "sim/core/utf8.h"
#include "sim/core/wfile.h"
#include "sim/fleet/fleet.h"
#include "sim/loop/vdriver.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"
#include "support/wirebuild.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct {
  uv_loop_t loop;
  struct sim_transport *t;
  struct sim_listener *l;
  struct sim_fleet *f;
  struct sim_vdriver d;
  struct sim_fleet_config cfg;
  /* The harness's side of the hub's current connection. */
  struct sim_conn *c;
  int hellos;
  struct sim_buf in; /* what the hub wrote, not yet checked */
} F;

static void die(const char *what, int rc) {
  fprintf(stderr, "fuzz_hub: %s: %s\n", what, sim_strerror(rc));
  abort();
}

static int mem_busy(void *arg) {
  return sim_transport_mem_busy(arg);
}

static int pump(void *arg) {
  (void)arg;
  int did = sim_transport_mem_deliver(F.t) != 0;
  if (F.f && sim_fleet_flush(F.f))
    did = 1;
  return did;
}

static void srv_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  (void)c;
  (void)user;
  if (F.in.len < 8 * SIM_FRAME_MAX)
    sim_buf_append(&F.in, p, n);
}

static void srv_closed(struct sim_conn *c, int err, void *user) {
  (void)err;
  (void)user;
  if (F.c == c)
    F.c = NULL;
}

static const struct sim_conn_cbs srv_cbs = {NULL, srv_data, srv_closed};

static void on_accept(struct sim_listener *l, struct sim_conn *c, void *user) {
  (void)l;
  (void)user;
  if (F.c) /* one connection at a time: an older one is dropped */
    sim_conn_close(F.c);
  F.c = c;
  F.in.len = 0;
  if (sim_conn_start(c, &srv_cbs, NULL))
    die("start", SIM_EIO);
}

/* Checks and consumes the complete frames the hub wrote. Returns the first one of body case
 * kind (owned by the caller), or NULL. */
static sim_envelope *hub_said(Hubrpc__V1__Envelope__BodyCase kind) {
  sim_envelope *found = NULL;
  size_t off = 0;
  while (off < F.in.len) {
    size_t hdr, body;
    int rc = sim_frame_peek(F.in.data + off, F.in.len - off, SIM_FRAME_MAX, &hdr, &body);
    if (rc == SIM_EAGAIN || (rc == 0 && F.in.len - off - hdr < body))
      break;
    if (rc)
      die("the hub wrote a bad frame length", rc);
    sim_envelope *env = NULL;
    if ((rc = sim_hubrpc_decode(F.in.data + off + hdr, body, &env)))
      die("the hub wrote a frame that does not decode", rc);
    off += hdr + body;
    if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_ERROR && env->error->reason) {
      const uint8_t *r = (const uint8_t *)env->error->reason;
      size_t n = strlen(env->error->reason);
      if (n > SIM_HUBRPC_REASON_MAX)
        die("the hub wrote an Error reason above 256 bytes", SIM_EINVAL);
      for (size_t i = 0, l; i < n; i += l)
        if (!(l = sim_utf8_seq(r + i, n - i)))
          die("the hub wrote an Error reason that is not UTF-8", SIM_EINVAL);
    }
    if (!found && env->body_case == kind)
      found = env;
    else
      sim_hubrpc_free(env);
  }
  sim_buf_consume(&F.in, off);
  return found;
}

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

static int until_hello(void *arg) {
  (void)arg;
  sim_envelope *h = hub_said(HUBRPC__V1__ENVELOPE__BODY_HELLO);
  sim_hubrpc_free(h);
  return h != NULL;
}

static void fleet_up(void) {
  int rc;
  if ((rc = uv_loop_init(&F.loop)) || (rc = sim_transport_mem_new(&F.loop, &F.t)))
    die("loop", rc);
  struct sim_addr a = {"platform", 0};
  if ((rc = sim_transport_listen(F.t, &a, on_accept, NULL, &F.l)))
    die("listen", rc);
  F.cfg.platform.port = sim_listener_port(F.l);
  if ((rc = sim_fleet_new(&F.loop, F.t, &F.cfg, &F.f)))
    die("fleet", rc);
  sim_vdriver_init(&F.d, &F.loop, mem_busy, F.t);
  sim_vdriver_set_pump(&F.d, pump, NULL);
  if ((rc = sim_vdriver_add(&F.d, sim_fleet_sched(F.f))) || (rc = sim_fleet_start(F.f)))
    die("start", rc);
  sim_buf_init(&F.in);
}

static void fleet_stopped(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}

static void fleet_down(void) {
  int stopped = 0;
  sim_fleet_stop(F.f, fleet_stopped, &stopped);
  for (int i = 0; i < 1000 && !stopped; i++)
    if (sim_vdriver_step(&F.d, F.d.now + SIM_MS(100)) < 0)
      break;
  if (F.c) {
    sim_conn_close(F.c);
    F.c = NULL;
  }
  sim_listener_close(F.l);
  settle();
  sim_vdriver_remove(&F.d, sim_fleet_sched(F.f));
  sim_fleet_free(F.f);
  F.f = NULL;
  uv_run(&F.loop, UV_RUN_NOWAIT);
  sim_transport_free(F.t);
  uv_run(&F.loop, UV_RUN_NOWAIT);
  uv_loop_close(&F.loop);
  sim_buf_fini(&F.in);
}

/* Challenge, then (full) Auth and Welcome. 0 when the hub got as far as asked. */
static int handshake(int full) {
  static uint8_t sn[16] = {0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
                           0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff};
  Hubrpc__V1__Challenge ch = HUBRPC__V1__CHALLENGE__INIT;
  ch.server_nonce.data = sn;
  ch.server_nonce.len = sizeof(sn);
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_CHALLENGE;
  env.challenge = &ch;
  send_env(&env);
  settle();
  sim_envelope *auth = hub_said(HUBRPC__V1__ENVELOPE__BODY_AUTH);
  if (!auth)
    return -1;
  sim_hubrpc_free(auth); /* the hub's mac is the platform's business, not this test's */
  if (!full)
    return 0;
  Hubrpc__V1__Welcome w = HUBRPC__V1__WELCOME__INIT;
  w.session_id = 1;
  w.heartbeat_s = 30;
  w.max_window = 64;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_WELCOME;
  env.welcome = &w;
  send_env(&env);
  settle();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t chunks[8] = {1, 2, 5, 64, 1000, 4096, 65536, SIZE_MAX};
  if (size == 0)
    return 0;
  uint8_t mode = data[0];
  size_t chunk = chunks[(mode >> 2) & 7];
  data++;
  size--;
  fleet_up();
  if (sim_vdriver_run(&F.d, F.d.now + SIM_SEC(60), until_hello, NULL) || !F.c)
    die("the hub did not connect", SIM_ETIMEOUT);
  int start = (mode & 3) == 0 ? 0 : handshake((mode & 3) >= 2);
  for (size_t off = 0; start == 0 && off < size && F.c; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    sim_conn_send(F.c, data + off, n);
    settle();
    if (mode & 0x20)
      sim_vdriver_step(&F.d, F.d.now + SIM_MS(100));
    sim_hubrpc_free(hub_said(HUBRPC__V1__ENVELOPE__BODY__NOT_SET));
  }
  /* What follows the last byte: results of held commands, the next reports, a reconnect. */
  sim_vdriver_run(&F.d, F.d.now + SIM_SEC(2), NULL, NULL);
  sim_hubrpc_free(hub_said(HUBRPC__V1__ENVELOPE__BODY__NOT_SET));
  fleet_down();
  return 0;
}

/* ---- seeds ---- */

static void put_command(struct sim_buf *b, uint64_t id, uint64_t eui, uint32_t cluster,
                        uint32_t command, int global, const uint8_t *payload, size_t len) {
  Hubrpc__V1__Command c = HUBRPC__V1__COMMAND__INIT;
  c.cmd_id = id;
  c.device = eui;
  c.endpoint = 1;
  c.cluster = cluster;
  c.command = command;
  c.global = global;
  c.zcl_payload.data = (uint8_t *)payload;
  c.zcl_payload.len = len;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_COMMAND;
  env.command = &c;
  sim_hubrpc_encode(b, &env);
}

static void put_ack(struct sim_buf *b, uint64_t up_to) {
  Hubrpc__V1__Ack a = HUBRPC__V1__ACK__INIT;
  a.up_to_seq = up_to;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_ACK;
  env.ack = &a;
  sim_hubrpc_encode(b, &env);
}

static void put_welcome(struct sim_buf *b, uint32_t hb, uint64_t acked, uint32_t window) {
  Hubrpc__V1__Welcome w = HUBRPC__V1__WELCOME__INIT;
  w.heartbeat_s = hb;
  w.acked_seq = acked;
  w.max_window = window;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_WELCOME;
  env.welcome = &w;
  sim_hubrpc_encode(b, &env);
}

static void write_seeds(const char *dir) {
  struct sim_buf b;
  sim_buf_init(&b);
  /* The dictionary names the devices' EUI-64s; it is rewritten whole, or left as it was. */
  struct sim_wfile dw;
  char path[512];
  snprintf(path, sizeof(path), "%s/../../fuzz_hub.dict", dir);
  FILE *dict = sim_wfile_open(&dw, path) == 0 ? dw.fp : NULL;
  /* Commands to each device: on, off, toggle, a setpoint write, a read; and one far too big. */
  static const uint8_t write_sp[] = {0x12, 0x00, 0x29, 0x34, 0x08};
  static const uint8_t read_attr[] = {0x00, 0x00};
  static uint8_t huge[65400];
  for (uint32_t s = 0; s < F.cfg.devices_per_hub; s++) {
    uint64_t eui = sim_fleet_device_eui64(F.f, 0, s);
    if (dict) {
      fprintf(dict, "eui%u=\"", s);
      for (int i = 0; i < 8; i++)
        fprintf(dict, "\\x%02x", (unsigned)(eui >> (8 * i)) & 0xFF);
      fprintf(dict, "\"\n");
    }
    put_command(&b, 10 + s * 5, eui, 0x0006, 0x01, 0, NULL, 0);
    put_command(&b, 11 + s * 5, eui, 0x0006, 0x00, 0, NULL, 0);
    put_command(&b, 12 + s * 5, eui, 0x0006, 0x02, 0, NULL, 0);
    put_command(&b, 13 + s * 5, eui, 0x0201, 0x02, 1, write_sp, sizeof(write_sp));
    put_command(&b, 14 + s * 5, eui, 0x0000, 0x00, 1, read_attr, sizeof(read_attr));
  }
  put_ack(&b, 3);
  wb_put_seed(dir, "open_commands", 2 | (7 << 2) | 0x20, &b);
  b.len = 0;
  put_command(&b, 99, sim_fleet_device_eui64(F.f, 0, 0), 0x0006, 0x02, 0, huge, sizeof(huge));
  wb_put_seed(dir, "open_command_near_limit", 2 | (7 << 2), &b);
  wb_put_seed(dir, "open_command_near_limit_split", 2 | (4 << 2), &b);
  b.len = 0;
  put_welcome(&b, 30, 0, 256);
  put_ack(&b, 2);
  wb_put_seed(dir, "welcome_then_ack", 1 | (7 << 2) | 0x20, &b);
  b.len = 0;
  put_welcome(&b, 0, 0, 0);
  wb_put_seed(dir, "welcome_zero", 1 | (7 << 2), &b);
  b.len = 0;
  wb_deep_report(&b, 8800, 0, 0);
  wb_put_seed(dir, "deep_in_handshake", 0 | (7 << 2), &b);
  wb_put_seed(dir, "deep_when_open", 2 | (7 << 2), &b);
  b.len = 0;
  static const uint8_t prefix5[] = {0x80, 0x80, 0x80, 0x80, 0x80};
  sim_buf_append(&b, prefix5, sizeof(prefix5));
  wb_put_seed(dir, "prefix_5_bytes", 2 | (0 << 2), &b);
  if (dict && sim_wfile_commit(&dw) != 0)
    fprintf(stderr, "fuzz_hub: cannot write %s\n", path);
  sim_buf_fini(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (dev_catalog_register_all() < 0)
    die("catalogue", SIM_EINVAL);
  sim_fleet_config_default(&F.cfg);
  F.cfg.hubs = 1;
  F.cfg.devices_per_hub = 3;
  snprintf(F.cfg.hub_prefix, sizeof(F.cfg.hub_prefix), "fz-");
  snprintf(F.cfg.platform.host, sizeof(F.cfg.platform.host), "platform");
  static const char *models[] = {"lumi.plug.maeu01", "lumi.airrtc.agl001", "lumi.weather"};
  F.cfg.n_mix = 0;
  for (size_t i = 0; i < 3; i++) {
    int m = sim_model_find(models[i]);
    if (m < 0)
      die(models[i], SIM_ENOTFOUND);
    F.cfg.mix_model[F.cfg.n_mix] = (uint16_t)m;
    F.cfg.mix_weight[F.cfg.n_mix++] = 1;
  }
  F.cfg.virtual_clock = 1;
  /* The first seed whose draw puts one device of each model behind the hub. */
  for (F.cfg.seed = 1; F.cfg.seed < 1000; F.cfg.seed++) {
    fleet_up();
    const struct sim_model *m[3] = {NULL, NULL, NULL};
    for (uint32_t s = 0; s < 3; s++) {
      struct sim_device_info di;
      if (sim_fleet_device_info(F.f, 0, s, &di) == 0)
        m[s] = di.model;
    }
    fleet_down();
    if (m[0] != m[1] && m[1] != m[2] && m[0] != m[2])
      break;
  }
  const char *dir = getenv("HUBSIM_FUZZ_SEEDS");
  if (dir) {
    fleet_up(); /* the devices' addresses */
    write_seeds(dir);
    fleet_down();
    exit(0);
  }
  return 0;
}
