/* Identities per second: how fast sim/pki makes a hub's key and certificate (one thread, in
 * memory), and how fast `hubsim provision` writes a whole fleet (every file, the registry, one
 * sync). Prints figures; asserts nothing.
 *
 *   bench/bench_provision [--certs N] [--key-type ec|rsa] [--hubs N --hubsim PATH --dir DIR]
 *
 * --hubs runs PATH provision --out DIR/bench-out --hubs N and times it (DIR must be on the file
 * system under test; the output is removed afterwards by the caller). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/core/err.h"
#include "sim/pki/pki.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* n hub certificates from one CA, in memory: the cost of the cryptography and the encoding. */
static int bench_pki(long n, enum sim_pki_key_type kt) {
  struct sim_pki_req q = {.role = SIM_PKI_CA, .key_type = kt, .cn = "bench CA"};
  q.not_before = (int64_t)time(NULL) - 3600;
  q.not_after = q.not_before + 86400 * 365;
  struct sim_pki_issuer *ca;
  struct sim_pki_cert pem;
  int rc = sim_pki_ca_new(&q, &ca, &pem);
  if (rc) {
    fprintf(stderr, "bench_provision: CA: %s\n", sim_strerror(rc));
    return 1;
  }
  sim_pki_cert_fini(&pem);
  q.role = SIM_PKI_CLIENT;
  q.san_uri = "urn:hubsim:hub:hub-000000";
  q.cn = "hub-000000";
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    rc = sim_pki_issue(ca, &q, &pem);
    if (rc) {
      fprintf(stderr, "bench_provision: issue: %s\n", sim_strerror(rc));
      sim_pki_issuer_free(ca);
      return 1;
    }
    sim_pki_cert_fini(&pem);
  }
  double dt = now_s() - t0;
  printf("sim/pki %s: %ld certificates with keys in %.3f s: %.0f identities/s (one thread, in "
         "memory)\n",
         kt == SIM_PKI_KEY_RSA_2048 ? "RSA 2048" : "ECDSA P-256", n, dt, (double)n / dt);
  sim_pki_issuer_free(ca);
  return 0;
}

/* The whole command: hubsim provision --hubs n into dir/bench-out. */
static int bench_cmd(const char *hubsim, const char *dir, const char *hubs, const char *kt) {
  char out[4096];
  snprintf(out, sizeof out, "%s/bench-out", dir);
  double t0 = now_s();
  pid_t pid = fork();
  if (pid == 0) {
    execl(hubsim, hubsim, "provision", "--out", out, "--hubs", hubs, "--key-type", kt, "-q",
          "--fleet-key", "bench-fleet-key", (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "bench_provision: %s provision failed\n", hubsim);
    return 1;
  }
  double dt = now_s() - t0;
  printf("hubsim provision --hubs %s --key-type %s: %.2f s wall: %.0f hub identities/s (files, "
         "registry, sync included)\n",
         hubs, kt, dt, atof(hubs) / dt);
  return 0;
}

int main(int argc, char **argv) {
  long certs = 2000;
  const char *kt = "ec", *hubs = NULL, *hubsim = NULL, *dir = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--certs") == 0)
      certs = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--key-type") == 0)
      kt = argv[i + 1];
    else if (strcmp(argv[i], "--hubs") == 0)
      hubs = argv[i + 1];
    else if (strcmp(argv[i], "--hubsim") == 0)
      hubsim = argv[i + 1];
    else if (strcmp(argv[i], "--dir") == 0)
      dir = argv[i + 1];
    else {
      fprintf(stderr, "usage: bench_provision [--certs N] [--key-type ec|rsa] [--hubs N "
                      "--hubsim PATH --dir DIR]\n");
      return 2;
    }
  }
  enum sim_pki_key_type t = strcmp(kt, "rsa") == 0 ? SIM_PKI_KEY_RSA_2048 : SIM_PKI_KEY_EC_P256;
  if (certs > 0 && bench_pki(certs, t))
    return 1;
  if (hubs && (!hubsim || !dir)) {
    fprintf(stderr, "bench_provision: --hubs needs --hubsim and --dir\n");
    return 2;
  }
  return hubs ? bench_cmd(hubsim, dir, hubs, kt) : 0;
}
