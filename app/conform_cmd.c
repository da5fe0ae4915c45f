/* `hubsim conform`: flags, the run of the selected cases, the table and the JUnit file. */
#include "app/conform_cmd.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/parse.h"
#include "conform/conform.h"
#include "conform/report.h"
#include "sim/core/err.h"
#include "sim/core/keyfile.h"
#include "sim/core/log.h"

#define CONFORM_DEFAULT_KEY "hubsim-demo-fleet-key"
#define CONFORM_ONLY_MAX 256

static void usage(FILE *out) {
  fprintf(out,
          "usage: hubsim conform --platform URL [FLAGS]\n"
          "\n"
          "Runs the hubrpc v1 conformance suite against a platform: one named case per normative\n"
          "rule of docs/protocol.md (framing and limits, handshake and authentication, Welcome,\n"
          "acknowledgements after storage, the window, resending and de-duplication, boot ids,\n"
          "heartbeats and timeouts, error codes, command results, joins and leaves, Goodbye).\n"
          "Each case speaks as a fresh hub of its own (hub ids cf-...). docs/conformance.md lists\n"
          "every case.\n"
          "\n"
          "flags:\n"
          "  --platform URL        hubrpc://HOST:PORT or hubrpcs://HOST:PORT (TLS); required\n"
          "  --fleet-key KEY       the platform's fleet key (default \"" CONFORM_DEFAULT_KEY
          "\");\n"
          "                        visible to every user in the process list (ps)\n"
          "  --fleet-key-file FILE read the key from FILE (not readable by other users); the\n"
          "                        environment variable HUBSIM_FLEET_KEY works too\n"
          "  --ca FILE             hubrpcs://: PEM CA certificates the platform's chains to\n"
          "  --insecure            hubrpcs://: do not verify the platform's certificate\n"
          "  --junit FILE          write the results as JUnit XML (one testcase per case)\n"
          "  --only CASE           run only this case; repeat it or give a comma list; a name\n"
          "                        ending in '.' selects a group (--only frame.,auth.bad_mac)\n"
          "  --list                print the cases (name, spec section, what it checks), exit\n"
          "  --restart-cmd CMD     a shell command that restarts the platform (with its store)\n"
          "                        and returns once it accepts connections again; without it\n"
          "                        the cases that need a restart are skipped\n"
          "  --stop-cmd CMD        a shell command that stops the platform in order (as on\n"
          "                        SIGTERM) and returns once it stopped; with --restart-cmd,\n"
          "                        session.shutdown checks the final Acks and the\n"
          "                        Error{SHUTTING_DOWN}; without both it is skipped\n"
          "  --command-cmd CMD     a shell command that makes the platform send a Command to\n"
          "                        the device {eui64} (16 hex digits) behind the hub {hub}\n"
          "                        (both replaced, shell-quoted) and exits 0; bounded by\n"
          "                        --max-wait. Without it the cmd.* cases that need a Command\n"
          "                        are skipped\n"
          "  --command-deadline DUR  the platform's deadline for a CommandResult (default 30s,\n"
          "                        docs/protocol.md 10): cmd.result_late answers 1s after it,\n"
          "                        and is skipped when that and 2 x --timeout exceed --max-wait\n"
          "  --timeout DUR         how long to wait for an answer the platform owes at once\n"
          "                        (default 5s)\n"
          "  --max-wait DUR        the longest a case may wait for a timer of the platform, such\n"
          "                        as the idle timeout of 3 x heartbeat_s (default 60s); a case\n"
          "                        that would wait longer is skipped\n"
          "  -h, --help            this text\n"
          "\n"
          "Output: a table (case, spec section, result, reason); a failed case says what it sent,\n"
          "what it expected and what came back.\n"
          "\n"
          "exit codes: 0 every case that was not skipped passed, 1 a case failed, 2 bad flags,\n"
          "3 the platform could not be reached.\n");
}

static int bad(const char *flag, const char *value, const char *why) {
  if (*value)
    fprintf(stderr, "hubsim conform: %s '%s': %s\n", flag, value, why);
  else
    fprintf(stderr, "hubsim conform: %s: %s\n", flag, why);
  return 2;
}

struct conform_args {
  struct conform_opts o;
  const char *junit, *key, *key_file;
  const char *only[CONFORM_ONLY_MAX];
  size_t n_only;
  int list;
};

static int check_url(struct conform_args *a, const char *url) {
  const char *sep = strstr(url, "://");
  struct in_addr ip;
  if (sep && !(sep - url == 6 && strncasecmp(url, "hubrpc", 6) == 0) && !sim_addr_is_tls(url))
    return bad("--platform", url, "expected hubrpc://HOST:PORT or hubrpcs://HOST:PORT");
  if (sim_addr_parse(url, &a->o.addr) || a->o.addr.port == 0)
    return bad("--platform", url, "expected hubrpc://HOST:PORT with a port from 1 to 65535");
  if (inet_pton(AF_INET, a->o.addr.host, &ip) != 1)
    return bad("--platform", url, "HOST must be an IPv4 address such as 127.0.0.1");
  a->o.url = url;
  a->o.tls = sim_addr_is_tls(url);
  return 0;
}

/* Adds the comma list v to --only, each name checked against the cases. */
static int add_only(struct conform_args *a, char *v) {
  for (char *save = NULL, *n = strtok_r(v, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
    size_t l = strlen(n);
    int found = 0;
    const struct conform_case *c;
    for (size_t i = 0; (c = conform_case_at(i)) && !found; i++)
      found = l && n[l - 1] == '.' ? strncmp(c->name, n, l) == 0 : strcmp(c->name, n) == 0;
    if (!found)
      return bad("--only", n, "no such case or group (hubsim conform --list names them)");
    if (a->n_only == CONFORM_ONLY_MAX)
      return bad("--only", n, "too many names");
    a->only[a->n_only++] = n;
  }
  return 0;
}

static int parse_dur(const char *flag, const char *v, uint32_t *ms) {
  double s;
  if (app_parse_duration(v, 1, 3600, &s) || s < 0.1)
    return bad(flag, v, "expected a duration from 100ms to 1h such as 5s or 2m");
  *ms = (uint32_t)(s * 1000.0 + 0.5);
  return 0;
}

static int key_of(struct conform_args *a) {
  const char *why;
  if (a->key && a->key_file)
    return bad("--fleet-key-file", a->key_file,
               "give the key once: --fleet-key or --fleet-key-file");
  if (a->key_file) {
    if (sim_keyfile_read(a->key_file, a->o.key, sizeof(a->o.key), &a->o.key_len, &why))
      return bad("--fleet-key-file", a->key_file, why);
    return 0;
  }
  const char *k = a->key ? a->key : getenv("HUBSIM_FLEET_KEY");
  const char *what = a->key ? "--fleet-key" : "HUBSIM_FLEET_KEY";
  if (!k)
    k = CONFORM_DEFAULT_KEY;
  if (!*k || strlen(k) > CONFORM_KEY_MAX)
    return bad(what, "...", "expected 1 to 128 bytes");
  a->o.key_len = strlen(k);
  memcpy(a->o.key, k, a->o.key_len);
  return 0;
}

static const struct option opts[] = {{"platform", required_argument, NULL, 'P'},
                                     {"fleet-key", required_argument, NULL, 'K'},
                                     {"fleet-key-file", required_argument, NULL, 'F'},
                                     {"ca", required_argument, NULL, 'e'},
                                     {"insecure", no_argument, NULL, 'i'},
                                     {"junit", required_argument, NULL, 'j'},
                                     {"only", required_argument, NULL, 'o'},
                                     {"list", no_argument, NULL, 'l'},
                                     {"restart-cmd", required_argument, NULL, 'r'},
                                     {"command-cmd", required_argument, NULL, 'C'},
                                     {"stop-cmd", required_argument, NULL, 'S'},
                                     {"command-deadline", required_argument, NULL, 'D'},
                                     {"timeout", required_argument, NULL, 't'},
                                     {"max-wait", required_argument, NULL, 'w'},
                                     {"help", no_argument, NULL, 'h'},
                                     {0}};

/* -1: go on; else the exit code. */
static int parse(struct conform_args *a, int argc, char **argv) {
  *a = (struct conform_args){
      .o = {.timeout_ms = 5000, .max_wait_ms = 60000, .cmd_deadline_ms = 30000}};
  int c, rc = 0;
  opterr = 0;
  optind = 1;
  while (!rc && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'P':
      rc = check_url(a, optarg);
      break;
    case 'K':
      a->key = optarg;
      break;
    case 'F':
      a->key_file = optarg;
      break;
    case 'e':
      a->o.ca = optarg;
      break;
    case 'i':
      a->o.insecure = 1;
      break;
    case 'j':
      a->junit = optarg;
      break;
    case 'o':
      rc = add_only(a, optarg);
      break;
    case 'l':
      a->list = 1;
      break;
    case 'r':
      a->o.restart_cmd = optarg;
      break;
    case 'C':
      a->o.command_cmd = optarg;
      break;
    case 'S':
      a->o.stop_cmd = optarg;
      break;
    case 'D':
      rc = parse_dur("--command-deadline", optarg, &a->o.cmd_deadline_ms);
      break;
    case 't':
      rc = parse_dur("--timeout", optarg, &a->o.timeout_ms);
      break;
    case 'w':
      rc = parse_dur("--max-wait", optarg, &a->o.max_wait_ms);
      break;
    case 'h':
      usage(stdout);
      return 0;
    case ':':
      return bad(argv[optind - 1], "", "needs a value (hubsim conform --help)");
    default:
      return bad(argv[optind - 1], "", "unknown flag (hubsim conform --help)");
    }
  }
  if (rc)
    return rc;
  if (optind < argc)
    return bad("argument", argv[optind], "hubsim conform takes flags only");
  if (a->list)
    return -1;
  if (!a->o.url)
    return bad("--platform", "", "is required: the URL of the platform to check");
  if ((a->o.ca || a->o.insecure) && !a->o.tls)
    return bad(a->o.ca ? "--ca" : "--insecure", a->o.ca ? a->o.ca : "",
               "applies to hubrpcs:// only");
  if (a->o.ca && a->o.insecure)
    return bad("--insecure", "", "turns off the check that --ca is for: give one or the other");
  if (a->o.command_cmd && !*a->o.command_cmd)
    return bad("--command-cmd", "", "empty command");
  if (a->o.stop_cmd && !*a->o.stop_cmd)
    return bad("--stop-cmd", "", "empty command");
  if (a->junit && !*a->junit)
    return bad("--junit", a->junit, "empty path");
  rc = key_of(a);
  return rc ? rc : -1;
}

static int selected(const struct conform_args *a, const struct conform_case *c) {
  if (!a->n_only)
    return 1;
  for (size_t i = 0; i < a->n_only; i++) {
    size_t l = strlen(a->only[i]);
    if (a->only[i][l - 1] == '.' ? strncmp(c->name, a->only[i], l) == 0
                                 : strcmp(c->name, a->only[i]) == 0)
      return 1;
  }
  return 0;
}

/* A connect before the cases: an unreachable platform is one clear error, not 40 failures. */
static int probe(const struct conform_opts *o) {
  struct conform_drv d;
  struct conform_conn c;
  const char *why;
  int rc = conform_drv_init(&d, o, &why);
  if (rc) {
    fprintf(stderr, "hubsim conform: %s%s\n", o->ca ? "--ca: " : "", why ? why : sim_strerror(rc));
    return 2;
  }
  conform_conn_init(&c, &d);
  rc = conform_connect(&d, &c);
  conform_close(&c);
  conform_drv_fini(&d);
  if (rc) {
    fprintf(stderr, "hubsim conform: cannot reach the platform at %s: %s\n", o->url,
            sim_strerror(rc));
    return 3;
  }
  return 0;
}

int app_conform_main(int argc, char **argv) {
  struct conform_args a;
  int rc = parse(&a, argc, argv);
  if (rc >= 0)
    return rc;
  const struct conform_case *c;
  if (a.list) {
    for (size_t i = 0; (c = conform_case_at(i)); i++)
      if (selected(&a, c))
        printf("%-26s %-17s %s\n", c->name, c->section, c->what);
    return 0;
  }
  /* The transports log what they see (a refused TLS handshake, a reset); the table says it. */
  sim_log_set_level(SIM_LOG_ERROR);
  if ((rc = probe(&a.o)))
    return rc;
  size_t n = 0, failed = 0;
  struct conform_result *res = calloc(256, sizeof(*res));
  if (!res)
    return 3;
  for (size_t i = 0; (c = conform_case_at(i)) && n < 256; i++) {
    if (!selected(&a, c))
      continue;
    const char *why;
    if ((rc = conform_run_case(&a.o, c, &res[n], &why))) {
      fprintf(stderr, "hubsim conform: %s\n", why ? why : sim_strerror(rc));
      free(res);
      return 3;
    }
    fprintf(stderr, "%-26s %s\n", c->name,
            res[n].verdict == CONFORM_PASS   ? "pass"
            : res[n].verdict == CONFORM_FAIL ? "FAIL"
                                             : "skipped");
    failed += res[n].verdict == CONFORM_FAIL;
    n++;
  }
  conform_report_table(stdout, res, n);
  rc = failed ? 1 : 0;
  if (a.junit) {
    int jrc = conform_report_junit(a.junit, a.o.url, res, n);
    if (jrc) {
      fprintf(stderr, "hubsim conform: --junit '%s': cannot write: %s\n", a.junit,
              sim_strerror(jrc));
      rc = rc ? rc : 3;
    }
  }
  free(res);
  return rc;
}
