/* `hubsim merge`: the summaries of the shards of one run (hubsim run --shard I/N) combined into
 * the summary and the verdict of the whole fleet. Counts add, histograms add bucket by bucket
 * (so percentiles are those one process would have measured), errors add by name; the verdict
 * is computed by the same rules as a run's (rec_verdict_compute). Summaries of different
 * fleets, runs or versions, a shard given twice and a shard missing are refused, naming the
 * file, before anything is written. */
#include "app/merge.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/run_internal.h"
#include "app/version.h"
#include "recorders/shard.h"
#include "recorders/summary.h"
#include "sim/core/err.h"
#include "sim/core/wfile.h"

static void merge_usage(FILE *out) {
  fputs("usage: hubsim merge SHARD.json... [--summary OUT.json] [--junit FILE]\n"
        "\n"
        "Combines the JSON summaries of the shards of one run (hubsim run --shard I/N\n"
        "--summary FILE, one per shard) into the summary of the whole fleet: counts are\n"
        "summed, latency histograms merged bucket by bucket and their percentiles computed\n"
        "again, errors summed by name. The verdict and the exit code follow the rules of a\n"
        "run (docs/summary.md section 6). The merged summary goes to stdout.\n"
        "\n"
        "  --summary FILE        write the merged JSON summary to FILE (written atomically)\n"
        "  --junit FILE          write JUnit XML of the merged verdict (docs/ci.md)\n"
        "  -h, --help            this text\n"
        "\n"
        "Every shard 0..N-1 must be given exactly once, and all of one fleet and one run: the\n"
        "same --hubs, --devices-per-hub, --mix, --seed, the other fleet and run settings, and\n"
        "the same hubsim version. Otherwise nothing is written and the message names the file.\n"
        "docs/distributed.md describes sharded runs.\n"
        "\n"
        "Exit codes: those of hubsim run for the merged verdict (0 pass, 1 messages lost,\n"
        "dropped or never acknowledged or hubs not online, 3 no hub ever reached the platform\n"
        "or a shard could not go on, 4 a shard's generator could not keep its schedule), and 2\n"
        "for bad input: a flag, a file that is not a shard's summary (not JSON, truncated, no\n"
        "shard object), shards of different fleets, runs or versions, a shard twice or missing.\n",
        out);
}

struct merge {
  const char *summary, *junit;
  char **files;
  int n_files;
  struct rec_shard_summary *first, *cur;
  struct sim_fleet_stats *st;
  struct sim_tls_stats *tls;
  int *owner; /* owner[i]: the file of shard i, -1 none yet */
  /* Combined over the shards. */
  double elapsed_s, cpu_user_s, cpu_sys_s;
  uint64_t max_rss_bytes, max_pss_bytes;
  uint32_t workers;
  char started_at[40], interrupted[16];
  int platforms_differ;
  /* Reasons the shards found outside their figures (runtime, worker_failed): they decide the
   * merged verdict too, since those shards' figures are incomplete. */
  struct {
    char check[24];
    uint64_t count;
    char text[300];
  } outside[16];
  size_t n_outside;
};

/* The settings that must be equal in every shard, as text: what they are called in the
 * message, and their value in a (a summary read back). */
#define SAME_N 20
#define SAME_W 1040 /* the longest: fleet.mix */
static void settings(const struct rec_shard_summary *a, char v[SAME_N][SAME_W],
                     const char *name[]) {
  static const char *const names[SAME_N] = {"the hubsim version (shard.version)",
                                            "the fleet (shard.fleet_id)",
                                            "the shard count (shard.count)",
                                            "the fleet's hubs (shard.fleet_hubs)",
                                            "the seed (fleet.seed)",
                                            "fleet.devices_per_hub",
                                            "the mix (fleet.mix)",
                                            "fleet.ramp_hubs_per_s",
                                            "duration_s",
                                            "run.speedup",
                                            "run.drain_s",
                                            "run.max_lag_ms",
                                            "run.warmup_s",
                                            "run.queue_max",
                                            "run.allow_lag",
                                            "run.clock",
                                            "the transport",
                                            "tls.insecure",
                                            "the start time (shard.start_at)",
                                            "the histogram layout (shard.histogram_layout)"};
  const double num[] = {
      a->shard.count, a->shard.fleet_hubs, (double)a->seed, a->devices_per_hub, 0,
      a->ramp,        a->duration_s,       a->speedup,      a->drain_s,         a->max_lag_ms,
      a->warmup_s,    a->queue_max,        a->allow_lag};
  for (int i = 0; i < SAME_N; i++)
    name[i] = names[i];
  snprintf(v[0], SAME_W, "%s", a->version);
  snprintf(v[1], SAME_W, "%s", a->fleet_id);
  for (int i = 2; i < 15; i++)
    snprintf(v[i], SAME_W, "%.17g", num[i - 2]);
  snprintf(v[6], SAME_W, "%s", a->mix);
  snprintf(v[15], SAME_W, "%s", a->clock);
  snprintf(v[16], SAME_W, "%s", a->has_tls ? "TLS" : "plain");
  snprintf(v[17], SAME_W, "%d", a->tls_insecure);
  /* A summary of an earlier run of the same fleet, left in the same folder, differs here. */
  snprintf(v[18], SAME_W, "%s", a->start_at[0] ? a->start_at : "none");
  snprintf(v[19], SAME_W, "%s", a->layout);
}

/* A shard against the first file: one fleet, one run, one version. 0, or 2 after the
 * message. */
static int same_run(const struct merge *m, int f) {
  static char va[SAME_N][SAME_W], vb[SAME_N][SAME_W];
  const char *name[SAME_N];
  settings(m->cur, va, name);
  settings(m->first, vb, name);
  for (int i = 0; i < SAME_N; i++)
    if (strcmp(va[i], vb[i]) != 0) {
      fprintf(stderr,
              "hubsim merge: %s: %s is %s, but %s has %s: not shards of one fleet and one run\n",
              m->files[f], name[i], va[i], m->files[0], vb[i]);
      return 2;
    }
  return 0;
}

/* The histograms' bucket layout of the shards must be this hubsim's, which computes the
 * percentiles again. 0, or 2 after the message. */
static int our_layout(const struct merge *m, int f) {
  char layout[40];
  snprintf(layout, sizeof layout, REC_SHARD_HIST_LAYOUT_FMT, SIM_HIST_SUB_BITS, SIM_HIST_MAX_EXP);
  if (strcmp(m->cur->layout, layout) == 0)
    return 0;
  fprintf(stderr,
          "hubsim merge: %s: its histograms are laid out as %s, this hubsim's as %s: merge with "
          "the hubsim that ran the shards\n",
          m->files[f], m->cur->layout, layout);
  return 2;
}

/* Adds the shard just read (m->cur, file f) into the totals. */
static void take(struct merge *m, int f) {
  const struct rec_shard_summary *c = m->cur;
  if (f == 0) {
    *m->st = c->st;
    *m->tls = c->tls;
  } else {
    sim_fleet_stats_merge(m->st, &c->st);
    sim_tls_stats_merge(m->tls, &c->tls);
  }
  m->owner[c->shard.index] = f;
  if (c->elapsed_s > m->elapsed_s)
    m->elapsed_s = c->elapsed_s;
  m->cpu_user_s += c->cpu_user_s;
  m->cpu_sys_s += c->cpu_sys_s;
  m->max_rss_bytes += c->max_rss_bytes; /* processes of their own: summed, as --workers does */
  m->max_pss_bytes += c->max_pss_bytes;
  m->workers += c->workers ? c->workers : 1;
  /* ISO 8601 in UTC compares as text: the earliest start is the run's. */
  if (!m->started_at[0] || strcmp(c->started_at, m->started_at) < 0)
    snprintf(m->started_at, sizeof m->started_at, "%s", c->started_at);
  if (!m->interrupted[0] && c->interrupted[0])
    snprintf(m->interrupted, sizeof m->interrupted, "%s", c->interrupted);
  if (f > 0 && strcmp(c->platform, m->first->platform) != 0)
    m->platforms_differ = 1;
  for (size_t i = 0; i < c->n_outside && m->n_outside < 16; i++) {
    snprintf(m->outside[m->n_outside].check, sizeof m->outside[0].check, "%s", c->outside[i].check);
    snprintf(m->outside[m->n_outside].text, sizeof m->outside[0].text, "shard %" PRIu32 ": %s",
             c->shard.index, c->outside[i].text);
    m->outside[m->n_outside++].count = c->outside[i].count;
  }
}

/* Reads and checks every file. 0, or 2 after the message naming the file. */
static int read_all(struct merge *m) {
  for (int f = 0; f < m->n_files; f++) {
    char why[512];
    struct rec_shard_summary *into = f == 0 ? m->first : m->cur;
    if (rec_shard_load(m->files[f], into, why, sizeof why)) {
      fprintf(stderr, "hubsim merge: %s: %s\n", m->files[f], why);
      return 2;
    }
    if (into->shard.merged) {
      fprintf(stderr,
              "hubsim merge: %s: is a merged summary already, not a shard's: give the shards' "
              "own summaries\n",
              m->files[f]);
      return 2;
    }
    if (f == 0) {
      if (into->shard.count == 0 || into->shard.count > 65536 ||
          into->shard.index >= into->shard.count) {
        fprintf(stderr,
                "hubsim merge: %s: shard.index %" PRIu32 " of shard.count %" PRIu32
                " is not a shard\n",
                m->files[f], into->shard.index, into->shard.count);
        return 2;
      }
      m->owner = malloc(into->shard.count * sizeof *m->owner);
      if (!m->owner)
        return 3;
      for (uint32_t i = 0; i < into->shard.count; i++)
        m->owner[i] = -1;
      *m->cur = *m->first; /* take() and our_layout() read m->cur */
    } else if (same_run(m, f)) {
      return 2;
    }
    if (our_layout(m, f))
      return 2;
    uint32_t idx = m->cur->shard.index;
    if (idx >= m->first->shard.count) {
      fprintf(stderr,
              "hubsim merge: %s: shard.index %" PRIu32 " is not below shard.count %" PRIu32 "\n",
              m->files[f], idx, m->first->shard.count);
      return 2;
    }
    if (m->owner[idx] >= 0) {
      fprintf(stderr,
              "hubsim merge: %s: shard %" PRIu32 " of %" PRIu32 " again (%s is that shard too)\n",
              m->files[f], idx, m->first->shard.count, m->files[m->owner[idx]]);
      return 2;
    }
    take(m, f);
  }
  return 0;
}

/* Every shard given, and their hubs the fleet's. 0 or 2. */
static int complete(const struct merge *m) {
  uint32_t n = m->first->shard.count, missing = 0;
  char list[256] = "";
  size_t o = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (m->owner[i] >= 0)
      continue;
    if (missing < 16 && o < sizeof list)
      o += (size_t)snprintf(list + o, sizeof list - o, "%s%" PRIu32, missing ? ", " : "", i);
    missing++;
  }
  if (missing) {
    fprintf(stderr,
            "hubsim merge: %" PRIu32 " of %" PRIu32 " shards missing (shard %s%s): the merged "
            "figures would not be the fleet's; give every shard's summary\n",
            missing, n, list, missing > 16 ? ", ..." : "");
    return 2;
  }
  if (m->st->hubs != m->first->shard.fleet_hubs) {
    fprintf(stderr,
            "hubsim merge: the shards hold %" PRIu32 " hubs, but the fleet has %" PRIu32
            " (shard.fleet_hubs): a summary was edited or cut\n",
            m->st->hubs, m->first->shard.fleet_hubs);
    return 2;
  }
  return 0;
}

/* The merged verdict, the summary on stdout, --summary and --junit. The exit code. */
static int report(struct merge *m) {
  const struct rec_shard_summary *a = m->first;
  char platform[300];
  snprintf(platform, sizeof platform, "%s%s", a->platform,
           m->platforms_differ ? " (and other addresses: the shards differ)" : "");
  struct rec_shard sh = a->shard;
  sh.merged = 1;
  sh.start_at = a->start_at[0] ? a->start_at : NULL;
  struct rec_tls tls = {.insecure = a->tls_insecure, .st = *m->tls};
  struct rec_run_info info = {.platform_url = platform,
                              .seed = a->seed,
                              .duration_s = a->duration_s,
                              .elapsed_s = m->elapsed_s,
                              .ramp = a->ramp,
                              .mix = a->mix,
                              .devices_per_hub = a->devices_per_hub,
                              .speedup = a->speedup,
                              .drain_s = a->drain_s,
                              .warmup_s = a->warmup_s,
                              .workers = m->workers,
                              .queue_max = a->queue_max,
                              .allow_lag = a->allow_lag,
                              .max_lag_ms = a->max_lag_ms,
                              .started_at = m->started_at,
                              .cpu_user_s = m->cpu_user_s,
                              .cpu_sys_s = m->cpu_sys_s,
                              .max_rss_bytes = m->max_rss_bytes,
                              .max_pss_bytes = m->max_pss_bytes,
                              .interrupted = m->interrupted[0] ? m->interrupted : NULL,
                              .tls = a->has_tls ? &tls : NULL,
                              .shard = &sh};
  struct rec_platform_view pv = {0};
  static struct rec_verdict v;
  rec_verdict_compute(&info, m->st, &pv, &v);
  for (size_t i = 0; i < m->n_outside; i++)
    rec_verdict_add(&v, strcmp(m->outside[i].check, "runtime") == 0 ? "runtime" : "worker_failed",
                    3, m->outside[i].count, m->outside[i].text, 1, &info);
  return app_report_outputs("hubsim merge", m->summary, m->junit, a->clock, &info, m->st, &pv, &v);
}

static int same_path(const char *a, const char *b) {
  struct stat sa, sb;
  if (strcmp(a, b) == 0)
    return 1;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The flags. -1 to go on, or the exit code. */
static int merge_flags(struct merge *m, int argc, char **argv) {
  static const struct option opts[] = {{"summary", required_argument, 0, 'O'},
                                       {"junit", required_argument, 0, 'J'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'O' || c == 'J') {
      const char **slot = c == 'O' ? &m->summary : &m->junit;
      char why[256];
      if (*slot) {
        fprintf(stderr, "hubsim merge: %s given twice\n", argv[optind - 2]);
        return 2;
      }
      if (sim_wfile_check(optarg, why, sizeof why)) {
        fprintf(stderr, "hubsim merge: %s '%s': %s\n", c == 'O' ? "--summary" : "--junit", optarg,
                why);
        return 2;
      }
      *slot = optarg;
    } else if (c == 'h') {
      merge_usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "hubsim merge: %s '%s' (see hubsim merge --help)\n",
              c == ':' ? "a value is missing after" : "unknown flag", argv[optind - 1]);
      return 2;
    }
  }
  m->files = argv + optind;
  m->n_files = argc - optind;
  if (m->n_files < 1) {
    fprintf(stderr, "hubsim merge: no summary given (see hubsim merge --help)\n");
    return 2;
  }
  for (int f = 0; f < m->n_files; f++)
    if ((m->summary && same_path(m->summary, m->files[f])) ||
        (m->junit && same_path(m->junit, m->files[f]))) {
      fprintf(stderr, "hubsim merge: %s: is an input and an output: it would be overwritten\n",
              m->files[f]);
      return 2;
    }
  if (m->summary && m->junit && same_path(m->summary, m->junit)) {
    fprintf(stderr, "hubsim merge: --junit '%s' is the --summary file too\n", m->junit);
    return 2;
  }
  return -1;
}

int app_merge_main(int argc, char **argv) {
  struct merge m;
  memset(&m, 0, sizeof m);
  int rc = merge_flags(&m, argc, argv);
  if (rc >= 0)
    return rc;
  m.first = malloc(sizeof *m.first);
  m.cur = malloc(sizeof *m.cur);
  m.st = malloc(sizeof *m.st);
  m.tls = malloc(sizeof *m.tls);
  if (!m.first || !m.cur || !m.st || !m.tls) {
    fprintf(stderr, "hubsim merge: out of memory\n");
    rc = 3;
    goto done;
  }
  rc = read_all(&m);
  if (rc == 3)
    fprintf(stderr, "hubsim merge: out of memory\n");
  if (rc == 0)
    rc = complete(&m);
  if (rc == 0)
    rc = report(&m);
done:
  free(m.owner);
  free(m.first);
  free(m.cur);
  free(m.st);
  free(m.tls);
  return rc;
}
