/* The phases and measurements shared by bench/mqtt's C generators; see gen.h. CPU is
 * getrusage(RUSAGE_SELF) user + sys and memory is VmRSS of /proc/self/status, the same sources
 * the MQTT.js generator (mqttjs/gen.js) reads, so the columns of run.sh compare like with like. */
#include "gen.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double gen_mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double gen_cpu(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec / 1e6 + (double)r.ru_stime.tv_sec +
         (double)r.ru_stime.tv_usec / 1e6;
}

void gen_note_error(struct gen_stats *s, const char *why) {
  if (s->first_error[0] == '\0')
    snprintf(s->first_error, sizeof(s->first_error), "%s", why);
}

/* VmRSS in bytes, or -1 when /proc cannot say. /proc/self/status is opened once, before the
 * connect phase: a generator that reaches the open-file limit can still read it afterwards. */
static long gen_rss(void) {
  static int fd = -1;
  char buf[4096];
  if (fd < 0)
    fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  const char *at = strstr(buf, "\nVmRSS:");
  return at ? strtol(at + 8, NULL, 10) * 1024 : -1;
}

static void gen_usage(const char *prog, FILE *out) {
  fprintf(out,
          "usage: %s --port P [--host 127.0.0.1] [--hubs 1000] [--window 100]\n"
          "       [--interval-ms 1000] [--duration-ms 30000] [--idle-ms 1000] [--drain-ms 5000]\n"
          "       [--connect-timeout-ms 120000] [--payload 100] [--keepalive 60] [--name NAME]\n"
          "Connects --hubs MQTT 3.1.1 clients (clean session), idles, then publishes one QoS 1\n"
          "message per hub per interval; prints one JSON object with the figures.\n",
          prog);
}

/* A whole decimal in [lo, hi], or usage and exit 2. */
static int gen_int(const char *prog, const char *flag, const char *v, long lo, long hi) {
  char *end;
  long x = strtol(v, &end, 10);
  if (*v == '\0' || *end != '\0' || x < lo || x > hi) {
    fprintf(stderr, "%s: %s %s: not a whole number in [%ld, %ld]\n", prog, flag, v, lo, hi);
    exit(2);
  }
  return (int)x;
}

void gen_opts_parse(struct gen_opts *o, int argc, char **argv, const char *prog) {
  static const struct option lo[] = {{"host", 1, 0, 'H'},
                                     {"port", 1, 0, 'p'},
                                     {"hubs", 1, 0, 'n'},
                                     {"window", 1, 0, 'w'},
                                     {"interval-ms", 1, 0, 'i'},
                                     {"duration-ms", 1, 0, 'd'},
                                     {"idle-ms", 1, 0, 'I'},
                                     {"drain-ms", 1, 0, 'D'},
                                     {"connect-timeout-ms", 1, 0, 'T'},
                                     {"payload", 1, 0, 'P'},
                                     {"keepalive", 1, 0, 'k'},
                                     {"name", 1, 0, 'N'},
                                     {"help", 0, 0, 'h'},
                                     {0, 0, 0, 0}};
  *o = (struct gen_opts){.host = "127.0.0.1",
                         .hubs = 1000,
                         .window = 100,
                         .interval_ms = 1000,
                         .duration_ms = 30000,
                         .idle_ms = 1000,
                         .drain_ms = 5000,
                         .connect_timeout_ms = 120000,
                         .payload = 100,
                         .keepalive = 60,
                         .name = prog};
  int c;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    const char *f = lo[0].name;
    for (int i = 0; lo[i].name; i++)
      if (lo[i].val == c)
        f = lo[i].name;
    switch (c) {
    case 'H':
      o->host = optarg;
      break;
    case 'p':
      o->port = gen_int(prog, f, optarg, 1, 65535);
      break;
    case 'n':
      o->hubs = gen_int(prog, f, optarg, 1, 100000);
      break;
    case 'w':
      o->window = gen_int(prog, f, optarg, 1, 100000);
      break;
    case 'i':
      o->interval_ms = gen_int(prog, f, optarg, 1, 3600000);
      break;
    case 'd':
      o->duration_ms = gen_int(prog, f, optarg, 0, 3600000);
      break;
    case 'I':
      o->idle_ms = gen_int(prog, f, optarg, 0, 3600000);
      break;
    case 'D':
      o->drain_ms = gen_int(prog, f, optarg, 0, 3600000);
      break;
    case 'T':
      o->connect_timeout_ms = gen_int(prog, f, optarg, 1, 3600000);
      break;
    case 'P':
      o->payload = gen_int(prog, f, optarg, 16, 65536);
      break;
    case 'k':
      o->keepalive = gen_int(prog, f, optarg, 0, 65535);
      break;
    case 'N':
      o->name = optarg;
      break;
    case 'h':
      gen_usage(prog, stdout);
      exit(0);
    default:
      gen_usage(prog, stderr);
      exit(2);
    }
  }
  if (optind < argc || o->port == 0 || strlen(o->name) > 64) {
    fprintf(stderr, "%s: %s\n", prog,
            optind < argc  ? "unexpected argument"
            : o->port == 0 ? "--port is required"
                           : "--name longer than 64");
    gen_usage(prog, stderr);
    exit(2);
  }
}

/* The payload of publish `seq`: printable, no newline (mosquitto_sub -v prints one per line),
 * exactly `len` bytes. */
static void gen_payload(char *buf, size_t len, int hub, long seq) {
  int n = snprintf(buf, len + 1, "{\"hub\":%d,\"seq\":%ld,\"pad\":\"", hub, seq);
  size_t at = n < 0 ? 0 : (size_t)n > len ? len : (size_t)n;
  memset(buf + at, 'x', len - at);
  if (len >= 2) {
    buf[len - 2] = '"';
    buf[len - 1] = '}';
  }
}

static void gen_connect_phase(const struct gen_opts *o, struct gen_stats *s,
                              const struct gen_ops *ops, void *ctx) {
  double deadline = gen_mono() + o->connect_timeout_ms / 1e3;
  int started = 0;
  while (s->connected + s->connect_failed < o->hubs && gen_mono() < deadline) {
    while (started < o->hubs && started - s->connected - s->connect_failed < o->window)
      if (ops->connect(ctx, started++) != 0)
        s->connect_failed++;
    ops->poll(ctx);
  }
}

/* Publish slot j (0, 1, ...) belongs to hub j % hubs and falls due at start + j * interval /
 * hubs: each hub publishes once per interval and the hubs are spread evenly over it. */
static void gen_publish_phase(const struct gen_opts *o, struct gen_stats *s,
                              const struct gen_ops *ops, void *ctx) {
  char topic[96], *payload = malloc((size_t)o->payload + 1);
  double start = gen_mono(), step = o->interval_ms / 1e3 / o->hubs;
  long total = (long)o->duration_ms / o->interval_ms * o->hubs, j = 0;
  if (!payload) {
    s->errors++;
    return;
  }
  while (j < total) {
    double now = gen_mono();
    for (; j < total && start + (double)j * step <= now; j++) {
      int hub = (int)(j % o->hubs);
      snprintf(topic, sizeof(topic), "bench/%s/%d", o->name, hub);
      gen_payload(payload, (size_t)o->payload, hub, j / o->hubs);
      if (ops->publish(ctx, hub, topic, payload, (size_t)o->payload) == 0)
        s->sent++;
    }
    ops->poll(ctx);
  }
  free(payload);
  double deadline = gen_mono() + o->drain_ms / 1e3;
  while (s->acked < s->sent && gen_mono() < deadline)
    ops->poll(ctx);
}

int gen_run(const char *generator, const struct gen_opts *o, struct gen_stats *s,
            const struct gen_ops *ops, void *ctx) {
  long rss_before = gen_rss();
  double t0 = gen_mono(), c0 = gen_cpu();
  gen_connect_phase(o, s, ops, ctx);
  double t1 = gen_mono(), c1 = gen_cpu();
  long rss_connected = gen_rss();
  while (gen_mono() < t1 + o->idle_ms / 1e3)
    ops->poll(ctx);
  long rss_idle = gen_rss();
  double t2 = gen_mono(), c2 = gen_cpu();
  if (o->duration_ms > 0)
    gen_publish_phase(o, s, ops, ctx);
  double t3 = gen_mono(), c3 = gen_cpu();
  printf("{\"generator\":\"%s\",\"hubs\":%d,\"window\":%d,\"interval_ms\":%d,"
         "\"duration_ms\":%d,\"payload\":%d,\"connected\":%ld,\"connect_failed\":%ld,"
         "\"closed\":%ld,\"errors\":%ld,\"connect_s\":%.6f,\"connect_cpu_s\":%.6f,"
         "\"rss_before\":%ld,\"rss_connected\":%ld,\"rss_idle\":%ld,\"sent\":%ld,"
         "\"acked\":%ld,\"publish_s\":%.6f,\"publish_cpu_s\":%.6f,\"first_error\":\"%s\"}\n",
         generator, o->hubs, o->window, o->interval_ms, o->duration_ms, o->payload, s->connected,
         s->connect_failed, s->closed, s->errors, t1 - t0, c1 - c0, rss_before, rss_connected,
         rss_idle, s->sent, s->acked, t3 - t2, c3 - c2, s->first_error);
  fflush(stdout);
  return s->connected == o->hubs && s->acked == s->sent && s->errors == 0 ? 0 : 1;
}
