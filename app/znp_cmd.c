/* `hubsim znp`: flags, the listener, the ready file, and an orderly stop on a signal. */
#include "app/znp_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

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
          "usage: hubsim znp --nv FILE [--listen HOST:PORT] [--ready-file FILE]\n"
          "                  [--device MODEL]... [--state-file FILE] [-v]\n"
          "\n"
          "Serves one emulated Texas Instruments Z-Stack 3.x.0 ZNP coordinator (MT commands in\n"
          "UNPI frames) on a TCP port. Point a Zigbee host at it as its adapter, e.g.\n"
          "zigbee2mqtt: serial: {port: tcp://127.0.0.1:PORT, adapter: zstack}. Devices join\n"
          "and run their catalogue behaviour: reports, heartbeats, answers to the host's ZCL\n"
          "(commands change their state). See docs/hil.md.\n"
          "\n"
          "flags:\n"
          "  --nv FILE           the coordinator's NV items (created when missing; rewritten\n"
          "                      crash-safely on every change), so a restart keeps the network\n"
          "  --listen HOST:PORT  IPv4 address and port to listen on (default 127.0.0.1:0: a free\n"
          "                      port); the bound port is printed as 'listening on HOST:PORT'\n"
          "  --ready-file FILE   write the bound port to FILE once listening\n"
          "  --device MODEL      a catalogue device (model id, see hubsim devices list) that\n"
          "                      joins when the host first permits joining; repeat for more\n"
          "                      (at most 256); its IEEE address is the same on every run\n"
          "  --state-file FILE   on SIGUSR1, write every device's state to FILE (one line each:\n"
          "                      IEEE address, model id, the state as zigbee2mqtt publishes it,\n"
          "                      from the frames the device sent), then print 'state written N'\n"
          "  -v, --verbose       log connections and network formation\n"
          "  -h, --help          this text\n"
          "\n"
          "SIGINT/SIGTERM stop it with exit 0. Exit 2: a bad flag or a malformed NV file;\n"
          "3: cannot listen or cannot write a file.\n");
}

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

/* A device's IEEE address: its vendor's OUI, then 40 bits from its model id and how many
 * devices of that model came before it on the command line, so that a restarted hubsim brings
 * the same devices back. */
static uint64_t device_ieee(const struct sim_model *m, const char *const *ids, size_t i) {
  uint64_t nth = 0;
  for (size_t j = 0; j < i; j++)
    nth += strcmp(ids[j], ids[i]) == 0;
  uint64_t h = sim_hash_mix64(sim_hash_str(m->model_id) ^ nth);
  return (uint64_t)(m->ieee_oui & 0xFFFFFF) << 40 | (h & 0xFFFFFFFFFFull);
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

static int write_ready(const char *path, int port) {
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (rc != 0)
    return rc;
  fprintf(w.fp, "%d\n", port);
  return sim_wfile_commit(&w);
}

static void close_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

int app_znp_main(int argc, char **argv) {
  const char *nv = NULL, *listen = "127.0.0.1:0", *ready = NULL, *state_path = NULL;
  static const struct option opts[] = {{"nv", required_argument, NULL, 'n'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"ready-file", required_argument, NULL, 'r'},
                                       {"device", required_argument, NULL, 'd'},
                                       {"state-file", required_argument, NULL, 's'},
                                       {"verbose", no_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int verbose = 0, ch;
  const char *devs[SIM_ZNP_SERVER_MAX_PENDING];
  size_t ndev = 0;
  optind = 1;
  opterr = 0; /* our own message names the flag */
  while ((ch = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
    switch (ch) {
    case 'n':
      nv = optarg;
      break;
    case 'l':
      listen = optarg;
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
  if (sim_wfile_check(nv, why, sizeof why) != 0)
    return bad("--nv", nv, why);
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

  uv_loop_t loop;
  uv_loop_init(&loop);
  struct sim_znp_server *s = NULL;
  struct znp_states *states = NULL;
  uv_signal_t sigusr1;
  int exit_code = 0;
  int rc = sim_znp_server_new(&loop, host, port, nv, &s, why, sizeof why);
  if (rc != 0) {
    fprintf(stderr, "hubsim znp: %s\n", why);
    exit_code = rc == SIM_EMALFORMED || rc == SIM_ETOOBIG || rc == SIM_EFULL ? 2 : 3;
    goto out;
  }
  for (size_t i = 0; i < ndev; i++)
    sim_znp_server_add_device(s, models[i], device_ieee(models[i], devs, i));
  if (state_path) {
    if (!(states = calloc(1, sizeof *states))) {
      fprintf(stderr, "hubsim znp: out of memory\n");
      exit_code = 3;
      goto out;
    }
    states->path = state_path;
    sim_znp_server_coord(s)->on_dev_frame = state_frame;
    sim_znp_server_coord(s)->on_dev_frame_ctx = states;
    uv_signal_init(&loop, &sigusr1);
    sigusr1.data = states;
    uv_signal_start(&sigusr1, usr1_cb, SIGUSR1);
  }
  printf("listening on %s:%d\n", host, sim_znp_server_port(s));
  fflush(stdout);
  if (ready && (rc = write_ready(ready, sim_znp_server_port(s))) != 0) {
    fprintf(stderr, "hubsim znp: --ready-file '%s': %s\n", ready, sim_strerror(rc));
    exit_code = 3;
    goto out;
  }
  uv_signal_t sigint, sigterm;
  uv_signal_init(&loop, &sigint);
  uv_signal_init(&loop, &sigterm);
  uv_signal_start(&sigint, signal_cb, SIGINT);
  uv_signal_start(&sigterm, signal_cb, SIGTERM);
  uv_run(&loop, UV_RUN_DEFAULT);
  const struct sim_znp_stats *st = &sim_znp_server_coord(s)->stats;
  fprintf(stderr,
          "hubsim znp: %llu frames in, %llu out, %llu bad, %llu unsupported, %llu malformed, "
          "%llu NV write errors, %llu device frames dropped\n",
          (unsigned long long)st->frames_in, (unsigned long long)st->frames_out,
          (unsigned long long)st->bad_frames, (unsigned long long)st->unsupported,
          (unsigned long long)st->malformed, (unsigned long long)st->nv_errors,
          (unsigned long long)st->device_frames_dropped);
  if (st->nv_errors)
    exit_code = 3;
out:
  if (s)
    sim_znp_server_close(s);
  uv_walk(&loop, close_walk_cb, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  states_free(states);
  return exit_code;
}
