/* `hubsim platform`: the reference platform as a standalone process. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "platform/platform.h"
#include "sim/core/err.h"
#include "sim/core/log.h"

static const char usage[] =
    "usage: hubsim platform [options]\n"
    "Runs the reference platform: the server side of hubrpc v1 with a SQLite store.\n"
    "\n"
    "  --listen URL        where hubs connect (default " PLAT_DEFAULT_LISTEN "; port 0 picks\n"
    "                      a free port, see --ready-file)\n"
    "  --db FILE           SQLite database, created when missing (default " PLAT_DEFAULT_DB ")\n"
    "  --fleet-key KEY     fleet key; hub secrets are HMAC-SHA256(KEY, hub_id)\n"
    "                      (default \"" PLAT_DEFAULT_FLEET_KEY "\")\n"
    "  --heartbeat S       heartbeat period announced in Welcome, 1..3600 s (default 30); a\n"
    "                      session silent for 3 periods is closed\n"
    "  --window N          most unacknowledged sequenced frames per hub, 1..1000000 (default 256)\n"
    "  --commit-ms MS      group commit period, 1..10000 ms (default 5); a group also commits\n"
    "                      at 2000 rows\n"
    "  --command-rate N    background on/off toggles per second to random lumi.plug.maeu01\n"
    "                      plugs of online hubs, 0..100000 (default 0)\n"
    "  --admin ADDR        admin line protocol on tcp ADDR (host:port, e.g. 127.0.0.1:7801):\n"
    "                      'stats', 'command HUB EUI64HEX EP CLUSTERHEX CMDHEX [PAYLOADHEX]',\n"
    "                      'device EUI64HEX'; one JSON line per request\n"
    "  --ready-file FILE   write the bound port to FILE once listening\n"
    "  --verbose           a one-line counter summary on stderr every 5 s, and debug logs\n"
    "  --help              this text\n"
    "\n"
    "SIGINT/SIGTERM stop it in order (final commit) with exit 0; the counters are printed on\n"
    "stderr at exit. Exit codes: 0 ok, 2 usage error, 3 runtime failure.\n";

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
  const char *ready = NULL, *key = PLAT_DEFAULT_FLEET_KEY;
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
  cfg.fleet_key = (const uint8_t *)key;
  cfg.fleet_key_len = strlen(key);
  if (verbose)
    sim_log_set_level(SIM_LOG_DEBUG);

  /* Every hub is a socket: take every open file the hard limit allows. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* SIGPIPE would kill us on a write to a hub that went away; the transport sees EPIPE. */
  signal(SIGPIPE, SIG_IGN);
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
    fprintf(stderr, "hubsim platform: cannot start with database %s: %s\n", cfg.db_path,
            sim_strerror(rc));
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
