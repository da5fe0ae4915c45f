/* hubsim replay: the flags, and the capture read into what is re-sent. What the hubs sent is
 * split into hubrpc frames with the engine's own framing and codec (sim/wire); the sequenced
 * messages (Report, DeviceJoined, DeviceLeft) are kept once each, with the time they were
 * captured; what the platform sent is kept as keys to compare the replay's answers against. */
#include "app/replay.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/parse.h"
#include "app/run_internal.h"
#include "devices/cat_global.h"
#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/core/keyfile.h"
#include "sim/core/wfile.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: hubsim replay FILE.pcapng --platform URL [FLAGS]\n"
          "\n"
          "Re-sends what each hub of a capture (hubsim run --record) sent to its platform: every\n"
          "Report, DeviceJoined and DeviceLeft once, with its original timing, in a fresh\n"
          "session per hub (new Hello, nonce and mac; new sequence numbers), and compares what\n"
          "the platform answers with what it answered in the capture (docs/recorders.md).\n"
          "\n"
          "flags:\n"
          "  --platform URL        hubrpc://HOST:PORT or hubrpcs://HOST:PORT (TLS), HOST an IPv4\n"
          "                        address (required)\n"
          "  --speed X             time runs X times faster than in the capture (default 1);\n"
          "                        0: no pacing, every message at once (the window paces them)\n"
          "  --wait S              after the last message, how long acknowledgements are waited\n"
          "                        for before what is missing counts as lost (default 10s)\n"
          "  --fleet-key KEY       key the hub secrets derive from, as for hubsim run (default\n"
          "                        \"" APP_RUN_DEFAULT_KEY "\"; or HUBSIM_FLEET_KEY)\n"
          "  --fleet-key-file FILE read the key from FILE (a secret file, docs/tls.md)\n"
          "  --ca FILE             hubrpcs://: PEM CA certificates the platform's must chain to\n"
          "  --insecure            hubrpcs://: do not verify the platform's certificate\n"
          "  --json FILE           write the outcome as JSON (docs/recorders.md section 8)\n"
          "  -q, --quiet           no list of differences on stdout, only the counts\n"
          "  -h, --help            this text\n"
          "\n"
          "Captures of MQTT runs (the broker on port 1883) are refused: replay reads hubrpc.\n"
          "exit codes: 0 every re-sent message acknowledged and no difference, 1 messages lost\n"
          "or differences (named), 2 a bad flag or file, 3 the sessions could not be set up.\n");
}

int app_replay_keys_add(struct rp_keys *k, const char *s) {
  char *dup = strdup(s);
  if (!dup || sim_buf_append(&k->buf, &dup, sizeof dup)) {
    free(dup);
    return SIM_ENOMEM;
  }
  k->v = (char **)(void *)k->buf.data;
  k->n = k->buf.len / sizeof dup;
  return 0;
}

/* Commands (what, to which device; the first 64 bytes of the payload) and Errors (the code) are
 * kept as keys; Acks and Welcomes give what they say is stored, compared per message
 * (replay_out.c). */
uint64_t app_replay_down(struct replay *r, struct rp_hub *h, int which, const sim_envelope *env) {
  char key[400];
  if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_ACK)
    return env->ack->up_to_seq;
  if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_WELCOME)
    return env->welcome->acked_seq;
  if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_COMMAND) {
    const Hubrpc__V1__Command *c = env->command;
    char hex[2 * 64 + 1];
    size_t n = c->zcl_payload.len < 64 ? c->zcl_payload.len : 64;
    sim_hex_encode(hex, c->zcl_payload.data, n, 0);
    snprintf(key, sizeof key,
             "command device=%016" PRIx64 " endpoint=%u cluster=0x%04x command=0x%02x%s "
             "payload=%s%s",
             c->device, c->endpoint, c->cluster, c->command, c->global ? " global" : "", hex,
             c->zcl_payload.len > 64 ? "..." : "");
  } else if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_ERROR) {
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&hubrpc__v1__error_code__descriptor, env->error->code);
    snprintf(key, sizeof key, "error %s", v ? v->name : "ERROR_(unknown)");
    if (which == 1)
      r->platform_errors++;
  } else {
    return 0;
  }
  struct rp_keys *k =
      env->body_case == HUBRPC__V1__ENVELOPE__BODY_ERROR ? &h->err[which] : &h->cmd[which];
  if (app_replay_keys_add(k, key))
    r->oom = 1; /* the comparison would miss it: the verdict says so */
  return 0;
}

/* ---- the capture, read into messages ---- */

struct conn_rd {
  struct replay *r;
  struct rp_hub *h;
  struct rp_boot *boot; /* the boot of this connection's Hello (none yet: NULL) */
};

static struct rp_boot *boot_of(struct rp_hub *h, uint64_t id) {
  for (size_t i = 0; i < h->n_boots; i++)
    if (h->boots[i].boot == id)
      return &h->boots[i];
  struct rp_boot *b = realloc(h->boots, (h->n_boots + 1) * sizeof *b);
  if (!b)
    return NULL;
  h->boots = b;
  b[h->n_boots] = (struct rp_boot){.boot = id};
  return &b[h->n_boots++];
}

static int add_msg(struct replay *r, const struct rp_msg *m) {
  if (sim_buf_append(&r->msg_buf, m, sizeof *m))
    return SIM_ENOMEM;
  r->msgs = (struct rp_msg *)(void *)r->msg_buf.data;
  r->n_msgs = r->msg_buf.len / sizeof *m;
  return 0;
}

/* One frame a hub sent. A frame that does not decode stops the stream (SIM_EMALFORMED): what
 * follows cannot be trusted to start on a frame (a hub's malformed-frame fault makes one). */
static int on_up(void *arg, const struct rec_capread_frame *fr) {
  struct conn_rd *c = arg;
  struct replay *r = c->r;
  sim_envelope *env = NULL;
  int rc = sim_hubrpc_decode(fr->body, fr->len, &env);
  if (rc)
    return rc;
  uint64_t seq = 0;
  int kind = -1;
  switch (env->body_case) {
  case HUBRPC__V1__ENVELOPE__BODY_HELLO:
    c->boot = boot_of(c->h, env->hello->boot_id);
    break;
  case HUBRPC__V1__ENVELOPE__BODY_REPORT:
    seq = env->report->seq, kind = SIM_SEQ_REPORT;
    break;
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED:
    seq = env->device_joined->seq, kind = SIM_SEQ_JOINED;
    break;
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT:
    seq = env->device_left->seq, kind = SIM_SEQ_LEFT;
    break;
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT:
    r->results_skipped++;
    break;
  default:
    r->session_msgs++;
    break;
  }
  if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_HELLO && !c->boot)
    rc = SIM_ENOMEM;
  if (kind < 0 || rc) {
    sim_hubrpc_free(env);
    return rc;
  }
  if (!c->boot && !(c->boot = boot_of(c->h, 0))) {
    sim_hubrpc_free(env);
    return SIM_ENOMEM;
  }
  if (seq <= c->boot->max_seq) { /* the hub sent it again after a reconnect */
    r->resends_skipped++;
    sim_hubrpc_free(env);
    return 0;
  }
  c->boot->max_seq = seq;
  struct rp_msg m = {.env = env,
                     .us = fr->us,
                     .boot = c->boot->boot,
                     .orig_seq = seq,
                     .hub = (uint32_t)(c->h - r->hubs),
                     .kind = (uint8_t)kind};
  if (add_msg(r, &m)) {
    sim_hubrpc_free(env);
    return SIM_ENOMEM;
  }
  c->h->n_msgs++;
  return 0;
}

/* One frame the capture's platform sent: Acks and Welcomes say what it stored; Commands and
 * Errors are kept for the comparison. */
static int on_down(void *arg, const struct rec_capread_frame *fr) {
  struct conn_rd *c = arg;
  sim_envelope *env = NULL;
  int rc = sim_hubrpc_decode(fr->body, fr->len, &env);
  if (rc)
    return rc;
  uint64_t up_to = app_replay_down(c->r, c->h, 0, env);
  if (up_to && c->boot && up_to > c->boot->up_to)
    c->boot->up_to = up_to;
  sim_hubrpc_free(env);
  return 0;
}

static struct rp_hub *hub_for(struct replay *r, const struct rec_capread_conn *cn) {
  struct rp_hub *h = sim_htab_get(&r->by_g, (uint64_t)cn->hub + 1);
  if (h)
    return h;
  h = &r->hubs[r->n_hubs];
  h->g = cn->hub;
  if (cn->hub_id[0])
    snprintf(h->id, sizeof h->id, "%s", cn->hub_id);
  else
    snprintf(h->id, sizeof h->id, "hub-%06" PRIu32, cn->hub);
  if (sim_htab_put(&r->by_g, (uint64_t)cn->hub + 1, h))
    return NULL;
  r->n_hubs++;
  return h;
}

/* Both streams of one connection. 0, or SIM_ENOMEM. */
static int read_conn(struct replay *r, const struct rec_capread_conn *cn) {
  struct conn_rd c = {.r = r, .h = hub_for(r, cn)};
  if (!c.h)
    return SIM_ENOMEM;
  c.h->conns++;
  for (int d = 0; d < 2; d++) {
    size_t tail = 0;
    uint64_t bad_off = 0;
    int rc =
        rec_capread_frames(&cn->dir[d], d == REC_CAPREAD_UP ? on_up : on_down, &c, &tail, &bad_off);
    if (rc == SIM_ENOMEM)
      return rc;
    if (rc)
      r->unreadable++;
    else if (tail)
      r->partial_tail++;
    if (cn->dir[d].gap)
      r->gaps++;
  }
  return 0;
}

struct ord {
  uint64_t us;
  size_t i;
};
static int ord_cmp(const void *a, const void *b) {
  const struct ord *x = a, *y = b;
  if (x->us != y->us)
    return x->us < y->us ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* Reads the capture into r. 0, or 2 after a message naming the file. */
static int load(struct replay *r) {
  char why[512];
  int rc = rec_capread_file(r->o.file, &r->cap, why, sizeof why);
  if (rc) {
    fprintf(stderr, "hubsim replay: %s\n", why);
    return 2;
  }
  struct rec_capread *cp = r->cap;
  if (cp->truncated)
    fprintf(stderr,
            "hubsim replay: %s appears to have been cut short in the middle of a block at byte "
            "%" PRIu64 " of %" PRIu64 ": replaying the %" PRIu64 " whole blocks before it\n",
            r->o.file, cp->end_off, cp->size, cp->blocks);
  if (cp->n_conns == 0) {
    fprintf(stderr, "hubsim replay: %s: no hub connection in the capture\n", r->o.file);
    return 2;
  }
  r->t0_us = UINT64_MAX;
  for (size_t i = 0; i < cp->n_conns; i++) {
    if (cp->conns[i]->sport == 1883) {
      fprintf(stderr,
              "hubsim replay: %s: a capture of an MQTT run (the broker on port 1883): replay "
              "reads captures of hubrpc runs\n",
              r->o.file);
      return 2;
    }
    if (cp->conns[i]->start_us < r->t0_us)
      r->t0_us = cp->conns[i]->start_us;
  }
  if (!(r->hubs = calloc(cp->n_conns, sizeof *r->hubs)))
    goto oom;
  for (size_t i = 0; i < cp->n_conns; i++)
    if (read_conn(r, cp->conns[i]))
      goto oom;
  for (size_t i = 0; i < r->n_msgs; i++) {
    struct rp_msg *m = &r->msgs[i];
    struct rp_boot *b = boot_of(&r->hubs[m->hub], m->boot);
    m->orig_acked = b && m->orig_seq <= b->up_to;
  }
  struct ord *o = calloc(r->n_msgs + 1, sizeof *o);
  r->order = calloc(r->n_msgs + 1, sizeof *r->order);
  if (!o || !r->order) {
    free(o);
    goto oom;
  }
  for (size_t i = 0; i < r->n_msgs; i++)
    o[i] = (struct ord){r->msgs[i].us, i};
  qsort(o, r->n_msgs, sizeof *o, ord_cmp);
  for (size_t i = 0; i < r->n_msgs; i++)
    r->order[i] = o[i].i;
  free(o);
  return 0;
oom:
  fprintf(stderr, "hubsim replay: %s: %s\n", r->o.file, sim_strerror(SIM_ENOMEM));
  return 3;
}

static void replay_fini(struct replay *r) {
  for (size_t i = 0; i < r->n_msgs; i++)
    sim_hubrpc_free(r->msgs[i].env);
  sim_buf_fini(&r->msg_buf);
  for (size_t i = 0; i < r->n_hubs; i++) {
    for (int k = 0; k < 4; k++) {
      struct rp_keys *ks = k < 2 ? &r->hubs[i].cmd[k] : &r->hubs[i].err[k - 2];
      for (size_t j = 0; j < ks->n; j++)
        free(ks->v[j]);
      sim_buf_fini(&ks->buf);
    }
    free(r->hubs[i].boots);
  }
  free(r->hubs);
  free(r->order);
  free(r->st);
  sim_htab_fini(&r->by_g);
  rec_capread_free(r->cap);
}

/* ---- flags ---- */

static int key_flags(struct rp_opts *o, const char *key, const char *key_file) {
  if (key && key_file)
    return app_run_bad("--fleet-key-file", key_file,
                       "give the key once: --fleet-key or --fleet-key-file, not both");
  if (key_file) {
    const char *why = NULL;
    if (sim_keyfile_read(key_file, (uint8_t *)o->key, APP_RUN_KEY_MAX, &o->key_len, &why))
      return app_run_bad("--fleet-key-file", key_file, why);
    if (o->key_len == 0)
      return app_run_bad("--fleet-key-file", key_file, "the key is empty");
    return 0;
  }
  if (!key)
    key = getenv("HUBSIM_FLEET_KEY");
  if (!key)
    key = APP_RUN_DEFAULT_KEY;
  size_t n = strlen(key);
  if (n == 0 || n > APP_RUN_KEY_MAX)
    return app_run_bad("--fleet-key", "...", "expected 1 to 128 bytes");
  memcpy(o->key, key, n);
  o->key_len = n;
  return 0;
}

/* --speed, --wait and --json: their values checked. 0, or 2 after the message. */
static int checked_flag(int c, const char *v, struct rp_opts *o) {
  char why[256];
  if (c == 's' && app_parse_double(v, 0, 1e6, &o->speed))
    return app_run_bad("--speed", v, "expected a number from 0 to 1000000");
  if (c == 'w' && app_parse_duration(v, 1, 3600, &o->wait_s))
    return app_run_bad("--wait", v, "expected a duration up to 1h, such as 10s");
  if (c == 'j' && sim_wfile_check(v, why, sizeof why))
    return app_run_bad("--json", v, why);
  if (c == 'j')
    o->json = v;
  return 0;
}

static int parse_flags(int argc, char **argv, struct rp_opts *o) {
  /* Every flag but the last three takes a value. */
  static const struct option opts[] = {{"platform", 1, 0, 'p'},
                                       {"speed", 1, 0, 's'},
                                       {"wait", 1, 0, 'w'},
                                       {"fleet-key", 1, 0, 'K'},
                                       {"fleet-key-file", 1, 0, 'F'},
                                       {"ca", 1, 0, 'c'},
                                       {"json", 1, 0, 'j'},
                                       {"insecure", 0, 0, 'i'},
                                       {"quiet", 0, 0, 'q'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *key = NULL, *key_file = NULL;
  int c;
  o->speed = 1;
  o->wait_s = 10;
  app_run_flags_command("hubsim replay");
  optind = 1;
  while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
    const char **text = c == 'p'   ? &o->platform
                        : c == 'K' ? &key
                        : c == 'F' ? &key_file
                        : c == 'c' ? &o->ca
                                   : NULL;
    if (text) {
      *text = optarg;
      continue;
    }
    if (c == 's' || c == 'w' || c == 'j') {
      if (checked_flag(c, optarg, o))
        return 2;
      continue;
    }
    switch (c) {
    case 'i':
      o->insecure = 1;
      break;
    case 'q':
      o->quiet = 1;
      break;
    case 'h':
      usage(stdout);
      return -1;
    default:
      return app_run_bad(argv[optind - 1], NULL, c == ':' ? "needs a value" : "unknown flag");
    }
  }
  if (optind + 1 != argc) {
    fprintf(stderr, "hubsim replay: expected one capture file (hubsim replay --help)\n");
    return 2;
  }
  o->file = argv[optind];
  if (!o->platform) {
    fprintf(stderr, "hubsim replay: --platform URL is required (hubsim replay --help)\n");
    return 2;
  }
  const char *sep = strstr(o->platform, "://");
  if (sep && !(sep - o->platform == 6 && strncasecmp(o->platform, "hubrpc", 6) == 0) &&
      !sim_addr_is_tls(o->platform))
    return app_run_bad("--platform", o->platform,
                       "expected hubrpc://HOST:PORT or hubrpcs://HOST:PORT: replay speaks hubrpc");
  struct sim_addr a;
  struct in_addr ip;
  if (sim_addr_parse(o->platform, &a) || a.port == 0 || inet_pton(AF_INET, a.host, &ip) != 1)
    return app_run_bad(
        "--platform", o->platform,
        "expected hubrpc://HOST:PORT with an IPv4 address and a port from 1 to 65535");
  if ((o->ca || o->insecure) && !sim_addr_is_tls(o->platform))
    return app_run_bad(o->ca ? "--ca" : "--insecure", o->ca ? o->ca : "",
                       "is for TLS: it needs --platform hubrpcs://HOST:PORT");
  return key_flags(o, key, key_file);
}

int app_replay_main(int argc, char **argv) {
  struct replay r = {0};
  int rc = parse_flags(argc, argv, &r.o);
  if (rc)
    return rc < 0 ? 0 : rc;
  struct dev_cat_error cerr;
  if (dev_cat_global_init(NULL, 0, &cerr) < 0) {
    fprintf(stderr, "hubsim replay: the device catalogue: %s\n", cerr.reason);
    return 3;
  }
  rc = load(&r);
  if (rc == 0)
    rc = app_replay_live(&r);
  if (rc == 0)
    rc = app_replay_report(&r);
  replay_fini(&r);
  return rc;
}
