/* The hubrpc profile end to end: `hubsim run --platform mqtt://...` through Debian's mosquitto
 * (started here on a free loopback port) to `hubsim platform --mqtt`, or to the embedded
 * platform behind the broker, or to a hostile broker of the test's own.
 *
 * Fast cases: a library scenario unchanged over MQTT; a broker refusing every CONNECT (3.1.1
 * and 5) and one that acknowledges nothing never give a PASS, and name the reason; the MQTT
 * flags' refusals. Slow cases (test_slow_*, their own ctest entry): 1,000 hubs with QoS 1 lose
 * nothing across a broker restart and across a platform restart (the platform's store holds
 * every acknowledged report exactly once); 10,000 hubs, each on its own broker connection,
 * with an observer subscription that saw every frame the hubs published. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "mqrun.h"
#include "mqtest.h"
#include "sim/core/buf.h"
#include "sim/mqtt/codec.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"
#include "tests/support/broker.h"
#include "tests/support/platproc.h"

/* ---- the real broker and platform ---------------------------------------------------------- */

struct rig {
  struct mq_loop m;
  struct broker b;
  struct platproc p;
  char url[64], db[300];
};

/* The rig of the running case: a failed case leaves through a longjmp, and its teardown stops
 * the broker and the platform it left running. */
static struct rig *current;

static void rig_start(struct rig *r, int platform) {
  current = r;
  mq_loop_init(&r->m);
  memset(&r->b, 0, sizeof r->b);
  /* The 10,000 hubs' first burst exceeds mosquitto's usual 10,000 messages queued for one
   * subscriber (the platform's, the observer's): it would drop the rest, as it logs. */
  r->b.max_queued = 1000000;
  assert_int_equal(broker_start(&r->b, r->m.dir, 0), 0);
  snprintf(r->url, sizeof r->url, "mqtt://127.0.0.1:%u", r->b.port);
  snprintf(r->db, sizeof r->db, "%s/plat.db", r->m.dir);
  memset(&r->p, 0, sizeof r->p);
  /* A short heartbeat: a hub whose platform restarted learns it from its next heartbeat. */
  const char *extra[] = {"--mqtt", r->url, "--heartbeat", "2", NULL};
  if (platform)
    assert_int_equal(platproc_start_scheme(&r->p, NULL, r->db, 0, extra), 0);
}

static void rig_stop(struct rig *r) {
  current = NULL;
  if (r->p.pid > 0)
    assert_int_equal(platproc_stop(&r->p), 0);
  broker_stop(&r->b);
  mq_loop_fini(&r->m);
}

static int rig_teardown(void **state) {
  (void)state;
  if (current) {
    platproc_kill(&current->p);
    broker_kill(&current->b);
    current = NULL;
  }
  return 0;
}

/* Runs the loop until the platform's store knows n hubs, for at most ms. */
static int wait_hubs(struct rig *r, long long n, unsigned ms) {
  uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000ull;
  while (uv_hrtime() < deadline) {
    if (platproc_query(r->db, "SELECT count(*) FROM hubs") >= n)
      return 1;
    int never = 0;
    mq_wait(&r->m, &never, 1, 100); /* the run's exit is noticed meanwhile */
  }
  return 0;
}

static const char *verdict(json_t *j) {
  const char *t = json_string_value(json_object_get(json_object_get(j, "verdict"), "text"));
  return t ? t : "";
}

/* A passing run that lost nothing: every report acknowledged, none lost, none unacknowledged,
 * and the platform's store holds each acknowledged report once. */
static void expect_nothing_lost(struct rig *r, struct mq_run *run, int status) {
  if (status != 0)
    MQ_RUN_FAIL(run, "exit %d", status);
  json_t *j = mq_run_summary(run);
  json_int_t gen = mq_jint(j, "counts.reports.generated");
  json_int_t acked = mq_jint(j, "counts.reports.acked");
  assert_true(gen > 0);
  assert_int_equal(acked, gen);
  assert_int_equal(mq_jint(j, "counts.lost"), 0);
  assert_int_equal(mq_jint(j, "counts.unacknowledged"), 0);
  assert_non_null(strstr(verdict(j), "PASS"));
  assert_int_equal(platproc_stop(&r->p), 0);
  long long stored = platproc_query(r->db, "SELECT count(*) FROM reports");
  if (stored != (long long)acked)
    fail_msg("the platform stored %lld reports, the run had %lld acknowledged", stored,
             (long long)acked);
  json_decref(j);
}

static const char *const *thousand(const char *url) {
  static const char *args[24];
  const char *a[] = {"--platform", url,         "--hubs",  "1000",   "--devices-per-hub",
                     "2",          "--speedup", "5",       "--ramp", "500",
                     "--duration", "12s",       "--drain", "60s",    "--mqtt-qos",
                     "1",          NULL};
  memcpy(args, a, sizeof a);
  return args;
}

/* 1,000 hubs, QoS 1, and once every hub is known to the platform either mosquitto or the
 * platform (same store) is stopped and started again. After a broker restart every hub lost its
 * connection and makes a new one; after a platform restart the new one refuses what arrives on
 * connections it never opened, and the hubs reconnect. Either way they resend what was not
 * acknowledged: nothing is lost, and every hub connected at least twice. */
static void restart_case(int broker) {
  struct rig r;
  rig_start(&r, 1);
  struct mq_run run;
  mq_run_start(&run, &r.m, broker ? "broker-restart" : "platform-restart", thousand(r.url));
  if (!wait_hubs(&r, 1000, 60000))
    MQ_RUN_FAIL(&run, "the hubs did not all reach the platform");
  if (broker) {
    assert_true(broker_stop(&r.b) >= 0);
    assert_int_equal(broker_restart(&r.b), 0);
  } else {
    assert_int_equal(platproc_stop(&r.p), 0);
    const char *extra[] = {"--mqtt", r.url, "--heartbeat", "2", NULL};
    assert_int_equal(platproc_start_scheme(&r.p, NULL, r.db, 0, extra), 0);
  }
  int status = mq_run_wait(&run, &r.m, 180000);
  json_t *j = mq_run_summary(&run);
  /* A broker restart cut every hub; a platform restart reaches each hub that sends before the
   * run ends (a hub with nothing to send and nothing unacknowledged may keep its old
   * connection, as over TCP when nothing is written). */
  json_int_t connects = mq_jint(j, "sessions.connects");
  if (broker ? connects < 2000 : connects <= 1000)
    MQ_RUN_FAIL(&run, "%lld connects: the restart reached too few hubs", (long long)connects);
  json_decref(j);
  expect_nothing_lost(&r, &run, status);
  rig_stop(&r);
}

static void test_slow_broker_restart(void **state) {
  (void)state;
  restart_case(1);
}

static void test_slow_platform_restart(void **state) {
  (void)state;
  restart_case(0);
}

/* 10,000 hubs, each on a broker connection of its own (one process: 10,000 sockets and the
 * observer's, within 20,000 open files), and an observer that counts what mosquitto delivered
 * on the uplink topics: all of what the hubs published. */
static void test_slow_ten_thousand_observed(void **state) {
  (void)state;
  struct rig r;
  rig_start(&r, 1);
  const char *args[] = {"--platform", r.url,    "--hubs",         "10000",      "--devices-per-hub",
                        "1",          "--ramp", "2500",           "--duration", "6s",
                        "--drain",    "120s",   "--mqtt-observe", NULL};
  struct mq_run run;
  mq_run_start(&run, &r.m, "ten-thousand", args);
  int status = mq_run_wait(&run, &r.m, 400000);
  if (status != 0)
    MQ_RUN_FAIL(&run, "exit %d", status);
  json_t *j = mq_run_summary(&run);
  /* Every hub held its own broker connection; a busy machine may see some of 10,000 connects
   * arriving at once dropped and made again (sessions.opened above 10,000), which is no fault. */
  assert_int_equal(mq_jint(j, "ramp.hubs_ever_online"), 10000);
  assert_int_equal(mq_jint(j, "sessions.online_at_end"), 10000);
  json_int_t sent = mq_jint(j, "mqtt.frames_sent");
  json_int_t acked = mq_jint(j, "mqtt.frames_acked");
  json_int_t seen = mq_jint(j, "mqtt.observed");
  assert_true(json_is_true(json_object_get(json_object_get(j, "mqtt"), "observer_complete")));
  /* The broker delivers what it acknowledged; what a hub had not got acknowledged when its
   * connection ended (a reconnect on a busy machine) may or may not have reached it. */
  if (acked < 40000 || seen < acked || seen > sent) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "grep -i drop '%s' | head -5 >&2", r.b.log);
    if (system(cmd) < 0)
      perror("grep");
    MQ_RUN_FAIL(
        &run, "the hubs published %lld frames, the broker acknowledged %lld, the observer saw %lld",
        (long long)sent, (long long)acked, (long long)seen);
  }
  json_decref(j);
  assert_int_equal(platproc_stop(&r.p), 0);
  assert_int_equal(platproc_query(r.db, "SELECT count(*) FROM hubs"), 10000);
  rig_stop(&r);
}

/* A library scenario, unchanged, with the embedded platform serving behind the broker: its
 * expectations hold and its platform operations (commands) go through. */
static void test_scenario_unchanged(void **state) {
  (void)state;
  struct rig r;
  rig_start(&r, 0);
  const char *args[] = {"smoke",          "--platform", r.url, "--embedded-platform",
                        "--mqtt-observe", NULL};
  struct mq_run run;
  mq_run_start(&run, &r.m, "smoke", args);
  int status = mq_run_wait(&run, &r.m, 120000);
  if (status != 0)
    MQ_RUN_FAIL(&run, "exit %d", status);
  json_t *j = mq_run_summary(&run);
  assert_non_null(strstr(verdict(j), "PASS"));
  json_t *mq = json_object_get(j, "mqtt");
  assert_string_equal(json_string_value(json_object_get(mq, "profile")), "hubrpc");
  assert_int_equal(mq_jint(j, "mqtt.qos"), 1);
  assert_true(mq_jint(j, "mqtt.frames_acked") > 0);
  /* No fault ends a session here: every publish is acknowledged, each hub's Goodbye too (its
   * connection waits for the broker's PUBACK before DISCONNECT). */
  assert_int_equal(mq_jint(j, "mqtt.frames_acked"), mq_jint(j, "mqtt.frames_sent"));
  assert_true(mq_jint(j, "mqtt.observed") >= mq_jint(j, "mqtt.frames_acked"));
  assert_true(json_object_get(j, "scenario") != NULL);
  json_decref(j);
  rig_stop(&r);
}

/* ---- a hostile broker ------------------------------------------------------------------------ */

enum hmode { H_REFUSE, H_SILENT, H_GARBAGE, H_OVERSIZED };

#define HCONNS 16

struct hconn {
  struct sim_conn *c;
  struct sim_mqtt_reader rd;
  int version;
  struct hostile *h;
};

struct hostile {
  struct mq_loop *m;
  struct sim_listener *l;
  enum hmode mode;
  struct hconn conns[HCONNS];
  int connects, publishes;
};

static void h_send(struct hconn *hc, const struct sim_mqtt_packet *p) {
  mq_send_packet(hc->c, p, hc->version);
}

/* H_REFUSE: every CONNECT gets "not authorized" in its version. H_SILENT: CONNECT and SUBSCRIBE
 * are accepted, no PUBLISH is ever acknowledged or delivered. H_GARBAGE: the CONNACK is
 * followed by bytes that are no MQTT packet. H_OVERSIZED: the CONNACK is followed by the header
 * of a PUBLISH of 200 MB (the hub must refuse it from its header, before buffering any of it). */
static int h_packet(void *arg, const struct sim_mqtt_packet *p) {
  struct hconn *hc = arg;
  struct hostile *h = hc->h;
  if (p->type == SIM_MQTT_CONNECT) {
    h->connects++;
    hc->version = p->connect.level;
    hc->rd.version = hc->version;
    struct sim_mqtt_packet a = {.type = SIM_MQTT_CONNACK};
    if (h->mode == H_REFUSE)
      a.reason = hc->version == 5 ? 0x87 : 5;
    h_send(hc, &a);
    static const uint8_t garbage[] = {0x00, 0xff, 0xff, 0xff, 0xff, 0x7f, 'h', 'i'};
    static const uint8_t huge[] = {0x30, 0x80, 0x80, 0xc0, 0x5f}; /* PUBLISH, 200 MB */
    if (h->mode == H_GARBAGE)
      (void)sim_conn_send(hc->c, garbage, sizeof garbage);
    else if (h->mode == H_OVERSIZED)
      (void)sim_conn_send(hc->c, huge, sizeof huge);
  } else if (p->type == SIM_MQTT_SUBSCRIBE) {
    static const uint8_t granted = 1;
    struct sim_mqtt_packet a = {.type = SIM_MQTT_SUBACK, .packet_id = p->packet_id};
    a.list = &granted;
    a.list_len = a.count = 1;
    h_send(hc, &a);
  } else if (p->type == SIM_MQTT_PUBLISH) {
    h->publishes++;
  }
  return 0;
}

static void h_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  struct hconn *hc = user;
  if (sim_mqtt_reader_feed(&hc->rd, p, n, h_packet, hc)) {
    sim_conn_close(c);
    sim_mqtt_reader_fini(&hc->rd);
    hc->c = NULL;
  }
}

static void h_closed(struct sim_conn *c, int err, void *user) {
  (void)c;
  (void)err;
  struct hconn *hc = user;
  sim_mqtt_reader_fini(&hc->rd);
  hc->c = NULL;
}

static const struct sim_conn_cbs h_cbs = {NULL, h_data, h_closed};

static void h_accept(struct sim_listener *l, struct sim_conn *c, void *user) {
  (void)l;
  struct hostile *h = user;
  for (int i = 0; i < HCONNS; i++) {
    struct hconn *hc = &h->conns[i];
    if (hc->c)
      continue;
    hc->c = c;
    hc->h = h;
    hc->version = 4;
    sim_mqtt_reader_init(&hc->rd, 0, 4);
    assert_int_equal(sim_conn_start(c, &h_cbs, hc), 0);
    return;
  }
  sim_conn_close(c); /* more than this fake serves at once */
}

static void h_stop(struct hostile *h) {
  for (int i = 0; i < HCONNS; i++)
    if (h->conns[i].c) {
      sim_conn_close(h->conns[i].c);
      sim_mqtt_reader_fini(&h->conns[i].rd);
      h->conns[i].c = NULL;
    }
  sim_listener_close(h->l);
}

/* A run against the hostile broker: it must fail, with exit code want and words in the
 * output. */
static void hostile_run(enum hmode mode, const char *version, int want, const char *words) {
  struct mq_loop m;
  mq_loop_init(&m);
  static struct hostile h;
  memset(&h, 0, sizeof h);
  h.m = &m;
  h.mode = mode;
  struct sim_addr a = {"127.0.0.1", 0};
  assert_int_equal(sim_transport_listen(m.tcp, &a, h_accept, &h, &h.l), 0);
  char url[64];
  snprintf(url, sizeof url, "mqtt://127.0.0.1:%u", sim_listener_port(h.l));
  const char *args[] = {"--platform", url,  "--hubs",  "3",  "--devices-per-hub", "2",
                        "--duration", "2s", "--drain", "2s", "--mqtt-version",    version,
                        NULL};
  struct mq_run run;
  static const char *const names[] = {"refused", "silent", "garbage", "oversized"};
  mq_run_start(&run, &m, names[mode], args);
  int status = mq_run_wait(&run, &m, 60000);
  const char *out = mq_run_output(&run);
  json_t *j = mq_run_summary(&run);
  if (status != want || strstr(verdict(j), "PASS") || !strstr(out, words))
    fail_msg("want exit %d and \"%s\"; got exit %d, verdict \"%s\"\n%s", want, words, status,
             verdict(j), out);
  assert_true(h.connects >= 3);
  if (mode == H_SILENT)
    assert_true(h.publishes >= 3); /* the Hellos went out and were never answered */
  json_decref(j);
  h_stop(&h);
  mq_loop_fini(&m);
}

static void test_broker_refuses_connect(void **state) {
  (void)state;
  hostile_run(H_REFUSE, "5", 3, "broker refused CONNECT: not authorized (0x87)");
  hostile_run(H_REFUSE, "3.1.1", 3, "broker refused CONNECT: not authorized (5)");
}

static void test_broker_never_acknowledges(void **state) {
  (void)state;
  hostile_run(H_SILENT, "5", 3, "no hub ever");
}

static void test_broker_sends_garbage(void **state) {
  (void)state;
  hostile_run(H_GARBAGE, "5", 3, "most frequent error MALFORMED");
  hostile_run(H_OVERSIZED, "3.1.1", 3, "most frequent error TOOBIG");
}

/* ---- a flood of uplink topics --------------------------------------------------------------- */

/* The body (no varint prefix) of a Hello from hub, as the first frame of a connection. */
static void hello_body(struct sim_buf *out, const char *hub) {
  static uint8_t nonce[16];
  Hubrpc__V1__Hello h = HUBRPC__V1__HELLO__INIT;
  h.proto_version = SIM_HUBRPC_VERSION;
  h.hub_id = (char *)hub;
  h.model = "lumi.gateway.aqhm01";
  h.firmware = "flood";
  h.client_nonce.data = nonce;
  h.client_nonce.len = sizeof nonce;
  h.boot_id = 1;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_HELLO;
  env.hello = &h;
  struct sim_buf f;
  sim_buf_init(&f);
  assert_int_equal(sim_hubrpc_encode(&f, &env), 0);
  size_t skip = 0;
  while (f.data[skip] & 0x80)
    skip++;
  assert_int_equal(sim_buf_append(out, f.data + skip + 1, f.len - skip - 1), 0);
  sim_buf_fini(&f);
}

/* Publishes n messages, each on an uplink topic of its own (a new hub and epoch, so a new
 * connection to the platform): undecodable bytes, a Hello that never authenticates, now and
 * then a payload above the frame limit, and once one above the platform listener's packet
 * limit, which it announced in its MQTT 5 CONNECT. QoS 0, as fast as the broker takes them. */
#define HUGE_LEN (300u * 1024u)
static void flood(struct rig *r, int n) {
  struct mq_cli f;
  struct sim_mqtt_client_opts o = {.client_id = "flooder", .version = 5, .clean = 1};
  mq_cli_new(&f, &r->m, &o);
  assert_true(mq_cli_connect(&f, &r->m, r->b.port));
  static uint8_t junk[SIM_FRAME_MAX + 4096];
  memset(junk, 0xff, sizeof junk);
  struct sim_buf hello;
  sim_buf_init(&hello);
  hello_body(&hello, "flood");
  uint8_t *huge = calloc(1, HUGE_LEN);
  assert_non_null(huge);
  for (int i = 0; i < n; i++) {
    char topic[96];
    snprintf(topic, sizeof topic, "hubrpc/v1/flood-%d/%016x/up", i, (unsigned)i * 2654435761u);
    const void *p = junk;
    size_t len = 40;
    if (i == n / 2)
      p = huge, len = HUGE_LEN; /* above the listener's packet limit: the broker drops it */
    else if (i % 100 == 99)
      len = sizeof junk; /* above SIM_FRAME_MAX: refused before the platform sees it */
    else if (i % 2)
      p = hello.data, len = hello.len;
    assert_int_equal(sim_mqtt_client_publish(f.c, topic, p, len, 0, 0, NULL), 0);
    if (i % 200 == 199) {
      int never = 0;
      mq_wait(&r->m, &never, 1, 5); /* let the socket drain */
    }
  }
  int never = 0;
  mq_wait(&r->m, &never, 1, 500);
  sim_buf_fini(&hello);
  free(huge);
  mq_cli_free(&f);
}

/* A hostile client floods the platform's uplink topics with new connections while a fleet
 * runs: the platform closes them (their handshakes give way under --max-unauth, undecodable
 * ones at once), stays up, and the fleet loses nothing. With MQTT 5 the broker drops the
 * message above the listener's packet limit; with 3.1.1 the listener reads its head,
 * acknowledges it and drops the rest, and keeps its broker connection either way. */
static void flood_case(const char *version) {
  struct rig r;
  current = &r;
  mq_loop_init(&r.m);
  memset(&r.b, 0, sizeof r.b);
  r.b.max_queued = 1000000;
  assert_int_equal(broker_start(&r.b, r.m.dir, 0), 0);
  snprintf(r.url, sizeof r.url, "mqtt://127.0.0.1:%u", r.b.port);
  snprintf(r.db, sizeof r.db, "%s/plat.db", r.m.dir);
  memset(&r.p, 0, sizeof r.p);
  const char *extra[] = {"--mqtt", r.url, "--max-unauth", "300", "--mqtt-version", version, NULL};
  assert_int_equal(platproc_start_scheme(&r.p, NULL, r.db, 0, extra), 0);
  const char *args[] = {"--platform",        r.url, "--hubs",     "20",
                        "--devices-per-hub", "2",   "--duration", "8s",
                        "--drain",           "60s", NULL};
  struct mq_run run;
  mq_run_start(&run, &r.m, "flood", args);
  if (!wait_hubs(&r, 20, 60000))
    MQ_RUN_FAIL(&run, "the hubs did not all reach the platform");
  flood(&r, 6000);
  int status = mq_run_wait(&run, &r.m, 180000);
  expect_nothing_lost(&r, &run, status);
  /* The flood reached the platform: most of its Hellos were answered, and more of them waited
   * in their handshake than --max-unauth allows. */
  char cmd[400];
  snprintf(cmd, sizeof cmd, "grep -o '\"handshakes_evicted\":[0-9]*' '%s' | tail -1 | cut -d: -f2",
           r.p.log);
  FILE *f = popen(cmd, "r");
  long long evicted = -1;
  assert_non_null(f);
  if (fscanf(f, "%lld", &evicted) != 1)
    evicted = -1;
  pclose(f);
  if (evicted < 1000)
    fail_msg("the platform evicted %lld handshakes: the flood did not reach it", evicted);
  snprintf(cmd, sizeof cmd, "grep -q 'listener.s broker connection' '%s'", r.p.log);
  if (system(cmd) == 0)
    fail_msg("the platform's listener lost its broker connection during the flood (%s)", r.p.log);
  snprintf(cmd, sizeof cmd, "grep -q 'above our limit of' '%s'", r.p.log);
  if (strcmp(version, "3.1.1") == 0 && system(cmd) != 0)
    fail_msg("the listener did not say it dropped the oversized message (%s)", r.p.log);
  broker_stop(&r.b);
  mq_loop_fini(&r.m);
  current = NULL;
}

static void test_uplink_topic_flood(void **state) {
  (void)state;
  flood_case("5");
  flood_case("3.1.1");
}

/* ---- the platform's broker connection cut, the broker up --------------------------------- */

/* A TCP relay between the platform and mosquitto, on a loop and thread of its own (the test's
 * loop does not run while it waits for the platform to start), so that the test can cut the
 * platform's broker connection alone: the hubs connect to mosquitto directly. */
#define PX_PAIRS 8

struct px_pair {
  struct px *px;
  struct sim_conn *down, *up; /* the platform's side, the broker's side */
  int up_ready;
  struct sim_buf early; /* what the platform sent before the broker side connected */
};

struct px {
  uv_loop_t loop;
  uv_async_t wake;
  uv_thread_t thread;
  struct sim_transport *tcp;
  struct sim_listener *l;
  struct sim_addr broker;
  uint16_t port;
  struct px_pair p[PX_PAIRS];
  _Atomic int accepted, cut_req, cuts, stop_req;
};

static void px_drop(struct px_pair *pp) {
  if (pp->down)
    sim_conn_close(pp->down);
  if (pp->up)
    sim_conn_close(pp->up);
  pp->down = pp->up = NULL;
  pp->up_ready = 0;
  sim_buf_fini(&pp->early);
}

static void px_up_connected(struct sim_conn *c, int status, void *user) {
  struct px_pair *pp = user;
  (void)c;
  if (status < 0) {
    pp->up = NULL; /* gone: no closed_cb follows */
    px_drop(pp);
    return;
  }
  pp->up_ready = 1;
  if (pp->early.len)
    sim_conn_send(pp->up, pp->early.data, pp->early.len);
  pp->early.len = 0;
}

static void px_up_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  (void)c;
  struct px_pair *pp = user;
  if (pp->down)
    sim_conn_send(pp->down, p, n);
}

static void px_up_closed(struct sim_conn *c, int err, void *user) {
  (void)c;
  (void)err;
  struct px_pair *pp = user;
  pp->up = NULL;
  px_drop(pp);
}

static void px_down_data(struct sim_conn *c, const uint8_t *p, size_t n, void *user) {
  (void)c;
  struct px_pair *pp = user;
  if (pp->up_ready)
    sim_conn_send(pp->up, p, n);
  else if (sim_buf_append(&pp->early, p, n))
    px_drop(pp);
}

static void px_down_closed(struct sim_conn *c, int err, void *user) {
  (void)c;
  (void)err;
  struct px_pair *pp = user;
  pp->down = NULL;
  px_drop(pp);
}

static const struct sim_conn_cbs px_up_cbs = {px_up_connected, px_up_data, px_up_closed};
static const struct sim_conn_cbs px_down_cbs = {NULL, px_down_data, px_down_closed};

static void px_accept(struct sim_listener *l, struct sim_conn *c, void *user) {
  (void)l;
  struct px *px = user;
  for (int i = 0; i < PX_PAIRS; i++) {
    struct px_pair *pp = &px->p[i];
    if (pp->down || pp->up)
      continue;
    memset(pp, 0, sizeof *pp);
    pp->px = px;
    sim_buf_init(&pp->early);
    pp->down = c;
    if (sim_conn_start(c, &px_down_cbs, pp) ||
        sim_conn_connect(px->tcp, &px->broker, NULL, &px_up_cbs, pp, &pp->up)) {
      pp->up = NULL;
      px_drop(pp);
      return;
    }
    px->accepted++;
    return;
  }
  sim_conn_close(c);
}

/* On the relay's thread: a cut (every relayed connection closed at once, both ways, as a
 * network fault would) or the end. */
static void px_wake(uv_async_t *a) {
  struct px *px = a->data;
  if (px->cut_req || px->stop_req) {
    for (int i = 0; i < PX_PAIRS; i++)
      if (px->p[i].down || px->p[i].up)
        px_drop(&px->p[i]);
    if (px->cut_req) {
      px->cut_req = 0;
      px->cuts++;
    }
  }
  if (px->stop_req) {
    sim_listener_close(px->l);
    uv_close((uv_handle_t *)&px->wake, NULL);
  }
}

static void px_main(void *arg) {
  struct px *px = arg;
  uv_run(&px->loop, UV_RUN_DEFAULT);
}

static void px_start(struct px *px, uint16_t broker_port) {
  memset(px, 0, sizeof *px);
  assert_int_equal(uv_loop_init(&px->loop), 0);
  assert_int_equal(sim_transport_tcp_new(&px->loop, &px->tcp), 0);
  snprintf(px->broker.host, sizeof px->broker.host, "127.0.0.1");
  px->broker.port = broker_port;
  struct sim_addr any = {"127.0.0.1", 0};
  assert_int_equal(sim_transport_listen(px->tcp, &any, px_accept, px, &px->l), 0);
  px->port = sim_listener_port(px->l);
  assert_int_equal(uv_async_init(&px->loop, &px->wake, px_wake), 0);
  px->wake.data = px;
  assert_int_equal(uv_thread_create(&px->thread, px_main, px), 0);
}

/* Asks for a cut and waits (up to 5 s) until it is done. */
static void px_cut(struct px *px) {
  int before = px->cuts;
  px->cut_req = 1;
  uv_async_send(&px->wake);
  for (int i = 0; i < 500 && px->cuts == before; i++)
    usleep(10000);
  assert_int_equal(px->cuts, before + 1);
}

static void px_stop(struct px *px) {
  px->stop_req = 1;
  uv_async_send(&px->wake);
  uv_thread_join(&px->thread);
  sim_transport_free(px->tcp);
  uv_run(&px->loop, UV_RUN_DEFAULT);
  uv_loop_close(&px->loop);
}

/* 200 hubs through mosquitto, the platform behind the relay: once every hub is known, the
 * platform's broker connection is cut while the broker and the hubs' connections stay up. The
 * platform reconnects and subscribes again, its queued empty downlinks end the hubs' old
 * connections, and the hubs reconnect and resend: nothing is lost. */
static void test_platform_link_cut(void **state) {
  (void)state;
  struct rig r;
  current = &r;
  mq_loop_init(&r.m);
  memset(&r.b, 0, sizeof r.b);
  assert_int_equal(broker_start(&r.b, r.m.dir, 0), 0);
  snprintf(r.url, sizeof r.url, "mqtt://127.0.0.1:%u", r.b.port);
  snprintf(r.db, sizeof r.db, "%s/plat.db", r.m.dir);
  static struct px px;
  px_start(&px, r.b.port);
  char via[64];
  snprintf(via, sizeof via, "mqtt://127.0.0.1:%u", px.port);
  memset(&r.p, 0, sizeof r.p);
  const char *extra[] = {"--mqtt", via, "--heartbeat", "2", NULL};
  assert_int_equal(platproc_start_scheme(&r.p, NULL, r.db, 0, extra), 0);
  const char *args[] = {"--platform", r.url,       "--hubs",  "200",    "--devices-per-hub",
                        "2",          "--speedup", "5",       "--ramp", "500",
                        "--duration", "10s",       "--drain", "60s",    NULL};
  struct mq_run run;
  mq_run_start(&run, &r.m, "link-cut", args);
  if (!wait_hubs(&r, 200, 60000))
    MQ_RUN_FAIL(&run, "the hubs did not all reach the platform");
  assert_int_equal(px.accepted, 1);
  px_cut(&px);
  int status = mq_run_wait(&run, &r.m, 180000);
  json_t *j = mq_run_summary(&run);
  json_int_t connects = mq_jint(j, "sessions.connects");
  json_decref(j);
  if (px.accepted < 2 || connects <= 200)
    MQ_RUN_FAIL(&run, "after the cut: %d platform connections, %lld hub connects", (int)px.accepted,
                (long long)connects);
  expect_nothing_lost(&r, &run, status);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "grep -q 'listener subscribed again' '%s'", r.p.log);
  if (system(cmd) != 0)
    fail_msg("the platform did not say it subscribed again (%s)", r.p.log);
  px_stop(&px);
  broker_stop(&r.b);
  mq_loop_fini(&r.m);
  current = NULL;
}

/* ---- the flags ------------------------------------------------------------------------------- */

static void expect_usage(const char *const *args, const char *words) {
  struct mq_loop m;
  mq_loop_init(&m);
  struct mq_run run;
  mq_run_start(&run, &m, "usage", args);
  int status = mq_run_wait(&run, &m, 30000);
  const char *out = mq_run_output(&run);
  if (status != 2 || !strstr(out, words))
    fail_msg("want exit 2 and \"%s\"; got %d:\n%s", words, status, out);
  mq_loop_fini(&m);
}

static void test_flags_refused(void **state) {
  (void)state;
  const char *a1[] = {"--platform", "mqtt://localhost:1883", NULL};
  expect_usage(a1, "HOST must be an IPv4 address");
  const char *a2[] = {"--platform", "mqtt://127.0.0.1", NULL};
  expect_usage(a2, "expected mqtt://HOST:PORT");
  const char *a3[] = {"--mqtt-qos", "1", "--hubs", "1", NULL};
  expect_usage(a3, "--mqtt-qos: is for a broker");
  const char *a4[] = {"--platform", "mqtt://127.0.0.1:1883", "--mqtt-qos", "2", NULL};
  expect_usage(a4, "expected 0 or 1");
  const char *a5[] = {"--platform", "mqtt://127.0.0.1:1883", "--mqtt-version", "4", NULL};
  expect_usage(a5, "expected 3.1.1 or 5");
  const char *a6[] = {"--platform", "mqtt://127.0.0.1:1883", "--ca", "/nonexistent", NULL};
  expect_usage(a6, "is for TLS");
  const char *a7[] = {"--platform", "mqtt://127.0.0.1:1883", "--mqtt-password-file", "/x", NULL};
  expect_usage(a7, "needs --mqtt-user");
}

/* test_mqtt_fleet [PATTERN | --skip PATTERN]: the cases whose names match (or do not). */
int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flags_refused),
      cmocka_unit_test(test_broker_refuses_connect),
      cmocka_unit_test(test_broker_never_acknowledges),
      cmocka_unit_test(test_broker_sends_garbage),
      cmocka_unit_test_teardown(test_scenario_unchanged, rig_teardown),
      cmocka_unit_test_teardown(test_uplink_topic_flood, rig_teardown),
      cmocka_unit_test_teardown(test_platform_link_cut, rig_teardown),
      cmocka_unit_test_teardown(test_slow_broker_restart, rig_teardown),
      cmocka_unit_test_teardown(test_slow_platform_restart, rig_teardown),
      cmocka_unit_test_teardown(test_slow_ten_thousand_observed, rig_teardown),
  };
  if (argc > 2 && strcmp(argv[1], "--skip") == 0)
    cmocka_set_skip_filter(argv[2]);
  else if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
