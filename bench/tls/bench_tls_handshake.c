/* bench_tls_handshake: connections per second per core of a transport on loopback, the client
 * and the server each on its own thread (and loop), so that each side's CPU is its thread's
 * own (CLOCK_THREAD_CPUTIME of that thread).
 *
 *   bench_tls_handshake tls CERT KEY CA N CONC
 *   bench_tls_handshake tcp N CONC
 *
 * tls: N connections, CONC at a time, each with its own owner pointer: N full handshakes; all
 * closed; then the same N owners connect again: N resumed handshakes (the tls transport offers
 * each owner's ticket). tcp: the same two rounds over plain tcp (the floor: connect, one byte,
 * close). Each connection waits for one byte the server sends after its handshake (which also
 * brings the client the server's ticket), then closes. Prints per round: connections, wall
 * time, client and server CPU, and connections per CPU second of each side. Every figure is
 * measured in this invocation; a round with a failure says so and exits 1. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "sim/transport/tls.h"
#include "sim/transport/transport.h"

struct slot {
  struct sim_conn *c;
};

static struct {
  int tls;
  const char *cert, *key, *ca;
  uint32_t n, conc;
  /* server */
  uv_loop_t sloop;
  struct sim_transport *st;
  struct sim_listener *l;
  uv_async_t stop;
  uint16_t port;
  pthread_t sthread;
  uv_sem_t ready;
  /* client */
  uv_loop_t cloop;
  struct sim_transport *ct;
  struct slot *slots;
  uint32_t next, done, failed, inflight;
} B;

static double thread_cpu(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono(void) {
  return (double)uv_hrtime() / 1e9;
}

/* Server: one byte to every connection once accepted (after its handshake), then it waits for
 * the client to close. */
static void s_data(struct sim_conn *c, const uint8_t *p, size_t n, void *u) {
  (void)c, (void)p, (void)n, (void)u;
}
static void s_closed(struct sim_conn *c, int err, void *u) {
  (void)c, (void)err, (void)u;
}
static const struct sim_conn_cbs s_cbs = {NULL, s_data, s_closed};

static void s_accept(struct sim_listener *l, struct sim_conn *c, void *u) {
  (void)l, (void)u;
  if (sim_conn_start(c, &s_cbs, NULL) == 0)
    sim_conn_send(c, "x", 1);
}

static void s_stop(uv_async_t *a) {
  (void)a;
  sim_listener_close(B.l);
  uv_close((uv_handle_t *)&B.stop, NULL);
}

static void *server_main(void *arg) {
  (void)arg;
  uv_loop_init(&B.sloop);
  int rc;
  if (B.tls) {
    struct sim_tls_config cfg = {.cert_file = B.cert, .key_file = B.key};
    const char *why = NULL;
    rc = sim_transport_tls_new(&B.sloop, &cfg, &B.st, &why);
    if (rc) {
      fprintf(stderr, "bench_tls_handshake: server: %s\n", why ? why : "cannot start");
      exit(2);
    }
  } else {
    rc = sim_transport_tcp_new(&B.sloop, &B.st);
  }
  struct sim_addr a = {.host = "127.0.0.1", .port = 0};
  if (rc || sim_transport_listen(B.st, &a, s_accept, NULL, &B.l)) {
    fprintf(stderr, "bench_tls_handshake: cannot listen on 127.0.0.1\n");
    exit(2);
  }
  B.port = sim_listener_port(B.l);
  uv_async_init(&B.sloop, &B.stop, s_stop);
  uv_sem_post(&B.ready);
  uv_run(&B.sloop, UV_RUN_DEFAULT);
  return NULL;
}

static void launch(void);

static void c_finish(struct slot *s, int ok) {
  s->c = NULL;
  B.inflight--;
  B.done++;
  if (!ok)
    B.failed++;
  launch();
}

static void c_connect(struct sim_conn *c, int status, void *u) {
  (void)c;
  if (status < 0)
    c_finish(u, 0);
}

static void c_data(struct sim_conn *c, const uint8_t *p, size_t n, void *u) {
  (void)p, (void)n;
  sim_conn_close(c);
  c_finish(u, 1);
}

static void c_closed(struct sim_conn *c, int err, void *u) {
  (void)c, (void)err;
  c_finish(u, 0);
}

static const struct sim_conn_cbs c_cbs = {c_connect, c_data, c_closed};

static void launch(void) {
  struct sim_addr dst = {.host = "127.0.0.1", .port = B.port};
  while (B.inflight < B.conc && B.next < B.n) {
    struct slot *s = &B.slots[B.next++];
    B.inflight++;
    if (sim_conn_connect(B.ct, &dst, NULL, &c_cbs, s, &s->c)) {
      B.inflight--;
      B.done++;
      B.failed++;
    }
  }
}

/* One round: every slot connects once. */
static void round_run(const char *name, clockid_t scpu) {
  struct sim_tls_stats before = {0}, after = {0};
  if (B.tls)
    sim_transport_tls_stats(B.ct, &before);
  B.next = B.done = B.failed = B.inflight = 0;
  double w0 = mono(), c0 = thread_cpu(CLOCK_THREAD_CPUTIME_ID), s0 = thread_cpu(scpu);
  launch();
  while (B.done < B.n)
    uv_run(&B.cloop, UV_RUN_ONCE);
  double w1 = mono(), c1 = thread_cpu(CLOCK_THREAD_CPUTIME_ID), s1 = thread_cpu(scpu);
  uint64_t full = 0, resumed = 0;
  if (B.tls) {
    sim_transport_tls_stats(B.ct, &after);
    resumed = after.resumed - before.resumed;
    full = after.handshakes - before.handshakes - resumed;
  }
  double cc = c1 - c0, sc = s1 - s0, ok = (double)(B.n - B.failed);
  printf("%-8s %-8s connections %" PRIu32 " failed %" PRIu32, B.tls ? "tls" : "tcp", name, B.n,
         B.failed);
  if (B.tls)
    printf(" (client handshakes: full %" PRIu64 " resumed %" PRIu64 ")", full, resumed);
  printf("\n         wall %.3f s (%.0f/s)  client cpu %.3f s (%.0f per cpu-s)  server cpu %.3f s "
         "(%.0f per cpu-s)\n",
         w1 - w0, ok / (w1 - w0), cc, ok / cc, sc, ok / sc);
  if (B.failed)
    printf("         FAILED: %" PRIu32 " connections did not complete\n", B.failed);
}

int main(int argc, char **argv) {
  int base;
  if (argc == 7 && strcmp(argv[1], "tls") == 0) {
    B.tls = 1;
    B.cert = argv[2];
    B.key = argv[3];
    B.ca = argv[4];
    base = 5;
  } else if (argc == 4 && strcmp(argv[1], "tcp") == 0) {
    base = 2;
  } else {
    fprintf(stderr, "usage: bench_tls_handshake tls CERT KEY CA N CONC | tcp N CONC\n");
    return 2;
  }
  B.n = (uint32_t)strtoul(argv[base], NULL, 10);
  B.conc = (uint32_t)strtoul(argv[base + 1], NULL, 10);
  if (B.n == 0 || B.conc == 0 || B.n > 1000000 || B.conc > 10000) {
    fprintf(stderr, "bench_tls_handshake: N in 1..1000000, CONC in 1..10000\n");
    return 2;
  }
  B.slots = calloc(B.n, sizeof *B.slots);
  if (!B.slots)
    return 3;
  uv_sem_init(&B.ready, 0);
  pthread_create(&B.sthread, NULL, server_main, NULL);
  uv_sem_wait(&B.ready);
  clockid_t scpu;
  pthread_getcpuclockid(B.sthread, &scpu);
  uv_loop_init(&B.cloop);
  int rc;
  if (B.tls) {
    struct sim_tls_config cfg = {.ca_file = B.ca};
    const char *why = NULL;
    rc = sim_transport_tls_new(&B.cloop, &cfg, &B.ct, &why);
    if (rc)
      fprintf(stderr, "bench_tls_handshake: client: %s\n", why ? why : "cannot start");
  } else {
    rc = sim_transport_tcp_new(&B.cloop, &B.ct);
  }
  if (rc)
    return 2;
  round_run(B.tls ? "full" : "round1", scpu);
  round_run(B.tls ? "resumed" : "round2", scpu);
  int bad = B.failed != 0;
  uv_async_send(&B.stop);
  pthread_join(B.sthread, NULL);
  uv_run(&B.cloop, UV_RUN_NOWAIT);
  sim_transport_free(B.ct);
  uv_loop_close(&B.cloop);
  sim_transport_free(B.st);
  uv_run(&B.sloop, UV_RUN_NOWAIT);
  uv_loop_close(&B.sloop);
  free(B.slots);
  return bad;
}
