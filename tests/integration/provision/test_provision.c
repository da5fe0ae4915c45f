/* `hubsim provision`, checked from outside: a small fleet's folder verified with the openssl
 * tool (chain, CN, SAN, key usage, extended key usage, validity, fingerprints), the file modes,
 * the hub secrets against the fleet's own derivation, nothing secret on stdout, the registry's
 * devices equal to the devices table of a real `hubsim run` with the same flags (and the same
 * scenario), and bad input refused with the input named and nothing left behind. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "integration/devices/devspawn.h"
#include "sim/core/hex.h"
#include "sim/wire/auth.h"

#define OUT_CAP (1 << 16)

/* What a child printed, each stream on its own: stdout must carry nothing secret. */
struct child_out {
  char out[OUT_CAP];
  char err[OUT_CAP];
};

/* Runs `$HUBSIM_BIN args...` (devspawn: at most 120 s) into o. Returns the exit code, or -1. */
static int spawn(const char *const *args, struct child_out *o) {
  struct devspawn_out r;
  int st = devspawn_run(args, 120, &r);
  snprintf(o->out, sizeof o->out, "%s", r.out ? r.out : "");
  snprintf(o->err, sizeof o->err, "%s", r.err ? r.err : "");
  devspawn_free(&r);
  return st;
}

/* Runs `openssl args...` through the shell (stdout and stderr together into o->out); the
 * arguments are test paths and flags, quoted. Returns the exit code, or -1. */
static int spawn_openssl(const char *const *args, struct child_out *o) {
  char cmd[4096] = "openssl";
  for (int i = 0; args[i]; i++) {
    assert_null(strchr(args[i], '\''));
    assert_true(strlen(cmd) + strlen(args[i]) + 4 < sizeof cmd - 8);
    strcat(cmd, " '");
    strcat(cmd, args[i]);
    strcat(cmd, "'");
  }
  strcat(cmd, " 2>&1");
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(o->out, 1, sizeof o->out - 1, p);
  o->out[n] = '\0';
  o->err[0] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static struct child_out co;
static char tmpdir[256];

static int make_tmpdir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hubsim-provision-test.XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_tmpdir(void **state) {
  (void)state;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t cap, const char *rel) {
  snprintf(out, cap, "%s/%s", tmpdir, rel);
}

/* The whole text of a file (heap; free it), or NULL. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strdup(buf);
}

static unsigned mode_of(const char *path) {
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  return (unsigned)(sb.st_mode & 07777);
}

/* `openssl ARGS...` must exit want; its stdout is in co.out. */
static void openssl_expect(int want, const char *const *args) {
  int rc = spawn_openssl(args, &co);
  if (rc != want)
    fail_msg("openssl %s %s: exit %d (wanted %d): %s%s", args[0], args[1], rc, want, co.out,
             co.err);
}

/* text must hold needle. */
static void expect_has(const char *text, const char *needle, const char *what) {
  if (!strstr(text, needle))
    fail_msg("%s: '%s' missing in:\n%s", what, needle, text);
}

/* openssl verify of crt by ca for purpose (sslclient, sslserver): exit want. */
static void verify_for(const char *ca, const char *crt, const char *purpose, int want) {
  const char *args[] = {"verify", "-CAfile", ca, "-purpose", purpose, crt, NULL};
  openssl_expect(want, args);
  if (want == 0)
    expect_has(co.out, ": OK", "openssl verify");
}

/* openssl x509 -noout -text of crt, in co.out. */
static const char *cert_text(const char *crt) {
  const char *args[] = {"x509", "-noout", "-text", "-in", crt, NULL};
  openssl_expect(0, args);
  return co.out;
}

#define FLEET_ARGS "--hubs", "3", "--devices-per-hub", "4", "--seed", "7"

static void write_key_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "test-fleet-key-42\n", 18), 18);
  close(fd);
}

/* Provisions the small fleet into tmpdir/NAME; returns nothing, fails the test on error. */
static void provision_small(const char *name, const char *extra) {
  char out[400], key[400];
  path_of(out, sizeof out, name);
  path_of(key, sizeof key, "fleet.key");
  write_key_file(key);
  const char *args[] = {"provision", "--out",  out,  FLEET_ARGS, "--fleet-key-file",
                        key,         "--days", "30", extra,      NULL};
  int rc = spawn(args, &co);
  if (rc != 0)
    fail_msg("hubsim provision: exit %d: %s%s", rc, co.out, co.err);
}

/* ---- the certificates, checked by openssl ---- */

static void check_hub_cert(const char *dir, const char *id) {
  char crt[600], ca[600], want[200];
  snprintf(crt, sizeof crt, "%s/hubs/%s.crt", dir, id);
  snprintf(ca, sizeof ca, "%s/ca.crt", dir);
  verify_for(ca, crt, "sslclient", 0);
  cert_text(crt);
  snprintf(want, sizeof want, "Subject: CN = %s\n", id);
  expect_has(co.out, want, crt);
  snprintf(want, sizeof want, "URI:urn:hubsim:hub:%s", id);
  expect_has(co.out, want, crt);
  expect_has(co.out, "X509v3 Key Usage: critical\n                Digital Signature\n", crt);
  expect_has(co.out, "X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n",
             crt);
  expect_has(co.out, "CA:FALSE", crt);
  expect_has(co.out, "ASN1 OID: prime256v1", crt);
  /* Valid now and for the 30 days asked, not for 31. */
  const char *now[] = {"x509", "-noout", "-checkend", "0", "-in", crt, NULL};
  openssl_expect(0, now);
  const char *d29[] = {"x509", "-noout", "-checkend", "2505600", "-in", crt, NULL};
  openssl_expect(0, d29);
  const char *d31[] = {"x509", "-noout", "-checkend", "2678400", "-in", crt, NULL};
  openssl_expect(1, d31);
}

static void test_certificates(void **state) {
  (void)state;
  provision_small("fleet", NULL);
  char dir[400], ca[500], srv[500];
  path_of(dir, sizeof dir, "fleet");
  for (int i = 0; i < 3; i++) {
    char id[32];
    snprintf(id, sizeof id, "hub-%06d", i);
    check_hub_cert(dir, id);
  }
  snprintf(ca, sizeof ca, "%s/ca.crt", dir);
  snprintf(srv, sizeof srv, "%s/server.crt", dir);
  verify_for(ca, srv, "sslserver", 0);
  cert_text(srv);
  expect_has(co.out, "Subject: CN = 127.0.0.1\n", "server.crt");
  expect_has(co.out, "IP Address:127.0.0.1", "server.crt");
  expect_has(co.out, "DNS:localhost", "server.crt");
  expect_has(co.out, "TLS Web Server Authentication", "server.crt");
  /* A server certificate is not a client's, and a hub's is not a server's. */
  verify_for(ca, srv, "sslclient", 2);
  cert_text(ca);
  expect_has(co.out, "CA:TRUE", "ca.crt");
  expect_has(co.out, "Certificate Sign, CRL Sign", "ca.crt");
  /* Another fleet's CA does not vouch for these hubs: verify can fail. */
  provision_small("other", NULL);
  char other_ca[500], crt[500];
  path_of(other_ca, sizeof other_ca, "other/ca.crt");
  snprintf(crt, sizeof crt, "%s/hubs/hub-000001.crt", dir);
  const char *foreign[] = {"verify", "-CAfile", other_ca, crt, NULL};
  openssl_expect(2, foreign);
}

/* ---- files, secrets, stdout ---- */

static void test_files_and_secrets(void **state) {
  (void)state;
  provision_small("files", NULL);
  char stdout_copy[OUT_CAP];
  memcpy(stdout_copy, co.out, sizeof stdout_copy);
  char dir[400], p[600];
  path_of(dir, sizeof dir, "files");
  assert_int_equal(mode_of(dir), 0700);
  const char *secret_files[] = {"ca.key",
                                "server.key",
                                "hub-secrets.csv",
                                "hubs/hub-000000.key",
                                "hubs/hub-000001.key",
                                "hubs/hub-000002.key"};
  for (size_t i = 0; i < sizeof secret_files / sizeof secret_files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, secret_files[i]);
    if (mode_of(p) != 0600)
      fail_msg("%s: mode %o, not 0600", p, mode_of(p));
    /* Every key parses, is what --key-type asked, and is the key of its certificate. */
    if (strstr(p, ".key")) {
      const char *pk[] = {"pkey", "-noout", "-text", "-in", p, NULL};
      openssl_expect(0, pk);
      expect_has(co.out, "ASN1 OID: prime256v1", p);
      /* The private scalar and the public point belong together. */
      const char *check[] = {"pkey", "-check", "-noout", "-in", p, NULL};
      openssl_expect(0, check);
      expect_has(co.out, "Key is valid", p);
      static char from_key[OUT_CAP];
      const char *pub[] = {"pkey", "-pubout", "-in", p, NULL};
      openssl_expect(0, pub);
      memcpy(from_key, co.out, sizeof from_key);
      char crt[620];
      snprintf(crt, sizeof crt, "%.*s.crt", (int)(strlen(p) - 4), p);
      const char *cpub[] = {"x509", "-noout", "-pubkey", "-in", crt, NULL};
      openssl_expect(0, cpub);
      if (strcmp(from_key, co.out) != 0)
        fail_msg("%s is not the key of %s:\n%s\n%s", p, crt, from_key, co.out);
    }
  }
  /* The secrets are the fleet's: HMAC-SHA256(fleet key, hub id). */
  snprintf(p, sizeof p, "%s/hub-secrets.csv", dir);
  char *sec = slurp(p);
  assert_non_null(sec);
  expect_has(sec, "hub_id,secret_hex\n", p);
  for (int i = 0; i < 3; i++) {
    char id[32], line[128], hex[65];
    uint8_t s[32];
    snprintf(id, sizeof id, "hub-%06d", i);
    assert_int_equal(sim_auth_hub_secret("test-fleet-key-42", 17, id, s), 0);
    sim_hex_encode(hex, s, 32, 0);
    snprintf(line, sizeof line, "%s,%s\n", id, hex);
    expect_has(sec, line, p);
    if (strstr(stdout_copy, hex))
      fail_msg("a hub secret on stdout: %s", stdout_copy);
  }
  free(sec);
  if (strstr(stdout_copy, "PRIVATE KEY") || strstr(stdout_copy, "test-fleet-key-42"))
    fail_msg("secret material on stdout: %s", stdout_copy);
  /* Fingerprints: the registry's are what openssl computes. */
  snprintf(p, sizeof p, "%s/registry.json", dir);
  json_error_t je;
  json_t *reg = json_load_file(p, 0, &je);
  if (!reg)
    fail_msg("%s:%d: %s", p, je.line, je.text);
  json_t *hubs = json_object_get(reg, "hubs");
  assert_int_equal(json_array_size(hubs), 3);
  for (size_t i = 0; i < 3; i++) {
    json_t *h = json_array_get(hubs, i);
    const char *id = json_string_value(json_object_get(h, "id"));
    char crt[600], fp[100] = "";
    snprintf(crt, sizeof crt, "%s/hubs/%s.crt", dir, id);
    const char *args[] = {"x509", "-noout", "-fingerprint", "-sha256", "-in", crt, NULL};
    openssl_expect(0, args);
    /* "sha256 Fingerprint=AB:CD:..." -> "abcd..." */
    const char *eq = strchr(co.out, '=');
    assert_non_null(eq);
    size_t k = 0;
    for (const char *c = eq + 1; *c && *c != '\n' && k + 1 < sizeof fp; c++)
      if (*c != ':')
        fp[k++] = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
    fp[k] = '\0';
    assert_string_equal(json_string_value(json_object_get(h, "cert_sha256")), fp);
  }
  json_decref(reg);
}

/* ---- the registry against a real run ---- */

/* Appends line and a newline to out (cap bytes); a test's lists are far below cap. */
static void append_line(char *out, size_t cap, const char *line) {
  size_t l = strlen(out), n = strlen(line);
  assert_true(l + n + 2 <= cap);
  memcpy(out + l, line, n);
  out[l + n] = '\n';
  out[l + n + 1] = '\0';
}

/* "EUI64 HUB MODEL" lines of the registry CSV, sorted, into out. */
static void registry_rows(const char *csv_path, char *out, size_t cap) {
  FILE *f = fopen(csv_path, "r");
  assert_non_null(f);
  char line[512];
  char rows[256][256];
  size_t n = 0;
  assert_non_null(fgets(line, sizeof line, f)); /* the head */
  while (fgets(line, sizeof line, f) && n < 256) {
    char hub[64], model[64], fw[64], sha[80], eui[32], dmodel[64];
    if (sscanf(line, "%63[^,],%63[^,],%63[^,],%79[^,],%31[^,],%63[^\n]", hub, model, fw, sha, eui,
               dmodel) == 6)
      snprintf(rows[n++], sizeof rows[0], "%s %s %s", eui, hub, dmodel);
  }
  fclose(f);
  qsort(rows, n, sizeof rows[0], (int (*)(const void *, const void *))strcmp);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    append_line(out, cap, rows[i]);
}

struct rows {
  char *out;
  size_t cap;
};

static int row_cb(void *arg, int n, char **vals, char **names) {
  (void)names;
  struct rows *r = arg;
  if (n == 1 && vals[0])
    append_line(r->out, r->cap, vals[0]);
  return 0;
}

/* The same lines from the platform's devices table. */
static void db_rows(const char *db, char *out, size_t cap) {
  sqlite3 *h = NULL;
  struct rows r = {out, cap};
  char *err = NULL;
  out[0] = '\0';
  int rc = sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(h,
                      "SELECT printf('%016x %s %s', eui64, hub_id, model) FROM devices ORDER BY 1",
                      row_cb, &r, &err);
  if (rc != SQLITE_OK)
    fail_msg("%s: %s", db, err ? err : sqlite3_errmsg(h));
  sqlite3_free(err);
  sqlite3_close(h);
}

/* Provisions with args, runs the same fleet against the embedded platform with --db, and
 * compares the registry's devices with the platform's devices table. */
static void compare_with_run(const char *name, const char *const *fleet) {
  char out[400], db[420], csv[500];
  path_of(out, sizeof out, name);
  snprintf(db, sizeof db, "%s.db", out);
  const char *pa[24] = {"provision", "--out", out, "-q"};
  const char *ra[24] = {"run", "--db", db, "--duration", "1s", "--ui", "none", "-q", "--allow-lag"};
  int np = 4, nr = 9;
  for (int i = 0; fleet[i]; i++)
    pa[np++] = ra[nr++] = fleet[i];
  int rc = spawn(pa, &co);
  if (rc != 0)
    fail_msg("provision: exit %d: %s", rc, co.err);
  rc = spawn(ra, &co);
  if (rc != 0)
    fail_msg("run: exit %d: %s%s", rc, co.out, co.err);
  static char a[1 << 15], b[1 << 15];
  snprintf(csv, sizeof csv, "%s/registry.csv", out);
  registry_rows(csv, a, sizeof a);
  db_rows(db, b, sizeof b);
  assert_true(strlen(a) > 0);
  if (strcmp(a, b) != 0)
    fail_msg("registry and the run's devices differ\nregistry:\n%s\nplatform:\n%s", a, b);
}

static void test_registry_matches_run(void **state) {
  (void)state;
  const char *flags[] = {FLEET_ARGS, "--mix",
                         "lumi.plug.maeu01:1,lumi.sensor_ht.agl02:1,lumi.weather:1", NULL};
  compare_with_run("reg-flags", flags);
  /* A scenario's fleet: its prefix, and a devices-per-hub range that may leave a hub empty. */
  char lua[400];
  path_of(lua, sizeof lua, "prov.lua");
  FILE *f = fopen(lua, "w");
  assert_non_null(f);
  fputs("scenario{name = \"prov\", duration = \"1s\", seed = 11}\n"
        "fleet{hubs = 4, devices_per_hub = {0, 5}, prefix = \"lab-\", mix = \"all\"}\n",
        f);
  fclose(f);
  const char *scn[] = {lua, NULL};
  compare_with_run("reg-scn", scn);
  char csv[500];
  path_of(csv, sizeof csv, "reg-scn/registry.csv");
  char *text = slurp(csv);
  assert_non_null(text);
  expect_has(text, "\nlab-000003,", csv);
  free(text);
}

/* ---- bad input ---- */

/* Nothing named like out, or like its staging folder (".NAME.*"), in tmpdir unless keep. */
static void expect_nothing_left(const char *name) {
  DIR *d = opendir(tmpdir);
  assert_non_null(d);
  struct dirent *e;
  char staging[128];
  snprintf(staging, sizeof staging, ".%s.", name);
  while ((e = readdir(d)))
    if (strcmp(e->d_name, name) == 0 || strncmp(e->d_name, staging, strlen(staging)) == 0)
      fail_msg("'%s' left behind in %s", e->d_name, tmpdir);
  closedir(d);
}

static void expect_refused(int want_rc, const char *const *args, const char *named) {
  int rc = spawn(args, &co);
  if (rc != want_rc || !strstr(co.err, named))
    fail_msg("exit %d (wanted %d) naming '%s': %s%s", rc, want_rc, named, co.err, co.out);
}

static void test_bad_flags(void **state) {
  (void)state;
  char out[400];
  path_of(out, sizeof out, "bad");
  const char *cases[][10] = {
      {"provision", "--hubs", "2", NULL},
      {"provision", "--out", out, "--key-type", "dsa", NULL},
      {"provision", "--out", out, "--days", "0", NULL},
      {"provision", "--out", out, "--days", "3651", NULL},
      {"provision", "--out", out, "--server-name", "bad name!", NULL},
      {"provision", "--out", out, "--hubs", "0", NULL},
      {"provision", "--out", out, "--mix", "lumi.no_such_model", NULL},
      {"provision", "--out", out, "--duration", "5s", NULL},
      {"provision", "--out", out, "--force", "--force", NULL},
      {"provision", "--out", out, "/no/such/scenario.lua", NULL},
  };
  const char *named[] = {
      "--out",  "--key-type",         "--days",     "--days",  "--server-name",
      "--hubs", "lumi.no_such_model", "--duration", "--force", "/no/such/scenario.lua"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    expect_refused(2, cases[i], named[i]);
    /* The fleet flags are run's parser's, but the message names this command. */
    if (!strstr(co.err, "hubsim provision: ") || strstr(co.err, "hubsim run"))
      fail_msg("%s: the message does not name hubsim provision alone: %s", named[i], co.err);
    expect_nothing_left("bad");
  }
  /* A fleet key file others can read is refused (run's rule). */
  char key[400];
  path_of(key, sizeof key, "loose.key");
  write_key_file(key);
  chmod(key, 0644);
  const char *loose[] = {"provision", "--out", out, "--fleet-key-file", key, NULL};
  expect_refused(2, loose, key);
  expect_nothing_left("bad");
}

static void test_bad_folders(void **state) {
  (void)state;
  char out[400], p[600];
  /* A missing parent. */
  path_of(out, sizeof out, "no/such/parent/out");
  const char *a1[] = {"provision", "--out", out, "--hubs", "2", NULL};
  expect_refused(2, a1, "does not exist");
  /* A parent folder this user cannot write: refused before any work (2) when the permission
   * bits say so; root passes those, so it gets a folder the kernel refuses (3). */
  if (geteuid() != 0) {
    path_of(p, sizeof p, "locked");
    assert_int_equal(mkdir(p, 0500), 0);
    path_of(out, sizeof out, "locked/out");
    const char *locked[] = {"provision", "--out", out, "--hubs", "2", NULL};
    expect_refused(2, locked, "is not writable");
    chmod(p, 0700);
  } else {
    const char *proc[] = {"provision", "--out", "/proc/hubsim-provision-test", "--hubs", "2", NULL};
    expect_refused(3, proc, "'/proc/hubsim-provision-test'");
  }
  /* A file, not a folder. */
  path_of(out, sizeof out, "plain");
  FILE *f = fopen(out, "w");
  assert_non_null(f);
  fclose(f);
  const char *a2[] = {"provision", "--out", out, "--hubs", "2", NULL};
  expect_refused(2, a2, "not a folder");
  /* A folder with something in it: refused, and with --force still refused (not ours); what
   * was there stays. */
  path_of(out, sizeof out, "mine");
  assert_int_equal(mkdir(out, 0755), 0);
  snprintf(p, sizeof p, "%s/precious.txt", out);
  f = fopen(p, "w");
  assert_non_null(f);
  fputs("keep me\n", f);
  fclose(f);
  const char *a3[] = {"provision", "--out", out, "--hubs", "2", NULL};
  expect_refused(2, a3, "is not empty");
  const char *a4[] = {"provision", "--out", out, "--hubs", "2", "--force", NULL};
  expect_refused(2, a4, "not written by hubsim provision");
  char *kept = slurp(p);
  assert_non_null(kept);
  assert_string_equal(kept, "keep me\n");
  free(kept);
}

/* An earlier output is replaced with --force; a write that fails (a file size limit) leaves
 * it as it was and no staging folder. */
static void test_force_and_failed_write(void **state) {
  (void)state;
  char out[400], ca[500];
  path_of(out, sizeof out, "again");
  snprintf(ca, sizeof ca, "%s/ca.crt", out);
  const char *first[] = {"provision", "--out", out, "--hubs", "2", "-q", NULL};
  assert_int_equal(spawn(first, &co), 0);
  char *ca1 = slurp(ca);
  assert_non_null(ca1);
  expect_refused(2, first, "is not empty");
  const char *forced[] = {"provision", "--out", out, "--hubs", "2", "-q", "--force", NULL};
  assert_int_equal(spawn(forced, &co), 0);
  char *ca2 = slurp(ca);
  assert_non_null(ca2);
  assert_string_not_equal(ca1, ca2);
  /* 2,000 bytes: the certificates fit, the registry of 40 hubs does not. */
  struct rlimit keep, cap;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &keep), 0);
  cap = keep;
  cap.rlim_cur = 2000; /* the child inherits it; this process writes nothing meanwhile */
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &cap), 0);
  const char *big[] = {"provision", "--out", out, "--hubs", "40", "-q", "--force", NULL};
  int rc = spawn(big, &co);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &keep), 0);
  if (rc != 3 || !strstr(co.err, "cannot write"))
    fail_msg("a failed write: exit %d: %s", rc, co.err);
  char *ca3 = slurp(ca);
  assert_non_null(ca3);
  assert_string_equal(ca2, ca3);
  /* Only the earlier output remains: no staging folder. */
  DIR *d = opendir(tmpdir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, ".again.", 7) == 0)
      fail_msg("staging folder '%s' left behind", e->d_name);
  closedir(d);
  free(ca1);
  free(ca2);
  free(ca3);
}

/* SIGTERM while the hubs are made: exit 3, neither DIR nor a staging folder left. The shell
 * waits (at most 10 s, polling) for the staging folder to appear, then signals. */
static void test_interrupted(void **state) {
  (void)state;
  char out[400], err[420], script[2048];
  path_of(out, sizeof out, "intr");
  snprintf(err, sizeof err, "%s.err", out);
  snprintf(script, sizeof script,
           "\"$HUBSIM_BIN\" provision --out '%s' --hubs 50000 -q --fleet-key k 2>'%s' & p=$!; "
           "i=0; while [ $i -lt 1000 ] && ! ls -d '%s'/.intr.* >/dev/null 2>&1; do "
           "sleep 0.01; i=$((i+1)); done; kill -TERM $p; wait $p",
           out, err, tmpdir);
  int st = system(script);
  char *text = slurp(err);
  assert_non_null(text);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 3 || !strstr(text, "SIGTERM: stopped, nothing written"))
    fail_msg("status %d: %s", st, text);
  free(text);
  expect_nothing_left("intr");
}

/* --key-type rsa: RSA 2048 keys, the same chain and usages. */
static void test_rsa(void **state) {
  (void)state;
  char out[400], ca[500], crt[500], key[500];
  path_of(out, sizeof out, "rsa");
  const char *a[] = {"provision", "--out", out, "--hubs", "1", "--key-type", "rsa", "-q", NULL};
  int rc = spawn(a, &co);
  if (rc != 0)
    fail_msg("exit %d: %s", rc, co.err);
  snprintf(ca, sizeof ca, "%s/ca.crt", out);
  snprintf(crt, sizeof crt, "%s/hubs/hub-000000.crt", out);
  snprintf(key, sizeof key, "%s/hubs/hub-000000.key", out);
  verify_for(ca, crt, "sslclient", 0);
  cert_text(crt);
  expect_has(co.out, "rsaEncryption", crt);
  expect_has(co.out, "Public-Key: (2048 bit)", crt);
  expect_has(co.out, "TLS Web Client Authentication", crt);
  const char *pk[] = {"pkey", "-noout", "-text", "-in", key, NULL};
  openssl_expect(0, pk);
  expect_has(co.out, "Private-Key: (2048 bit", key);
  assert_int_equal(mode_of(key), 0600);
}

static void test_help(void **state) {
  (void)state;
  const char *a[] = {"provision", "--help", NULL};
  assert_int_equal(spawn(a, &co), 0);
  const char *flags[] = {"--out",
                         "--force",
                         "--key-type",
                         "--server-name",
                         "--days",
                         "--hubs",
                         "--devices-per-hub",
                         "--mix",
                         "--seed",
                         "--hub-model",
                         "--catalog",
                         "--fleet-key-file",
                         "HUBSIM_FLEET_KEY",
                         "urn:hubsim:hub:",
                         NULL};
  for (int i = 0; flags[i]; i++)
    expect_has(co.out, flags[i], "provision --help");
  const char *top[] = {"--help", NULL};
  assert_int_equal(spawn(top, &co), 0);
  expect_has(co.out, "provision", "hubsim --help");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help),
      cmocka_unit_test(test_certificates),
      cmocka_unit_test(test_files_and_secrets),
      cmocka_unit_test(test_rsa),
      cmocka_unit_test(test_registry_matches_run),
      cmocka_unit_test(test_bad_flags),
      cmocka_unit_test(test_bad_folders),
      cmocka_unit_test(test_force_and_failed_write),
      cmocka_unit_test(test_interrupted),
  };
  return cmocka_run_group_tests(tests, make_tmpdir, rm_tmpdir);
}
