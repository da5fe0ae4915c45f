/* `hubsim znp`: flags, the listener, the ready file, and an orderly stop on a signal. */
#include "app/znp_cmd.h"
#include "app/znp_script.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "app/parse.h"
#include "devices/cat_global.h"
#include "devices/z2m.h"
#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/core/log.h"
#include "sim/core/num.h"
#include "sim/core/wfile.h"
#include "sim/fleet/model.h"
#include "sim/znp/server.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: hubsim znp --nv FILE [--listen HOST:PORT | --pty PATH] [--ready-file FILE]\n"
          "                  [--device MODEL]... [--coordinators N] [--state-file FILE]\n"
          "                  [--script FILE.lua] [--radio-hops N] [--radio-delay MS]\n"
          "                  [--radio-loss P] [--sleepy-hold D] [-v]\n"
          "\n"
          "Serves one emulated Texas Instruments Z-Stack 3.x.0 ZNP coordinator (MT commands in\n"
          "UNPI frames) on a TCP port or a pseudo-terminal. Point a Zigbee host at it as its\n"
          "adapter, e.g. zigbee2mqtt: serial: {port: tcp://127.0.0.1:PORT, adapter: zstack}.\n"
          "Devices join and run their catalogue behaviour: reports, heartbeats, answers to the\n"
          "host's ZCL (commands change their state), over a radio with delay, loss and sleepy\n"
          "devices' polls. See docs/hil.md.\n"
          "\n"
          "flags:\n"
          "  --nv FILE           the coordinator's NV items (created when missing; rewritten\n"
          "                      crash-safely on every change), so a restart keeps the network\n"
          "  --listen HOST:PORT  IPv4 address and port to listen on (default 127.0.0.1:0: a free\n"
          "                      port); the bound port is printed as 'listening on HOST:PORT'\n"
          "  --pty PATH          serve on a pseudo-terminal instead of TCP: PATH becomes a\n"
          "                      symlink to its device (removed at exit; refused if PATH\n"
          "                      exists); the host opens PATH as a serial port at any baud\n"
          "                      rate, e.g. serial: {port: PATH, adapter: zstack}; printed as\n"
          "                      'pty PATH DEVICE'; with --coordinators, PATH.K each\n"
          "  --ready-file FILE   write the bound port (with --pty: PATH) to FILE once serving\n"
          "  --device MODEL      a catalogue device (model id, see hubsim devices list) that\n"
          "                      joins when the host first permits joining (one the NV file\n"
          "                      lists as joined is in the network again without joining);\n"
          "                      repeat for more (at most 256); its IEEE address is the same\n"
          "                      on every run\n"
          "  --coordinators N    serve N coordinators (1 to 64), each with its own network, NV\n"
          "                      file FILE.K (K from 0) and port (PORT+K, or each a free one\n"
          "                      with port 0; a line 'listening on' each, and a line each in\n"
          "                      the ready file), and its own devices: every --device joins\n"
          "                      every coordinator, with addresses of its own (default 1)\n"
          "  --state-file FILE   on SIGUSR1, write every device's state to FILE (one line each:\n"
          "                      IEEE address, model id, the state as zigbee2mqtt publishes it,\n"
          "                      from the frames the device sent), then print 'state written N'\n"
          "  --script FILE.lua   drive the radio side on a timeline from the start: devices\n"
          "                      joining, leaving and rejoining on their own, the radio's own\n"
          "                      permit-join window, link loss, resets, failed interviews\n"
          "                      (a Lua scenario sandbox with a 'radio' table; see docs/hil.md,\n"
          "                      'Scenario control'); its log lines are printed as 'script ...',\n"
          "                      then 'script done' when its timeline is empty\n"
          "\n"
          "radio (between the coordinator and its devices, as behind hubrpc hubs):\n"
          "  --radio-hops N      devices are 1..N hops from the coordinator, fixed per device\n"
          "                      (default 1)\n"
          "  --radio-delay MS    delay of one hop, per attempt (default 0)\n"
          "  --radio-loss P      chance that one attempt on one hop fails, 0..1; a hop is tried\n"
          "                      4 times before the frame is lost: a device's frame never\n"
          "                      reaches the host, the host's gets AF_DATA_CONFIRM MAC_NO_ACK\n"
          "                      (default 0)\n"
          "  --sleepy-hold D     how long the coordinator keeps a frame for a sleepy device\n"
          "                      that is not awake until it polls (when it next transmits)\n"
          "                      before AF_DATA_CONFIRM MAC_TRANSACTION_EXPIRED (default\n"
          "                      7.68s, Z-Stack's MAC transaction persistence time)\n"
          "\n"
          "  -v, --verbose       log connections and network formation\n"
          "  -h, --help          this text\n"
          "\n"
          "SIGINT/SIGTERM stop it with exit 0. Exit 2: a bad flag, a malformed NV file, or a\n"
          "script that fails (at load or in a callback: FILE:LINE and the reason on stderr);\n"
          "3: cannot listen or cannot write a file.\n");
}

#define ZNP_MAX_COORDS 64

static int bad(const char *flag, const char *value, const char *why) {
  fprintf(stderr, "hubsim znp: %s '%s': %s (see hubsim znp --help)\n", flag, value, why);
  return 2;
}

/* "HOST:PORT" into host (cap bytes) and port. */
static int parse_listen(const char *s, char *host, size_t cap, int *port) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s || (size_t)(colon - s) >= cap)
    return bad("--listen", s, "expected HOST:PORT, e.g. 127.0.0.1:0");
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  struct sockaddr_in sa;
  if (uv_ip4_addr(host, 0, &sa) != 0)
    return bad("--listen", s, "the host is not an IPv4 address");
  uint64_t v = 0;
  if (sim_num_parse_u64(colon + 1, 0, 65535, &v) != 0)
    return bad("--listen", s, "the port is not a number from 0 to 65535");
  *port = (int)v;
  return 0;
}

uint64_t app_znp_device_ieee(const struct sim_model *m, uint64_t nth, unsigned coord) {
  uint64_t h = sim_hash_mix64(sim_hash_str(m->model_id) ^ nth ^ (uint64_t)coord << 32);
  return (uint64_t)(m->ieee_oui & 0xFFFFFF) << 40 | (h & 0xFFFFFFFFFFull);
}

/* The address of the i-th --device (ids: every --device) on coordinator coord: nth counts the
 * devices of its model before it on the command line. */
static uint64_t device_ieee(const struct sim_model *m, const char *const *ids, size_t i,
                            unsigned coord) {
  uint64_t nth = 0;
  for (size_t j = 0; j < i; j++)
    nth += strcmp(ids[j], ids[i]) == 0;
  return app_znp_device_ieee(m, nth, coord);
}

/* --state-file: each device's state as zigbee2mqtt's converters make it of the frames the
 * device sent (devices/z2m.h), kept from its first frame on, so a test can compare what a host
 * published with what the device holds. */
struct znp_states {
  const char *path;
  unsigned written;
  size_t n;
  struct {
    uint64_t ieee;
    const char *model_id;
    int ok; /* 0: zigbee2mqtt knows no such model; nothing kept */
    struct dev_z2m_dev zd;
  } dev[SIM_ZNP_SERVER_MAX_PENDING];
};

static void state_frame(void *ctx, const struct sim_znp_dev *d, uint8_t ep, uint16_t cluster,
                        const uint8_t *zcl, size_t len) {
  struct znp_states *st = ctx;
  size_t i = 0;
  while (i < st->n && st->dev[i].ieee != d->ieee)
    i++;
  if (i == st->n) {
    if (st->n >= SIM_ZNP_SERVER_MAX_PENDING)
      return;
    st->dev[i].ieee = d->ieee;
    st->dev[i].model_id = d->model->model_id;
    st->dev[i].ok = dev_z2m_dev_init(&st->dev[i].zd, d->model->model_id) == 0;
    st->n++;
  }
  if (st->dev[i].ok)
    dev_z2m_dev_frame(&st->dev[i].zd, d->sd.lqi, ep, cluster, zcl, len, NULL);
}

static int write_states(struct znp_states *st) {
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, st->path);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < st->n; i++) {
    char *json = st->dev[i].ok ? dev_z2m_dev_state(&st->dev[i].zd) : NULL;
    fprintf(w.fp, "%016llx %s %s\n", (unsigned long long)st->dev[i].ieee, st->dev[i].model_id,
            json ? json : "{}");
    free(json);
  }
  return sim_wfile_commit(&w);
}

static void usr1_cb(uv_signal_t *h, int signum) {
  (void)signum;
  struct znp_states *st = h->data;
  int rc = write_states(st);
  if (rc != 0)
    fprintf(stderr, "hubsim znp: --state-file '%s': %s\n", st->path, sim_strerror(rc));
  else
    printf("state written %u\n", ++st->written);
  fflush(stdout);
}

static void states_free(struct znp_states *st) {
  for (size_t i = 0; st && i < st->n; i++)
    if (st->dev[i].ok)
      dev_z2m_dev_fini(&st->dev[i].zd);
  free(st);
}

static void signal_cb(uv_signal_t *h, int signum) {
  (void)signum;
  uv_stop(h->loop);
}

static void close_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* One `hubsim znp` process: its coordinators and what it was asked to write. */
struct znp_run {
  const char *host, *ready, *state_path;
  const char *pty[ZNP_MAX_COORDS]; /* --pty: each coordinator's path; NULL: TCP */
  int port, n;
  const char *nv[ZNP_MAX_COORDS];
  const char *const *devs;
  const struct sim_model *const *models;
  size_t ndev;
  struct sim_znp_server *s[ZNP_MAX_COORDS];
  struct znp_states *states;
  uv_signal_t sigusr1;
  struct app_znp_script *script; /* --script, loaded; NULL: none */
  struct sim_znp_radio radio;
};

static int write_ready_all(const char *path, struct znp_run *r) {
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (rc != 0)
    return rc;
  for (int k = 0; k < r->n; k++) {
    if (r->pty[k])
      fprintf(w.fp, "%s\n", r->pty[k]);
    else
      fprintf(w.fp, "%d\n", sim_znp_server_port(r->s[k]));
  }
  return sim_wfile_commit(&w);
}

/* The coordinators, their devices and the state file's hook. 0, or the exit code. */
static int znp_start(uv_loop_t *loop, struct znp_run *r) {
  char why[512];
  for (int k = 0; k < r->n; k++) {
    int rc = r->pty[k]
                 ? sim_znp_server_new_pty(loop, r->pty[k], r->nv[k], &r->s[k], why, sizeof why)
                 : sim_znp_server_new(loop, r->host, r->port ? r->port + k : 0, r->nv[k], &r->s[k],
                                      why, sizeof why);
    if (rc != 0) {
      fprintf(stderr, "hubsim znp: %s%s\n", rc == SIM_EEXISTS ? "--pty: " : "", why);
      return rc == SIM_EMALFORMED || rc == SIM_ETOOBIG || rc == SIM_EFULL || rc == SIM_EEXISTS ? 2
                                                                                               : 3;
    }
    sim_znp_coord_set_radio(sim_znp_server_coord(r->s[k]), &r->radio);
    for (size_t i = 0; i < r->ndev; i++)
      sim_znp_server_add_device(r->s[k], r->models[i],
                                device_ieee(r->models[i], r->devs, i, (unsigned)k));
  }
  if (r->state_path) {
    if (!(r->states = calloc(1, sizeof *r->states))) {
      fprintf(stderr, "hubsim znp: out of memory\n");
      return 3;
    }
    r->states->path = r->state_path;
    sim_znp_server_coord(r->s[0])->on_dev_frame = state_frame;
    sim_znp_server_coord(r->s[0])->on_dev_frame_ctx = r->states;
    uv_signal_init(loop, &r->sigusr1);
    r->sigusr1.data = r->states;
    uv_signal_start(&r->sigusr1, usr1_cb, SIGUSR1);
  }
  for (int k = 0; k < r->n; k++) {
    if (r->pty[k])
      printf("pty %s %s\n", r->pty[k], sim_znp_server_pty(r->s[k]));
    else
      printf("listening on %s:%d\n", r->host, sim_znp_server_port(r->s[k]));
  }
  fflush(stdout);
  if (r->script && app_znp_script_start(r->script, loop, r->s, r->n, why, sizeof why) != 0) {
    fprintf(stderr, "hubsim znp: --script: %s\n", why);
    return 2;
  }
  int rc;
  if (r->ready && (rc = write_ready_all(r->ready, r)) != 0) {
    fprintf(stderr, "hubsim znp: --ready-file '%s': %s\n", r->ready, sim_strerror(rc));
    return 3;
  }
  return 0;
}

/* One line of counters per coordinator on stderr; 3 when one could not write its NV file. */
static int znp_report(const struct znp_run *r) {
  int exit_code = 0;
  for (int k = 0; k < r->n; k++) {
    const struct sim_znp_stats *st = &sim_znp_server_coord(r->s[k])->stats;
    char who[32] = "";
    if (r->n > 1)
      snprintf(who, sizeof who, " coordinator %d:", k);
    fprintf(stderr,
            "hubsim znp:%s %llu frames in, %llu out, %llu bad, %llu unsupported, %llu malformed, "
            "%llu NV write errors, %llu device frames dropped, %llu device frames lost out of "
            "range or with no network, %llu device frames lost on the radio, %llu host frames "
            "lost on the radio, %llu radio retries, %llu frames held for sleepy devices, %llu "
            "expired, %llu air full\n",
            who, (unsigned long long)st->frames_in, (unsigned long long)st->frames_out,
            (unsigned long long)st->bad_frames, (unsigned long long)st->unsupported,
            (unsigned long long)st->malformed, (unsigned long long)st->nv_errors,
            (unsigned long long)st->device_frames_dropped,
            (unsigned long long)st->device_frames_lost, (unsigned long long)st->radio_lost,
            (unsigned long long)st->radio_lost_host, (unsigned long long)st->radio_retries,
            (unsigned long long)st->sleepy_held, (unsigned long long)st->sleepy_expired,
            (unsigned long long)st->air_full);
    if (st->nv_errors)
      exit_code = 3;
  }
  return exit_code;
}

static int znp_serve(struct znp_run *r) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int exit_code = znp_start(&loop, r);
  if (exit_code == 0) {
    uv_signal_t sigint, sigterm;
    uv_signal_init(&loop, &sigint);
    uv_signal_init(&loop, &sigterm);
    uv_signal_start(&sigint, signal_cb, SIGINT);
    uv_signal_start(&sigterm, signal_cb, SIGTERM);
    uv_run(&loop, UV_RUN_DEFAULT);
    exit_code = znp_report(r);
    if (app_znp_script_failed(r->script))
      exit_code = 2;
  }
  app_znp_script_free(r->script); /* its handles close with their own callbacks */
  for (int k = 0; k < r->n; k++)
    if (r->s[k])
      sim_znp_server_close(r->s[k]);
  uv_walk(&loop, close_walk_cb, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  states_free(r->states);
  return exit_code;
}

#define ZNP_PATH_MAX 4096

/* The path of each coordinator's file from flag's value base: base itself for one coordinator,
 * base.K for K from 0 with several. With check, each must be a file hubsim can write
 * crash-safely. 0, or 2 after the message naming the flag. */
static int coord_paths(const char *flag, const char *base, int ncoord, char out[][ZNP_PATH_MAX],
                       int check) {
  char why[512];
  for (int k = 0; k < ncoord; k++) {
    int n = ncoord == 1 ? snprintf(out[k], ZNP_PATH_MAX, "%s", base)
                        : snprintf(out[k], ZNP_PATH_MAX, "%s.%d", base, k);
    if (n < 0 || n >= ZNP_PATH_MAX)
      return bad(flag, base, "the path is too long");
    if (check && sim_wfile_check(out[k], why, sizeof why) != 0)
      return bad(flag, out[k], why);
  }
  return 0;
}

int app_znp_main(int argc, char **argv) {
  const char *nv = NULL, *listen = "127.0.0.1:0", *ready = NULL, *state_path = NULL, *pty = NULL;
  const char *script = NULL;
  int listen_given = 0;
  static const struct option opts[] = {{"nv", required_argument, NULL, 'n'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"ready-file", required_argument, NULL, 'r'},
                                       {"pty", required_argument, NULL, 'p'},
                                       {"device", required_argument, NULL, 'd'},
                                       {"state-file", required_argument, NULL, 's'},
                                       {"coordinators", required_argument, NULL, 'c'},
                                       {"script", required_argument, NULL, 'S'},
                                       {"radio-hops", required_argument, NULL, 'j'},
                                       {"radio-delay", required_argument, NULL, 'y'},
                                       {"radio-loss", required_argument, NULL, 'L'},
                                       {"sleepy-hold", required_argument, NULL, 'Y'},
                                       {"verbose", no_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int verbose = 0, ch, ncoord = 1;
  const char *devs[SIM_ZNP_SERVER_MAX_PENDING];
  size_t ndev = 0;
  /* The radio flags of hubsim run, with Z-Stack's hold for a sleepy device by default. */
  struct app_radio_flags rf = {.hops = 1, .sleepy_hold_s = SIM_ZNP_SLEEPY_HOLD_MS / 1000.0};
  optind = 1;
  opterr = 0; /* our own message names the flag */
  while ((ch = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
    switch (ch) {
    case 'n':
      nv = optarg;
      break;
    case 'l':
      listen = optarg;
      listen_given = 1;
      break;
    case 'p':
      pty = optarg;
      break;
    case 'r':
      ready = optarg;
      break;
    case 'v':
      verbose = 1;
      break;
    case 's':
      state_path = optarg;
      break;
    case 'S':
      script = optarg;
      break;
    case 'c': {
      uint64_t v = 0;
      if (sim_num_parse_u64(optarg, 1, ZNP_MAX_COORDS, &v) != 0)
        return bad("--coordinators", optarg, "expected a whole number from 1 to 64");
      ncoord = (int)v;
      break;
    }
    case 'j':
    case 'y':
    case 'L':
    case 'Y': {
      int which = ch == 'j'   ? APP_RADIO_HOPS
                  : ch == 'y' ? APP_RADIO_DELAY
                  : ch == 'L' ? APP_RADIO_LOSS
                              : APP_RADIO_SLEEPY_HOLD;
      const char *why_not = app_parse_radio_flag(which, optarg, &rf);
      if (why_not)
        return bad(app_radio_flag_name[which], optarg, why_not);
      break;
    }
    case 'd':
      if (ndev >= SIM_ZNP_SERVER_MAX_PENDING)
        return bad("--device", optarg, "more than 256 devices");
      devs[ndev++] = optarg;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case ':':
      return bad("flag", argv[optind - 1], "needs a value");
    default:
      return bad("flag", argv[optind - 1], "unknown");
    }
  }
  if (optind < argc)
    return bad("argument", argv[optind], "unexpected");
  if (!nv) {
    fprintf(stderr, "hubsim znp: --nv FILE is required (see hubsim znp --help)\n");
    return 2;
  }
  char host[64], why[512];
  int port = 0;
  if (parse_listen(listen, host, sizeof host, &port) != 0)
    return 2;
  if (port != 0 && port + ncoord - 1 > 65535)
    return bad("--listen", listen, "PORT+K for every coordinator must stay below 65536");
  if (pty && listen_given)
    return bad("--pty", pty, "serves instead of TCP: give --pty or --listen, not both");
  static char ptys[ZNP_MAX_COORDS][ZNP_PATH_MAX];
  if (pty && coord_paths("--pty", pty, ncoord, ptys, 0) != 0)
    return 2;
  if (state_path && ncoord > 1)
    return bad("--state-file", state_path, "serves one coordinator only (no --coordinators)");
  static char nvs[ZNP_MAX_COORDS][ZNP_PATH_MAX];
  if (coord_paths("--nv", nv, ncoord, nvs, 1) != 0)
    return 2;
  if (ready && sim_wfile_check(ready, why, sizeof why) != 0)
    return bad("--ready-file", ready, why);
  if (state_path && sim_wfile_check(state_path, why, sizeof why) != 0)
    return bad("--state-file", state_path, why);
  if (verbose)
    sim_log_set_level(SIM_LOG_INFO);
  const struct sim_model *models[SIM_ZNP_SERVER_MAX_PENDING];
  for (size_t i = 0; i < ndev; i++) {
    models[i] = dev_catalog_find(devs[i]);
    if (!models[i])
      return bad("--device", devs[i], "no such model in the catalogue (hubsim devices list)");
  }
  struct app_znp_script *sc = NULL;
  if (script && app_znp_script_load(script, &sc, why, sizeof why) != 0) {
    fprintf(stderr, "hubsim znp: --script: %s\n", why);
    return 2;
  }
  struct znp_run r = {.host = host,
                      .port = port,
                      .n = ncoord,
                      .ready = ready,
                      .devs = devs,
                      .models = models,
                      .ndev = ndev,
                      .state_path = state_path,
                      .script = sc};
  for (int k = 0; k < ncoord; k++) {
    r.nv[k] = nvs[k];
    r.pty[k] = pty ? ptys[k] : NULL;
  }
  r.radio = (struct sim_znp_radio){.hops = (uint32_t)rf.hops,
                                   .hop_delay = (sim_time_t)(rf.delay_ms * 1000),
                                   .loss = rf.loss,
                                   .sleepy_hold_ms = (uint32_t)(rf.sleepy_hold_s * 1000 + 0.5),
                                   .awake_join_ms = SIM_ZNP_AWAKE_JOIN_MS,
                                   .awake_tx_ms = SIM_ZNP_AWAKE_TX_MS,
                                   .awake_poll_ms = SIM_ZNP_AWAKE_POLL_MS,
                                   .pairing_poll_ms = 0};
  return znp_serve(&r);
}
