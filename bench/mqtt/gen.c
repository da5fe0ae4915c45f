/* The phases and measurements shared by bench/mqtt's C generators; see gen.h. CPU is
 * getrusage(RUSAGE_SELF) user + sys and memory is VmRSS of /proc/self/status, the same sources
 * the MQTT.js generator (mqttjs/gen.js) reads, so the columns of run.sh compare like with like. */
#define _DEFAULT_SOURCE /* timeradd */
#include "gen.h"

#include "sim/core/num.h"
#include "sim/loop/clock.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

static struct sim_clock gen_clock;

double gen_mono(void) {
  return (double)sim_clock_now(&gen_clock) / 1e6;
}

static double gen_cpu(void) {
  struct rusage r;
  struct timeval both;
  getrusage(RUSAGE_SELF, &r);
  timeradd(&r.ru_utime, &r.ru_stime, &both);
  return (double)both.tv_sec + (double)both.tv_usec / 1e6;
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

/* The whole-number flags: where each goes in struct gen_opts, its default and its range. */
static const struct {
  const char *flag;
  size_t off;
  int def;
  uint64_t lo, hi;
} gen_flags[] = {
    {"--port", offsetof(struct gen_opts, port), 0, 1, 65535},
    {"--hubs", offsetof(struct gen_opts, hubs), 1000, 1, 100000},
    {"--window", offsetof(struct gen_opts, window), 100, 1, 100000},
    {"--interval-ms", offsetof(struct gen_opts, interval_ms), 1000, 1, 3600000},
    {"--duration-ms", offsetof(struct gen_opts, duration_ms), 30000, 0, 3600000},
    {"--idle-ms", offsetof(struct gen_opts, idle_ms), 1000, 0, 3600000},
    {"--drain-ms", offsetof(struct gen_opts, drain_ms), 5000, 0, 3600000},
    {"--connect-timeout-ms", offsetof(struct gen_opts, connect_timeout_ms), 120000, 1, 3600000},
    {"--payload", offsetof(struct gen_opts, payload), 100, 16, 65536},
    {"--keepalive", offsetof(struct gen_opts, keepalive), 60, 0, 65535},
};
#define GEN_NFLAGS (sizeof(gen_flags) / sizeof(gen_flags[0]))

/* One flag and its value into *o; returns 0, or -1 after saying what is wrong with it. */
static int gen_flag(struct gen_opts *o, const char *prog, const char *flag, const char *v) {
  uint64_t x;
  if (strcmp(flag, "--host") == 0 || strcmp(flag, "--name") == 0) {
    *(flag[2] == 'h' ? &o->host : &o->name) = v;
    return 0;
  }
  for (size_t i = 0; i < GEN_NFLAGS; i++) {
    if (strcmp(flag, gen_flags[i].flag) != 0)
      continue;
    if (sim_num_parse_u64(v, gen_flags[i].lo, gen_flags[i].hi, &x) != 0) {
      fprintf(stderr, "%s: %s %s: not a whole number in [%llu, %llu]\n", prog, flag, v,
              (unsigned long long)gen_flags[i].lo, (unsigned long long)gen_flags[i].hi);
      return -1;
    }
    *(int *)((char *)o + gen_flags[i].off) = (int)x;
    return 0;
  }
  fprintf(stderr, "%s: unknown flag %s\n", prog, flag);
  return -1;
}

void gen_opts_parse(struct gen_opts *o, int argc, char **argv, const char *prog) {
  o->host = "127.0.0.1";
  o->name = prog;
  for (size_t i = 0; i < GEN_NFLAGS; i++)
    *(int *)((char *)o + gen_flags[i].off) = gen_flags[i].def;
  sim_clock_init(&gen_clock, 0);
  for (int i = 1; i < argc; i += 2) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      gen_usage(prog, stdout);
      exit(0);
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "%s: %s needs a value\n", prog, argv[i]);
      gen_usage(prog, stderr);
      exit(2);
    }
    if (gen_flag(o, prog, argv[i], argv[i + 1]) != 0) {
      gen_usage(prog, stderr);
      exit(2);
    }
  }
  if (o->port == 0 || strlen(o->name) > 64) {
    fprintf(stderr, "%s: %s\n", prog,
            o->port == 0 ? "--port is required" : "--name longer than 64");
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
