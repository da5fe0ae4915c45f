/* recorders/capture: the capture's transport over the mem transport, and the file it writes,
 * read back block by block: a recorded connection is one synthesised TCP conversation (SYN
 * with the hub's id as comment, SYN/ACK, ACK, the bytes each way with sequence numbers that
 * follow them, FIN), an owner that is not recorded gets the lower transport's own connection,
 * --record-limit stops before a block would cross it, and the hub filter's syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <unistd.h>

#include "recorders/capture.h"
#include "sim/core/err.h"

#define HUB_A ((void *)0x1001) /* owners the test's hub_of() knows: hub 41 and hub 7 */
#define HUB_B ((void *)0x1002)

struct fx {
  uv_loop_t loop;
  struct sim_transport *mem, *tap;
  struct sim_listener *l;
  struct sim_conn *server; /* the accepted side: echoes what it reads */
  struct rec_capture *cap;
  struct sim_addr addr;
  uint64_t now;
  int connected, got;
  char path[64];
};

static int hub_of(void *ctx, void *user, uint32_t *g, char *id, size_t cap) {
  (void)ctx;
  if (user != HUB_A && user != HUB_B)
    return SIM_ENOTFOUND;
  *g = user == HUB_A ? 41 : 7;
  snprintf(id, cap, "hub-%06u", *g);
  return 0;
}

static uint64_t now_us(void *ctx) {
  struct fx *fx = ctx;
  return fx->now += 10;
}

static void srv_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  (void)user;
  sim_conn_send(c, p, n);
}
static void srv_closed(struct sim_conn *c, int err, void *user) {
  (void)c, (void)err;
  ((struct fx *)user)->server = NULL;
}
static const struct sim_conn_cbs srv_cbs = {NULL, srv_data, srv_closed};

static void on_accept(struct sim_listener *l, struct sim_conn *c, void *user) {
  (void)l;
  struct fx *fx = user;
  fx->server = c;
  assert_int_equal(sim_conn_start(c, &srv_cbs, fx), 0);
}

static struct fx *g_fx;
static void cli_connect(struct sim_conn *c, int status, void *user) {
  (void)c, (void)user;
  assert_int_equal(status, 0);
  g_fx->connected = 1;
}
static void cli_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  (void)c, (void)p, (void)user;
  g_fx->got += (int)n;
}
static void cli_closed(struct sim_conn *c, int err, void *user) {
  (void)c, (void)err, (void)user;
}
static const struct sim_conn_cbs cli_cbs = {cli_connect, cli_data, cli_closed};

/* Delivers what the mem transport holds, a bounded number of rounds. */
static void pump(struct fx *fx) {
  for (int i = 0; i < 100 && (sim_transport_mem_busy(fx->mem) || i < 2); i++) {
    sim_transport_mem_deliver(fx->mem);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
  }
}

static void fx_open(struct fx *fx, uint64_t limit, const char *hubs) {
  memset(fx, 0, sizeof *fx);
  g_fx = fx;
  snprintf(fx->path, sizeof fx->path, "/tmp/test_capture_XXXXXX");
  int fd = mkstemp(fx->path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(sim_transport_mem_new(&fx->loop, &fx->mem), 0);
  snprintf(fx->addr.host, sizeof fx->addr.host, "platform");
  assert_int_equal(sim_transport_listen(fx->mem, &fx->addr, on_accept, fx, &fx->l), 0);
  fx->addr.port = sim_listener_port(fx->l);
  struct rec_capture_config cfg = {.path = fx->path,
                                   .limit = limit,
                                   .hub_of = hub_of,
                                   .now_us = now_us,
                                   .ctx = fx,
                                   .server_ip = 0x7f000001,
                                   .server_port = 4000,
                                   .comment = "test"};
  char why[128];
  if (hubs)
    assert_int_equal(rec_capture_hubs_parse(hubs, &cfg.hubs, why, sizeof why), 0);
  assert_int_equal(rec_capture_open(&cfg, &fx->cap, why, sizeof why), 0);
  assert_int_equal(rec_capture_wrap(fx->cap, fx->mem, &fx->tap), 0);
}

static void fx_close(struct fx *fx) {
  sim_listener_close(fx->l);
  assert_int_equal(rec_capture_close(fx->cap), 0);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  sim_transport_free(fx->mem);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
}

/* The file's blocks: type and length of each, the packets' TCP flags, payload lengths and
 * sequence numbers, and the first packet's comment. */
struct pkt {
  unsigned flags;
  uint32_t seq, len, src;
  char comment[32];
};
static size_t read_blocks(const char *path, uint32_t *types, struct pkt *pk, size_t cap,
                          size_t *npk) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static uint8_t buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf, f), off = 0, nb = 0;
  fclose(f);
  *npk = 0;
  while (off + 12 <= n && nb < cap) {
    uint32_t t, len, tail;
    memcpy(&t, buf + off, 4);
    memcpy(&len, buf + off + 4, 4);
    assert_true(len >= 12 && len % 4 == 0 && off + len <= n);
    memcpy(&tail, buf + off + len - 4, 4);
    assert_int_equal(tail, len);
    types[nb++] = t;
    if (t == 6) {
      const uint8_t *ip = buf + off + 28, *tcp = ip + 20;
      struct pkt *p = &pk[(*npk)++];
      memset(p, 0, sizeof *p);
      uint32_t caplen;
      memcpy(&caplen, buf + off + 20, 4);
      p->flags = tcp[13];
      p->seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
      p->src = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
      p->len = caplen - 40;
      size_t o = off + 28 + ((caplen + 3) & ~3u);
      if (o + 4 < off + len - 4) { /* an option: the comment */
        uint16_t code, olen;
        memcpy(&code, buf + o, 2);
        memcpy(&olen, buf + o + 2, 2);
        if (code == 1 && olen < sizeof p->comment)
          memcpy(p->comment, buf + o + 4, olen);
      }
    }
    off += len;
  }
  assert_int_equal(off, n); /* nothing after the last whole block */
  return nb;
}

static void test_conversation(void **state) {
  (void)state;
  static struct fx fx;
  fx_open(&fx, 0, NULL);
  struct sim_conn *c;
  assert_int_equal(sim_conn_connect(fx.tap, &fx.addr, NULL, &cli_cbs, HUB_A, &c), 0);
  assert_ptr_equal(c->t, fx.tap); /* a recorded hub's connection is the capture's */
  pump(&fx);
  assert_true(fx.connected);
  assert_int_equal(sim_conn_send(c, "hello", 5), 0);
  pump(&fx);
  assert_int_equal(fx.got, 5);
  sim_conn_close(c);
  pump(&fx);
  struct rec_capture_info ri;
  rec_capture_info(fx.cap, &ri);
  assert_int_equal(ri.frames, 6);
  assert_int_equal(ri.payload, 10);
  fx_close(&fx);
  uint32_t types[16];
  struct pkt pk[16];
  size_t npk, nb = read_blocks(fx.path, types, pk, 16, &npk);
  assert_int_equal(nb, 8);
  assert_int_equal(types[0], 0x0A0D0D0Au);
  assert_int_equal(types[1], 1);
  assert_int_equal(npk, 6);
  static const unsigned flags[] = {0x02, 0x12, 0x10, 0x18, 0x18, 0x11};
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(pk[i].flags, flags[i]);
  assert_string_equal(pk[0].comment, "hub-000041");
  assert_int_equal(pk[0].src, 0x0A00002Au); /* hub 41 is 10.0.0.42 */
  assert_int_equal(pk[1].src, 0x7f000001u);
  assert_int_equal(pk[3].len, 5);
  assert_int_equal(pk[3].seq, pk[0].seq + 1); /* after the SYN */
  assert_int_equal(pk[5].seq, pk[3].seq + 5); /* the FIN follows the data */
  assert_int_equal(pk[4].seq, pk[1].seq + 1); /* the echo after the SYN/ACK */
  unlink(fx.path);
}

/* A hub outside --record-hubs and an owner that is no hub get the mem transport's own
 * connection: nothing is recorded for them. */
static void test_unrecorded(void **state) {
  (void)state;
  static struct fx fx;
  fx_open(&fx, 0, "0-5,9");
  struct sim_conn *a, *b;
  assert_int_equal(sim_conn_connect(fx.tap, &fx.addr, NULL, &cli_cbs, HUB_B, &a), 0);
  assert_ptr_equal(a->t, fx.mem);
  assert_int_equal(sim_conn_connect(fx.tap, &fx.addr, NULL, &cli_cbs, (void *)0x99, &b), 0);
  assert_ptr_equal(b->t, fx.mem);
  pump(&fx);
  sim_conn_send(a, "x", 1);
  pump(&fx);
  sim_conn_close(a);
  sim_conn_close(b);
  pump(&fx);
  struct rec_capture_info ri;
  rec_capture_info(fx.cap, &ri);
  assert_int_equal(ri.frames, 0);
  fx_close(&fx);
  unlink(fx.path);
}

/* The limit: the file ends on a whole block at or below it, the rest is counted as dropped. */
static void test_limit(void **state) {
  (void)state;
  static struct fx fx;
  fx_open(&fx, 400, NULL);
  struct sim_conn *c;
  assert_int_equal(sim_conn_connect(fx.tap, &fx.addr, NULL, &cli_cbs, HUB_A, &c), 0);
  pump(&fx);
  for (int i = 0; i < 10; i++)
    assert_int_equal(sim_conn_send(c, "0123456789", 10), 0);
  pump(&fx);
  assert_int_equal(fx.got, 100); /* the traffic is not affected */
  sim_conn_close(c);
  pump(&fx);
  struct rec_capture_info ri;
  rec_capture_info(fx.cap, &ri);
  assert_true(ri.truncated);
  assert_true(ri.dropped > 0);
  assert_true(ri.bytes <= 400);
  fx_close(&fx);
  uint32_t types[64];
  struct pkt pk[64];
  size_t npk;
  read_blocks(fx.path, types, pk, 64, &npk);
  assert_int_equal(npk, ri.frames);
  unlink(fx.path);
}

static void test_hubs_parse(void **state) {
  (void)state;
  struct rec_capture_hubs h;
  char why[128];
  assert_int_equal(rec_capture_hubs_parse("0-9,20,30-39", &h, why, sizeof why), 0);
  assert_int_equal(h.n, 3);
  assert_true(rec_capture_hubs_has(&h, 0) && rec_capture_hubs_has(&h, 9));
  assert_false(rec_capture_hubs_has(&h, 10));
  assert_true(rec_capture_hubs_has(&h, 20) && rec_capture_hubs_has(&h, 39));
  assert_false(rec_capture_hubs_has(&h, 40));
  static const char *const bad[] = {"",    ",",    "1,",  "a",           "1-",           "-1",
                                    "5-2", "1,,2", "1 2", "99999999999", "1-99999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(rec_capture_hubs_parse(bad[i], &h, why, sizeof why), SIM_EINVAL);
  char many[400] = "";
  for (int i = 0; i < 65; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", i ? "," : "", i);
  assert_int_equal(rec_capture_hubs_parse(many, &h, why, sizeof why), SIM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conversation),
      cmocka_unit_test(test_unrecorded),
      cmocka_unit_test(test_limit),
      cmocka_unit_test(test_hubs_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
