/* The flags of `hubsim run`: the command line read into struct run_opts, the flags checked
 * against each other, the fleet key found, the scenario's values laid under the flags given
 * explicitly, and the fleet's configuration made of them. Every bad flag ends here with a
 * message naming it and exit code 2, before anything runs. */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/parse.h"
#include "app/run_internal.h"
#include "app/workers.h"
#include "devices/cat_global.h"
#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "sim/core/err.h"
#include "sim/core/keyfile.h"
#include "sim/core/wfile.h"
#include "sim/fleet/fleet.h"
#include "sim/transport/transport.h"

/* What --help says of a dashboard this build leaves out. */
#if !HUBSIM_HAVE_TUI && !HUBSIM_HAVE_GUI
#define RUN_UI_HELP_BUILT                                                                          \
  "                        this hubsim is built headless: neither tui (cmake\n"                    \
  "                        -DHUBSIM_TUI=OFF) nor gui (-DHUBSIM_GUI=OFF); only none\n"
#elif !HUBSIM_HAVE_TUI
#define RUN_UI_HELP_BUILT                                                                          \
  "                        this hubsim is built without tui (cmake -DHUBSIM_TUI=OFF)\n"
#elif !HUBSIM_HAVE_GUI
#define RUN_UI_HELP_BUILT                                                                          \
  "                        this hubsim is built without gui (cmake -DHUBSIM_GUI=OFF)\n"
#else
#define RUN_UI_HELP_BUILT ""
#endif

/* The help of the flags for brokers: the hubrpc profile through one, and the zigbee2mqtt
 * profile. */
static void run_usage_brokers(FILE *out) {
  fputs("mqtt (--profile hubrpc with --platform mqtt:// or mqtts://; docs/mqtt.md):\n"
        "                        each hub holds its own broker connection (client id = hub id)\n"
        "                        and its hubrpc session as publishes on PREFIX/HUB/EPOCH/up and\n"
        "                        /down; a platform serves them with hubsim platform --mqtt URL.\n"
        "                        Acked still means the platform's own Ack (docs/summary.md 4.1)\n"
        "  --mqtt-version V      3.1.1 or 5 (default 5)\n"
        "  --mqtt-qos Q          QoS of the hubs' publishes: 1 (default; the broker acknowledges\n"
        "                        each) or 0 (nothing acknowledged by the broker)\n"
        "  --mqtt-user NAME      user name sent in CONNECT\n"
        "  --mqtt-password-file FILE  its password, FILE's bytes without a final newline; FILE\n"
        "                        must not be readable or writable by other users\n"
        "  --mqtt-keepalive D    MQTT keepalive, whole seconds (default 30s)\n"
        "  --mqtt-prefix P       topic prefix (default hubrpc/v1)\n"
        "  --mqtt-observe        subscribe an observer to PREFIX/+/+/up and report in the\n"
        "                        summary how many publishes the broker delivered to it\n"
        "  --embedded-platform   also run the embedded reference platform, serving the hubs\n"
        "                        behind the broker (scenario platform operations, --db and\n"
        "                        --command-rate then work as without --platform)\n"
        "\n"
        "profile (docs/zigbee2mqtt.md):\n"
        "  --profile NAME        what the hubs speak: hubrpc (default: hubrpc sessions, over\n"
        "                        TCP, TLS or an MQTT broker) or zigbee2mqtt: each hub is a\n"
        "                        zigbee2mqtt bridge on the broker of --platform\n"
        "                        mqtt://HOST:PORT or mqtts:// (an IPv4 HOST): bridge messages,\n"
        "                        a state message per device, /set and /get, Home Assistant\n"
        "                        discovery. Of the broker flags it takes --mqtt-version\n"
        "                        (default 3.1.1 here), --mqtt-keepalive (default 60s),\n"
        "                        --mqtt-user, --mqtt-password-file, --ca and --insecure\n"
        "  --base-topic PATTERN  zigbee2mqtt: each hub's base topic, {hub} replaced by the hub\n"
        "                        id (default "
        "zigbee2mqtt-{hub}"
        ")\n"
        "  --state-qos 0|1       zigbee2mqtt: QoS of state messages (default 1; at QoS 0 nothing\n"
        "                        is acknowledged, so the run cannot pass)\n"
        "  --no-discovery        zigbee2mqtt: no Home Assistant discovery configs\n"
        "\n",
        out);
}

static void run_usage(FILE *out) {
  fprintf(
      out,
      "usage: hubsim run [SCENARIO] [FLAGS]\n"
      "\n"
      "Runs a fleet of virtual hubs and devices against a hubrpc platform. Without --platform\n"
      "it starts the reference platform on a free loopback port (in its own thread, with a\n"
      "store in a temporary file).\n"
      "\n"
      "SCENARIO is a Lua script (docs/scenarios.md) that sets up the fleet, drives it over\n"
      "time and states expectations: a path (my.lua) or the name of one of the built-in\n"
      "library (demo, smoke, morning-rush, power-cut, reconnect-storm, automation-latency,\n"
      "battery-day, command-fanout). Flags given explicitly override the scenario's values.\n"
      "Without SCENARIO and without --hubs, --devices-per-hub, --mix or --duration, the\n"
      "demo scenario runs.\n"
      "\n"
      "fleet:\n"
      "  --hubs N              hubs in the fleet (default 100)\n"
      "  --devices-per-hub N   devices behind each hub, 1..65535 (default 8)\n"
      "  --mix LIST            device models and weights, e.g.\n"
      "                        'lumi.sensor_ht.agl02:2,lumi.plug.maeu01:1'; 'all' (default)\n"
      "                        weighs every known model equally\n"
      "  --seed N              seed of every random choice (default 1): same seed, same fleet\n"
      "                        and same device behaviour\n"
      "  --fleet-key KEY       key the hub secrets derive from (default \"" APP_RUN_DEFAULT_KEY
      "\");\n"
      "                        a value on the command line is visible to every local user\n"
      "                        (ps): for a real key use --fleet-key-file or HUBSIM_FLEET_KEY\n"
      "  --fleet-key-file FILE read the key from FILE (one trailing newline is not part of\n"
      "                        it); FILE must not be readable by other users (chmod 600)\n"
      "  --speedup X           device behaviour runs X times faster than real time (default 1):\n"
      "                        the same report patterns, compressed, for load tests; frame\n"
      "                        timestamps stay real\n"
      "  --workers N           run the fleet in N worker processes (shards of the hubs; one\n"
      "                        process holds at most ~20k sockets); figures are merged\n"
      "                        exactly (default 1: in this process); auto: as many as the\n"
      "                        open-file limit calls for (ulimit -n, one socket per hub)\n"
      "  --preflight           print how the fleet fits on this machine (open files, local\n"
      "                        ports, worker processes, source addresses) and stop: exit 0\n"
      "                        when it fits, 3 with the reason when it does not\n"
      "  --worker K/N          internal: run shard K of N, read the fleet key from fd 4 and\n"
      "                        report to the parent on fd 3\n"
      "  --bind LIST           source addresses for the hubs' connections, round robin:\n"
      "                        '127.0.0.2,127.0.0.3' or a range '127.0.0.2-127.0.0.9'; one\n"
      "                        source address reaches ~28k ports per destination; without\n"
      "                        it, a fleet larger than one address reaches towards a\n"
      "                        loopback platform gets 127.0.0.1-127.0.0.K (--preflight)\n"
      "  --hub-model ID        the hub model every hub announces in Hello, with its firmware;\n"
      "                        it limits --devices-per-hub (default: the catalogue's\n"
      "                        default hub, see hubsim devices list)\n"
      "  --catalog DIR         add the device models of DIR/*.yaml (docs/catalog.md);\n"
      "                        repeatable\n"
      "\n"
      "radio (between devices and their hub):\n"
      "  --radio-hops N        devices are 1..N hops from their hub, fixed per device\n"
      "                        (default 1)\n"
      "  --radio-delay MS      delay of one hop, per attempt (default 0)\n"
      "  --radio-loss P        chance that one attempt on one hop fails, 0..1; a hop is tried\n"
      "                        4 times before the frame is lost (default 0)\n"
      "  --sleepy-hold D       how long a hub keeps a command for a sleepy device that polls\n"
      "                        only when it transmits (default 1h, device time)\n"
      "\n"
      "run:\n"
      "  --platform URL        hubrpc://HOST:PORT of the platform under test, HOST an IPv4\n"
      "                        address (default: the embedded reference platform);\n"
      "                        hubrpcs://HOST:PORT: the same over TLS 1.2/1.3 (docs/tls.md);\n"
      "                        mqtt://HOST:PORT, mqtts://HOST:PORT: through an MQTT broker\n"
      "                        (see mqtt: below)\n"
      "  --ca FILE             hubrpcs://, mqtts://: PEM CA certificates the platform's (or\n"
      "                        the broker's) certificate must chain to (default: the system's\n"
      "                        trust store); its IP address or name must match HOST\n"
      "  --insecure            hubrpcs://, mqtts://: do not verify the platform's certificate\n"
      "                        or name (the summary and the verdict say so)\n"
      "  --hub-certs DIR       hubrpcs://, mqtts://: each hub presents its own client\n"
      "                        certificate, DIR/hubs/ID.crt with its key DIR/hubs/ID.key (a\n"
      "                        hubsim provision folder); every hub's pair is read and checked\n"
      "                        before the run. Without a fleet key (no --fleet-key,\n"
      "                        --fleet-key-file, HUBSIM_FLEET_KEY or a scenario's key) the\n"
      "                        hubs authenticate with their certificates alone; with one\n"
      "                        they send its mac too\n"
      "  --duration D          how long devices generate traffic: 30s, 5m, 2h (default 20s)\n"
      "  --ramp N              hubs started per second; 0 starts all at once (default 0)\n"
      "  --warmup D            latency figures leave out what was meant to happen in the\n"
      "                        first D of the run (the start-up burst); counts include it\n"
      "                        (default 0s)\n"
      "  --drain D             after the duration, how long to wait for acknowledgements of\n"
      "                        what is in flight and for every hub to be online (default 10s);\n"
      "                        after SIGINT or SIGTERM at most 1s, a second one stops at once\n"
      "  --queue-max N         sequenced messages a hub keeps, unacknowledged plus unsent,\n"
      "                        before it drops new ones, 1..1048576 (default 4096)\n"
      "  --max-lag MS          generator tick lag p99 above this fails the run with exit 4\n"
      "                        (default 50; a plain number is in ms, or 0.1s, 500us)\n"
      "  --allow-lag           report a late generator but do not fail the run for it\n"
      "  --command-rate N      embedded platform only (not with --platform): background on/off\n"
      "                        commands per second to smart plugs (default 5)\n"
      "  --db FILE             embedded platform only (not with --platform): keep its store\n"
      "                        in FILE (default: a private temporary folder removed at the end)\n"
      "  --ui none|tui|gui     none: headless; tui: the terminal dashboard (docs/tui.md;\n"
      "                        the default when stdin and stdout are a terminal); gui: the\n"
      "                        SDL2 window for demos (docs/gui.md; SDL_VIDEODRIVER=offscreen\n"
      "                        without a display)\n" RUN_UI_HELP_BUILT
      "  --screenshot FILE.png --ui gui: write a PNG of the window at --after D of engine time\n"
      "  --after D             with --screenshot: when to take it, within --duration\n"
      "                        (default 0s)\n"
      "  --exit-after-screenshot  end the run (drain, summary) once the screenshot is written\n"
      "\n");
  run_usage_brokers(out);
  app_run_shard_usage(out);
  app_run_metrics_help(out);
  fprintf(
      out,
      "clock:\n"
      "  --clock real|virtual  virtual: discrete-event time with the embedded platform in this\n"
      "                        process over an in-memory transport; a simulated day takes\n"
      "                        seconds and the same seed repeats byte for byte (default real,\n"
      "                        or the scenario's)\n"
      "  --platform-admin H:P  with --platform: the external platform's admin line interface\n"
      "                        (IPv4 HOST:PORT), for the scenario's platform operations\n"
      "                        (commands, automations, timers); the token in the file named\n"
      "                        by HUBSIM_ADMIN_TOKEN_FILE is sent first\n"
      "\n"
      "output:\n"
      "  --summary FILE        write the JSON summary (docs/summary.md) to FILE\n"
      "  --junit FILE          write JUnit XML: a test case per expectation (docs/ci.md)\n"
      "  --record FILE.pcapng  capture every hub connection's bytes as pcapng for Wireshark and\n"
      "                        tshark (mqtt://: the MQTT bytes); tools/wireshark/hubrpc.lua\n"
      "                        decodes hubrpc; with --workers one file per worker, FILE.wK\n"
      "                        (docs/recorders.md)\n"
      "  --record-limit SIZE   stop recording before the file grows beyond SIZE (50M, 2G,\n"
      "                        500MB); the summary and stderr say it stopped\n"
      "  --record-hubs LIST    record only these hub numbers, e.g. 0-9,42 (default all)\n"
      "  -q, --quiet           no progress lines on stderr\n"
      "  -h, --help            this text\n"
      "\n"
      "Durations (D): a number with a unit, us ms s m h d, parts may add up (1h30m); a plain\n"
      "number is seconds; at most 365d. Every flag may be given once (--catalog repeats).\n"
      "The fleet key may also come from the environment: HUBSIM_FLEET_KEY (used when neither\n"
      "--fleet-key nor --fleet-key-file is given).\n"
      "\n"
      "Progress goes to stderr once a second; the summary to stdout at the end. SIGINT or\n"
      "SIGTERM ends the run within 2 s: a drain of at most 1 s, then the summary (a second\n"
      "signal skips the drain); the verdict says the run was interrupted.\n"
      "Exit codes: 0 every generated message acknowledged (or excluded by a documented rule,\n"
      "docs/summary.md), every hub that should be online online, nothing dropped, and every\n"
      "expectation held; 1 messages lost, dropped or never acknowledged, hubs not online at the\n"
      "end, the platform lost what it acknowledged, or an expectation failed; 2 usage, input or\n"
      "scenario script error; 3 runtime failure (no hub ever reached the platform); 4 the\n"
      "generator could not keep its schedule.\n");
}

/* ---- reading the flags ---- */

static const struct option longopts[] = {{"platform", required_argument, 0, 'P'},
                                         {"hubs", required_argument, 0, 'H'},
                                         {"devices-per-hub", required_argument, 0, 'D'},
                                         {"mix", required_argument, 0, 'M'},
                                         {"duration", required_argument, 0, 'd'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"ramp", required_argument, 0, 'R'},
                                         {"fleet-key", required_argument, 0, 'K'},
                                         {"fleet-key-file", required_argument, 0, 'F'},
                                         {"queue-max", required_argument, 0, 'Q'},
                                         {"bind", required_argument, 0, 'B'},
                                         {"summary", required_argument, 0, 'O'},
                                         {"drain", required_argument, 0, 'r'},
                                         {"max-lag", required_argument, 0, 'L'},
                                         {"allow-lag", no_argument, 0, 'A'},
                                         {"command-rate", required_argument, 0, 'C'},
                                         {"db", required_argument, 0, 'b'},
                                         {"ui", required_argument, 0, 'U'},
                                         {"workers", required_argument, 0, 'w'},
                                         {"preflight", no_argument, 0, APP_RUN_PREFLIGHT_OPT},
                                         {"worker", required_argument, 0, 'k'},
                                         {"speedup", required_argument, 0, 'X'},
                                         {"warmup", required_argument, 0, 'W'},
                                         {"catalog", required_argument, 0, 'c'},
                                         {"hub-model", required_argument, 0, 'g'},
                                         {"radio-hops", required_argument, 0, 'j'},
                                         {"radio-delay", required_argument, 0, 'y'},
                                         {"radio-loss", required_argument, 0, 'l'},
                                         {"sleepy-hold", required_argument, 0, 'Y'},
                                         {"clock", required_argument, 0, 'T'},
                                         {"junit", required_argument, 0, 'J'},
                                         {"platform-admin", required_argument, 0, 'a'},
                                         {"ca", required_argument, 0, 'e'},
                                         {"insecure", no_argument, 0, 'i'},
                                         {"hub-certs", required_argument, 0, 'E'},
                                         {"screenshot", required_argument, 0, 'z'},
                                         {"after", required_argument, 0, 'Z'},
                                         {"exit-after-screenshot", no_argument, 0, 'x'},
                                         {"profile", required_argument, 0, '6'},
                                         {"base-topic", required_argument, 0, '7'},
                                         {"state-qos", required_argument, 0, '8'},
                                         {"no-discovery", no_argument, 0, '9'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};

/* The command the parser's messages name: hubsim provision reads the same fleet flags. */
static const char *flag_cmd = "hubsim run";

void app_run_flags_command(const char *name) {
  flag_cmd = name;
}

/* longopts and the MQTT flags' (run_mqtt.c), in one table for getopt. */
static const struct option *all_longopts(void) {
  static struct option all[sizeof longopts / sizeof longopts[0] + APP_RUN_MQTT_NOPTS +
                           APP_RUN_SHARD_NOPTS + APP_RUN_RECORD_NOPTS + APP_RUN_METRICS_NOPTS];
  if (!all[0].name) {
    size_t n = sizeof longopts / sizeof longopts[0] - 1; /* without the final zeros */
    memcpy(all, longopts, n * sizeof *all);
    memcpy(all + n, app_run_mqtt_longopts, APP_RUN_MQTT_NOPTS * sizeof *all);
    memcpy(all + n + APP_RUN_MQTT_NOPTS, app_run_shard_longopts, APP_RUN_SHARD_NOPTS * sizeof *all);
    memcpy(all + n + APP_RUN_MQTT_NOPTS + APP_RUN_SHARD_NOPTS, app_run_record_longopts,
           APP_RUN_RECORD_NOPTS * sizeof *all);
    memcpy(all + n + APP_RUN_MQTT_NOPTS + APP_RUN_SHARD_NOPTS + APP_RUN_RECORD_NOPTS,
           app_run_metrics_longopts, APP_RUN_METRICS_NOPTS * sizeof *all);
  }
  return all;
}

int app_run_bad(const char *flag, const char *value, const char *why) {
  if (value && *value)
    fprintf(stderr, "%s: %s '%s': %s (see %s --help)\n", flag_cmd, flag, value, why, flag_cmd);
  else
    fprintf(stderr, "%s: %s: %s (see %s --help)\n", flag_cmd, flag, why, flag_cmd);
  return 2;
}

/* An output file (--summary, --junit, --screenshot) that can be written: no longer than its
 * writer takes (max_len), and what sim_wfile_check() says of its folder, checked before the run
 * rather than found out at its end. NULL, or why not. */
static const char *output_problem(const char *path, size_t max_len) {
  static char why[256];
  if (strlen(path) > max_len) {
    snprintf(why, sizeof why, "path longer than %zu bytes", max_len);
    return why;
  }
  return sim_wfile_check(path, why, sizeof why) ? why : NULL;
}

/* Two output paths naming one file: the same text, or an existing file seen twice. */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (strcmp(a, b) == 0)
    return 1;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* --platform: a hubrpc:// or hubrpcs:// URL (or HOST:PORT) with an IPv4 host and a port.
 * Names are refused because the tcp transport does not resolve them: the run would only fail
 * later, blaming the platform. 0, or 2 after the message. */
static int check_platform_url(const char *url) {
  struct sim_addr a;
  struct in_addr ip;
  const char *sep = strstr(url, "://");
  if (sep && !(sep - url == 6 && strncasecmp(url, "hubrpc", 6) == 0) && !sim_addr_is_tls(url))
    return app_run_bad("--platform", url,
                       "expected hubrpc://HOST:PORT or hubrpcs://HOST:PORT (TLS), the schemes "
                       "hubsim speaks");
  if (sim_addr_parse(url, &a) || a.port == 0)
    return app_run_bad("--platform", url,
                       "expected hubrpc://HOST:PORT with a port from 1 to 65535");
  if (inet_pton(AF_INET, a.host, &ip) != 1)
    return app_run_bad("--platform", url,
                       "HOST must be an IPv4 address such as 127.0.0.1 (names are not resolved)");
  return 0;
}

/* The fleet key when no flag gives it: HUBSIM_FLEET_KEY, kept off the command line. NULL when
 * unset; exits through *rc = 2 when set but unusable. */
static const char *env_key(int *rc) {
  const char *k = getenv("HUBSIM_FLEET_KEY");
  *rc = 0;
  if (!k)
    return NULL;
  if (!*k || strlen(k) > APP_RUN_KEY_MAX) {
    fprintf(stderr, "%s: HUBSIM_FLEET_KEY: expected 1 to %d bytes (it is %s)\n", flag_cmd,
            APP_RUN_KEY_MAX, *k ? "longer" : "empty");
    *rc = 2;
  }
  return k;
}

/* The fleet key when it is read (--fleet-key-file, or fd 4 in a worker): it outlives the
 * parse, for the whole run. */
static char keybuf[APP_RUN_KEY_MAX + 1];

const char *app__builtin_scenario_file(size_t i, const char **name, size_t *len);

/* A scenario named without a path or an extension ("smoke") is one of the built-in library
 * (scenarios/NAME.lua, embedded at build time). 0 and the text, or SIM_ENOTFOUND. */
static int app_builtin_scenario(const char *arg, char *path, size_t cap, const char **text,
                                size_t *len) {
  if (strchr(arg, '/') || strstr(arg, ".lua"))
    return SIM_ENOTFOUND;
  const char *name;
  size_t n;
  for (size_t i = 0;; i++) {
    const char *t = app__builtin_scenario_file(i, &name, &n);
    if (!t)
      return SIM_ENOTFOUND;
    size_t l = strlen(arg);
    if (strncmp(name, arg, l) == 0 && strcmp(name + l, ".lua") == 0) {
      snprintf(path, cap, "scenarios/%s", name);
      *text = t;
      *len = n;
      return 0;
    }
  }
}

#define FLAG_OTHER (-2) /* a flag_* function: not one of its flags */

/* The fleet and the platform: --platform, --hubs ... --bind. APP_RUN_GO_ON, FLAG_OTHER (not one of
 * these), or the exit code. */
static int flag_fleet(struct run_opts *o, int c) {
  switch (c) {
  case 'P': {
    int code;
    if (app_run_mqtt_platform(o, optarg, &code)) {
      o->platform = optarg;
      return code;
    }
  }
    if (check_platform_url(optarg))
      return 2;
    o->platform = optarg;
    o->tls = sim_addr_is_tls(optarg);
    break;
  case 'e':
    o->tls_ca = optarg;
    break;
  case 'i':
    o->tls_insecure = 1;
    break;
  case 'E':
    o->hub_certs = optarg;
    break;
  case 'H':
    if (app_parse_u64(optarg, 1, 0xFFFFFF, &o->hubs))
      return app_run_bad("--hubs", optarg, "expected a whole number from 1 to 16777215");
    o->set |= RUN_SET_HUBS;
    break;
  case 'D':
    if (app_parse_u64(optarg, 1, 65535, &o->dph))
      return app_run_bad("--devices-per-hub", optarg, "expected a whole number from 1 to 65535");
    o->set |= RUN_SET_DPH;
    break;
  case 'M':
    o->mix = optarg;
    o->set |= RUN_SET_MIX;
    break;
  case 'd':
    if (app_parse_duration(optarg, 1, APP_PARSE_DURATION_MAX_S, &o->duration_s) ||
        o->duration_s < 0.001)
      return app_run_bad("--duration", optarg,
                         "expected a duration from 1ms to 365d such as 30s, 5m or 2h");
    o->set |= RUN_SET_DURATION;
    break;
  case 'S':
    if (app_parse_u64(optarg, 0, UINT64_MAX, &o->seed))
      return app_run_bad("--seed", optarg, "expected a whole number");
    o->set |= RUN_SET_SEED;
    break;
  case 'R':
    if (app_parse_double(optarg, 0, 1e7, &o->ramp))
      return app_run_bad("--ramp", optarg, "expected hubs per second, 0 or more");
    o->set |= RUN_SET_RAMP;
    break;
  case 'K':
    if (!*optarg || strlen(optarg) > APP_RUN_KEY_MAX)
      return app_run_bad("--fleet-key", "...", "expected 1 to 128 bytes");
    o->key = optarg;
    o->set |= RUN_SET_KEY;
    break;
  case 'F':
    o->key_file = optarg;
    break;
  case 'Q':
    if (app_parse_u64(optarg, 1, 1048576, &o->queue_max))
      return app_run_bad("--queue-max", optarg, "expected a whole number from 1 to 1048576");
    break;
  case 'B':
    o->bind = optarg;
    break;
  default:
    return FLAG_OTHER;
  }
  return APP_RUN_GO_ON;
}

/* The run and its outputs: --summary ... --exit-after-screenshot. APP_RUN_GO_ON, FLAG_OTHER (not
 * one of these), or the exit code. */
static int flag_run(struct run_opts *o, int c) {
  switch (c) {
  case 'O':
    o->summary = optarg;
    break;
  case 'r':
    if (app_parse_duration(optarg, 1, APP_PARSE_DURATION_MAX_S, &o->drain_s))
      return app_run_bad("--drain", optarg, "expected a duration from 0s to 365d such as 10s");
    break;
  case 'L': {
    double sec;
    if (app_parse_duration(optarg, 0.001, 10000, &sec))
      return app_run_bad(
          "--max-lag", optarg,
          "expected milliseconds from 0 to 10000000 (a plain number, or 50ms, 0.1s)");
    o->max_lag_ms = sec * 1000;
    break;
  }
  case 'A':
    o->allow_lag = 1;
    break;
  case 'C':
    o->command_rate_given = 1;
    if (app_parse_double(optarg, 0, 1e6, &o->command_rate))
      return app_run_bad("--command-rate", optarg, "expected commands per second, 0 or more");
    break;
  case 'b':
    o->db = optarg;
    break;
  case 'U':
    if (strcmp(optarg, "none") == 0)
      o->ui = RUN_UI_NONE;
    else if (strcmp(optarg, "tui") == 0)
      o->ui = RUN_UI_TUI;
    else if (strcmp(optarg, "gui") == 0)
      o->ui = RUN_UI_GUI;
    else
      return app_run_bad("--ui", optarg, "expected none, tui (terminal) or gui (SDL2 window)");
    break;
  case 'z':
    o->screenshot = optarg;
    break;
  case 'Z':
    o->after_given = 1;
    if (app_parse_duration(optarg, 1, APP_PARSE_DURATION_MAX_S, &o->screenshot_after_s))
      return app_run_bad("--after", optarg, "expected a duration from 0s to 365d such as 10s");
    break;
  case 'x':
    o->exit_after_screenshot = 1;
    break;
  default:
    return FLAG_OTHER;
  }
  return APP_RUN_GO_ON;
}

/* Workers, catalogue, radio, clock: --workers ... --sleepy-hold. APP_RUN_GO_ON, FLAG_OTHER (not one
 * of these), or the exit code. */
static int flag_more(struct run_opts *o, int c) {
  switch (c) {
  case 'w':
    o->workers_auto = strcmp(optarg, "auto") == 0;
    if (o->workers_auto)
      o->workers = 1; /* until app_run_plan counts them (flags_check) */
    else if (app_parse_u64(optarg, 1, 256, &o->workers))
      return app_run_bad("--workers", optarg, "expected a whole number from 1 to 256, or auto");
    break;
  case APP_RUN_PREFLIGHT_OPT:
    o->preflight = 1;
    break;
  case 'k': {
    unsigned k, n;
    char tail;
    if (sscanf(optarg, "%u/%u%c", &k, &n, &tail) != 2 || n < 2 || n > 256 || k >= n)
      return app_run_bad("--worker", optarg, "expected K/N with 0 <= K < N <= 256 (internal flag)");
    o->shard = k;
    o->shards = n;
    o->quiet = 1;
    break;
  }
  case 'W':
    if (app_parse_duration(optarg, 1, APP_PARSE_DURATION_MAX_S, &o->warmup_s))
      return app_run_bad("--warmup", optarg, "expected a duration from 0s to 365d such as 10s");
    break;
  case 'X':
    if (app_parse_double(optarg, 0.001, 1e6, &o->speedup))
      return app_run_bad("--speedup", optarg, "expected a factor from 0.001 to 1000000");
    o->set |= RUN_SET_SPEEDUP;
    break;
  case 'c':
    if (o->n_catalog == sizeof(o->catalog) / sizeof(o->catalog[0]))
      return app_run_bad("--catalog", optarg, "at most 8 catalogue directories");
    o->catalog[o->n_catalog++] = optarg;
    break;
  case 'g':
    o->hub_model = optarg;
    o->set |= RUN_SET_HUB_MODEL;
    break;
  case 'T':
    if (strcmp(optarg, "virtual") == 0)
      o->clock_virtual = 1;
    else if (strcmp(optarg, "real") == 0)
      o->clock_virtual = 0;
    else
      return app_run_bad("--clock", optarg, "expected real or virtual");
    o->set |= RUN_SET_CLOCK;
    break;
  case 'J':
    o->junit = optarg;
    break;
  case 'a': {
    struct sim_addr aa;
    struct in_addr ip;
    if (strstr(optarg, "://") || sim_addr_parse(optarg, &aa) || aa.port == 0 ||
        inet_pton(AF_INET, aa.host, &ip) != 1)
      return app_run_bad("--platform-admin", optarg,
                         "expected HOST:PORT with an IPv4 HOST and a port");
    o->platform_admin = optarg;
    break;
  }
  case 'j':
  case 'y':
  case 'l':
  case 'Y': {
    /* The radio flags' grammar is shared with hubsim znp (app/parse.c). */
    int which = c == 'j'   ? APP_RADIO_HOPS
                : c == 'y' ? APP_RADIO_DELAY
                : c == 'l' ? APP_RADIO_LOSS
                           : APP_RADIO_SLEEPY_HOLD;
    struct app_radio_flags rf = {.hops = o->radio_hops,
                                 .delay_ms = o->radio_delay_ms,
                                 .loss = o->radio_loss,
                                 .sleepy_hold_s = o->sleepy_hold_s};
    const char *why = app_parse_radio_flag(which, optarg, &rf);
    if (why)
      return app_run_bad(app_radio_flag_name[which], optarg, why);
    o->radio_hops = rf.hops;
    o->radio_delay_ms = rf.delay_ms;
    o->radio_loss = rf.loss;
    o->sleepy_hold_s = rf.sleepy_hold_s;
    break;
  }
  default:
    return FLAG_OTHER;
  }
  return APP_RUN_GO_ON;
}

/* The getopt loop: every flag once (a second value would silently replace the first, or, for
 * a flag without a value, mean nothing, which hides a mistake in a long command line);
 * --catalog repeats. */
static int flags_read(struct run_opts *o, int argc, char **argv) {
  unsigned char seen[128] = {0};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":qh", all_longopts(), NULL)) != -1) {
    if (c > 0 && c < 128 && c != 'c' && c != 'h' && c != ':' && c != '?' && seen[c]++) {
      char name[40] = "-?";
      for (const struct option *lo = longopts; lo->name; lo++)
        if (lo->val == c)
          snprintf(name, sizeof name, "--%s", lo->name);
      return app_run_bad(name, c == 'K' ? "..." : optarg ? optarg : "", "given twice");
    }
    int rc = flag_fleet(o, c);
    if (rc == FLAG_OTHER)
      rc = flag_run(o, c);
    if (rc == FLAG_OTHER)
      rc = flag_more(o, c);
    if (rc == FLAG_OTHER)
      rc = app_run_z2m_flag(o, c, optarg);
    if (rc == FLAG_OTHER)
      rc = app_run_mqtt_flag(o, c, optarg);
    if (rc == FLAG_OTHER)
      rc = app_run_shard_flag(o, c, optarg);
    if (rc == FLAG_OTHER)
      rc = app_run_record_flag(o, c, optarg);
    if (rc == FLAG_OTHER)
      rc = app_run_metrics_flag(&o->mo, c, optarg);
    if (rc != FLAG_OTHER) {
      if (rc != APP_RUN_GO_ON)
        return rc;
      continue;
    }
    switch (c) {
    case 'q':
      o->quiet = 1;
      break;
    case 'h':
      run_usage(stdout);
      return 0;
    case ':':
      fprintf(stderr, "%s: %s needs a value (see %s --help)\n", flag_cmd, argv[optind - 1],
              flag_cmd);
      return 2;
    default:
      fprintf(stderr, "%s: unknown flag '%s' (see %s --help)\n", flag_cmd, argv[optind - 1],
              flag_cmd);
      return 2;
    }
  }
  return APP_RUN_GO_ON;
}

/* --workers auto and the source addresses: counted from this machine's limits for the whole
 * fleet (a worker counts the same from the same command line, so every process agrees on the
 * addresses). --preflight prints the count and stops. A scenario's fleet runs in one process. */
static int plan_apply(struct run_opts *o) {
  static struct app_run_plan plan;
  if (!o->workers_auto && !o->preflight && (o->bind || o->clock_virtual))
    return APP_RUN_GO_ON;
  app_run_plan_make(o, &plan);
  if (o->workers_auto && o->shards <= 1 && !o->scenario && !o->clock_virtual)
    o->workers = plan.workers;
  if (!o->bind && plan.bind[0] && !o->clock_virtual)
    o->bind = plan.bind;
  if (!o->preflight)
    return APP_RUN_GO_ON;
  app_run_plan_print(stdout, o, &plan);
  return plan.fits ? 0 : 3;
}

/* The scenario argument, the dashboard, and the flags that make no sense together: refused
 * here rather than ignored during the run. */
static int flags_check(struct run_opts *o, int argc, char **argv) {
  if (optind < argc)
    o->scenario = argv[optind++];
  int prc = plan_apply(o);
  if (prc != APP_RUN_GO_ON)
    return prc;
  if (o->ui == RUN_UI_DEFAULT)
    o->ui = app_run_ui_built(RUN_UI_TUI) && o->shards <= 1 && o->workers <= 1 &&
                    isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) && getenv("TERM") &&
                    strcmp(getenv("TERM"), "dumb") != 0
                ? RUN_UI_TUI
                : RUN_UI_NONE;
  if (o->ui >= RUN_UI_TUI && (o->workers > 1 || o->shards > 1))
    return app_run_bad("--ui", o->ui == RUN_UI_TUI ? "tui" : "gui",
                       "the dashboard needs the fleet in this process (no --workers)");
  if ((o->screenshot || o->exit_after_screenshot) && o->ui != RUN_UI_GUI)
    return app_run_bad("--screenshot", o->screenshot ? o->screenshot : "", "needs --ui gui");
  if (o->exit_after_screenshot && !o->screenshot)
    return app_run_bad("--exit-after-screenshot", "", "needs --screenshot FILE.png");
  /* (A build without the terminal dashboard refuses --ui tui for that, after every other
   * check: see app_run_scenario.) */
  if (o->ui == RUN_UI_TUI && app_run_ui_built(RUN_UI_TUI) && !isatty(STDOUT_FILENO))
    return app_run_bad("--ui", "tui", "standard output is not a terminal");
  if (o->ui == RUN_UI_TUI)
    o->quiet = 1; /* progress lines would garble the dashboard */
  if (!o->scenario && o->workers <= 1 && o->shards <= 1 && !o->slice_given &&
      !(o->set & (RUN_SET_HUBS | RUN_SET_DPH | RUN_SET_MIX | RUN_SET_DURATION))) {
    /* Nothing says what to run: the demo scenario of the library, when this build has it. */
    char p[64];
    const char *t;
    size_t n;
    if (app_builtin_scenario("demo", p, sizeof p, &t, &n) == 0)
      o->scenario = "demo";
  }
  if (optind < argc) {
    fprintf(stderr, "%s: unexpected argument '%s': one scenario at most (see %s --help)\n",
            flag_cmd, argv[optind], flag_cmd);
    return 2;
  }

  if (o->workers > 1 && o->shards > 1)
    return app_run_bad("--workers", "", "a worker does not start workers of its own");
  if (app_run_shard_check(o) != APP_RUN_GO_ON)
    return 2;
  if (o->shards > 1 && !o->platform)
    return app_run_bad("--worker", "", "needs --platform (the control process passes it)");
  /* Flags that make no sense together: refused here rather than ignored during the run. */
  int mrc = app_run_mqtt_check(o);
  if (mrc != APP_RUN_GO_ON)
    return mrc;
  if ((mrc = app_run_metrics_check(&o->mo)) != APP_RUN_GO_ON)
    return mrc;
  if (o->mo.out && ((o->summary && same_file(o->mo.out, o->summary)) ||
                    (o->junit && same_file(o->mo.out, o->junit))))
    return app_run_bad("--metrics-out", o->mo.out,
                       "is the --summary or --junit file too: one would overwrite the other");
  if (o->db && o->platform && !o->mq.embedded)
    return app_run_bad("--db", o->db,
                       "keeps the embedded platform's store; with --platform there is no embedded "
                       "platform (the platform under test keeps its own)");
  if (o->command_rate_given && o->platform && !o->mq.embedded)
    return app_run_bad("--command-rate", "",
                       "drives the embedded platform; with --platform send commands through the "
                       "platform under test (or a scenario with --platform-admin)");
  if ((o->tls_ca || o->tls_insecure) && !o->tls)
    return app_run_bad(o->tls_ca ? "--ca" : "--insecure", o->tls_ca ? o->tls_ca : "",
                       "is for TLS: it needs --platform hubrpcs://HOST:PORT or mqtts://HOST:PORT");
  if (o->hub_certs && !o->tls)
    return app_run_bad("--hub-certs", o->hub_certs,
                       "is for TLS: it needs --platform hubrpcs://HOST:PORT or mqtts://HOST:PORT");
  if (o->tls_ca && o->tls_insecure)
    return app_run_bad("--insecure", "",
                       "turns off the check that --ca is for: give one or the other");
  if (o->platform_admin && !o->platform)
    return app_run_bad("--platform-admin", o->platform_admin,
                       "needs --platform: the embedded platform's operations are built in");
  if (o->after_given && !o->screenshot)
    return app_run_bad("--after", "", "says when to take the --screenshot; there is none");
  {
    const struct {
      const char *flag, *path;
      size_t max;
    } outs[] = {{"--summary", o->summary, PATH_MAX - 32},
                {"--junit", o->junit, PATH_MAX - 32},
                {"--screenshot", o->screenshot, 500}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
      const char *why = outs[i].path ? output_problem(outs[i].path, outs[i].max) : NULL;
      if (why)
        return app_run_bad(outs[i].flag, outs[i].path, why);
    }
  }
  if (app_run_z2m_check(o) != APP_RUN_GO_ON)
    return 2;
  if ((mrc = app_run_record_check(o)) != APP_RUN_GO_ON)
    return mrc;
  if (o->summary && o->junit && same_file(o->summary, o->junit))
    return app_run_bad("--junit", o->junit,
                       "is the --summary file too: one would overwrite the other");
  return APP_RUN_GO_ON;
}

/* Where the fleet key comes from: --fleet-key (visible in ps), --fleet-key-file or
 * HUBSIM_FLEET_KEY; a worker gets it from its control process on fd 4. */
static int flags_key(struct run_opts *o) {
  if (o->key_file && (o->set & RUN_SET_KEY))
    return app_run_bad("--fleet-key-file", o->key_file,
                       "give the key once: --fleet-key or --fleet-key-file, not both");
  if (o->key_file) {
    size_t kl = 0;
    const char *why;
    if (sim_keyfile_read(o->key_file, (uint8_t *)keybuf, APP_RUN_KEY_MAX, &kl, &why)) {
      fprintf(stderr, "%s: --fleet-key-file '%s': %s%s\n", flag_cmd, o->key_file, why,
              strstr(why, "longer") ? " (at most 128 bytes)" : "");
      return 2;
    }
    keybuf[kl] = '\0';
    o->key = keybuf;
    o->set |= RUN_SET_KEY;
  } else if (!(o->set & RUN_SET_KEY)) {
    int erc;
    const char *k = env_key(&erc);
    if (erc)
      return erc;
    if (k) {
      o->key = k;
      o->set |= RUN_SET_KEY;
    }
  }
  if (o->shards > 1) {
    size_t kl = 0;
    int krc = app_worker_read_key(keybuf, APP_RUN_KEY_MAX, &kl);
    if (krc == 0) {
      keybuf[kl] = '\0';
      o->key = keybuf;
      o->set |= RUN_SET_KEY;
    } else if (krc != SIM_ENOTFOUND) {
      fprintf(stderr, "hubsim run: worker: cannot read the fleet key on fd 4: %s\n",
              sim_strerror(krc));
      return 2;
    }
  }
  /* Client certificates and no key from any flag, the environment (or, later, a scenario):
   * the hubs authenticate with their certificates alone (an empty mac). Not through a broker:
   * there TLS ends at the broker, which alone sees the certificate; the platform behind it
   * still needs the fleet key's mac. */
  if (o->hub_certs && !(o->set & RUN_SET_KEY) && !o->mq.on)
    o->key = "";
  return APP_RUN_GO_ON;
}

int app_run_flags(struct run_opts *o, int argc, char **argv) {
  *o = (struct run_opts){.hubs = 100,
                         .dph = 8,
                         .seed = 1,
                         .duration_s = 20,
                         .z2m_qos = 1,
                         .ramp = 0,
                         .drain_s = 10,
                         .max_lag_ms = 50,
                         .command_rate = 5,
                         .speedup = 1,
                         .key = APP_RUN_DEFAULT_KEY,
                         .queue_max = 4096,
                         .workers = 1,
                         .shards = 1,
                         .radio_hops = 1,
                         .sleepy_hold_s = 3600,
                         .ui = RUN_UI_DEFAULT};
  /* A copy of the command line as given: getopt reorders argv, and workers get it again. */
  o->argv = calloc((size_t)argc + 1, sizeof *o->argv);
  if (!o->argv) {
    fprintf(stderr, "%s: out of memory\n", flag_cmd);
    return 3;
  }
  memcpy(o->argv, argv, (size_t)argc * sizeof *argv);
  o->argc = argc;
  int rc = flags_read(o, argc, argv);
  if (rc == APP_RUN_GO_ON)
    rc = flags_check(o, argc, argv);
  if (rc == APP_RUN_GO_ON)
    rc = flags_key(o);
  return rc;
}

void app_run_flags_fini(struct run_opts *o) {
  free(o->argv);
  o->argv = NULL;
  o->argc = 0;
}

/* ---- the scenario's values under the flags ---- */

/* Loads o->scenario and lays its declarations under the flags given explicitly. */
static int scenario_load(struct run_opts *o, struct scn **out) {
  struct scn *s = NULL;
  struct scn_limits lim;
  struct scn_error serr;
  scn_limits_default(&lim);
  char path[PATH_MAX];
  const char *text = NULL;
  size_t text_len = 0;
  if (app_builtin_scenario(o->scenario, path, sizeof path, &text, &text_len) != 0)
    snprintf(path, sizeof path, "%s", o->scenario);
  if (scn_load(path, text, text_len, &lim, &s, &serr)) {
    if (serr.line > 0)
      fprintf(stderr, "%s: %s:%d: %s\n", flag_cmd, serr.file, serr.line, serr.message);
    else
      fprintf(stderr, "%s: %s: %s\n", flag_cmd, serr.file[0] ? serr.file : path, serr.message);
    return 2;
  }
  const struct scn_config *sc = scn_config(s);
  if (sc->has_fleet) {
    if (!(o->set & RUN_SET_HUBS) && sc->hubs)
      o->hubs = sc->hubs;
    if (!(o->set & RUN_SET_DPH))
      o->dph = sc->dph_kind == SCN_DPH_FIXED ? sc->dph : sc->dph_max;
    if (!(o->set & RUN_SET_MIX) && sc->mix)
      o->mix = sc->mix;
    if (!(o->set & RUN_SET_HUB_MODEL) && sc->hub_model)
      o->hub_model = sc->hub_model;
    if (!(o->set & RUN_SET_KEY) && sc->fleet_key) {
      /* The key is copied into the fleet's 128 bytes: a script's longer key is refused. */
      if (!*sc->fleet_key || strlen(sc->fleet_key) > APP_RUN_KEY_MAX) {
        fprintf(stderr, "%s: %s: fleet{key = ...}: expected 1 to %d bytes\n", flag_cmd, path,
                APP_RUN_KEY_MAX);
        scn_free(s);
        return 2;
      }
      o->key = sc->fleet_key;
    }
  }
  if (!(o->set & RUN_SET_DURATION) && sc->duration_s > 0)
    o->duration_s = sc->duration_s;
  if (!(o->set & RUN_SET_RAMP) && sc->ramp >= 0)
    o->ramp = sc->ramp;
  if (!(o->set & RUN_SET_SEED) && sc->seed)
    o->seed = sc->seed;
  if (!(o->set & RUN_SET_SPEEDUP) && sc->speedup > 0)
    o->speedup = sc->speedup;
  if (!(o->set & RUN_SET_CLOCK) && sc->clock_virtual >= 0)
    o->clock_virtual = sc->clock_virtual;
  if (o->workers > 1 || o->shards > 1) {
    scn_free(s);
    return app_run_bad("--workers", "", "a scenario runs its fleet in one process in this version");
  }
  *out = s;
  return APP_RUN_GO_ON;
}

int app_run_scenario(struct run_opts *o, struct scn **scn) {
  *scn = NULL;
  if (o->scenario) {
    int rc = scenario_load(o, scn);
    if (rc != APP_RUN_GO_ON)
      return rc;
  }
  struct scn *s = *scn;
  if (o->clock_virtual && (o->platform || o->workers > 1)) {
    if (s)
      scn_free(s);
    *scn = NULL;
    return app_run_bad("--clock", "virtual",
                       "needs the embedded platform in this process (no --platform, "
                       "no --workers)");
  }
  /* Checks that need the scenario's values (its duration, its fleet). */
  {
    char why[200] = "";
    const char *flag = NULL, *val = "";
    if (o->bind && o->clock_virtual) {
      flag = "--bind";
      val = o->bind;
      snprintf(why, sizeof why,
               "sets source addresses of tcp connections; the virtual clock has none");
    } else if (o->warmup_s > 0 && o->warmup_s >= o->duration_s) {
      flag = "--warmup";
      snprintf(why, sizeof why,
               "%g s is not shorter than the run (%g s): no latency would be measured", o->warmup_s,
               o->duration_s);
    } else if (o->screenshot && o->screenshot_after_s > o->duration_s) {
      flag = "--after";
      snprintf(why, sizeof why,
               "%g s is after the end of the run (%g s): the screenshot would never be taken",
               o->screenshot_after_s, o->duration_s);
    } else if ((double)o->hubs * (double)o->dph > 1e9) {
      flag = "--hubs";
      snprintf(why, sizeof why,
               "%" PRIu64 " hubs x %" PRIu64
               " devices is above 1,000,000,000 devices (--devices-per-hub)",
               o->hubs, o->dph);
    } else if (o->workers > 1 && o->workers > o->hubs) {
      flag = "--workers";
      snprintf(why, sizeof why, "%" PRIu64 " processes for %" PRIu64 " hubs: some would hold none",
               o->workers, o->hubs);
    }
    if (flag) {
      if (s)
        scn_free(s);
      *scn = NULL;
      return app_run_bad(flag, val, why);
    }
  }
  /* Last, so that every other flag is judged as in a build with the dashboards. */
  if (!app_run_ui_built(o->ui)) {
    if (s)
      scn_free(s);
    *scn = NULL;
    return app_run_bad("--ui", o->ui == RUN_UI_TUI ? "tui" : "gui",
                       o->ui == RUN_UI_TUI
                           ? "this hubsim is built without the terminal dashboard (cmake "
                             "-DHUBSIM_TUI=OFF); use --ui none, or a build with it"
                           : "this hubsim is built without the graphical dashboard (cmake "
                             "-DHUBSIM_GUI=OFF); use --ui none, or a build with it");
  }
  return APP_RUN_GO_ON;
}

/* ---- the fleet's configuration ---- */

/* Devices per hub from the scenario's range or distribution (fleet.h devices_of_hub). */
static struct scn *dph_scn;
static uint64_t dph_seed;
static uint32_t devices_of_hub(void *arg, uint32_t g) {
  (void)arg;
  return scn_devices_of_hub(dph_scn, dph_seed, g);
}

static int parse_mix(const char *text, struct sim_fleet_config *cfg) {
  cfg->n_mix = 0;
  if (!text || strcmp(text, "all") == 0) {
    for (size_t i = 0; i < sim_model_count() && i < SIM_FLEET_MAX_MIX; i++) {
      cfg->mix_model[cfg->n_mix] = (uint16_t)i;
      cfg->mix_weight[cfg->n_mix++] = 1;
    }
    return cfg->n_mix ? 0 : SIM_EINVAL;
  }
  char buf[1024];
  if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf))
    return SIM_EINVAL;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *colon = strrchr(tok, ':');
    double w = 1;
    if (colon) {
      *colon = 0;
      if (app_parse_double(colon + 1, 0, 1e9, &w))
        return SIM_EINVAL;
    }
    int idx = sim_model_find(tok);
    if (idx < 0) {
      fprintf(stderr, "%s: --mix: unknown device model '%s' (known:", flag_cmd, tok);
      for (size_t i = 0; i < sim_model_count(); i++)
        fprintf(stderr, " %s", sim_model_get((uint16_t)i)->model_id);
      fprintf(stderr, ")\n");
      return SIM_ENOTFOUND;
    }
    if (cfg->n_mix >= SIM_FLEET_MAX_MIX)
      return SIM_EINVAL;
    cfg->mix_model[cfg->n_mix] = (uint16_t)idx;
    cfg->mix_weight[cfg->n_mix++] = w;
  }
  double sum = 0;
  for (size_t i = 0; i < cfg->n_mix; i++)
    sum += cfg->mix_weight[i];
  return cfg->n_mix && sum > 0 ? 0 : SIM_EINVAL;
}

static int parse_bind(const char *text, struct sim_fleet_config *cfg) {
  char buf[1024];
  if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf))
    return SIM_EINVAL;
  cfg->n_bind = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *dash = strchr(tok, '-');
    struct in_addr a, b;
    if (dash)
      *dash = 0;
    if (inet_pton(AF_INET, tok, &a) != 1)
      return SIM_EINVAL;
    b = a;
    if (dash && inet_pton(AF_INET, dash + 1, &b) != 1)
      return SIM_EINVAL;
    uint32_t lo = ntohl(a.s_addr), hi = ntohl(b.s_addr);
    if (hi < lo || hi - lo >= SIM_FLEET_MAX_BIND)
      return SIM_EINVAL;
    for (uint32_t x = lo; x <= hi; x++) {
      if (cfg->n_bind >= SIM_FLEET_MAX_BIND)
        return SIM_EINVAL;
      struct in_addr o = {htonl(x)};
      inet_ntop(AF_INET, &o, cfg->bind[cfg->n_bind].host, sizeof(cfg->bind[0].host));
      cfg->bind[cfg->n_bind++].port = 0;
    }
  }
  return cfg->n_bind ? 0 : SIM_EINVAL;
}

int app_run_fleet_config(const struct run_opts *o, struct scn *scn, struct sim_fleet_config *cfgp) {
  const struct dev_cat_hub *dflt = dev_cat_default_hub(dev_cat_global());
  const char *hub_id = o->hub_model ? o->hub_model : dflt ? dflt->model_id : "(no default)";
  const struct dev_cat_hub *hub = dev_cat_find_hub(dev_cat_global(), hub_id);
  if (!hub)
    return app_run_bad("--hub-model", hub_id, "unknown hub model (see hubsim devices list)");
  if (o->dph > hub->max_devices) {
    char why[160];
    snprintf(why, sizeof why, "%s accepts at most %u devices (choose another --hub-model)",
             hub->model_id, hub->max_devices);
    char v[32];
    snprintf(v, sizeof v, "%" PRIu64, o->dph);
    return app_run_bad("--devices-per-hub", v, why);
  }
  sim_fleet_config_default(cfgp);
  cfgp->hubs = (uint32_t)o->hubs;
  cfgp->queue_max = (uint32_t)o->queue_max;
  cfgp->devices_per_hub = (uint32_t)o->dph;
  cfgp->seed = o->seed;
  cfgp->ramp = o->ramp;
  cfgp->speedup = o->speedup;
  cfgp->shard = o->shard;
  cfgp->shards = o->shards;
  app_run_shard_config(o, cfgp);
  cfgp->warmup = (sim_time_t)(o->warmup_s * 1e6);
  cfgp->hub_model = hub->model_id;
  cfgp->hub_firmware = hub->firmware;
  cfgp->radio_hops = (uint32_t)o->radio_hops;
  cfgp->radio_hop_delay = (sim_time_t)(o->radio_delay_ms * 1000);
  cfgp->radio_loss = o->radio_loss;
  cfgp->sleepy_hold = (sim_time_t)(o->sleepy_hold_s * 1e6);
  if (scn) {
    const struct scn_config *sc = scn_config(scn);
    if (sc->has_fleet && sc->prefix)
      snprintf(cfgp->hub_prefix, sizeof cfgp->hub_prefix, "%s", sc->prefix);
    if (sc->has_fleet && sc->dph_kind != SCN_DPH_FIXED && !(o->set & RUN_SET_DPH)) {
      dph_scn = scn;
      dph_seed = o->seed;
      cfgp->devices_of_hub = devices_of_hub;
    }
  }
  memcpy(cfgp->fleet_key, o->key, strlen(o->key));
  cfgp->fleet_key_len = strlen(o->key);
  int rc = parse_mix(o->mix, cfgp);
  if (rc == SIM_ENOTFOUND)
    return 2;
  if (rc)
    return app_run_bad("--mix", o->mix, "expected MODEL[:WEIGHT],... with positive weights");
  if (o->bind && parse_bind(o->bind, cfgp))
    return app_run_bad("--bind", o->bind, "expected IPv4 addresses or ranges A-B (at most 256)");
  return APP_RUN_GO_ON;
}

/* ---- the command line of a worker ---- */

/* Flags the control process keeps: its outputs, its embedded platform's own flags, the
 * dashboard, the clock (a worker runs on the real one), the key (fd 4 carries it), the
 * platform (passed as resolved: an embedded one has its port only now), --workers and -q (a
 * worker is quiet anyway). Everything else reaches the worker as written. */
static int control_only(int c) {
  /* Only short values are letters: strchr() would take 360 for 'h' (it converts to char). */
  return c == 1 /* the scenario: refused with --workers */ ||
         c == APP_RUN_START_AT_OPT /* waited for before the workers start */ ||
         (c > 1 && c < 128 && strchr("OJbCAUzZxKFwkTaPqh", c));
}

int app_run_worker_args(const struct run_opts *o, const char **out, int cap) {
  /* getopt again over the command line as given, in order ("-": no reordering), to learn
   * which words belong to which flag (a value in the next word, --flag=value, an abbreviated
   * --flag): the same reading as flags_read's. */
  char **scratch = calloc((size_t)o->argc + 1, sizeof *scratch);
  if (!scratch)
    return SIM_ENOMEM;
  memcpy(scratch, o->argv, (size_t)o->argc * sizeof *scratch);
  int n = 0, rc = 0, c, from;
  optind = 0; /* GNU: full re-initialisation, for the "-" mode */
  opterr = 0;
  for (from = 1; (c = getopt_long(o->argc, scratch, "-:qh", all_longopts(), NULL)) != -1;
       from = optind) {
    if (control_only(c) || app_run_mqtt_control_only(c) || app_run_metrics_control_only(c) ||
        c == '?' || c == ':')
      continue;
    for (int i = from; i < optind; i++) {
      if (n == cap) {
        rc = SIM_EINVAL;
        goto done;
      }
      out[n++] = scratch[i];
    }
  }
  rc = n;
done:
  free(scratch);
  return rc;
}
