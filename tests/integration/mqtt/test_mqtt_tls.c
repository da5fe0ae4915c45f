/* mqtts://: the MQTT client over the tls transport (sim/transport/tls.h) against mosquitto with
 * a TLS listener, its certificate issued at test time by sim/pki for 127.0.0.1. A publish of
 * QoS 1 goes through and is acknowledged; a client trusting another CA is refused in the
 * handshake, named, and never sees connected_cb. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "mqrun.h"
#include "mqtest.h"
#include "sim/core/err.h"
#include "sim/pki/pki.h"
#include "sim/transport/tls.h"
#include "support/broker.h"
#include "support/platproc.h"

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, mode), 0);
}

/* A CA in dir/NAME-ca.pem; with server != 0 also dir/server.pem and server.key for 127.0.0.1. */
static void make_ca(const char *dir, const char *name, int server) {
  int64_t now = (int64_t)time(NULL);
  struct sim_pki_req req = {
      .role = SIM_PKI_CA, .cn = name, .not_before = now - 3600, .not_after = now + 86400};
  struct sim_pki_issuer *ca;
  struct sim_pki_cert ca_pem, srv;
  assert_int_equal(sim_pki_ca_new(&req, &ca, &ca_pem), 0);
  char path[400];
  snprintf(path, sizeof path, "%s/%s-ca.pem", dir, name);
  write_file(path, ca_pem.cert_pem, 0644);
  if (server) {
    struct sim_pki_req sr = {.role = SIM_PKI_SERVER,
                             .cn = "broker",
                             .n_ip = 1,
                             .not_before = now - 3600,
                             .not_after = now + 86400};
    sr.san_ip[0] = "127.0.0.1";
    assert_int_equal(sim_pki_issue(ca, &sr, &srv), 0);
    snprintf(path, sizeof path, "%s/server.pem", dir);
    write_file(path, srv.cert_pem, 0644);
    snprintf(path, sizeof path, "%s/server.key", dir);
    write_file(path, srv.key_pem, 0600);
    sim_pki_cert_fini(&srv);
  }
  sim_pki_cert_fini(&ca_pem);
  sim_pki_issuer_free(ca);
}

/* The CAs "good" (with the broker's certificate) and "other" in m's folder, and mosquitto with
 * a TLS listener presenting that certificate. */
static void tls_broker_start(struct mq_loop *m, struct broker *b) {
  make_ca(m->dir, "good", 1);
  make_ca(m->dir, "other", 0);
  memset(b, 0, sizeof *b);
  snprintf(b->tls_cert, sizeof b->tls_cert, "%s/server.pem", m->dir);
  snprintf(b->tls_key, sizeof b->tls_key, "%s/server.key", m->dir);
  int rc = broker_start(b, m->dir, 0);
  if (rc)
    fail_msg("mosquitto did not start (%d); its log: %s", rc, b->log);
}

static void test_mqtts(void **state) {
  (void)state;
  struct mq_loop m;
  mq_loop_init(&m);
  struct broker b;
  tls_broker_start(&m, &b);

  char ca[400], other[400];
  snprintf(ca, sizeof ca, "%s/good-ca.pem", m.dir);
  snprintf(other, sizeof other, "%s/other-ca.pem", m.dir);
  struct sim_tls_config good_cfg = {.ca_file = ca}, bad_cfg = {.ca_file = other};
  struct sim_transport *tls, *tls_bad;
  const char *why = NULL;
  assert_int_equal(sim_transport_tls_new(&m.loop, &good_cfg, &tls, &why), 0);
  assert_int_equal(sim_transport_tls_new(&m.loop, &bad_cfg, &tls_bad, &why), 0);

  /* The subscriber and the publisher both over TLS, one in each version. */
  struct sim_transport *plain = m.tcp;
  m.tcp = tls;
  struct sim_mqtt_client_opts so = {.client_id = "tls-sub", .version = 4, .clean = 1};
  struct sim_mqtt_client_opts po = {.client_id = "tls-pub", .version = 5, .clean = 1};
  struct mq_cli s, p, x;
  mq_cli_new(&s, &m, &so);
  mq_cli_new(&p, &m, &po);
  assert_true(mq_cli_connect(&s, &m, b.port));
  assert_int_equal(mq_cli_subscribe(&s, &m, "secure/#", 1), 1);
  assert_true(mq_cli_connect(&p, &m, b.port));
  assert_int_equal(sim_mqtt_client_publish(p.c, "secure/1", "sealed", 6, 1, 0, NULL), 0);
  assert_true(mq_wait(&m, &p.done_ok, 1, 5000));
  assert_true(mq_wait(&m, &s.msgs, 1, 5000));
  assert_string_equal(s.m[0].payload, "sealed");

  /* A client that trusts another CA: refused in the handshake, never connected. */
  m.tcp = tls_bad;
  struct sim_mqtt_client_opts xo = {.client_id = "tls-x", .version = 5, .clean = 1};
  mq_cli_new(&x, &m, &xo);
  assert_false(mq_cli_connect(&x, &m, b.port));
  assert_int_equal(x.connected, 0);
  assert_int_equal(x.closed, 1);
  assert_int_equal(x.err, SIM_ETLS_VERIFY);
  printf("%s\n", x.why);
  assert_non_null(strstr(x.why, "connect to the broker failed"));
  struct sim_tls_stats st;
  sim_transport_tls_stats(tls_bad, &st);
  assert_int_equal(st.failed[SIM_TLS_R_VERIFY], 1);
  printf("the refused handshake: %s\n", st.last[SIM_TLS_R_VERIFY]);

  mq_cli_free(&x);
  mq_cli_free(&p);
  mq_cli_free(&s);
  for (int i = 0; i < 5; i++)
    uv_run(&m.loop, UV_RUN_NOWAIT);
  sim_transport_free(tls);
  sim_transport_free(tls_bad);
  m.tcp = plain;
  broker_stop(&b);
  mq_loop_fini(&m);
}

/* `hubsim run --platform mqtts://` with --ca, the embedded platform behind the same TLS broker:
 * the run passes and the summary counts the hubs' TLS handshakes with the broker; with a CA the
 * broker's certificate does not chain to, no hub connects and the run fails naming the
 * verification. */
static void test_run_mqtts(void **state) {
  (void)state;
  struct mq_loop m;
  mq_loop_init(&m);
  struct broker b;
  tls_broker_start(&m, &b);
  char url[64], ca[400], other[400];
  snprintf(url, sizeof url, "mqtts://127.0.0.1:%u", b.port);
  snprintf(ca, sizeof ca, "%s/good-ca.pem", m.dir);
  snprintf(other, sizeof other, "%s/other-ca.pem", m.dir);
  const char *args[] = {"--platform", url,  "--embedded-platform", "--ca",  ca,  "--hubs", "5",
                        "--duration", "2s", "--mqtt-version",      "3.1.1", NULL};
  struct mq_run run;
  mq_run_start(&run, &m, "mqtts", args);
  int status = mq_run_wait(&run, &m, 60000);
  if (status != 0)
    MQ_RUN_FAIL(&run, "exit %d", status);
  json_t *j = mq_run_summary(&run);
  assert_true(mq_jint(j, "tls.handshakes") >= 5);
  assert_true(mq_jint(j, "counts.reports.acked") > 0);
  json_decref(j);

  const char *bad[] = {"--platform", url,  "--ca",    other, "--hubs", "2",
                       "--duration", "1s", "--drain", "1s",  NULL};
  mq_run_start(&run, &m, "mqtts-bad", bad);
  status = mq_run_wait(&run, &m, 60000);
  const char *out = mq_run_output(&run);
  if (status != 3 || !strstr(out, "TLS_VERIFY"))
    fail_msg("want exit 3 naming TLS_VERIFY; got %d\n%s", status, out);
  broker_stop(&b);
  mq_loop_fini(&m);
}

/* hubsim provision's layout for hubs 0..n-1: DIR/ca.crt and DIR/hubs/ID.crt, ID.key (0600),
 * each certificate for client authentication with CN and SAN URI naming its hub. */
static void hub_certs(const char *dir, int n) {
  int64_t now = (int64_t)time(NULL);
  struct sim_pki_req req = {
      .role = SIM_PKI_CA, .cn = "hubs", .not_before = now - 3600, .not_after = now + 86400};
  struct sim_pki_issuer *ca;
  struct sim_pki_cert ca_pem, c;
  char path[400], id[32], uri[64];
  assert_int_equal(sim_pki_ca_new(&req, &ca, &ca_pem), 0);
  assert_true(snprintf(path, sizeof path, "%s/ca.crt", dir) < (int)sizeof path);
  write_file(path, ca_pem.cert_pem, 0644);
  assert_true(snprintf(path, sizeof path, "%s/hubs", dir) < (int)sizeof path);
  assert_int_equal(mkdir(path, 0700), 0);
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "hub-%06d", i);
    snprintf(uri, sizeof uri, "urn:hubsim:hub:%s", id);
    struct sim_pki_req hr = {.role = SIM_PKI_CLIENT,
                             .cn = id,
                             .san_uri = uri,
                             .not_before = now - 3600,
                             .not_after = now + 86400};
    assert_int_equal(sim_pki_issue(ca, &hr, &c), 0);
    assert_true(snprintf(path, sizeof path, "%s/hubs/%s.crt", dir, id) < (int)sizeof path);
    write_file(path, c.cert_pem, 0644);
    assert_true(snprintf(path, sizeof path, "%s/hubs/%s.key", dir, id) < (int)sizeof path);
    write_file(path, c.key_pem, 0600);
    sim_pki_cert_fini(&c);
  }
  sim_pki_cert_fini(&ca_pem);
  sim_pki_issuer_free(ca);
}

/* Per-hub identity towards a broker: mosquitto's TLS listener requires a client certificate
 * from the hubs' CA and takes its CN as the user name; `hubsim run --hub-certs` presents each
 * hub's own while the reference platform subscribes on the broker's plain listener. Every
 * report is acknowledged and the broker names each hub as the user of its connection. Without
 * --hub-certs the broker refuses every hub and the run fails naming why. */
static void test_run_mqtts_hub_certs(void **state) {
  (void)state;
  enum { HUBS = 3 };
  struct mq_loop m;
  mq_loop_init(&m);
  make_ca(m.dir, "good", 1);
  char prov[400], ca[400], db[400], plain[64], url[64];
  assert_true(snprintf(prov, sizeof prov, "%s/prov", m.dir) < (int)sizeof prov);
  assert_int_equal(mkdir(prov, 0700), 0);
  hub_certs(prov, HUBS);
  struct broker b;
  memset(&b, 0, sizeof b);
  assert_true(snprintf(b.tls_cert, sizeof b.tls_cert, "%s/server.pem", m.dir) <
              (int)sizeof b.tls_cert);
  assert_true(snprintf(b.tls_key, sizeof b.tls_key, "%s/server.key", m.dir) <
              (int)sizeof b.tls_key);
  assert_true(snprintf(b.tls_client_ca, sizeof b.tls_client_ca, "%s/ca.crt", prov) <
              (int)sizeof b.tls_client_ca);
  int rc = broker_start(&b, m.dir, 0);
  if (rc)
    fail_msg("mosquitto did not start (%d); its log: %s", rc, b.log);
  assert_true(b.plain_port > 0);
  snprintf(plain, sizeof plain, "mqtt://127.0.0.1:%u", b.plain_port);
  snprintf(url, sizeof url, "mqtts://127.0.0.1:%u", b.port);
  assert_true(snprintf(ca, sizeof ca, "%s/good-ca.pem", m.dir) < (int)sizeof ca);
  assert_true(snprintf(db, sizeof db, "%s/plat.db", m.dir) < (int)sizeof db);
  struct platproc p;
  memset(&p, 0, sizeof p);
  const char *extra[] = {"--mqtt", plain, NULL};
  assert_int_equal(platproc_start_scheme(&p, NULL, db, 0, extra), 0);

  char hubs[8];
  snprintf(hubs, sizeof hubs, "%d", HUBS);
  const char *args[] = {"--platform", url,  "--ca",       ca,   "--hub-certs", prov,
                        "--hubs",     hubs, "--duration", "2s", NULL};
  struct mq_run run;
  mq_run_start(&run, &m, "mqtts-certs", args);
  int status = mq_run_wait(&run, &m, 60000);
  if (status != 0)
    MQ_RUN_FAIL(&run, "exit %d", status);
  json_t *j = mq_run_summary(&run);
  assert_true(mq_jint(j, "tls.handshakes") >= HUBS);
  assert_true(mq_jint(j, "counts.reports.acked") > 0);
  assert_int_equal(mq_jint(j, "counts.lost"), 0);
  json_decref(j);
  /* mosquitto's notice per connection ends in u'USER': the CN of the certificate presented. */
  FILE *f = fopen(b.log, "r");
  assert_non_null(f);
  static char log[1 << 20];
  size_t n = fread(log, 1, sizeof log - 1, f);
  log[n] = '\0';
  fclose(f);
  for (int i = 0; i < HUBS; i++) {
    char user[40];
    snprintf(user, sizeof user, "u'hub-%06d'", i);
    if (!strstr(log, user))
      fail_msg("the broker's log names no connection of %s:\n%s", user, log);
  }

  const char *bare[] = {"--platform", url,  "--ca",    ca,   "--hubs", "2",
                        "--duration", "1s", "--drain", "1s", NULL};
  mq_run_start(&run, &m, "mqtts-nocert", bare);
  status = mq_run_wait(&run, &m, 60000);
  const char *out = mq_run_output(&run);
  if (status != 3 || !strstr(out, "TLS_VERIFY") || !strstr(out, "refused our client certificate"))
    fail_msg("want exit 3 naming a refused client certificate; got %d\n%s", status, out);
  assert_int_equal(platproc_stop(&p), 0);
  broker_stop(&b);
  mq_loop_fini(&m);
}

/* The zigbee2mqtt profile over mqtts:// to a broker that wants a user name and password, as a
 * real zigbee2mqtt is often set up (mqtt.server mqtts://, mqtt.ca, mqtt.user, mqtt.password): with
 * MQTT 3.1.1 (zigbee2mqtt's default) and 5 every state message is acknowledged and the run
 * passes; with a wrong password no bridge connects and the run fails naming the refusal; the
 * flags of the hubrpc profile that do not apply are refused. */
static void test_run_z2m_mqtts_password(void **state) {
  (void)state;
  struct mq_loop m;
  mq_loop_init(&m);
  struct broker b;
  make_ca(m.dir, "good", 1);
  memset(&b, 0, sizeof b);
  snprintf(b.tls_cert, sizeof b.tls_cert, "%s/server.pem", m.dir);
  snprintf(b.tls_key, sizeof b.tls_key, "%s/server.key", m.dir);
  snprintf(b.passwd, sizeof b.passwd, "%s/passwd", m.dir);
  assert_int_equal(broker_passwd(b.passwd, "bridge", "s3cret"), 0);
  assert_int_equal(broker_start(&b, m.dir, 0), 0);
  char url[64], ca[400], good[400], bad[400];
  snprintf(url, sizeof url, "mqtts://127.0.0.1:%u", b.port);
  snprintf(ca, sizeof ca, "%s/good-ca.pem", m.dir);
  snprintf(good, sizeof good, "%s/good.pass", m.dir);
  snprintf(bad, sizeof bad, "%s/bad.pass", m.dir);
  write_file(good, "s3cret\n", 0600);
  write_file(bad, "guess\n", 0600);
  static const char *const versions[] = {"3.1.1", "5"};
  for (int v = 0; v < 2; v++) {
    const char *args[] = {
        "--profile",   "zigbee2mqtt", "--platform",           url,  "--ca",           ca,
        "--mqtt-user", "bridge",      "--mqtt-password-file", good, "--mqtt-version", versions[v],
        "--hubs",      "4",           "--duration",           "3s", "--speedup",      "600",
        NULL};
    struct mq_run run;
    mq_run_start(&run, &m, v ? "z2m-v5" : "z2m-v311", args);
    int status = mq_run_wait(&run, &m, 60000);
    if (status != 0)
      MQ_RUN_FAIL(&run, "MQTT %s: exit %d", versions[v], status);
    json_t *j = mq_run_summary(&run);
    assert_true(mq_jint(j, "tls.handshakes") >= 4);
    json_int_t acked = mq_jint(j, "counts.reports.acked");
    assert_true(acked > 0);
    assert_int_equal(acked, mq_jint(j, "counts.reports.sent"));
    json_decref(j);
  }
  const char *wrong[] = {"--profile",   "zigbee2mqtt", "--platform",
                         url,           "--ca",        ca,
                         "--mqtt-user", "bridge",      "--mqtt-password-file",
                         bad,           "--hubs",      "2",
                         "--duration",  "1s",          "--drain",
                         "1s",          NULL};
  struct mq_run run;
  mq_run_start(&run, &m, "z2m-wrong", wrong);
  int status = mq_run_wait(&run, &m, 60000);
  const char *out = mq_run_output(&run);
  if (status != 3 || !strstr(out, "not authorized"))
    fail_msg("want exit 3 naming the refusal; got %d\n%s", status, out);
  const char *qos[] = {"--profile", "zigbee2mqtt", "--platform", url, "--mqtt-qos", "1", NULL};
  mq_run_start(&run, &m, "z2m-qos", qos);
  status = mq_run_wait(&run, &m, 30000);
  out = mq_run_output(&run);
  if (status != 2 || !strstr(out, "--state-qos"))
    fail_msg("want exit 2 pointing to --state-qos; got %d\n%s", status, out);
  broker_stop(&b);
  mq_loop_fini(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mqtts),
      cmocka_unit_test(test_run_mqtts),
      cmocka_unit_test(test_run_mqtts_hub_certs),
      cmocka_unit_test(test_run_z2m_mqtts_password),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
