/* `hubsim platform`: the reference platform as a standalone process. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/platform.h"
#include "platform/server_internal.h"
#include "sim/core/err.h"
#include "sim/core/keyfile.h"
#include "sim/core/log.h"

static const char usage[] =
    "usage: hubsim platform [options]\n"
    "Runs the reference platform: the server side of hubrpc v1 with a SQLite store.\n"
    "\n"
    "  --listen URL        where hubs connect (default " PLAT_DEFAULT_LISTEN "; port 0 picks\n"
    "                      a free port, see --ready-file)\n"
    "  --db FILE           SQLite database, created when missing (default " PLAT_DEFAULT_DB ")\n"
    "  --fleet-key KEY     fleet key; hub secrets are HMAC-SHA256(KEY, hub_id)\n"
    "                      (default \"" PLAT_DEFAULT_FLEET_KEY "\"). Other users of the machine\n"
    "                      see it in the process list: prefer --fleet-key-file or\n"
    "                      HUBSIM_FLEET_KEY\n"
    "  --fleet-key-file FILE  read the fleet key from FILE (its bytes without a final newline);\n"
    "                      FILE must not be readable or writable by other users\n"
    "  --heartbeat S       heartbeat period announced in Welcome, 1..3600 s (default 30); a\n"
    "                      session silent for 3 periods is closed\n"
    "  --window N          most unacknowledged sequenced frames per hub, 1..1000000 (default 256)\n"
    "  --commit-ms MS      group commit period, 1..10000 ms (default 5); a group also commits\n"
    "                      at 2000 rows\n"
    "  --command-rate N    background on/off toggles per second to random lumi.plug.maeu01\n"
    "                      plugs of online hubs, 0..100000 (default 0)\n"
    "  --admin ADDR        admin line protocol on tcp ADDR (host:port, e.g. 127.0.0.1:7801):\n"
    "                      'stats', 'command HUB EUI64HEX EP CLUSTERHEX CMDHEX [PAYLOADHEX]',\n"
    "                      'device EUI64HEX', rules and timers (docs/platform.md); one JSON line\n"
    "                      per request. A host outside 127.0.0.0/8 needs --admin-token-file\n"
    "  --admin-token-file FILE  every admin client must first send 'auth TOKEN' with the\n"
    "                      token in FILE (1..256 printable characters, no spaces); FILE must\n"
    "                      not be readable or writable by other users\n"
    "  --admin-idle S      close an admin client silent for S seconds, 1..86400 (default 300)\n"
    "  --max-rules N       rules kept at most, 1..10000000 (default 100000)\n"
    "  --max-timers N      timers kept at most, 1..1000000 (default 10000)\n"
    "  --rule-rate N       firings per second one rule may make on average (bursts of twice\n"
    "                      that), 0.01..100000 (default 5); matches beyond are counted\n"
    "                      (rules_limited) and dropped\n"
    "  --max-unauth N      connections still in their handshake, 1..1000000 (default 4096);\n"
    "                      beyond that the oldest is closed for each new one\n"
    "  --fd-reserve N      descriptors kept for the store and the admin port, 8..100000\n"
    "                      (default 64): a hub connection that would take them closes the\n"
    "                      oldest one still in its handshake, or is closed\n"
    "  --send-queue-max B  bytes queued for a hub that does not read before it is cut off,\n"
    "                      4096..1073741824 (default 262144)\n"
    "  --ready-file FILE   write the bound port to FILE once listening\n"
    "  --verbose           a one-line counter summary on stderr every 5 s, and debug logs\n"
    "  --help              this text\n"
    "\n"
    "The fleet key comes from --fleet-key or --fleet-key-file, else from the environment\n"
    "variable HUBSIM_FLEET_KEY, else the default.\n"
    "\n"
    "SIGINT/SIGTERM stop it in order (final commit) with exit 0; the counters are printed on\n"
    "stderr at exit. Exit codes: 0 ok, 2 usage error (a bad flag, or a --db file that is not\n"
    "a platform database this hubsim reads), 3 runtime failure.\n";

struct cli {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  uv_timer_t stats;
  struct plat_server *srv;
  int verbose;
  int stopping;
};

static int bad(const char *flag, const char *value, const char *why) {
  fprintf(stderr, "hubsim platform: bad value '%s' for %s: %s\n", value, flag, why);
  return 2;
}

/* Reads a secret (a fleet key, an admin token) from path into buf (cap bytes, NUL-terminated)
 * with the one reader every secret file goes through (sim/core/keyfile.h: a file other users
 * may read or write is refused). 0, or 2 after a message naming the flag, the file and the
 * problem. */
static int read_secret(const char *flag, const char *path, char *buf, size_t cap, size_t *len) {
  const char *why = NULL;
  if (sim_keyfile_read(path, (uint8_t *)buf, cap - 1, len, &why)) {
    fprintf(stderr, "hubsim platform: %s %s: %s\n", flag, path, why);
    return 2;
  }
  buf[*len] = 0;
  return 0;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

static void print_summary(const struct plat_server *srv, const char *prefix) {
  struct plat_counters c;
  plat_server_counters(srv, &c);
  fprintf(stderr,
          "%ssessions open %llu accepted %llu closed %llu | auth ok %llu failed %llu | reports "
          "new %llu dup %llu | commits %llu rows %llu acks %llu | commands sent %llu ok %llu "
          "failed %llu timeout %llu\n",
          prefix, (unsigned long long)c.sessions_open, (unsigned long long)c.sessions_accepted,
          (unsigned long long)c.sessions_closed, (unsigned long long)c.auth_ok,
          (unsigned long long)c.auth_failed, (unsigned long long)c.reports_new,
          (unsigned long long)c.reports_duplicate, (unsigned long long)c.commits,
          (unsigned long long)c.rows_committed, (unsigned long long)c.acks_sent,
          (unsigned long long)c.commands_sent, (unsigned long long)c.commands_ok,
          (unsigned long long)c.commands_failed, (unsigned long long)c.commands_timed_out);
}

static void stats_cb(uv_timer_t *t) {
  struct cli *cli = t->data;
  print_summary(cli->srv, "platform: ");
}

static void stopped_cb(struct plat_server *srv, void *arg) {
  struct cli *cli = arg;
  uv_close((uv_handle_t *)&cli->sigint, NULL);
  uv_close((uv_handle_t *)&cli->sigterm, NULL);
  uv_close((uv_handle_t *)&cli->stats, NULL);
}

static void signal_cb(uv_signal_t *h, int signum) {
  struct cli *cli = h->data;
  if (cli->stopping)
    return;
  cli->stopping = 1;
  uv_timer_stop(&cli->stats);
  if (plat_server_stop(cli->srv, stopped_cb, cli))
    stopped_cb(cli->srv, cli);
}

static int write_ready(const char *path, uint16_t port) {
  /* Written to a temporary name and renamed, so a reader never sees a partial number. */
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  fprintf(f, "%u\n", port);
  if (fclose(f) || rename(tmp, path)) {
    remove(tmp);
    return -1;
  }
  return 0;
}

int plat_main(int argc, char **argv) {
  struct plat_config cfg = {0};
  const char *ready = NULL, *key = NULL, *key_file = NULL, *token_file = NULL;
  static char key_buf[4096], token_buf[PLAT_ADMIN_TOKEN_MAX + 2];
  size_t key_len = 0;
  int verbose = 0;
  cfg.listen = PLAT_DEFAULT_LISTEN;
  cfg.db_path = PLAT_DEFAULT_DB;
  static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                       {"db", required_argument, NULL, 'd'},
                                       {"fleet-key", required_argument, NULL, 'k'},
                                       {"heartbeat", required_argument, NULL, 'H'},
                                       {"window", required_argument, NULL, 'w'},
                                       {"commit-ms", required_argument, NULL, 'c'},
                                       {"command-rate", required_argument, NULL, 'r'},
                                       {"admin", required_argument, NULL, 'a'},
                                       {"fleet-key-file", required_argument, NULL, 'K'},
                                       {"admin-token-file", required_argument, NULL, 'T'},
                                       {"admin-idle", required_argument, NULL, 'I'},
                                       {"max-rules", required_argument, NULL, 'M'},
                                       {"max-timers", required_argument, NULL, 'N'},
                                       {"rule-rate", required_argument, NULL, 'F'},
                                       {"max-unauth", required_argument, NULL, 'U'},
                                       {"fd-reserve", required_argument, NULL, 'D'},
                                       {"send-queue-max", required_argument, NULL, 'Q'},
                                       {"ready-file", required_argument, NULL, 'R'},
                                       {"verbose", no_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  optind = 0; /* GNU: full re-initialisation, the caller may have parsed its own options */
  opterr = 0;
  int ch;
  while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    switch (ch) {
    case 'l': {
      struct sim_addr a;
      if (sim_addr_parse(optarg, &a))
        return bad("--listen", optarg, "expected hubrpc://HOST:PORT");
      cfg.listen = optarg;
      break;
    }
    case 'd':
      if (!*optarg)
        return bad("--db", optarg, "empty path");
      cfg.db_path = optarg;
      break;
    case 'k':
      if (!*optarg)
        return bad("--fleet-key", optarg, "empty key");
      key = optarg;
      break;
    case 'H':
      if (parse_u32(optarg, 1, 3600, &cfg.heartbeat_s))
        return bad("--heartbeat", optarg, "expected 1..3600 seconds");
      break;
    case 'w':
      if (parse_u32(optarg, 1, 1000000, &cfg.max_window))
        return bad("--window", optarg, "expected 1..1000000");
      break;
    case 'c':
      if (parse_u32(optarg, 1, 10000, &cfg.commit_ms))
        return bad("--commit-ms", optarg, "expected 1..10000 ms");
      break;
    case 'r': {
      char *end;
      errno = 0;
      double v = strtod(optarg, &end);
      if (errno || end == optarg || *end || !(v >= 0 && v <= 100000))
        return bad("--command-rate", optarg, "expected 0..100000 per second");
      cfg.command_rate = v;
      break;
    }
    case 'a': {
      struct sim_addr a;
      if (sim_addr_parse(optarg, &a))
        return bad("--admin", optarg, "expected HOST:PORT");
      cfg.admin = optarg;
      break;
    }
    case 'K':
      key_file = optarg;
      break;
    case 'T':
      token_file = optarg;
      break;
    case 'I':
      if (parse_u32(optarg, 1, 86400, &cfg.admin_idle_s))
        return bad("--admin-idle", optarg, "expected 1..86400 seconds");
      break;
    case 'M':
      if (parse_u32(optarg, 1, 10000000, &cfg.max_rules))
        return bad("--max-rules", optarg, "expected 1..10000000");
      break;
    case 'N':
      if (parse_u32(optarg, 1, 1000000, &cfg.max_timers))
        return bad("--max-timers", optarg, "expected 1..1000000");
      break;
    case 'F': {
      char *end;
      errno = 0;
      double v = strtod(optarg, &end);
      if (errno || end == optarg || *end || !(v >= 0.01 && v <= 100000))
        return bad("--rule-rate", optarg, "expected 0.01..100000 per second");
      cfg.rule_rate = v;
      break;
    }
    case 'U':
      if (parse_u32(optarg, 1, 1000000, &cfg.max_unauth))
        return bad("--max-unauth", optarg, "expected 1..1000000");
      break;
    case 'D':
      if (parse_u32(optarg, 8, 100000, &cfg.fd_reserve))
        return bad("--fd-reserve", optarg, "expected 8..100000");
      break;
    case 'Q':
      if (parse_u32(optarg, 4096, 1u << 30, &cfg.sendq_max))
        return bad("--send-queue-max", optarg, "expected 4096..1073741824 bytes");
      break;
    case 'R':
      ready = optarg;
      break;
    case 'v':
      verbose = 1;
      break;
    case 'h':
      fputs(usage, stdout);
      return 0;
    case ':':
      fprintf(stderr, "hubsim platform: %s needs a value\n", argv[optind - 1]);
      return 2;
    default:
      fprintf(stderr, "hubsim platform: unknown option '%s' (see --help)\n", argv[optind - 1]);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "hubsim platform: unexpected argument '%s' (see --help)\n", argv[optind]);
    return 2;
  }
  /* The key: a flag, else the environment (invisible to other users), else the demo's. */
  if (key && key_file) {
    fprintf(stderr, "hubsim platform: give one of --fleet-key and --fleet-key-file\n");
    return 2;
  }
  if (key_file) {
    int rc = read_secret("--fleet-key-file", key_file, key_buf, sizeof key_buf, &key_len);
    if (rc)
      return rc;
    key = key_buf;
  } else if (!key && getenv("HUBSIM_FLEET_KEY")) {
    key = getenv("HUBSIM_FLEET_KEY");
    if (!*key) {
      fprintf(stderr, "hubsim platform: HUBSIM_FLEET_KEY is set but empty\n");
      return 2;
    }
  }
  if (!key)
    key = PLAT_DEFAULT_FLEET_KEY;
  if (key != key_buf)
    key_len = strlen(key);
  cfg.fleet_key = (const uint8_t *)key;
  cfg.fleet_key_len = key_len;
  if (token_file) {
    size_t tl = 0;
    int rc = read_secret("--admin-token-file", token_file, token_buf, sizeof token_buf, &tl);
    if (rc)
      return rc;
    for (size_t i = 0; i < tl; i++) {
      if (token_buf[i] <= 0x20 || token_buf[i] >= 0x7f || tl > PLAT_ADMIN_TOKEN_MAX) {
        fprintf(stderr,
                "hubsim platform: --admin-token-file %s: the token must be 1..%u printable "
                "characters without spaces\n",
                token_file, PLAT_ADMIN_TOKEN_MAX);
        return 2;
      }
    }
    cfg.admin_token = token_buf;
  }
  if (cfg.admin) {
    struct sim_addr a;
    sim_addr_parse(cfg.admin, &a);
    if (!plat__addr_is_loopback(a.host) && !cfg.admin_token) {
      fprintf(stderr,
              "hubsim platform: --admin %s is not a loopback address (127.0.0.0/8): anyone who "
              "reaches it could command every device; give --admin-token-file FILE to require a "
              "token, or use 127.0.0.1\n",
              cfg.admin);
      return 2;
    }
  }
  if (verbose)
    sim_log_set_level(SIM_LOG_DEBUG);

  /* Every hub is a socket: take every open file the hard limit allows. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* SIGPIPE would kill us on a write to a hub that went away; the transport sees EPIPE. A file
   * size limit (RLIMIT_FSIZE) would kill us with SIGXFSZ at the store's next write: ignored,
   * the write fails instead (EFBIG) and the store's failure handling takes over. */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  struct cli cli = {0};
  cli.verbose = verbose;
  struct sim_transport *t = NULL;
  int code = 3, rc;
  if (uv_loop_init(&cli.loop))
    return 3;
  if ((rc = sim_transport_tcp_new(&cli.loop, &t))) {
    fprintf(stderr, "hubsim platform: tcp transport: %s\n", sim_strerror(rc));
    goto done;
  }
  if ((rc = plat_server_new(&cli.loop, t, &cfg, &cli.srv))) {
    /* SIM_EINVAL: the --db file is not one this platform reads (the line above says why). */
    fprintf(stderr, "hubsim platform: cannot start with database %s%s\n", cfg.db_path,
            rc == SIM_EINVAL ? " (see above)" : "");
    if (rc == SIM_EINVAL)
      code = 2;
    else if (rc != SIM_EDB)
      fprintf(stderr, "hubsim platform: %s\n", sim_strerror(rc));
    goto done;
  }
  if ((rc = plat_server_start(cli.srv))) {
    fprintf(stderr, "hubsim platform: cannot listen on %s: %s\n", cfg.listen, sim_strerror(rc));
    goto done;
  }
  uint16_t port = plat_server_port(cli.srv);
  if (ready && write_ready(ready, port)) {
    fprintf(stderr, "hubsim platform: cannot write --ready-file %s\n", ready);
    cli.stopping = 1;
    plat_server_stop(cli.srv, NULL, NULL);
    uv_run(&cli.loop, UV_RUN_DEFAULT);
    goto done;
  }
  if (cfg.admin)
    SIM_LOGI("platform: listening on port %u, admin on port %u, database %s", port,
             plat_server_admin_port(cli.srv), cfg.db_path);
  else
    SIM_LOGI("platform: listening on port %u, database %s", port, cfg.db_path);
  uv_signal_init(&cli.loop, &cli.sigint);
  uv_signal_init(&cli.loop, &cli.sigterm);
  cli.sigint.data = cli.sigterm.data = &cli;
  uv_signal_start(&cli.sigint, signal_cb, SIGINT);
  uv_signal_start(&cli.sigterm, signal_cb, SIGTERM);
  uv_timer_init(&cli.loop, &cli.stats);
  cli.stats.data = &cli;
  if (verbose)
    uv_timer_start(&cli.stats, stats_cb, 5000, 5000);
  uv_run(&cli.loop, UV_RUN_DEFAULT);
  print_summary(cli.srv, "platform: exit: ");
  struct plat_counters c;
  plat_server_counters(cli.srv, &c);
  char *json = plat_counters_json(&c);
  if (json)
    fprintf(stderr, "platform: counters %s\n", json);
  free(json);
  code = 0;
done:
  /* Let closes requested on the error paths complete before the memory goes. */
  uv_run(&cli.loop, UV_RUN_NOWAIT);
  plat_server_free(cli.srv);
  if (t)
    sim_transport_free(t);
  uv_run(&cli.loop, UV_RUN_NOWAIT);
  if (uv_loop_close(&cli.loop))
    SIM_LOGD("platform: loop still had handles at exit");
  return code;
}
