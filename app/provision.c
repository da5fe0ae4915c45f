/* `hubsim provision`: a fleet's TLS identities and its device registry, for a platform team to
 * import (docs/provision.md).
 *
 * The fleet is the one `hubsim run` would start with the same flags or scenario: the fleet
 * flags are read by run's own parser (app_run_flags, app_run_scenario, app_run_fleet_config)
 * and the hub ids, device models and EUI-64s come from a real fleet object (sim_fleet_new,
 * never started), so they cannot drift from what a run announces. Hub secrets are the fleet's
 * own derivation (sim_auth_hub_secret). Certificates come from sim/pki.
 *
 * Speed: one CA signs every hub certificate in a tight loop over P-256 keys (tens of
 * microseconds each), and the files are synced once, not one by one (provision_out.c). */
#include "app/provision.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/crypto.h>

#include <arpa/inet.h>

#include "app/parse.h"
#include "app/provision_internal.h"
#include "app/run_internal.h"
#include "app/version.h"
#include "devices/cat_global.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/fleet/fleet.h"
#include "sim/pki/pki.h"
#include "sim/wire/auth.h"
#include "sim/wire/hubrpc.h"

#define PROV_DEFAULT_DAYS 365
#define PROV_MAX_DAYS 3650
#define PROV_URI_PREFIX "urn:hubsim:hub:"

static void prov_usage(FILE *out) {
  fprintf(
      out,
      "usage: hubsim provision [SCENARIO] --out DIR [FLAGS]\n"
      "\n"
      "Writes the TLS identities and the device registry of a fleet into DIR: a CA, a\n"
      "certificate and key per hub, the hub secrets of the fleet key, a server certificate\n"
      "for the platform and the registry (CSV and JSON) a platform imports. The fleet is the\n"
      "one `hubsim run` starts with the same fleet flags or SCENARIO (its fleet{}): the same\n"
      "hub ids, device models and EUI-64s. Without SCENARIO, --hubs, --devices-per-hub and\n"
      "--mix, it is the demo scenario's fleet, as for hubsim run.\n"
      "\n"
      "output:\n"
      "  --out DIR             the folder to write; it must not exist or be empty (created\n"
      "                        0700). Written whole or not at all: nothing is left half-written\n"
      "  --force               replace DIR when an earlier hubsim provision wrote it\n"
      "  --key-type ec|rsa     ec: ECDSA P-256 (default); rsa: RSA 2048 (a key takes about\n"
      "                        a sixth of a second to make: for small fleets)\n"
      "  --server-name LIST    names of the platform's server certificate, comma separated:\n"
      "                        IP addresses become IP SANs, others DNS SANs; the first is the\n"
      "                        CN (default 127.0.0.1,localhost)\n"
      "  --days N              validity of every certificate from now, 1..3650 (default 365);\n"
      "                        it starts an hour back, for clocks a little behind\n"
      "  -q, --quiet           no progress lines on stderr\n"
      "  -h, --help            this text\n"
      "\n"
      "fleet (as for hubsim run, see hubsim run --help):\n"
      "  --hubs N, --devices-per-hub N, --mix LIST, --seed N, --hub-model ID, --catalog DIR,\n"
      "  --fleet-key KEY, --fleet-key-file FILE (or HUBSIM_FLEET_KEY): the key the hub\n"
      "  secrets derive from\n"
      "\n"
      "DIR holds: ca.crt, ca.key, server.crt, server.key, hubs/HUB.crt and hubs/HUB.key\n"
      "(CN = the hub id, SAN URI " PROV_URI_PREFIX
      "HUB, keyUsage digitalSignature, extendedKeyUsage\n"
      "clientAuth), hub-secrets.csv, registry.csv, registry.json and " PROV_MARKER ". Keys\n"
      "and secrets are mode 0600. Nothing secret is printed.\n"
      "Exit codes: 0 written; 2 a bad flag, scenario or output folder; 3 a failure while\n"
      "writing, or SIGINT/SIGTERM (DIR is then as it was).\n");
}

struct prov_opts {
  const char *out;
  int force, quiet;
  enum sim_pki_key_type key_type;
  char server_buf[512];
  const char *server[SIM_PKI_MAX_SAN];
  size_t n_server;
  uint64_t days;
  /* The fleet flags, for run's parser: "run", then each flag and its value. */
  const char *run_argv[48];
  int run_argc;
};

/* Provision's own flags, and the fleet flags: those are read here only to be passed on, as
 * "--NAME VALUE", to run's parser (PROV_FLEET_LETTERS). */
#define PROV_OWN_FLAG(name, has_arg, letter)                                                       \
  { name, has_arg, 0, letter }
#define PROV_FLEET_FLAG(name, letter)                                                              \
  { name, required_argument, 0, letter }
#define PROV_FLEET_LETTERS "HDMSgcKF"

static const struct option prov_longopts[] = {PROV_OWN_FLAG("out", required_argument, 'o'),
                                              PROV_OWN_FLAG("force", no_argument, 'f'),
                                              PROV_OWN_FLAG("key-type", required_argument, 't'),
                                              PROV_OWN_FLAG("server-name", required_argument, 'n'),
                                              PROV_OWN_FLAG("days", required_argument, 'y'),
                                              PROV_OWN_FLAG("quiet", no_argument, 'q'),
                                              PROV_OWN_FLAG("help", no_argument, 'h'),
                                              PROV_FLEET_FLAG("hubs", 'H'),
                                              PROV_FLEET_FLAG("devices-per-hub", 'D'),
                                              PROV_FLEET_FLAG("mix", 'M'),
                                              PROV_FLEET_FLAG("seed", 'S'),
                                              PROV_FLEET_FLAG("hub-model", 'g'),
                                              PROV_FLEET_FLAG("catalog", 'c'),
                                              PROV_FLEET_FLAG("fleet-key", 'K'),
                                              PROV_FLEET_FLAG("fleet-key-file", 'F'),
                                              {0, 0, 0, 0}};

/* "hubsim provision: FLAG 'VALUE': WHY" (no value part when value is NULL or ""); 2. */
static int prov_bad(const char *flag, const char *value, const char *why) {
  int v = value && *value;
  fprintf(stderr, "hubsim provision: %s%s%s%s: %s (see hubsim provision --help)\n", flag,
          v ? " '" : "", v ? value : "", v ? "'" : "", why);
  return 2;
}

/* A DNS name of the server certificate: letters, digits, '-' and '.', labels of 1..63. */
static int dns_name_ok(const char *s) {
  size_t label = 0, n = strlen(s);
  if (n == 0 || n > 253)
    return 0;
  for (const char *p = s; *p; p++) {
    if (*p == '.') {
      if (label == 0)
        return 0;
      label = 0;
    } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '-') {
      if (++label > 63)
        return 0;
    } else {
      return 0;
    }
  }
  return label > 0;
}

/* --server-name LIST into o->server. 0 or 2. */
static int parse_server_names(struct prov_opts *o, const char *text) {
  if (snprintf(o->server_buf, sizeof o->server_buf, "%s", text) >= (int)sizeof o->server_buf)
    return prov_bad("--server-name", text, "longer than 511 bytes");
  o->n_server = 0;
  char *save = NULL;
  for (char *t = strtok_r(o->server_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    unsigned char a[16];
    if (o->n_server == SIM_PKI_MAX_SAN)
      return prov_bad("--server-name", text, "at most 8 names");
    if (inet_pton(AF_INET, t, a) != 1 && inet_pton(AF_INET6, t, a) != 1 && !dns_name_ok(t))
      return prov_bad("--server-name", t,
                      "expected an IPv4 or IPv6 address or a DNS name (letters, digits, '-', "
                      "'.')");
    o->server[o->n_server++] = t;
  }
  return o->n_server ? 0 : prov_bad("--server-name", text, "expected at least one name");
}

/* One of provision's own flags. 0, 2 (bad), or 1 for --help. */
static int own_flag(struct prov_opts *o, int c) {
  if (c == 'o' || c == 'f' || c == 'q') { /* a folder, or a switch */
    if (c == 'o')
      o->out = optarg;
    else if (c == 'f')
      o->force = 1;
    else
      o->quiet = 1;
    return 0;
  }
  if (c == 't') {
    if (strcmp(optarg, "ec") == 0 || strcmp(optarg, "ecdsa") == 0)
      o->key_type = SIM_PKI_KEY_EC_P256;
    else if (strcmp(optarg, "rsa") == 0)
      o->key_type = SIM_PKI_KEY_RSA_2048;
    else
      return prov_bad("--key-type", optarg, "expected ec (ECDSA P-256) or rsa (RSA 2048)");
    return 0;
  }
  if (c == 'n')
    return parse_server_names(o, optarg);
  if (c == 'y')
    return app_parse_u64(optarg, 1, PROV_MAX_DAYS, &o->days)
               ? prov_bad("--days", optarg, "expected a whole number of days from 1 to 3650")
               : 0;
  if (c == 'h') {
    prov_usage(stdout);
    return 1;
  }
  return 2;
}

/* The command line: provision's flags into o, the fleet flags (and SCENARIO) into o->run_argv
 * for run's parser. APP_RUN_GO_ON or the exit code. */
static int prov_flags(struct prov_opts *o, int argc, char **argv) {
  unsigned char seen[128] = {0};
  int c;
  *o = (struct prov_opts){.key_type = SIM_PKI_KEY_EC_P256, .days = PROV_DEFAULT_DAYS};
  parse_server_names(o, "127.0.0.1,localhost");
  /* No dashboard, no progress: run's parser would otherwise look at the terminal. */
  const char *fixed[] = {"run", "--ui", "none", "-q"};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    o->run_argv[o->run_argc++] = fixed[i];
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":qh", prov_longopts, NULL)) != -1) {
    if (c == ':')
      return prov_bad(argv[optind - 1], "", "needs a value");
    if (c == '?')
      return prov_bad(argv[optind - 1], "", "unknown flag");
    if (c > 0 &&
        strchr(PROV_FLEET_LETTERS, c)) { /* a fleet flag: run's parser judges it (and a repeat) */
      static char names[48][24];
      if (o->run_argc + 2 > (int)(sizeof o->run_argv / sizeof o->run_argv[0]) - 1)
        return prov_bad(argv[optind - 1], "", "too many fleet flags");
      for (const struct option *lo = prov_longopts; lo->name; lo++)
        if (lo->val == c)
          snprintf(names[o->run_argc], sizeof names[0], "--%s", lo->name);
      /* "--NAME" then the value, whatever form (--hubs=5, an abbreviation) was given here. */
      o->run_argv[o->run_argc] = names[o->run_argc];
      o->run_argc++;
      o->run_argv[o->run_argc++] = optarg;
      continue;
    }
    if (c > 0 && c < 128 && seen[c]++) {
      char name[32] = "-?";
      for (const struct option *lo = prov_longopts; lo->name; lo++)
        if (lo->val == c)
          snprintf(name, sizeof name, "--%s", lo->name);
      return prov_bad(name, optarg ? optarg : "", "given twice");
    }
    int rc = own_flag(o, c);
    if (rc == 1)
      return 0;
    if (rc)
      return rc;
  }
  if (optind < argc)
    o->run_argv[o->run_argc++] = argv[optind++];
  if (optind < argc)
    return prov_bad(argv[optind], "", "unexpected argument: one scenario at most");
  if (!o->out)
    return prov_bad("--out", "", "is required: the folder to write");
  return APP_RUN_GO_ON;
}

/* ---- the fleet ---- */

struct prov_fleet {
  uv_loop_t loop;
  struct sim_transport *t;
  struct sim_fleet *f;
  int loop_ok;
};

static void fleet_stopped(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}

/* The fleet of cfg, created and never started: its hub ids, device models and EUI-64s. */
static int fleet_open(struct prov_fleet *pf, const struct sim_fleet_config *cfg) {
  memset(pf, 0, sizeof *pf);
  int rc = uv_loop_init(&pf->loop);
  if (rc)
    return rc;
  pf->loop_ok = 1;
  rc = sim_transport_mem_new(&pf->loop, &pf->t);
  if (rc == 0)
    rc = sim_fleet_new(&pf->loop, pf->t, cfg, &pf->f);
  return rc;
}

static void fleet_close(struct prov_fleet *pf) {
  if (pf->f) {
    int done = 0;
    sim_fleet_stop(pf->f, fleet_stopped, &done);
    for (int i = 0; i < 100 && !done; i++)
      uv_run(&pf->loop, UV_RUN_NOWAIT);
    sim_fleet_free(pf->f);
  }
  if (pf->t)
    sim_transport_free(pf->t);
  if (pf->loop_ok) {
    uv_run(&pf->loop, UV_RUN_NOWAIT);
    uv_loop_close(&pf->loop);
  }
}

/* ---- the identities ---- */

struct prov_run {
  struct prov_opts *o;
  struct sim_fleet_config *cfg;
  struct prov_out out;
  struct sim_pki_issuer *ca;
  struct sim_pki_req base; /* validity and key type, shared by every certificate */
  char ca_sha[65], server_sha[65];
  struct sim_wfile secrets, csv, json;
  int secrets_open, csv_open, json_open;
  uint64_t devices;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sha_hex(char out[65], const uint8_t sha[32]) {
  sim_hex_encode(out, sha, 32, 0);
}

/* The CA and the platform's server certificate. 0 or 3. */
static int write_ca_server(struct prov_run *r) {
  struct sim_pki_req q = r->base;
  struct sim_pki_cert ca = {0}, srv = {0};
  q.role = SIM_PKI_CA;
  q.cn = "hubsim fleet CA";
  int rc = sim_pki_ca_new(&q, &r->ca, &ca);
  if (rc) {
    fprintf(stderr, "hubsim provision: cannot make the CA: %s\n", sim_strerror(rc));
    return 3;
  }
  q = r->base;
  q.role = SIM_PKI_SERVER;
  q.cn = r->o->server[0];
  for (size_t i = 0; i < r->o->n_server; i++) {
    unsigned char a[16];
    const char *s = r->o->server[i];
    if (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1)
      q.san_ip[q.n_ip++] = s;
    else
      q.san_dns[q.n_dns++] = s;
  }
  rc = sim_pki_issue(r->ca, &q, &srv);
  if (rc) {
    fprintf(stderr, "hubsim provision: cannot make the server certificate: %s\n", sim_strerror(rc));
    sim_pki_cert_fini(&ca);
    return 3;
  }
  sha_hex(r->ca_sha, ca.sha256);
  sha_hex(r->server_sha, srv.sha256);
  rc = prov_out_write(&r->out, "ca.crt", 0644, ca.cert_pem, ca.cert_len);
  if (rc == 0)
    rc = prov_out_write(&r->out, "ca.key", 0600, ca.key_pem, ca.key_len);
  if (rc == 0)
    rc = prov_out_write(&r->out, "server.crt", 0644, srv.cert_pem, srv.cert_len);
  if (rc == 0)
    rc = prov_out_write(&r->out, "server.key", 0600, srv.key_pem, srv.key_len);
  sim_pki_cert_fini(&ca);
  sim_pki_cert_fini(&srv);
  return rc;
}

/* The registry's and the secrets' files, opened for the hubs' rows, with their heads. */
static int open_lists(struct prov_run *r) {
  int rc = prov_out_open(&r->out, "hub-secrets.csv", 0600, &r->secrets);
  if (rc)
    return rc;
  r->secrets_open = 1;
  fputs("hub_id,secret_hex\n", r->secrets.fp);
  rc = prov_out_open(&r->out, "registry.csv", 0644, &r->csv);
  if (rc)
    return rc;
  r->csv_open = 1;
  fputs("hub_id,hub_model,hub_firmware,cert_sha256,device_eui64,device_model\n", r->csv.fp);
  rc = prov_out_open(&r->out, "registry.json", 0644, &r->json);
  if (rc)
    return rc;
  r->json_open = 1;
  fprintf(r->json.fp,
          "{\"format\":\"hubsim-registry\",\"version\":1,\"ca_sha256\":\"%s\","
          "\"server_sha256\":\"%s\",\"hubs\":[",
          r->ca_sha, r->server_sha);
  return 0;
}

/* The registry rows of one hub (CSV: one per device; JSON: one object). 0, SIM_ENOMEM, or
 * the error of a failed write to registry.json (the CSV's show at its commit). */
static int registry_hub(struct prov_run *r, struct sim_fleet *f, uint32_t g, const char *id,
                        const char *sha) {
  const char *model = r->cfg->hub_model ? r->cfg->hub_model : "";
  const char *fw = r->cfg->hub_firmware ? r->cfg->hub_firmware : "";
  json_t *hub = json_pack("{s:s,s:s,s:s,s:s,s:[]}", "id", id, "model", model, "firmware", fw,
                          "cert_sha256", sha, "devices");
  if (!hub)
    return SIM_ENOMEM;
  json_t *devs = json_object_get(hub, "devices");
  int any = 0, rc = 0;
  for (uint32_t s = 0; s < r->cfg->devices_per_hub && rc == 0; s++) {
    struct sim_device_info di;
    if (sim_fleet_device_info(f, g, s, &di) || !di.model)
      continue;
    char eui[17];
    snprintf(eui, sizeof eui, "%016" PRIx64, di.eui64);
    if (json_array_append_new(devs,
                              json_pack("{s:s,s:s}", "eui64", eui, "model", di.model->model_id)))
      rc = SIM_ENOMEM;
    const char *row[] = {id, model, fw, sha, eui, di.model->model_id};
    for (size_t i = 0; i < 6; i++) {
      prov_csv_field(r->csv.fp, row[i]);
      fputc(i < 5 ? ',' : '\n', r->csv.fp);
    }
    any = 1;
    r->devices++;
  }
  if (!any) { /* a hub without devices still has its row */
    const char *row[] = {id, model, fw, sha};
    for (size_t i = 0; i < 4; i++) {
      prov_csv_field(r->csv.fp, row[i]);
      fputc(',', r->csv.fp);
    }
    fputs(",\n", r->csv.fp);
  }
  if (g > 0)
    fputc(',', r->json.fp);
  fputc('\n', r->json.fp);
  errno = 0;
  if (rc == 0 && json_dumpf(hub, r->json.fp, JSON_COMPACT | JSON_PRESERVE_ORDER))
    rc = errno ? -errno : SIM_EIO;
  json_decref(hub);
  return rc;
}

/* One hub's key and certificate, written; its fingerprint into sha. Runs in any of the
 * generating threads (iss is that thread's). 0 or 3. */
static int gen_hub(struct prov_run *r, struct sim_fleet *f, struct sim_pki_issuer *iss, uint32_t g,
                   char sha[65]) {
  char id[SIM_HUBRPC_HUB_ID_MAX + 1], uri[sizeof id + sizeof PROV_URI_PREFIX], rel[sizeof id + 16];
  sim_fleet_hub_id(f, g, id, sizeof id);
  struct sim_pki_req q = r->base;
  q.role = SIM_PKI_CLIENT;
  q.cn = id;
  snprintf(uri, sizeof uri, PROV_URI_PREFIX "%s", id);
  q.san_uri = uri;
  struct sim_pki_cert c;
  int rc = sim_pki_issue(iss, &q, &c);
  if (rc) {
    fprintf(stderr, "hubsim provision: cannot make the certificate of %s: %s\n", id,
            sim_strerror(rc));
    return 3;
  }
  sha_hex(sha, c.sha256);
  snprintf(rel, sizeof rel, "hubs/%s.crt", id);
  rc = prov_out_write(&r->out, rel, 0644, c.cert_pem, c.cert_len);
  snprintf(rel, sizeof rel, "hubs/%s.key", id);
  if (rc == 0)
    rc = prov_out_write(&r->out, rel, 0600, c.key_pem, c.key_len);
  sim_pki_cert_fini(&c);
  return rc;
}

/* One hub's secret and registry rows, in hub order (the main thread). 0 or 3. */
static int list_hub(struct prov_run *r, struct sim_fleet *f, uint32_t g, const char *sha) {
  char id[SIM_HUBRPC_HUB_ID_MAX + 1];
  sim_fleet_hub_id(f, g, id, sizeof id);
  uint8_t secret[32];
  char secret_hex[65];
  if (sim_auth_hub_secret(r->cfg->fleet_key, r->cfg->fleet_key_len, id, secret)) {
    fprintf(stderr, "hubsim provision: cannot derive the secret of %s\n", id);
    return 3;
  }
  sim_hex_encode(secret_hex, secret, sizeof secret, 0);
  prov_csv_field(r->secrets.fp, id);
  fprintf(r->secrets.fp, ",%s\n", secret_hex);
  OPENSSL_cleanse(secret, sizeof secret);
  OPENSSL_cleanse(secret_hex, sizeof secret_hex);
  int rc = registry_hub(r, f, g, id, sha);
  if (rc) {
    fprintf(stderr, "hubsim provision: cannot write registry.json: %s\n", sim_strerror(rc));
    return 3;
  }
  return 0;
}

/* SIGINT or SIGTERM: the work stops at the next batch and the staging folder goes, so an
 * interrupted command leaves DIR as it was. */
static volatile sig_atomic_t prov_signal;

static void on_signal(int sig) {
  prov_signal = sig;
}

/* 0, or 3 after a message when a signal asked the command to stop. */
static int interrupted(void) {
  if (!prov_signal)
    return 0;
  fprintf(stderr, "hubsim provision: %s: stopped, nothing written\n",
          prov_signal == SIGINT ? "SIGINT" : "SIGTERM");
  return 3;
}

/* Hubs are made in batches: every thread takes every n_threads-th hub of the batch (keys and
 * signatures are the cost, and they are independent), then the main thread writes the batch's
 * rows in order. */
#define PROV_BATCH 1024u
#define PROV_MAX_THREADS 8

struct prov_job {
  struct prov_run *r;
  struct sim_fleet *f;
  struct sim_pki_issuer *iss;
  uint32_t first, n, step, off;
  char (*sha)[65];
  int rc;
};

static void job_run(void *arg) {
  struct prov_job *j = arg;
  for (uint32_t i = j->off; i < j->n && j->rc == 0; i += j->step)
    j->rc = gen_hub(j->r, j->f, j->iss, j->first + i, j->sha[i]);
}

/* Every hub, in batches over the threads. 0 or 3. */
static int write_hubs(struct prov_run *r, struct sim_fleet *f) {
  static char sha[PROV_BATCH][65];
  struct prov_job jobs[PROV_MAX_THREADS];
  uv_thread_t th[PROV_MAX_THREADS];
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  uint32_t nt = ncpu < 1 ? 1 : ncpu > PROV_MAX_THREADS ? PROV_MAX_THREADS : (uint32_t)ncpu;
  int rc = 0;
  for (uint32_t t = 0; t < nt; t++) {
    jobs[t] = (struct prov_job){.r = r, .f = f, .step = nt, .off = t, .sha = sha};
    if (t > 0 && sim_pki_issuer_dup(r->ca, &jobs[t].iss))
      nt = t; /* fewer threads, not a failure */
  }
  jobs[0].iss = r->ca;
  uint32_t n = r->cfg->hubs;
  double last = now_s();
  for (uint32_t first = 0; rc == 0 && first < n; first += PROV_BATCH) {
    if ((rc = interrupted()) != 0)
      break;
    uint32_t m = n - first < PROV_BATCH ? n - first : PROV_BATCH;
    uint32_t started = 1;
    for (uint32_t t = 0; t < nt; t++) {
      jobs[t].first = first;
      jobs[t].n = m;
      jobs[t].step = nt;
      if (t > 0 && uv_thread_create(&th[t], job_run, &jobs[t]) == 0)
        started = t + 1;
    }
    /* A thread that could not start leaves its share to this one. */
    for (uint32_t t = started; t < nt; t++)
      job_run(&jobs[t]);
    job_run(&jobs[0]);
    for (uint32_t t = 1; t < started; t++)
      uv_thread_join(&th[t]);
    for (uint32_t t = 0; t < nt && rc == 0; t++)
      rc = jobs[t].rc;
    for (uint32_t i = 0; rc == 0 && i < m; i++)
      rc = list_hub(r, f, first + i, sha[i]);
    if (!r->o->quiet && now_s() - last >= 2) {
      last = now_s();
      fprintf(stderr, "hubsim provision: %" PRIu32 "/%" PRIu32 " hubs\n", first + m, n);
    }
  }
  for (uint32_t t = 1; t < nt; t++)
    sim_pki_issuer_free(jobs[t].iss);
  return rc;
}

/* Closes the lists (their tails written) and writes the marker. 0 or 3. */
static int close_lists(struct prov_run *r, uint32_t hubs) {
  fprintf(r->json.fp, "\n],\"hub_count\":%" PRIu32 ",\"device_count\":%" PRIu64 "}\n", hubs,
          r->devices);
  struct {
    struct sim_wfile *w;
    int *open;
    const char *name;
  } l[] = {{&r->secrets, &r->secrets_open, "hub-secrets.csv"},
           {&r->csv, &r->csv_open, "registry.csv"},
           {&r->json, &r->json_open, "registry.json"}};
  for (size_t i = 0; i < 3; i++) {
    *l[i].open = 0;
    int rc = sim_wfile_commit(l[i].w);
    if (rc) {
      fprintf(stderr, "hubsim provision: cannot write %s: %s\n", l[i].name, sim_strerror(rc));
      return 3;
    }
  }
  char text[256];
  int n = snprintf(text, sizeof text,
                   "written by hubsim provision %s\nhubs %" PRIu32 "\ndevices %" PRIu64
                   "\nkey-type %s\n",
                   HUBSIM_VERSION, hubs, r->devices,
                   r->base.key_type == SIM_PKI_KEY_RSA_2048 ? "rsa-2048" : "ecdsa-p256");
  return prov_out_write(&r->out, PROV_MARKER, 0644, text, (size_t)n);
}

/* Every file, staged, then published. 0 or 3 (the staging folder removed). */
static int write_all(struct prov_run *r, struct sim_fleet *f) {
  double t0 = now_s();
  int rc = prov_out_stage(&r->out);
  if (rc == 0)
    rc = write_ca_server(r);
  if (rc == 0)
    rc = open_lists(r);
  if (rc == 0)
    rc = write_hubs(r, f);
  uint32_t n = r->cfg->hubs;
  if (rc == 0)
    rc = close_lists(r, n);
  if (rc == 0)
    rc = interrupted();
  if (rc == 0)
    rc = prov_out_publish(&r->out);
  if (r->secrets_open)
    sim_wfile_abort(&r->secrets);
  if (r->csv_open)
    sim_wfile_abort(&r->csv);
  if (r->json_open)
    sim_wfile_abort(&r->json);
  prov_out_discard(&r->out);
  if (rc)
    return rc;
  double dt = now_s() - t0;
  printf("hubsim provision: wrote %s: %" PRIu32 " hubs (%" PRIu64 " devices), %s, valid %" PRIu64
         " days\n"
         "  ca.crt sha256 %s\n  server.crt sha256 %s (",
         r->out.target, n, r->devices,
         r->base.key_type == SIM_PKI_KEY_RSA_2048 ? "RSA 2048" : "ECDSA P-256", r->o->days,
         r->ca_sha, r->server_sha);
  for (size_t i = 0; i < r->o->n_server; i++)
    printf("%s%s", i ? ", " : "", r->o->server[i]);
  printf(")\n  %.2f s, %.0f hub identities/s\n", dt, dt > 0 ? n / dt : 0.0);
  return 0;
}

/* The catalogue (built-in models and --catalog's). APP_RUN_GO_ON or 2. */
static int prov_catalog(const struct run_opts *ro) {
  struct dev_cat_error cerr;
  if (dev_cat_global_init(ro->catalog, ro->n_catalog, &cerr) >= 0)
    return APP_RUN_GO_ON;
  fprintf(stderr, "hubsim provision: --catalog: %s:%d: %s\n", cerr.file, cerr.line, cerr.reason);
  return 2;
}

/* The fleet of the fleet flags and the scenario, through run's own steps. APP_RUN_GO_ON with
 * *scn (may stay NULL) and *cfg set, or the exit code. */
static int prov_fleet_config(struct prov_opts *o, struct run_opts *ro, struct scn **scn,
                             struct sim_fleet_config *cfg) {
  app_run_flags_command("hubsim provision");
  int rc = app_run_flags(ro, o->run_argc, (char **)o->run_argv);
  if (rc != APP_RUN_GO_ON)
    return rc;
  if ((rc = prov_catalog(ro)) != APP_RUN_GO_ON)
    return rc;
  if ((rc = app_run_scenario(ro, scn)) != APP_RUN_GO_ON)
    return rc;
  return app_run_fleet_config(ro, *scn, cfg);
}

int app_provision_main(int argc, char **argv) {
  static struct prov_opts o;
  static struct sim_fleet_config cfg;
  static struct prov_run r;
  struct run_opts ro = {0};
  struct scn *scn = NULL;
  struct prov_fleet pf = {0};
  /* A file size limit would kill the command at the first write beyond it (SIGXFSZ), leaving
   * its staging folder: ignored, that write fails (EFBIG) and everything staged is removed. */
  signal(SIGXFSZ, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  int rc = prov_flags(&o, argc, argv);
  if (rc != APP_RUN_GO_ON)
    return rc;
  rc = prov_fleet_config(&o, &ro, &scn, &cfg);
  memset(&r, 0, sizeof r);
  if (rc == APP_RUN_GO_ON)
    rc = prov_out_check(&r.out, o.out, o.force) ? 2 : APP_RUN_GO_ON;
  if (rc == APP_RUN_GO_ON && fleet_open(&pf, &cfg)) {
    fprintf(stderr, "hubsim provision: cannot lay out the fleet (%" PRIu32 " hubs)\n", cfg.hubs);
    rc = 3;
  }
  if (rc == APP_RUN_GO_ON) {
    if (strcmp(ro.key, APP_RUN_DEFAULT_KEY) == 0)
      fprintf(stderr, "hubsim provision: note: the hub secrets derive from the public demo "
                      "fleet key; give --fleet-key-file or HUBSIM_FLEET_KEY for a real one\n");
    time_t now = time(NULL);
    r.o = &o;
    r.cfg = &cfg;
    r.base.key_type = o.key_type;
    r.base.not_before = (int64_t)now - 3600;
    r.base.not_after = (int64_t)now + (int64_t)o.days * 86400;
    rc = write_all(&r, pf.f);
  }
  fleet_close(&pf);
  if (r.ca)
    sim_pki_issuer_free(r.ca);
  if (scn)
    scn_free(scn);
  app_run_flags_fini(&ro);
  return rc;
}
