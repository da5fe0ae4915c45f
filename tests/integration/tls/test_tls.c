/* hubrpcs:// end to end: `hubsim platform --listen hubrpcs://127.0.0.1:0` and `hubsim run`
 * against it, as processes over real loopback sockets, with certificates made at test time
 * (tlscerts.h).
 *
 *   - a fleet of 50 hubs over TLS with the platform's certificate verified: 0 lost;
 *   - the verification matrix: an expired, a not yet valid, a wrong-address, an unknown-CA and
 *     a self-signed platform certificate are each refused with the reason named, in the
 *     summary and on stdout; --insecure gets past and says so (JSON, tls line, verdict);
 *   - every hub dropped once reconnects with a resumed TLS session (drop.lua);
 *   - a plaintext hub on the TLS port and a TLS hub on the plain port each get a named error;
 *   - flags that cannot work together are usage errors (exit 2) naming the flag;
 *   - mutual TLS: 1,000 hubs each presenting its own certificate (hubsim provision's) to a
 *     platform with --client-ca: 0 lost, every session bound to its certificate's hub id (the
 *     platform's log line per session and its counter); a hub without its certificate after
 *     that is refused;
 *   - the client certificate matrix (mkcerts.sh): a certificate for another hub id, one whose
 *     SAN URI names another hub than its CN, a serverAuth-only one, one from an unknown CA, a
 *     self-signed, an expired, a not yet valid one and, with --crl, a revoked one are each
 *     refused with the reason named by the hub and by the platform, the run failing;
 *   - the certificate alone authenticates a hub without the fleet key; --auth key and --auth
 *     cert refuse what they exclude; an empty mac without a certificate is refused;
 *   - openssl s_client: TLS 1.1 refused, TLS 1.3 and a strong TLS 1.2 cipher accepted, a weak
 *     TLS 1.2 cipher refused (when the openssl tool is present).
 * Every child runs under a deadline and is killed past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/hubclient.h"
#include "support/platproc.h"
#include "tlscerts.h"

#define CHILD_DEADLINE_S 90

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv (NULL-terminated) with stdout and stderr into out and err (files in the folder),
 * stdin from /dev/null, under a deadline. Returns the exit status, 128+signal, or -1. */
static int run_child(const char *const *argv, const char *out, const char *err) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    platproc_child_dies_with_parent();
    int in = open("/dev/null", O_RDONLY);
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || o < 0 || e < 0)
      _exit(126);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  double deadline = mono_s() + CHILD_DEADLINE_S;
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (mono_s() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      fail_msg("%s %s: still running after %d s", argv[0], argv[1], CHILD_DEADLINE_S);
    }
    usleep(10000);
  }
}

/* The whole of a small file, NUL-terminated, in static storage ("" when unreadable). */
static const char *slurp(const char *path) {
  static char buf[1 << 20]; /* a platform log of 1,000 sessions */
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f)
    return buf;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* A path in the certificate folder that stays valid across cpath() calls. */
static char *cdup(const char *name) {
  char *p = strdup(tlscerts_path2(&tlscerts_group, name));
  assert_non_null(p);
  return p;
}

/* The platforms a test started, in static storage so that a failed assertion (which leaves the
 * test function) cannot lose them: kill_leftovers() kills any still running after each test,
 * or ctest would wait for their open stdout. */
static struct platproc plats[2];

static int kill_leftovers(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof plats / sizeof plats[0]; i++)
    platproc_kill(&plats[i]);
  memset(plats, 0, sizeof plats);
  return 0;
}

static void url_of(const struct platproc *p, const char *scheme, char *url, size_t cap) {
  snprintf(url, cap, "%s://127.0.0.1:%u", scheme, (unsigned)p->port);
}

/* The TLS platform with certificate NAME.pem and key NAME.key; url[64] becomes its address
 * with scheme (hubrpcs, or hubrpc to speak plaintext to it). */
static void plat_start(struct platproc *p, const char *name, const char *scheme, char *url) {
  char *cert = cdup(name), *key = NULL, *db = NULL;
  char kname[64], dbname[64];
  snprintf(kname, sizeof kname, "%.*s.key", (int)(strlen(name) - 4), name);
  snprintf(dbname, sizeof dbname, "plat-%.*s.db", (int)(strlen(name) - 4), name);
  key = cdup(kname);
  db = cdup(dbname);
  const char *extra[] = {"--cert", cert, "--key", key, NULL};
  int rc = platproc_start_scheme(p, "hubrpcs", db, 0, extra);
  if (rc)
    fail_msg("the TLS platform with %s did not start (%d): %s", name, rc, slurp(p->log));
  free(cert);
  free(key);
  free(db);
  url_of(p, scheme, url, 64);
}

struct run_result {
  int code;
  json_t *summary; /* NULL when none was written */
  char out[65536];
  char err[65536];
};

/* hubsim_run's --duration: longer for a fleet whose 1,000 full handshakes share two cores. */
static const char *run_duration = "1s";

/* `hubsim run` against url with the flags in extra (NULL-terminated); the summary parsed. */
static void hubsim_run(struct run_result *r, const char *url, const char *hubs,
                       const char *const *extra) {
  const char *bin = getenv("HUBSIM_BIN");
  assert_non_null(bin);
  char *sum = cdup("summary.json"), *out = cdup("run.out"), *err = cdup("run.err");
  unlink(sum);
  const char *argv[32];
  int n = 0;
  argv[n++] = bin;
  argv[n++] = "run";
  argv[n++] = "--platform";
  argv[n++] = url;
  argv[n++] = "--hubs";
  argv[n++] = hubs;
  argv[n++] = "--devices-per-hub";
  argv[n++] = "2";
  argv[n++] = "--duration";
  argv[n++] = run_duration;
  argv[n++] = "--drain";
  argv[n++] = "2s";
  argv[n++] = "--ui";
  argv[n++] = "none";
  argv[n++] = "-q";
  argv[n++] = "--allow-lag"; /* judged on what is delivered, not on the generator's pace */
  argv[n++] = "--summary";
  argv[n++] = sum;
  for (int i = 0; extra && extra[i] && n < 31; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  r->code = run_child(argv, out, err);
  snprintf(r->out, sizeof r->out, "%s", slurp(out));
  snprintf(r->err, sizeof r->err, "%s", slurp(err));
  json_error_t je;
  r->summary = json_load_file(sum, 0, &je);
  free(sum);
  free(out);
  free(err);
}

static json_int_t jint(json_t *root, const char *a, const char *b, const char *c) {
  json_t *v = json_object_get(root, a);
  if (b)
    v = json_object_get(v, b);
  if (c)
    v = json_object_get(v, c);
  if (!json_is_integer(v))
    fail_msg("summary: %s%s%s%s%s is not an integer", a, b ? "." : "", b ? b : "", c ? "." : "",
             c ? c : "");
  return json_integer_value(v);
}

/* 50 hubs over TLS, the platform's certificate verified against the test CA: every report
 * acknowledged, 50 handshakes at least, none failed, and the summary says verification was
 * on. The platform counts the same handshakes. */
static void test_fleet_over_tls(void **state) {
  (void)state;
  struct platproc *p = &plats[0];
  char url[64];
  plat_start(p, "server.pem", "hubrpcs", url);
  static struct run_result r;
  char *ca = cdup("ca.pem");
  const char *extra[] = {"--ca", ca, NULL};
  hubsim_run(&r, url, "50", extra);
  free(ca);
  assert_int_equal(platproc_stop(p), 0);
  if (r.code != 0)
    fail_msg("exit %d\n%s\n%s", r.code, r.out, r.err);
  assert_non_null(r.summary);
  assert_int_equal(jint(r.summary, "counts", "lost", NULL), 0);
  assert_int_equal(jint(r.summary, "sessions", "not_online_at_end", NULL), 0);
  assert_true(jint(r.summary, "tls", "handshakes", NULL) >= 50);
  static const char *const reasons[] = {"verify", "protocol", "timeout", "not_tls"};
  for (int i = 0; i < 4; i++)
    assert_int_equal(jint(r.summary, "tls", "handshake_failures", reasons[i]), 0);
  assert_true(json_is_false(json_object_get(json_object_get(r.summary, "tls"), "insecure")));
  assert_non_null(strstr(r.out, "verification of the platform certificate and name on"));
  assert_null(strstr(r.out, "--insecure"));
  json_decref(r.summary);
  assert_non_null(strstr(slurp(p->log), "platform: tls handshakes"));
}

/* Each bad platform certificate is refused with its reason, in the JSON (verify failures, no
 * handshake), in the human summary and in the verdict's error name; --insecure gets past the
 * expired one and says so in the JSON, the tls line and the verdict. */
static void test_verify_matrix(void **state) {
  (void)state;
  static const struct {
    const char *cert, *reason, *plat_says;
  } bad[] = {
      {"expired.pem", "certificate has expired", "sslv3 alert certificate expired"},
      {"notyet.pem", "certificate is not yet valid", "sslv3 alert bad certificate"},
      {"wronghost.pem", "IP address mismatch", "sslv3 alert bad certificate"},
      {"unknownca.pem", "unable to get local issuer certificate", "tlsv1 alert unknown ca"},
      {"selfsigned.pem", "self-signed certificate", "tlsv1 alert unknown ca"},
      {"clientonly.pem", "unsuitable certificate purpose", "sslv3 alert unsupported certificate"},
  };
  char *ca = cdup("ca.pem");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct platproc *p = &plats[0];
    char url[64];
    plat_start(p, bad[i].cert, "hubrpcs", url);
    static struct run_result r;
    const char *extra[] = {"--ca", ca, NULL};
    hubsim_run(&r, url, "2", extra);
    if (r.code == 0 || !r.summary)
      fail_msg("%s: accepted (exit %d)\n%s", bad[i].cert, r.code, r.out);
    assert_int_equal(jint(r.summary, "tls", "handshakes", NULL), 0);
    assert_true(jint(r.summary, "tls", "handshake_failures", "verify") > 0);
    assert_true(jint(r.summary, "errors", "TLS_VERIFY", NULL) > 0);
    if (!strstr(r.out, bad[i].reason))
      fail_msg("%s: the summary does not name '%s':\n%s", bad[i].cert, bad[i].reason, r.out);
    json_decref(r.summary);
    /* The platform names the client's alert and counts it as a verification failure. */
    char said[200];
    snprintf(said, sizeof said, "a client refused our certificate: %s", bad[i].plat_says);

    if (i == 0) { /* --insecure: the only way past, and it says so */
      const char *ins[] = {"--insecure", NULL};
      hubsim_run(&r, url, "2", ins);
      if (r.code != 0)
        fail_msg("--insecure: exit %d\n%s\n%s", r.code, r.out, r.err);
      assert_true(json_is_true(json_object_get(json_object_get(r.summary, "tls"), "insecure")));
      assert_true(jint(r.summary, "tls", "handshakes", NULL) >= 2);
      const char *vt =
          json_string_value(json_object_get(json_object_get(r.summary, "verdict"), "text"));
      assert_non_null(vt);
      assert_non_null(strstr(vt, "TLS without verification: --insecure"));
      assert_non_null(strstr(r.out, "verification of the platform certificate OFF (--insecure)"));
      json_decref(r.summary);
    }
    assert_int_equal(platproc_stop(p), 0);
    const char *log = slurp(p->log);
    if (!strstr(log, said))
      fail_msg("%s: the platform does not say '%s':\n%s", bad[i].cert, said, log);
  }
  free(ca);
}

/* A plaintext hub on the TLS port, a TLS hub on the plain port: each run fails with the
 * problem named, and each platform logs what it saw. */
static void test_wrong_port(void **state) {
  (void)state;
  struct platproc *p = &plats[0];
  char url[64];
  plat_start(p, "server.pem", "hubrpc", url);
  static struct run_result r;
  hubsim_run(&r, url, "2", NULL);
  assert_int_equal(platproc_stop(p), 0);
  assert_int_not_equal(r.code, 0);
  assert_non_null(r.summary);
  assert_true(jint(r.summary, "errors", "platform speaks TLS: use hubrpcs://", NULL) > 0);
  assert_null(json_object_get(r.summary, "tls")); /* a plaintext run has no tls key */
  json_decref(r.summary);
  assert_non_null(strstr(slurp(p->log), "a client sent plaintext to the TLS port"));

  struct platproc *q = &plats[1];
  char *db = cdup("plain.db");
  assert_int_equal(platproc_start(q, db, 0, NULL), 0);
  free(db);
  url_of(q, "hubrpcs", url, sizeof url);
  char *ca = cdup("ca.pem");
  const char *extra[] = {"--ca", ca, NULL};
  hubsim_run(&r, url, "2", extra);
  free(ca);
  assert_int_equal(platproc_stop(q), 0);
  assert_int_not_equal(r.code, 0);
  assert_non_null(r.summary);
  assert_true(jint(r.summary, "tls", "handshake_failures", "not_tls") > 0);
  assert_non_null(strstr(r.out, "answered in plaintext, not TLS"));
  json_decref(r.summary);
  assert_non_null(strstr(slurp(q->log), "TLS ClientHello on this plain hubrpc:// port"));
}

/* Every hub drops its connection once (drop.lua, on the real clock) and reconnects: each
 * reconnect resumes the hub's TLS session, counted apart with its own duration histogram. */
static void test_resume_after_drop(void **state) {
  (void)state;
  struct platproc *p = &plats[0];
  char url[64];
  plat_start(p, "server.pem", "hubrpcs", url);
  const char *bin = getenv("HUBSIM_BIN"), *src = getenv("HUBSIM_SOURCE_DIR");
  assert_non_null(src);
  char lua[600];
  snprintf(lua, sizeof lua, "%s/tests/integration/tls/drop.lua", src);
  char *ca = cdup("ca.pem"), *sum = cdup("drop.json"), *out = cdup("drop.out");
  char *err = cdup("drop.err");
  const char *argv[] = {bin,         "run", lua,    "--platform", url,  "--ca",        ca,
                        "--summary", sum,   "--ui", "none",       "-q", "--allow-lag", NULL};
  int rc = run_child(argv, out, err);
  assert_int_equal(platproc_stop(p), 0);
  if (rc != 0)
    fail_msg("exit %d\n%s\n%s", rc, slurp(out), slurp(err));
  json_error_t je;
  json_t *s = json_load_file(sum, 0, &je);
  assert_non_null(s);
  json_int_t dropped = jint(s, "errors", "fault:drop", NULL);
  assert_true(dropped > 0);
  assert_int_equal(jint(s, "tls", "handshakes_resumed", NULL), dropped);
  assert_int_equal(jint(s, "tls", "handshake_resumed", "count"), dropped);
  assert_int_equal(jint(s, "tls", "handshakes", NULL),
                   jint(s, "tls", "handshake_full", "count") + dropped);
  json_decref(s);
  free(ca);
  free(sum);
  free(out);
  free(err);
}

/* Usage errors: exit 2 and the flag named, before anything connects or listens. */
static void test_flags(void **state) {
  (void)state;
  const char *bin = getenv("HUBSIM_BIN");
  char *out = cdup("flags.out"), *err = cdup("flags.err"), *ca = cdup("ca.pem");
  char *cert = cdup("server.pem"), *key = cdup("server.key"), *loose = cdup("loose.key");
  const char *run_ca[] = {bin, "run", "--platform", "hubrpc://127.0.0.1:9", "--ca", ca, NULL};
  assert_int_equal(run_child(run_ca, out, err), 2);
  assert_non_null(strstr(slurp(err), "--ca"));
  const char *run_both[] = {bin,    "run", "--platform", "hubrpcs://127.0.0.1:9",
                            "--ca", ca,    "--insecure", NULL};
  assert_int_equal(run_child(run_both, out, err), 2);
  assert_non_null(strstr(slurp(err), "--insecure"));
  const char *run_badca[] = {bin,          "run", "--platform", "hubrpcs://127.0.0.1:9",
                             "--ca",       key,   "--ui",       "none",
                             "--duration", "1s",  NULL};
  assert_int_equal(run_child(run_badca, out, err), 2);
  assert_non_null(strstr(slurp(err), "cannot read CA certificates from"));
  const char *plat_nocert[] = {bin,    "platform", "--listen", "hubrpcs://127.0.0.1:0",
                               "--db", ":memory:", NULL};
  assert_int_equal(run_child(plat_nocert, out, err), 2);
  assert_non_null(strstr(slurp(err), "--cert FILE --key FILE"));
  const char *plat_plain[] = {
      bin, "platform", "--listen", "hubrpc://127.0.0.1:0", "--cert", cert, "--key", key, NULL};
  assert_int_equal(run_child(plat_plain, out, err), 2);
  assert_non_null(strstr(slurp(err), "needs --listen hubrpcs://"));
  /* A key other users may read is refused, naming the file and the fix. */
  char cmd[900];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 644 '%s'", key, loose, loose);
  assert_int_equal(system(cmd), 0);
  const char *plat_loose[] = {bin,     "platform", "--listen", "hubrpcs://127.0.0.1:0",
                              "--db",  ":memory:", "--cert",   cert,
                              "--key", loose,      NULL};
  assert_int_equal(run_child(plat_loose, out, err), 2);
  assert_non_null(strstr(slurp(err), "loose.key"));
  assert_non_null(strstr(slurp(err), "by other users"));
  free(out);
  free(err);
  free(ca);
  free(cert);
  free(key);
  free(loose);
}

/* openssl s_client against the platform's TLS port: the protocol versions and ciphers it
 * allows. Skipped without the tool. */
static void test_s_client(void **state) {
  (void)state;
  if (system("command -v openssl >/dev/null 2>&1") != 0)
    skip();
  struct platproc *p = &plats[0];
  char url[64];
  plat_start(p, "server.pem", "hubrpcs", url);
  char *out = cdup("s_client.out"), *err = cdup("s_client.err"), *ca = cdup("ca.pem");
  char port[64];
  snprintf(port, sizeof port, "127.0.0.1:%u", (unsigned)p->port);
  /* SECLEVEL=0 lets the client offer TLS 1.1: the refusal must come from the platform. */
  const char *v11[] = {"openssl", "s_client", "-connect",           port,
                       "-tls1_1", "-cipher",  "DEFAULT@SECLEVEL=0", NULL};
  assert_int_not_equal(run_child(v11, out, err), 0);
  assert_non_null(strstr(slurp(err), "alert protocol version")); /* the platform's answer */
  const char *v13[] = {"openssl", "s_client", "-connect", port,
                       "-tls1_3", "-CAfile",  ca,         "-verify_return_error",
                       NULL};
  int rc = run_child(v13, out, err);
  if (rc != 0)
    fail_msg("s_client -tls1_3: exit %d\n%s\n%s", rc, slurp(out), slurp(err));
  assert_non_null(strstr(slurp(out), "TLSv1.3"));
  assert_non_null(strstr(slurp(out), "Verify return code: 0 (ok)"));
  const char *strong12[] = {"openssl", "s_client", "-connect", port,
                            "-tls1_2", "-CAfile",  ca,         NULL};
  assert_int_equal(run_child(strong12, out, err), 0);
  assert_non_null(strstr(slurp(out), "ECDHE"));
  /* CBC with SHA-1 MACs over ECDHE with an ECDSA key (the platform's): weak, but the only
   * weak suites its key could serve, so the refusal is the cipher list's. */
  const char *weak12[] = {"openssl",
                          "s_client",
                          "-connect",
                          port,
                          "-tls1_2",
                          "-cipher",
                          "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA@SECLEVEL=0",
                          NULL};
  assert_int_not_equal(run_child(weak12, out, err), 0);
  assert_non_null(strstr(slurp(err), "alert handshake failure"));
  assert_int_equal(platproc_stop(p), 0);
  free(out);
  free(err);
  free(ca);
}

/* A platform asking for client certificates (--client-ca ca, --crl crl and --auth auth unless
 * NULL) with the server certificate cert and key (paths); url[64] becomes its hubrpcs://
 * address. */
static void plat_start_mtls(struct platproc *p, const char *cert, const char *key, const char *ca,
                            const char *crl, const char *auth, char *url) {
  static int seq; /* a store and a log of its own each */
  char name[32];
  snprintf(name, sizeof name, "plat-mtls-%d.db", seq++);
  char *db = cdup(name);
  const char *extra[10] = {"--cert", cert, "--key", key, "--client-ca", ca};
  int n = 6;
  if (crl) {
    extra[n++] = "--crl";
    extra[n++] = crl;
  }
  if (auth) {
    extra[n++] = "--auth";
    extra[n++] = auth;
  }
  int rc = platproc_start_scheme(p, "hubrpcs", db, 0, extra);
  if (rc)
    fail_msg("the mutual TLS platform did not start (%d): %s", rc, slurp(p->log));
  free(db);
  url_of(p, "hubrpcs", url, 64);
}

/* The value of "name":N in the platform's final counters line of log. */
static long long plat_counter(const char *log, const char *name) {
  char key[80];
  snprintf(key, sizeof key, "\"%s\":", name);
  const char *c = strstr(log, "platform: counters {");
  const char *v = c ? strstr(c, key) : NULL;
  if (!v)
    fail_msg("no counter %s in the platform's log", name);
  return strtoll(v + strlen(key), NULL, 10);
}

/* How many times needle occurs in hay. */
static long long count_of(const char *hay, const char *needle) {
  long long n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

#define MTLS_HUBS 1000

/* 1,000 hubs with their own certificates (hubsim provision's folder) against a platform that
 * verifies them: every report acknowledged, no handshake failed, and every session bound to
 * its certificate's hub id: one log line per session naming the hub, as many as the
 * platform's sessions_cert_bound counter and its successful authentications, every hub among
 * them. Then a hub without its certificate is refused, both sides saying why. */
static void test_mtls_fleet(void **state) {
  (void)state;
  const char *bin = getenv("HUBSIM_BIN");
  char *prov = cdup("prov"), *pout = cdup("prov.out"), *perr = cdup("prov.err");
  char hubs[16];
  snprintf(hubs, sizeof hubs, "%d", MTLS_HUBS);
  const char *pargv[] = {bin, "provision", "--hubs", hubs, "--devices-per-hub",
                         "2", "--out",     prov,     "-q", NULL};
  if (run_child(pargv, pout, perr) != 0)
    fail_msg("hubsim provision: %s", slurp(perr));
  char ca[300], crt[300], key[300];
  snprintf(ca, sizeof ca, "%s/ca.crt", prov);
  snprintf(crt, sizeof crt, "%s/server.crt", prov);
  snprintf(key, sizeof key, "%s/server.key", prov);
  struct platproc *p = &plats[0];
  char url[64];
  plat_start_mtls(p, crt, key, ca, NULL, NULL, url);
  static struct run_result r;
  /* The run is judged on what it delivers; two cores busy with 1,000 full handshakes may lag
   * the generator's ticks, which is not what this test is about. The hubs start 250 a second:
   * 1,000 handshakes begun at once share the CPU until the last, and under a sanitizer on a
   * busy machine none would end within the platform's 10 s handshake deadline. */
  const char *extra[] = {"--ca",  ca,       "--hub-certs", prov, "--max-lag",
                         "10000", "--ramp", "250",         NULL};
  run_duration = "20s";
  hubsim_run(&r, url, hubs, extra);
  run_duration = "1s";
  if (r.code != 0 || !r.summary)
    fail_msg("exit %d\n%s\n%s", r.code, r.out, r.err);
  assert_int_equal(jint(r.summary, "counts", "lost", NULL), 0);
  assert_int_equal(jint(r.summary, "sessions", "not_online_at_end", NULL), 0);
  assert_true(jint(r.summary, "tls", "handshakes", NULL) >= MTLS_HUBS);
  assert_int_equal(jint(r.summary, "tls", "handshake_failures", "verify"), 0);
  json_decref(r.summary);

  /* The impostor: hub-000000 again, with the fleet key but without its certificate. */
  const char *bare[] = {"--ca", ca, NULL};
  hubsim_run(&r, url, "1", bare);
  if (r.code == 0)
    fail_msg("a hub without its certificate was accepted\n%s", r.out);
  json_decref(r.summary);
  assert_non_null(strstr(r.err, "hub hub-000000 authenticates with its client certificate"));
  assert_int_equal(platproc_stop(p), 0);

  const char *log = slurp(p->log);
  long long bound = plat_counter(log, "sessions_cert_bound");
  assert_true(bound >= MTLS_HUBS);
  assert_int_equal(plat_counter(log, "auth_ok"), bound);
  assert_int_equal(count_of(log, " bound to its client certificate's hub id"), bound);
  for (int i = 0; i < MTLS_HUBS; i++) {
    char line[96];
    snprintf(line, sizeof line, "session of hub hub-%06d bound to its client certificate's", i);
    if (!strstr(log, line))
      fail_msg("no session of hub-%06d was bound to its certificate", i);
  }
  assert_true(plat_counter(log, "cert_refused") >= 1);
  assert_non_null(strstr(log, "refused a Hello for hub hub-000000: hub hub-000000 "
                              "authenticates with its client certificate"));
  free(prov);
  free(pout);
  free(perr);
}

/* hubsim run refuses (exit 2, before connecting) a --hub-certs folder without a hub's files, or
 * with a key that is not its certificate's or that other users may read, naming the file; the
 * platform refuses --client-ca without TLS, a file that holds no certificate, and --crl
 * without --client-ca. */
static void test_mtls_flags(void **state) {
  (void)state;
  const char *bin = getenv("HUBSIM_BIN");
  char *out = cdup("mflags.out"), *err = cdup("mflags.err"), *ca = cdup("ca.pem");
  char *good = cdup("hub-good"), *mis = cdup("hub-mismatch"), *loose = cdup("hub-loose");
  char *key = cdup("server.key");
  char cmd[1600];
  snprintf(cmd, sizeof cmd,
           "mkdir -p '%s/hubs' '%s/hubs' && cp '%s/hubs/hub-000000.crt' '%s/hubs/' && "
           "cp '%s/../hub-other/hubs/hub-000000.key' '%s/hubs/' && cp -p '%s/hubs/'* '%s/hubs/' "
           "&& chmod 644 '%s/hubs/hub-000000.key'",
           mis, loose, good, mis, good, mis, good, loose, loose);
  assert_int_equal(system(cmd), 0);
  static const struct {
    const char *dir, *hubs, *says;
  } runs[] = {{"hub-good", "2", "hub-good/hubs/hub-000001.crt"},
              {"hub-mismatch", "1", "does not match its certificate: key file"},
              {"hub-loose", "1", "by other users"}};
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    char *dir = cdup(runs[i].dir);
    const char *argv[] = {bin,          "run",        "--platform",  "hubrpcs://127.0.0.1:9",
                          "--ca",       ca,           "--hub-certs", dir,
                          "--hubs",     runs[i].hubs, "--ui",        "none",
                          "--duration", "1s",         NULL};
    assert_int_equal(run_child(argv, out, err), 2);
    if (!strstr(slurp(err), runs[i].says))
      fail_msg("%s: stderr does not say '%s': %s", runs[i].dir, runs[i].says, slurp(err));
    free(dir);
  }
  /* With --workers the control process checks the folder before any worker starts: the same
   * exit 2 naming the file, not a worker's failure (exit 3). */
  const char *run_workers[] = {bin,      "run",  "--platform",  "hubrpcs://127.0.0.1:9",
                               "--ca",   ca,     "--hub-certs", good,
                               "--hubs", "2",    "--workers",   "2",
                               "--ui",   "none", "--duration",  "1s",
                               NULL};
  assert_int_equal(run_child(run_workers, out, err), 2);
  if (!strstr(slurp(err), "hub-good/hubs/hub-000001.crt"))
    fail_msg("--workers: stderr does not name the file: %s", slurp(err));
  const char *run_plain[] = {bin,           "run", "--platform", "hubrpc://127.0.0.1:9",
                             "--hub-certs", good,  NULL};
  assert_int_equal(run_child(run_plain, out, err), 2);
  assert_non_null(strstr(slurp(err), "--hub-certs"));
  const char *plat_plain[] = {bin,           "platform", "--listen", "hubrpc://127.0.0.1:0",
                              "--client-ca", ca,         NULL};
  assert_int_equal(run_child(plat_plain, out, err), 2);
  assert_non_null(strstr(slurp(err), "--client-ca"));
  char *crt = cdup("server.pem");
  const char *plat_crl[] = {bin,      "platform", "--listen", "hubrpcs://127.0.0.1:0",
                            "--cert", crt,        "--key",    key,
                            "--crl",  ca,         "--db",     ":memory:",
                            NULL};
  assert_int_equal(run_child(plat_crl, out, err), 2);
  assert_non_null(strstr(slurp(err), "needs --client-ca"));
  const char *plat_badca[] = {bin,    "platform", "--listen", "hubrpcs://127.0.0.1:0", "--cert",
                              crt,    "--key",    key,        "--client-ca",           key,
                              "--db", ":memory:", NULL};
  assert_int_equal(run_child(plat_badca, out, err), 2);
  assert_non_null(strstr(slurp(err), "cannot read client CA certificates from"));
  /* --auth cert needs certificates to verify; --auth takes one of three words. */
  const char *plat_authcert[] = {bin,      "platform", "--listen", "hubrpcs://127.0.0.1:0",
                                 "--cert", crt,        "--key",    key,
                                 "--auth", "cert",     "--db",     ":memory:",
                                 NULL};
  assert_int_equal(run_child(plat_authcert, out, err), 2);
  assert_non_null(strstr(slurp(err), "--auth 'cert': needs client certificates to verify"));
  const char *plat_authbad[] = {bin,      "platform", "--listen", "hubrpcs://127.0.0.1:0",
                                "--cert", crt,        "--key",    key,
                                "--auth", "maybe",    "--db",     ":memory:",
                                NULL};
  assert_int_equal(run_child(plat_authbad, out, err), 2);
  assert_non_null(strstr(slurp(err), "--auth 'maybe': expected any, key or cert"));
  free(crt);
  free(out);
  free(err);
  free(ca);
  free(good);
  free(mis);
  free(loose);
  free(key);
}

/* Each bad client certificate of hub-000000 (mkcerts.sh) is refused, the reason named in the
 * hub's output and in the platform's log, the run failing (exit non-zero, verdict not PASS);
 * the good one passes the same platform with the CRL, and the revoked one passes without it
 * (the CRL is what refuses it). How a hub may authenticate (docs/protocol.md section 6): its
 * certificate alone without a fleet key (an empty mac), certificate and mac with one, a wrong
 * mac refused even with a good certificate; --auth key refuses the certificate alone, --auth
 * cert a hub with the fleet key and no certificate. */
static void test_mtls_matrix(void **state) {
  (void)state;
  static const char *const bound = "session of hub hub-000000 bound to its client certificate";
  static const struct {
    const char *dir, *key, *auth, *hub_says, *plat_says;
    int crl, ok;
  } cases[] = {
      {"hub-good", NULL, NULL, NULL, bound, 1, 1},
      {"hub-good", "hubsim-demo-fleet-key", NULL, NULL, bound, 0, 1},
      {"hub-good", NULL, "cert", NULL, bound, 0, 1},
      {"hub-good", "not-the-fleet-key", NULL, "refused its authentication: wrong mac",
       "refused the Auth of hub hub-000000: wrong mac", 0, 0},
      {"hub-good", NULL, "key",
       "no mac: this platform authenticates with the fleet key (--auth key)",
       "refused the Auth of hub hub-000000: no mac: this platform authenticates with the fleet "
       "key (--auth key)",
       0, 0},
      {NULL, NULL, "cert",
       "hub hub-000000 presented no client certificate: this platform accepts client "
       "certificates only (--auth cert)",
       "refused a Hello for hub hub-000000: hub hub-000000 presented no client certificate", 0, 0},
      {"hub-other", NULL, NULL, "client certificate is for hub hub-000001, not hub-000000",
       "refused a Hello for hub hub-000000: client certificate is for hub hub-000001", 0, 0},
      {"hub-sanother", NULL, NULL, "client certificate names no usable hub id",
       "refused a Hello for hub hub-000000: client certificate names no usable hub id", 0, 0},
      {"hub-serverauth", NULL, NULL,
       "refused our client certificate: sslv3 alert unsupported certificate",
       "client certificate verify failed: unsuitable certificate purpose", 0, 0},
      {"hub-unknownca", NULL, NULL, "refused our client certificate: tlsv1 alert unknown ca",
       "client certificate verify failed: unable to get local issuer certificate", 0, 0},
      {"hub-selfsigned", NULL, NULL, "refused our client certificate: tlsv1 alert unknown ca",
       "client certificate verify failed: self-signed certificate", 0, 0},
      {"hub-expired", NULL, NULL, "refused our client certificate: sslv3 alert certificate expired",
       "client certificate verify failed: certificate has expired", 0, 0},
      {"hub-notyet", NULL, NULL, "refused our client certificate: sslv3 alert bad certificate",
       "client certificate verify failed: certificate is not yet valid", 0, 0},
      {"hub-revoked", NULL, NULL, "refused our client certificate: sslv3 alert certificate revoked",
       "client certificate verify failed: certificate revoked", 1, 0},
      {"hub-revoked", NULL, NULL, NULL, bound, 0, 1},
  };
  char *ca = cdup("ca.pem"), *crl = cdup("crl.pem"), *crt = cdup("server.pem");
  char *key = cdup("server.key");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct platproc *p = &plats[0];
    char url[64];
    plat_start_mtls(p, crt, key, ca, cases[i].crl ? crl : NULL, cases[i].auth, url);
    char *dir = cases[i].dir ? cdup(cases[i].dir) : NULL;
    const char *extra[8] = {"--ca", ca};
    int n = 2;
    if (dir) {
      extra[n++] = "--hub-certs";
      extra[n++] = dir;
    }
    if (cases[i].key) {
      extra[n++] = "--fleet-key";
      extra[n++] = cases[i].key;
    }
    static struct run_result r;
    hubsim_run(&r, url, "1", extra);
    free(dir);
    assert_int_equal(platproc_stop(p), 0);
    const char *log = slurp(p->log);
    const char *name = cases[i].dir ? cases[i].dir : "no certificate";
    if (cases[i].ok) {
      if (r.code != 0)
        fail_msg("%s (case %zu): exit %d\n%s\n%s", name, i, r.code, r.out, r.err);
      /* The certificate alone exactly when no key was given. */
      if (cases[i].key)
        assert_int_equal(plat_counter(log, "auth_cert_only"), 0);
      else
        assert_int_equal(plat_counter(log, "auth_cert_only"), plat_counter(log, "auth_ok"));
      assert_true(plat_counter(log, "auth_ok") >= 1);
    } else {
      if (r.code == 0 || !r.summary)
        fail_msg("%s (case %zu): accepted (exit %d)\n%s", name, i, r.code, r.out);
      assert_int_equal(jint(r.summary, "sessions", "not_online_at_end", NULL), 1);
      const char *vt =
          json_string_value(json_object_get(json_object_get(r.summary, "verdict"), "text"));
      if (!vt || strncmp(vt, "PASS", 4) == 0)
        fail_msg("%s (case %zu): verdict %s", name, i, vt ? vt : "(none)");
      if (!strstr(r.out, cases[i].hub_says) && !strstr(r.err, cases[i].hub_says))
        fail_msg("%s (case %zu): the hub does not say '%s':\n%s\n%s", name, i, cases[i].hub_says,
                 r.out, r.err);
      assert_int_equal(plat_counter(log, "sessions_cert_bound"), 0);
      assert_int_equal(plat_counter(log, "auth_ok"), 0);
    }
    if (!strstr(log, cases[i].plat_says))
      fail_msg("%s (case %zu): the platform does not say '%s':\n%s", name, i, cases[i].plat_says,
               log);
    json_decref(r.summary);
  }
  free(ca);
  free(crl);
  free(crt);
  free(key);
}

/* An Auth with an empty mac (the certificate alone) on a session with no certificate, here a
 * plaintext one: refused with AUTH_FAILED naming why, on the wire and in the platform's log. */
static void test_empty_mac_without_cert(void **state) {
  (void)state;
  struct platproc *p = &plats[0];
  char *db = cdup("emptymac.db");
  assert_int_equal(platproc_start(p, db, 0, NULL), 0);
  free(db);
  struct hubclient c;
  assert_int_equal(hubclient_connect(&c, p->port, NULL), 0);
  assert_int_equal(hubclient_hello(&c, "hub-000007", 1, 5000), 0);
  Hubrpc__V1__Auth auth = HUBRPC__V1__AUTH__INIT;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_AUTH;
  env.auth = &auth;
  assert_int_equal(hubclient_send(&c, &env), 0);
  sim_envelope *e = NULL;
  assert_int_equal(hubclient_expect(&c, HUBRPC__V1__ENVELOPE__BODY_ERROR, 5000, &e, NULL), 0);
  assert_int_equal(e->error->code, HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED);
  assert_string_equal(e->error->reason, "no certificate for this hub and no mac");
  sim_hubrpc_free(e);
  hubclient_close(&c);
  assert_int_equal(platproc_stop(p), 0);
  const char *log = slurp(p->log);
  assert_non_null(
      strstr(log, "refused the Auth of hub hub-000007: no certificate for this hub and no mac"));
  assert_int_equal(plat_counter(log, "auth_failed"), 1);
  assert_int_equal(plat_counter(log, "auth_ok"), 0);
}

#define FLOOD_CONNS 40
#define FLOOD_MAX_UNAUTH 4

/* A hostile peer opens many TCP connections to the TLS port and never finishes a handshake:
 * half send nothing, half half a ClientHello. With --max-unauth 4 the platform keeps at most 4
 * of them, closing the oldest for each new one well before the 10 s handshake timeout, counts
 * the evictions and says so; a real hub then still gets in. */
static void test_tls_handshake_flood(void **state) {
  (void)state;
  struct platproc *p = &plats[0];
  char url[64], *cert = cdup("server.pem"), *key = cdup("server.key"), *db = cdup("flood.db");
  const char *extra[] = {"--cert", cert, "--key", key, "--max-unauth", "4", NULL};
  if (platproc_start_scheme(p, "hubrpcs", db, 0, extra))
    fail_msg("the TLS platform did not start: %s", slurp(p->log));
  url_of(p, "hubrpcs", url, sizeof url);
  /* A TLS record header announcing a 512-byte ClientHello, and its first bytes only. */
  static const uint8_t half_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
                                       0xfc, 0x03, 0x03, 0x11, 0x22, 0x33, 0x44};
  int fds[FLOOD_CONNS];
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < FLOOD_CONNS; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fds[i] >= 0);
    assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
    if (i % 2)
      assert_int_equal(send(fds[i], half_hello, sizeof half_hello, MSG_NOSIGNAL),
                       (ssize_t)sizeof half_hello);
  }
  /* Wait (at most 5 s, half the handshake timeout) until all but 4 were closed by the
   * platform. */
  int closed = 0;
  char seen[FLOOD_CONNS] = {0};
  double deadline = mono_s() + 5;
  while (closed < FLOOD_CONNS - FLOOD_MAX_UNAUTH && mono_s() < deadline) {
    struct pollfd pf[FLOOD_CONNS];
    for (int i = 0; i < FLOOD_CONNS; i++)
      pf[i] = (struct pollfd){.fd = seen[i] ? -1 : fds[i], .events = POLLIN};
    if (poll(pf, FLOOD_CONNS, 100) <= 0)
      continue;
    for (int i = 0; i < FLOOD_CONNS; i++) {
      char b[64];
      if (!seen[i] && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
          recv(fds[i], b, sizeof b, MSG_DONTWAIT) <= 0) {
        seen[i] = 1;
        closed++;
      }
    }
  }
  if (closed < FLOOD_CONNS - FLOOD_MAX_UNAUTH)
    fail_msg("only %d of %d idle TLS connections were closed within 5 s (--max-unauth %d)", closed,
             FLOOD_CONNS, FLOOD_MAX_UNAUTH);
  /* A hub still gets in while the 4 newest idle connections are held open. */
  static struct run_result r;
  char *ca = cdup("ca.pem");
  const char *rx[] = {"--ca", ca, NULL};
  hubsim_run(&r, url, "1", rx);
  if (r.code != 0)
    fail_msg("a hub after the flood: exit %d\n%s\n%s", r.code, r.out, r.err);
  json_decref(r.summary);
  for (int i = 0; i < FLOOD_CONNS; i++)
    close(fds[i]);
  assert_int_equal(platproc_stop(p), 0);
  const char *log = slurp(p->log);
  assert_true(plat_counter(log, "handshakes_evicted") >= FLOOD_CONNS - FLOOD_MAX_UNAUTH);
  assert_non_null(strstr(log, "connections in their handshake (--max-unauth): the oldest"));
  free(cert);
  free(key);
  free(db);
  free(ca);
}

/* An argument runs only the tests whose names match it (cmocka's pattern); --skip PATTERN runs
 * all but those. */
int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_fleet_over_tls, kill_leftovers),
      cmocka_unit_test_teardown(test_verify_matrix, kill_leftovers),
      cmocka_unit_test_teardown(test_wrong_port, kill_leftovers),
      cmocka_unit_test_teardown(test_resume_after_drop, kill_leftovers),
      cmocka_unit_test(test_flags),
      cmocka_unit_test_teardown(test_s_client, kill_leftovers),
      cmocka_unit_test_teardown(test_mtls_fleet, kill_leftovers),
      cmocka_unit_test_teardown(test_mtls_matrix, kill_leftovers),
      cmocka_unit_test(test_mtls_flags),
      cmocka_unit_test_teardown(test_empty_mac_without_cert, kill_leftovers),
      cmocka_unit_test_teardown(test_tls_handshake_flood, kill_leftovers),
  };
  if (argc > 2 && strcmp(argv[1], "--skip") == 0)
    cmocka_set_skip_filter(argv[2]);
  else if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  return cmocka_run_group_tests(tests, tlscerts_group_setup, tlscerts_group_teardown);
}
