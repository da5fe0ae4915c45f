/* `hubsim platform`: the reference platform as a standalone process. */
#include <arpa/inet.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/platform.h"
#include "platform/server_internal.h"
#include "platform/workers.h"
#include "sim/core/dur.h"
#include "sim/core/err.h"
#include "sim/core/keyfile.h"
#include "sim/core/log.h"
#include "sim/core/num.h"
#include "sim/core/wfile.h"
#include "sim/mqtt/stream.h"
#include "sim/transport/tls.h"

static const char usage[] =
    "usage: hubsim platform [options]\n"
    "Runs the reference platform: the server side of hubrpc v1 with a SQLite store.\n"
    "\n"
    "  --listen URL        where hubs connect: hubrpc://HOST:PORT with an IPv4 HOST (default\n"
    "                      " PLAT_DEFAULT_LISTEN "; port 0 picks a free port, see\n"
    "                      --ready-file). hubrpcs://HOST:PORT: TLS 1.2/1.3, needs --cert and\n"
    "                      --key (docs/tls.md)\n"
    "  --mqtt URL          serve hubs through an MQTT broker instead of --listen (the hubrpc\n"
    "                      profile, docs/mqtt.md): mqtt://HOST:PORT, or mqtts://HOST:PORT over\n"
    "                      TLS, HOST an IPv4 address. The platform subscribes to PREFIX/+/+/up\n"
    "                      and answers on each connection's PREFIX/HUB/EPOCH/down; --ready-file\n"
    "                      is written once the broker acknowledged the subscription. A lost\n"
    "                      broker connection closes the hubs' connections of it (they resend)\n"
    "                      and is made again with backoff (0.5 s doubling to 30 s, jittered)\n"
    "  --mqtt-version V    3.1.1 or 5 (default 5)\n"
    "  --mqtt-user NAME    user name sent to the broker\n"
    "  --mqtt-password-file FILE  its password: FILE's bytes without a final newline; FILE\n"
    "                      must not be readable or writable by other users. Needs --mqtt-user\n"
    "  --mqtt-prefix P     topic prefix (default hubrpc/v1), as the hubs' --mqtt-prefix\n"
    "  --mqtt-ca FILE      mqtts://: PEM CA certificates the broker's certificate must chain to\n"
    "                      (default: the system's trust store)\n"
    "  --mqtt-insecure     mqtts://: do not verify the broker's certificate or name\n"
    "  --cert FILE         hubrpcs://: the platform's PEM certificate (chain), the one hubs\n"
    "                      verify: its IP addresses or names must match what they connect to\n"
    "  --key FILE          hubrpcs://: its PEM private key; FILE must not be readable or\n"
    "                      writable by other users\n"
    "  --client-ca FILE    hubrpcs://: ask hubs for a client certificate and verify it against\n"
    "                      these PEM CA certificates (e.g. hubsim provision's ca.crt). A hub\n"
    "                      with one is bound to its certificate's hub id (the subject's CN):\n"
    "                      its Hello for another hub is refused; one without it authenticates\n"
    "                      with the fleet key alone (docs/tls.md)\n"
    "  --crl FILE          with --client-ca: PEM revocation lists of that CA; a revoked hub\n"
    "                      certificate is refused in the handshake\n"
    "  --auth any|key|cert how hubs authenticate (default any): any: the fleet-key mac, or a\n"
    "                      verified client certificate of the Hello's hub id alone (an Auth\n"
    "                      with an empty mac); key: the mac always; cert: every hub needs its\n"
    "                      client certificate (needs --client-ca), a hub without one is\n"
    "                      refused (docs/protocol.md section 6)\n"
    "  --db FILE           SQLite database, created when missing (default " PLAT_DEFAULT_DB ");\n"
    "                      its folder must exist\n"
    "  --fleet-key KEY     fleet key; hub secrets are HMAC-SHA256(KEY, hub_id)\n"
    "                      (default \"" PLAT_DEFAULT_FLEET_KEY "\"). Other users of the machine\n"
    "                      see it in the process list: prefer --fleet-key-file or\n"
    "                      HUBSIM_FLEET_KEY\n"
    "  --fleet-key-file FILE  read the fleet key from FILE (its bytes without a final newline);\n"
    "                      FILE must not be readable or writable by other users\n"
    "  --heartbeat S       heartbeat period announced in Welcome, whole seconds from 1 to 3600\n"
    "                      (default 30; e.g. 30, 30s, 1m); a session silent for 3 periods is\n"
    "                      closed\n"
    "  --command-timeout S how long a Command waits for its CommandResult before it counts as\n"
    "                      timed out (a later result is still stored), whole seconds from 1 to\n"
    "                      3600 (default 30)\n"
    "  --window N          most unacknowledged sequenced frames per hub, 1..1000000 (default 256)\n"
    "  --commit-ms MS      group commit period, whole milliseconds from 1 to 10000 (default 5;\n"
    "                      e.g. 5, 5ms, 1s); a group also commits at 2000 rows\n"
    "  --command-rate N    background on/off toggles per second to random lumi.plug.maeu01\n"
    "                      plugs of online hubs, 0..100000 (default 0; e.g. 2.5)\n"
    "  --admin ADDR        admin line protocol on tcp ADDR: HOST:PORT with an IPv4 HOST, no\n"
    "                      scheme (e.g. 127.0.0.1:7801; port 0 picks a free port):\n"
    "                      'stats', 'command HUB EUI64HEX EP CLUSTERHEX CMDHEX [PAYLOADHEX]',\n"
    "                      'device EUI64HEX', rules and timers (docs/platform.md); one JSON line\n"
    "                      per request. A host outside 127.0.0.0/8 needs --admin-token-file\n"
    "  --admin-token-file FILE  every admin client must first send 'auth TOKEN' with the\n"
    "                      token in FILE (1..256 printable characters, no spaces); FILE must\n"
    "                      not be readable or writable by other users. Needs --admin\n"
    "  --admin-idle S      close an admin client silent for S, whole seconds from 1 to 86400\n"
    "                      (default 300; e.g. 300, 5m). Needs --admin\n"
    "  --max-rules N       rules kept at most, 1..10000000 (default 100000). Needs --admin\n"
    "  --max-timers N      timers kept at most, 1..1000000 (default 10000). Needs --admin\n"
    "  --rule-rate N       firings per second one rule may make on average (bursts of twice\n"
    "                      that), 0.01..100000 (default 5); matches beyond are counted\n"
    "                      (rules_limited) and dropped. Needs --admin (rules are added there)\n"
    "  --max-unauth N      connections still in their handshake, 1..1000000 (default 16384,\n"
    "                      4096 over hubrpcs://, where those in their TLS handshake count\n"
    "                      too); beyond that the oldest is closed for each new one\n"
    "  --fd-reserve N      descriptors kept for the store and the admin port, 8..100000\n"
    "                      (default 64), below the open-file limit (ulimit -n): a hub\n"
    "                      connection that would take them closes the oldest one still in its\n"
    "                      handshake, or is closed\n"
    "  --send-queue-max B  bytes queued for a hub that does not read before it is cut off,\n"
    "                      4096..1073741824 (default 262144)\n"
    "  --ready-file FILE   write the bound port to FILE once listening (the whole file replaced\n"
    "                      at once, never written through a link); its folder must exist\n"
    "  --defect LIST       test only: break rules of docs/protocol.md on purpose, to prove\n"
    "                      the conformance suite (hubsim conform) catches it; a comma list of\n"
    "                      ack-before-commit (an Ack on receipt), no-dedup (a resent seq\n"
    "                      rewinds the sequence to it), accept-bad-mac (any 32-byte mac),\n"
    "                      ignore-window (no WINDOW_EXCEEDED), no-timeout (no handshake or\n"
    "                      idle timeout)\n"
    "  --workers N         N processes serve hubs, 1..64 (default 1): each listens on the\n"
    "                      --listen address with SO_REUSEPORT (the kernel spreads new\n"
    "                      connections), has its own store shard FILE.w0 .. FILE.wN-1 beside\n"
    "                      --db (a :memory: store stays per process), and the --admin port\n"
    "                      answers for all: counters summed, commands and device queries\n"
    "                      routed (not rules and timers). A worker that ends on its own is\n"
    "                      named on stderr and the platform exits 3. Plain hubrpc:// only\n"
    "                      (not hubrpcs:// or --mqtt); --command-rate is shared among them\n"
    "  --verbose           a one-line counter summary on stderr every 5 s, and debug logs\n"
    "  --help              this text\n"
    "\n"
    "Numbers are plain decimal text: no sign, exponent or hex. A duration is a number with a\n"
    "unit (us, ms, s, m, h, d; e.g. 90s, 1m30s) or a plain number in the flag's own unit. Each\n"
    "flag is given at most once. Bad values and pointless combinations are refused before\n"
    "anything listens.\n"
    "\n"
    "The fleet key comes from --fleet-key or --fleet-key-file, else from the environment\n"
    "variable HUBSIM_FLEET_KEY, else the default.\n"
    "\n"
    "SIGINT/SIGTERM stop it in order (final commit) with exit 0; the counters are printed on\n"
    "stderr at exit. Exit codes: 0 ok, 2 usage error (a bad flag, or a --db file that is not\n"
    "a platform database this hubsim reads), 3 runtime failure.\n";

struct cli {
  uv_loop_t loop;
  struct sim_transport *inner; /* --mqtt: the transport under the MQTT stream (tcp or tls) */
  uv_signal_t sigint, sigterm;
  uv_timer_t stats;
  struct plat_server *srv;
  int verbose;
  int stopping;
  int worker; /* one of the processes of --workers: its index + 1; 0 alone */
};

/* Every usage error goes through here: the flag, the value (when there is one) and why. 2. */
static int bad(const char *flag, const char *value, const char *why) {
  if (value && *value)
    fprintf(stderr, "hubsim platform: %s '%s': %s (see hubsim platform --help)\n", flag, value,
            why);
  else
    fprintf(stderr, "hubsim platform: %s: %s (see hubsim platform --help)\n", flag, why);
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

/* A whole-number flag in [lo, hi] (sim/core/num.h: plain decimal text). 0, or 2 after the
 * message. */
static int parse_whole(const char *flag, const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
  uint64_t v;
  if (sim_num_parse_u64(s, lo, hi, &v)) {
    char why[96];
    snprintf(why, sizeof why, "expected a whole number from %u to %u", lo, hi);
    return bad(flag, s, why);
  }
  *out = (uint32_t)v;
  return 0;
}

/* A duration flag kept in whole units (unit_s seconds each: 1 for seconds, 0.001 for
 * milliseconds): the one grammar of sim/core/dur.h, a plain number counting in the unit. The
 * platform keeps these as whole numbers (the heartbeat travels in Welcome as whole seconds), so
 * "1.5s" for a flag in seconds is refused rather than rounded. 0, or 2 after the message. */
static int parse_units(const char *flag, const char *s, double unit_s, uint32_t lo, uint32_t hi,
                       const char *why, uint32_t *out) {
  double sec;
  if (sim_dur_parse(s, unit_s, &sec) == 0) {
    double u = sec / unit_s, r = nearbyint(u);
    /* "1.1m" is 66.00000000000001 s in binary: a whole number within rounding is whole. */
    if (fabs(u - r) <= 1e-9 * (r > 1 ? r : 1) && r >= lo && r <= hi) {
      *out = (uint32_t)r;
      return 0;
    }
  }
  return bad(flag, s, why);
}

/* --listen: hubrpc://HOST:PORT or hubrpcs://HOST:PORT (or HOST:PORT) with an IPv4 HOST; port 0
 * picks a free port. Names are refused because the tcp transport does not resolve them: the
 * platform would only fail to listen, as a runtime failure. 0, or 2 after the message. */
static int check_listen(const char *url, struct sim_addr *a) {
  struct in_addr ip;
  const char *sep = strstr(url, "://");
  if (sep && !(sep - url == 6 && strncasecmp(url, "hubrpc", 6) == 0) && !sim_addr_is_tls(url))
    return bad("--listen", url,
               "expected hubrpc://HOST:PORT or hubrpcs://HOST:PORT (TLS), the schemes hubsim "
               "speaks");
  if (sim_addr_parse(url, a))
    return bad("--listen", url,
               "expected hubrpc://HOST:PORT with a port from 0 (any free port) to 65535");
  if (inet_pton(AF_INET, a->host, &ip) != 1)
    return bad("--listen", url,
               "HOST must be an IPv4 address such as 127.0.0.1 or 0.0.0.0 (names are not "
               "resolved)");
  return 0;
}

/* --admin: HOST:PORT with an IPv4 HOST. No scheme: the admin port speaks lines, not hubrpc, and
 * "hubrpc://" there would suggest otherwise. 0, or 2 after the message. */
static int check_admin(const char *s, struct sim_addr *a) {
  struct in_addr ip;
  if (strstr(s, "://") || sim_addr_parse(s, a))
    return bad("--admin", s,
               "expected HOST:PORT such as 127.0.0.1:7801, without a scheme (the admin port "
               "speaks lines, not hubrpc)");
  if (inet_pton(AF_INET, a->host, &ip) != 1)
    return bad("--admin", s,
               "HOST must be an IPv4 address such as 127.0.0.1 (names are not resolved)");
  return 0;
}

/* An output file named by a flag (--ready-file) or the store (--db): its folder must exist and
 * be writable (SQLite creates the -wal and -shm files beside the database), and it must not be
 * a folder. Checked before anything listens. 0, or 2 after the message. */
static int check_file(const char *flag, const char *path) {
  char why[300];
  if (sim_wfile_check(path, why, sizeof why))
    return bad(flag, path, why);
  return 0;
}

/* Two paths naming one file: the same text, or an existing file seen twice. */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (strcmp(a, b) == 0)
    return 1;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
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
  if (cli->worker)
    plat__worker_detach(srv);
  uv_close((uv_handle_t *)&cli->sigint, NULL);
  uv_close((uv_handle_t *)&cli->sigterm, NULL);
  uv_close((uv_handle_t *)&cli->stats, NULL);
}

/* Stops the server in order (final commit); on a signal, or for a worker whose front is gone. */
static void cli_stop(void *arg) {
  struct cli *cli = arg;
  if (cli->stopping)
    return;
  cli->stopping = 1;
  uv_timer_stop(&cli->stats);
  if (plat_server_stop(cli->srv, stopped_cb, cli))
    stopped_cb(cli->srv, cli);
}

static void signal_cb(uv_signal_t *h, int signum) {
  (void)signum;
  cli_stop(h->data);
}

/* The bound port, through the crash-safe writer (sim/core/wfile.h): a reader never sees a
 * partial number, and a link planted at the file or beside it is never written through. */
int plat__write_ready(const char *path, uint16_t port) {
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (rc)
    return rc;
  if (fprintf(w.fp, "%u\n", port) < 0) {
    sim_wfile_abort(&w);
    return SIM_EIO;
  }
  return sim_wfile_commit(&w);
}

/* What the command line asked for, filled by parse_flags() and the checks after it. cfg points
 * into argv, the environment and read_secrets()'s static buffers. */
struct args {
  struct plat_config cfg;
  const char *ready, *key, *key_file, *token_file;
  const char *tls_cert, *tls_key; /* --cert, --key: hubrpcs:// */
  const char *client_ca, *crl;    /* --client-ca, --crl: mutual TLS */
  const char *mqtt, *mqtt_user, *mqtt_pass_file, *mqtt_prefix, *mqtt_ca; /* --mqtt... */
  const char *mqtt_password;
  int mqtt_version, mqtt_tls, mqtt_insecure;
  struct sim_addr mqtt_addr;
  char mqtt_listen[80];
  size_t key_len;
  int verbose;
  uint32_t workers;      /* --workers (0: not given, one process) */
  unsigned worker_index; /* this process is worker worker_index of workers (worker_mode) */
  int worker_mode;
  char worker_listen[96]; /* the listen URL with the port every worker binds */
  char worker_db[4096];   /* the store shard: --db.wI */
  struct sim_addr listen_addr, admin_addr;
  /* Each flag's value (by its short letter), "" for one without a value, NULL when absent. */
  const char *given[128];
};

/* --defect LIST: the names of enum plat_defect, comma separated. 0, or 2 after the message. */
static int parse_defects(struct plat_config *cfg, const char *v) {
  static const char *const names[] = {"ack-before-commit", "no-dedup", "accept-bad-mac",
                                      "ignore-window", "no-timeout"}; /* enum plat_defect bits */
  for (const char *p = v;;) {
    size_t n = strcspn(p, ",");
    size_t i = 0;
    while (i < sizeof names / sizeof names[0] &&
           !(strlen(names[i]) == n && !strncmp(p, names[i], n)))
      i++;
    if (i == sizeof names / sizeof names[0])
      return bad("--defect", v,
                 "expected a comma list of ack-before-commit, no-dedup, accept-bad-mac, "
                 "ignore-window, no-timeout");
    cfg->defects |= 1u << i;
    if (!p[n])
      return 0;
    p += n + 1;
  }
}

static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                     {"db", required_argument, NULL, 'd'},
                                     {"fleet-key", required_argument, NULL, 'k'},
                                     {"heartbeat", required_argument, NULL, 'H'},
                                     {"command-timeout", required_argument, NULL, 'O'},
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
                                     {"cert", required_argument, NULL, 'C'},
                                     {"key", required_argument, NULL, 'Y'},
                                     {"client-ca", required_argument, NULL, 'A'},
                                     {"crl", required_argument, NULL, 'L'},
                                     {"auth", required_argument, NULL, 'g'},
                                     {"mqtt", required_argument, NULL, 'm'},
                                     {"mqtt-version", required_argument, NULL, 'V'},
                                     {"mqtt-user", required_argument, NULL, 'u'},
                                     {"mqtt-password-file", required_argument, NULL, 'p'},
                                     {"mqtt-prefix", required_argument, NULL, 'P'},
                                     {"mqtt-ca", required_argument, NULL, 'e'},
                                     {"mqtt-insecure", no_argument, NULL, 'i'},
                                     {"defect", required_argument, NULL, 'X'},
                                     {"workers", required_argument, NULL, 'W'},
                                     {"verbose", no_argument, NULL, 'v'},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};

/* The numeric flags: whole numbers in [lo, hi] (parse_whole), or durations kept in whole units
 * of unit_s seconds (parse_units, with why as the message) when unit_s > 0. */
static const struct num_flag {
  char ch;
  const char *flag;
  double unit_s;
  uint32_t lo, hi;
  const char *why;
  size_t off; /* of the uint32_t in struct plat_config */
} num_flags[] = {
    {'H', "--heartbeat", 1, 1, 3600,
     "expected whole seconds from 1 to 3600 (a plain number, or 30s, 1m)",
     offsetof(struct plat_config, heartbeat_s)},
    {'O', "--command-timeout", 1, 1, 3600,
     "expected whole seconds from 1 to 3600 (a plain number, or 30s, 1m)",
     offsetof(struct plat_config, command_timeout_s)},
    {'w', "--window", 0, 1, 1000000, NULL, offsetof(struct plat_config, max_window)},
    {'c', "--commit-ms", 0.001, 1, 10000,
     "expected whole milliseconds from 1 to 10000 (a plain number, or 5ms, 1s)",
     offsetof(struct plat_config, commit_ms)},
    {'I', "--admin-idle", 1, 1, 86400,
     "expected whole seconds from 1 to 86400 (a plain number, or 90s, 5m, 1h)",
     offsetof(struct plat_config, admin_idle_s)},
    {'M', "--max-rules", 0, 1, 10000000, NULL, offsetof(struct plat_config, max_rules)},
    {'N', "--max-timers", 0, 1, 1000000, NULL, offsetof(struct plat_config, max_timers)},
    {'U', "--max-unauth", 0, 1, 1000000, NULL, offsetof(struct plat_config, max_unauth)},
    {'D', "--fd-reserve", 0, 8, 100000, NULL, offsetof(struct plat_config, fd_reserve)},
    {'Q', "--send-queue-max", 0, 4096, 1u << 30, NULL, offsetof(struct plat_config, sendq_max)},
};

/* The value of one flag (ch, its short letter) into a. 0, or 2 after saying what is wrong. */
static int flag_value(struct args *a, int ch, const char *v) {
  struct plat_config *cfg = &a->cfg;
  for (size_t i = 0; i < sizeof num_flags / sizeof num_flags[0]; i++) {
    const struct num_flag *f = &num_flags[i];
    if (f->ch != ch)
      continue;
    uint32_t *out = (uint32_t *)((char *)cfg + f->off);
    if (f->unit_s > 0)
      return parse_units(f->flag, v, f->unit_s, f->lo, f->hi, f->why, out) ? 2 : 0;
    return parse_whole(f->flag, v, f->lo, f->hi, out) ? 2 : 0;
  }
  switch (ch) {
  case 'l':
    if (check_listen(v, &a->listen_addr))
      return 2;
    cfg->listen = v;
    return 0;
  case 'C':
    a->tls_cert = v;
    return 0;
  case 'Y':
    a->tls_key = v;
    return 0;
  case 'A':
    a->client_ca = v;
    return 0;
  case 'L':
    a->crl = v;
    return 0;
  case 'g': {
    static const char *const auth_names[] = {"any", "key", "cert"}; /* enum plat_auth order */
    for (size_t i = 0; i < sizeof auth_names / sizeof auth_names[0]; i++) {
      if (strcmp(v, auth_names[i]) == 0) {
        cfg->auth = (enum plat_auth)i;
        return 0;
      }
    }
    return bad("--auth", v, "expected any, key or cert");
  }
  case 'X':
    return parse_defects(cfg, v);
  case 'd':
    if (!*v)
      return bad("--db", v, "empty path");
    cfg->db_path = v;
    return 0;
  case 'k':
    if (!*v)
      return bad("--fleet-key", v, "empty key");
    a->key = v;
    return 0;
  case 'r':
    if (sim_num_parse_double(v, 0, 100000, &cfg->command_rate))
      return bad("--command-rate", v,
                 "expected toggles per second from 0 to 100000, in plain decimals such as 2.5");
    return 0;
  case 'a':
    if (check_admin(v, &a->admin_addr))
      return 2;
    cfg->admin = v;
    return 0;
  case 'K':
    a->key_file = v;
    return 0;
  case 'T':
    a->token_file = v;
    return 0;
  case 'F':
    if (sim_num_parse_double(v, 0.01, 100000, &cfg->rule_rate))
      return bad("--rule-rate", v,
                 "expected firings per second from 0.01 to 100000, in plain decimals such as "
                 "0.5");
    return 0;
  case 'R':
    a->ready = v;
    return 0;
  case 'm': {
    const char *why = NULL;
    int rc = sim_mqtt_url_parse(v, 1, &a->mqtt_addr, &a->mqtt_tls, &why);
    if (rc)
      return bad("--mqtt", v,
                 rc == SIM_ENOTFOUND ? "expected mqtt://HOST:PORT or mqtts://HOST:PORT" : why);
    a->mqtt = v;
    snprintf(a->mqtt_listen, sizeof a->mqtt_listen, "%s:%u", a->mqtt_addr.host, a->mqtt_addr.port);
    cfg->listen = a->mqtt_listen;
    return 0;
  }
  case 'V':
    if (strcmp(v, "3.1.1") && strcmp(v, "5"))
      return bad("--mqtt-version", v, "expected 3.1.1 or 5");
    a->mqtt_version = v[0] == '5' ? 5 : 4;
    return 0;
  case 'u':
    if (!*v || strlen(v) > 65535)
      return bad("--mqtt-user", v, "expected 1 to 65535 bytes");
    a->mqtt_user = v;
    return 0;
  case 'p':
    a->mqtt_pass_file = v;
    return 0;
  case 'P':
    if (!*v || strlen(v) >= 64 || strpbrk(v, "+#") || v[strlen(v) - 1] == '/')
      return bad("--mqtt-prefix", v,
                 "expected 1 to 63 bytes of a topic, without + or # or a final /");
    a->mqtt_prefix = v;
    return 0;
  case 'e':
    a->mqtt_ca = v;
    return 0;
  case 'i':
    a->mqtt_insecure = 1;
    return 0;
  case 'v':
    a->verbose = 1;
    return 0;
  case 'W':
    return parse_whole("--workers", v, 1, PLAT_WORKERS_MAX, &a->workers) ? 2 : 0;
  default:
    return 0;
  }
}

/* The command line into a. -1 to go on, else the exit code (0 after --help). */
static int parse_flags(int argc, char **argv, struct args *a) {
  a->cfg.listen = PLAT_DEFAULT_LISTEN;
  a->cfg.db_path = PLAT_DEFAULT_DB;
  optind = 0; /* GNU: full re-initialisation, the caller may have parsed its own options */
  opterr = 0;
  /* Every flag once: a second value would silently replace the first (or, for --verbose, mean
   * nothing), which hides a mistake in a long command line. given[] keeps each flag's value for
   * the checks after the loop. */
  int ch;
  while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    if (ch > 0 && ch < 128 && ch != 'h' && ch != ':' && ch != '?') {
      if (a->given[ch]) {
        const char *name = "?";
        for (const struct option *o = opts; o->name; o++)
          if (o->val == ch)
            name = o->name;
        char flag[40];
        snprintf(flag, sizeof flag, "--%s", name);
        /* The fleet key is not echoed: it is a secret. */
        return bad(flag, ch == 'k' ? "..." : optarg ? optarg : "", "given twice");
      }
      a->given[ch] = optarg ? optarg : "";
    }
    if (ch == 'h') {
      fputs(usage, stdout);
      return 0;
    }
    if (ch == ':') {
      fprintf(stderr, "hubsim platform: %s needs a value (see hubsim platform --help)\n",
              argv[optind - 1]);
      return 2;
    }
    if (ch <= 0 || ch >= 128 || !strchr("ldkHOwcraKTIMNFUDQRvCYALgmVupPeiXW", ch)) {
      fprintf(stderr, "hubsim platform: unknown option '%s' (see hubsim platform --help)\n",
              argv[optind - 1]);
      return 2;
    }
    if (flag_value(a, ch, optarg))
      return 2;
  }
  if (optind < argc) {
    fprintf(stderr, "hubsim platform: unexpected argument '%s' (see hubsim platform --help)\n",
            argv[optind]);
    return 2;
  }
  return -1;
}

/* Worker i's store shard of the --db file: DB.wI. 0, or -1 when the path is too long. */
static int shard_path(const char *db, unsigned i, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "%s.w%u", db, i);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* --workers N above 1: plain hubrpc:// only, and every store shard's file must be one the
 * platform can create. 0, or 2 after the message. */
static int check_workers(const struct args *a, int tls) {
  if (a->workers <= 1)
    return 0;
  if (a->mqtt)
    return bad("--workers", a->given['W'],
               "serves hubs that connect to --listen; through --mqtt they come over one broker "
               "subscription");
  if (tls)
    return bad("--workers", a->given['W'], "takes plain hubrpc:// only, not hubrpcs://");
  if (strcmp(a->cfg.db_path, ":memory:") == 0)
    return 0;
  for (unsigned i = 0; i < a->workers; i++) {
    char shard[4096];
    if (shard_path(a->cfg.db_path, i, shard, sizeof shard))
      return bad("--db", a->cfg.db_path, "is too long to name the store shards of --workers");
    if (check_file("--db", shard))
      return 2;
  }
  return 0;
}

/* Checks across flags, and of the files named, before anything is read or listens. 0, or 2
 * after saying what is wrong. */
static int check_flags(struct args *a) {
  struct plat_config *cfg = &a->cfg;
  /* Flags that act on the admin port only: without one they would be accepted and do nothing,
   * which hides a forgotten --admin (a token file given to protect a port that is not there). */
  if (!cfg->admin) {
    static const struct {
      char ch;
      const char *flag, *why;
    } needs_admin[] = {
        {'T', "--admin-token-file",
         "protects the admin port; there is none without --admin HOST:PORT"},
        {'I', "--admin-idle", "applies to admin clients; there are none without --admin HOST:PORT"},
        {'M', "--max-rules",
         "limits the rules added on the admin port; there is none without --admin HOST:PORT"},
        {'N', "--max-timers",
         "limits the timers added on the admin port; there is none without --admin HOST:PORT"},
        {'F', "--rule-rate",
         "limits the rules added on the admin port; there is none without --admin HOST:PORT"},
    };
    for (size_t i = 0; i < sizeof needs_admin / sizeof needs_admin[0]; i++)
      if (a->given[(unsigned char)needs_admin[i].ch])
        return bad(needs_admin[i].flag, a->given[(unsigned char)needs_admin[i].ch],
                   needs_admin[i].why);
  } else {
    if (!a->given['l'])
      sim_addr_parse(cfg->listen, &a->listen_addr);
    /* Two listeners on one address: the second could not bind, a runtime failure for what is a
     * mistake on the command line. 0.0.0.0 covers every address. */
    if (a->admin_addr.port && a->admin_addr.port == a->listen_addr.port &&
        (strcmp(a->admin_addr.host, a->listen_addr.host) == 0 ||
         strcmp(a->admin_addr.host, "0.0.0.0") == 0 || strcmp(a->listen_addr.host, "0.0.0.0") == 0))
      return bad("--admin", cfg->admin,
                 "is the address hubs connect to (--listen): use another port");
  }
  if (a->mqtt && a->given['l'])
    return bad("--listen", a->given['l'],
               "hubs come through the broker with --mqtt: give one or the other");
  if (!a->mqtt) {
    static const char needs_mqtt[] = "VupPei";
    for (const char *c = needs_mqtt; *c; c++)
      if (a->given[(unsigned char)*c]) {
        const char *name = "?";
        for (const struct option *o = opts; o->name; o++)
          if (o->val == *c)
            name = o->name;
        char flag[40];
        snprintf(flag, sizeof flag, "--%s", name);
        return bad(flag, a->given[(unsigned char)*c], "is for a broker: it needs --mqtt URL");
      }
  }
  if ((a->mqtt_ca || a->mqtt_insecure) && !a->mqtt_tls)
    return bad(a->mqtt_ca ? "--mqtt-ca" : "--mqtt-insecure", a->mqtt_ca ? a->mqtt_ca : "",
               "is for TLS: it needs --mqtt mqtts://HOST:PORT");
  if (a->mqtt_ca && a->mqtt_insecure)
    return bad("--mqtt-insecure", "",
               "turns off the check that --mqtt-ca is for: give one or the other");
  if (a->mqtt_pass_file && !a->mqtt_user)
    return bad("--mqtt-password-file", a->mqtt_pass_file, "needs --mqtt-user NAME");
  /* TLS: a certificate and its key exactly when the listener is hubrpcs://. */
  int tls = sim_addr_is_tls(cfg->listen);
  if (tls && (!a->tls_cert || !a->tls_key))
    return bad("--listen", cfg->listen,
               "hubrpcs:// needs the platform's certificate and key: --cert FILE --key FILE");
  if (!tls && (a->tls_cert || a->tls_key))
    return bad(a->tls_cert ? "--cert" : "--key", a->tls_cert ? a->tls_cert : a->tls_key,
               "is for TLS: it needs --listen hubrpcs://HOST:PORT");
  if (!tls && a->client_ca)
    return bad("--client-ca", a->client_ca, "is for TLS: it needs --listen hubrpcs://HOST:PORT");
  if (a->crl && !a->client_ca)
    return bad("--crl", a->crl, "revokes client certificates: it needs --client-ca FILE");
  if (cfg->auth == PLAT_AUTH_CERT && !a->client_ca)
    return bad("--auth", "cert",
               "needs client certificates to verify: --listen hubrpcs://HOST:PORT and "
               "--client-ca FILE");
  if (check_workers(a, tls))
    return 2;
  /* Files: the store's folder and the ready file's, checked before anything listens. */
  if (strcmp(cfg->db_path, ":memory:") != 0 && check_file("--db", cfg->db_path))
    return 2;
  if (a->ready) {
    if (check_file("--ready-file", a->ready))
      return 2;
    /* The port written over the store or a secret would destroy it. */
    const struct {
      const char *flag, *path;
    } inputs[] = {{"--db", cfg->db_path},
                  {"--fleet-key-file", a->key_file},
                  {"--admin-token-file", a->token_file},
                  {"--key", a->tls_key},
                  {"--cert", a->tls_cert},
                  {"--client-ca", a->client_ca},
                  {"--crl", a->crl}};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
      if (inputs[i].path && same_file(a->ready, inputs[i].path)) {
        char why[96];
        snprintf(why, sizeof why, "is the %s file: writing the port would replace it",
                 inputs[i].flag);
        return bad("--ready-file", a->ready, why);
      }
    }
  }
  return 0;
}

/* The fleet key (a flag, else the environment, invisible to other users, else the demo's) and
 * the admin token into a->cfg. 0, or the exit code after saying what is wrong. */
static int read_secrets(struct args *a) {
  static char key_buf[4096], token_buf[PLAT_ADMIN_TOKEN_MAX + 2];
  struct plat_config *cfg = &a->cfg;
  if (a->key && a->key_file)
    return bad("--fleet-key-file", a->key_file,
               "give the key once: --fleet-key or --fleet-key-file, not both");
  if (a->key_file) {
    int rc = read_secret("--fleet-key-file", a->key_file, key_buf, sizeof key_buf, &a->key_len);
    if (rc)
      return rc;
    a->key = key_buf;
  } else if (!a->key && getenv("HUBSIM_FLEET_KEY")) {
    a->key = getenv("HUBSIM_FLEET_KEY");
    if (!*a->key) {
      fprintf(stderr, "hubsim platform: HUBSIM_FLEET_KEY is set but empty\n");
      return 2;
    }
  }
  if (!a->key)
    a->key = PLAT_DEFAULT_FLEET_KEY;
  if (a->key != key_buf)
    a->key_len = strlen(a->key);
  cfg->fleet_key = (const uint8_t *)a->key;
  cfg->fleet_key_len = a->key_len;
  if (a->token_file) {
    size_t tl = 0;
    int rc = read_secret("--admin-token-file", a->token_file, token_buf, sizeof token_buf, &tl);
    if (rc)
      return rc;
    for (size_t i = 0; i < tl; i++) {
      if (token_buf[i] <= 0x20 || token_buf[i] >= 0x7f || tl > PLAT_ADMIN_TOKEN_MAX) {
        fprintf(stderr,
                "hubsim platform: --admin-token-file %s: the token must be 1..%u printable "
                "characters without spaces\n",
                a->token_file, PLAT_ADMIN_TOKEN_MAX);
        return 2;
      }
    }
    cfg->admin_token = token_buf;
  }
  if (a->mqtt_pass_file) {
    static char pass_buf[257];
    size_t pl = 0;
    int rc = read_secret("--mqtt-password-file", a->mqtt_pass_file, pass_buf, sizeof pass_buf, &pl);
    if (rc)
      return rc;
    if (strlen(pass_buf) != pl) {
      fprintf(stderr, "hubsim platform: --mqtt-password-file %s: the password holds a NUL byte\n",
              a->mqtt_pass_file);
      return 2;
    }
    a->mqtt_password = pass_buf;
  }
  if (cfg->admin && !plat__addr_is_loopback(a->admin_addr.host) && !cfg->admin_token)
    return bad("--admin", cfg->admin,
               "is not a loopback address (127.0.0.0/8): anyone who reaches it could command "
               "every device; give --admin-token-file FILE to require a token, or use "
               "127.0.0.1");
  return 0;
}

/* The process around the server: open files, signals that would kill it. 0, or 2. */
static int setup_process(const struct args *a) {
  /* Every hub is a socket: take every open file the hard limit allows. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* A reserve the limit cannot hold: the server keeps a reserve only below the limit, so an
   * --fd-reserve at or above it would silently mean none at all. (Without the flag the
   * default gives way the same way under a small limit, as before.) */
  if (a->cfg.fd_reserve && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (rlim_t)a->cfg.fd_reserve >= rl.rlim_cur) {
    char why[200];
    snprintf(why, sizeof why,
             "is not below the open-file limit (ulimit -n %llu): no such reserve can be kept, "
             "and the platform would keep none",
             (unsigned long long)rl.rlim_cur);
    return bad("--fd-reserve", a->given['D'], why);
  }
  /* SIGPIPE would kill us on a write to a hub that went away; the transport sees EPIPE. A file
   * size limit (RLIMIT_FSIZE) would kill us with SIGXFSZ at the store's next write: ignored,
   * the write fails instead (EFBIG) and the store's failure handling takes over. */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  return 0;
}

/* This process is one of --workers' when PLAT_WORKER_ENV says so: it listens on the port the
 * front chose, keeps its own store shard, and leaves the admin port, the ready file and the
 * rest of the toggles to the front and the other workers. 0, or 2 after the message. */
static int worker_setup(struct args *a) {
  unsigned i = 0, n = 0;
  uint16_t port = 0;
  struct sim_addr la;
  int rc = plat__worker_env(&i, &n, &port);
  if (rc == 0)
    return 0;
  if (rc < 0 || n != a->workers || sim_addr_parse(a->cfg.listen, &la)) {
    fprintf(stderr, "hubsim platform: %s='%s' does not fit --workers %u and --listen %s\n",
            PLAT_WORKER_ENV, getenv(PLAT_WORKER_ENV), a->workers, a->cfg.listen);
    return 2;
  }
  snprintf(a->worker_listen, sizeof a->worker_listen, "hubrpc://%s:%u", la.host, port);
  a->cfg.listen = a->worker_listen;
  if (strcmp(a->cfg.db_path, ":memory:") != 0) {
    if (shard_path(a->cfg.db_path, i, a->worker_db, sizeof a->worker_db))
      return bad("--db", a->cfg.db_path, "is too long to name the store shards of --workers");
    a->cfg.db_path = a->worker_db;
  }
  a->cfg.admin = NULL;
  a->cfg.admin_token = NULL;
  a->ready = NULL;
  a->cfg.command_rate /= n;
  a->cfg.workers = n;
  a->cfg.worker = i;
  a->worker_mode = 1;
  a->worker_index = i;
  return 0;
}

/* Creates and starts the server on cli's loop through transport *t (set here, freed by
 * teardown()). 0, or the exit code after saying what is wrong. */
/* --mqtt: the broker's transport (tls for mqtts://) in cli->inner, under the hubrpc profile's
 * stream in *t. 0, or the exit code after saying what is wrong. */
static int start_mqtt(struct cli *cli, const struct args *a, struct sim_transport **t) {
  int rc;
  if (a->mqtt_tls) {
    struct sim_tls_config tc = {.ca_file = a->mqtt_ca, .insecure = a->mqtt_insecure};
    const char *why = NULL;
    if ((rc = sim_transport_tls_new(&cli->loop, &tc, &cli->inner, &why))) {
      fprintf(stderr, "hubsim platform: --mqtt TLS: %s\n", why ? why : sim_strerror(rc));
      return why ? 2 : 3;
    }
  } else if ((rc = sim_transport_tcp_new(&cli->loop, &cli->inner))) {
    fprintf(stderr, "hubsim platform: tcp transport: %s\n", sim_strerror(rc));
    return 3;
  }
  struct sim_mqtt_stream_config sc = {.inner = cli->inner,
                                      .prefix = a->mqtt_prefix,
                                      .version = a->mqtt_version,
                                      .username = a->mqtt_user,
                                      .password = a->mqtt_password};
  if ((rc = sim_transport_mqtt_new(&cli->loop, &sc, t))) {
    fprintf(stderr, "hubsim platform: MQTT transport: %s\n", sim_strerror(rc));
    return 3;
  }
  return 0;
}

static int start_server(struct cli *cli, const struct args *a, struct sim_transport **t) {
  int rc;
  if (a->mqtt) {
    if ((rc = start_mqtt(cli, a, t)))
      return rc;
  } else if (sim_addr_is_tls(a->cfg.listen)) {
    struct sim_tls_config tc = {.cert_file = a->tls_cert,
                                .key_file = a->tls_key,
                                .client_ca_file = a->client_ca,
                                .crl_file = a->crl};
    const char *why = NULL;
    if ((rc = sim_transport_tls_new(&cli->loop, &tc, t, &why))) {
      fprintf(stderr, "hubsim platform: TLS: %s\n", why ? why : sim_strerror(rc));
      return why ? 2 : 3;
    }
  } else if ((rc = sim_transport_tcp_new(&cli->loop, t))) {
    fprintf(stderr, "hubsim platform: tcp transport: %s\n", sim_strerror(rc));
    return 3;
  } else if (a->worker_mode) {
    sim_transport_tcp_set_reuseport(*t, 1);
  }
  if ((rc = plat_server_new(&cli->loop, *t, &a->cfg, &cli->srv))) {
    /* SIM_EINVAL: the --db file is not one this platform reads (the line above says why). */
    fprintf(stderr, "hubsim platform: cannot start with database %s%s\n", a->cfg.db_path,
            rc == SIM_EINVAL ? " (see above)" : "");
    if (rc == SIM_EINVAL)
      return 2;
    if (rc != SIM_EDB)
      fprintf(stderr, "hubsim platform: %s\n", sim_strerror(rc));
    return 3;
  }
  if ((rc = plat_server_start(cli->srv))) {
    fprintf(stderr, "hubsim platform: cannot listen on %s: %s\n", a->cfg.listen, sim_strerror(rc));
    return 3;
  }
  return 0;
}

/* Runs the started server until a signal has stopped it: the signal handlers first, then the
 * ready file (whoever reads it may signal at once). 0, or 3 when the ready file cannot be
 * written (the server stopped again). */
static int run_server(struct cli *cli, const struct args *a) {
  uv_signal_init(&cli->loop, &cli->sigint);
  uv_signal_init(&cli->loop, &cli->sigterm);
  cli->sigint.data = cli->sigterm.data = cli;
  uv_signal_start(&cli->sigint, signal_cb, SIGINT);
  uv_signal_start(&cli->sigterm, signal_cb, SIGTERM);
  uv_timer_init(&cli->loop, &cli->stats);
  cli->stats.data = cli;
  uint16_t port = plat_server_port(cli->srv);
  int rc;
  if (a->mqtt) {
    /* Hubs are served once the broker acknowledged the uplink subscription: what they publish
     * before then reaches no one. The listener retries a broker that is not there yet. */
    SIM_LOGI("platform: subscribing at %s", a->mqtt);
    while (!cli->stopping && !sim_mqtt_stream_listening(cli->srv->listener))
      uv_run(&cli->loop, UV_RUN_ONCE);
  }
  if (cli->stopping) {
    uv_run(&cli->loop, UV_RUN_DEFAULT);
    return 0;
  }
  if (a->ready && (rc = plat__write_ready(a->ready, port))) {
    fprintf(stderr, "hubsim platform: cannot write --ready-file %s: %s\n", a->ready,
            sim_strerror(rc));
    cli->stopping = 1;
    plat_server_stop(cli->srv, stopped_cb, cli);
    uv_run(&cli->loop, UV_RUN_DEFAULT);
    return 3;
  }
  if (a->worker_mode && (rc = plat__worker_attach(cli->srv, cli_stop, cli))) {
    fprintf(stderr, "hubsim platform: worker %u: cannot reach the front process: %s\n",
            a->worker_index, sim_strerror(rc));
    cli_stop(cli);
    uv_run(&cli->loop, UV_RUN_DEFAULT);
    return 3;
  }
  if (a->worker_mode)
    SIM_LOGI("platform: worker %u of %u listening on port %u, database %s", a->worker_index,
             a->cfg.workers, port, a->cfg.db_path);
  else if (a->mqtt && a->cfg.admin)
    SIM_LOGI("platform: serving hubs through the broker at %s, admin on port %u, database %s",
             a->mqtt, plat_server_admin_port(cli->srv), a->cfg.db_path);
  else if (a->mqtt)
    SIM_LOGI("platform: serving hubs through the broker at %s, database %s", a->mqtt,
             a->cfg.db_path);
  else if (a->cfg.admin)
    SIM_LOGI("platform: listening on port %u, admin on port %u, database %s", port,
             plat_server_admin_port(cli->srv), a->cfg.db_path);
  else
    SIM_LOGI("platform: listening on port %u, database %s", port, a->cfg.db_path);
  if (a->verbose)
    uv_timer_start(&cli->stats, stats_cb, 5000, 5000);
  uv_run(&cli->loop, UV_RUN_DEFAULT);
  char prefix[48] = "platform: ";
  if (a->worker_mode)
    snprintf(prefix, sizeof prefix, "platform: worker %u: ", a->worker_index);
  char exit_prefix[64];
  snprintf(exit_prefix, sizeof exit_prefix, "%sexit: ", prefix);
  print_summary(cli->srv, exit_prefix);
  struct plat_counters c;
  plat_server_counters(cli->srv, &c);
  char *json = plat_counters_json(&c);
  if (json)
    fprintf(stderr, "%scounters %s\n", prefix, json);
  free(json);
  if (a->worker_mode)
    plat__worker_final(cli->srv);
  return 0;
}

/* Frees the server, the transport (may be NULL) and the loop. */
static void teardown(struct cli *cli, struct sim_transport *t) {
  /* Let closes requested on the error paths complete before the memory goes. */
  uv_run(&cli->loop, UV_RUN_NOWAIT);
  plat_server_free(cli->srv);
  if (t)
    sim_transport_free(t);
  uv_run(&cli->loop, UV_RUN_NOWAIT);
  if (cli->inner) { /* under the MQTT stream: freed after it */
    sim_transport_free(cli->inner);
    uv_run(&cli->loop, UV_RUN_NOWAIT);
  }
  if (uv_loop_close(&cli->loop))
    SIM_LOGD("platform: loop still had handles at exit");
}

int plat_main(int argc, char **argv) {
  struct args a = {0};
  int code = parse_flags(argc, argv, &a);
  if (code >= 0)
    return code;
  if ((code = check_flags(&a)) || (code = read_secrets(&a)))
    return code;
  if (a.verbose)
    sim_log_set_level(SIM_LOG_DEBUG);
  if ((code = setup_process(&a)) || (code = worker_setup(&a)))
    return code;
  if (a.workers > 1 && !a.worker_mode) {
    struct sim_addr la;
    if (sim_addr_parse(a.cfg.listen, &la))
      return bad("--listen", a.cfg.listen, "expected hubrpc://HOST:PORT");
    struct plat_workers_opts wo = {.argc = argc,
                                   .argv = argv,
                                   .n = a.workers,
                                   .host = la.host,
                                   .port = la.port,
                                   .db_path = a.cfg.db_path,
                                   .ready = a.ready,
                                   .cfg = &a.cfg};
    return plat__workers_run(&wo);
  }
  struct cli cli = {0};
  cli.verbose = a.verbose;
  cli.worker = a.worker_mode ? (int)a.worker_index + 1 : 0;
  struct sim_transport *t = NULL;
  if (uv_loop_init(&cli.loop))
    return 3;
  code = start_server(&cli, &a, &t);
  if (!code)
    code = run_server(&cli, &a);
  if (t && sim_transport_is_tls(t)) {
    struct sim_tls_stats st;
    sim_transport_tls_stats(t, &st);
    fprintf(stderr,
            "platform: tls handshakes %llu (%llu resumed), failed: verify %llu protocol %llu "
            "timeout %llu not_tls %llu\n",
            (unsigned long long)st.handshakes, (unsigned long long)st.resumed,
            (unsigned long long)st.failed[SIM_TLS_R_VERIFY],
            (unsigned long long)st.failed[SIM_TLS_R_PROTOCOL],
            (unsigned long long)st.failed[SIM_TLS_R_TIMEOUT],
            (unsigned long long)st.failed[SIM_TLS_R_NOT_TLS]);
  }
  teardown(&cli, t);
  return code;
}
